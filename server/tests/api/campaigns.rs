//! Campaigns, publication, redemption, QR images and promotion tiers.

use crate::both_backends;
use crate::helpers::{get_json as get, post_json as post, TestApp};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{json, Value};
use std::collections::HashSet;

async fn campaign(app: &TestApp, key: &str, pattern: &str, count: u64) -> Value {
    let (status, body) = post(app, key, "/v1/campaigns", json!({
        "name": "Summer", "type": "DISCOUNT_COUPONS", "vouchers_count": count,
        "voucher": {"discount": {"type": "PERCENT", "percent_off": 20}, "code_config": {"pattern": pattern}},
        "validity_after_publication_hours": 48
    })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn customer(app: &TestApp, key: &str, source_id: &str) -> String {
    let (status, body) = post(
        app,
        key,
        "/v1/customers",
        json!({"source_id": source_id, "name": source_id}),
    )
    .await;
    assert!(status.is_success(), "{body}");
    body["id"].as_str().unwrap().to_owned()
}

both_backends! {
    async fn campaigns_generate_unique_codes_of_their_pattern(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let c = campaign(&app, &key, "SUMMER-####", 500).await;
        assert_eq!(c["generation"]["status"], "ready");
        assert_eq!(c["counts"], json!({"total": 500, "published": 0, "redeemed": 0}));
        assert_eq!(c["code_shape"], "SUMMER-#### (10,000 possible)");
        let id = c["id"].as_str().unwrap();
        let mut codes = HashSet::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/v1/campaigns/{id}/vouchers?limit=200&starting_after={a}"),
                None => format!("/v1/campaigns/{id}/vouchers?limit=200"),
            };
            let page = get(&app, &key, &path).await;
            for v in page["data"].as_array().unwrap() {
                let code = v["code"].as_str().unwrap();
                assert!(code.len() == 11 && code.starts_with("SUMMER-") && code[7..].chars().all(|c| c.is_ascii_digit()), "{code}");
                assert_eq!(v["state"], "available");
                assert!(codes.insert(code.to_owned()), "{code} repeated");
            }
            if page["has_more"] != true { break; }
            after = page["next_starting_after"].as_str().map(str::to_owned);
        }
        assert_eq!(codes.len(), 500);

        // A second campaign of the same shape never reuses a code (a constraint, not a check).
        let other = campaign(&app, &key, "SUMMER-####", 1000).await;
        let db = Database::connect(&app.database_url).await.unwrap();
        let row = db.query_one(Statement::from_string(db.get_database_backend(),
            "SELECT COUNT(*) AS n, COUNT(DISTINCT code) AS d FROM vouchers")).await.unwrap().unwrap();
        assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1500);
        assert_eq!(row.try_get::<i64>("", "d").unwrap(), 1500);
        let dup = db.execute(Statement::from_string(db.get_database_backend(),
            format!("INSERT INTO vouchers (campaign_id, code) VALUES ('{}', '{}')", other["id"].as_str().unwrap(), codes.iter().next().unwrap()))).await;
        assert!(dup.is_err(), "the database refuses a duplicate code");

        // Too small a pattern is refused with the reason, and nothing is stored.
        let (status, body) = post(&app, &key, "/v1/campaigns", json!({"name": "Tiny", "vouchers_count": 60,
            "voucher": {"discount": {"type": "AMOUNT", "amount_off": 500}, "code_config": {"pattern": "X-##"}}})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body["error"]["fields"]["voucher.code_config"].as_str().unwrap().contains("100"), "{body}");
        let (status, body) = post(&app, &key, "/v1/campaigns", json!({"name": " ", "vouchers_count": 0,
            "voucher": {"discount": {"type": "PERCENT", "percent_off": 120}, "code_config": {"length": 8, "charset": "numbers"}},
            "expiration_date": "2001-01-01"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        for f in ["name", "vouchers_count", "voucher.discount.percent_off", "expiration_date"] {
            assert!(body["error"]["fields"][f].is_string(), "{f}: {body}");
        }
        assert_eq!(get(&app, &key, "/v1/campaigns").await["data"].as_array().unwrap().len(), 2);
        db.close().await.ok();
    }
}

both_backends! {
    async fn large_campaigns_generate_in_the_background_with_progress(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let (status, c) = post(&app, &key, "/v1/campaigns", json!({"name": "Big", "vouchers_count": 60000,
            "voucher": {"discount": {"type": "AMOUNT", "amount_off": 1000}, "code_config": {"length": 10, "charset": "alphanumeric", "prefix": "BIG-"}}})).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(c["generation"]["status"], "generating", "answered before generating: {c}");
        let id = c["id"].as_str().unwrap();
        let mut seen_progress = Vec::new();
        for _ in 0..600 {
            let now = get(&app, &key, &format!("/v1/campaigns/{id}")).await;
            seen_progress.push(now["generation"]["generated"].as_u64().unwrap());
            if now["generation"]["status"] == "ready" { break; }
            // The server keeps answering other requests meanwhile.
            assert_eq!(app.new_client().get(app.url("/healthz")).send().await.unwrap().status(), 200);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(*seen_progress.last().unwrap(), 60000, "{seen_progress:?}");
        assert!(seen_progress.windows(2).all(|w| w[0] <= w[1]));
        let v = get(&app, &key, &format!("/v1/campaigns/{id}/vouchers?limit=1")).await;
        let code = v["data"][0]["code"].as_str().unwrap();
        assert!(code.starts_with("BIG-") && code.len() == 14);
    }
}

both_backends! {
    async fn publication_is_idempotent_even_under_concurrency(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let c = campaign(&app, &key, "P-????##", 100).await;
        let id = c["id"].as_str().unwrap().to_owned();
        let ana = customer(&app, &key, "ana").await;

        let mut tasks = Vec::new();
        for _ in 0..50 {
            let client = app.new_client();
            let url = app.url("/v1/publications");
            let key = key.clone();
            let id = id.clone();
            tasks.push(tokio::spawn(async move {
                let res = client.post(url).bearer_auth(key).json(&json!({"campaign": id, "customer": "ana"})).send().await.unwrap();
                let status = res.status();
                let body: Value = res.json().await.unwrap();
                (status, body)
            }));
        }
        let mut codes = HashSet::new();
        let mut created = 0;
        for t in tasks {
            let (status, body) = t.await.unwrap();
            assert!(status == StatusCode::CREATED || status == StatusCode::OK, "{status}: {body}");
            if status == StatusCode::CREATED { created += 1; }
            codes.insert(body["voucher"]["code"].as_str().unwrap().to_owned());
            assert_eq!(body["voucher"]["customer"], ana.as_str());
        }
        assert_eq!(codes.len(), 1, "one customer, one code: {codes:?}");
        assert_eq!(created, 1);
        let after = get(&app, &key, &format!("/v1/campaigns/{id}")).await;
        assert_eq!(after["counts"]["published"], 1);
        let db = Database::connect(&app.database_url).await.unwrap();
        let row = db.query_one(Statement::from_string(db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM publications")).await.unwrap().unwrap();
        assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1, "the losers' claims rolled back");

        // By source id, the same code again; the voucher list shows the holder.
        let (status, again) = post(&app, &key, "/v1/publications", json!({"campaign": id, "customer": ana})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again["voucher"]["code"].as_str().unwrap(), codes.iter().next().unwrap());
        assert!(again["voucher"]["expiration_date"].is_string(), "48 hours after publication");
        let code = again["voucher"]["code"].as_str().unwrap();
        let found = get(&app, &key, &format!("/v1/campaigns/{id}/vouchers?q={code}")).await;
        assert_eq!(found["data"][0]["customer"], ana.as_str());
        assert_eq!(found["data"][0]["state"], "published");

        let (status, body) = post(&app, &key, "/v1/publications", json!({"campaign": id, "customer": "nobody"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, _) = post(&app, &key, "/v1/publications", json!({"campaign": "camp_missing", "customer": "ana"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        db.close().await.ok();
    }
}

both_backends! {
    async fn an_exhausted_pool_is_a_clear_conflict(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let c = campaign(&app, &key, "E-#####", 3).await;
        let id = c["id"].as_str().unwrap();
        for who in ["a", "b", "c"] {
            customer(&app, &key, who).await;
            let (status, _) = post(&app, &key, "/v1/publications", json!({"campaign": id, "customer": who})).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        customer(&app, &key, "d").await;
        let (status, body) = post(&app, &key, "/v1/publications", json!({"campaign": id, "customer": "d"})).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["error"]["message"], "All 3 codes of this campaign are published.");
        // Those who hold one still get theirs.
        let (status, _) = post(&app, &key, "/v1/publications", json!({"campaign": id, "customer": "b"})).await;
        assert_eq!(status, StatusCode::OK);
    }
}

both_backends! {
    async fn a_deleted_customers_code_stays_published(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let c = campaign(&app, &key, "K-#####", 1).await;
        let id = c["id"].as_str().unwrap();
        let ana = customer(&app, &key, "ana").await;
        let (status, published) = post(&app, &key, "/v1/publications", json!({"campaign": id, "customer": "ana"})).await;
        assert_eq!(status, StatusCode::CREATED, "{published}");
        let code = published["voucher"]["code"].as_str().unwrap().to_owned();
        let deleted = app.new_client().delete(app.url(&format!("/v1/customers/{ana}"))).bearer_auth(&key).send().await.unwrap();
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        // The code was sent once: it keeps its publication, without a holder, and is never
        // handed to anyone else.
        let found = get(&app, &key, &format!("/v1/campaigns/{id}/vouchers?q={code}")).await;
        assert_eq!(found["data"][0]["state"], "published", "{found}");
        assert!(found["data"][0]["customer"].is_null(), "{found}");
        customer(&app, &key, "ben").await;
        let (status, body) = post(&app, &key, "/v1/publications", json!({"campaign": id, "customer": "ben"})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        let db = Database::connect(&app.database_url).await.unwrap();
        let row = db.query_one(Statement::from_string(db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM publications WHERE customer_id IS NULL")).await.unwrap().unwrap();
        assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1);
        db.close().await.ok();
    }
}

both_backends! {
    async fn redemption_conflicts_are_refused_with_the_reason(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let c = campaign(&app, &key, "R-######", 10).await;
        let id = c["id"].as_str().unwrap();
        customer(&app, &key, "ana").await;
        customer(&app, &key, "ben").await;
        let (_, pa) = post(&app, &key, "/v1/publications", json!({"campaign": id, "customer": "ana"})).await;
        let (_, pb) = post(&app, &key, "/v1/publications", json!({"campaign": id, "customer": "ben"})).await;
        let code_a = pa["voucher"]["code"].as_str().unwrap();
        let code_b = pb["voucher"]["code"].as_str().unwrap();

        let (status, body) = post(&app, &key, "/v1/redemptions", json!({"code": code_a, "customer": "ben"})).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["error"]["message"], "This code belongs to another customer.");
        let (status, body) = post(&app, &key, "/v1/redemptions", json!({"code": code_a, "customer": "ana"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["result"], "SUCCESS");
        assert_eq!(body["voucher"]["state"], "redeemed");
        let (status, body) = post(&app, &key, "/v1/redemptions", json!({"code": code_a})).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(body["error"]["message"].as_str().unwrap().starts_with("This code was already redeemed"));

        // Concurrent redemptions of one code: exactly one wins.
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let client = app.new_client();
            let url = app.url("/v1/redemptions");
            let key = key.clone();
            let code = code_b.to_owned();
            tasks.push(tokio::spawn(async move {
                client.post(url).bearer_auth(key).json(&json!({"code": code})).send().await.unwrap().status()
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                StatusCode::OK => ok += 1,
                StatusCode::CONFLICT => {}
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(get(&app, &key, &format!("/v1/campaigns/{id}")).await["counts"]["redeemed"], 2);

        // Expired and never-published codes, and unknown ones.
        customer(&app, &key, "cai").await;
        let (_, pc) = post(&app, &key, "/v1/publications", json!({"campaign": id, "customer": "cai"})).await;
        let code_c = pc["voucher"]["code"].as_str().unwrap();
        let db = Database::connect(&app.database_url).await.unwrap();
        db.execute(Statement::from_string(db.get_database_backend(),
            format!("UPDATE publications SET expires_at = 1000 WHERE voucher_id = (SELECT id FROM vouchers WHERE code = '{code_c}')"))).await.unwrap();
        let (status, body) = post(&app, &key, "/v1/redemptions", json!({"code": code_c})).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(body["error"]["message"].as_str().unwrap().starts_with("This code expired"));
        let free = get(&app, &key, &format!("/v1/campaigns/{id}/vouchers?limit=50")).await["data"].as_array().unwrap()
            .iter().find(|v| v["state"] == "available").unwrap()["code"].as_str().unwrap().to_owned();
        let (status, _) = post(&app, &key, "/v1/redemptions", json!({"code": free})).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _) = post(&app, &key, "/v1/redemptions", json!({"code": "NOPE-0000"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        db.close().await.ok();
    }
}

both_backends! {
    async fn qr_images_need_the_exact_token_and_cache_well(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let c = campaign(&app, &key, "QR-####??", 5).await;
        customer(&app, &key, "ana").await;
        let (_, p) = post(&app, &key, "/v1/publications", json!({"campaign": c["id"], "customer": "ana"})).await;
        let url = p["voucher"]["assets"]["qr"]["url"].as_str().unwrap().to_owned();
        assert!(url.starts_with(&format!("{}/q/", app.address)), "{url}");
        let token = url.rsplit('/').next().unwrap().to_owned();
        assert_eq!(token.len(), 22);

        // No login needed: the token is the credential.
        let client = reqwest::Client::new();
        let png = client.get(&url).send().await.unwrap();
        assert_eq!(png.status(), 200);
        assert_eq!(png.headers()["content-type"], "image/png");
        assert!(png.headers()["cache-control"].to_str().unwrap().contains("immutable"));
        let etag = png.headers()["etag"].clone();
        let bytes = png.bytes().await.unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let again = client.get(&url).header("if-none-match", etag).send().await.unwrap();
        assert_eq!(again.status(), 304);
        let svg = client.get(format!("{url}?format=svg")).send().await.unwrap();
        assert_eq!(svg.headers()["content-type"], "image/svg+xml");
        assert!(svg.text().await.unwrap().contains("<svg"));

        // Forged, altered, malformed: one bare 404 that says nothing about codes.
        let mut altered = token.clone().into_bytes();
        altered[0] = if altered[0] == b'A' { b'B' } else { b'A' };
        for bad in [String::from_utf8(altered).unwrap(), "A".repeat(22), "short".into(), format!("{token}x"), "..%2F..%2Fetc".into()] {
            let res = client.get(app.url(&format!("/q/{bad}"))).send().await.unwrap();
            assert_eq!(res.status(), 404, "{bad}");
            assert_eq!(res.text().await.unwrap(), "Not found");
        }
        let res = client.get(format!("{url}?format=gif")).send().await.unwrap();
        assert_eq!(res.status(), 404);
    }
}

both_backends! {
    async fn promotion_tiers_are_created_and_listed(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let (status, tier) = post(&app, &key, "/v1/promotions/tiers", json!({"name": "Spend 50, save 10",
            "banner": "10.00 off orders over 50.00", "discount": {"type": "AMOUNT", "amount_off": 1000},
            "condition": {"cart_total_gte": 5000}})).await;
        assert_eq!(status, StatusCode::CREATED, "{tier}");
        assert!(tier["id"].as_str().unwrap().starts_with("promo_"));
        assert_eq!(tier["condition"]["cart_total_gte"], 5000);
        let list = get(&app, &key, "/v1/promotions/tiers").await;
        assert_eq!(list["data"][0]["name"], "Spend 50, save 10");
        let (status, body) = post(&app, &key, "/v1/promotions/tiers", json!({"name": "", "banner": "",
            "discount": {"type": "FREE"}, "condition": {"cart_total_gte": -1}})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        for f in ["name", "banner", "discount.type", "condition.cart_total_gte"] {
            assert!(body["error"]["fields"][f].is_string(), "{f}: {body}");
        }
    }
}

both_backends! {
    async fn idempotency_keys_replay_the_first_answer(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let c = campaign(&app, &key, "I-#####", 10).await;
        customer(&app, &key, "ana").await;
        let send = |path: &'static str, body: Value, idem: &'static str| {
            let client = app.new_client();
            let url = app.url(path);
            let key = key.clone();
            async move {
                let res = client.post(url).bearer_auth(key).header("Idempotency-Key", idem).json(&body).send().await.unwrap();
                let replayed = res.headers().get("idempotent-replayed").is_some();
                let status = res.status();
                (status, replayed, res.json::<Value>().await.unwrap())
            }
        };
        let body = json!({"campaign": c["id"], "customer": "ana"});
        let (s1, r1, first) = send("/v1/publications", body.clone(), "pub-1").await;
        let (s2, r2, second) = send("/v1/publications", body.clone(), "pub-1").await;
        assert_eq!((s1, r1), (StatusCode::CREATED, false));
        assert_eq!((s2, r2), (StatusCode::CREATED, true), "the first answer, replayed");
        assert_eq!(first, second);

        let code = first["voucher"]["code"].as_str().unwrap().to_owned();
        let redeem = json!({"code": code});
        let (s1, _, _) = send("/v1/redemptions", redeem.clone(), "red-1").await;
        let (s2, r2, again) = send("/v1/redemptions", redeem.clone(), "red-1").await;
        assert_eq!(s1, StatusCode::OK);
        assert_eq!((s2, r2), (StatusCode::OK, true), "a retried redemption is not a conflict: {again}");
        let (s3, _, _) = send("/v1/redemptions", redeem.clone(), "red-2").await;
        assert_eq!(s3, StatusCode::CONFLICT, "a new key is a new redemption");
        let (s4, r4, _) = send("/v1/redemptions", redeem.clone(), "red-2").await;
        assert_eq!((s4, r4), (StatusCode::CONFLICT, false), "a conflict is not kept: its retry runs again");

        let (status, _, body) = send("/v1/redemptions", json!({"code": "OTHER"}), "red-1").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body["error"]["fields"]["Idempotency-Key"].as_str().unwrap().contains("different request"));

        // Without a valid API key nothing is stored or replayed.
        let res = app.new_client().post(app.url("/v1/redemptions")).header("Idempotency-Key", "red-1")
            .json(&redeem).send().await.unwrap();
        assert_eq!(res.status(), 401);
    }
}

both_backends! {
    async fn codes_are_handed_out_in_no_telling_order(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let c = campaign(&app, &key, "O-??????", 2000).await;
        let mut codes = Vec::new();
        for i in 0..30 {
            let who = format!("o{i}");
            customer(&app, &key, &who).await;
            let (status, p) = post(&app, &key, "/v1/publications", json!({"campaign": c["id"], "customer": who})).await;
            assert_eq!(status, StatusCode::CREATED);
            codes.push(p["voucher"]["code"].as_str().unwrap().to_owned());
        }
        // Codes are stored in sorted runs; handing them out from the start would give them
        // away in order (a 1 in 30! chance of happening by luck).
        let mut sorted = codes.clone();
        sorted.sort();
        assert_ne!(codes, sorted, "published in code order: {codes:?}");
        let distinct: HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 30);
    }
}

both_backends! {
    async fn every_code_can_be_published_once_however_the_held_ones_lie(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        // Sixty codes handed out one at a time, each at a random free place: free codes are
        // found across runs of held ones longer than one window of the search.
        let c = campaign(&app, &key, "RUN-####", 60).await;
        let id = c["id"].as_str().unwrap();
        let mut codes = HashSet::new();
        for n in 0..60 {
            let who = customer(&app, &key, &format!("run-{n}")).await;
            let (status, body) = post(&app, &key, "/v1/publications", json!({"campaign": id, "customer": who})).await;
            assert_eq!(status, StatusCode::CREATED, "publication {n}: {body}");
            let code = body["voucher"]["code"].as_str().unwrap().to_owned();
            assert!(codes.insert(code.clone()), "{code} handed out twice");
        }
        let who = customer(&app, &key, "run-late").await;
        let (status, body) = post(&app, &key, "/v1/publications", json!({"campaign": id, "customer": who})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("All 60 codes"), "{body}");
    }
}

/// PostgreSQL: a code whose publication another transaction is writing (a SEND in progress)
/// is passed over at once; the publication does not wait for that transaction to end.
#[tokio::test]
async fn a_code_being_published_elsewhere_is_passed_over_postgres() {
    crate::helpers::run(crate::helpers::Backend::Postgres, |app| async move {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let c = campaign(&app, &key, "HOLD-####", 2).await;
        let id = c["id"].as_str().unwrap().to_owned();
        let ana = customer(&app, &key, "ana").await;
        let db = Database::connect(&app.database_url).await.unwrap();
        let backend = db.get_database_backend();
        let codes = db
            .query_all(Statement::from_string(backend, format!("SELECT id, code FROM vouchers WHERE campaign_id = '{id}' ORDER BY id")))
            .await
            .unwrap();
        let first: i64 = codes[0].try_get("", "id").unwrap();
        let second: String = codes[1].try_get("", "code").unwrap();
        // The first code's publication is written and left uncommitted.
        let pending = sea_orm::TransactionTrait::begin(&db).await.unwrap();
        pending
            .execute_unprepared(&format!(
                "INSERT INTO publications (voucher_id, campaign_id, customer_id, token, published_at) \
                 VALUES ({first}, '{id}', 'cus_elsewhere', 'token-elsewhere', 1)"
            ))
            .await
            .unwrap();
        let publishing = post(&app, &key, "/v1/publications", json!({"campaign": id, "customer": ana}));
        let (status, body) = tokio::time::timeout(std::time::Duration::from_secs(30), publishing)
            .await
            .expect("the publication answered while the other transaction was still open");
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["voucher"]["code"].as_str(), Some(second.as_str()));
        pending.rollback().await.unwrap();
    })
    .await;
}
