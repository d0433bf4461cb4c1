use crate::domain::Role;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}
