//! `/v1/distributions`: drafts, the pre-send review, SEND, and the numbers and messages of a
//! sent distribution.

use super::{
    api_auth::Caller,
    api_keys::rfc3339,
    error::{ApiError, ErrorBody},
    extract::{ApiJson, ApiQuery},
};
use crate::startup::AppState;
use app::{
    dto::{Audience, DistributionInput, DistributionView, Reminder, ReviewReport, SendOutcome},
    error::AppError,
    ports::Distributions,
};
use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, Serialize, ToSchema)]
pub struct AudienceBody {
    pub customer: Option<String>,
    pub segment: Option<String>,
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct ReminderBody {
    pub after_hours: u32,
    #[serde(default)]
    pub only_if_not_redeemed: bool,
    pub template: String,
}

#[derive(Deserialize, ToSchema)]
pub struct DistributionRequest {
    pub name: Option<String>,
    /// `manual` (automatic distributions come later).
    pub mode: Option<String>,
    /// `promotion`, `unique_codes` or `plain`.
    pub purpose: Option<String>,
    /// The campaign whose codes to send (unique_codes).
    pub campaign: Option<String>,
    /// The promotion tier to announce (promotion).
    pub promotion_tier: Option<String>,
    /// `{"customer": id}` or `{"segment": id}`.
    pub audience: Option<AudienceBody>,
    pub subject: Option<String>,
    /// `sms`.
    pub channel: Option<String>,
    /// The SMS integration; the default one when left out.
    pub integration: Option<String>,
    pub template: Option<String>,
    pub smart_encoding: Option<bool>,
    pub reminders: Option<Vec<ReminderBody>>,
    /// What starts an automatic distribution; not taken yet (a field error, not ignored).
    #[schema(value_type = Option<Object>)]
    pub trigger: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct Distribution {
    pub id: String,
    pub name: String,
    pub mode: String,
    pub purpose: String,
    pub campaign: Option<String>,
    pub promotion_tier: Option<String>,
    pub audience: Option<AudienceBody>,
    pub subject: String,
    pub channel: String,
    pub integration: Option<String>,
    pub template: String,
    pub smart_encoding: bool,
    pub reminders: Vec<ReminderBody>,
    /// `draft`, `sending` or `sent`.
    pub status: String,
    /// `{audience, queued, sent, delivered, failed, skipped: {opted_out, invalid_phone, no_phone,
    /// duplicate}, redeemed, segments_total, …}`: all zero until it is sent. Lists leave
    /// `redeemed` null (counting it reads every message); get the distribution for it.
    #[schema(value_type = Object)]
    pub stats: Value,
    pub created_at: String,
    pub updated_at: String,
    pub sent_at: Option<String>,
    pub completed_at: Option<String>,
}

impl From<DistributionView> for Distribution {
    fn from(d: DistributionView) -> Self {
        Self {
            stats: {
                let s = d.stats.unwrap_or_default();
                serde_json::json!({
                    "audience": s.audience,
                    "queued": s.queued,
                    // Handed to the provider; `delivered` once it confirms.
                    "sent": s.accepted + s.sent + s.delivered,
                    "delivered": s.delivered,
                    "failed": s.failed,
                    "unknown": s.unknown,
                    "skipped": s.skipped,
                    "redeemed": s.redeemed,
                    "segments_total": s.segments_total,
                    "codes_published": s.codes_published,
                })
            },
            id: d.id,
            name: d.name,
            mode: d.mode,
            purpose: d.purpose,
            campaign: d.campaign_id,
            promotion_tier: d.promotion_tier_id,
            audience: d.audience.map(|a| match a {
                Audience::Customer(c) => AudienceBody {
                    customer: Some(c),
                    segment: None,
                },
                Audience::Segment(s) => AudienceBody {
                    customer: None,
                    segment: Some(s),
                },
            }),
            subject: d.subject,
            channel: d.channel,
            integration: d.integration_id,
            template: d.template,
            smart_encoding: d.smart_encoding,
            reminders: d
                .reminders
                .into_iter()
                .map(|r| ReminderBody {
                    after_hours: r.after_hours,
                    only_if_not_redeemed: r.only_if_not_redeemed,
                    template: r.template,
                })
                .collect(),
            status: d.status,
            created_at: rfc3339(d.created_at),
            updated_at: rfc3339(d.updated_at),
            sent_at: d.sent_at.map(rfc3339),
            completed_at: d.completed_at.map(rfc3339),
        }
    }
}

fn input(r: DistributionRequest) -> Result<DistributionInput, ApiError> {
    if r.trigger.as_ref().is_some_and(|t| !t.is_null()) {
        return Err(AppError::validation(
            "trigger",
            "Automatic distributions (a trigger) are not available yet; leave it out for a manual one.",
        )
        .into());
    }
    let audience = match r.audience {
        None => None,
        Some(AudienceBody {
            customer: Some(c),
            segment: None,
        }) => Some(Audience::Customer(c)),
        Some(AudienceBody {
            customer: None,
            segment: Some(s),
        }) => Some(Audience::Segment(s)),
        Some(_) => {
            return Err(AppError::validation(
                "audience",
                "Give {\"customer\": id} or {\"segment\": id}.",
            )
            .into())
        }
    };
    Ok(DistributionInput {
        name: r.name,
        mode: r.mode,
        purpose: r.purpose,
        campaign_id: r.campaign,
        promotion_tier_id: r.promotion_tier,
        audience,
        subject: r.subject,
        channel: r.channel,
        integration_id: r.integration,
        template: r.template,
        smart_encoding: r.smart_encoding,
        reminders: r.reminders.map(|rs| {
            rs.into_iter()
                .map(|r| Reminder {
                    after_hours: r.after_hours,
                    only_if_not_redeemed: r.only_if_not_redeemed,
                    template: r.template,
                })
                .collect()
        }),
        step: None,
    })
}

#[derive(Serialize, ToSchema)]
pub struct DistributionList {
    pub data: Vec<Distribution>,
    pub has_more: bool,
}

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// draft, sending or sent.
    pub status: Option<String>,
    /// 1 to 500; 50 by default.
    pub limit: Option<u64>,
    /// The last id of the page before: the list continues after it (newest first).
    pub starting_after: Option<String>,
}

#[utoipa::path(post, path = "/v1/distributions", tag = "distributions", security(("bearer" = [])), request_body = DistributionRequest,
    responses((status = 201, body = Distribution), (status = 422, body = ErrorBody)))]
pub async fn create(
    _: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<DistributionRequest>,
) -> Result<(StatusCode, Json<Distribution>), ApiError> {
    let created = state
        .distributions
        .create(input(body)?)
        .await
        .map_err(api_fields)?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Field errors named as the API's request names its fields (`campaign`, not the wizard's
/// `campaign_id`), so a client can match each error to what it sent.
fn api_fields(e: AppError) -> AppError {
    match e {
        AppError::ValidationFailed {
            message,
            fields,
            entered,
        } => AppError::ValidationFailed {
            message,
            entered,
            fields: fields
                .into_iter()
                .map(|(k, v)| {
                    let k = match k.as_str() {
                        "campaign_id" => "campaign".to_owned(),
                        "promotion_tier_id" => "promotion_tier".to_owned(),
                        "integration_id" => "integration".to_owned(),
                        _ => k,
                    };
                    (k, v)
                })
                .collect(),
        },
        other => other,
    }
}

#[utoipa::path(get, path = "/v1/distributions", tag = "distributions", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = DistributionList)))]
pub async fn list(
    _: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<DistributionList>, ApiError> {
    let page = super::api_keys::page(super::api_keys::ListParams {
        limit: query.limit,
        starting_after: query.starting_after,
    })?;
    let status = one_of(query.status, &["draft", "sending", "sent"])?;
    let (items, has_more) = state.distributions.list(status, page).await?;
    Ok(Json(DistributionList {
        has_more,
        data: items
            .into_iter()
            .map(|d| {
                let mut d = Distribution::from(d);
                if let Some(stats) = d.stats.as_object_mut() {
                    stats.insert("redeemed".into(), Value::Null);
                }
                d
            })
            .collect(),
    }))
}

#[utoipa::path(get, path = "/v1/distributions/{id}", tag = "distributions", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Distribution), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Distribution>, ApiError> {
    Ok(Json(state.distributions.get(&id).await?.into()))
}

#[utoipa::path(patch, path = "/v1/distributions/{id}", tag = "distributions", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = DistributionRequest,
    responses((status = 200, body = Distribution), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DistributionRequest>,
) -> Result<Json<Distribution>, ApiError> {
    Ok(Json(
        state
            .distributions
            .update(&id, input(body)?)
            .await
            .map_err(api_fields)?
            .into(),
    ))
}

#[utoipa::path(delete, path = "/v1/distributions/{id}", tag = "distributions", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 409, body = ErrorBody)))]
pub async fn delete(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.distributions.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/distributions/{id}/duplicate", tag = "distributions", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 201, body = Distribution)))]
pub async fn duplicate(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Distribution>), ApiError> {
    let copy = state.distributions.duplicate(&id).await?;
    Ok((StatusCode::CREATED, Json(copy.into())))
}

/// The pre-send report: recipients, exclusions, codes, samples, segments, duration, problems.
#[utoipa::path(get, path = "/v1/distributions/{id}/review", tag = "distributions", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Object)))]
pub async fn review(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ReviewReport>, ApiError> {
    Ok(Json(state.distributions.review(&id).await?))
}

/// SEND: 202 with what was queued. The `Idempotency-Key` header (or the review's `send_key`)
/// makes retries replay the first answer instead of sending twice.
#[utoipa::path(post, path = "/v1/distributions/{id}/send", tag = "distributions", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 202, body = Object), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn send(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<SendOutcome>), ApiError> {
    // Without a key the SEND still happens once: a second SEND finds it sent.
    // (128: what a distribution keeps of its send key.)
    let key = match headers.get(super::idempotency::HEADER) {
        None => crate::services::tokens::random_token(16),
        Some(v) => match super::idempotency::valid_key(v, 128) {
            Some(k) => k.to_owned(),
            None => return Err(ApiError(AppError::validation(
                "Idempotency-Key",
                "Use 1 to 128 visible ASCII characters, such as the review's send_key or a UUID.",
            ))),
        },
    };
    let outcome = state.distributions.send(&id, &key).await?;
    Ok((StatusCode::ACCEPTED, Json(outcome)))
}

/// What a message log may be filtered to (`queued` is `pending`; `failed` takes `undelivered` in).
const MESSAGE_STATUSES: &[&str] = &[
    "queued",
    "pending",
    "accepted",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "skipped",
    "unknown",
];

/// A status filter: empty for none, else one of `allowed` (a field error names them).
fn one_of(status: Option<String>, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match status.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if allowed.contains(&s.as_str()) => Ok(Some(s)),
        Some(s) => Err(ApiError(AppError::validation(
            "status",
            format!(
                "{s:?} is no status here; use one of {}.",
                allowed.join(", ")
            ),
        ))),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct MessagesQuery {
    /// Name, number or text contains.
    pub q: Option<String>,
    /// queued (or pending), accepted, sent, delivered, undelivered, failed (with undelivered),
    /// skipped or unknown.
    pub status: Option<String>,
    /// The last message id (`msg_…`) of the page before.
    pub starting_after: Option<String>,
    pub limit: Option<u32>,
}

/// One message of a distribution's log.
#[derive(Serialize, ToSchema)]
pub struct MessageItem {
    /// `msg_…`
    pub id: String,
    /// The customer's id (`cust_…`), as `customer_id`.
    pub customer: Option<String>,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    /// The number, masked.
    pub to: String,
    pub text: String,
    /// pending (queued), accepted, sent, delivered, undelivered, failed, skipped or unknown.
    pub status: String,
    /// Why a message was skipped: opted_out, no_phone, invalid_phone or duplicate.
    pub skip_reason: Option<String>,
    pub segments: u32,
    pub provider_id: Option<String>,
    pub error: Option<String>,
    pub updated_at: String,
}

impl From<app::dto::MessageLine> for MessageItem {
    fn from(m: app::dto::MessageLine) -> Self {
        Self {
            id: super::extract::message_id(m.id),
            customer: m.customer_id.clone(),
            customer_id: m.customer_id,
            customer_name: m.customer_name,
            to: m.to,
            text: m.text,
            status: m.status,
            skip_reason: m.skip_reason,
            segments: m.segments,
            provider_id: m.provider_id,
            error: m.error,
            updated_at: rfc3339(m.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MessageList {
    pub data: Vec<MessageItem>,
    pub has_more: bool,
}

/// Per recipient: customer, number (masked), text, status, provider id, error.
#[utoipa::path(get, path = "/v1/distributions/{id}/messages", tag = "distributions", security(("bearer" = [])),
    params(("id" = String, Path), MessagesQuery), responses((status = 200, body = MessageList)))]
pub async fn messages(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<MessagesQuery>,
) -> Result<Json<MessageList>, ApiError> {
    let after = super::extract::message_cursor(query.starting_after.as_deref())?;
    let limit = super::api_keys::page(super::api_keys::ListParams {
        limit: query.limit.map(u64::from),
        starting_after: None,
    })?
    .limit;
    let status = one_of(query.status, MESSAGE_STATUSES)?;
    let page = state
        .distributions
        .messages(
            &id,
            query.q.as_deref().unwrap_or_default(),
            status,
            after,
            u32::try_from(limit).unwrap_or(u32::MAX),
        )
        .await?;
    Ok(Json(MessageList {
        data: page.items.into_iter().map(MessageItem::from).collect(),
        has_more: page.next_after.is_some(),
    }))
}

/// Failed, skipped and unconfirmed messages grouped by reason.
#[utoipa::path(get, path = "/v1/distributions/{id}/failures", tag = "distributions", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Object)))]
pub async fn failures(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        serde_json::json!({ "data": state.distributions.failures(&id).await? }),
    ))
}

/// What the CSV export may narrow its messages to: the log's search and status filter.
#[derive(Debug, Default, Deserialize)]
pub struct CsvFilter {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
}

/// The message log as CSV (numbers masked), streamed as it is read.
pub async fn messages_csv(
    state: &AppState,
    id: &str,
    filter: CsvFilter,
) -> Result<Response, ApiError> {
    use futures::TryStreamExt;
    let status = one_of(Some(filter.status.trim().to_owned()), MESSAGE_STATUSES)?;
    let lines = state
        .distributions
        .messages_csv(id, &filter.q, status)
        .await?
        .map_err(|e| std::io::Error::other(e.to_string()));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}-messages.csv\""),
            ),
        ],
        axum::body::Body::from_stream(lines),
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/distributions/{id}/messages.csv", tag = "distributions", security(("bearer" = [])),
    params(("id" = String, Path), ("q" = Option<String>, Query, description = "Search name, number or text"),
        ("status" = Option<String>, Query, description = "queued (or pending), accepted, sent, delivered, undelivered, failed (with undelivered), skipped or unknown")),
    responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn export(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(filter): ApiQuery<CsvFilter>,
) -> Result<Response, ApiError> {
    messages_csv(&state, &id, filter).await
}

/// The same CSV for the signed-in UI (session cookie).
pub async fn export_from_ui(
    user: Option<axum::Extension<app::dto::CurrentUser>>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(filter): ApiQuery<CsvFilter>,
) -> Result<Response, ApiError> {
    if user.is_none() {
        return Err(ApiError(AppError::unauthorized()));
    }
    messages_csv(&state, &id, filter).await
}
