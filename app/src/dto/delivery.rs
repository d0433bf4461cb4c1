use serde::{Deserialize, Serialize};

/// One message in the delivery queue, as the report and the integration page show it. The
/// number is masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: i64,
    /// `distribution`, `test` or `reply`.
    pub kind: String,
    pub distribution_id: Option<String>,
    pub customer_id: Option<String>,
    /// Masked: `+346…678`.
    pub to: String,
    pub body: String,
    pub encoding: String,
    pub segments: u32,
    /// pending, accepted, sent, delivered, undelivered, failed, skipped or unknown.
    pub status: String,
    pub skip_reason: Option<String>,
    pub attempts: u32,
    pub provider_id: Option<String>,
    /// The provider's own word for the last status it reported.
    pub provider_status: Option<String>,
    pub provider_segments: Option<u32>,
    pub provider_http_status: Option<u16>,
    /// The provider's answer to the last attempt, verbatim (cut at 4,000 bytes).
    pub provider_answer: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at: i64,
    pub accepted_at: Option<i64>,
    pub sent_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub failed_at: Option<i64>,
    pub updated_at: i64,
}

/// A message the sandbox provider recorded instead of sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxMessage {
    pub id: String,
    pub sender: Option<String>,
    pub to: String,
    pub body: String,
    pub segments: u32,
    pub created_at: i64,
}
