//! What providers post back: delivery statuses and inbound messages. Each provider signs its
//! webhooks its own way and names its fields its own way; this is the request as received,
//! and the trait each provider module implements over it.

use crate::services::deliveries::StatusReport;
use axum::http::{HeaderMap, Method};
use std::collections::BTreeMap;

pub type Credentials = BTreeMap<String, String>;

/// A webhook request as the provider sent it.
pub struct WebhookRequest {
    pub method: Method,
    /// The URL the provider called, as it knows it (the public URL plus path and query).
    pub url: String,
    pub headers: HeaderMap,
    /// The raw body, for signatures over bytes.
    pub body: Vec<u8>,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// Form fields (urlencoded bodies).
    pub form: Vec<(String, String)>,
    /// The body parsed as JSON, when it is JSON.
    pub json: serde_json::Value,
    /// Seconds since the Unix epoch, for timestamp tolerances.
    pub now: i64,
}

impl WebhookRequest {
    pub fn new(method: Method, url: String, headers: HeaderMap, body: Vec<u8>, now: i64) -> Self {
        let query = url
            .split_once('?')
            .map(|(_, q)| pairs(q.as_bytes()))
            .unwrap_or_default();
        let content_type = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let form = if content_type.starts_with("application/x-www-form-urlencoded") {
            pairs(&body)
        } else {
            Vec::new()
        };
        let json = if content_type.contains("json") {
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null)
        } else {
            serde_json::Value::Null
        };
        Self {
            method,
            url,
            headers,
            body,
            query,
            form,
            json,
            now,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A form field, else a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .chain(self.query.iter())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A field from the JSON body, a form field or a query parameter, whichever has it.
    pub fn field(&self, name: &str) -> Option<String> {
        match &self.json[name] {
            serde_json::Value::String(s) => return Some(s.clone()),
            serde_json::Value::Number(n) => return Some(n.to_string()),
            _ => {}
        }
        self.param(name).map(str::to_owned)
    }

    /// Our delivery id, which every status callback URL carries as `d` (`42.<tag>`; the
    /// webhook handler checks the tag before the id is believed).
    pub fn delivery_id(&self) -> Option<i64> {
        self.delivery_param()
            .and_then(|d| d.split('.').next())
            .and_then(|id| id.parse().ok())
    }

    /// The tag beside the delivery id in `d`, if there is one.
    pub fn delivery_tag(&self) -> Option<&str> {
        self.delivery_param()
            .and_then(|d| d.split_once('.'))
            .map(|(_, tag)| tag)
    }

    fn delivery_param(&self) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == "d")
            .map(|(_, v)| v.as_str())
    }
}

fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// An inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The sender, as E.164 with its `+` (providers that drop it get it back).
    pub from: String,
    pub text: String,
    /// The provider has answered the sender itself (Twilio's Advanced Opt-Out sends the
    /// account's own HELP text): a second answer from us would only repeat it.
    pub answered: bool,
}

/// How a provider's webhooks are checked and read.
pub trait Webhooks: Send + Sync {
    /// Whether the request really comes from the provider (unsigned or forged: false).
    fn verify(&self, req: &WebhookRequest, credentials: &Credentials) -> bool;
    fn status(&self, req: &WebhookRequest) -> Option<StatusReport>;
    fn inbound(&self, req: &WebhookRequest) -> Option<Inbound>;
    /// Whether a help reply can go back in the webhook's answer (Twilio's TwiML); otherwise it
    /// is queued as a message.
    fn replies_inline(&self) -> bool {
        false
    }
}

/// `447700900000` → `+447700900000`.
pub fn plus(number: &str) -> String {
    let n = number.trim();
    if n.starts_with('+') {
        n.to_owned()
    } else {
        format!("+{n}")
    }
}

/// Our status for a provider's word, by the common vocabulary.
pub fn common_status(word: &str) -> Option<&'static str> {
    use crate::services::deliveries::{ACCEPTED, DELIVERED, FAILED, SENT, UNDELIVERED};
    Some(match word.to_ascii_lowercase().as_str() {
        "accepted" | "queued" | "scheduled" | "buffered" | "sending" | "enroute" => ACCEPTED,
        "sent" => SENT,
        "delivered" | "delivery_receipt" => DELIVERED,
        // Handed to the carrier, which did not confirm either way.
        "delivery_unconfirmed" => SENT,
        "undelivered" | "expired" | "delivery_failed" => UNDELIVERED,
        "failed" | "rejected" | "sending_failed" | "canceled" | "cancelled" => FAILED,
        _ => return None,
    })
}
