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
