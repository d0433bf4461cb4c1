//! The delivery queue end to end through the real engine: test sends, status callbacks that
//! only move forward, rate limits and outages retried until everything is accepted, consent
//! re-checked at send time, and two instances sharing one queue.

use crate::both_backends;
use crate::helpers::{eventually, get_json as get, post_json as post, second_instance, TestApp};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::json;
use server::{
    ids::now_millis,
    providers::signatures::twilio_signature,
    services::deliveries::{self, NewDelivery},
};
use std::collections::HashMap;
use wiremock::{matchers::method, Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "twilio-auth-token-1234";

async fn twilio_integration(app: &TestApp, admin: &str, fake: &MockServer, rate: u32) -> String {
    let (status, body) = post(
        app,
        admin,
        "/v1/integrations/sms",
        json!({"name": "Fake Twilio", "provider": "twilio",
        "sender": "+15017122661", "base_url": fake.uri(), "max_segments_per_second": rate,
        "credentials": {"account_sid": "AC123", "auth_token": TOKEN}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

fn accepted_json() -> ResponseTemplate {
    ResponseTemplate::new(201)
        .set_body_json(json!({"sid": "SMfake", "status": "queued", "num_segments": "1"}))
}

/// Posts a status callback as Twilio would, signed unless `sign` is false.
async fn callback(app: &TestApp, url: &str, fields: &[(&str, &str)], sign: bool) -> StatusCode {
    let params: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut req = app.new_client().post(url).form(&params);
    if sign {
        req = req.header("X-Twilio-Signature", twilio_signature(TOKEN, url, &params));
    }
    req.send().await.unwrap().status()
}

async fn queue(
    db: &DatabaseConnection,
    integration: &str,
    customers: &[Option<String>],
) -> Vec<i64> {
    let items: Vec<NewDelivery> = customers
        .iter()
        .enumerate()
        .map(|(i, c)| NewDelivery {
            kind: "distribution",
            distribution_id: Some("dst_test".into()),
            customer_id: c.clone(),
            occurrence: format!("{i}"),
            integration_id: integration.to_owned(),
            priority: deliveries::PRIORITY_BULK,
            recipient: format!("+1415555{:04}", i),
            body: format!("Message {i}"),
            send_after: now_millis(),
        })
        .collect();
    deliveries::enqueue(db, &items)
        .await
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect()
}

async fn statuses(db: &DatabaseConnection) -> HashMap<String, i64> {
    db.query_all(Statement::from_string(
        db.get_database_backend(),
        "SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status",
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.try_get("", "status").unwrap(),
            r.try_get("", "n").unwrap(),
        )
    })
    .collect()
}

/// The status callback addresses the fake was given, in order.
async fn callback_urls(fake: &MockServer) -> Vec<String> {
    fake.received_requests()
        .await
        .unwrap()
        .iter()
        .filter_map(|r| {
            url::form_urlencoded::parse(&r.body)
                .find(|(k, _)| k == "StatusCallback")
                .map(|(_, v)| v.into_owned())
        })
        .collect()
}

/// The delivery ids the fake received, from each request's status callback URL (`?d=42.<tag>`).
async fn requested_ids(fake: &MockServer) -> Vec<i64> {
    callback_urls(fake)
        .await
        .iter()
        .filter_map(|url| url.split("?d=").nth(1)?.split('.').next()?.parse().ok())
        .collect()
}

both_backends! {
    async fn test_sends_are_queued_and_status_callbacks_only_move_them_forward(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let fake = MockServer::start().await;
        Mock::given(method("POST")).respond_with(accepted_json()).mount(&fake).await;
        let id = twilio_integration(&app, &admin, &fake, 10).await;

        let (status, sent) = post(&app, &admin, &format!("/v1/integrations/sms/{id}/test"), json!({"to": "+14155550123", "body": "Hello"})).await;
        assert_eq!(status, StatusCode::OK, "{sent}");
        assert_eq!(sent["accepted"], true, "{sent}");
        assert_eq!(sent["status"], "accepted");
        assert_eq!(sent["http_status"], 201);
        assert!(sent["raw"].as_str().unwrap().contains("SMfake"), "a test send shows the provider's answer: {sent}");
        let delivery = sent["message_id"].as_str().unwrap().strip_prefix("msg_").unwrap().parse::<i64>().unwrap();
        // Twilio was told where to report, with our delivery id.
        assert_eq!(requested_ids(&fake).await, vec![delivery]);

        let url = callback_urls(&fake).await.remove(0);
        assert!(url.starts_with(&app.url(&format!("/webhooks/sms/{id}/status?d={delivery}."))), "{url}");
        let path = format!("/v1/integrations/sms/{id}/messages/msg_{delivery}");
        let message = |app| get(app, &admin, &path);
        assert_eq!(callback(&app, &url, &[("MessageSid", "SMfake"), ("MessageStatus", "delivered")], false).await, StatusCode::FORBIDDEN);
        assert_eq!(message(&app).await["status"], "accepted", "unsigned callbacks change nothing");
        // A signed report for another message, replayed with this one's id in the address
        // (without its tag, or with another's), is matched by the provider's id, not ours.
        for other in [format!("?d={delivery}"), format!("?d={delivery}.0123456789abcdef")] {
            let replayed = app.url(&format!("/webhooks/sms/{id}/status{other}"));
            assert_eq!(callback(&app, &replayed, &[("MessageSid", "SMother"), ("MessageStatus", "delivered")], true).await, StatusCode::NO_CONTENT);
            assert_eq!(message(&app).await["status"], "accepted", "{other}");
        }

        assert_eq!(callback(&app, &url, &[("MessageSid", "SMfake"), ("MessageStatus", "sent")], true).await, StatusCode::NO_CONTENT);
        assert_eq!(message(&app).await["status"], "sent");
        callback(&app, &url, &[("MessageSid", "SMfake"), ("MessageStatus", "delivered")], true).await;
        assert_eq!(message(&app).await["status"], "delivered");
        // Out of order: a late "sent" or "queued" does not take it back.
        callback(&app, &url, &[("MessageSid", "SMfake"), ("MessageStatus", "sent")], true).await;
        callback(&app, &url, &[("MessageSid", "SMfake"), ("MessageStatus", "queued")], true).await;
        let m = message(&app).await;
        assert_eq!(m["status"], "delivered");
        assert_eq!(m["provider_id"], "SMfake");
        assert_eq!(m["to"], "+141…123", "numbers are masked");

        // A carrier failure keeps its code and says what it means.
        let (_, second) = post(&app, &admin, &format!("/v1/integrations/sms/{id}/test"), json!({"to": "+14155550124", "body": "Again"})).await;
        let d2 = second["message_id"].as_str().unwrap().strip_prefix("msg_").unwrap().parse::<i64>().unwrap();
        let url2 = callback_urls(&fake).await.remove(1);
        callback(&app, &url2, &[("MessageSid", "SMfake2"), ("MessageStatus", "undelivered"), ("ErrorCode", "30007")], true).await;
        let m = get(&app, &admin, &format!("/v1/integrations/sms/{id}/messages/{d2}")).await;
        assert_eq!(m["status"], "undelivered");
        assert_eq!(m["error_code"], "30007");
        assert!(m["error_message"].as_str().unwrap().contains("spam"), "{m}");

        let list = get(&app, &admin, &format!("/v1/integrations/sms/{id}/messages")).await;
        assert_eq!(list["data"].as_array().unwrap().len(), 2);
        assert_eq!(list["data"][0]["id"], format!("msg_{d2}"), "newest first");
        // Something that is no message id is a JSON 404, not a parse error.
        let res = app.new_client().get(app.url(&format!("/v1/integrations/sms/{id}/messages/abc"))).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{body}");

        // A retried test send with the same Idempotency-Key is answered again, not sent again.
        let send = || app.new_client().post(app.url(&format!("/v1/integrations/sms/{id}/test"))).bearer_auth(&admin)
            .header("Idempotency-Key", "test-send-1").json(&json!({"to": "+14155550125", "body": "Once"})).send();
        let first = send().await.unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        let first: serde_json::Value = first.json().await.unwrap();
        let again = send().await.unwrap();
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(again.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
        let again: serde_json::Value = again.json().await.unwrap();
        assert_eq!(again["message_id"], first["message_id"]);
        assert_eq!(callback_urls(&fake).await.len(), 3, "the provider got the message once");

        // The integration's messages page like every list, newest first.
        let all = get(&app, &admin, &format!("/v1/integrations/sms/{id}/messages")).await;
        let ids: Vec<&str> = all["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 3);
        assert_eq!(all["has_more"], false);
        let first = get(&app, &admin, &format!("/v1/integrations/sms/{id}/messages?limit=2")).await;
        assert_eq!(first["has_more"], true);
        let last = first["data"][1]["id"].as_str().unwrap();
        let rest = get(&app, &admin, &format!("/v1/integrations/sms/{id}/messages?limit=2&starting_after={last}")).await;
        assert_eq!(rest["has_more"], false);
        let paged: Vec<&str> = first["data"].as_array().unwrap().iter().chain(rest["data"].as_array().unwrap())
            .map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(paged, ids);
        for bad in ["limit=0", "limit=501", "starting_after=abc"] {
            let res = app.new_client().get(app.url(&format!("/v1/integrations/sms/{id}/messages?{bad}"))).bearer_auth(&admin).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        }
    }
}

both_backends! {
    async fn rate_limits_and_outages_are_retried_until_everything_is_accepted(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let fake = MockServer::start().await;
        // A burst of 429s, then a burst of 503s, then service as usual.
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1")
                .set_body_json(json!({"code": 20429, "message": "Too Many Requests"})))
            .up_to_n_times(5).with_priority(1).mount(&fake).await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503).set_body_string("Service Unavailable"))
            .up_to_n_times(5).with_priority(2).mount(&fake).await;
        Mock::given(method("POST")).respond_with(accepted_json()).with_priority(3).mount(&fake).await;
        let id = twilio_integration(&app, &admin, &fake, 100).await;

        let db = Database::connect(&app.database_url).await.unwrap();
        let ids = queue(&db, &id, &vec![None; 20]).await;
        eventually(60, "every message accepted", || async { statuses(&db).await.get("accepted") == Some(&20) }).await;

        // Each refusal was retried once: no retry storm.
        let requested = requested_ids(&fake).await;
        assert_eq!(requested.len(), 30, "20 messages + 5 throttled + 5 unavailable");
        for d in &ids {
            assert!(requested.contains(d));
        }
        // A 429 does not use up an attempt; a 503 does.
        let attempts: Vec<i64> = db.query_all(Statement::from_string(db.get_database_backend(), "SELECT attempts FROM deliveries ORDER BY id"))
            .await.unwrap().iter().map(|r| r.try_get::<i32>("", "attempts").unwrap() as i64).collect();
        assert_eq!(attempts.iter().sum::<i64>(), 25, "{attempts:?}");
        db.close().await.ok();
    }
}

both_backends! {
    async fn a_test_send_whose_client_hung_up_is_replayed_not_sent_again(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let fake = MockServer::start().await;
        // The provider takes 2 s to answer; the client gives up after 300 ms.
        Mock::given(method("POST")).respond_with(accepted_json().set_delay(std::time::Duration::from_secs(2))).mount(&fake).await;
        let id = twilio_integration(&app, &admin, &fake, 10).await;
        let url = app.url(&format!("/v1/integrations/sms/{id}/test"));
        let impatient = reqwest::Client::builder().timeout(std::time::Duration::from_millis(300)).build().unwrap();
        let gave_up = impatient.post(&url).bearer_auth(&admin).header("Idempotency-Key", "hung-up")
            .json(&json!({"to": "+14155550126", "body": "Once only"})).send().await;
        assert!(gave_up.is_err(), "the client timed out");
        // The retry waits while the first runs (409), then gets its answer.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let answer = loop {
            let res = app.new_client().post(&url).bearer_auth(&admin).header("Idempotency-Key", "hung-up")
                .json(&json!({"to": "+14155550126", "body": "Once only"})).send().await.unwrap();
            if res.status() != StatusCode::CONFLICT {
                let replayed = res.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok()) == Some("true");
                break Some((res.status(), replayed, res.json::<serde_json::Value>().await.unwrap()));
            }
            assert!(std::time::Instant::now() < deadline, "the first test send never answered");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let (status, replayed, body) = answer.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(replayed, "the retry got the stored answer: {body}");
        assert_eq!(body["accepted"], true, "{body}");
        assert_eq!(callback_urls(&fake).await.len(), 1, "the provider got the message once");
    }
}

both_backends! {
    async fn consent_is_checked_again_when_sending(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let (_, sandbox) = post(&app, &admin, "/v1/integrations/sms", json!({"name": "Demo", "provider": "sandbox", "max_segments_per_second": 50})).await;
        let sid = sandbox["id"].as_str().unwrap().to_owned();
        let mut customers = Vec::new();
        for (source, consent) in [("ana", "opted_in"), ("ben", "opted_out"), ("cy", "opted_in")] {
            let (_, c) = post(&app, &admin, "/v1/customers", json!({"source_id": source, "phone": "+34612345678", "sms_consent": consent})).await;
            customers.push(Some(c["id"].as_str().unwrap().to_owned()));
        }
        let db = Database::connect(&app.database_url).await.unwrap();
        // Cy's message goes to a number that replied STOP while Cy's record was being written
        // elsewhere (another server's import, say), so the record kept "opted in".
        db.execute_unprepared("INSERT INTO sms_opt_outs (phone, actor, created_at) VALUES ('+14155550002', 'SMS reply via Demo', 1)")
            .await.unwrap();
        queue(&db, &sid, &customers).await;
        eventually(20, "all settled", || async {
            let s = statuses(&db).await;
            s.get("accepted") == Some(&1) && s.get("skipped") == Some(&2)
        }).await;
        let skipped = db.query_all(Statement::from_string(db.get_database_backend(),
            "SELECT customer_id, skip_reason FROM deliveries WHERE status = 'skipped' ORDER BY occurrence")).await.unwrap();
        let skipped: Vec<(Option<String>, String)> = skipped.iter()
            .map(|r| (r.try_get("", "customer_id").unwrap(), r.try_get("", "skip_reason").unwrap()))
            .collect();
        assert_eq!(skipped, vec![(customers[1].clone(), "opted_out".to_owned()), (customers[2].clone(), "opted_out".to_owned())]);
        let inbox: i64 = db.query_one(Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM sandbox_messages"))
            .await.unwrap().unwrap().try_get("", "n").unwrap();
        assert_eq!(inbox, 1);
        db.close().await.ok();
    }
}

both_backends! {
    async fn an_inbound_stop_skips_what_is_still_queued_for_that_number(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let fake = MockServer::start().await;
        Mock::given(method("POST")).respond_with(accepted_json()).mount(&fake).await;
        let id = twilio_integration(&app, &admin, &fake, 10).await;
        let (_, c) = post(&app, &admin, "/v1/customers", json!({"source_id": "ana", "phone": "+14155550123", "sms_consent": "opted_in"})).await;
        let db = Database::connect(&app.database_url).await.unwrap();
        // Due in an hour: still pending when the STOP comes.
        let later = NewDelivery {
            kind: "distribution", distribution_id: Some("dst_1".into()), customer_id: Some(c["id"].as_str().unwrap().to_owned()),
            occurrence: String::new(), integration_id: id.clone(), priority: deliveries::PRIORITY_BULK,
            recipient: "+14155550123".into(), body: "Later".into(), send_after: now_millis() + 3_600_000,
        };
        deliveries::enqueue(&db, &[later]).await.unwrap();
        let url = app.url(&format!("/webhooks/sms/{id}/inbound"));
        let status = callback(&app, &url, &[("MessageSid", "SMin"), ("From", "+14155550123"), ("To", "+15017122661"), ("Body", "Stop")], true).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(statuses(&db).await.get("skipped"), Some(&1));
        db.close().await.ok();
    }
}

both_backends! {
    async fn two_instances_share_one_queue_without_sending_twice_or_faster(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let fake = MockServer::start().await;
        Mock::given(method("POST")).respond_with(accepted_json()).mount(&fake).await;
        let id = twilio_integration(&app, &admin, &fake, 20).await;
        let (_, stop_second) = second_instance(&app).await;

        let db = Database::connect(&app.database_url).await.unwrap();
        let started = std::time::Instant::now();
        let ids = queue(&db, &id, &vec![None; 60]).await;
        eventually(60, "every message accepted", || async { statuses(&db).await.get("accepted") == Some(&60) }).await;
        let elapsed = started.elapsed();
        let mut requested = requested_ids(&fake).await;
        requested.sort_unstable();
        assert_eq!(requested, ids, "each message sent exactly once");
        // A distribution's accepted messages keep the provider's id, not its whole answer.
        let kept = db.query_one(Statement::from_string(db.get_database_backend(),
            "SELECT COUNT(provider_id) AS ids, COUNT(provider_answer) AS answers FROM deliveries")).await.unwrap().unwrap();
        assert_eq!((kept.try_get::<i64>("", "ids").unwrap(), kept.try_get::<i64>("", "answers").unwrap()), (60, 0));
        // 60 segments at 20 per second: the last may start 2.95 s after the first.
        assert!(elapsed.as_secs_f64() >= 2.9, "the integration's rate held across instances: {elapsed:?}");
        stop_second.cancel();
        db.close().await.ok();
    }
}

both_backends! {
    async fn an_ambiguous_send_waits_for_its_status_callback_instead_of_a_resend(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let fake = MockServer::start().await;
        // A 500 after the request went out: Twilio may have sent it.
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(500).set_body_json(json!({"code": 20500, "message": "Internal Server Error"})))
            .mount(&fake).await;
        let id = twilio_integration(&app, &admin, &fake, 10).await;
        let (_, sent) = post(&app, &admin, &format!("/v1/integrations/sms/{id}/test"), json!({"to": "+14155550123", "body": "Maybe"})).await;
        assert_eq!(sent["accepted"], false);
        assert_eq!(sent["failure"], "unknown", "{sent}");
        let delivery = sent["message_id"].as_str().unwrap().strip_prefix("msg_").unwrap().parse::<i64>().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        assert_eq!(fake.received_requests().await.unwrap().len(), 1, "not sent again");

        // Twilio's callback settles it, with its message id.
        let url = callback_urls(&fake).await.remove(0);
        callback(&app, &url, &[("MessageSid", "SMlate"), ("MessageStatus", "queued")], true).await;
        let m = get(&app, &admin, &format!("/v1/integrations/sms/{id}/messages/{delivery}")).await;
        assert_eq!((m["status"].as_str(), m["provider_id"].as_str(), m["error_code"].as_str()), (Some("accepted"), Some("SMlate"), None));
        callback(&app, &url, &[("MessageSid", "SMlate"), ("MessageStatus", "delivered")], true).await;
        let m = get(&app, &admin, &format!("/v1/integrations/sms/{id}/messages/{delivery}")).await;
        assert_eq!((m["status"].as_str(), m["provider_id"].as_str()), (Some("delivered"), Some("SMlate")));

        // Without a callback, the reconciliation timeout reports it as failed, never resent.
        let (_, other) = post(&app, &admin, &format!("/v1/integrations/sms/{id}/test"), json!({"to": "+14155550124", "body": "Lost"})).await;
        let lost = other["message_id"].as_str().unwrap().strip_prefix("msg_").unwrap().parse::<i64>().unwrap();
        let db = Database::connect(&app.database_url).await.unwrap();
        db.execute(Statement::from_sql_and_values(db.get_database_backend(),
            if db.get_database_backend() == sea_orm::DbBackend::Postgres { "UPDATE deliveries SET attempted_at = attempted_at - 7200000 WHERE id = $1" } else { "UPDATE deliveries SET attempted_at = attempted_at - 7200000 WHERE id = ?" },
            [lost.into()])).await.unwrap();
        assert_eq!(deliveries::settle_unknown(&db, 3_600_000).await.unwrap(), 1);
        let m = get(&app, &admin, &format!("/v1/integrations/sms/{id}/messages/{lost}")).await;
        assert_eq!((m["status"].as_str(), m["error_code"].as_str()), (Some("failed"), Some("unconfirmed")));
        assert_eq!(fake.received_requests().await.unwrap().len(), 2);
        // Providers may queue for hours: a late report still tells what became of it.
        let late = callback_urls(&fake).await.remove(1);
        // "queued" says nothing of what became of it: still failed, still unconfirmed.
        callback(&app, &late, &[("MessageSid", "SMlost"), ("MessageStatus", "queued")], true).await;
        let m = get(&app, &admin, &format!("/v1/integrations/sms/{id}/messages/{lost}")).await;
        assert_eq!((m["status"].as_str(), m["error_code"].as_str()), (Some("failed"), Some("unconfirmed")));
        callback(&app, &late, &[("MessageSid", "SMlost"), ("MessageStatus", "delivered")], true).await;
        let m = get(&app, &admin, &format!("/v1/integrations/sms/{id}/messages/{lost}")).await;
        assert_eq!((m["status"].as_str(), m["error_code"].as_str(), m["provider_id"].as_str()), (Some("delivered"), None, Some("SMlost")));
        db.close().await.ok();
    }
}

both_backends! {
    async fn a_claim_searches_on_from_its_position_and_a_search_from_the_start_finds_what_sorts_before(app: TestApp) {
        // No integration row: the engine leaves this queue alone and the test claims by hand.
        let db = Database::connect(&app.database_url).await.unwrap();
        let ids = queue(&db, "int_by_hand", &vec![None; 5]).await;
        let ids_of = |claimed: &[deliveries::Claimed]| claimed.iter().map(|c| c.id).collect::<Vec<_>>();
        let held = deliveries::Held::default();
        let first = deliveries::claim(&db, "int_by_hand", 2, None, &held).await.unwrap();
        assert_eq!(ids_of(&first), ids[..2]);
        held.hold("int_by_hand", &first);
        let position = first.iter().map(deliveries::Claimed::due_key).max();

        // An urgent message queued now sorts before that position.
        let urgent = NewDelivery {
            kind: "test", distribution_id: None, customer_id: None, occurrence: String::new(),
            integration_id: "int_by_hand".into(), priority: deliveries::PRIORITY_URGENT,
            recipient: "+14155550199".into(), body: "Urgent".into(), send_after: now_millis(),
        };
        let urgent_id = deliveries::enqueue(&db, &[urgent]).await.unwrap()[0].unwrap();
        let on = deliveries::claim(&db, "int_by_hand", 2, position, &held).await.unwrap();
        assert_eq!(ids_of(&on), ids[2..4], "searching on skips nothing after the position");
        held.hold("int_by_hand", &on);
        let from_start = deliveries::claim(&db, "int_by_hand", 10, None, &held).await.unwrap();
        assert_eq!(ids_of(&from_start), vec![urgent_id, ids[4]], "urgent first, nothing held claimed again");
        held.hold("int_by_hand", &from_start);
        assert_eq!(held.len(), 6);
        // A claim writes nothing: held messages stay pending until their outcome is recorded.
        assert_eq!(statuses(&db).await.get("pending"), Some(&6));

        // Recorded outcomes leave the queue; a released message is claimed again.
        let accepted = deliveries::Outcome::Accepted {
            provider_id: "SM1".into(), segments: Some(1),
            answer: server::providers::RawAnswer { http_status: Some(201), body: "{}".into() },
        };
        deliveries::record(&db, &[(ids[0], accepted), (ids[1], deliveries::Outcome::Released)]).await.unwrap();
        held.release([ids[0], ids[1]]);
        let again = deliveries::claim(&db, "int_by_hand", 10, None, &held).await.unwrap();
        assert_eq!(ids_of(&again), vec![ids[1]]);
        assert_eq!(statuses(&db).await.get("accepted"), Some(&1));

        // Held messages after the position are left out of a search from there as well.
        held.release([ids[1]]);
        held.hold("int_by_hand", &again);
        let behind = deliveries::claim(&db, "int_by_hand", 10, position, &held).await.unwrap();
        assert!(behind.is_empty(), "{:?}", ids_of(&behind));
        db.close().await.ok();
    }
}

both_backends! {
    async fn outcomes_longer_than_their_columns_are_clipped_and_a_message_skipped_on_its_way_is_reported_sent(app: TestApp) {
        // No integration row: the engine leaves this queue alone.
        let db = Database::connect(&app.database_url).await.unwrap();
        let ids = queue(&db, "int_by_hand", &[None, None, Some("cus_gone".to_owned())]).await;
        let answer = || server::providers::RawAnswer { http_status: Some(201), body: "{}".into() };
        // A gateway's id or error code longer than any real one must not sink the batch.
        deliveries::record(&db, &[
            (ids[0], deliveries::Outcome::Accepted { provider_id: "x".repeat(300), segments: Some(1), answer: answer() }),
            (ids[1], deliveries::Outcome::Failed { code: "E".repeat(100), message: "refused".into(), answer: answer() }),
        ]).await.unwrap();
        let s = statuses(&db).await;
        assert_eq!((s.get("accepted"), s.get("failed")), (Some(&1), Some(&1)), "{s:?}");
        let length = db.query_one(Statement::from_string(db.get_database_backend(),
            format!("SELECT LENGTH(provider_id) AS n FROM deliveries WHERE id = {}", ids[0]))).await.unwrap().unwrap();
        assert_eq!(length.try_get::<i32>("", "n").unwrap(), 128);

        // The customer opts out while the message is on its way; the provider's report says it
        // went out, and the report wins.
        assert_eq!(deliveries::skip_for_customers(&db, &["cus_gone".to_owned()]).await.unwrap(), 1);
        let report = deliveries::StatusReport {
            delivery_id: Some(ids[2]), provider_id: Some("SMlate".into()), part: None, status: deliveries::DELIVERED,
            provider_status: "delivered".into(), error_code: None, error_message: None,
        };
        assert!(deliveries::apply_status(&db, "int_by_hand", &report).await.unwrap());
        assert_eq!(statuses(&db).await.get("delivered"), Some(&1));
        // A message skipped before it was sent (no phone, say) is not moved by a report.
        db.execute_unprepared(&format!("UPDATE deliveries SET status = 'skipped', skip_reason = 'no_phone' WHERE id = {}", ids[1])).await.unwrap();
        let report = deliveries::StatusReport { delivery_id: Some(ids[1]), ..report };
        assert!(!deliveries::apply_status(&db, "int_by_hand", &report).await.unwrap());
        db.close().await.ok();
    }
}

both_backends! {
    async fn an_integration_taken_over_from_a_process_whose_lease_ran_out_waits_for_its_last_requests(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let fake = MockServer::start().await;
        Mock::given(method("POST")).respond_with(accepted_json()).mount(&fake).await;
        let id = twilio_integration(&app, &admin, &fake, 10).await;
        // Another process held the integration; its lease ran out 16 s ago, so requests it
        // may have started could still be open for another 4 s.
        let db = Database::connect(&app.database_url).await.unwrap();
        let expired = now_millis() - 16_000;
        db.execute_unprepared(&format!(
            "INSERT INTO integration_leases (integration_id, owner, lease_until) VALUES ('{id}', 'proc_gone', {expired})"
        )).await.unwrap();
        let started = std::time::Instant::now();
        let (_, sent) = post(&app, &admin, &format!("/v1/integrations/sms/{id}/test"), json!({"to": "+14155550123", "body": "After"})).await;
        assert_eq!(sent["accepted"], true, "{sent}");
        let waited = started.elapsed();
        assert!(waited >= std::time::Duration::from_millis(3500), "sent after {waited:?}");
        assert_eq!(fake.received_requests().await.unwrap().len(), 1);
        // Once done, the lease is released, and the next message goes at once.
        eventually(10, "the lease is released", || async {
            db.query_one(Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM integration_leases"))
                .await.unwrap().unwrap().try_get::<i64>("", "n").unwrap() == 0
        }).await;
        let started = std::time::Instant::now();
        let (_, again) = post(&app, &admin, &format!("/v1/integrations/sms/{id}/test"), json!({"to": "+14155550124", "body": "Now"})).await;
        assert_eq!(again["accepted"], true, "{again}");
        assert!(started.elapsed() < std::time::Duration::from_secs(3), "{:?}", started.elapsed());
        db.close().await.ok();
    }
}
