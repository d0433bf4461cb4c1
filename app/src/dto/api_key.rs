use crate::domain::Role;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// The first characters of the key, enough to recognise it; the key itself is never stored.
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// Returned once, when a key is created: the only time the secret is visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub key: ApiKeyView,
    pub secret: String,
}
