//! Vonage, Plivo, Telnyx, MessageBird and the generic gateway against a loopback fake: the
//! exact request each sends (auth, fields, encoding flags) and how each kind of answer is
//! classified (2xx, 4xx permanent, 429, 5xx, timeout). Then their signed webhooks through the
//! app, with the MessageBird reference JWTs.

use crate::both_backends;
use crate::helpers::post_json as post;
use base64::{engine::general_purpose::STANDARD, Engine as _};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::providers::{
    generic::{self, Generic},
    messagebird::{self, MessageBird},
    plivo::Plivo,
    telnyx::Telnyx,
    vonage::{self, Vonage},
    Failure, OutgoingSms, SmsProvider,
};
use std::time::Duration;
use wiremock::{
    matchers::{body_json, body_string_contains, header, header_exists, method, path},
    Mock, MockServer, ResponseTemplate,
};

fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder().timeout(timeout).build().unwrap()
}

fn sms(body: &str) -> OutgoingSms {
    OutgoingSms {
        status_callback: Some("https://codecast.example/webhooks/sms/int_1/status?d=42".into()),
        reference: "42".into(),
        ..OutgoingSms::new("+447700900123", body)
    }
}

/// Sends through `adapter` to a fake that answers `template`.
async fn answer(
    make: impl Fn(String) -> Box<dyn SmsProvider>,
    template: ResponseTemplate,
) -> Result<server::providers::Accepted, Failure> {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(template)
        .mount(&fake)
        .await;
    make(fake.uri()).send(&sms("Hi")).await
}

/// The classification every adapter shares for HTTP-level answers.
async fn common_failures(make: impl Fn(String) -> Box<dyn SmsProvider>) {
    let f = answer(
        &make,
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "3")
            .set_body_string("{}"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&f, Failure::Retryable { throttled: true, retry_after: Some(d), .. } if *d == Duration::from_secs(3)),
        "{f:?}"
    );
    let f = answer(
        &make,
        ResponseTemplate::new(503).set_body_string("unavailable"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            &f,
            Failure::Retryable {
                throttled: false,
                ..
            }
        ),
        "{f:?}"
    );
    let f = answer(&make, ResponseTemplate::new(500).set_body_string("oops"))
        .await
        .unwrap_err();
    assert_eq!(f.kind(), "ambiguous", "{f:?}");
    let f = answer(
        &make,
        ResponseTemplate::new(200).set_delay(Duration::from_secs(3)),
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind(), "ambiguous", "a timeout after sending: {f:?}");
}

fn vonage(base: String) -> Box<dyn SmsProvider> {
    Box::new(Vonage {
        http: client(Duration::from_millis(500)),
        base_url: base,
        api_key: "key1".into(),
        api_secret: "secret1".into(),
        from: "Shop".into(),
    })
}

#[tokio::test]
async fn vonage_request_answers_and_per_part_statuses() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sms/json"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("api_key=key1"))
        .and(body_string_contains("api_secret=secret1"))
        .and(body_string_contains("to=447700900123&"))
        .and(body_string_contains("from=Shop"))
        .and(body_string_contains("type=unicode"))
        .and(body_string_contains(
            "callback=https%3A%2F%2Fcodecast.example%2Fwebhooks%2Fsms%2Fint_1%2Fstatus%3Fd%3D42",
        ))
        .and(body_string_contains("client-ref=42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"message-count": "2", "messages": [
            {"to": "447700900123", "message-id": "0A00000001", "status": "0"},
            {"to": "447700900123", "message-id": "0A00000002", "status": "0"}]}),
        ))
        .expect(1)
        .mount(&fake)
        .await;
    let a = vonage(fake.uri())
        .send(&sms("Olá 👋 your code is SUMMER"))
        .await
        .unwrap();
    assert_eq!(
        (a.provider_id.as_str(), a.segments),
        ("0A00000001", Some(2))
    );
    let plain = &fake.received_requests().await.unwrap()[0];
    assert!(String::from_utf8_lossy(&plain.body).contains("text=Ol%C3%A1"));

    // HTTP 200 with a refusing part: the part's status decides.
    let refused = |status: &str, text: &str| {
        ResponseTemplate::new(200).set_body_json(
            json!({"message-count": "1", "messages": [{"status": status, "error-text": text}]}),
        )
    };
    let f = answer(vonage, refused("1", "Throttled")).await.unwrap_err();
    assert!(
        matches!(
            &f,
            Failure::Retryable {
                throttled: true,
                ..
            }
        ),
        "{f:?}"
    );
    let f = answer(vonage, refused("4", "Bad Credentials"))
        .await
        .unwrap_err();
    assert!(
        matches!(&f, Failure::Permanent { code, .. } if code == "4"),
        "{f:?}"
    );
    let f = answer(vonage, refused("15", "Illegal Sender Address - rejected"))
        .await
        .unwrap_err();
    assert_eq!(
        (f.kind(), f.message()),
        ("permanent", "Illegal Sender Address - rejected")
    );
    let f = answer(vonage, refused("5", "Internal Error"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &f,
            Failure::Retryable {
                throttled: false,
                ..
            }
        ),
        "{f:?}"
    );
    // One part out, one refused: sending again would repeat the first part.
    let f = answer(
        vonage,
        ResponseTemplate::new(200).set_body_json(json!({"message-count": "2", "messages": [
        {"message-id": "0A1", "status": "0"}, {"status": "1", "error-text": "Throttled"}]})),
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind(), "ambiguous");
    common_failures(vonage).await;
}

fn plivo(base: String) -> Box<dyn SmsProvider> {
    Box::new(Plivo {
        http: client(Duration::from_millis(500)),
        base_url: base,
        auth_id: "MAXXXX".into(),
        auth_token: "tok".into(),
        src: "+14155550100".into(),
    })
}

#[tokio::test]
async fn plivo_request_and_answers() {
    let fake = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v1/Account/MAXXXX/Message/"))
        .and(header("authorization", format!("Basic {}", STANDARD.encode("MAXXXX:tok")).as_str()))
        .and(body_json(json!({"src": "+14155550100", "dst": "+447700900123", "text": "Hi", "type": "sms",
            "url": "https://codecast.example/webhooks/sms/int_1/status?d=42", "method": "POST"})))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"api_id": "a1", "message": "message(s) queued", "message_uuid": ["db3ce55a-7f1d-11e1-8ea7-1231380bc196"]})))
        .expect(1).mount(&fake).await;
    let a = plivo(fake.uri()).send(&sms("Hi")).await.unwrap();
    assert_eq!(a.provider_id, "db3ce55a-7f1d-11e1-8ea7-1231380bc196");

    let f = answer(
        plivo,
        ResponseTemplate::new(400)
            .set_body_json(json!({"api_id": "a2", "error": "invalid dst parameter"})),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (f.kind(), f.message()),
        ("permanent", "invalid dst parameter")
    );
    let f = answer(
        plivo,
        ResponseTemplate::new(401).set_body_json(json!({"error": "Authentication failed"})),
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind(), "permanent");
    common_failures(plivo).await;
}

fn telnyx(base: String) -> Box<dyn SmsProvider> {
    Box::new(Telnyx {
        http: client(Duration::from_millis(500)),
        base_url: base,
        api_key: "KEY0123".into(),
        from: "+14155550100".into(),
    })
}

#[tokio::test]
async fn telnyx_request_and_answers() {
    let fake = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v2/messages"))
        .and(header("authorization", "Bearer KEY0123"))
        .and(header("idempotency-key", "codecast-42"))
        .and(body_json(json!({"from": "+14155550100", "to": "+447700900123", "text": "Hi",
            "webhook_url": "https://codecast.example/webhooks/sms/int_1/status?d=42", "use_profile_webhooks": false})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"id": "40385f64-5717-4562-b3fc-2c963f66afa6", "parts": 1, "to": [{"phone_number": "+447700900123", "status": "queued"}]}})))
        .expect(1).mount(&fake).await;
    let a = telnyx(fake.uri()).send(&sms("Hi")).await.unwrap();
    assert_eq!(
        (a.provider_id.as_str(), a.segments),
        ("40385f64-5717-4562-b3fc-2c963f66afa6", Some(1))
    );

    let f = answer(telnyx, ResponseTemplate::new(409).set_body_json(json!({"errors": [{"code": "40300", "title": "Blocked due to STOP message", "detail": "Messages cannot be sent due to an existing block rule."}]}))).await.unwrap_err();
    assert!(
        matches!(&f, Failure::Permanent { code, .. } if code == "40300"),
        "{f:?}"
    );
    assert!(f.message().starts_with("Blocked due to STOP message"));
    // Telnyx says when its window resets instead of Retry-After.
    let f = answer(
        telnyx,
        ResponseTemplate::new(429)
            .insert_header("x-ratelimit-reset", "2")
            .set_body_json(json!({"errors": [{"code": "10011", "title": "Too many requests"}]})),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&f, Failure::Retryable { throttled: true, retry_after: Some(d), code, .. } if *d == Duration::from_secs(2) && code == "10011"),
        "{f:?}"
    );
    common_failures(telnyx).await;
}

fn messagebird(base: String) -> Box<dyn SmsProvider> {
    Box::new(MessageBird {
        http: client(Duration::from_millis(500)),
        base_url: base,
        access_key: "live_abc".into(),
        originator: "Shop".into(),
    })
}

#[tokio::test]
async fn messagebird_request_and_answers() {
    let fake = MockServer::start().await;
    Mock::given(method("POST")).and(path("/messages"))
        .and(header("authorization", "AccessKey live_abc"))
        .and(body_json(json!({"originator": "Shop", "recipients": ["447700900123"], "body": "Hi", "datacoding": "plain",
            "reportUrl": "https://codecast.example/webhooks/sms/int_1/status?d=42", "reference": "42"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "e8077d803532c0b5937c639b60216938",
            "recipients": {"totalCount": 1, "items": [{"recipient": 447700900123u64, "status": "sent", "messagePartCount": 1}]}})))
        .expect(1).mount(&fake).await;
    let a = messagebird(fake.uri()).send(&sms("Hi")).await.unwrap();
    assert_eq!(
        (a.provider_id.as_str(), a.segments),
        ("e8077d803532c0b5937c639b60216938", Some(1))
    );
    let unicode = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("\"datacoding\":\"unicode\""))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "x"})))
        .expect(1)
        .mount(&unicode)
        .await;
    messagebird(unicode.uri())
        .send(&sms("Ça coûte 5 € 🎉"))
        .await
        .unwrap();

    let f = answer(messagebird, ResponseTemplate::new(401).set_body_json(json!({"errors": [{"code": 2, "description": "Request not allowed (incorrect access_key)", "parameter": "access_key"}]}))).await.unwrap_err();
    assert!(
        matches!(&f, Failure::Permanent { code, .. } if code == "2"),
        "{f:?}"
    );
    assert_eq!(f.message(), "Request not allowed (incorrect access_key)");
    common_failures(messagebird).await;
}

fn gateway(base: String) -> Box<dyn SmsProvider> {
    Box::new(Generic {
        http: client(Duration::from_millis(500)),
        url: format!("{base}/send"),
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        from: Some("Shop".into()),
        allow_private: true,
    })
}

#[tokio::test]
async fn the_generic_gateway_gets_signed_json_and_guards_its_target() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/send"))
        .and(header("webhook-id", "msg_42"))
        .and(header_exists("webhook-timestamp"))
        .and(header_exists("webhook-signature"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "gw-1", "segments": 1})),
        )
        .expect(1)
        .mount(&fake)
        .await;
    let a = gateway(fake.uri()).send(&sms("Hi")).await.unwrap();
    assert_eq!((a.provider_id.as_str(), a.segments), ("gw-1", Some(1)));
    // The request verifies under the shared secret, as the gateway would check it.
    let req = &fake.received_requests().await.unwrap()[0];
    let h = |n: &str| req.headers.get(n).unwrap().to_str().unwrap().to_owned();
    let now = chrono::Utc::now().timestamp();
    assert!(generic::verify(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        &h("webhook-id"),
        &h("webhook-timestamp"),
        &req.body,
        &h("webhook-signature"),
        now
    ));
    let sent: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(sent["to"], "+447700900123");
    assert_eq!(sent["from"], "Shop");
    assert_eq!(sent["text"], "Hi");
    assert_eq!(sent["encoding"], "GSM-7");
    assert_eq!(
        sent["status_url"],
        "https://codecast.example/webhooks/sms/int_1/status?d=42"
    );

    let f = answer(
        gateway,
        ResponseTemplate::new(422).set_body_json(
            json!({"error": {"code": "invalid_number", "message": "No such number"}}),
        ),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&f, Failure::Permanent { code, .. } if code == "invalid_number"),
        "{f:?}"
    );
    common_failures(gateway).await;

    // Without the opt-in, a loopback gateway is refused before any request.
    let guarded = Generic {
        http: client(Duration::from_millis(500)),
        url: format!("{}/send", fake.uri()),
        secret: "s".into(),
        from: None,
        allow_private: false,
    };
    let f = guarded.send(&sms("Hi")).await.unwrap_err();
    assert!(
        matches!(&f, Failure::Permanent { code, .. } if code == "forbidden_target"),
        "{f:?}"
    );
    assert_eq!(
        fake.received_requests().await.unwrap().len(),
        1,
        "nothing more reached the fake"
    );
}

#[test]
fn messagebird_reference_jwts() {
    // The 43 cases of MessageBird's go-rest-api `signature_jwt/testdata/reference.json`.
    let cases: Vec<Value> =
        serde_json::from_str(include_str!("../fixtures/messagebird_jwt_reference.json")).unwrap();
    assert_eq!(cases.len(), 43);
    for case in &cases {
        let now = chrono::DateTime::parse_from_rfc3339(case["timestamp"].as_str().unwrap())
            .unwrap()
            .timestamp();
        let valid = messagebird::jwt_valid(
            case["secret"].as_str().unwrap_or_default(),
            case["token"].as_str().unwrap_or_default(),
            case["url"].as_str().unwrap(),
            case["payload"].as_str().unwrap_or_default().as_bytes(),
            now,
        );
        assert_eq!(valid, case["valid"].as_bool().unwrap(), "{}", case["name"]);
    }
}

/// Signs Vonage webhook parameters as Vonage does (md5hash).
fn vonage_signed(mut params: Vec<(String, String)>, secret: &str) -> Vec<(String, String)> {
    params.push((
        "timestamp".into(),
        chrono::Utc::now().timestamp().to_string(),
    ));
    let sig = vonage::signature("md5hash", secret, &params).unwrap();
    params.push(("sig".into(), sig));
    params
}

both_backends! {
    async fn a_long_message_is_delivered_when_every_part_is(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let fake = MockServer::start().await;
        // Every message goes out in parts, each with its own id.
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let next = counter.clone();
        Mock::given(method("POST")).and(path("/sms/json")).respond_with(move |_: &wiremock::Request| {
            let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // The third message goes out in three.
            let parts: Vec<Value> = (1..=if n == 2 { 3 } else { 2 })
                .map(|p| json!({"to": "34612345678", "message-id": format!("M{n}-{p}"), "status": "0"}))
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({"message-count": parts.len().to_string(), "messages": parts}))
        }).mount(&fake).await;
        let (status, v) = post(&app, &admin, "/v1/integrations/sms", json!({"name": "Vonage", "provider": "vonage", "sender": "Shop",
            "base_url": fake.uri(),
            "credentials": {"api_key": "k", "api_secret": "secret-long-enough", "signature_secret": "sig-secret-123"}})).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        let vid = v["id"].as_str().unwrap();
        let long = "Your code SUMMER-000000 gets you 20% off everything in the summer sale this week. Show this message at the till or enter the code at checkout online before Sunday.";
        let mut messages = Vec::new();
        for _ in 0..3 {
            let (status, sent) = post(&app, &admin, &format!("/v1/integrations/sms/{vid}/test"), json!({"to": "+34612345678", "body": long})).await;
            assert_eq!((status, &sent["status"]), (StatusCode::OK, &json!("accepted")), "{sent}");
            messages.push(sent["message_id"].as_str().unwrap().to_owned());
        }
        // Where Vonage was told to report, one address per message.
        let callbacks: Vec<String> = fake.received_requests().await.unwrap().iter()
            .filter_map(|r| url::form_urlencoded::parse(&r.body).find(|(k, _)| k == "callback").map(|(_, v)| v.into_owned()))
            .collect();
        assert_eq!(callbacks.len(), 3);
        let receipt = |n: usize, part: &str, status: &str, err: &str| {
            let (base, query) = callbacks[n].split_once('?').unwrap();
            let d = query.strip_prefix("d=").unwrap().to_owned();
            let params = vec![("messageId".to_owned(), format!("M{n}-{part}")), ("msisdn".to_owned(), "34612345678".to_owned()),
                ("to".to_owned(), "Shop".to_owned()), ("status".to_owned(), status.to_owned()), ("err-code".to_owned(), err.to_owned())];
            let mut query = vonage_signed(params, "sig-secret-123");
            query.push(("d".to_owned(), d));
            let client = app.new_client();
            let base = base.to_owned();
            async move { client.get(base).query(&query).send().await.unwrap().status() }
        };
        let message = |n: usize| {
            let path = format!("/v1/integrations/sms/{vid}/messages/{}", messages[n]);
            let admin = admin.clone();
            let app = &app;
            async move { crate::helpers::get_json(app, &admin, &path).await }
        };
        // One part delivered: the message is on its way, not delivered.
        assert_eq!(receipt(0, "1", "delivered", "0").await, StatusCode::NO_CONTENT);
        let m = message(0).await;
        assert_eq!(m["status"], "sent", "{m}");
        assert_eq!(m["provider_status"], "delivered (1 of 2 parts)", "{m}");
        // The same receipt again counts once.
        assert_eq!(receipt(0, "1", "delivered", "0").await, StatusCode::NO_CONTENT);
        assert_eq!(message(0).await["status"], "sent");
        assert_eq!(receipt(0, "2", "delivered", "0").await, StatusCode::NO_CONTENT);
        let m = message(0).await;
        assert_eq!(m["status"], "delivered", "{m}");
        // One part lost: the message failed, whatever the other part's receipt says after.
        assert_eq!(receipt(1, "2", "failed", "3").await, StatusCode::NO_CONTENT);
        let m = message(1).await;
        assert_eq!(m["status"], "failed", "{m}");
        assert_eq!(m["error_code"], "3", "{m}");
        assert_eq!(receipt(1, "1", "delivered", "0").await, StatusCode::NO_CONTENT);
        let m = message(1).await;
        assert_eq!(m["status"], "failed", "{m}");
        assert_eq!(m["error_code"], "3", "{m}");
        // Three parts: the count moves on with each, and the part that expired decides, with
        // its error, and a later receipt for that part changes nothing.
        assert_eq!(receipt(2, "3", "delivered", "0").await, StatusCode::NO_CONTENT);
        assert_eq!(message(2).await["provider_status"], "delivered (1 of 3 parts)");
        assert_eq!(receipt(2, "1", "delivered", "0").await, StatusCode::NO_CONTENT);
        let m = message(2).await;
        assert_eq!((&m["status"], &m["provider_status"]), (&json!("sent"), &json!("delivered (2 of 3 parts)")), "{m}");
        assert_eq!(receipt(2, "2", "expired", "5").await, StatusCode::NO_CONTENT);
        assert_eq!(receipt(2, "2", "delivered", "0").await, StatusCode::NO_CONTENT);
        let m = message(2).await;
        assert_eq!((&m["status"], &m["provider_status"], &m["error_code"]), (&json!("undelivered"), &json!("expired"), &json!("5")), "{m}");
    }
}

both_backends! {
    async fn a_webhook_retried_while_its_first_request_runs_comes_back_later(app: TestApp) {
        use sea_orm::{ConnectionTrait, Database};
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        post(&app, &admin, "/v1/customers", json!({"source_id": "ana", "phone": "+34612345678", "sms_consent": "opted_in"})).await;
        let consent = || async {
            crate::helpers::get_json(&app, &admin, "/v1/customers/ana").await["sms_consent"].as_str().unwrap().to_owned()
        };
        let (_, p) = post(&app, &admin, "/v1/integrations/sms", json!({"name": "Plivo", "provider": "plivo", "sender": "+14155550100",
            "credentials": {"auth_id": "MAXXXX", "auth_token": "plivo-token-long"}})).await;
        let pid = p["id"].as_str().unwrap();
        let url = app.url(&format!("/webhooks/sms/{pid}/inbound"));
        let sig = {
            use hmac::{Hmac, Mac};
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"plivo-token-long").unwrap();
            mac.update(format!("{url}55502").as_bytes());
            STANDARD.encode(mac.finalize().into_bytes())
        };
        let send = |text: &str| app.new_client().post(&url)
            .form(&[("From", "34612345678"), ("To", "14155550100"), ("Text", text), ("Type", "sms"), ("MessageUUID", "u2")])
            .header("X-Plivo-Signature-V2", sig.clone()).header("X-Plivo-Signature-V2-Nonce", "55502").send();
        assert_eq!(send("STOP").await.unwrap().status(), StatusCode::NO_CONTENT);
        assert_eq!(consent().await, "opted_out");
        let db = Database::connect(&app.database_url).await.unwrap();
        let key = format!("{pid}:v2:55502");
        let exec = |sql: String| {
            let db = db.clone();
            async move { db.execute_unprepared(&sql).await.unwrap() }
        };
        // Back as if that request were still being handled (taken a moment ago, not settled),
        // and the customer opted in meanwhile.
        let now = chrono::Utc::now().timestamp_millis();
        exec(format!("UPDATE webhook_nonces SET settled_at = NULL, seen_at = {now} WHERE nonce = '{key}'")).await;
        exec("UPDATE customers SET sms_consent = 'opted_in'".into()).await;
        exec("DELETE FROM sms_opt_outs".into()).await;
        // Its retry is asked to come back, and nothing is done twice.
        let res = send("STOP").await.unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
        assert_eq!(consent().await, "opted_in");
        // Another body under the same signature (V2 signs none) is a replay, running or not.
        assert_eq!(send("START").await.unwrap().status(), StatusCode::FORBIDDEN);
        // Its process stopped while handling it (taken long ago, never settled): only the very
        // same request is handled again, and the nonce is spent.
        let long_ago = now - server::services::webhook_nonces::ABANDONED_MS - 1_000;
        exec(format!("UPDATE webhook_nonces SET seen_at = {long_ago} WHERE nonce = '{key}'")).await;
        exec("UPDATE customers SET sms_consent = 'opted_out'".into()).await;
        assert_eq!(send("START").await.unwrap().status(), StatusCode::FORBIDDEN);
        assert_eq!(consent().await, "opted_out");
        exec("UPDATE customers SET sms_consent = 'opted_in'".into()).await;
        assert_eq!(send("STOP").await.unwrap().status(), StatusCode::NO_CONTENT);
        assert_eq!(consent().await, "opted_out");
        let settled = db.query_one(sea_orm::Statement::from_string(db.get_database_backend(),
            format!("SELECT settled_at FROM webhook_nonces WHERE nonce = '{key}'"))).await.unwrap().unwrap();
        assert!(settled.try_get::<Option<i64>>("", "settled_at").unwrap().is_some());
        // Handled once, the same request again is a replay.
        assert_eq!(send("STOP").await.unwrap().status(), StatusCode::FORBIDDEN);
        db.close().await.ok();
    }
}

both_backends! {
    async fn each_providers_webhooks_are_verified_and_read(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let (_, c) = post(&app, &admin, "/v1/customers", json!({"source_id": "ana", "phone": "+34612345678", "sms_consent": "opted_in"})).await;
        assert!(c["id"].is_string(), "{c}");
        let consent = || async {
            crate::helpers::get_json(&app, &admin, "/v1/customers/ana").await["sms_consent"].as_str().unwrap().to_owned()
        };
        let create = |body: Value| post(&app, &admin, "/v1/integrations/sms", body);

        // Vonage: GET with a md5hash `sig`; unsigned or without a signature secret, 403.
        let (_, v) = create(json!({"name": "Vonage", "provider": "vonage", "sender": "Shop",
            "credentials": {"api_key": "k", "api_secret": "secret-long-enough", "signature_secret": "sig-secret-123"}})).await;
        let vid = v["id"].as_str().unwrap();
        let stop = vec![("msisdn".to_owned(), "34612345678".to_owned()), ("to".to_owned(), "447700900000".to_owned()),
            ("messageId".to_owned(), "0A1".to_owned()), ("text".to_owned(), "STOP".to_owned()), ("type".to_owned(), "text".to_owned())];
        let url = app.url(&format!("/webhooks/sms/{vid}/inbound"));
        let res = app.new_client().get(&url).query(&stop).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let res = app.new_client().get(&url).query(&vonage_signed(stop.clone(), "wrong")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let res = app.new_client().get(&url).query(&vonage_signed(stop, "sig-secret-123")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert_eq!(consent().await, "opted_out");

        // Telnyx: Ed25519 over `timestamp|body` under the account's public key.
        use ed25519_dalek::{Signer, SigningKey};
        let signing = SigningKey::from_bytes(&[7u8; 32]);
        let public = STANDARD.encode(signing.verifying_key().as_bytes());
        let (_, t) = create(json!({"name": "Telnyx", "provider": "telnyx", "sender": "+14155550100",
            "credentials": {"api_key": "KEY-long-enough", "public_key": public}})).await;
        let tid = t["id"].as_str().unwrap();
        let body = json!({"data": {"event_type": "message.received", "payload": {"from": {"phone_number": "+34612345678"}, "text": "start"}}}).to_string();
        let ts = chrono::Utc::now().timestamp().to_string();
        let sig = STANDARD.encode(signing.sign(format!("{ts}|{body}").as_bytes()).to_bytes());
        let send = |sig: String| app.new_client().post(app.url(&format!("/webhooks/sms/{tid}/inbound")))
            .header("content-type", "application/json").header("telnyx-timestamp", ts.clone())
            .header("telnyx-signature-ed25519", sig).body(body.clone()).send();
        assert_eq!(send(STANDARD.encode([0u8; 64])).await.unwrap().status(), StatusCode::FORBIDDEN);
        assert_eq!(send(sig).await.unwrap().status(), StatusCode::NO_CONTENT);
        assert_eq!(consent().await, "opted_in");

        // Plivo: signature V3 over the URL, the sorted form fields and the nonce.
        let (_, p) = create(json!({"name": "Plivo", "provider": "plivo", "sender": "+14155550100",
            "credentials": {"auth_id": "MAXXXX", "auth_token": "plivo-token-long"}})).await;
        let pid = p["id"].as_str().unwrap();
        let url = app.url(&format!("/webhooks/sms/{pid}/inbound"));
        let form: Vec<(String, String)> = [("From", "34612345678"), ("To", "14155550100"), ("Text", "Stop"), ("Type", "sms"), ("MessageUUID", "u1")]
            .iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let v3 = {
            use hmac::{Hmac, Mac};
            let text = server::providers::plivo::v3_string(&axum::http::Method::POST, &url, &form, "98765");
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"plivo-token-long").unwrap();
            mac.update(text.as_bytes());
            STANDARD.encode(mac.finalize().into_bytes())
        };
        let send_v3 = || app.new_client().post(&url).form(&form).header("X-Plivo-Signature-V3", v3.clone()).header("X-Plivo-Signature-V3-Nonce", "98765").send();
        assert_eq!(send_v3().await.unwrap().status(), StatusCode::NO_CONTENT);
        assert_eq!(consent().await, "opted_out");
        // V3 signs no time either: the very same request again is a replay.
        assert_eq!(send_v3().await.unwrap().status(), StatusCode::FORBIDDEN);
        let res = app.new_client().post(&url).form(&form).header("X-Plivo-Signature-V3", "AAAA").header("X-Plivo-Signature-V3-Nonce", "98765").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        // Plivo's messaging callbacks may carry only V2: the address (without its query) and a
        // nonce. The body is not signed, so the nonce counts once: the same signature with a
        // rewritten body is a replay.
        let v2 = {
            use hmac::{Hmac, Mac};
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"plivo-token-long").unwrap();
            mac.update(format!("{url}55501").as_bytes());
            STANDARD.encode(mac.finalize().into_bytes())
        };
        let with_text = |text: &str| -> Vec<(String, String)> {
            form.iter().map(|(k, v)| (k.clone(), if k == "Text" { text.to_owned() } else { v.clone() })).collect()
        };
        let send_v2 = |form: Vec<(String, String)>, sig: String| app.new_client().post(&url).form(&form)
            .header("X-Plivo-Signature-V2", sig).header("X-Plivo-Signature-V2-Nonce", "55501").send();
        assert_eq!(send_v2(with_text("START"), "AAAA".into()).await.unwrap().status(), StatusCode::FORBIDDEN);
        assert_eq!(consent().await, "opted_out");
        assert_eq!(send_v2(with_text("START"), v2.clone()).await.unwrap().status(), StatusCode::NO_CONTENT);
        assert_eq!(consent().await, "opted_in");
        assert_eq!(send_v2(with_text("STOP"), v2.clone()).await.unwrap().status(), StatusCode::FORBIDDEN);
        assert_eq!(consent().await, "opted_in");
        // A V3 signature without its nonce does not make the V2 check skip the V2 nonce.
        let res = app.new_client().post(&url).form(&with_text("STOP")).header("X-Plivo-Signature-V3", "x")
            .header("X-Plivo-Signature-V2", v2).header("X-Plivo-Signature-V2-Nonce", "55501").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(consent().await, "opted_in");

        // The generic gateway: Standard Webhooks with the integration's signing secret. A HELP
        // gets the configured text, queued as a reply.
        // Disabled, so the reply stays queued: sending would look up gateway.example.com, and a
        // resolver without network can block the test's runtime from shutting down.
        let (_, g) = create(json!({"name": "Gateway", "provider": "generic", "enabled": false, "help_text": "Shop help: call 555-0100. Reply STOP to end.",
            "credentials": {"url": "https://gateway.example.com/send", "signing_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}})).await;
        let gid = g["id"].as_str().unwrap();
        assert_eq!(g["help_text"], "Shop help: call 555-0100. Reply STOP to end.");
        let body = json!({"type": "message.received", "from": "+34612345678", "text": "HELP"}).to_string();
        let ts = chrono::Utc::now().timestamp();
        let sig = generic::sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_in_1", ts, body.as_bytes());
        let res = app.new_client().post(app.url(&format!("/webhooks/sms/{gid}/inbound")))
            .header("content-type", "application/json").header("webhook-id", "msg_in_1")
            .header("webhook-timestamp", ts.to_string()).header("webhook-signature", sig).body(body).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let messages = crate::helpers::get_json(&app, &admin, &format!("/v1/integrations/sms/{gid}/messages")).await;
        assert_eq!(messages["data"][0]["kind"], "reply");
        assert_eq!(messages["data"][0]["text"], "Shop help: call 555-0100. Reply STOP to end.");

        // A gateway on a private address is refused when saved.
        let (status, body) = create(json!({"name": "Internal", "provider": "generic",
            "credentials": {"url": "http://169.254.169.254/latest", "signing_secret": "s"}})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body["error"]["fields"]["credentials.url"].as_str().unwrap().contains("CODECAST_ALLOW_PRIVATE_GATEWAYS"), "{body}");

        // The sandbox has no webhooks at all.
        let (status, s) = create(json!({"name": "Sandbox", "provider": "sandbox"})).await;
        assert_eq!(status, StatusCode::CREATED, "{s}");
        let res = app.new_client().post(app.url(&format!("/webhooks/sms/{}/inbound", s["id"].as_str().unwrap()))).form(&[("Body", "STOP")]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
}
