//! HTTP beyond the Leptos pages: the public REST API under /v1 (with its OpenAPI document),
//! /healthz, and the middleware that guards browser requests.

pub mod api_auth;
pub mod api_keys;
pub mod customer_import;
pub mod customers;
pub mod error;
pub mod events;
pub mod extract;
pub mod guards;
pub mod health;
pub mod openapi;
pub mod templates;

use crate::startup::AppState;
use axum::{
    routing::{delete, get, post},
    Router,
};

/// The REST API and health check, merged into the main router.
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::health))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/v1/users/me", get(api_keys::me))
        .route("/v1/api-keys", get(api_keys::list).post(api_keys::create))
        .route("/v1/api-keys/{id}", delete(api_keys::revoke))
        .route("/v1/templates/preview", post(templates::preview_template))
        .route(
            "/v1/customers",
            get(customers::list).post(customers::upsert),
        )
        .route("/v1/customers/import", post(customer_import::import))
        .route("/v1/events", post(events::track))
        .route(
            "/app/customers/import",
            post(customer_import::import_from_ui),
        )
        .route(
            "/v1/customers/{id}",
            get(customers::get).delete(customers::delete),
        )
        .route("/v1", get(error::not_found))
        .route("/v1/{*rest}", axum::routing::any(error::not_found))
}
