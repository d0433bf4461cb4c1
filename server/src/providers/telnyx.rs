//! Telnyx Messaging v2: `POST {base}/v2/messages`, JSON, `Authorization: Bearer {api key}`.
//! Each request carries an `Idempotency-Key` (our delivery id), so a retry after a lost answer
//! cannot send twice. Webhooks are JSON events signed with Ed25519 over `timestamp|body`.

use super::{
    server_error, throttled, transport_failure,
    webhook::{common_status, plus, Credentials, Inbound, WebhookRequest, Webhooks},
    Accepted, Answer, Failure, OutgoingSms, SmsProvider,
};
use crate::services::deliveries::StatusReport;
use async_trait::async_trait;
use base64::{engine::general_purpose::STANDARD, Engine as _};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::{json, Value};

pub const DEFAULT_BASE: &str = "https://api.telnyx.com";
/// How old a signed webhook may be.
pub const TOLERANCE_SECS: i64 = 300;

pub struct Telnyx {
    pub http: reqwest::Client,
    pub base_url: String,
    pub api_key: String,
    pub from: String,
}

#[async_trait]
impl SmsProvider for Telnyx {
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, Failure> {
        let mut body = json!({"from": self.from, "to": sms.to, "text": sms.body});
        if let Some(cb) = &sms.status_callback {
            body["webhook_url"] = Value::String(cb.clone());
            body["use_profile_webhooks"] = Value::Bool(false);
        }
        let mut request = self
            .http
            .post(format!(
                "{}/v2/messages",
                self.base_url.trim_end_matches('/')
            ))
            .bearer_auth(&self.api_key)
            .json(&body);
        if !sms.reference.is_empty() {
            request = request.header("Idempotency-Key", format!("codecast-{}", sms.reference));
        }
        let response = request.send().await.map_err(|e| transport_failure(&e))?;
        // Telnyx says when its window resets (x-ratelimit-reset) rather than Retry-After.
        let Answer {
            status,
            retry_after: wait,
            json,
            raw,
        } = Answer::read(response).await?;
        if status.is_success() {
            return match json["data"]["id"].as_str() {
                Some(id) => Ok(Accepted {
                    provider_id: id.to_owned(),
                    segments: json["data"]["parts"].as_u64().map(|n| n as u32),
                    raw,
                }),
                None => Err(Failure::Ambiguous {
                    message: "Telnyx answered without a message id.".into(),
                    raw,
                }),
            };
        }
        let first = &json["errors"][0];
        let code = first["code"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| first["code"].as_u64().map(|c| c.to_string()))
            .unwrap_or_else(|| status.as_u16().to_string());
        let message = match (first["title"].as_str(), first["detail"].as_str()) {
            (Some(t), Some(d)) => format!("{t}: {d}"),
            (Some(t), None) => t.to_owned(),
            (None, Some(d)) => d.to_owned(),
            (None, None) => "Telnyx refused the message.".to_owned(),
        };
        if status.as_u16() == 429 {
            return Err(throttled(code, message, wait, raw));
        }
        if status.is_server_error() {
            return Err(server_error(status.as_u16(), code, message, raw));
        }
        // 40300 (409: the recipient sent STOP), 10002 invalid number, 10009 authentication…
        Err(Failure::Permanent { code, message, raw })
    }
}

/// Whether `signature` (base64) is Telnyx's Ed25519 signature of `timestamp|body` under the
/// account's public key (base64 of 32 bytes), and the timestamp is recent.
pub fn signature_valid(
    public_key: &str,
    timestamp: &str,
    body: &[u8],
    signature: &str,
    now: i64,
) -> bool {
    let Ok(ts) = timestamp.trim().parse::<i64>() else {
        return false;
    };
    if (now - ts).abs() > TOLERANCE_SECS {
        return false;
    }
    let mut message = Vec::with_capacity(timestamp.len() + 1 + body.len());
    message.extend_from_slice(timestamp.trim().as_bytes());
    message.push(b'|');
    message.extend_from_slice(body);
    ed25519_valid(public_key, &message, signature)
}

/// An Ed25519 signature check with the key and signature in base64.
pub fn ed25519_valid(public_key: &str, message: &[u8], signature: &str) -> bool {
    let key: Option<[u8; 32]> = STANDARD
        .decode(public_key.trim())
        .ok()
        .and_then(|k| k.try_into().ok());
    let Some(key) = key.and_then(|k| VerifyingKey::from_bytes(&k).ok()) else {
        return false;
    };
    let Some(sig) = STANDARD
        .decode(signature.trim())
        .ok()
        .and_then(|s| Signature::from_slice(&s).ok())
    else {
        return false;
    };
    key.verify(message, &sig).is_ok()
}

pub struct TelnyxWebhooks;

impl Webhooks for TelnyxWebhooks {
    fn verify(&self, req: &WebhookRequest, credentials: &Credentials) -> bool {
        let key = credentials
            .get("public_key")
            .map(String::as_str)
            .unwrap_or_default();
        match (
            req.header("telnyx-signature-ed25519"),
            req.header("telnyx-timestamp"),
        ) {
            (Some(sig), Some(ts)) => signature_valid(key, ts, &req.body, sig, req.now),
            _ => false,
        }
    }

    fn status(&self, req: &WebhookRequest) -> Option<StatusReport> {
        let data = &req.json["data"];
        let event = data["event_type"].as_str()?;
        if !matches!(event, "message.sent" | "message.finalized") {
            return None;
        }
        let payload = &data["payload"];
        let word = payload["to"][0]["status"].as_str()?.to_owned();
        let error = &payload["errors"][0];
        let error_code = error["code"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| error["code"].as_u64().map(|c| c.to_string()));
        Some(StatusReport {
            part: None,
            delivery_id: req.delivery_id(),
            provider_id: payload["id"].as_str().map(str::to_owned),
            status: common_status(&word)?,
            provider_status: word,
            error_message: error_code.as_ref().map(|_| {
                error["detail"]
                    .as_str()
                    .or_else(|| error["title"].as_str())
                    .unwrap_or("Telnyx reported an error.")
                    .to_owned()
            }),
            error_code,
        })
    }

    fn inbound(&self, req: &WebhookRequest) -> Option<Inbound> {
        let data = &req.json["data"];
        if data["event_type"].as_str()? != "message.received" {
            return None;
        }
        let payload = &data["payload"];
        Some(Inbound {
            from: plus(payload["from"]["phone_number"].as_str()?),
            text: payload["text"].as_str().unwrap_or_default().to_owned(),
            recognised: None,
            answered: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 §7.1 TEST 2: a published Ed25519 vector for the primitive.
    #[test]
    fn rfc_8032_vector() {
        let public =
            hex::decode("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
                .unwrap();
        let sig = hex::decode("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00").unwrap();
        assert!(ed25519_valid(
            &STANDARD.encode(&public),
            &[0x72],
            &STANDARD.encode(&sig)
        ));
        assert!(!ed25519_valid(
            &STANDARD.encode(&public),
            &[0x73],
            &STANDARD.encode(&sig)
        ));
    }

    /// Telnyx's scheme (`timestamp|body`) with the RFC 8032 TEST 1 key; Ed25519 is
    /// deterministic, so the signature is fixed.
    #[test]
    fn a_telnyx_webhook_signature() {
        let key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
        let body = br#"{"data":{"event_type":"message.finalized","id":"evt-1"}}"#;
        let sig = "13rfMyemqqHfF86RnH1y2FXjydfjq17WePVa67ADH8uoZOy4mP6PaBkN7Pc7WjwVeel05aQh7TNX1xP92tZkDw==";
        assert!(signature_valid(key, "1700000000", body, sig, 1_700_000_100));
        assert!(
            !signature_valid(key, "1700000000", body, sig, 1_700_000_400),
            "older than 5 minutes"
        );
        assert!(
            !signature_valid(key, "1700000001", body, sig, 1_700_000_100),
            "another timestamp"
        );
        assert!(
            !signature_valid(key, "1700000000", b"{}", sig, 1_700_000_100),
            "another body"
        );
        assert!(!signature_valid(
            "not base64!",
            "1700000000",
            body,
            sig,
            1_700_000_100
        ));
    }
}
