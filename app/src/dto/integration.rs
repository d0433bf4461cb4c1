use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An SMS integration as anyone may see it: secrets appear only masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationView {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub sender: Option<String>,
    pub base_url: Option<String>,
    pub max_segments_per_second: u32,
    pub is_default: bool,
    pub enabled: bool,
    /// What an inbound HELP gets; the built-in text when `None`.
    pub help_text: Option<String>,
    /// Where the provider reports statuses and forwards replies.
    pub status_webhook: String,
    pub inbound_webhook: String,
    /// Plain credentials as stored, secret ones masked (`••••a1b2`).
    pub credentials: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Creating or changing an integration. On a change, absent fields keep their values and a
/// secret left empty keeps the stored one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationInput {
    pub name: Option<String>,
    pub provider: Option<String>,
    pub credentials: BTreeMap<String, String>,
    pub sender: Option<String>,
    pub base_url: Option<String>,
    pub max_segments_per_second: Option<u32>,
    pub is_default: Option<bool>,
    pub enabled: Option<bool>,
    /// Empty clears it (back to the built-in text).
    pub help_text: Option<String>,
}

/// The provider's answer to a test send, verbatim where it gave one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestSendResult {
    pub accepted: bool,
    pub provider_id: Option<String>,
    pub segments: Option<u32>,
    /// When not accepted: `failed`, `unknown` (the provider may have sent it), `retrying` or
    /// `queued` (no answer yet).
    pub failure: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
    pub http_status: Option<u16>,
    /// The provider's response body as received.
    pub raw: String,
    /// The number it went to, as E.164.
    pub to: String,
    /// The queued message, which status callbacks keep updating.
    pub delivery_id: Option<i64>,
    /// The delivery's status when the answer came.
    pub status: String,
}
