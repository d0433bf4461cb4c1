use app::error::AppError;
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The public error shape: `{"error": {"code", "message", "fields"?, "reference"?}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// validation_failed, not_found, conflict, unauthorized, forbidden, rate_limited or internal.
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
    /// For `internal`: the reference under which the server logged the cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Structured detail where an error has it, e.g. template syntax errors with positions.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

/// An `AppError` answered as JSON with its HTTP status.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(value: AppError) -> Self {
        Self(value)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        let status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let reference = match &err {
            AppError::Internal { reference } => Some(reference.clone()),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: err.code().to_owned(),
                message: err.to_string(),
                fields: err.fields().filter(|f| !f.is_empty()).cloned(),
                reference,
                details: None,
            },
        };
        let mut response = (status, Json(body)).into_response();
        match &err {
            AppError::RateLimited {
                retry_after_secs, ..
            } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            AppError::Unauthorized { .. } => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

pub async fn not_found() -> ApiError {
    ApiError(AppError::not_found(
        "No such endpoint. The API is described at /v1/openapi.json.",
    ))
}
