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
    /// The keyword the provider recognised, in the account's own words too (Twilio's
    /// Advanced Opt-Out names it): it decides what the message means.
    pub recognised: Option<Keyword>,
    /// The provider has answered the sender itself (Twilio's Advanced Opt-Out sends the
    /// account's own HELP text): a second answer from us would only repeat it.
    pub answered: bool,
}

impl Inbound {
    /// Whether the sender is an E.164 number: `+` and at most 15 digits.
    pub fn from_a_number(&self) -> bool {
        self.from
            .strip_prefix('+')
            .is_some_and(|d| (1..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
    }

    /// What the message asks for. A provider that recognised a keyword knows the account's
    /// own words, except one: YES counts among the opt-in words of Twilio's Advanced Opt-Out
    /// but re-subscribes only a number that had opted out here, so the text decides it.
    pub fn meaning(&self) -> Keyword {
        let said = keyword(&self.text);
        match self.recognised {
            Some(Keyword::OptIn) if said == Keyword::Resubscribe => said,
            Some(k) => k,
            None => said,
        }
    }
}

const OPT_OUT: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
const OPT_IN: &[&str] = &["START", "UNSTOP"];
/// Re-subscribes an opted-out number; from anyone else a "yes" is no consent to marketing.
const RESUBSCRIBE: &[&str] = &["YES"];
const HELP: &[&str] = &["HELP", "INFO"];

/// What an inbound message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    OptOut,
    OptIn,
    Resubscribe,
    Help,
    Other,
}

pub fn keyword(body: &str) -> Keyword {
    // Trailing punctuation ("Stop.", "STOP!") still means the word: a customer who typed it
    // wants out as much as one who did not.
    let word = body
        .trim()
        .trim_end_matches(['.', '!', '?', ',', ';'])
        .trim_end()
        .to_uppercase();
    if OPT_OUT.contains(&word.as_str()) {
        Keyword::OptOut
    } else if OPT_IN.contains(&word.as_str()) {
        Keyword::OptIn
    } else if RESUBSCRIBE.contains(&word.as_str()) {
        Keyword::Resubscribe
    } else if HELP.contains(&word.as_str()) {
        Keyword::Help
    } else {
        Keyword::Other
    }
}

/// How a provider's webhooks are checked and read.
pub trait Webhooks: Send + Sync {
    /// Whether the request really comes from the provider (unsigned or forged: false).
    fn verify(&self, req: &WebhookRequest, credentials: &Credentials) -> bool;
    fn status(&self, req: &WebhookRequest) -> Option<StatusReport>;
    fn inbound(&self, req: &WebhookRequest) -> Option<Inbound>;
    /// A nonce to accept only once, when the signature that [`Webhooks::verify`] checked
    /// covers neither the parameters nor a time (Plivo's V2): without it, one captured
    /// request would sign any report or reply again.
    fn single_use(&self, _req: &WebhookRequest) -> Option<String> {
        None
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_whole_message_is_a_keyword() {
        assert_eq!(keyword(" stop "), Keyword::OptOut);
        assert_eq!(keyword("OptOut"), Keyword::OptOut);
        assert_eq!(keyword("unstop"), Keyword::OptIn);
        assert_eq!(keyword("Yes!"), Keyword::Resubscribe);
        assert_eq!(keyword("help"), Keyword::Help);
        assert_eq!(keyword("please stop"), Keyword::Other);
        assert_eq!(keyword("Stop."), Keyword::OptOut);
        assert_eq!(keyword(" STOP! "), Keyword::OptOut);
        assert_eq!(keyword("start !"), Keyword::OptIn);
        assert_eq!(keyword("!"), Keyword::Other);
        assert_eq!(keyword("stopping"), Keyword::Other);
    }

    #[test]
    fn a_recognised_keyword_decides_except_for_yes() {
        let reply = |text: &str, recognised| Inbound {
            from: "+14155550100".into(),
            text: text.into(),
            recognised,
            answered: false,
        };
        assert_eq!(
            reply("Arrêt", Some(Keyword::OptOut)).meaning(),
            Keyword::OptOut
        );
        assert_eq!(reply("Arrêt", None).meaning(), Keyword::Other);
        assert_eq!(reply("Oui", Some(Keyword::OptIn)).meaning(), Keyword::OptIn);
        assert_eq!(
            reply("Yes.", Some(Keyword::OptIn)).meaning(),
            Keyword::Resubscribe
        );
        assert_eq!(reply("START", None).meaning(), Keyword::OptIn);
        assert!(reply("STOP", None).from_a_number());
        let from = |from: &str| Inbound {
            from: from.into(),
            ..reply("STOP", None)
        };
        for odd in ["+", "+1415555010012345", "+1415x", "14155550100", "+Shop"] {
            assert!(!from(odd).from_a_number(), "{odd}");
        }
    }
}
