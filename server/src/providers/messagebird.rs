//! MessageBird (Bird) SMS: `POST {base}/messages`, JSON, `Authorization: AccessKey {key}`.
//! Recipients go without their `+`. Status reports arrive as GET requests on the report URL,
//! signed with a `MessageBird-Signature-JWT` (HS256 under the signing key, binding the URL and
//! the body by their SHA-256).

use super::{
    server_error, throttled, transport_failure,
    webhook::{common_status, plus, Credentials, Inbound, WebhookRequest, Webhooks},
    Accepted, Answer, Failure, OutgoingSms, SmsProvider,
};
use crate::services::deliveries::StatusReport;
use async_trait::async_trait;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

pub const DEFAULT_BASE: &str = "https://rest.messagebird.com";
/// Clock skew allowed on the token's `nbf` and `exp`.
const LEEWAY_SECS: i64 = 1;

pub struct MessageBird {
    pub http: reqwest::Client,
    pub base_url: String,
    pub access_key: String,
    pub originator: String,
}

#[async_trait]
impl SmsProvider for MessageBird {
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, Failure> {
        let mut body = json!({
            "originator": self.originator,
            "recipients": [sms.to.trim_start_matches('+')],
            "body": sms.body,
            "datacoding": if sms.unicode { "unicode" } else { "plain" },
        });
        if let Some(cb) = &sms.status_callback {
            body["reportUrl"] = Value::String(cb.clone());
        }
        if !sms.reference.is_empty() {
            body["reference"] = Value::String(sms.reference.clone());
        }
        let response = self
            .http
            .post(format!("{}/messages", self.base_url.trim_end_matches('/')))
            .header("Authorization", format!("AccessKey {}", self.access_key))
            .json(&body)
            .send()
            .await
            .map_err(|e| transport_failure(&e))?;
        let Answer {
            status,
            retry_after: wait,
            json,
            raw,
        } = Answer::read(response).await?;
        if status.is_success() {
            return match json["id"].as_str() {
                Some(id) => Ok(Accepted {
                    provider_id: id.to_owned(),
                    segments: json["recipients"]["items"][0]["messagePartCount"]
                        .as_u64()
                        .map(|n| n as u32),
                    raw,
                }),
                None => Err(Failure::Ambiguous {
                    message: "MessageBird answered without a message id.".into(),
                    raw,
                }),
            };
        }
        let first = &json["errors"][0];
        let code = first["code"]
            .as_u64()
            .map(|c| c.to_string())
            .unwrap_or_else(|| status.as_u16().to_string());
        let message = first["description"]
            .as_str()
            .unwrap_or("MessageBird refused the message.")
            .to_owned();
        if status.as_u16() == 429 {
            return Err(throttled(code, message, wait, raw));
        }
        if status.is_server_error() {
            return Err(server_error(status.as_u16(), code, message, raw));
        }
        // 2 (access key), 9 (no valid recipients), 10 (invalid parameter), 25 (balance)…
        Err(Failure::Permanent { code, message, raw })
    }
}

/// Checks a `MessageBird-Signature-JWT`: HS256/384/512 under the signing key (its text as
/// bytes), issued by MessageBird, within its validity window (1 s of skew), for exactly this
/// URL and body (`payload_hash` present exactly when there is a body).
pub fn jwt_valid(signing_key: &str, token: &str, url: &str, body: &[u8], now: i64) -> bool {
    let mut parts = token.trim().split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok();
    let json = |p: &str| decode(p).and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let (Some(header), Some(claims), Some(given)) =
        (json(header_b64), json(claims_b64), decode(signature))
    else {
        return false;
    };
    let signed = format!("{header_b64}.{claims_b64}");
    let key = signing_key.as_bytes();
    let mac_ok = match header["alg"].as_str() {
        Some("HS256") => Hmac::<Sha256>::new_from_slice(key).is_ok_and(|mut m| {
            m.update(signed.as_bytes());
            m.verify_slice(&given).is_ok()
        }),
        Some("HS384") => Hmac::<Sha384>::new_from_slice(key).is_ok_and(|mut m| {
            m.update(signed.as_bytes());
            m.verify_slice(&given).is_ok()
        }),
        Some("HS512") => Hmac::<Sha512>::new_from_slice(key).is_ok_and(|mut m| {
            m.update(signed.as_bytes());
            m.verify_slice(&given).is_ok()
        }),
        // `none` and anything else.
        _ => false,
    };
    if !mac_ok || claims["iss"] != "MessageBird" {
        return false;
    }
    let in_window = claims["nbf"]
        .as_i64()
        .is_some_and(|nbf| nbf <= now + LEEWAY_SECS)
        && claims["exp"]
            .as_i64()
            .is_some_and(|exp| exp > now - LEEWAY_SECS);
    let url_ok = claims["url_hash"].as_str() == Some(&hex::encode(Sha256::digest(url.as_bytes())));
    let body_ok = match claims.get("payload_hash").filter(|v| !v.is_null()) {
        None => body.is_empty(),
        Some(hash) => !body.is_empty() && hash.as_str() == Some(&hex::encode(Sha256::digest(body))),
    };
    in_window && url_ok && body_ok
}

pub struct MessageBirdWebhooks;

impl Webhooks for MessageBirdWebhooks {
    fn verify(&self, req: &WebhookRequest, credentials: &Credentials) -> bool {
        let key = credentials
            .get("signing_key")
            .map(String::as_str)
            .unwrap_or_default();
        let token = req.header("messagebird-signature-jwt").unwrap_or_default();
        !key.is_empty() && jwt_valid(key, token, &req.url, &req.body, req.now)
    }

    fn status(&self, req: &WebhookRequest) -> Option<StatusReport> {
        let word = req.field("status")?;
        let error_code = req
            .field("statusErrorCode")
            .filter(|c| !c.is_empty() && c != "0");
        Some(StatusReport {
            part: None,
            delivery_id: req.delivery_id(),
            provider_id: req.field("id"),
            status: common_status(&word)?,
            error_message: error_code
                .as_ref()
                .map(|c| format!("MessageBird reported error {c} ({word}).")),
            provider_status: word,
            error_code,
        })
    }

    fn inbound(&self, req: &WebhookRequest) -> Option<Inbound> {
        Some(Inbound {
            from: plus(&req.field("originator")?),
            text: req
                .field("body")
                .or_else(|| req.field("payload"))
                .unwrap_or_default(),
            recognised: None,
            answered: false,
        })
    }
}
