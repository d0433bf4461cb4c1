//! Twilio Programmable Messaging: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`,
//! form-encoded, HTTP Basic auth with the account SID and auth token.

use super::{
    retry_after, transport_failure, Accepted, Failure, OutgoingSms, RawAnswer, SmsProvider,
};
use async_trait::async_trait;
use serde_json::Value;

pub const DEFAULT_BASE: &str = "https://api.twilio.com";

pub struct Twilio {
    pub http: reqwest::Client,
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: String,
    /// A From number or alphanumeric id, unless a messaging service sends.
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
}

#[async_trait]
impl SmsProvider for Twilio {
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, Failure> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base_url.trim_end_matches('/'),
            self.account_sid
        );
        let mut form: Vec<(&str, &str)> = vec![("To", &sms.to), ("Body", &sms.body)];
        match (&self.messaging_service_sid, &self.from) {
            (Some(service), _) => form.push(("MessagingServiceSid", service)),
            (None, Some(from)) => form.push(("From", from)),
            (None, None) => {}
        }
        if let Some(cb) = &sms.status_callback {
            form.push(("StatusCallback", cb));
        }
        let response = self
            .http
            .post(url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_failure(&e))?;
        let status = response.status();
        let wait = retry_after(response.headers());
        let body = response.text().await.map_err(|e| transport_failure(&e))?;
        let raw = RawAnswer {
            http_status: Some(status.as_u16()),
            body: body.clone(),
        };
        let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if status.is_success() {
            return match json["sid"].as_str() {
                Some(sid) => Ok(Accepted {
                    provider_id: sid.to_owned(),
                    // Twilio sends the count as a string ("2").
                    segments: json["num_segments"]
                        .as_str()
                        .and_then(|n| n.parse().ok())
                        .or_else(|| json["num_segments"].as_u64().map(|n| n as u32)),
                    raw,
                }),
                None => Err(Failure::Ambiguous {
                    message: "Twilio answered without a message SID.".into(),
                    raw,
                }),
            };
        }
        // Classic `{code, message}` or RFC 9457 problem JSON (`{type, title, detail, code?}`).
        let code = json["code"]
            .as_u64()
            .map(|c| c.to_string())
            .or_else(|| json["code"].as_str().map(str::to_owned))
            .unwrap_or_else(|| status.as_u16().to_string());
        let message = json["message"]
            .as_str()
            .or_else(|| json["detail"].as_str())
            .or_else(|| json["title"].as_str())
            .unwrap_or("Twilio refused the message.")
            .to_owned();
        if status.as_u16() == 429 || code == "20429" {
            return Err(Failure::Retryable {
                code,
                message,
                retry_after: wait,
                raw,
            });
        }
        if status.is_server_error() {
            return Err(Failure::Ambiguous { message, raw });
        }
        // Every other 4xx (21211 invalid To, 21610 replied STOP, 21614 not mobile, 21617 too
        // long, 20003 authentication, …) fails the same way again.
        Err(Failure::Permanent { code, message, raw })
    }
}
