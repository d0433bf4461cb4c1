//! The public REST API: bearer keys, roles, the error shape, OpenAPI.

use crate::both_backends;
use reqwest::{header, StatusCode};
use serde_json::Value;

both_backends! {
    async fn health_reports_the_database(app: TestApp) {
        let res = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "ok", "database": "ok"}));
    }
}

both_backends! {
    async fn missing_or_wrong_keys_get_401_in_the_error_shape(app: TestApp) {
        let client = app.new_client();
        let none = client.get(app.url("/v1/users/me")).send().await.unwrap();
        assert_eq!(none.status(), 401);
        assert_eq!(none.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let body: Value = none.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
        assert!(body["error"]["message"].as_str().unwrap().contains("Bearer"));

        for auth in ["Bearer cc_not_a_real_key", "Basic YTpi", "Bearer "] {
            let res = client.get(app.url("/v1/users/me")).header(header::AUTHORIZATION, auth).send().await.unwrap();
            assert_eq!(res.status(), 401, "{auth}");
        }
    }
}

both_backends! {
    async fn keys_carry_their_role(app: TestApp) {
        app.with_admin().await;
        let marketer = app.api_key("marketer").await;
        let admin = app.api_key("admin").await;
        let client = app.new_client();

        let me: Value = client.get(app.url("/v1/users/me")).bearer_auth(&marketer).send().await.unwrap().json().await.unwrap();
        assert_eq!(me["type"], "api_key");
        assert_eq!(me["role"], "marketer");
        assert!(me["id"].as_str().unwrap().starts_with("key_"));

        let refused = client.get(app.url("/v1/api-keys")).bearer_auth(&marketer).send().await.unwrap();
        assert_eq!(refused.status(), 403);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "forbidden");
        let refused = client.post(app.url("/v1/api-keys")).bearer_auth(&marketer).json(&serde_json::json!({"name": "x"})).send().await.unwrap();
        assert_eq!(refused.status(), 403);

        let listed: Value = client.get(app.url("/v1/api-keys")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
        assert_eq!(listed["data"].as_array().unwrap().len(), 2);
        assert_eq!(listed["has_more"], false);
        // Secrets and their hashes never appear in listings.
        let text = listed.to_string();
        assert!(!text.contains(&marketer) && !text.contains("hash"));
    }
}

both_backends! {
    async fn admin_keys_create_page_and_revoke_keys(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let client = app.new_client();

        let created = client.post(app.url("/v1/api-keys")).bearer_auth(&admin)
            .json(&serde_json::json!({"name": "Shop backend", "role": "marketer"})).send().await.unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        let created: Value = created.json().await.unwrap();
        let secret = created["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with(created["prefix"].as_str().unwrap()));
        assert_eq!(client.get(app.url("/v1/users/me")).bearer_auth(&secret).send().await.unwrap().status(), 200);

        let first: Value = client.get(app.url("/v1/api-keys?limit=1")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
        assert_eq!(first["has_more"], true);
        let after = first["data"][0]["id"].as_str().unwrap();
        let second: Value = client.get(app.url(&format!("/v1/api-keys?limit=1&starting_after={after}"))).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
        assert_eq!(second["data"][0]["id"], created["id"]);
        assert_eq!(second["has_more"], false);

        let id = created["id"].as_str().unwrap();
        let revoked = client.delete(app.url(&format!("/v1/api-keys/{id}"))).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(revoked.status(), 204);
        assert_eq!(client.get(app.url("/v1/users/me")).bearer_auth(&secret).send().await.unwrap().status(), 401);
        let again = client.delete(app.url(&format!("/v1/api-keys/{id}"))).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(again.status(), 404);
    }
}

both_backends! {
    async fn bad_input_gets_a_json_error(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let client = app.new_client();

        let res = client.get(app.url("/v1/api-keys?limit=0")).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status(), 422);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["fields"]["limit"], "Use a limit from 1 to 500.");

        let res = client.get(app.url("/v1/api-keys?limit=lots")).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status(), 422);

        let res = client.post(app.url("/v1/api-keys")).bearer_auth(&admin)
            .header(header::CONTENT_TYPE, "application/json").body("{\"name\": ").send().await.unwrap();
        assert_eq!(res.status(), 422);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "validation_failed");

        let res = client.post(app.url("/v1/api-keys")).bearer_auth(&admin)
            .json(&serde_json::json!({"name": "  ", "role": "owner"})).send().await.unwrap();
        let body: Value = res.json().await.unwrap();
        assert!(body["error"]["fields"]["name"].is_string());
        assert!(body["error"]["fields"]["role"].is_string());

        let res = client.get(app.url("/v1/nothing-here")).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status(), 404);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");

        // Rejections axum makes before a handler runs are JSON errors too.
        let res = client.put(app.url("/v1/api-keys")).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status(), 405);
        let allow = res.headers().get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert!(allow.contains("POST"), "{allow}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
        assert!(body["error"]["message"].as_str().unwrap().contains("does not take PUT"), "{body}");

        let res = client.get(app.url("/v1/customers/%FF")).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status(), 400);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "validation_failed", "{body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
}

both_backends! {
    async fn the_openapi_document_describes_the_api(app: TestApp) {
        let doc: Value = app.client.get(app.url("/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        assert!(doc["paths"]["/v1/api-keys"]["post"].is_object());
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    }
}

both_backends! {
    async fn templates_preview_renders_and_counts(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let client = app.new_client();
        let res = client.post(app.url("/v1/templates/preview")).bearer_auth(&key)
            .json(&serde_json::json!({"body": "Hi {{ customer.first_name }}, code {{ voucher.code }} {{ custmer.x }}"}))
            .send().await.unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["text"], "Hi Ana, code SUMMER-4821 ");
        assert_eq!(body["encoding"], "GSM-7");
        assert_eq!(body["segments"], 1);
        assert_eq!(body["unknown_tags"], serde_json::json!(["custmer.x"]));

        let res = client.post(app.url("/v1/templates/preview")).bearer_auth(&key)
            .json(&serde_json::json!({"body": "It\u{2019}s {{ voucher.qr_url }} \u{2013} ok", "smart_encoding": true}))
            .send().await.unwrap();
        let body: Value = res.json().await.unwrap();
        assert!(body["text"].as_str().unwrap().starts_with(&format!("It's {}/q/", app.address)));
        assert_eq!(body["encoding"], "GSM-7");

        let res = client.post(app.url("/v1/templates/preview")).bearer_auth(&key)
            .json(&serde_json::json!({"body": "Hi Zoë 👋"})).send().await.unwrap();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["encoding"], "UCS-2");
        assert_eq!(body["non_gsm_characters"], serde_json::json!(["ë", "👋"]));
    }
}

both_backends! {
    async fn template_syntax_errors_are_422_with_positions(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let res = app.new_client().post(app.url("/v1/templates/preview")).bearer_auth(&key)
            .json(&serde_json::json!({"body": "Hi\n{{ customer.name | upcas }}"})).send().await.unwrap();
        assert_eq!(res.status(), 422);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "validation_failed");
        let first = &body["error"]["details"]["errors"][0];
        assert_eq!((first["line"].as_u64(), first["column"].as_u64()), (Some(2), Some(20)));
        assert!(body["error"]["fields"]["body"].as_str().unwrap().contains("Did you mean upcase?"));

        let res = app.new_client().post(app.url("/v1/templates/preview")).bearer_auth(&key)
            .json(&serde_json::json!({"body": "x", "customer": "nobody"})).send().await.unwrap();
        assert_eq!(res.status(), 404);
        let res = app.new_client().post(app.url("/v1/templates/preview"))
            .json(&serde_json::json!({"body": "x"})).send().await.unwrap();
        assert_eq!(res.status(), 401);
    }
}
