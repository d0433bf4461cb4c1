use axum::Json;
use utoipa::{
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Codecast API", description = "Customers, segments, campaigns and SMS distributions. Authenticate with `Authorization: Bearer <api key>`."),
    paths(super::health::health, super::api_keys::me, super::api_keys::list, super::api_keys::create, super::api_keys::revoke, super::templates::preview_template, super::customers::upsert, super::customers::get, super::customers::list, super::customers::delete,
        super::customer_import::import,
        super::events::track,
        super::segments::create, super::segments::list, super::segments::get, super::segments::update, super::segments::delete,
        super::segments::members, super::segments::add_members, super::segments::remove_member, super::segments::count,
        super::campaigns::create, super::campaigns::list, super::campaigns::get, super::campaigns::vouchers,
        super::campaigns::publish, super::campaigns::redeem, super::campaigns::create_tier, super::campaigns::list_tiers,
        super::integrations::create, super::integrations::list, super::integrations::get, super::integrations::update, super::integrations::delete, super::integrations::test_send, super::integrations::messages, super::integrations::message,
        super::distributions::create, super::distributions::list, super::distributions::get, super::distributions::update, super::distributions::delete,
        super::distributions::duplicate, super::distributions::review, super::distributions::send, super::distributions::messages, super::distributions::failures, super::distributions::export),
    components(schemas(super::error::ErrorBody, super::error::ErrorDetail)),
    modifiers(&BearerAuth),
    tags((name = "account", description = "The caller and its API keys"), (name = "customers", description = "The people you send to"), (name = "events", description = "What customers do, as the shop reports it"), (name = "segments", description = "Groups of customers: picked by hand or kept by a rule"), (name = "campaigns", description = "Unique codes, publication, redemption and promotion tiers"), (name = "integrations", description = "SMS providers (admin keys only)"), (name = "templates", description = "Message templates: render and count"), (name = "distributions", description = "Sending: drafts, review, SEND, progress and messages"), (name = "health"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

#[utoipa::path(get, path = "/v1/openapi.json", tag = "health", responses((status = 200, description = "This document")))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_every_route_and_the_bearer_scheme() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        for path in [
            "/healthz",
            "/v1/users/me",
            "/v1/api-keys",
            "/v1/api-keys/{id}",
            "/v1/segments/{id}/customers",
            "/v1/campaigns/{id}/vouchers",
            "/v1/publications",
            "/v1/redemptions",
            "/v1/promotions/tiers",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path} missing");
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
