//! Inbound SMS webhooks: signed by the provider or refused; STOP and START change consent.

use crate::both_backends;
use crate::helpers::{get_json as get, post_json as post, TestApp};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::json;
use server::providers::signatures::twilio_signature;

const TOKEN: &str = "twilio-auth-token-1234";

async fn reply(
    app: &TestApp,
    integration: &str,
    from: &str,
    body: &str,
    sign_with: Option<&str>,
) -> (StatusCode, String) {
    reply_with(app, integration, from, body, &[], sign_with).await
}

/// A reply with more of Twilio's fields (`OptOutType`, say).
async fn reply_with(
    app: &TestApp,
    integration: &str,
    from: &str,
    body: &str,
    more: &[(&str, &str)],
    sign_with: Option<&str>,
) -> (StatusCode, String) {
    let url = app.url(&format!("/webhooks/sms/{integration}/inbound"));
    let params: Vec<(String, String)> = [
        ("MessageSid", "SM1"),
        ("From", from),
        ("To", "+15017122661"),
        ("Body", body),
    ]
    .iter()
    .chain(more)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut req = app.new_client().post(&url).form(&params);
    if let Some(token) = sign_with {
        req = req.header("X-Twilio-Signature", twilio_signature(token, &url, &params));
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.text().await.unwrap())
}

both_backends! {
    async fn inbound_stop_and_start_change_consent_only_when_signed(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let (_, integration) = post(&app, &admin, "/v1/integrations/sms", json!({"name": "Twilio", "provider": "twilio",
            "sender": "+15017122661", "credentials": {"account_sid": "AC1", "auth_token": TOKEN}})).await;
        let id = integration["id"].as_str().unwrap().to_owned();
        post(&app, &admin, "/v1/customers", json!({"source_id": "ana", "phone": "+14155550123", "sms_consent": "opted_in"})).await;
        let consent = || async { get(&app, &admin, "/v1/customers/ana").await["sms_consent"].as_str().unwrap().to_owned() };

        // Unsigned, forged with another token, or signed for another integration: 403, nothing changes.
        assert_eq!(reply(&app, &id, "+14155550123", "STOP", None).await.0, StatusCode::FORBIDDEN);
        assert_eq!(reply(&app, &id, "+14155550123", "STOP", Some("guessed-token")).await.0, StatusCode::FORBIDDEN);
        assert_eq!(reply(&app, "int_unknown", "+14155550123", "STOP", Some(TOKEN)).await.0, StatusCode::FORBIDDEN);
        assert_eq!(consent().await, "opted_in");

        let (status, body) = reply(&app, &id, "+14155550123", " stop ", Some(TOKEN)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("<Response/>"), "{body}");
        assert_eq!(consent().await, "opted_out");
        let (_, body) = reply(&app, &id, "+14155550123", "help", Some(TOKEN)).await;
        assert!(body.contains("<Message>") && body.contains("Reply STOP"), "{body}");
        assert_eq!(consent().await, "opted_out", "HELP changes nothing");
        // HELP again at once: acknowledged, not answered a second time.
        let (status, body) = reply(&app, &id, "+14155550123", "HELP", Some(TOKEN)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("<Response/>"), "{body}");
        // Ten minutes later it is answered again.
        {
            let db = Database::connect(&app.database_url).await.unwrap();
            let earlier = chrono::Utc::now().timestamp_millis() - server::services::deliveries::HELP_EVERY_MS - 1_000;
            db.execute_unprepared(&format!("UPDATE help_replies SET replied_at = {earlier}")).await.unwrap();
            db.close().await.ok();
        }
        let (_, body) = reply(&app, &id, "+14155550123", "Help!", Some(TOKEN)).await;
        assert!(body.contains("<Message>"), "{body}");
        reply(&app, &id, "+14155550123", "please stop the madness", Some(TOKEN)).await;
        reply(&app, &id, "+14155550123", "Start", Some(TOKEN)).await;
        assert_eq!(consent().await, "opted_in");

        // Each change is in the ledger, marked as coming by SMS.
        let db = Database::connect(&app.database_url).await.unwrap();
        let rows = db.query_all(Statement::from_string(db.get_database_backend(),
            "SELECT state, source, actor FROM consent_changes ORDER BY created_at, id")).await.unwrap();
        let entries: Vec<(String, String)> = rows.iter().map(|r| (r.try_get("", "state").unwrap(), r.try_get("", "source").unwrap())).collect();
        assert_eq!(entries, vec![
            ("opted_in".to_owned(), "api".to_owned()),
            ("opted_out".to_owned(), "sms".to_owned()),
            ("opted_in".to_owned(), "sms".to_owned()),
        ]);
        assert_eq!(rows[1].try_get::<String>("", "actor").unwrap(), "SMS reply via Twilio");
        db.close().await.ok();
    }
}

both_backends! {
    async fn a_number_that_replied_stop_stays_opted_out_whoever_it_is_filed_under(app: TestApp) {
        app.with_admin().await;
        let admin = app.api_key("admin").await;
        let (_, integration) = post(&app, &admin, "/v1/integrations/sms", json!({"name": "Twilio", "provider": "twilio",
            "sender": "+15017122661", "credentials": {"account_sid": "AC1", "auth_token": TOKEN}})).await;
        let id = integration["id"].as_str().unwrap().to_owned();

        // A STOP from a number no customer has yet, with trailing punctuation.
        assert_eq!(reply(&app, &id, "+14155550199", "Stop.", Some(TOKEN)).await.0, StatusCode::OK);

        // A customer created with that number later starts opted out, with a ledger entry.
        let (status, bo) = post(&app, &admin, "/v1/customers", json!({"source_id": "bo", "phone": "+14155550199"})).await;
        assert!(status.is_success(), "{bo}");
        assert_eq!(bo["sms_consent"], "opted_out");
        let db = Database::connect(&app.database_url).await.unwrap();
        let ledger = db.query_one(Statement::from_string(db.get_database_backend(), format!(
            "SELECT state, source, actor FROM consent_changes WHERE customer_id = '{}'", bo["id"].as_str().unwrap()))).await.unwrap().unwrap();
        assert_eq!(
            (ledger.try_get::<String>("", "state").unwrap(), ledger.try_get::<String>("", "source").unwrap()),
            ("opted_out".to_owned(), "sms".to_owned())
        );
        assert!(ledger.try_get::<String>("", "actor").unwrap().contains("replied STOP"));
        db.close().await.ok();

        // Opting them in by hand is a field error; nothing else of the input is lost by it.
        let (status, body) = post(&app, &admin, "/v1/customers", json!({"source_id": "cy", "phone": "+14155550199", "sms_consent": "opted_in"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["error"]["fields"]["sms_consent"].as_str().unwrap().contains("START"), "{body}");
        let (status, body) = post(&app, &admin, "/v1/customers", json!({"source_id": "di", "phone": "+14155550123", "sms_consent": "opted_in"})).await;
        assert!(status.is_success(), "another number is not affected: {body}");

        // An event is recorded whatever its customer fields say; the number stays opted out.
        let (status, body) = post(&app, &admin, "/v1/events", json!({"event": "cart_abandoned",
            "customer": {"source_id": "ev", "phone": "+14155550199", "sms_consent": "opted_in"}})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["customer"]["sms_consent"], "opted_out", "{body}");
        // A shop that syncs whole records repeats the stored "opted in" when the number
        // changes to one that replied STOP: the record is taken, and the opt-out kept.
        post(&app, &admin, "/v1/customers", json!({"source_id": "jo", "phone": "+14155550125", "sms_consent": "opted_in"})).await;
        let (status, body) = post(&app, &admin, "/v1/customers", json!({"source_id": "jo", "name": "Jo", "phone": "+14155550199", "sms_consent": "opted_in"})).await;
        assert!(status.is_success(), "{body}");
        assert_eq!((body["name"].as_str(), body["sms_consent"].as_str()), (Some("Jo"), Some("opted_out")), "{body}");

        // An import looks the batch's numbers up at once, with the same outcome per row.
        let res = app.new_client().post(app.url("/v1/customers/import")).bearer_auth(&admin)
            .header("content-type", "text/csv")
            .body("source_id,phone,sms_consent\ned,+14155550199,\nfi,+14155550199,opted_in\ngu,+14155550124,opted_in\n")
            .send().await.unwrap();
        let imported: serde_json::Value = res.json().await.unwrap();
        assert_eq!(imported["created"], 2, "{imported}");
        assert_eq!(imported["rejected"][0]["row"], 3, "{imported}");
        assert!(imported["rejected"][0]["error"].as_str().unwrap().starts_with("sms_consent:"), "{imported}");
        assert_eq!(get(&app, &admin, "/v1/customers/ed").await["sms_consent"], "opted_out");
        assert_eq!(get(&app, &admin, "/v1/customers/gu").await["sms_consent"], "opted_in");

        // A "yes" grants nothing to a customer who never opted out; it re-subscribes one who did.
        post(&app, &admin, "/v1/customers", json!({"source_id": "ha", "phone": "+14155550177"})).await;
        reply(&app, &id, "+14155550177", "Yes", Some(TOKEN)).await;
        assert_eq!(get(&app, &admin, "/v1/customers/ha").await["sms_consent"], "unknown");
        // Twilio's Advanced Opt-Out counts YES among its opt-in words and says START.
        reply_with(&app, &id, "+14155550177", "yes", &[("OptOutType", "START")], Some(TOKEN)).await;
        assert_eq!(get(&app, &admin, "/v1/customers/ha").await["sms_consent"], "unknown");
        // Twilio's Advanced Opt-Out names the keyword it recognised in the account's own words.
        reply_with(&app, &id, "+14155550177", "Arrêt", &[("OptOutType", "STOP")], Some(TOKEN)).await;
        assert_eq!(get(&app, &admin, "/v1/customers/ha").await["sms_consent"], "opted_out");
        reply(&app, &id, "+14155550177", "YES", Some(TOKEN)).await;
        assert_eq!(get(&app, &admin, "/v1/customers/ha").await["sms_consent"], "opted_in");
        // When Twilio has answered a HELP itself, it gets no second answer from us.
        let (_, body) = reply_with(&app, &id, "+14155550177", "Aide", &[("OptOutType", "HELP")], Some(TOKEN)).await;
        assert!(body.contains("<Response/>"), "{body}");
        let (_, body) = reply(&app, &id, "+14155550177", "help", Some(TOKEN)).await;
        assert!(body.contains("<Message>"), "{body}");

        // START from the number opts its customers in and lifts it.
        reply(&app, &id, "+14155550199", "START", Some(TOKEN)).await;
        assert_eq!(get(&app, &admin, "/v1/customers/bo").await["sms_consent"], "opted_in");
        let (status, cy) = post(&app, &admin, "/v1/customers", json!({"source_id": "cy", "phone": "+14155550199", "sms_consent": "opted_in"})).await;
        assert!(status.is_success(), "{cy}");
        assert_eq!(cy["sms_consent"], "opted_in");
    }
}
