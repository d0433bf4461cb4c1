//! `/v1/customers` and the preview with a real customer.

use crate::both_backends;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{json, Value};

both_backends! {
    async fn customers_are_upserted_by_source_id_with_e164_phones(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let client = app.new_client();
        let create = client.post(app.url("/v1/customers")).bearer_auth(&key)
            .json(&json!({"source_id": "shop-1", "name": "Ana García", "phone": "(415) 555-0123",
                "metadata": {"tier": "gold", "points": 1280, "vip": true}, "sms_consent": "opted_in"}))
            .send().await.unwrap();
        assert_eq!(create.status(), StatusCode::CREATED);
        let created: Value = create.json().await.unwrap();
        assert_eq!(created["phone"], "+14155550123");
        assert_eq!(created["metadata"]["points"], 1280);
        assert_eq!(created["metadata"]["vip"], true);

        let update = client.post(app.url("/v1/customers")).bearer_auth(&key)
            .json(&json!({"source_id": "shop-1", "email": "Ana@Example.com", "sms_consent": "opted_out"}))
            .send().await.unwrap();
        assert_eq!(update.status(), StatusCode::OK);
        let updated: Value = update.json().await.unwrap();
        assert_eq!(updated["id"], created["id"]);
        assert_eq!(updated["name"], "Ana García", "absent fields keep their values");
        assert_eq!(updated["email"], "ana@example.com");
        assert_eq!(updated["sms_consent"], "opted_out");

        let by_source: Value = client.get(app.url("/v1/customers/shop-1")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        assert_eq!(by_source["id"], created["id"]);

        // The consent ledger holds both changes, with who made them.
        let db = Database::connect(&app.database_url).await.unwrap();
        let rows = db.query_all(Statement::from_string(db.get_database_backend(),
            "SELECT state, source, actor FROM consent_changes ORDER BY created_at, id")).await.unwrap();
        let states: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "state").unwrap()).collect();
        assert_eq!(states, vec!["opted_in", "opted_out"]);
        assert_eq!(rows[0].try_get::<String>("", "actor").unwrap(), "api key test key");
        db.close().await.ok();
    }
}

both_backends! {
    async fn invalid_customer_fields_are_field_errors_and_nothing_is_stored(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let client = app.new_client();
        let res = client.post(app.url("/v1/customers")).bearer_auth(&key)
            .json(&json!({"source_id": "x", "phone": "12", "email": "nope", "sms_consent": "maybe"}))
            .send().await.unwrap();
        assert_eq!(res.status(), 422);
        let body: Value = res.json().await.unwrap();
        for field in ["phone", "email", "sms_consent"] {
            assert!(body["error"]["fields"][field].is_string(), "{field}");
        }
        // Without its upsert key a call could only ever create: refused.
        for body in [json!({"name": "No Key"}), json!({"source_id": "  ", "name": "No Key"})] {
            let res = client.post(app.url("/v1/customers")).bearer_auth(&key).json(&body).send().await.unwrap();
            assert_eq!(res.status(), 422);
            let answer: Value = res.json().await.unwrap();
            assert!(answer["error"]["fields"]["source_id"].is_string(), "{answer}");
        }
        let list: Value = client.get(app.url("/v1/customers")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        assert_eq!(list["data"].as_array().unwrap().len(), 0);
    }
}

both_backends! {
    async fn customers_are_listed_searched_and_deleted(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let client = app.new_client();
        for (sid, name) in [("a", "Ana García"), ("b", "Bruno Díaz"), ("c", "Carla 100%")] {
            let res = client.post(app.url("/v1/customers")).bearer_auth(&key)
                .json(&json!({"source_id": sid, "name": name})).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::CREATED);
        }
        let found: Value = client.get(app.url("/v1/customers?q=GARC")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        assert_eq!(found["data"].as_array().unwrap().len(), 1);
        let literal: Value = client.get(app.url("/v1/customers?q=100%25")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        assert_eq!(literal["data"][0]["name"], "Carla 100%");
        let wildcard: Value = client.get(app.url("/v1/customers?q=%25")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        assert_eq!(wildcard["data"].as_array().unwrap().len(), 1, "% is matched literally");
        let page: Value = client.get(app.url("/v1/customers?limit=2")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        assert_eq!(page["has_more"], true);

        let id = found["data"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(client.delete(app.url(&format!("/v1/customers/{id}"))).bearer_auth(&key).send().await.unwrap().status(), 204);
        assert_eq!(client.get(app.url(&format!("/v1/customers/{id}"))).bearer_auth(&key).send().await.unwrap().status(), 404);
    }
}

both_backends! {
    async fn previews_can_use_a_real_customer(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let client = app.new_client();
        client.post(app.url("/v1/customers")).bearer_auth(&key)
            .json(&json!({"source_id": "zoe", "name": "Zoë Kowalczyk", "metadata": {"tier": "silver"}})).send().await.unwrap();
        let res = client.post(app.url("/v1/templates/preview")).bearer_auth(&key)
            .json(&json!({"body": "Hi {{ customer.first_name }} ({{ customer.metadata.tier | upcase }})", "customer": "zoe"}))
            .send().await.unwrap();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["text"], "Hi Zoë (SILVER)");
        assert_eq!(body["encoding"], "UCS-2");
    }
}

both_backends! {
    async fn the_default_country_reads_national_numbers_and_only_admins_set_it(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let client = app.new_client();
        let us: Value = client.post(app.url("/v1/customers")).bearer_auth(&key)
            .json(&json!({"source_id": "n1", "phone": "(415) 555-0123"})).send().await.unwrap().json().await.unwrap();
        assert_eq!(us["phone"], "+14155550123");

        let marketer = app.signed_in_as("mia@shop.example", "marketer").await;
        assert_eq!(app.call(&marketer, "set_default_country", &[("country", "ES")]).await.status(), 403);
        let bad = app.call(&app.client, "set_default_country", &[("country", "XX")]).await;
        assert_eq!(bad.status(), 422);
        assert_eq!(app.call(&app.client, "set_default_country", &[("country", "es")]).await.status(), 200);

        let es: Value = client.post(app.url("/v1/customers")).bearer_auth(&key)
            .json(&json!({"source_id": "n2", "phone": "612 345 678"})).send().await.unwrap().json().await.unwrap();
        assert_eq!(es["phone"], "+34612345678");
    }
}

both_backends! {
    async fn events_upsert_their_customer_and_are_stored(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let client = app.new_client();
        let res = client.post(app.url("/v1/events")).bearer_auth(&key)
            .json(&json!({"event": "cart_abandoned", "customer": {"source_id": "ev-1", "name": "Eva", "phone": "+34 612 345 600"},
                "metadata": {"cart_total": 82.5}}))
            .send().await.unwrap();
        assert_eq!(res.status(), 202);
        let body: Value = res.json().await.unwrap();
        assert!(body["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(body["customer"]["phone"], "+34612345600");

        let again = client.post(app.url("/v1/events")).bearer_auth(&key)
            .json(&json!({"event": "order_placed", "customer": {"source_id": "ev-1"}})).send().await.unwrap();
        assert_eq!(again.status(), 202);
        let list: Value = client.get(app.url("/v1/customers?q=ev-1")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        assert_eq!(list["data"].as_array().unwrap().len(), 1, "the same customer, not a second one");

        let id = body["customer"]["id"].as_str().unwrap();
        let detail: Value = app.call(&app.client, "get_customer_detail", &[("id", id)]).await.json().await.unwrap();
        let names: Vec<&str> = detail["events"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["order_placed", "cart_abandoned"]);
        assert_eq!(detail["events"][1]["metadata"]["cart_total"], 82.5);

        let bad = client.post(app.url("/v1/events")).bearer_auth(&key)
            .json(&json!({"event": "cart abandoned!", "customer": {"phone": "12"}})).send().await.unwrap();
        assert_eq!(bad.status(), 422);
        let err: Value = bad.json().await.unwrap();
        for field in ["event", "customer.source_id", "customer.phone"] {
            assert!(err["error"]["fields"][field].is_string(), "{field}: {err}");
        }
    }
}
