use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the message editor needs from the server to preview real-length messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewSettings {
    /// `CODECAST_PUBLIC_URL`, the base of QR links.
    pub public_url: String,
    /// A sample expiry date (30 days from today, YYYY-MM-DD).
    pub sample_expiration: String,
}

#[server(endpoint = "get_preview_settings")]
pub async fn get_preview_settings() -> Result<PreviewSettings, AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            let today = chrono::Utc::now().date_naive();
            Ok(PreviewSettings {
                public_url: ports()?.public_url,
                sample_expiration: (today + chrono::Days::new(30))
                    .format("%Y-%m-%d")
                    .to_string(),
            })
        }
        .await,
    )
}

/// Customers matching `query`, for the editor's "preview as" search (at most 8).
#[server(endpoint = "find_preview_customers")]
pub async fn find_preview_customers(
    query: String,
) -> Result<Vec<crate::dto::CustomerOption>, AppError> {
    use super::context::*;
    use crate::{dto::CustomerOption, ports::Page};
    respond(
        async {
            require_user()?;
            let (found, _) = ports()?
                .customers
                .search(
                    &query,
                    Page {
                        limit: 8,
                        starting_after: None,
                    },
                )
                .await?;
            Ok(found
                .into_iter()
                .map(|c| CustomerOption {
                    id: c.id.clone(),
                    label: c.label(),
                })
                .collect())
        }
        .await,
    )
}

/// One customer's template data, fetched once when chosen in the editor.
#[server(endpoint = "get_preview_customer")]
pub async fn get_preview_customer(
    id: String,
) -> Result<crate::domain::template::CustomerData, AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            Ok(ports()?.customers.get(&id).await?.into())
        }
        .await,
    )
}
