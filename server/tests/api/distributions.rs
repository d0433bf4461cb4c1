//! Manual distributions through the API: drafts, the review, SEND (idempotent, set-based,
//! with exclusions and one code per recipient), pool exhaustion, concurrent SENDs, and the
//! report's numbers and messages.

use crate::both_backends;
use crate::helpers::{eventually, get_json as get, post_json as post, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;

/// Customers: three who can get an SMS, one opted out, one without a phone, one sharing a
/// phone with an earlier one. A static segment of all six, a campaign of `codes` codes and a
/// sandbox integration.
async fn world(app: &TestApp, key: &str, admin: &str, codes: u64) -> (String, String, String) {
    let people = [
        ("ana", Some("+34612345001"), "opted_in", "Ana García"),
        ("ben", Some("+34612345002"), "unknown", "Ben Ode"),
        ("cy", Some("+34612345003"), "opted_in", "Cy Twombly"),
        ("dee", Some("+34612345004"), "opted_out", "Dee Out"),
        ("eve", None, "opted_in", "Eve Nophone"),
        ("fay", Some("+34612345001"), "opted_in", "Fay Shared"),
    ];
    let mut ids = Vec::new();
    for (source, phone, consent, name) in people {
        let (status, c) = post(
            app,
            key,
            "/v1/customers",
            json!({"source_id": source, "name": name, "phone": phone, "sms_consent": consent}),
        )
        .await;
        assert!(status.is_success(), "{c}");
        ids.push(c["id"].as_str().unwrap().to_owned());
    }
    let (_, segment) = post(
        app,
        key,
        "/v1/segments",
        json!({"name": "Everyone", "type": "static", "customers": ids}),
    )
    .await;
    let (status, campaign) = post(app, key, "/v1/campaigns", json!({"name": "Summer", "vouchers_count": codes,
        "voucher": {"discount": {"type": "PERCENT", "percent_off": 20}, "code_config": {"pattern": "SUMMER-#####"}}})).await;
    assert_eq!(status, StatusCode::CREATED, "{campaign}");
    let (status, integration) = post(
        app,
        admin,
        "/v1/integrations/sms",
        json!({"name": "Sandbox", "provider": "sandbox", "max_segments_per_second": 100}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{integration}");
    (
        segment["id"].as_str().unwrap().to_owned(),
        campaign["id"].as_str().unwrap().to_owned(),
        integration["id"].as_str().unwrap().to_owned(),
    )
}

async fn send(app: &TestApp, key: &str, id: &str, idem: &str) -> (StatusCode, Value) {
    let res = app
        .new_client()
        .post(app.url(&format!("/v1/distributions/{id}/send")))
        .bearer_auth(key)
        .header("Idempotency-Key", idem)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

both_backends! {
    async fn a_segment_gets_one_message_and_one_code_each(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let key = app.api_key("marketer").await;
        let (segment, campaign, integration) = world(&app, &key, &admin, 10).await;

        // A draft with problems says what is missing, by step.
        let (status, draft) = post(&app, &key, "/v1/distributions", json!({"name": "Summer blast", "purpose": "unique_codes"})).await;
        assert_eq!(status, StatusCode::CREATED, "{draft}");
        assert_eq!(draft["status"], "draft");
        assert_eq!(draft["stats"]["queued"], 0, "a draft's stats are zero, not null: {draft}");
        assert_eq!(draft["stats"]["skipped"]["opted_out"], 0);
        assert_eq!(draft["integration"], integration.as_str(), "the default integration is preselected");
        let id = draft["id"].as_str().unwrap().to_owned();
        let review = get(&app, &key, &format!("/v1/distributions/{id}/review")).await;
        let steps: Vec<&str> = review["problems"].as_array().unwrap().iter().map(|p| p[0].as_str().unwrap()).collect();
        assert!(steps.contains(&"purpose") && steps.contains(&"audience") && steps.contains(&"message"), "{review}");

        // Bad fields are refused one by one, keeping what was valid.
        let res = app.new_client().patch(app.url(&format!("/v1/distributions/{id}"))).bearer_auth(&key)
            .json(&json!({"template": "Hi {{ customer.nickname }}", "mode": "automatic", "subject": "Summer"})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = res.json().await.unwrap();
        assert!(body["error"]["fields"]["template"].as_str().unwrap().contains("customer.nickname"), "{body}");
        assert!(body["error"]["fields"]["mode"].is_string());
        // A trigger is refused out loud rather than dropped.
        let res = app.new_client().patch(app.url(&format!("/v1/distributions/{id}"))).bearer_auth(&key)
            .json(&json!({"trigger": {"type": "custom_event", "event": "cart_abandoned"}})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = res.json().await.unwrap();
        assert!(body["error"]["fields"]["trigger"].is_string(), "{body}");
        // Errors name the fields as the request does.
        let res = app.new_client().patch(app.url(&format!("/v1/distributions/{id}"))).bearer_auth(&key)
            .json(&json!({"campaign": "cmp_missing", "integration": "int_missing"})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = res.json().await.unwrap();
        assert!(body["error"]["fields"]["campaign"].is_string() && body["error"]["fields"]["integration"].is_string(), "{body}");

        let res = app.new_client().patch(app.url(&format!("/v1/distributions/{id}"))).bearer_auth(&key)
            .json(&json!({"campaign": campaign, "audience": {"segment": segment}, "subject": "Summer",
                "template": "Hi {{ customer.first_name | default: \"there\" }}, {{ voucher.code }} gets you {{ voucher.discount }} off. {{ unsubscribe_text }}"}))
            .send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);

        let review = get(&app, &key, &format!("/v1/distributions/{id}/review")).await;
        assert_eq!(review["problems"], json!([]), "{review}");
        assert_eq!(review["audience"], 6);
        assert_eq!(review["recipients"], 3);
        assert_eq!(review["exclusions"], json!({"opted_out": 1, "no_phone": 1, "invalid_phone": 0, "duplicate": 1}));
        assert_eq!((review["codes_needed"].as_u64(), review["codes_available"].as_u64()), (Some(3), Some(10)));
        assert_eq!(review["samples"].as_array().unwrap().len(), 3);
        for sample in review["samples"].as_array().unwrap() {
            let text = sample["text"].as_str().unwrap();
            assert!(["Hi Ana, SUMMER-", "Hi Ben, SUMMER-", "Hi Cy, SUMMER-"].iter().any(|p| text.starts_with(p)), "{review}");
        }
        assert_eq!(review["segments_total"], 3);
        assert_eq!(review["segments_estimated"], false);

        // A malformed key is refused before anything is sent.
        let (status, bad) = send(&app, &key, &id, &"k".repeat(200)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(bad["error"]["fields"]["Idempotency-Key"].is_string(), "{bad}");

        // SEND, twice with the same key (a double click): one send.
        let (status, outcome) = send(&app, &key, &id, "key-1").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{outcome}");
        assert_eq!(outcome["queued"], 3);
        assert_eq!(outcome["codes_published"], 3);
        assert_eq!(outcome["replayed"], false);
        let (status, again) = send(&app, &key, &id, "key-1").await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(again["replayed"], true);
        assert_eq!(again["queued"], 3);
        let (status, other) = send(&app, &key, &id, "key-2").await;
        assert_eq!(status, StatusCode::CONFLICT, "{other}");

        // The sandbox gets them all; the distribution completes.
        eventually(30, "the distribution is sent", || async {
            get(&app, &key, &format!("/v1/distributions/{id}")).await["status"] == "sent"
        }).await;
        let d = get(&app, &key, &format!("/v1/distributions/{id}")).await;
        assert_eq!(d["stats"]["audience"], 6);
        assert_eq!(d["stats"]["sent"], 3);
        assert_eq!(d["stats"]["queued"], 0);
        assert_eq!(d["stats"]["skipped"]["opted_out"], 1);
        assert_eq!(d["stats"]["segments_total"], 3);

        // Each recipient got exactly one message with their own name and a distinct code.
        let messages = get(&app, &key, &format!("/v1/distributions/{id}/messages?limit=100")).await;
        let rows = messages["data"].as_array().unwrap();
        assert_eq!(rows.len(), 6);
        assert!(rows.iter().all(|r| r["customer"].as_str().is_some_and(|c| c.starts_with("cust_")) && r["customer"] == r["customer_id"]), "{messages}");
        // Paging and filters out of range are field errors, not a quietly different page.
        for bad in ["limit=0", "limit=501", "status=sending"] {
            let res = app.new_client().get(app.url(&format!("/v1/distributions/{id}/messages?{bad}"))).bearer_auth(&key).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
            let body: Value = res.json().await.unwrap();
            let field = bad.split('=').next().unwrap();
            assert!(body["error"]["fields"][field].is_string(), "{bad}: {body}");
        }
        let res = app.new_client().get(app.url(&format!("/v1/distributions/{id}/messages.csv?status=sending"))).bearer_auth(&key).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "the CSV takes the same filters");
        let queued = get(&app, &key, &format!("/v1/distributions/{id}/messages?status=queued")).await;
        assert_eq!(queued["data"], json!([]));
        // Pages of the log follow message ids (msg_…).
        let first = get(&app, &key, &format!("/v1/distributions/{id}/messages?limit=4")).await;
        assert_eq!(first["has_more"], true);
        let last = first["data"][3]["id"].as_str().unwrap();
        assert!(last.starts_with("msg_"), "{first}");
        let rest = get(&app, &key, &format!("/v1/distributions/{id}/messages?limit=4&starting_after={last}")).await;
        assert_eq!((rest["data"].as_array().unwrap().len(), rest["has_more"].as_bool()), (2, Some(false)), "{rest}");
        assert_eq!(rest["data"][1]["id"], rows[5]["id"]);
        let res = app.new_client().get(app.url(&format!("/v1/distributions/{id}/messages?starting_after=abc"))).bearer_auth(&key).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let sent: Vec<&Value> = rows.iter().filter(|m| m["status"] == "accepted").collect();
        assert_eq!(sent.len(), 3);
        let mut codes = HashSet::new();
        for m in &sent {
            let text = m["text"].as_str().unwrap();
            let first = m["customer_name"].as_str().unwrap().split(' ').next().unwrap();
            assert!(text.starts_with(&format!("Hi {first}, SUMMER-")), "{text}");
            assert!(text.contains("20% off"));
            codes.insert(text.split_whitespace().nth(2).unwrap().to_owned());
            assert!(m["to"].as_str().unwrap().contains('…'), "masked");
        }
        assert_eq!(codes.len(), 3, "distinct codes");
        let campaign_now = get(&app, &key, &format!("/v1/campaigns/{campaign}")).await;
        assert_eq!(campaign_now["counts"]["published"], 3, "{campaign_now}");

        // Failures and skips grouped by reason; search; CSV export.
        let failures = get(&app, &key, &format!("/v1/distributions/{id}/failures")).await;
        let reasons: HashSet<String> = failures["data"].as_array().unwrap().iter().map(|f| f["message"].as_str().unwrap().to_owned()).collect();
        assert!(reasons.contains("Opted out of SMS") && reasons.contains("No phone number") && reasons.contains("Phone number shared with another recipient"), "{failures}");
        let found = get(&app, &key, &format!("/v1/distributions/{id}/messages?q=twombly")).await;
        assert_eq!(found["data"].as_array().unwrap().len(), 1);
        let csv = app.new_client().get(app.url(&format!("/v1/distributions/{id}/messages.csv"))).bearer_auth(&key).send().await.unwrap();
        assert_eq!(csv.status(), StatusCode::OK);
        let text = csv.text().await.unwrap();
        assert_eq!(text.lines().count(), 7, "{text}");
        assert!(text.lines().next().unwrap().starts_with("id,customer_id,customer_name,to,status"));
        // The export narrows to the log's search and status filter.
        let csv = app.new_client().get(app.url(&format!("/v1/distributions/{id}/messages.csv?q=twombly"))).bearer_auth(&key).send().await.unwrap();
        let text = csv.text().await.unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.to_lowercase().contains("twombly"), "{text}");
        // Its id is the one the JSON log gives.
        let json_id = found["data"][0]["id"].as_str().unwrap();
        assert!(json_id.starts_with("msg_") && text.lines().nth(1).unwrap().starts_with(&format!("{json_id},")), "{text}");
        let csv = app.new_client().get(app.url(&format!("/v1/distributions/{id}/messages.csv?status=skipped"))).bearer_auth(&key).send().await.unwrap();
        let text = csv.text().await.unwrap();
        assert!(text.lines().count() == 4 && text.lines().skip(1).all(|l| l.contains(",skipped,")), "{text}");

        // A sent distribution no longer changes; a duplicate is a new draft that resends the
        // same codes to those who hold one.
        let res = app.new_client().patch(app.url(&format!("/v1/distributions/{id}"))).bearer_auth(&key).json(&json!({"name": "x"})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CONFLICT);
        let (status, copy) = post(&app, &key, &format!("/v1/distributions/{id}/duplicate"), json!({})).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(copy["status"], "draft");
        let copy_id = copy["id"].as_str().unwrap();
        let review = get(&app, &key, &format!("/v1/distributions/{copy_id}/review")).await;
        assert_eq!(review["codes_needed"], 0, "they hold their codes already: {review}");
        let (status, outcome) = send(&app, &key, copy_id, "copy").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{outcome}");
        assert_eq!(outcome["codes_published"], 0);
        let copy_messages = get(&app, &key, &format!("/v1/distributions/{copy_id}/messages?status=queued&limit=100")).await;
        let again: HashSet<String> = copy_messages["data"].as_array().unwrap().iter()
            .map(|m| m["text"].as_str().unwrap().split_whitespace().nth(2).unwrap().to_owned()).collect();
        assert!(again.is_empty() || again == codes, "the same codes again");
    }
}

/// A refused SEND left the distribution a draft without messages.
async fn assert_nothing_sent(app: &TestApp, key: &str, id: &str) {
    let d = get(app, key, &format!("/v1/distributions/{id}")).await;
    assert_eq!(d["status"], "draft", "nothing happened");
    let messages = get(app, key, &format!("/v1/distributions/{id}/messages")).await;
    assert_eq!(messages["data"].as_array().unwrap().len(), 0, "{messages}");
}

both_backends! {
    async fn a_pool_too_small_stops_before_anything_is_sent(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let key = app.api_key("marketer").await;
        let (segment, campaign, _) = world(&app, &key, &admin, 2).await;
        let (_, d) = post(&app, &key, "/v1/distributions", json!({"name": "Too many", "purpose": "unique_codes", "campaign": campaign,
            "audience": {"segment": segment}, "template": "Your code: {{ voucher.code }}"})).await;
        let id = d["id"].as_str().unwrap();
        let review = get(&app, &key, &format!("/v1/distributions/{id}/review")).await;
        assert!(review["problems"][0][1].as_str().unwrap().contains("2 codes left and this audience needs 3"), "{review}");
        let (status, body) = send(&app, &key, id, "k").await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("2 codes left and this audience needs 3"), "{body}");
        assert_nothing_sent(&app, &key, id).await;
        let c = get(&app, &key, &format!("/v1/campaigns/{campaign}")).await;
        assert_eq!(c["counts"]["published"], 0, "{c}");
    }
}

both_backends! {
    async fn concurrent_sends_of_one_draft_send_once(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let key = app.api_key("marketer").await;
        let (segment, _, _) = world(&app, &key, &admin, 10).await;
        let (_, d) = post(&app, &key, "/v1/distributions", json!({"name": "Plain", "purpose": "plain",
            "audience": {"segment": segment}, "template": "Hello {{ customer.first_name }}!"})).await;
        let id = d["id"].as_str().unwrap().to_owned();
        let app = std::sync::Arc::new(app);
        let mut tasks = Vec::new();
        for i in 0..6 {
            let (app, key, id) = (app.clone(), key.clone(), id.clone());
            tasks.push(tokio::spawn(async move { send(&app, &key, &id, &format!("tab-{i}")).await }));
        }
        let mut accepted = 0;
        for t in tasks {
            let (status, body) = t.await.unwrap();
            match status {
                StatusCode::ACCEPTED => { accepted += 1; assert_eq!(body["replayed"], false); }
                StatusCode::CONFLICT => {}
                other => panic!("{other}: {body}"),
            }
        }
        assert_eq!(accepted, 1, "exactly one SEND");
        let messages = get(&app, &key, &format!("/v1/distributions/{id}/messages?limit=100")).await;
        assert_eq!(messages["data"].as_array().unwrap().len(), 6, "one snapshot of six");
    }
}

/// A new customer outside the segment, and a code of the campaign published to them.
async fn walk_in(app: &TestApp, key: &str, campaign: &str, n: usize) -> (StatusCode, Value) {
    let source = format!("walk-in-{n}");
    let (status, c) = post(
        app,
        key,
        "/v1/customers",
        json!({"source_id": source, "name": source}),
    )
    .await;
    assert!(status.is_success(), "{c}");
    post(
        app,
        key,
        "/v1/publications",
        json!({"campaign": campaign, "customer": source}),
    )
    .await
}

both_backends! {
    async fn sends_and_single_publications_never_share_a_code(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let key = app.api_key("marketer").await;
        let (segment, campaign, _) = world(&app, &key, &admin, 10).await;
        // Three codes go out one by one (at random places among the ten) before the SEND.
        let mut codes = HashSet::new();
        for n in 0..3 {
            let (status, p) = walk_in(&app, &key, &campaign, n).await;
            assert_eq!(status, StatusCode::CREATED, "{p}");
            codes.insert(p["voucher"]["code"].as_str().unwrap().to_owned());
        }
        let (_, d) = post(&app, &key, "/v1/distributions", json!({"name": "Codes", "purpose": "unique_codes", "campaign": campaign,
            "audience": {"segment": segment}, "template": "Code {{ voucher.code }}"})).await;
        let id = d["id"].as_str().unwrap();
        let review = get(&app, &key, &format!("/v1/distributions/{id}/review")).await;
        assert_eq!((review["codes_needed"].as_u64(), review["codes_available"].as_u64()), (Some(3), Some(7)), "{review}");
        let (status, outcome) = send(&app, &key, id, "k").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{outcome}");
        let messages = get(&app, &key, &format!("/v1/distributions/{id}/messages?limit=100")).await;
        for m in messages["data"].as_array().unwrap().iter().filter(|m| m["status"] != "skipped") {
            let code = m["text"].as_str().unwrap().trim_start_matches("Code ").to_owned();
            assert!(codes.insert(code.clone()), "the SEND handed out {code} a second time");
        }
        assert_eq!(codes.len(), 6);
        // The four codes left go one by one, each once; then the pool is empty.
        for n in 3..7 {
            let (status, p) = walk_in(&app, &key, &campaign, n).await;
            assert_eq!(status, StatusCode::CREATED, "{p}");
            let code = p["voucher"]["code"].as_str().unwrap().to_owned();
            assert!(codes.insert(code.clone()), "{code} was handed out before");
        }
        let (status, p) = walk_in(&app, &key, &campaign, 7).await;
        assert_eq!(status, StatusCode::CONFLICT, "{p}");
        assert!(p["error"]["message"].as_str().unwrap().contains("All 10 codes"), "{p}");
        let c = get(&app, &key, &format!("/v1/campaigns/{campaign}")).await;
        assert_eq!(c["counts"]["published"], 10, "{c}");
    }
}

/// PostgreSQL: a SEND whose codes another transaction is still publishing (another SEND of
/// the campaign) stops at once with a conflict and writes nothing, instead of waiting for it.
#[tokio::test]
async fn a_send_does_not_wait_for_another_send_of_its_campaign_postgres() {
    crate::helpers::run(crate::helpers::Backend::Postgres, |app| async move {
        use sea_orm::{ConnectionTrait, Database, Statement, TransactionTrait};
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let key = app.api_key("marketer").await;
        let (segment, campaign, _) = world(&app, &key, &admin, 10).await;
        let (_, d) = post(&app, &key, "/v1/distributions", json!({"name": "Codes", "purpose": "unique_codes", "campaign": campaign,
            "audience": {"segment": segment}, "template": "Code {{ voucher.code }}"})).await;
        let id = d["id"].as_str().unwrap().to_owned();
        let db = Database::connect(&app.database_url).await.unwrap();
        let lowest: i64 = db
            .query_one(Statement::from_string(db.get_database_backend(), format!("SELECT MIN(id) AS id FROM vouchers WHERE campaign_id = '{campaign}'")))
            .await.unwrap().unwrap().try_get("", "id").unwrap();
        let other = db.begin().await.unwrap();
        other.execute_unprepared(&format!(
            "INSERT INTO publications (voucher_id, campaign_id, customer_id, token, published_at) VALUES ({lowest}, '{campaign}', 'cus_other', 'token-other', 1)"
        )).await.unwrap();
        let (status, body) = tokio::time::timeout(std::time::Duration::from_secs(30), send(&app, &key, &id, "k1"))
            .await
            .expect("the SEND answered while the other transaction was still open");
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("nothing was sent"), "{body}");
        assert_eq!(get(&app, &key, &format!("/v1/distributions/{id}")).await["status"], "draft");
        other.rollback().await.unwrap();
        let (status, outcome) = send(&app, &key, &id, "k2").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{outcome}");
        assert_eq!(outcome["codes_published"], 3);
    })
    .await;
}

both_backends! {
    async fn a_segment_of_several_pages_gets_one_message_and_one_code_each(app: TestApp) {
        use sea_orm::{ConnectionTrait, Database, Statement};
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let key = app.api_key("marketer").await;
        // 2,500 members (the SEND reads 1,000 at a time). m1500 shares m0003's phone (a
        // duplicate found across pages) and m2000 has none.
        let mut csv = String::from("source_id,name,phone\n");
        for i in 0..2500 {
            let phone = match i {
                1500 => "+34610000003".to_owned(),
                2000 => String::new(),
                _ => format!("+3461{i:07}"),
            };
            csv.push_str(&format!("m{i:04},Member {i},{phone}\n"));
        }
        let res = app.new_client().post(app.url("/v1/customers/import")).bearer_auth(&key)
            .header("content-type", "text/csv").body(csv).send().await.unwrap();
        let imported: Value = res.json().await.unwrap();
        assert_eq!(imported["created"], 2500, "{imported}");
        let members: Vec<String> = (0..2500).map(|i| format!("m{i:04}")).collect();
        let (status, segment) = post(&app, &key, "/v1/segments", json!({"name": "Many", "type": "static", "customers": members})).await;
        assert_eq!(status, StatusCode::CREATED, "{segment}");
        // A pool of exactly what is needed: 2,498 recipients, one of whom holds a code already.
        let (status, campaign) = post(&app, &key, "/v1/campaigns", json!({"name": "Exact", "vouchers_count": 2498,
            "voucher": {"discount": {"type": "PERCENT", "percent_off": 10}, "code_config": {"pattern": "EX-########"}}})).await;
        assert_eq!(status, StatusCode::CREATED, "{campaign}");
        let campaign = campaign["id"].as_str().unwrap().to_owned();
        let (status, held) = post(&app, &key, "/v1/publications", json!({"campaign": campaign, "customer": "m1200"})).await;
        assert_eq!(status, StatusCode::CREATED, "{held}");
        let held = held["voucher"]["code"].as_str().unwrap().to_owned();
        let (status, _) = post(&app, &admin, "/v1/integrations/sms", json!({"name": "Sandbox", "provider": "sandbox", "max_segments_per_second": 1000})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, d) = post(&app, &key, "/v1/distributions", json!({"name": "Pages", "purpose": "unique_codes", "campaign": campaign,
            "audience": {"segment": segment["id"]}, "template": "{{ customer.name }}: {{ voucher.code }}"})).await;
        let id = d["id"].as_str().unwrap().to_owned();

        let (status, outcome) = send(&app, &key, &id, "k").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{outcome}");
        assert_eq!(outcome["audience"], 2500, "{outcome}");
        assert_eq!(outcome["queued"], 2498, "{outcome}");
        assert_eq!(outcome["codes_published"], 2497, "{outcome}");
        assert_eq!(outcome["exclusions"], json!({"opted_out": 0, "no_phone": 1, "invalid_phone": 0, "duplicate": 1}), "{outcome}");

        let db = Database::connect(&app.database_url).await.unwrap();
        let rows = db.query_all(Statement::from_string(db.get_database_backend(), format!(
            "SELECT c.source_id AS source, d.body AS body, d.skip_reason AS skip FROM deliveries d JOIN customers c ON c.id = d.customer_id WHERE d.distribution_id = '{id}'"
        ))).await.unwrap();
        assert_eq!(rows.len(), 2500, "one row per member");
        let mut codes = HashSet::new();
        let mut sources = HashSet::new();
        let mut sharing = Vec::new();
        for r in &rows {
            let source: String = r.try_get("", "source").unwrap();
            let body: String = r.try_get("", "body").unwrap();
            let skip: Option<String> = r.try_get("", "skip").unwrap();
            assert!(sources.insert(source.clone()), "{source} twice");
            if source == "m0003" || source == "m1500" {
                sharing.push(skip.clone());
            }
            match skip.as_deref() {
                None => {
                    let n: usize = source[1..].parse().unwrap();
                    let (name, code) = body.split_once(": ").unwrap();
                    assert_eq!(name, format!("Member {n}"), "own name");
                    assert!(codes.insert(code.to_owned()), "{code} twice");
                    if source == "m1200" {
                        assert_eq!(code, held, "the code m1200 held");
                    }
                }
                Some("no_phone") => assert_eq!(source, "m2000"),
                Some(other) => assert!(other == "duplicate" && (source == "m0003" || source == "m1500"), "{source}: {other}"),
            }
        }
        sharing.sort();
        assert_eq!(sharing, vec![None, Some("duplicate".to_owned())], "one of the two members sharing a phone is left out");
        assert_eq!(codes.len(), 2498);
        let c = get(&app, &key, &format!("/v1/campaigns/{campaign}")).await;
        assert_eq!(c["counts"]["published"], 2498, "{c}");
    }
}

both_backends! {
    async fn an_audience_no_one_in_can_get_an_sms_sends_nothing(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let key = app.api_key("marketer").await;
        let mut ids = Vec::new();
        for (source, phone, consent) in [("out", Some("+34612345004"), "opted_out"), ("none", None, "opted_in")] {
            let (status, c) = post(&app, &key, "/v1/customers", json!({"source_id": source, "name": source, "phone": phone, "sms_consent": consent})).await;
            assert!(status.is_success(), "{c}");
            ids.push(c["id"].as_str().unwrap().to_owned());
        }
        let (_, segment) = post(&app, &key, "/v1/segments", json!({"name": "Unreachable", "type": "static", "customers": ids})).await;
        let (status, _) = post(&app, &admin, "/v1/integrations/sms", json!({"name": "Sandbox", "provider": "sandbox"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, d) = post(&app, &key, "/v1/distributions", json!({"name": "Nobody", "purpose": "plain",
            "audience": {"segment": segment["id"]}, "template": "Hello"})).await;
        let id = d["id"].as_str().unwrap();
        let (status, body) = send(&app, &key, id, "k").await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("No one in this audience can get an SMS (2 in it)"), "{body}");
        assert_nothing_sent(&app, &key, id).await;
    }
}

both_backends! {
    async fn the_list_pages_newest_first_each_once(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let mut ids = HashSet::new();
        for i in 0..3 {
            let (status, d) = post(&app, &key, "/v1/distributions", json!({"name": format!("Draft {i}"), "purpose": "plain"})).await;
            assert_eq!(status, StatusCode::CREATED, "{d}");
            let id = d["id"].as_str().unwrap().to_owned();
            assert!(id.starts_with("dist_"), "{id}");
            ids.insert(id);
        }
        let ids_of = |page: &Value| -> Vec<String> {
            page["data"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()
        };
        let whole = get(&app, &key, "/v1/distributions?limit=10").await;
        assert_eq!(whole["has_more"], false);
        let first = get(&app, &key, "/v1/distributions?limit=2").await;
        assert_eq!(first["has_more"], true);
        let mut paged = ids_of(&first);
        let after = paged[1].clone();
        let second = get(&app, &key, &format!("/v1/distributions?limit=2&starting_after={after}")).await;
        assert_eq!(second["has_more"], false);
        paged.extend(ids_of(&second));
        assert_eq!(paged, ids_of(&whole), "the pages make up the list, in its order");
        assert_eq!(paged.iter().cloned().collect::<HashSet<_>>(), ids);
        for bad in ["limit=0", "limit=501", "starting_after=dist_nope", "status=finished"] {
            let res = app.new_client().get(app.url(&format!("/v1/distributions?{bad}"))).bearer_auth(&key).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        }
        // A list does not count redemptions (that reads every message): it says so with null.
        assert!(whole["data"].as_array().unwrap().iter().all(|d| d["stats"]["redeemed"].is_null() && d["stats"]["queued"].is_u64()), "{whole}");
    }
}
