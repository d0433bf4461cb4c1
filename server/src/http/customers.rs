//! `/v1/customers`: upsert by source_id, get, list, delete.

use super::{
    api_auth::Caller,
    api_keys::{page, rfc3339, ListParams},
    error::{ApiError, ErrorBody},
    extract::{ApiJson, ApiQuery},
};
use crate::startup::AppState;
use app::{
    dto::{CustomerInput, CustomerView},
    error::AppError,
    ports::Customers,
};
use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
pub struct CustomerRequest {
    /// Your own id for the customer (required): an existing customer with it is updated.
    pub source_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Any format; national numbers are read in the instance's default country. Stored as E.164.
    pub phone: Option<String>,
    pub timezone: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    /// `opted_in`, `opted_out` or `unknown`.
    pub sms_consent: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Customer {
    pub id: String,
    pub source_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub timezone: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    pub sms_consent: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct CustomerList {
    pub data: Vec<Customer>,
    pub has_more: bool,
}

#[derive(Deserialize, IntoParams)]
pub struct CustomerListParams {
    /// Matches name, email, phone and source_id (case-insensitive).
    pub q: Option<String>,
    pub limit: Option<u64>,
    pub starting_after: Option<String>,
}

impl From<CustomerRequest> for CustomerInput {
    fn from(c: CustomerRequest) -> Self {
        Self {
            source_id: c.source_id,
            name: c.name,
            email: c.email,
            phone: c.phone,
            timezone: c.timezone,
            metadata: c.metadata,
            sms_consent: c.sms_consent,
        }
    }
}

impl From<CustomerView> for Customer {
    fn from(c: CustomerView) -> Self {
        Self {
            id: c.id,
            source_id: c.source_id,
            name: c.name,
            email: c.email,
            phone: c.phone,
            timezone: c.timezone,
            metadata: c.metadata,
            sms_consent: c.sms_consent.as_str().to_owned(),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

/// Creates a customer, or updates the one with the same `source_id` (absent fields keep their values).
#[utoipa::path(post, path = "/v1/customers", tag = "customers", security(("bearer" = [])), request_body = CustomerRequest,
    responses((status = 201, body = Customer), (status = 200, body = Customer), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn upsert(
    Caller(caller): Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CustomerRequest>,
) -> Result<(StatusCode, Json<Customer>), ApiError> {
    // The upsert key: without it every retry of the same call would add another customer.
    if body
        .source_id
        .as_deref()
        .is_none_or(|s| s.trim().is_empty())
    {
        return Err(ApiError(AppError::validation(
            "source_id",
            "Give your own id for the customer (source_id): the call creates or updates the customer with it.",
        )));
    }
    let input = CustomerInput::from(body);
    let (customer, created) = state
        .customers
        .upsert(input, "api", &format!("api key {}", caller.name))
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(customer.into())))
}

/// A customer by id (`cust_…`) or source_id.
#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers", security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id or source_id")),
    responses((status = 200, body = Customer), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Customer>, ApiError> {
    Ok(Json(state.customers.get(&id).await?.into()))
}

/// Customers in creation order, optionally filtered by `q`.
#[utoipa::path(get, path = "/v1/customers", tag = "customers", security(("bearer" = [])), params(CustomerListParams),
    responses((status = 200, body = CustomerList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    _: Caller,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<CustomerListParams>,
) -> Result<Json<CustomerList>, ApiError> {
    let page = page(ListParams {
        limit: params.limit,
        starting_after: params.starting_after,
    })?;
    let (rows, has_more) = state
        .customers
        .search(params.q.as_deref().unwrap_or_default(), page)
        .await?;
    Ok(Json(CustomerList {
        data: rows.into_iter().map(Customer::from).collect(),
        has_more,
    }))
}

/// Deletes a customer and their consent history.
#[utoipa::path(delete, path = "/v1/customers/{id}", tag = "customers", security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    _: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.customers.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
