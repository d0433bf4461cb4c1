use crate::{dto::UserView, error::AppError};
use leptos::prelude::*;

#[server(endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserView>, AppError> {
    use super::context::*;
    use crate::domain::Role;
    respond(
        async {
            require_role(Role::Admin)?;
            ports()?.accounts.list_users().await
        }
        .await,
    )
}

#[server(endpoint = "create_user")]
pub async fn create_user(
    email: String,
    role: String,
    password: String,
) -> Result<UserView, AppError> {
    use super::context::*;
    use crate::domain::{EmailAddress, Password, Role};
    use std::collections::BTreeMap;
    respond(
        async {
            require_role(Role::Admin)?;
            let mut fields = BTreeMap::new();
            let email = EmailAddress::parse(&email)
                .map_err(|e| fields.insert("email".into(), e))
                .ok();
            let role = Role::parse(&role)
                .map_err(|e| fields.insert("role".into(), e))
                .ok();
            let password = Password::parse(&password)
                .map_err(|e| fields.insert("password".into(), e))
                .ok();
            let (Some(email), Some(role), Some(password)) = (email, role, password) else {
                return Err(AppError::validation_fields(fields));
            };
            ports()?.accounts.create_user(email, role, password).await
        }
        .await,
    )
}

#[server(endpoint = "delete_user")]
pub async fn delete_user(id: String) -> Result<(), AppError> {
    use super::context::*;
    use crate::domain::Role;
    respond(
        async {
            let actor = require_role(Role::Admin)?;
            ports()?.accounts.delete_user(&actor, &id).await
        }
        .await,
    )
}
