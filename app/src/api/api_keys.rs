use crate::{
    dto::{ApiKeyView, CreatedApiKey},
    error::AppError,
};
use leptos::prelude::*;

/// Most keys shown on the settings page; the REST API pages through more.
pub const API_KEYS_PAGE: u64 = 500;

#[server(endpoint = "list_api_keys")]
pub async fn list_api_keys() -> Result<Vec<ApiKeyView>, AppError> {
    use super::context::*;
    use crate::{domain::Role, ports::Page};
    respond(
        async {
            require_role(Role::Admin)?;
            let (keys, _) = ports()?
                .accounts
                .list_api_keys(Page {
                    limit: API_KEYS_PAGE,
                    starting_after: None,
                })
                .await?;
            Ok(keys)
        }
        .await,
    )
}

#[server(endpoint = "create_api_key")]
pub async fn create_api_key(name: String, role: String) -> Result<CreatedApiKey, AppError> {
    use super::context::*;
    use crate::domain::{Label, Role};
    use std::collections::BTreeMap;
    respond(
        async {
            let actor = require_role(Role::Admin)?;
            let mut fields = BTreeMap::new();
            let name = Label::parse(&name)
                .map_err(|e| fields.insert("name".into(), e))
                .ok();
            let role = Role::parse(&role)
                .map_err(|e| fields.insert("role".into(), e))
                .ok();
            let (Some(name), Some(role)) = (name, role) else {
                return Err(AppError::validation_fields(fields));
            };
            ports()?
                .accounts
                .create_api_key(name, role, Some(&actor.id))
                .await
        }
        .await,
    )
}

#[server(endpoint = "revoke_api_key")]
pub async fn revoke_api_key(id: String) -> Result<(), AppError> {
    use super::context::*;
    use crate::domain::Role;
    respond(
        async {
            require_role(Role::Admin)?;
            ports()?.accounts.revoke_api_key(&id).await
        }
        .await,
    )
}
