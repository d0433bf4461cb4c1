//! `/v1/integrations/sms` (admin keys only): add, list, change and delete SMS integrations.
//! Secret credentials go in and never come out: answers show them masked.

use super::{
    api_auth::AdminCaller,
    api_keys::{page_of, rfc3339, ListParams},
    error::{ApiError, ErrorBody},
    extract::{ApiJson, ApiQuery},
};
use crate::startup::AppState;
use app::{
    dto::{DeliveryView, IntegrationInput, IntegrationView, TestSendResult},
    ports::{Customers, Integrations},
};
use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct IntegrationRequest {
    pub name: Option<String>,
    /// twilio, vonage, plivo, telnyx, messagebird, generic or sandbox.
    pub provider: Option<String>,
    /// Per provider, e.g. twilio `{account_sid, auth_token, messaging_service_sid?}`. On a change,
    /// a secret left out (or empty) keeps the stored one.
    #[serde(default)]
    pub credentials: BTreeMap<String, String>,
    pub sender: Option<String>,
    /// The provider's API base, for self-hosted gateways and tests.
    pub base_url: Option<String>,
    pub max_segments_per_second: Option<u32>,
    #[serde(rename = "default")]
    pub is_default: Option<bool>,
    pub enabled: Option<bool>,
    /// The answer to an inbound HELP (at most 320 characters); empty restores the built-in text.
    pub help_text: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Integration {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub sender: Option<String>,
    pub base_url: Option<String>,
    pub max_segments_per_second: u32,
    #[serde(rename = "default")]
    pub is_default: bool,
    pub enabled: bool,
    pub help_text: Option<String>,
    /// Where the provider reports message statuses (Codecast passes it with every message).
    pub status_webhook: String,
    /// To set as the sender's incoming-message webhook (STOP, START, HELP).
    pub inbound_webhook: String,
    /// Plain credentials as stored; secret ones masked (`••••a1b2`).
    pub credentials: BTreeMap<String, String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct IntegrationList {
    pub data: Vec<Integration>,
    pub has_more: bool,
}

impl From<IntegrationRequest> for IntegrationInput {
    fn from(r: IntegrationRequest) -> Self {
        Self {
            name: r.name,
            provider: r.provider,
            credentials: r.credentials,
            sender: r.sender,
            base_url: r.base_url,
            max_segments_per_second: r.max_segments_per_second,
            is_default: r.is_default,
            enabled: r.enabled,
            help_text: r.help_text,
        }
    }
}

impl From<IntegrationView> for Integration {
    fn from(v: IntegrationView) -> Self {
        Self {
            id: v.id,
            name: v.name,
            provider: v.provider,
            sender: v.sender,
            base_url: v.base_url,
            max_segments_per_second: v.max_segments_per_second,
            is_default: v.is_default,
            enabled: v.enabled,
            help_text: v.help_text,
            status_webhook: v.status_webhook,
            inbound_webhook: v.inbound_webhook,
            credentials: v.credentials,
            created_at: rfc3339(v.created_at),
            updated_at: rfc3339(v.updated_at),
        }
    }
}

#[utoipa::path(post, path = "/v1/integrations/sms", tag = "integrations", security(("bearer" = [])), request_body = IntegrationRequest,
    responses((status = 201, body = Integration), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    _: AdminCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<IntegrationRequest>,
) -> Result<(StatusCode, Json<Integration>), ApiError> {
    let created = state.integrations.create(body.into()).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

#[utoipa::path(get, path = "/v1/integrations/sms", tag = "integrations", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = IntegrationList), (status = 403, body = ErrorBody)))]
pub async fn list(
    _: AdminCaller,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<IntegrationList>, ApiError> {
    let (rows, has_more) = page_of(state.integrations.list().await?, |i| &i.id, params)?;
    Ok(Json(IntegrationList {
        data: rows.into_iter().map(Integration::from).collect(),
        has_more,
    }))
}

#[utoipa::path(get, path = "/v1/integrations/sms/{id}", tag = "integrations", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Integration), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Integration>, ApiError> {
    Ok(Json(state.integrations.get(&id).await?.into()))
}

/// Changes an integration; absent fields and empty secrets keep their values.
#[utoipa::path(patch, path = "/v1/integrations/sms/{id}", tag = "integrations", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = IntegrationRequest,
    responses((status = 200, body = Integration), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    _: AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<IntegrationRequest>,
) -> Result<Json<Integration>, ApiError> {
    Ok(Json(
        state.integrations.update(&id, body.into()).await?.into(),
    ))
}

#[utoipa::path(delete, path = "/v1/integrations/sms/{id}", tag = "integrations", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    _: AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.integrations.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct TestSendRequest {
    /// Any format; national numbers are read in the instance's default country.
    pub to: String,
    pub body: String,
}

#[derive(Serialize, ToSchema)]
pub struct TestSendResponse {
    pub accepted: bool,
    pub to: String,
    pub provider_id: Option<String>,
    pub segments: Option<u32>,
    /// When not accepted: `failed`, `unknown` (the provider may have sent it), `retrying` or
    /// `queued` (no answer within 25 s).
    pub failure: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
    pub http_status: Option<u16>,
    /// The provider's response body, verbatim.
    pub raw: String,
    /// The queued message (`msg_…`); status callbacks keep updating it
    /// (`GET …/messages/{message_id}`).
    pub message_id: Option<String>,
    /// Its status when the answer came.
    pub status: String,
}

impl From<TestSendResult> for TestSendResponse {
    fn from(r: TestSendResult) -> Self {
        Self {
            accepted: r.accepted,
            to: r.to,
            provider_id: r.provider_id,
            segments: r.segments,
            failure: r.failure,
            code: r.code,
            message: r.message,
            http_status: r.http_status,
            raw: r.raw,
            message_id: r.delivery_id.map(super::extract::message_id),
            status: r.status,
        }
    }
}

/// Sends one message through the integration and answers with what the provider said.
#[utoipa::path(post, path = "/v1/integrations/sms/{id}/test", tag = "integrations", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = TestSendRequest,
    responses((status = 200, body = TestSendResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn test_send(
    _: AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TestSendRequest>,
) -> Result<Json<TestSendResponse>, ApiError> {
    let country = state.customers.default_country().await?;
    let result = state
        .integrations
        .test_send(&id, &body.to, &body.body, &country)
        .await?;
    Ok(Json(result.into()))
}

#[derive(Serialize, ToSchema)]
pub struct Message {
    /// `msg_…`
    pub id: String,
    /// `distribution`, `test` or `reply`.
    pub kind: String,
    pub distribution: Option<String>,
    pub customer: Option<String>,
    /// Masked.
    pub to: String,
    pub text: String,
    pub encoding: String,
    pub segments: u32,
    /// pending, accepted, sent, delivered, undelivered, failed, skipped or unknown.
    pub status: String,
    pub skip_reason: Option<String>,
    pub attempts: u32,
    pub provider_id: Option<String>,
    pub provider_status: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<DeliveryView> for Message {
    fn from(d: DeliveryView) -> Self {
        Self {
            id: super::extract::message_id(d.id),
            kind: d.kind,
            distribution: d.distribution_id,
            customer: d.customer_id,
            to: d.to,
            text: d.body,
            encoding: d.encoding,
            segments: d.provider_segments.unwrap_or(d.segments),
            status: d.status,
            skip_reason: d.skip_reason,
            attempts: d.attempts,
            provider_id: d.provider_id,
            provider_status: d.provider_status,
            error_code: d.error_code,
            error_message: d.error_message,
            created_at: rfc3339(d.created_at),
            updated_at: rfc3339(d.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MessageList {
    pub data: Vec<Message>,
    pub has_more: bool,
}

/// The integration's messages, newest first, paged (`limit`, `starting_after`).
#[utoipa::path(get, path = "/v1/integrations/sms/{id}/messages", tag = "integrations", security(("bearer" = [])),
    params(("id" = String, Path), ListParams),
    responses((status = 200, body = MessageList), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn messages(
    _: AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<MessageList>, ApiError> {
    let page = super::api_keys::page(params)?;
    let before = super::extract::message_cursor(page.starting_after.as_deref())?;
    let limit = u32::try_from(page.limit).unwrap_or(u32::MAX);
    // One more than asked says whether more follow.
    let mut rows = state
        .integrations
        .messages(&id, before, limit.saturating_add(1))
        .await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok(Json(MessageList {
        has_more,
        data: rows.into_iter().map(Message::from).collect(),
    }))
}

/// One message of the integration, with its current status.
#[utoipa::path(get, path = "/v1/integrations/sms/{id}/messages/{message}", tag = "integrations", security(("bearer" = [])),
    params(("id" = String, Path), ("message" = String, Path, description = "msg_…")),
    responses((status = 200, body = Message), (status = 404, body = ErrorBody)))]
pub async fn message(
    _: AdminCaller,
    State(state): State<AppState>,
    Path((id, message)): Path<(String, String)>,
) -> Result<Json<Message>, ApiError> {
    let Some(number) = super::extract::parse_message_id(&message) else {
        return Err(ApiError(app::error::AppError::not_found(format!(
            "No message has the id {message:?}."
        ))));
    };
    Ok(Json(state.integrations.delivery(&id, number).await?.into()))
}
