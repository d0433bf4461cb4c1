//! Plivo: `POST {base}/v1/Account/{auth_id}/Message/`, JSON, HTTP Basic (auth id, auth token).
//! Plivo picks GSM-7 or Unicode itself. Status callbacks are form posts to the per-message
//! `url`, signed with `X-Plivo-Signature-V3` (or the older V2) under the auth token.

use super::{
    server_error, throttled, transport_failure,
    webhook::{common_status, plus, Credentials, Inbound, WebhookRequest, Webhooks},
    Accepted, Answer, Failure, OutgoingSms, SmsProvider,
};
use crate::services::deliveries::StatusReport;
use async_trait::async_trait;
use axum::http::Method;
use base64::{engine::general_purpose::STANDARD, Engine as _};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

pub const DEFAULT_BASE: &str = "https://api.plivo.com";

pub struct Plivo {
    pub http: reqwest::Client,
    pub base_url: String,
    pub auth_id: String,
    pub auth_token: String,
    pub src: String,
}

#[async_trait]
impl SmsProvider for Plivo {
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, Failure> {
        let mut body = json!({"src": self.src, "dst": sms.to, "text": sms.body, "type": "sms"});
        if let Some(cb) = &sms.status_callback {
            body["url"] = Value::String(cb.clone());
            body["method"] = Value::String("POST".into());
        }
        let response = self
            .http
            .post(format!(
                "{}/v1/Account/{}/Message/",
                self.base_url.trim_end_matches('/'),
                self.auth_id
            ))
            .basic_auth(&self.auth_id, Some(&self.auth_token))
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
            return match json["message_uuid"][0].as_str() {
                Some(id) => Ok(Accepted {
                    provider_id: id.to_owned(),
                    segments: None,
                    raw,
                }),
                None => Err(Failure::Ambiguous {
                    message: "Plivo answered without a message UUID.".into(),
                    raw,
                }),
            };
        }
        let code = status.as_u16().to_string();
        let message = json["error"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| json["error"].as_object().map(|_| json["error"].to_string()))
            .unwrap_or_else(|| "Plivo refused the message.".to_owned());
        if status.as_u16() == 429 {
            return Err(throttled(code, message, wait, raw));
        }
        if status.is_server_error() {
            return Err(server_error(status.as_u16(), code, message, raw));
        }
        // 400 (invalid src/dst, text), 401 (credentials), 403 (region not enabled)…
        Err(Failure::Permanent { code, message, raw })
    }
}

fn hmac_b64(token: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("HMAC takes any key");
    mac.update(message.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

fn sorted_pairs(params: &[(String, String)]) -> Vec<(String, String)> {
    let mut p = params.to_vec();
    p.sort();
    p
}

/// The string Plivo's signature V3 covers: the URL without its query, then for GET the query
/// and callback parameters sorted as `k=v&…`; for POST `?`, the sorted query and `.` (when the
/// URL has one), then each form field as `keyvalue` in key order; then `.nonce`.
pub fn v3_string(method: &Method, url: &str, form: &[(String, String)], nonce: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let query: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let joined = |pairs: &[(String, String)]| {
        sorted_pairs(pairs)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    };
    let mut out = base.to_owned();
    if *method == Method::GET {
        let all: Vec<(String, String)> = query.iter().chain(form.iter()).cloned().collect();
        if !all.is_empty() {
            out.push('?');
            out.push_str(&joined(&all));
        }
    } else if form.is_empty() {
        if !query.is_empty() {
            out.push('?');
            out.push_str(&joined(&query));
        }
    } else {
        out.push('?');
        if !query.is_empty() {
            out.push_str(&joined(&query));
            out.push('.');
        }
        for (k, v) in sorted_pairs(form) {
            out.push_str(&k);
            out.push_str(&v);
        }
    }
    out.push('.');
    out.push_str(nonce);
    out
}

/// Signature V3: base64 HMAC-SHA256 of `v3_string` under the auth token; the header may carry
/// several, comma-separated.
pub fn v3_valid(
    token: &str,
    method: &Method,
    url: &str,
    form: &[(String, String)],
    nonce: &str,
    header: &str,
) -> bool {
    let expected = hmac_b64(token, &v3_string(method, url, form, nonce));
    header
        .split(',')
        .any(|s| constant_eq(s.trim().as_bytes(), expected.as_bytes()))
}

/// Signature V2: base64 HMAC-SHA256 of the address without its query, followed by the nonce.
pub fn v2_valid(token: &str, url: &str, nonce: &str, header: &str) -> bool {
    let base = url.split('?').next().unwrap_or(url);
    let expected = hmac_b64(token, &format!("{base}{nonce}"));
    constant_eq(header.trim().as_bytes(), expected.as_bytes())
}

use super::signatures::constant_eq;

pub struct PlivoWebhooks;

/// The signature a request is checked by: V3 when it carries V3's signature and nonce, else V2.
enum Signed<'a> {
    V3 { signature: &'a str, nonce: &'a str },
    V2 { signature: &'a str, nonce: &'a str },
}

fn signed(req: &WebhookRequest) -> Option<Signed<'_>> {
    if let (Some(signature), Some(nonce)) = (
        req.header("x-plivo-signature-v3"),
        req.header("x-plivo-signature-v3-nonce"),
    ) {
        return Some(Signed::V3 { signature, nonce });
    }
    match (
        req.header("x-plivo-signature-v2")
            .or_else(|| req.header("x-plivo-signature-ma-v2")),
        req.header("x-plivo-signature-v2-nonce"),
    ) {
        (Some(signature), Some(nonce)) => Some(Signed::V2 { signature, nonce }),
        _ => None,
    }
}

impl Webhooks for PlivoWebhooks {
    fn verify(&self, req: &WebhookRequest, credentials: &Credentials) -> bool {
        let token = credentials
            .get("auth_token")
            .map(String::as_str)
            .unwrap_or_default();
        if token.is_empty() {
            return false;
        }
        // V3 signs the parameters too. Plivo's messaging callbacks may carry only V2, which
        // signs the address and a nonce. Neither signs a time: each nonce is accepted once
        // (`single_use`).
        match signed(req) {
            Some(Signed::V3 { signature, nonce }) => {
                v3_valid(token, &req.method, &req.url, &req.form, nonce, signature)
            }
            Some(Signed::V2 { signature, nonce }) => v2_valid(token, &req.url, nonce, signature),
            None => false,
        }
    }

    /// The nonce of the signature `verify` checked, marked with its version.
    fn single_use(&self, req: &WebhookRequest) -> Option<String> {
        match signed(req)? {
            Signed::V3 { nonce, .. } => Some(format!("v3:{nonce}")),
            Signed::V2 { nonce, .. } => Some(format!("v2:{nonce}")),
        }
    }

    fn status(&self, req: &WebhookRequest) -> Option<StatusReport> {
        let word = req.param("Status")?.to_owned();
        let error_code = req
            .param("ErrorCode")
            .filter(|c| !c.is_empty() && *c != "000" && *c != "0")
            .map(str::to_owned);
        Some(StatusReport {
            part: None,
            delivery_id: req.delivery_id(),
            provider_id: req.param("MessageUUID").map(str::to_owned),
            status: common_status(&word)?,
            error_message: error_code.as_deref().map(error_text),
            provider_status: word,
            error_code,
        })
    }

    fn inbound(&self, req: &WebhookRequest) -> Option<Inbound> {
        Some(Inbound {
            from: plus(req.param("From")?),
            text: req.param("Text").unwrap_or_default().to_owned(),
            recognised: None,
            answered: false,
        })
    }
}

/// What Plivo's delivery error codes mean.
fn error_text(code: &str) -> String {
    match code {
        "10" => "Invalid message.",
        "20" => "Network error (temporary).",
        "30" => "Spam detected.",
        "40" => "Invalid source number.",
        "50" => "Invalid destination number.",
        "200" => "The recipient opted out of messages from this sender.",
        "450" => "Sending to this country is not enabled.",
        "900" => "Insufficient credit.",
        _ => "Plivo reported an error; see its error code list.",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// plivo-go's V3 tests (call parameters; the scheme is the same for messages).
    fn params() -> Vec<(String, String)> {
        [
            ("Direction", "outbound"),
            ("From", "19792014278"),
            ("ALegUUID", "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"),
            ("CallStatus", "in-progress"),
            ("BillRate", "0.002"),
            ("ParentAuthID", "MANWVLYTK4ZWU1YTY4QA"),
            (
                "To",
                "sip:PlivoSignature382029104058171078704104@phone-qa.voice.plivodev.com",
            ),
            ("ALegRequestUUID", "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"),
            ("CallUUID", "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"),
            ("RequestUUID", "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"),
            (
                "SIP-H-To",
                "<sip:PlivoSignature382029104058171078704104@52.9.11.55;transport=udp>;tag=1",
            ),
            ("SessionStart", "2020-04-08 11:34:33.238707"),
            ("Event", "StartApp"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    const TOKEN: &str = "Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4";
    const NONCE: &str = "31627761595286130198";
    const WITH_QUERY: &str =
        "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml/?a=b&c=d";
    const WITHOUT: &str = "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml";

    #[test]
    fn published_v3_vectors() {
        let p = params();
        assert!(v3_valid(
            TOKEN,
            &Method::POST,
            WITH_QUERY,
            &p,
            NONCE,
            "k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c="
        ));
        assert!(v3_valid(
            TOKEN,
            &Method::GET,
            WITH_QUERY,
            &p,
            NONCE,
            "UBq8jAtd32wR8EK9VgxbBn4n5rpI/l1H9iN4WfSEHFQ="
        ));
        assert!(v3_valid(
            TOKEN,
            &Method::POST,
            WITHOUT,
            &p,
            NONCE,
            "iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0="
        ));
        assert!(v3_valid(
            TOKEN,
            &Method::GET,
            WITHOUT,
            &p,
            NONCE,
            "i/MQsaQSAd6fiKhOh2qeeeLHZ9faldADSb3/7+Akfbc="
        ));
        // One of several comma-separated signatures is enough; a wrong token or nonce is not.
        assert!(v3_valid(
            TOKEN,
            &Method::POST,
            WITHOUT,
            &p,
            NONCE,
            "bm9wZQ==, iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0="
        ));
        assert!(!v3_valid(
            "another-token",
            &Method::POST,
            WITHOUT,
            &p,
            NONCE,
            "iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0="
        ));
        assert!(!v3_valid(
            TOKEN,
            &Method::POST,
            WITHOUT,
            &p,
            "1",
            "iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0="
        ));
    }

    /// plivo-python's V2 test vector: the address without its query, and the nonce.
    #[test]
    fn published_v2_vector() {
        let sig = "ehV3IKhLysWBxC1sy8INm0qGoQYdYsHwuoKjsX7FsXc=";
        assert!(v2_valid(
            "my_auth_token",
            "https://answer.url",
            "12345",
            sig
        ));
        assert!(v2_valid(
            "my_auth_token",
            "https://answer.url?d=7.tag",
            "12345",
            sig
        ));
        assert!(!v2_valid(
            "my_auth_tokens",
            "https://answer.url",
            "12345",
            sig
        ));
        assert!(!v2_valid(
            "my_auth_token",
            "https://answer.url",
            "12346",
            sig
        ));
    }

    /// A signed request names the nonce of the signature it was checked by, to be used once:
    /// V2's, V3's, and V2's again when a V3 signature comes without its nonce (so the V2
    /// check cannot be had without the V2 nonce being spent).
    #[test]
    fn a_v2_request_names_its_nonce_for_single_use() {
        let request = |headers: &[(&'static str, &str)]| {
            let mut map = axum::http::HeaderMap::new();
            for (k, v) in headers {
                map.insert(*k, v.parse().unwrap());
            }
            WebhookRequest::new(
                Method::POST,
                "https://answer.url".into(),
                map,
                b"From=14155550100&Text=START".to_vec(),
                0,
            )
        };
        let credentials: Credentials =
            [("auth_token".to_owned(), "my_auth_token".to_owned())].into();
        let sig = "ehV3IKhLysWBxC1sy8INm0qGoQYdYsHwuoKjsX7FsXc=";
        let v2 = request(&[
            ("x-plivo-signature-v2", sig),
            ("x-plivo-signature-v2-nonce", "12345"),
        ]);
        assert!(PlivoWebhooks.verify(&v2, &credentials));
        assert_eq!(PlivoWebhooks.single_use(&v2).as_deref(), Some("v2:12345"));
        let main_account = request(&[
            ("x-plivo-signature-ma-v2", sig),
            ("x-plivo-signature-v2-nonce", "12345"),
        ]);
        assert!(PlivoWebhooks.verify(&main_account, &credentials));
        let forged = request(&[
            ("x-plivo-signature-v2", sig),
            ("x-plivo-signature-v2-nonce", "12346"),
        ]);
        assert!(!PlivoWebhooks.verify(&forged, &credentials));
        let unsigned = request(&[]);
        assert!(!PlivoWebhooks.verify(&unsigned, &credentials));
        let v3 = request(&[
            ("x-plivo-signature-v3", "x"),
            ("x-plivo-signature-v3-nonce", "1"),
        ]);
        assert_eq!(PlivoWebhooks.single_use(&v3).as_deref(), Some("v3:1"));
        let half_v3 = request(&[
            ("x-plivo-signature-v3", "x"),
            ("x-plivo-signature-v2", sig),
            ("x-plivo-signature-v2-nonce", "12345"),
        ]);
        assert!(PlivoWebhooks.verify(&half_v3, &credentials));
        assert_eq!(
            PlivoWebhooks.single_use(&half_v3).as_deref(),
            Some("v2:12345")
        );
    }
}
