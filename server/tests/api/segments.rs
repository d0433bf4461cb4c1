//! `/v1/segments`: every rule operator, membership kept current, static segments.

use crate::both_backends;
use crate::helpers::{get_json as get, post_json as post, TestApp};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{json, Value};

/// Source ids of a segment's current members, sorted.
async fn members(app: &TestApp, key: &str, id: &str) -> Vec<String> {
    let page = get(app, key, &format!("/v1/segments/{id}/customers?limit=500")).await;
    let mut ids: Vec<String> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["customer"]["source_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn seed(app: &TestApp, key: &str) {
    let people = [
        json!({"source_id": "ana", "name": "Ana García", "email": "ana@example.com", "phone": "+34612345678",
               "timezone": "Europe/Madrid", "metadata": {"tier": "gold", "orders": 12, "vip": true, "city": "Madrid"}, "sms_consent": "opted_in"}),
        json!({"source_id": "ben", "name": "Ben Okafor", "phone": "+14155550123",
               "metadata": {"tier": "silver", "orders": 3, "vip": false, "city": "Boston"}, "sms_consent": "opted_out"}),
        json!({"source_id": "cai", "name": "Cai Lun", "email": "cai@example.org",
               "metadata": {"tier": "gold", "orders": "12"}}),
        json!({"source_id": "dee", "metadata": {}}),
    ];
    for p in people {
        let (status, body) = post(app, key, "/v1/customers", p).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    for (who, event) in [
        ("ana", "cart_abandoned"),
        ("ana", "cart_abandoned"),
        ("ben", "cart_abandoned"),
        ("cai", "order_placed"),
    ] {
        let (status, body) = post(
            app,
            key,
            "/v1/events",
            json!({"event": event, "customer": {"source_id": who}}),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
}

both_backends! {
    async fn every_rule_operator_counts_and_materialises_alike(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        seed(&app, &key).await;
        let f = |field: &str, op: &str, value: Value| json!({"field": field, "op": op, "value": value});
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (f("customer.name", "eq", json!("Ana García")), vec!["ana"]),
            (f("customer.name", "ne", json!("Ana García")), vec!["ben", "cai", "dee"]),
            (f("customer.name", "contains", json!("KAF")), vec!["ben"]),
            (f("customer.email", "starts_with", json!("CAI@")), vec!["cai"]),
            (f("customer.name", "gt", json!("B")), vec!["ben", "cai"]),
            (f("customer.name", "lte", json!("Ben Okafor")), vec!["ana", "ben"]),
            (f("customer.phone", "exists", json!(true)), vec!["ana", "ben"]),
            (f("customer.email", "exists", json!(false)), vec!["ben", "dee"]),
            (f("customer.timezone", "in", json!(["Europe/Madrid", "Asia/Tokyo"])), vec!["ana"]),
            (f("customer.sms_consent", "eq", json!("unknown")), vec!["cai", "dee"]),
            (f("customer.metadata.tier", "eq", json!("gold")), vec!["ana", "cai"]),
            (f("customer.metadata.tier", "ne", json!("gold")), vec!["ben", "dee"]),
            // Typed: the number 12 is not the text "12".
            (f("customer.metadata.orders", "eq", json!(12)), vec!["ana"]),
            (f("customer.metadata.orders", "eq", json!("12")), vec!["cai"]),
            (f("customer.metadata.orders", "gt", json!(3)), vec!["ana"]),
            (f("customer.metadata.orders", "gte", json!(3)), vec!["ana", "ben"]),
            (f("customer.metadata.orders", "lt", json!(12)), vec!["ben"]),
            (f("customer.metadata.orders", "lte", json!(12.0)), vec!["ana", "ben"]),
            (f("customer.metadata.vip", "eq", json!(true)), vec!["ana"]),
            (f("customer.metadata.vip", "eq", json!(false)), vec!["ben"]),
            (f("customer.metadata.city", "contains", json!("ADR")), vec!["ana"]),
            (f("customer.metadata.city", "starts_with", json!("bos")), vec!["ben"]),
            (f("customer.metadata.city", "gt", json!("C")), vec!["ana"]),
            (f("customer.metadata.tier", "exists", json!(true)), vec!["ana", "ben", "cai"]),
            (f("customer.metadata.tier", "exists", json!(false)), vec!["dee"]),
            (f("customer.metadata.tier", "in", json!(["silver", "bronze"])), vec!["ben"]),
            (f("customer.metadata.orders", "in", json!([3, 99])), vec!["ben"]),
            (json!({"event": "cart_abandoned", "op": "performed"}), vec!["ana", "ben"]),
            (json!({"event": "cart_abandoned", "op": "performed", "min_count": 2}), vec!["ana"]),
            (json!({"event": "cart_abandoned", "op": "not_performed"}), vec!["cai", "dee"]),
            (json!({"event": "order_placed", "op": "performed", "within_days": 7}), vec!["cai"]),
            (json!({"all": [f("customer.metadata.tier", "eq", json!("gold")), {"event": "cart_abandoned", "op": "performed"}]}), vec!["ana"]),
            (json!({"any": [f("customer.name", "eq", json!("Ben Okafor")), f("customer.email", "contains", json!(".org"))]}), vec!["ben", "cai"]),
            (json!({"not": f("customer.metadata.vip", "eq", json!(true))}), vec!["ben", "cai", "dee"]),
            (json!({"all": []}), vec!["ana", "ben", "cai", "dee"]),
            (json!({"any": []}), vec![]),
            // Wildcards in values are literal.
            (f("customer.name", "contains", json!("%")), vec![]),
        ];
        let mut saved = Vec::new();
        for (rule, expected) in cases {
            let (status, count) = post(&app, &key, "/v1/segments/count", json!({"filter": rule})).await;
            assert_eq!(status, StatusCode::OK, "{rule}: {count}");
            assert_eq!(count["customers_count"], expected.len(), "count of {rule}");
            let (status, seg) = post(&app, &key, "/v1/segments", json!({"name": "case", "type": "auto-update", "filter": rule})).await;
            assert_eq!(status, StatusCode::CREATED, "{seg}");
            assert_eq!(seg["customers_count"], expected.len(), "segment of {rule}");
            assert_eq!(members(&app, &key, seg["id"].as_str().unwrap()).await, expected, "members of {rule}");
            saved.push((seg["id"].as_str().unwrap().to_owned(), rule, expected));
        }
        // Writing a customer re-checks every segment for that customer alone (index probes
        // instead of a scan): the answer must be the same for every operator.
        for who in ["ana", "ben", "cai", "dee"] {
            let (status, _) = post(&app, &key, "/v1/customers", json!({"source_id": who})).await;
            assert_eq!(status, StatusCode::OK);
        }
        for (id, rule, expected) in saved {
            assert_eq!(members(&app, &key, &id).await, expected, "after re-checking {rule}");
        }
    }
}

both_backends! {
    async fn membership_follows_customers_and_events_with_entry_and_exit_times(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        seed(&app, &key).await;
        let (_, gold) = post(&app, &key, "/v1/segments", json!({"name": "Gold", "type": "auto-update",
            "filter": {"field": "customer.metadata.tier", "eq": 1, "op": "eq", "value": "gold"}})).await;
        assert_eq!(gold["error"]["fields"]["filter"].as_str().unwrap(), "filter.eq: Unknown key; a condition here has field, op, value.");
        let (_, gold) = post(&app, &key, "/v1/segments", json!({"name": "Gold", "type": "auto-update",
            "filter": {"field": "customer.metadata.tier", "op": "eq", "value": "gold"}})).await;
        let gold_id = gold["id"].as_str().unwrap().to_owned();
        let (_, shoppers) = post(&app, &key, "/v1/segments", json!({"name": "Browsers", "type": "auto-update",
            "filter": {"event": "product_viewed", "op": "performed"}})).await;
        let shoppers_id = shoppers["id"].as_str().unwrap().to_owned();
        assert_eq!(members(&app, &key, &gold_id).await, vec!["ana", "cai"]);
        assert!(members(&app, &key, &shoppers_id).await.is_empty());

        // An upsert moves Cai out; a new customer comes in; an event brings Dee into the other.
        post(&app, &key, "/v1/customers", json!({"source_id": "cai", "metadata": {"tier": "silver"}})).await;
        post(&app, &key, "/v1/customers", json!({"source_id": "eve", "metadata": {"tier": "gold"}})).await;
        let (status, _) = post(&app, &key, "/v1/events", json!({"event": "product_viewed", "customer": {"source_id": "dee"}})).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(members(&app, &key, &gold_id).await, vec!["ana", "eve"]);
        assert_eq!(members(&app, &key, &shoppers_id).await, vec!["dee"]);

        let db = Database::connect(&app.database_url).await.unwrap();
        let row = |sql: String| {
            let db = db.clone();
            async move { db.query_one(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap() }
        };
        let cai = row(format!("SELECT m.entered_at, m.left_at FROM segment_members m JOIN customers c ON c.id = m.customer_id WHERE c.source_id = 'cai' AND m.segment_id = '{gold_id}'")).await;
        let left: Option<i64> = cai.try_get("", "left_at").unwrap();
        assert!(left.is_some(), "Cai's exit is recorded");

        // Cai comes back: the entry time moves forward and the exit is cleared.
        let before: i64 = cai.try_get("", "entered_at").unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        post(&app, &key, "/v1/customers", json!({"source_id": "cai", "metadata": {"tier": "gold"}})).await;
        let cai = row(format!("SELECT m.entered_at, m.left_at FROM segment_members m JOIN customers c ON c.id = m.customer_id WHERE c.source_id = 'cai' AND m.segment_id = '{gold_id}'")).await;
        assert!(cai.try_get::<Option<i64>>("", "left_at").unwrap().is_none());
        assert!(cai.try_get::<i64>("", "entered_at").unwrap() > before);

        // A CSV import re-checks membership for every row it writes.
        let csv = "source_id,metadata.tier\nana,bronze\nfay,gold\n";
        let res = app.new_client().post(app.url("/v1/customers/import")).bearer_auth(&key)
            .header("content-type", "text/csv").body(csv).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(members(&app, &key, &gold_id).await, vec!["cai", "eve", "fay"]);

        // Event windows: an event older than the window falls out when membership is re-checked.
        let (_, recent) = post(&app, &key, "/v1/segments", json!({"name": "Recent", "type": "auto-update",
            "filter": {"event": "product_viewed", "op": "performed", "within_days": 1}})).await;
        let recent_id = recent["id"].as_str().unwrap().to_owned();
        assert_eq!(members(&app, &key, &recent_id).await, vec!["dee"]);
        let three_days = 3 * 86_400_000i64;
        db.execute(Statement::from_string(db.get_database_backend(),
            format!("UPDATE events SET created_at = created_at - {three_days} WHERE name = 'product_viewed'"))).await.unwrap();
        let res = app.new_client().patch(app.url(&format!("/v1/segments/{recent_id}"))).bearer_auth(&key)
            .json(&json!({"name": "Recent views"})).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let seg: Value = res.json().await.unwrap();
        assert_eq!(seg["name"], "Recent views");
        assert_eq!(seg["customers_count"], 0);
        assert_eq!(members(&app, &key, &shoppers_id).await, vec!["dee"], "no window, still a member");

        // Deleting a customer removes their memberships.
        let dee = get(&app, &key, "/v1/customers/dee").await;
        let res = app.new_client().delete(app.url(&format!("/v1/customers/{}", dee["id"].as_str().unwrap()))).bearer_auth(&key).send().await.unwrap();
        assert_eq!(res.status(), 204);
        assert!(members(&app, &key, &shoppers_id).await.is_empty());
        db.close().await.ok();
    }
}

both_backends! {
    async fn static_segments_take_ids_or_source_ids_and_refuse_unknown_ones(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        seed(&app, &key).await;
        let ana = get(&app, &key, "/v1/customers/ana").await;
        let (status, body) = post(&app, &key, "/v1/segments", json!({"name": "VIPs", "type": "static",
            "customers": [ana["id"], "ben", "nobody", "ghost"]})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["fields"]["customers"], "2 unknown customers: \"nobody\", \"ghost\"");
        assert!(get(&app, &key, "/v1/segments").await["data"].as_array().unwrap().is_empty(), "nothing stored");

        let (status, seg) = post(&app, &key, "/v1/segments", json!({"name": "VIPs", "type": "static",
            "customers": [ana["id"], "ben", "ben"]})).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(seg["customers_count"], 2);
        assert_eq!(seg["description"], "picked by hand");
        let id = seg["id"].as_str().unwrap();
        let (status, added) = post(&app, &key, &format!("/v1/segments/{id}/customers"), json!({"customers": ["cai", "ana"]})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(added["entered"], 1);
        assert_eq!(members(&app, &key, id).await, vec!["ana", "ben", "cai"]);
        let res = app.new_client().delete(app.url(&format!("/v1/segments/{id}/customers/{}", ana["id"].as_str().unwrap())))
            .bearer_auth(&key).send().await.unwrap();
        assert_eq!(res.status(), 204);
        assert_eq!(members(&app, &key, id).await, vec!["ben", "cai"]);
        // Customer writes leave static segments alone.
        post(&app, &key, "/v1/customers", json!({"source_id": "ben", "name": "Benjamin"})).await;
        assert_eq!(members(&app, &key, id).await, vec!["ben", "cai"]);

        let (status, body) = post(&app, &key, "/v1/segments", json!({"name": "", "type": "dynamic"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body["error"]["fields"]["name"].is_string() && body["error"]["fields"]["type"].is_string());
        let (status, body) = post(&app, &key, "/v1/segments/count", json!({"filter": {"all": [{"field": "customer.metadata.tier", "op": "gt", "value": true}]}})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body["error"]["fields"]["filter"].as_str().unwrap().starts_with("filter.all[0].value: "));
        let res = app.new_client().get(app.url("/v1/segments/seg_missing")).bearer_auth(&key).send().await.unwrap();
        assert_eq!(res.status(), 404);
    }
}

both_backends! {
    async fn the_segment_list_pages_like_every_list(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        for name in ["One", "Two", "Three"] {
            let (status, body) = post(&app, &key, "/v1/segments", json!({"name": name, "type": "static", "customers": []})).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let ids = |page: &Value| -> Vec<String> {
            page["data"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect()
        };
        let whole = get(&app, &key, "/v1/segments").await;
        assert_eq!((ids(&whole).len(), whole["has_more"].as_bool()), (3, Some(false)));
        let first = get(&app, &key, "/v1/segments?limit=2").await;
        assert_eq!(first["has_more"], true);
        let mut paged = ids(&first);
        let rest = get(&app, &key, &format!("/v1/segments?limit=2&starting_after={}", paged[1])).await;
        assert_eq!(rest["has_more"], false);
        paged.extend(ids(&rest));
        assert_eq!(paged, ids(&whole));
        let res = app.new_client().get(app.url("/v1/segments?starting_after=seg_nope")).bearer_auth(&key).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}
