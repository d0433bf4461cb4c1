//! `/v1/segments`: static and auto-update segments, their counts and members.

use super::{
    api_auth::Caller,
    api_keys::{page, page_of, rfc3339, ListParams},
    customers::Customer,
    error::{ApiError, ErrorBody},
    extract::{ApiJson, ApiQuery},
};
use crate::startup::AppState;
use app::{
    dto::{SegmentInput, SegmentView},
    ports::Segments,
};
use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
pub struct SegmentRequest {
    pub name: String,
    /// `static` or `auto-update`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The rule of an auto-update segment: `{"all": [...]}`, `{"any": [...]}`, `{"not": rule}`,
    /// `{"field", "op", "value"}` or `{"event", "op", "within_days"?, "min_count"?}`.
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Value>,
    /// Customer ids or source ids of a static segment.
    #[serde(default)]
    pub customers: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct SegmentUpdate {
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Value>,
}

#[derive(Deserialize, ToSchema)]
pub struct MembersRequest {
    /// Customer ids or source ids.
    pub customers: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Segment {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Value>,
    /// The rule in words.
    pub description: String,
    pub customers_count: u64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<SegmentView> for Segment {
    fn from(s: SegmentView) -> Self {
        Self {
            id: s.id,
            name: s.name,
            kind: s.kind,
            filter: s.filter.map(|r| r.to_value()),
            description: s.description,
            customers_count: s.customers_count,
            created_at: rfc3339(s.created_at),
            updated_at: rfc3339(s.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SegmentList {
    pub data: Vec<Segment>,
    pub has_more: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Member {
    pub customer: Customer,
    /// When the customer (last) entered the segment.
    pub entered_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct MemberList {
    pub data: Vec<Member>,
    pub has_more: bool,
}

#[derive(Serialize, ToSchema)]
pub struct RuleCount {
    pub customers_count: u64,
}

#[derive(Deserialize, ToSchema)]
pub struct RuleRequest {
    #[schema(value_type = Object)]
    pub filter: Value,
}

#[derive(Serialize, ToSchema)]
pub struct Added {
    /// Customers who entered (those already in are not counted).
    pub entered: u64,
}

#[derive(Deserialize, IntoParams)]
pub struct MemberParams {
    pub limit: Option<u64>,
    /// A customer id from the previous page.
    pub starting_after: Option<String>,
}

/// Creates a segment: `static` with `customers`, or `auto-update` with a `filter`.
#[utoipa::path(post, path = "/v1/segments", tag = "segments", security(("bearer" = [])), request_body = SegmentRequest,
    responses((status = 201, body = Segment), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    _: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SegmentRequest>,
) -> Result<(StatusCode, Json<Segment>), ApiError> {
    let created = state
        .segments
        .create(SegmentInput {
            name: body.name,
            kind: body.kind,
            filter: body.filter,
            customers: body.customers,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Every segment with its current count, newest first.
#[utoipa::path(get, path = "/v1/segments", tag = "segments", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = SegmentList), (status = 401, body = ErrorBody)))]
pub async fn list(
    _: Caller,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<SegmentList>, ApiError> {
    let (rows, has_more) = page_of(state.segments.list().await?, |s| &s.id, params)?;
    Ok(Json(SegmentList {
        data: rows.into_iter().map(Segment::from).collect(),
        has_more,
    }))
}

#[utoipa::path(get, path = "/v1/segments/{id}", tag = "segments", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Segment), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Segment>, ApiError> {
    Ok(Json(state.segments.get(&id).await?.into()))
}

/// Renames a segment or replaces an auto-update segment's rule (membership follows at once).
#[utoipa::path(patch, path = "/v1/segments/{id}", tag = "segments", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = SegmentUpdate,
    responses((status = 200, body = Segment), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SegmentUpdate>,
) -> Result<Json<Segment>, ApiError> {
    let current = state.segments.get(&id).await?;
    let name = body.name.unwrap_or(current.name);
    Ok(Json(
        state.segments.update(&id, &name, body.filter).await?.into(),
    ))
}

#[utoipa::path(delete, path = "/v1/segments/{id}", tag = "segments", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.segments.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Current members in customer id order.
#[utoipa::path(get, path = "/v1/segments/{id}/customers", tag = "segments", security(("bearer" = [])),
    params(("id" = String, Path), MemberParams),
    responses((status = 200, body = MemberList), (status = 404, body = ErrorBody)))]
pub async fn members(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<MemberParams>,
) -> Result<Json<MemberList>, ApiError> {
    let page = page(ListParams {
        limit: params.limit,
        starting_after: params.starting_after,
    })?;
    let (rows, has_more) = state.segments.members(&id, page).await?;
    Ok(Json(MemberList {
        data: rows
            .into_iter()
            .map(|m| Member {
                customer: m.customer.into(),
                entered_at: rfc3339(m.entered_at),
            })
            .collect(),
        has_more,
    }))
}

/// Adds customers to a static segment.
#[utoipa::path(post, path = "/v1/segments/{id}/customers", tag = "segments", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = MembersRequest,
    responses((status = 200, body = Added), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_members(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MembersRequest>,
) -> Result<Json<Added>, ApiError> {
    let entered = state.segments.add_members(&id, &body.customers).await?;
    Ok(Json(Added { entered }))
}

/// Removes a customer from a static segment.
#[utoipa::path(delete, path = "/v1/segments/{id}/customers/{customer}", tag = "segments", security(("bearer" = [])),
    params(("id" = String, Path), ("customer" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_member(
    _: Caller,
    State(state): State<AppState>,
    Path((id, customer)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.segments.remove_member(&id, &customer).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Counts the customers a rule matches now, without saving it.
#[utoipa::path(post, path = "/v1/segments/count", tag = "segments", security(("bearer" = [])),
    request_body = RuleRequest,
    responses((status = 200, body = RuleCount), (status = 422, body = ErrorBody)))]
pub async fn count(
    _: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RuleRequest>,
) -> Result<Json<RuleCount>, ApiError> {
    let rule = crate::services::segments::parse_filter(&body.filter)?;
    Ok(Json(RuleCount {
        customers_count: state.segments.count(&rule).await?,
    }))
}
