//! `/v1/integrations/sms`: admin only, secrets sealed and never returned.

use crate::both_backends;
use crate::helpers::{get_json as get, post_json as post};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{json, Value};

both_backends! {
    async fn integrations_keep_secrets_sealed_and_masked(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let marketer = app.api_key("marketer").await;
        let twilio = json!({"name": "Twilio US", "provider": "twilio", "sender": "+15017122661",
            "credentials": {"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "f00dfeedcafebeef1234"},
            "base_url": "http://127.0.0.1:9/", "max_segments_per_second": 3});
        let (status, _) = post(&app, &marketer, "/v1/integrations/sms", twilio.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "admins only");
        let (status, created) = post(&app, &admin, "/v1/integrations/sms", twilio).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert!(created["id"].as_str().unwrap().starts_with("int_"));
        assert_eq!(created["credentials"]["account_sid"], "AC0123456789abcdef0123456789abcdef");
        assert_eq!(created["credentials"]["auth_token"], "••••1234");
        assert_eq!(created["default"], true, "the first integration becomes the default");
        assert_eq!(created["base_url"], "http://127.0.0.1:9");
        assert!(!created.to_string().contains("f00dfeedcafebeef"));

        // At rest the token is sealed: nothing in the row holds it.
        let db = Database::connect(&app.database_url).await.unwrap();
        let row = db.query_one(Statement::from_string(db.get_database_backend(),
            "SELECT public_credentials, sealed_secrets, secret_hints FROM sms_integrations")).await.unwrap().unwrap();
        for col in ["public_credentials", "sealed_secrets", "secret_hints"] {
            let v: String = row.try_get("", col).unwrap();
            assert!(!v.contains("f00dfeedcafebeef"), "{col} holds the secret");
        }

        // Editing without the token keeps it; a new one replaces it.
        let id = created["id"].as_str().unwrap();
        let res = app.new_client().patch(app.url(&format!("/v1/integrations/sms/{id}"))).bearer_auth(&admin)
            .json(&json!({"name": "Twilio main", "credentials": {"auth_token": ""}})).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let edited: Value = res.json().await.unwrap();
        assert_eq!(edited["name"], "Twilio main");
        assert_eq!(edited["credentials"]["auth_token"], "••••1234");
        assert_eq!(edited["max_segments_per_second"], 3);
        let res = app.new_client().patch(app.url(&format!("/v1/integrations/sms/{id}"))).bearer_auth(&admin)
            .json(&json!({"credentials": {"auth_token": "0000111122223333new9"}})).send().await.unwrap();
        let edited: Value = res.json().await.unwrap();
        assert_eq!(edited["credentials"]["auth_token"], "••••new9");

        // A second integration can take over as the default; only one is.
        let (status, sandbox) = post(&app, &admin, "/v1/integrations/sms", json!({"name": "Demo", "provider": "sandbox", "default": true})).await;
        assert_eq!(status, StatusCode::CREATED, "{sandbox}");
        let list = get(&app, &admin, "/v1/integrations/sms").await;
        let defaults: Vec<&Value> = list["data"].as_array().unwrap().iter().filter(|i| i["default"] == true).collect();
        assert_eq!(defaults.len(), 1);
        assert_eq!(defaults[0]["id"], sandbox["id"]);
        let res = app.new_client().get(app.url("/v1/integrations/sms")).bearer_auth(&marketer).send().await.unwrap();
        assert_eq!(res.status(), 403);

        let res = app.new_client().delete(app.url(&format!("/v1/integrations/sms/{id}"))).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status(), 204);
        let res = app.new_client().get(app.url(&format!("/v1/integrations/sms/{id}"))).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status(), 404);
        db.close().await.ok();
    }
}

both_backends! {
    async fn bad_integrations_are_field_errors(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let (status, body) = post(&app, &admin, "/v1/integrations/sms", json!({"name": "", "provider": "carrier-pigeon"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body["error"]["fields"]["name"].is_string() && body["error"]["fields"]["provider"].is_string());
        let (status, body) = post(&app, &admin, "/v1/integrations/sms", json!({"name": "V", "provider": "vonage",
            "credentials": {"api_key": "k", "token": "x"}, "base_url": "ftp://x", "max_segments_per_second": 0})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields = &body["error"]["fields"];
        for f in ["credentials.api_secret", "credentials.token", "base_url", "max_segments_per_second", "sender"] {
            assert!(fields[f].is_string(), "{f}: {body}");
        }
        // Twilio may send through a messaging service instead of a sender.
        let (status, body) = post(&app, &admin, "/v1/integrations/sms", json!({"name": "T", "provider": "twilio",
            "credentials": {"account_sid": "AC1", "auth_token": "t0ken-long-enough", "messaging_service_sid": "MG1"}})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().unwrap();
        let res = app.new_client().patch(app.url(&format!("/v1/integrations/sms/{id}"))).bearer_auth(&admin)
            .json(&json!({"provider": "vonage"})).send().await.unwrap();
        assert_eq!(res.status(), 422);
        assert!(get(&app, &admin, "/v1/integrations/sms").await["data"].as_array().unwrap().len() == 1);
    }
}

both_backends! {
    async fn the_integration_form_saves_through_its_server_function(app: TestApp) {
        app.with_admin().await;
        let form = [
            ("provider", "twilio"), ("name", "Twilio form"), ("sender", "+15017122661"), ("base_url", ""),
            ("max_segments_per_second", "3"), ("is_default", "yes"), ("enabled", "yes"),
            ("credentials[account_sid]", "AC42"), ("credentials[auth_token]", "secret-token-9876"),
            ("credentials[messaging_service_sid]", ""),
        ];
        let res = app.call(&app.client, "save_integration", &form).await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
        let saved: Value = res.json().await.unwrap();
        assert_eq!(saved["credentials"]["auth_token"], "••••9876");
        assert_eq!(saved["credentials"]["account_sid"], "AC42");
        assert!(saved["credentials"].get("messaging_service_sid").is_none());
        // Saved again with the token left empty: kept.
        let id = saved["id"].as_str().unwrap().to_owned();
        let mut again = form.to_vec();
        again.push(("id", &id));
        again.retain(|(k, _)| *k != "credentials[auth_token]");
        again.push(("credentials[auth_token]", ""));
        let res = app.call(&app.client, "save_integration", &again).await;
        assert_eq!(res.status(), 200);
        let saved: Value = res.json().await.unwrap();
        assert_eq!(saved["credentials"]["auth_token"], "••••9876");

        let marketer = app.signed_in_as("mia@shop.example", "marketer").await;
        let res = app.call(&marketer, "list_integrations", &[]).await;
        assert_eq!(res.status(), 403);
        let res = app.call(&marketer, "save_integration", &form).await;
        assert_eq!(res.status(), 403);
    }
}
