use crate::{
    dto::{DeliveryView, IntegrationView, SandboxMessage, TestSendResult},
    error::AppError,
};
use leptos::prelude::*;
use std::collections::BTreeMap;

#[server(endpoint = "list_integrations")]
pub async fn list_integrations() -> Result<Vec<IntegrationView>, AppError> {
    use super::context::*;
    use crate::domain::Role;
    respond(
        async {
            require_role(Role::Admin)?;
            ports()?.integrations.list().await
        }
        .await,
    )
}

#[server(endpoint = "get_integration")]
pub async fn get_integration(id: String) -> Result<IntegrationView, AppError> {
    use super::context::*;
    use crate::domain::Role;
    respond(
        async {
            require_role(Role::Admin)?;
            ports()?.integrations.get(&id).await
        }
        .await,
    )
}

/// Adds (no `id`) or changes an integration from the form; secrets left empty are kept.
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "save_integration")]
pub async fn save_integration(
    id: Option<String>,
    provider: String,
    name: String,
    #[server(default)] sender: String,
    #[server(default)] base_url: String,
    max_segments_per_second: String,
    is_default: String,
    enabled: String,
    #[server(default)] help_text: String,
    #[server(default)] credentials: BTreeMap<String, String>,
) -> Result<IntegrationView, AppError> {
    use super::context::*;
    use crate::{domain::Role, dto::IntegrationInput};
    respond(
        async {
            require_role(Role::Admin)?;
            let rate = max_segments_per_second.trim().parse::<u32>().map_err(|_| {
                AppError::validation(
                    "max_segments_per_second",
                    "Give whole segments per second, such as 1 or 100.",
                )
            })?;
            let input = IntegrationInput {
                name: Some(name),
                provider: Some(provider),
                credentials,
                sender: Some(sender),
                base_url: Some(base_url),
                max_segments_per_second: Some(rate),
                is_default: Some(is_default == "yes"),
                enabled: Some(enabled == "yes"),
                help_text: Some(help_text),
            };
            let integrations = ports()?.integrations;
            let saved = match id.filter(|i| !i.is_empty()) {
                Some(id) => integrations.update(&id, input).await?,
                None => integrations.create(input).await?,
            };
            redirect_form_post("/integrations?saved=1");
            Ok(saved)
        }
        .await,
    )
}

#[server(endpoint = "delete_integration")]
pub async fn delete_integration(id: String) -> Result<(), AppError> {
    use super::context::*;
    use crate::domain::Role;
    respond(
        async {
            require_role(Role::Admin)?;
            ports()?.integrations.delete(&id).await?;
            redirect_form_post("/integrations");
            Ok(())
        }
        .await,
    )
}

/// Sends a test message through an integration; answers with the provider's reply.
#[server(endpoint = "test_send")]
pub async fn test_send(id: String, to: String, body: String) -> Result<TestSendResult, AppError> {
    use super::context::*;
    use crate::domain::Role;
    respond(
        async {
            require_role(Role::Admin)?;
            let ports = ports()?;
            let country = ports.customers.default_country().await?;
            ports
                .integrations
                .test_send(&id, &to, &body, &country)
                .await
        }
        .await,
    )
}

/// The integration's latest messages and, for the sandbox, what it recorded.
#[server(endpoint = "integration_activity")]
pub async fn integration_activity(
    id: String,
) -> Result<(Vec<DeliveryView>, Vec<SandboxMessage>), AppError> {
    use super::context::*;
    use crate::domain::Role;
    respond(
        async {
            require_role(Role::Admin)?;
            let integrations = ports()?.integrations;
            let messages = integrations.messages(&id, None, 50).await?;
            let inbox = integrations.sandbox_inbox(&id, 50).await?;
            Ok((messages, inbox))
        }
        .await,
    )
}
