//! `POST /v1/templates/preview`: the editor's preview, as an API.

use super::{
    api_auth::Caller,
    error::{ApiError, ErrorBody, ErrorDetail},
    extract::ApiJson,
};
use crate::startup::AppState;
use app::{
    domain::{
        message::{preview, MessagePreview},
        template::{
            sample_customers, sample_promotion, sample_voucher, DistributionData, TemplateData,
            TemplateError,
        },
    },
    ports::Customers,
};
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct PreviewRequest {
    /// The template, with Liquid merge tags such as `{{ customer.first_name }}`.
    pub body: String,
    /// A customer's id or source_id; sample data fills the tags without it.
    pub customer: Option<String>,
    /// Replace look-alike characters (curly quotes, dashes, …) with GSM-7 ones before counting.
    #[serde(default)]
    pub smart_encoding: bool,
}

#[derive(Serialize, ToSchema)]
pub struct PreviewResponse {
    /// The exact text that would be sent.
    pub text: String,
    /// `GSM-7` or `UCS-2`.
    pub encoding: String,
    pub segments: usize,
    /// GSM-7: septets (extension characters count 2); UCS-2: characters.
    pub characters: usize,
    pub unknown_tags: Vec<String>,
    /// The characters that force UCS-2, each once.
    pub non_gsm_characters: Vec<String>,
    /// What smart encoding would send, when it would cost fewer or equal segments.
    pub smart_alternative: Option<SmartAlternative>,
}

#[derive(Serialize, ToSchema)]
pub struct SmartAlternative {
    pub text: String,
    pub encoding: String,
    pub segments: usize,
}

impl From<MessagePreview> for PreviewResponse {
    fn from(p: MessagePreview) -> Self {
        Self {
            encoding: p.count.encoding.label().to_owned(),
            segments: p.count.segments,
            characters: p.count.characters,
            unknown_tags: p.unknown_tags.into_iter().map(|u| u.name).collect(),
            non_gsm_characters: p
                .count
                .distinct_non_gsm()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            smart_alternative: p.smart_alternative.map(|(text, c)| SmartAlternative {
                text,
                encoding: c.encoding.label().to_owned(),
                segments: c.segments,
            }),
            text: p.text,
        }
    }
}

/// Template syntax errors: 422 with every error's line, column and offsets in `details`.
pub struct SyntaxErrors(pub Vec<TemplateError>);

impl IntoResponse for SyntaxErrors {
    fn into_response(self) -> Response {
        let first = self.0.first().map(ToString::to_string).unwrap_or_default();
        let body = ErrorBody {
            error: ErrorDetail {
                code: "validation_failed".into(),
                message: format!("The template has {} syntax error(s).", self.0.len()),
                fields: Some([("body".to_owned(), first)].into_iter().collect()),
                reference: None,
                details: serde_json::to_value(&self.0)
                    .ok()
                    .map(|errors| serde_json::json!({ "errors": errors })),
            },
        };
        (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
    }
}

/// Renders a template for a customer (or sample data) and counts it as an SMS.
#[utoipa::path(post, path = "/v1/templates/preview", tag = "templates", security(("bearer" = [])), request_body = PreviewRequest,
    responses((status = 200, body = PreviewResponse), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn preview_template(
    _: Caller,
    State(state): State<AppState>,
    ApiJson(request): ApiJson<PreviewRequest>,
) -> Result<Json<PreviewResponse>, Response> {
    let customer = match request.customer.as_deref() {
        Some(id) => state
            .customers
            .get(id)
            .await
            .map_err(|e| ApiError(e).into_response())?
            .into(),
        None => sample_customers().remove(0).data,
    };
    let today = chrono::Utc::now().date_naive() + chrono::Days::new(30);
    let data = TemplateData {
        customer,
        voucher: Some(sample_voucher(
            &state.settings.public_url,
            &today.format("%Y-%m-%d").to_string(),
        )),
        promotion: Some(sample_promotion()),
        distribution: DistributionData {
            subject: "Sample subject".into(),
        },
        unsubscribe_text: None,
    };
    preview(&request.body, &data, request.smart_encoding)
        .map(|p| Json(p.into()))
        .map_err(|errors| SyntaxErrors(errors).into_response())
}
