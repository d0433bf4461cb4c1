//! Extractors whose rejections use the API's JSON error shape instead of axum's plain text.

use super::error::ApiError;
use app::error::AppError;
use axum::extract::{
    rejection::{JsonRejection, QueryRejection},
    FromRequest, FromRequestParts,
};

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let message = match &rejection {
            JsonRejection::MissingJsonContentType(_) => {
                "Send a JSON body with Content-Type: application/json.".to_owned()
            }
            other => format!("The JSON body could not be read: {}", other.body_text()),
        };
        ApiError(AppError::invalid(message))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError(AppError::invalid(format!(
            "The query string could not be read: {}",
            rejection.body_text()
        )))
    }
}

pub use crate::ids::{message_id, parse_message_id};

/// A message log's `starting_after`: none when empty, else a message id (`msg_…`), or a
/// field error.
pub fn message_cursor(starting_after: Option<&str>) -> Result<Option<i64>, ApiError> {
    match starting_after {
        None | Some("") => Ok(None),
        Some(a) => parse_message_id(a).map(Some).ok_or_else(|| {
            ApiError(AppError::validation(
                "starting_after",
                "Give the id of a message (msg_…) from the page before.",
            ))
        }),
    }
}
