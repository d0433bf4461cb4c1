//! Vonage SMS API: `POST {base}/sms/json`, form-encoded, `api_key`/`api_secret` in the body,
//! numbers without `+`, `type=unicode` for UCS-2. It answers HTTP 200 even when it refuses:
//! each part carries its own `status` ("0" sent, "1" throttled, …).
//!
//! Webhooks (delivery receipts and inbound messages) come as GET, form or JSON. They are signed
//! only when the account has signed webhooks: a `sig` over the sorted parameters with the
//! signature secret (MD5 hash by default, or HMAC-MD5/SHA1/SHA256/SHA512).

use super::{
    server_error, throttled, transport_failure,
    webhook::{common_status, plus, Credentials, Inbound, WebhookRequest, Webhooks},
    Accepted, Answer, Failure, OutgoingSms, SmsProvider,
};
use crate::services::deliveries::StatusReport;
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

pub const DEFAULT_BASE: &str = "https://rest.nexmo.com";
/// How old a signed webhook's `timestamp` may be (Vonage publishes no window).
pub const TOLERANCE_SECS: i64 = 300;

pub struct Vonage {
    pub http: reqwest::Client,
    pub base_url: String,
    pub api_key: String,
    pub api_secret: String,
    pub from: String,
}

#[async_trait]
impl SmsProvider for Vonage {
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, Failure> {
        let to = sms.to.trim_start_matches('+');
        let mut form: Vec<(&str, &str)> = vec![
            ("api_key", &self.api_key),
            ("api_secret", &self.api_secret),
            ("from", &self.from),
            ("to", to),
            ("text", &sms.body),
        ];
        if sms.unicode {
            form.push(("type", "unicode"));
        }
        if let Some(cb) = &sms.status_callback {
            form.push(("callback", cb));
        }
        if !sms.reference.is_empty() {
            form.push(("client-ref", &sms.reference));
        }
        let response = self
            .http
            .post(format!("{}/sms/json", self.base_url.trim_end_matches('/')))
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_failure(&e))?;
        let Answer {
            status,
            retry_after: wait,
            json,
            raw,
        } = Answer::read(response).await?;
        if status.as_u16() == 429 {
            return Err(throttled(
                "429".into(),
                "Vonage: too many requests.".into(),
                wait,
                raw,
            ));
        }
        if status.is_server_error() {
            return Err(server_error(
                status.as_u16(),
                status.as_u16().to_string(),
                "Vonage is unavailable.".into(),
                raw,
            ));
        }
        if !status.is_success() {
            return Err(Failure::Permanent {
                code: status.as_u16().to_string(),
                message: json["error-text"]
                    .as_str()
                    .unwrap_or("Vonage refused the request.")
                    .to_owned(),
                raw,
            });
        }
        let parts = json["messages"].as_array().cloned().unwrap_or_default();
        let refused = parts.iter().find(|p| p["status"].as_str() != Some("0"));
        match (refused, parts.first()) {
            (None, Some(first)) => match first["message-id"].as_str() {
                Some(id) => Ok(Accepted {
                    provider_id: id.to_owned(),
                    segments: Some(parts.len() as u32),
                    raw,
                }),
                None => Err(Failure::Ambiguous {
                    message: "Vonage answered without a message id.".into(),
                    raw,
                }),
            },
            (Some(part), _) => {
                let code = part["status"].as_str().unwrap_or_default().to_owned();
                let message = part["error-text"]
                    .as_str()
                    .unwrap_or("Vonage refused the message.")
                    .to_owned();
                let some_sent = parts.iter().any(|p| p["status"].as_str() == Some("0"));
                Err(match code.as_str() {
                    // Part of a long message went out: sending again would repeat it.
                    _ if some_sent => Failure::Ambiguous {
                        message: format!("Vonage sent only some parts: {message}"),
                        raw,
                    },
                    "1" => throttled(code, message, wait, raw),
                    // Internal error, too many binds: nothing was sent; try again later.
                    "5" | "10" => Failure::Retryable {
                        code,
                        message,
                        retry_after: None,
                        throttled: false,
                        raw,
                    },
                    // 2/3 parameters, 4 credentials, 6 invalid message/number, 7 number barred,
                    // 9 no credit, 15 bad sender, 29 non-whitelisted destination…
                    _ => Failure::Permanent { code, message, raw },
                })
            }
            (None, None) => Err(Failure::Ambiguous {
                message: "Vonage answered without any message part.".into(),
                raw,
            }),
        }
    }
}

/// The string Vonage signs: every parameter but `sig`, sorted by name (bytewise), as
/// `&name=value`, with `&` and `=` inside values replaced by `_`.
pub fn signed_string(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "sig").collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    sorted
        .iter()
        .map(|(k, v)| format!("&{k}={}", v.replace(['&', '='], "_")))
        .collect()
}

/// The `sig` Vonage computes with `method`: md5hash (the default: MD5 of the string followed
/// by the secret) or md5, sha1, sha256, sha512 (HMACs under the secret). Lowercase hex.
pub fn signature(method: &str, secret: &str, params: &[(String, String)]) -> Option<String> {
    let text = signed_string(params);
    fn hmac_hex<M: Mac + hmac::digest::KeyInit>(secret: &str, text: &str) -> String {
        let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes any key");
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
    Some(match method {
        "" | "md5hash" => hex::encode(Md5::digest(format!("{text}{secret}").as_bytes())),
        "md5" => hmac_hex::<Hmac<Md5>>(secret, &text),
        "sha1" => hmac_hex::<Hmac<Sha1>>(secret, &text),
        "sha256" => hmac_hex::<Hmac<Sha256>>(secret, &text),
        "sha512" => hmac_hex::<Hmac<Sha512>>(secret, &text),
        _ => return None,
    })
}

/// Whether the parameters carry a valid `sig` and a recent `timestamp`.
pub fn signature_valid(method: &str, secret: &str, params: &[(String, String)], now: i64) -> bool {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (Some(sig), Some(ts)) = (
        get("sig"),
        get("timestamp").and_then(|t| t.parse::<i64>().ok()),
    ) else {
        return false;
    };
    if secret.is_empty() || (now - ts).abs() > TOLERANCE_SECS {
        return false;
    }
    signature(method, secret, params).is_some_and(|expected| {
        let given = sig.trim().to_ascii_lowercase();
        super::signatures::constant_eq(given.as_bytes(), expected.as_bytes())
    })
}

/// Every parameter of a webhook, whichever way it came (query, form or JSON).
fn params(req: &WebhookRequest) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = req.form.clone();
    if let Some(obj) = req.json.as_object() {
        for (k, v) in obj {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            all.push((k.clone(), text));
        }
    }
    // Our own `d` is part of the callback URL we gave, and Vonage signs what it sends.
    all.extend(req.query.iter().filter(|(k, _)| k != "d").cloned());
    all
}

pub struct VonageWebhooks;

impl Webhooks for VonageWebhooks {
    fn verify(&self, req: &WebhookRequest, credentials: &Credentials) -> bool {
        let secret = credentials
            .get("signature_secret")
            .map(String::as_str)
            .unwrap_or_default();
        let method = credentials
            .get("signature_method")
            .map(|m| m.trim().to_ascii_lowercase())
            .unwrap_or_default();
        signature_valid(&method, secret, &params(req), req.now)
    }

    fn status(&self, req: &WebhookRequest) -> Option<StatusReport> {
        let word = req.field("status")?;
        let status = match word.as_str() {
            // Vonage's "accepted"/"buffered" are on the way; "unknown" says nothing new.
            "unknown" => return None,
            other => common_status(other)?,
        };
        let error_code = req.field("err-code").filter(|c| !c.is_empty() && c != "0");
        Some(StatusReport {
            delivery_id: req.delivery_id(),
            provider_id: req.field("messageId"),
            // A long message's parts are reported one by one, each with its own id.
            part: req.field("messageId"),
            status,
            error_message: error_code.as_deref().map(error_text),
            provider_status: word,
            error_code,
        })
    }

    fn inbound(&self, req: &WebhookRequest) -> Option<Inbound> {
        Some(Inbound {
            from: plus(&req.field("msisdn")?),
            text: req.field("text").unwrap_or_default(),
            recognised: None,
            answered: false,
        })
    }
}

/// What Vonage's delivery receipt error codes mean.
fn error_text(code: &str) -> String {
    match code {
        "1" => "Unknown.",
        "2" => "Absent subscriber (temporary).",
        "3" => "Absent subscriber (permanent).",
        "4" => "Call barred by the user.",
        "5" => "Portability error.",
        "6" => "Anti-spam rejection.",
        "7" => "Handset busy.",
        "8" => "Network error.",
        "9" => "Illegal number: the recipient asked not to receive messages from this service.",
        "10" => "Illegal message.",
        "11" => "Unroutable.",
        "12" => "Destination unreachable.",
        "13" => "Subscriber age restriction.",
        "14" => "Number blocked by the carrier.",
        "15" => "Pre-paid: insufficient funds.",
        _ => "Vonage reported an error.",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Vonage's Python SDK (3.x) tests: `{"a":"1","b":"2","timestamp":"1461605396"}`, secret
    /// `secret`.
    #[test]
    fn published_vectors_for_every_method() {
        let params = pairs(&[("a", "1"), ("b", "2"), ("timestamp", "1461605396")]);
        assert_eq!(signed_string(&params), "&a=1&b=2&timestamp=1461605396");
        let expect = [
            ("md5hash", "6af838ef94998832dbfc29020b564830"),
            ("md5", "c15c21ced558c93a226c305f58f902f2"),
            ("sha1", "3e19a4e6880fdc2c1426bfd0587c98b9532f0210"),
            ("sha256", "a321e824b9b816be7c3f28859a31749a098713d39f613c80d455bbaffae1cd24"),
            ("sha512", "812a18f76680fa0fe1b8bd9ee1625466ceb1bd96242e4d050d2cfd9a7b40166c63ed26ec9702168781b6edcf1633db8ff95af9341701004eec3fcf9550572ee8"),
        ];
        for (method, sig) in expect {
            assert_eq!(
                signature(method, "secret", &params).as_deref(),
                Some(sig),
                "{method}"
            );
        }
        assert_eq!(signature("rot13", "secret", &params), None);
    }

    /// An inbound SMS from Vonage's Node SDK tests, with uppercase HMAC signatures.
    #[test]
    fn a_signed_inbound_message_verifies_in_any_case() {
        let mut params = pairs(&[
            ("message-timestamp", "2013-11-21 15:27:30"),
            ("messageId", "020000001B0FE827"),
            ("msisdn", "14843472194"),
            ("text", "Test again"),
            ("timestamp", "1385047698"),
            ("to", "13239877404"),
            ("type", "text"),
        ]);
        assert!(
            signed_string(&params).starts_with("&message-timestamp=2013-11-21 15:27:30&messageId=")
        );
        let secret = "my_secret_key_for_testing";
        let now = 1385047698 + 10;
        params.push((
            "sig".into(),
            "DDB8397C2B90AAC7F3882D306475C9A5058C92322EEF43C92B298B6E0FC0D330".into(),
        ));
        assert!(signature_valid("sha256", secret, &params, now));
        params.last_mut().unwrap().1 = "d2e7b1dc968737c5998ad624e02f90b7".into();
        assert!(signature_valid("md5hash", secret, &params, now));
        assert!(!signature_valid("md5hash", "another secret", &params, now));
        assert!(
            !signature_valid("md5hash", secret, &params, now + 3600),
            "too old"
        );
        params[3].1 = "STOP".into();
        assert!(
            !signature_valid("md5hash", secret, &params, now),
            "altered text"
        );
    }

    #[test]
    fn separators_inside_values_are_replaced() {
        let params = pairs(&[
            ("param1", "value&1"),
            ("param2", "value=2"),
            ("timestamp", "1234567890"),
        ]);
        assert_eq!(
            signed_string(&params),
            "&param1=value_1&param2=value_2&timestamp=1234567890"
        );
        assert_eq!(
            signature("md5", "signature_secret", &params).as_deref(),
            Some("2bbf0abafb2c55e5af6231513896a2ac")
        );
    }
}
