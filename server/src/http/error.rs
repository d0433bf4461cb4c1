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

/// Every error the API answers is JSON: a rejection axum produces itself (a method the route
/// does not take, a path segment that is not UTF-8, a body over a limit) comes as plain text
/// or empty, and is rewritten here into the API's error shape with the same status.
pub async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    let api = path == "/v1" || path.starts_with("/v1/");
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !api || is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    // A server error gets a reference in the log, as every internal error does.
    if status.is_server_error() {
        let err = AppError::internal_msg(&format!(
            "an API request failed outside its handler: {} {}",
            status.as_u16(),
            text.as_deref().unwrap_or("")
        ));
        let mut response = ApiError(err).into_response();
        *response.status_mut() = status;
        return response;
    }
    let (code, fallback) = match status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => ("not_found", "Not found."),
        StatusCode::UNAUTHORIZED => ("unauthorized", "Missing or invalid API key."),
        StatusCode::FORBIDDEN => ("forbidden", "Not allowed."),
        StatusCode::CONFLICT => ("conflict", "Conflict."),
        StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "Too many requests."),
        _ => (
            "validation_failed",
            status.canonical_reason().unwrap_or("Bad request."),
        ),
    };
    let message = if status == StatusCode::METHOD_NOT_ALLOWED {
        // The method router adds the `Allow` header after this layer has answered.
        format!(
            "This endpoint does not take {method}; the Allow header lists the methods it takes."
        )
    } else {
        text.unwrap_or_else(|| fallback.to_owned())
    };
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message,
            fields: None,
            reference: None,
            details: None,
        },
    };
    let mut response = (status, Json(body)).into_response();
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            response.headers_mut().insert(name, v.clone());
        }
    }
    response
}
