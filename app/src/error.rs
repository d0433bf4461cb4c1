//! The one error type of Codecast: returned by server functions, rendered by the REST API,
//! and shown by the UI. Unexpected failures carry only an opaque reference; their cause
//! chain is written to the server log under the same reference.

use serde::{Deserialize, Serialize};
use server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum AppError {
    /// Input that breaks a rule; `fields` maps a field name to what is wrong with it.
    #[error("{message}")]
    ValidationFailed {
        message: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        fields: BTreeMap<String, String>,
        /// What the form sent, by field: a page reloaded after a form posted without
        /// JavaScript shows it again instead of the saved value, so nothing typed is lost.
        /// Never part of the REST API's answer.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        entered: BTreeMap<String, String>,
    },
    #[error("{message}")]
    NotFound { message: String },
    #[error("{message}")]
    Conflict { message: String },
    #[error("{message}")]
    Unauthorized { message: String },
    #[error("{message}")]
    Forbidden { message: String },
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// Something failed that the caller cannot fix; the server log holds the cause under `reference`.
    #[error("Something went wrong on our side (reference {reference}).")]
    Internal { reference: String },
    /// The request never got a proper answer (network down, server unreachable, bad encoding).
    #[error("{message}")]
    Transport { message: String },
}

impl AppError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::ValidationFailed {
            message: message.clone(),
            fields: BTreeMap::from([(field.to_owned(), message)]),
            entered: BTreeMap::new(),
        }
    }

    /// Several field errors at once; the summary names how many fields need attention.
    pub fn validation_fields(fields: BTreeMap<String, String>) -> Self {
        let message = match fields.len() {
            1 => fields.values().next().cloned().unwrap_or_default(),
            n => format!("{n} fields need attention."),
        };
        Self::ValidationFailed {
            message,
            fields,
            entered: BTreeMap::new(),
        }
    }

    /// A form error that is not about one field.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::ValidationFailed {
            message: message.into(),
            fields: BTreeMap::new(),
            entered: BTreeMap::new(),
        }
    }

    /// Keeps what a form sent with its validation error (see `entered`); other errors are
    /// returned as they are.
    pub fn with_entered<'a>(self, values: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        match self {
            Self::ValidationFailed {
                message, fields, ..
            } => Self::ValidationFailed {
                message,
                fields,
                entered: values
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            },
            other => other,
        }
    }

    /// What the form sent for `name` with this error, if it kept it.
    pub fn entered(&self, name: &str) -> Option<&str> {
        match self {
            Self::ValidationFailed { entered, .. } => entered.get(name).map(String::as_str),
            _ => None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound {
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
        }
    }

    pub fn unauthorized() -> Self {
        Self::Unauthorized {
            message: "Sign in to continue.".into(),
        }
    }

    pub fn forbidden() -> Self {
        Self::Forbidden {
            message: "This needs the admin role.".into(),
        }
    }

    /// The machine-readable code of the public API's error shape.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ValidationFailed { .. } => "validation_failed",
            Self::NotFound { .. } => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::Unauthorized { .. } => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::RateLimited { .. } => "rate_limited",
            Self::Internal { .. } | Self::Transport { .. } => "internal",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::ValidationFailed { .. } => 422,
            Self::NotFound { .. } => 404,
            Self::Conflict { .. } => 409,
            Self::Unauthorized { .. } => 401,
            Self::Forbidden { .. } => 403,
            Self::RateLimited { .. } => 429,
            Self::Internal { .. } | Self::Transport { .. } => 500,
        }
    }

    /// The error attached to one form field, if any.
    pub fn field(&self, name: &str) -> Option<&str> {
        match self {
            Self::ValidationFailed { fields, .. } => fields.get(name).map(String::as_str),
            _ => None,
        }
    }

    pub fn fields(&self) -> Option<&BTreeMap<String, String>> {
        match self {
            Self::ValidationFailed { fields, .. } => Some(fields),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(message) => {
                Self::invalid(format!("The form could not be read: {message}"))
            }
            other => Self::Transport {
                message: other.to_string(),
            },
        }
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::AppError;
    use std::sync::atomic::{AtomicU32, Ordering};

    static SEQUENCE: AtomicU32 = AtomicU32::new(0);

    impl AppError {
        /// Logs an unexpected error once, with its whole cause chain, and returns the opaque
        /// reference the caller sees.
        pub fn internal(error: &(dyn std::error::Error + 'static)) -> Self {
            let reference = new_reference();
            let mut chain = error.to_string();
            let mut source = error.source();
            while let Some(cause) = source {
                chain.push_str(": ");
                chain.push_str(&cause.to_string());
                source = cause.source();
            }
            tracing::error!(reference = %reference, error = %chain, "unexpected error");
            Self::Internal { reference }
        }

        /// For failures described by a message rather than an error value.
        pub fn internal_msg(message: &str) -> Self {
            let reference = new_reference();
            tracing::error!(reference = %reference, error = %message, "unexpected error");
            Self::Internal { reference }
        }
    }

    /// Short, unique enough within one log to find the entry: time in ms (base 36) and a sequence.
    fn new_reference() -> String {
        let millis = chrono::Utc::now().timestamp_millis().unsigned_abs();
        let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed) % 1296;
        format!("E{}{}", base36(millis), base36(u64::from(seq)))
    }

    fn base36(mut n: u64) -> String {
        const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut out = Vec::new();
        loop {
            out.push(DIGITS[(n % 36) as usize]);
            n /= 36;
            if n == 0 {
                break;
            }
        }
        out.reverse();
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_serialise_to_the_public_shape() {
        let err = AppError::validation("email", "not a valid email address");
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json["code"], "validation_failed");
        assert_eq!(json["fields"]["email"], "not a valid email address");
        assert_eq!(err.status(), 422);
    }

    #[test]
    fn errors_survive_the_server_function_round_trip() {
        let err = AppError::RateLimited {
            message: "slow down".into(),
            retry_after_secs: 30,
        };
        assert_eq!(AppError::de(err.ser()), err);
    }

    #[test]
    fn a_summary_counts_the_fields_needing_attention() {
        let fields = BTreeMap::from([
            ("a".to_string(), "x".to_string()),
            ("b".to_string(), "y".to_string()),
        ]);
        assert_eq!(
            AppError::validation_fields(fields).to_string(),
            "2 fields need attention."
        );
    }
}
