//! SMS providers behind one trait. Each adapter maps its provider's answer to "accepted"
//! (the provider's message id and, where told, the segment count) or a classified failure:
//! permanent (never retry), retryable (nothing was sent; retry, after `retry_after` when the
//! provider says), or ambiguous (the request went out and the answer is unknown: it may have
//! been sent, so it is settled by the status callback rather than by sending again).

pub mod sandbox;
pub mod signatures;
pub mod twilio;

use async_trait::async_trait;
use std::time::Duration;

/// One message to send.
#[derive(Debug, Clone)]
pub struct OutgoingSms {
    /// E.164.
    pub to: String,
    pub body: String,
    /// Where the provider posts delivery statuses.
    pub status_callback: Option<String>,
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
    /// Not sent (rate limited, throttled, connection refused): safe to retry.
    Retryable {
        code: String,
        message: String,
        retry_after: Option<Duration>,
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

#[async_trait]
pub trait SmsProvider: Send + Sync {
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, Failure>;
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
