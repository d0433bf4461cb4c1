use serde::{Deserialize, Serialize};

/// Whether a customer agreed to marketing SMS. Only `opted_in` customers are sent to;
/// every change is kept in a ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsConsent {
    OptedIn,
    OptedOut,
    Unknown,
}

impl SmsConsent {
    pub fn parse(input: &str) -> Result<Self, String> {
        match input.trim().to_ascii_lowercase().as_str() {
            "opted_in" => Ok(Self::OptedIn),
            "opted_out" => Ok(Self::OptedOut),
            "unknown" | "" => Ok(Self::Unknown),
            _ => Err("Use opted_in, opted_out or unknown.".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OptedIn => "opted_in",
            Self::OptedOut => "opted_out",
            Self::Unknown => "unknown",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::OptedIn => "Opted in",
            Self::OptedOut => "Opted out",
            Self::Unknown => "Unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SmsConsent;

    #[test]
    fn consent_states_round_trip() {
        for s in [
            SmsConsent::OptedIn,
            SmsConsent::OptedOut,
            SmsConsent::Unknown,
        ] {
            assert_eq!(SmsConsent::parse(s.as_str()).unwrap(), s);
        }
        assert!(SmsConsent::parse("maybe").is_err());
    }
}
