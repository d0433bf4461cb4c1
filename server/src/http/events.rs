//! `POST /v1/events`: what a shop's backend reports (`cart_abandoned`, `order_placed`, …).

use super::{
    api_auth::Caller,
    customers::{Customer, CustomerRequest},
    error::{ApiError, ErrorBody},
    extract::ApiJson,
};
use crate::startup::AppState;
use app::{dto::CustomerInput, ports::Customers};
use axum::{extract::State, http::StatusCode, Json};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct EventRequest {
    /// The event's name, e.g. `cart_abandoned`.
    pub event: String,
    /// The customer, found or created by `source_id` (other fields update it).
    pub customer: CustomerRequest,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Serialize, ToSchema)]
pub struct EventAccepted {
    pub id: String,
    pub customer: Customer,
}

/// Records an event; the customer is upserted in the same transaction.
#[utoipa::path(post, path = "/v1/events", tag = "events", security(("bearer" = [])), request_body = EventRequest,
    responses((status = 202, body = EventAccepted), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn track(
    Caller(caller): Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<EventRequest>,
) -> Result<(StatusCode, Json<EventAccepted>), ApiError> {
    let input = CustomerInput::from(body.customer);
    let (id, customer) = state
        .customers
        .track_event(
            &body.event,
            input,
            body.metadata.unwrap_or_default(),
            &format!("api key {}", caller.name),
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(EventAccepted {
            id,
            customer: customer.into(),
        }),
    ))
}
