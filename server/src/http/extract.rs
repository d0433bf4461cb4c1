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

/// A message's public id: `msg_` and its number in the delivery queue.
pub fn message_id(n: i64) -> String {
    format!("msg_{n}")
}

/// Reads a message id (`msg_42`; the bare number is accepted too).
pub fn parse_message_id(id: &str) -> Option<i64> {
    id.strip_prefix("msg_")
        .unwrap_or(id)
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
}

#[cfg(test)]
mod message_ids {
    #[test]
    fn message_ids_round_trip_and_refuse_anything_else() {
        assert_eq!(super::message_id(42), "msg_42");
        assert_eq!(super::parse_message_id("msg_42"), Some(42));
        assert_eq!(super::parse_message_id("42"), Some(42));
        for bad in ["msg_", "msg_x", "abc", "msg_-1", "0", ""] {
            assert_eq!(super::parse_message_id(bad), None, "{bad}");
        }
    }
}
