//! SMS providers behind one trait. Each adapter maps its provider's answer to "accepted"
//! (the provider's message id and, where told, the segment count) or a classified failure:
//! permanent (never retry), retryable (nothing was sent; retry, after `retry_after` when the
//! provider says), or ambiguous (the request went out and the answer is unknown: it may have
//! been sent, so it is settled by the status callback rather than by sending again).

pub mod generic;
pub mod messagebird;
pub mod plivo;
pub mod sandbox;
pub mod signatures;
pub mod telnyx;
pub mod twilio;
pub mod vonage;
pub mod webhook;

use async_trait::async_trait;
use std::time::Duration;

/// One message to send.
#[derive(Debug, Clone)]
pub struct OutgoingSms {
    /// E.164.
    pub to: String,
    pub body: String,
    /// The text needs UCS-2 (some providers must be told).
    pub unicode: bool,
    /// Where the provider posts delivery statuses.
    pub status_callback: Option<String>,
    /// Our delivery id: passed where a provider takes a client reference or an idempotency
    /// key, so a retried request cannot send twice.
    pub reference: String,
}

impl OutgoingSms {
    /// A message outside the queue (what `app::domain::sms::count` says of its encoding).
    pub fn new(to: impl Into<String>, body: impl Into<String>) -> Self {
        let body = body.into();
        let unicode =
            app::domain::sms::count(&body, false).encoding != app::domain::sms::Encoding::Gsm7;
        Self {
            to: to.into(),
            body,
            unicode,
            status_callback: None,
            reference: String::new(),
        }
    }
}

/// What the provider answered, verbatim, for the test-send screen and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAnswer {
    pub http_status: Option<u16>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub provider_id: String,
    pub segments: Option<u32>,
    pub raw: RawAnswer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Invalid number, opted out, bad sender, bad credentials: sending again cannot help.
    Permanent {
        code: String,
        message: String,
        raw: RawAnswer,
    },
    /// Not sent (rate limited, throttled, unavailable, connection refused): safe to retry.
    /// `throttled` failures (429 and the like) slow the whole integration down and do not use
    /// up an attempt.
    Retryable {
        code: String,
        message: String,
        retry_after: Option<Duration>,
        throttled: bool,
        raw: RawAnswer,
    },
    /// The request may have been acted on (timeout after sending, 5xx).
    Ambiguous { message: String, raw: RawAnswer },
}

impl Failure {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Permanent { .. } => "permanent",
            Self::Retryable { .. } => "retryable",
            Self::Ambiguous { .. } => "ambiguous",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Self::Permanent { message, .. }
            | Self::Retryable { message, .. }
            | Self::Ambiguous { message, .. } => message,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Permanent { code, .. } | Self::Retryable { code, .. } => Some(code),
            Self::Ambiguous { .. } => None,
        }
    }

    pub fn raw(&self) -> &RawAnswer {
        match self {
            Self::Permanent { raw, .. }
            | Self::Retryable { raw, .. }
            | Self::Ambiguous { raw, .. } => raw,
        }
    }
}

/// How a provider's webhooks are checked and read (`None`: it has none, like the sandbox).
pub fn webhooks(provider: &str) -> Option<&'static dyn webhook::Webhooks> {
    match provider {
        "twilio" => Some(&twilio::TwilioWebhooks),
        "vonage" => Some(&vonage::VonageWebhooks),
        "plivo" => Some(&plivo::PlivoWebhooks),
        "telnyx" => Some(&telnyx::TelnyxWebhooks),
        "messagebird" => Some(&messagebird::MessageBirdWebhooks),
        "generic" => Some(&generic::GenericWebhooks),
        _ => None,
    }
}

#[async_trait]
pub trait SmsProvider: Send + Sync {
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, Failure>;
}

/// The `Authorization` value of HTTP Basic auth, marked sensitive (left out of debug
/// output), as reqwest's `basic_auth` makes it; computed once per adapter.
pub fn basic_authorization(user: &str, password: &str) -> reqwest::header::HeaderValue {
    use base64::{engine::general_purpose::STANDARD, Engine as _};
    let encoded = STANDARD.encode(format!("{user}:{password}"));
    // Base64 is visible ASCII, which a header value always takes.
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Basic {encoded}"))
        .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

/// A transport error as a failure: a request that never left is retryable, one that timed out
/// (or broke) after it went out is ambiguous.
pub fn transport_failure(err: &reqwest::Error) -> Failure {
    let raw = RawAnswer {
        http_status: None,
        body: String::new(),
    };
    if err.is_connect() || err.is_builder() {
        Failure::Retryable {
            code: "connect".into(),
            message: format!("Could not reach the provider: {err}"),
            retry_after: None,
            throttled: false,
            raw,
        }
    } else {
        Failure::Ambiguous {
            message: format!(
                "No answer from the provider ({}); the message may have been sent.",
                if err.is_timeout() {
                    "timed out"
                } else {
                    "connection broke"
                }
            ),
            raw,
        }
    }
}

/// A provider's HTTP answer, read whole: status, when to retry, the body as JSON (`null`
/// when it is not JSON) and verbatim.
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub retry_after: Option<Duration>,
    pub json: serde_json::Value,
    pub raw: RawAnswer,
}

impl Answer {
    pub async fn read(response: reqwest::Response) -> Result<Self, Failure> {
        let status = response.status();
        // Retry-After, or the reset of a rate-limit window (Telnyx).
        let retry_after = retry_after(response.headers()).or_else(|| {
            response
                .headers()
                .get("x-ratelimit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
        });
        let text = response.text().await.map_err(|e| transport_failure(&e))?;
        Ok(Self {
            status,
            retry_after,
            json: json_of(&text),
            raw: RawAnswer {
                http_status: Some(status.as_u16()),
                body: text,
            },
        })
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare for these APIs and is ignored).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A 5xx answer: 502, 503 and 504 come from in front of the provider's application (the
/// message was not taken), so they are retried; any other 5xx may have been acted on.
pub fn server_error(status: u16, code: String, message: String, raw: RawAnswer) -> Failure {
    if matches!(status, 502..=504) {
        Failure::Retryable {
            code,
            message,
            retry_after: None,
            throttled: false,
            raw,
        }
    } else {
        Failure::Ambiguous { message, raw }
    }
}

/// A 429 answer, or a provider's own "throttled": retried later without using an attempt.
pub fn throttled(
    code: String,
    message: String,
    retry_after: Option<Duration>,
    raw: RawAnswer,
) -> Failure {
    Failure::Retryable {
        code,
        message,
        retry_after,
        throttled: true,
        raw,
    }
}

/// A JSON body, or `null` when it is not JSON.
pub fn json_of(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}
