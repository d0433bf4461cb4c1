//! Provider adapters against a loopback fake (wiremock): the exact request, and how every kind
//! of answer is classified. Then test sends through the API.

use crate::both_backends;
use crate::helpers::post_json as post;
use base64::{engine::general_purpose::STANDARD, Engine as _};
use reqwest::StatusCode;
use serde_json::json;
use server::providers::{twilio::Twilio, Failure, OutgoingSms, SmsProvider};
use std::time::Duration;
use wiremock::{
    matchers::{body_string_contains, header, method, path},
    Mock, MockServer, ResponseTemplate,
};

const MESSAGES: &str = "/2010-04-01/Accounts/AC123/Messages.json";

fn twilio(base: &str, timeout: Duration) -> Twilio {
    Twilio::new(
        reqwest::Client::builder().timeout(timeout).build().unwrap(),
        base,
        "AC123",
        "tok",
        Some("+15017122661".into()),
        None,
    )
}

fn sms() -> OutgoingSms {
    OutgoingSms {
        status_callback: Some("https://codecast.example/webhooks/sms/int_1/status".into()),
        reference: "42".into(),
        ..OutgoingSms::new("+14155550123", "Hi Ana, SUMMER-1234 gets you 20% off")
    }
}

#[tokio::test]
async fn twilio_sends_the_documented_request_and_reads_the_sid() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header(
            "authorization",
            format!("Basic {}", STANDARD.encode("AC123:tok")).as_str(),
        ))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("To=%2B14155550123"))
        .and(body_string_contains("From=%2B15017122661"))
        .and(body_string_contains(
            "Body=Hi+Ana%2C+SUMMER-1234+gets+you+20%25+off",
        ))
        .and(body_string_contains(
            "StatusCallback=https%3A%2F%2Fcodecast.example%2Fwebhooks%2Fsms%2Fint_1%2Fstatus",
        ))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"sid": "SM0123", "status": "queued", "num_segments": "2"})),
        )
        .expect(1)
        .mount(&fake)
        .await;
    let accepted = twilio(&fake.uri(), Duration::from_secs(5))
        .send(&sms())
        .await
        .unwrap();
    assert_eq!(accepted.provider_id, "SM0123");
    assert_eq!(accepted.segments, Some(2));
    assert_eq!(accepted.raw.http_status, Some(201));
}

#[tokio::test]
async fn twilio_uses_the_messaging_service_instead_of_a_sender() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("MessagingServiceSid=MG9"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"sid": "SM1", "num_segments": "1"})),
        )
        .expect(1)
        .mount(&fake)
        .await;
    let t = Twilio::new(
        reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap(),
        &fake.uri(),
        "AC123",
        "tok",
        Some("+15017122661".into()),
        Some("MG9".into()),
    );
    t.send(&sms()).await.unwrap();
    let request = &fake.received_requests().await.unwrap()[0];
    assert!(!String::from_utf8_lossy(&request.body).contains("From="));
}

async fn answer(template: ResponseTemplate) -> Failure {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(template)
        .mount(&fake)
        .await;
    twilio(&fake.uri(), Duration::from_millis(500))
        .send(&sms())
        .await
        .unwrap_err()
}

#[tokio::test]
async fn twilio_failures_are_classified() {
    let f = answer(ResponseTemplate::new(400).set_body_json(json!({"code": 21211, "message": "The 'To' number +1415 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}))).await;
    assert!(
        matches!(&f, Failure::Permanent { code, .. } if code == "21211"),
        "{f:?}"
    );
    assert!(f.message().contains("not a valid phone number"));
    assert!(
        f.raw().body.contains("more_info"),
        "the answer is kept verbatim"
    );

    // RFC 9457 problem details, as Twilio's newer APIs answer.
    let f = answer(ResponseTemplate::new(400).set_body_json(json!({"type": "https://www.twilio.com/docs/errors/21610", "title": "Unsubscribed recipient", "detail": "The recipient replied STOP.", "code": 21610, "status": 400}))).await;
    assert!(
        matches!(&f, Failure::Permanent { code, .. } if code == "21610"),
        "{f:?}"
    );
    assert_eq!(f.message(), "The recipient replied STOP.");

    let f = answer(
        ResponseTemplate::new(401)
            .set_body_json(json!({"code": 20003, "message": "Authenticate", "status": 401})),
    )
    .await;
    assert_eq!(f.kind(), "permanent");

    let f = answer(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "7")
            .set_body_json(json!({"code": 20429, "message": "Too Many Requests"})),
    )
    .await;
    assert!(
        matches!(&f, Failure::Retryable { retry_after: Some(d), .. } if *d == Duration::from_secs(7)),
        "{f:?}"
    );

    let f = answer(ResponseTemplate::new(503).set_body_string("upstream unavailable")).await;
    assert_eq!(
        f.kind(),
        "retryable",
        "503 comes from in front of the application: {f:?}"
    );
    assert_eq!(f.raw().body, "upstream unavailable");
    let f = answer(
        ResponseTemplate::new(500)
            .set_body_json(json!({"code": 20500, "message": "Internal Server Error"})),
    )
    .await;
    assert_eq!(f.kind(), "ambiguous", "a 500 may have been acted on");

    let f = answer(ResponseTemplate::new(201).set_delay(Duration::from_secs(3))).await;
    assert_eq!(
        f.kind(),
        "ambiguous",
        "a timeout after sending may have been sent: {f:?}"
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_retryable() {
    // Nothing listens on a port just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let f = twilio(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2))
        .send(&sms())
        .await
        .unwrap_err();
    assert_eq!(f.kind(), "retryable", "{f:?}");
}

both_backends! {
    async fn test_sends_show_the_providers_answer(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let fake = MockServer::start().await;
        Mock::given(method("POST")).and(path(MESSAGES))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SMtest", "num_segments": "1"})))
            .mount(&fake).await;
        let (_, twilio) = post(&app, &admin, "/v1/integrations/sms", json!({"name": "Fake Twilio", "provider": "twilio",
            "sender": "+15017122661", "base_url": fake.uri(), "credentials": {"account_sid": "AC123", "auth_token": "tok-long-enough"}})).await;
        let id = twilio["id"].as_str().unwrap();
        let (status, result) = post(&app, &admin, &format!("/v1/integrations/sms/{id}/test"), json!({"to": "+1 (415) 555-0123", "body": "Hello"})).await;
        assert_eq!(status, StatusCode::OK, "{result}");
        assert_eq!(result["accepted"], true);
        assert_eq!(result["provider_id"], "SMtest");
        assert_eq!(result["to"], "+14155550123");
        assert!(result["raw"].as_str().unwrap().contains("SMtest"));
        let sent = &fake.received_requests().await.unwrap()[0];
        assert!(String::from_utf8_lossy(&sent.body).contains("Body=Hello"));

        let (status, bad) = post(&app, &admin, &format!("/v1/integrations/sms/{id}/test"), json!({"to": "12", "body": ""})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad["error"]["fields"]["to"].is_string() && bad["error"]["fields"]["body"].is_string());

        // The sandbox records what it "sends".
        let (_, sandbox) = post(&app, &admin, "/v1/integrations/sms", json!({"name": "Demo", "provider": "sandbox", "sender": "Codecast"})).await;
        let sid = sandbox["id"].as_str().unwrap();
        let (status, result) = post(&app, &admin, &format!("/v1/integrations/sms/{sid}/test"), json!({"to": "+34612345678", "body": "Hola 👋"})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(result["accepted"], true);
        assert_eq!(result["segments"], 1);
        assert!(result["provider_id"].as_str().unwrap().starts_with("sbx_"));

        // A disabled integration sends nothing and says why.
        let (_, vonage) = post(&app, &admin, "/v1/integrations/sms", json!({"name": "V", "provider": "vonage", "sender": "Shop",
            "enabled": false, "credentials": {"api_key": "k", "api_secret": "secret-long-enough"}})).await;
        let (status, body) = post(&app, &admin, &format!("/v1/integrations/sms/{}/test", vonage["id"].as_str().unwrap()), json!({"to": "+34612345678", "body": "x"})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("disabled"), "{body}");
        let marketer = app.api_key("marketer").await;
        let (status, _) = post(&app, &marketer, &format!("/v1/integrations/sms/{sid}/test"), json!({"to": "+34612345678", "body": "x"})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}
