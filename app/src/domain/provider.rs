//! The SMS providers Codecast talks to and what each needs to be configured.

/// One credential of a provider. Secret ones are stored encrypted and never shown again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialField {
    pub name: &'static str,
    pub label: &'static str,
    pub secret: bool,
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderSpec {
    pub id: &'static str,
    pub label: &'static str,
    pub credentials: &'static [CredentialField],
    /// What the sender is for this provider.
    pub sender_hint: &'static str,
    /// Whether a sender must be given (Twilio may use a messaging service instead).
    pub sender_required: bool,
}

const fn field(
    name: &'static str,
    label: &'static str,
    secret: bool,
    required: bool,
) -> CredentialField {
    CredentialField {
        name,
        label,
        secret,
        required,
    }
}

pub const PROVIDERS: &[ProviderSpec] = &[
    ProviderSpec {
        id: "twilio",
        label: "Twilio",
        credentials: &[
            field("account_sid", "Account SID", false, true),
            field("auth_token", "Auth token", true, true),
            field(
                "messaging_service_sid",
                "Messaging service SID (instead of a sender)",
                false,
                false,
            ),
        ],
        sender_hint: "A Twilio number in E.164 (+15017122661) or an alphanumeric sender id.",
        sender_required: false,
    },
    ProviderSpec {
        id: "vonage",
        label: "Vonage",
        credentials: &[
            field("api_key", "API key", false, true),
            field("api_secret", "API secret", true, true),
            field(
                "signature_secret",
                "Signature secret (signed webhooks; without it replies and receipts are refused)",
                true,
                false,
            ),
            field(
                "signature_method",
                "Signature method: md5hash (default), md5, sha1, sha256 or sha512",
                false,
                false,
            ),
        ],
        sender_hint: "A Vonage number or an alphanumeric sender id.",
        sender_required: true,
    },
    ProviderSpec {
        id: "plivo",
        label: "Plivo",
        credentials: &[
            field("auth_id", "Auth ID", false, true),
            field("auth_token", "Auth token", true, true),
        ],
        sender_hint: "A Plivo number or an alphanumeric sender id.",
        sender_required: true,
    },
    ProviderSpec {
        id: "telnyx",
        label: "Telnyx",
        credentials: &[
            field("api_key", "API key", true, true),
            field("public_key", "Webhook public key", false, true),
        ],
        sender_hint: "A Telnyx number in E.164.",
        sender_required: true,
    },
    ProviderSpec {
        id: "messagebird",
        label: "MessageBird",
        credentials: &[
            field("access_key", "Access key", true, true),
            field("signing_key", "Signing key", true, true),
        ],
        sender_hint: "A number or an alphanumeric originator.",
        sender_required: true,
    },
    ProviderSpec {
        id: "generic",
        label: "HTTP gateway",
        credentials: &[
            field("url", "Gateway URL", false, true),
            field("signing_secret", "Signing secret", true, true),
        ],
        sender_hint: "Passed to the gateway as `from`.",
        sender_required: false,
    },
    ProviderSpec {
        id: "sandbox",
        label: "Sandbox (records messages, sends nothing)",
        credentials: &[],
        sender_hint: "Any name; the sandbox shows it as the sender.",
        sender_required: false,
    },
];

pub fn provider(id: &str) -> Option<&'static ProviderSpec> {
    PROVIDERS.iter().find(|p| p.id == id)
}

/// What is shown in place of a stored secret: its last four characters, at most.
pub fn mask_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 8 {
        return "••••".into();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("••••{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_of_the_api_is_known() {
        for id in [
            "twilio",
            "vonage",
            "plivo",
            "telnyx",
            "messagebird",
            "generic",
            "sandbox",
        ] {
            assert!(provider(id).is_some(), "{id}");
        }
        assert!(provider("sinch").is_none());
    }

    #[test]
    fn secrets_show_at_most_their_last_four_characters() {
        assert_eq!(mask_secret("abcdef0123456789"), "••••6789");
        assert_eq!(mask_secret("short"), "••••");
    }
}
