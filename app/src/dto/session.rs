use crate::domain::Role;
use serde::{Deserialize, Serialize};

/// The signed-in user, as the server resolved it from the session cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: String,
    pub email: String,
    pub role: Role,
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.role.is_admin()
    }
}

/// What the shell needs to render: whether first-run setup is pending and who is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub setup_required: bool,
    pub user: Option<CurrentUser>,
}
