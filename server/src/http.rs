//! HTTP beyond the Leptos pages: the public REST API under /v1 (with its OpenAPI document),
//! /healthz, and the middleware that guards browser requests.

pub mod api_auth;
pub mod api_keys;
pub mod campaigns;
pub mod customer_import;
pub mod customers;
pub mod distributions;
pub mod error;
pub mod events;
pub mod extract;
pub mod guards;
pub mod health;
pub mod idempotency;
pub mod integrations;
pub mod openapi;
pub mod qr;
pub mod segments;
pub mod templates;
pub mod webhooks;

use crate::startup::AppState;
use axum::{
    middleware,
    routing::{delete, get, post},
    Router,
};

/// The REST API and health check, merged into the main router.
pub fn api_routes(state: &AppState) -> Router<AppState> {
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
        .route("/v1/segments", get(segments::list).post(segments::create))
        .route("/v1/segments/count", post(segments::count))
        .route(
            "/v1/segments/{id}",
            get(segments::get)
                .patch(segments::update)
                .delete(segments::delete),
        )
        .route(
            "/v1/segments/{id}/customers",
            get(segments::members).post(segments::add_members),
        )
        .route(
            "/v1/segments/{id}/customers/{customer}",
            delete(segments::remove_member),
        )
        .route(
            "/v1/campaigns",
            get(campaigns::list).post(campaigns::create),
        )
        .route("/v1/campaigns/{id}", get(campaigns::get))
        .route("/v1/campaigns/{id}/vouchers", get(campaigns::vouchers))
        .route(
            "/v1/publications",
            post(campaigns::publish).route_layer(middleware::from_fn_with_state(
                state.clone(),
                idempotency::idempotent,
            )),
        )
        .route(
            "/v1/redemptions",
            post(campaigns::redeem).route_layer(middleware::from_fn_with_state(
                state.clone(),
                idempotency::idempotent,
            )),
        )
        .route(
            "/v1/promotions/tiers",
            get(campaigns::list_tiers).post(campaigns::create_tier),
        )
        .route("/q/{token}", get(qr::image))
        .route(
            "/v1/integrations/sms",
            get(integrations::list).post(integrations::create),
        )
        .route(
            "/v1/integrations/sms/{id}",
            get(integrations::get)
                .patch(integrations::update)
                .delete(integrations::delete),
        )
        .route(
            "/webhooks/sms/{id}/inbound",
            post(webhooks::inbound).get(webhooks::inbound),
        )
        .route(
            "/webhooks/sms/{id}/status",
            post(webhooks::status).get(webhooks::status),
        )
        .route(
            "/v1/integrations/sms/{id}/test",
            post(integrations::test_send).route_layer(middleware::from_fn_with_state(
                state.clone(),
                idempotency::idempotent,
            )),
        )
        .route(
            "/v1/integrations/sms/{id}/messages",
            get(integrations::messages),
        )
        .route(
            "/v1/integrations/sms/{id}/messages/{message}",
            get(integrations::message),
        )
        .route(
            "/app/customers/import",
            post(customer_import::import_from_ui),
        )
        .route(
            "/app/distributions/{id}/messages.csv",
            get(distributions::export_from_ui),
        )
        .route(
            "/v1/distributions",
            get(distributions::list).post(distributions::create),
        )
        .route(
            "/v1/distributions/{id}",
            get(distributions::get)
                .patch(distributions::update)
                .delete(distributions::delete),
        )
        .route(
            "/v1/distributions/{id}/duplicate",
            post(distributions::duplicate),
        )
        .route("/v1/distributions/{id}/review", get(distributions::review))
        .route("/v1/distributions/{id}/send", post(distributions::send))
        .route(
            "/v1/distributions/{id}/messages",
            get(distributions::messages),
        )
        .route(
            "/v1/distributions/{id}/messages.csv",
            get(distributions::export),
        )
        .route(
            "/v1/distributions/{id}/failures",
            get(distributions::failures),
        )
        .route(
            "/v1/customers/{id}",
            get(customers::get).delete(customers::delete),
        )
        .route("/v1", get(error::not_found))
        .route("/v1/{*rest}", axum::routing::any(error::not_found))
        .layer(middleware::from_fn(error::json_errors))
}
