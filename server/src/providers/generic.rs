//! A generic HTTP gateway: Codecast POSTs each message as JSON to the admin's URL, signed per
//! Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64
//! HMAC-SHA256 of "id.timestamp.body">`). The gateway answers 2xx with `{"id", "segments"?}`.
//! It reports statuses and forwards replies the same way, signed with the same secret.
//!
//! The URL is the admin's, so it is guarded against server-side request forgery: no private,
//! loopback or link-local addresses (checked on every connection, after DNS, so a name cannot
//! rebind to one) unless `CODECAST_ALLOW_PRIVATE_GATEWAYS` allows them; no redirects.

use super::{
    server_error, throttled, transport_failure,
    webhook::{common_status, plus, Credentials, Inbound, WebhookRequest, Webhooks},
    Accepted, Answer, Failure, OutgoingSms, RawAnswer, SmsProvider,
};
use crate::services::deliveries::StatusReport;
use async_trait::async_trait;
use base64::{engine::general_purpose::STANDARD, Engine as _};
use hmac::{Hmac, Mac};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::json;
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};

/// How old a signed webhook may be, either way.
pub const TOLERANCE_SECS: i64 = 300;

pub struct Generic {
    pub http: reqwest::Client,
    pub url: String,
    pub secret: String,
    pub from: Option<String>,
    pub allow_private: bool,
}

#[async_trait]
impl SmsProvider for Generic {
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, Failure> {
        if let Err(message) = check_target(&self.url, self.allow_private) {
            return Err(Failure::Permanent {
                code: "forbidden_target".into(),
                message,
                raw: RawAnswer {
                    http_status: None,
                    body: String::new(),
                },
            });
        }
        let body = json!({
            "type": "message.send",
            "reference": sms.reference,
            "to": sms.to,
            "from": self.from,
            "text": sms.body,
            "encoding": if sms.unicode { "UCS-2" } else { "GSM-7" },
            "status_url": sms.status_callback,
        })
        .to_string();
        // The same id on every attempt, so the gateway can drop a repeat.
        let id = format!("msg_{}", sms.reference);
        let timestamp = chrono::Utc::now().timestamp();
        let signature = sign(&self.secret, &id, timestamp, body.as_bytes());
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
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
            let provider_id = json["id"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| json["id"].as_u64().map(|n| n.to_string()))
                .unwrap_or(id);
            return Ok(Accepted {
                provider_id,
                segments: json["segments"].as_u64().map(|n| n as u32),
                raw,
            });
        }
        let error = if json["error"].is_object() {
            &json["error"]
        } else {
            &json
        };
        let code = error["code"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| error["code"].as_u64().map(|c| c.to_string()))
            .unwrap_or_else(|| status.as_u16().to_string());
        let message = error["message"]
            .as_str()
            .or_else(|| json["error"].as_str())
            .unwrap_or("The gateway refused the message.")
            .to_owned();
        if status.as_u16() == 429 {
            return Err(throttled(code, message, wait, raw));
        }
        if status.is_server_error() {
            return Err(server_error(status.as_u16(), code, message, raw));
        }
        Err(Failure::Permanent { code, message, raw })
    }
}

/// The secret's key bytes: base64 after a `whsec_` prefix, else the text itself.
fn key_bytes(secret: &str) -> Vec<u8> {
    match secret.trim().strip_prefix("whsec_") {
        Some(b64) => STANDARD
            .decode(b64)
            .unwrap_or_else(|_| b64.as_bytes().to_vec()),
        None => secret.trim().as_bytes().to_vec(),
    }
}

fn mac(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key_bytes(secret)).expect("HMAC takes any key");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// `v1,<base64 HMAC-SHA256>` of `id.timestamp.body`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        STANDARD.encode(mac(secret, id, timestamp, body).finalize().into_bytes())
    )
}

/// Whether any of the space-separated `v1,` signatures matches, within the tolerance.
pub fn verify(
    secret: &str,
    id: &str,
    timestamp: &str,
    body: &[u8],
    signatures: &str,
    now: i64,
) -> bool {
    let Ok(ts) = timestamp.trim().parse::<i64>() else {
        return false;
    };
    if (now - ts).abs() > TOLERANCE_SECS || secret.trim().is_empty() {
        return false;
    }
    signatures.split_whitespace().any(|s| {
        s.strip_prefix("v1,")
            .and_then(|b64| STANDARD.decode(b64).ok())
            .is_some_and(|given| mac(secret, id, ts, body).verify_slice(&given).is_ok())
    })
}

/// Refuses URLs whose host is a private, loopback, link-local or otherwise internal address
/// literal (names are checked when resolved, by `GuardedResolver`).
pub fn check_target(url: &str, allow_private: bool) -> Result<(), String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|_| "The gateway URL is not a valid URL.".to_owned())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("The gateway URL must be http or https.".into());
    }
    let ip = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
        None => return Err("The gateway URL has no host.".into()),
    };
    match ip {
        Some(ip) if !allow_private && internal(ip) => Err(format!(
            "The gateway address {ip} is private, loopback or link-local; set CODECAST_ALLOW_PRIVATE_GATEWAYS=true to allow it."
        )),
        _ => Ok(()),
    }
}

/// Addresses a gateway URL must not reach by default.
pub fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                // 100.64.0.0/10 (carrier-grade NAT) and 0.0.0.0/8.
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
                || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local
                || (seg[0] & 0xffc0) == 0xfe80 // link-local
                || v6.to_ipv4_mapped().is_some_and(|v4| internal(IpAddr::V4(v4)))
        }
    }
}

/// Resolves names and drops internal addresses, so a gateway name cannot point Codecast at
/// the machine's own network.
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !internal(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(
                    format!("{host} resolves only to private or internal addresses").into(),
                );
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

pub struct GenericWebhooks;

impl Webhooks for GenericWebhooks {
    fn verify(&self, req: &WebhookRequest, credentials: &Credentials) -> bool {
        let secret = credentials
            .get("signing_secret")
            .map(String::as_str)
            .unwrap_or_default();
        match (
            req.header("webhook-id"),
            req.header("webhook-timestamp"),
            req.header("webhook-signature"),
        ) {
            (Some(id), Some(ts), Some(sig)) => verify(secret, id, ts, &req.body, sig, req.now),
            _ => false,
        }
    }

    /// `{"type": "message.status", "id", "status", "error_code"?, "error_message"?}`.
    fn status(&self, req: &WebhookRequest) -> Option<StatusReport> {
        let word = req.json["status"].as_str()?.to_owned();
        let error_code = req.json["error_code"].as_str().map(str::to_owned);
        Some(StatusReport {
            part: None,
            delivery_id: req.delivery_id(),
            provider_id: req.json["id"].as_str().map(str::to_owned),
            status: common_status(&word)?,
            provider_status: word,
            error_message: req.json["error_message"].as_str().map(str::to_owned),
            error_code,
        })
    }

    /// `{"type": "message.received", "from", "text"}`.
    fn inbound(&self, req: &WebhookRequest) -> Option<Inbound> {
        Some(Inbound {
            from: plus(req.json["from"].as_str()?),
            text: req.json["text"].as_str().unwrap_or_default().to_owned(),
            recognised: None,
            answered: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks reference libraries' vectors.
    #[test]
    fn published_vectors() {
        let body = br#"{"test": 2432232314}"#;
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        assert_eq!(
            sign(secret, id, 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(
            sign(
                "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
        let now = 1614265330 + 60;
        let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert!(verify(secret, id, "1614265330", body, good, now));
        // Rotation: any listed signature may match.
        assert!(verify(
            secret,
            id,
            "1614265330",
            body,
            &format!("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {good}"),
            now
        ));
        assert!(!verify(
            secret,
            id,
            "1614265330",
            body,
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            now
        ));
        assert!(!verify(
            secret,
            id,
            "1614265330",
            body,
            &good.replace("v1,", "v2,"),
            now
        ));
        assert!(
            !verify(secret, id, "1614265330", body, good, now + 600),
            "outside the tolerance"
        );
        assert!(!verify(
            secret,
            id,
            "1614265330",
            br#"{"test": 1}"#,
            good,
            now
        ));
    }

    #[test]
    fn internal_targets_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/sms",
            "http://10.1.2.3/",
            "http://169.254.169.254/latest",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::ffff:192.168.1.1]/",
        ] {
            assert!(check_target(url, false).is_err(), "{url}");
            assert!(check_target(url, true).is_ok(), "{url}");
        }
        assert!(check_target("https://gateway.example.com/sms", false).is_ok());
        assert!(check_target("https://93.184.216.34/sms", false).is_ok());
        assert!(check_target("ftp://gateway.example.com", false).is_err());
    }
}
