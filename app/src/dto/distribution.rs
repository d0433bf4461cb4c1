use serde::{Deserialize, Serialize};

/// A follow-up message some hours after the SEND.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    pub after_hours: u32,
    /// Only to those who have not redeemed their code by then.
    pub only_if_not_redeemed: bool,
    pub template: String,
}

/// Who a distribution goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Audience {
    Customer(String),
    Segment(String),
}

/// Why recipients were left out, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusions {
    pub opted_out: u64,
    pub no_phone: u64,
    pub invalid_phone: u64,
    pub duplicate: u64,
}

impl Exclusions {
    pub fn total(&self) -> u64 {
        self.opted_out + self.no_phone + self.invalid_phone + self.duplicate
    }
}

/// Where a sent distribution stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionStats {
    /// Everyone the audience held at SEND.
    pub audience: u64,
    /// Waiting to be sent (pending or being sent).
    pub queued: u64,
    /// Taken by the provider, no report yet.
    pub accepted: u64,
    pub sent: u64,
    pub delivered: u64,
    /// Failed or undelivered.
    pub failed: u64,
    /// The provider may or may not have sent them.
    pub unknown: u64,
    pub skipped: Exclusions,
    pub redeemed: u64,
    pub segments_total: u64,
    pub codes_published: u64,
}

impl DistributionStats {
    /// Messages that reached a final or provider-held state.
    pub fn handed_over(&self) -> u64 {
        self.accepted + self.sent + self.delivered + self.failed + self.unknown
    }

    /// Messages to send at all (the audience less those skipped).
    pub fn to_send(&self) -> u64 {
        self.handed_over() + self.queued
    }

    /// Share of the messages no longer queued, 0–100.
    pub fn percent_done(&self) -> u32 {
        let total = self.to_send();
        if total == 0 {
            return 100;
        }
        ((self.handed_over() * 100) / total) as u32
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionView {
    pub id: String,
    pub name: String,
    /// `manual` (automatic comes later).
    pub mode: String,
    /// `promotion`, `unique_codes` or `plain`.
    pub purpose: String,
    pub campaign_id: Option<String>,
    pub campaign_name: Option<String>,
    pub promotion_tier_id: Option<String>,
    pub promotion_tier_name: Option<String>,
    pub audience: Option<Audience>,
    /// "Ana García (+346…678)" or "Gold customers (1,234 now)".
    pub audience_label: Option<String>,
    pub subject: String,
    pub channel: String,
    pub integration_id: Option<String>,
    pub integration_name: Option<String>,
    pub template: String,
    pub smart_encoding: bool,
    pub reminders: Vec<Reminder>,
    /// `draft`, `sending` or `sent`.
    pub status: String,
    /// The furthest wizard step saved.
    pub step: String,
    pub stats: Option<DistributionStats>,
    pub created_at: i64,
    pub updated_at: i64,
    pub sent_at: Option<i64>,
    pub completed_at: Option<i64>,
}

/// Creating or changing a draft: absent fields keep their values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionInput {
    pub name: Option<String>,
    pub mode: Option<String>,
    pub purpose: Option<String>,
    /// Empty clears.
    pub campaign_id: Option<String>,
    pub promotion_tier_id: Option<String>,
    pub audience: Option<Audience>,
    pub subject: Option<String>,
    pub channel: Option<String>,
    pub integration_id: Option<String>,
    pub template: Option<String>,
    pub smart_encoding: Option<bool>,
    pub reminders: Option<Vec<Reminder>>,
    /// The wizard step this input completes.
    pub step: Option<String>,
}

/// One fully rendered message of the review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleMessage {
    pub customer: String,
    pub to: String,
    pub text: String,
    pub encoding: String,
    pub segments: u32,
}

/// The pre-send report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewReport {
    /// In the audience now.
    pub audience: u64,
    /// Who would get a message.
    pub recipients: u64,
    pub exclusions: Exclusions,
    /// New codes the SEND publishes (recipients already holding one get theirs again).
    pub codes_needed: Option<u64>,
    pub codes_available: Option<u64>,
    /// Rendered for the first recipients, with the codes they would get shown as samples.
    pub samples: Vec<SampleMessage>,
    pub segments_total: u64,
    /// The total was extrapolated from the first 2,000 recipients.
    pub segments_estimated: bool,
    pub segments_per_second: u32,
    pub estimated_seconds: u64,
    /// What must be fixed before SEND, by wizard step.
    pub problems: Vec<(String, String)>,
    /// Mint of this review: a SEND with it happens once.
    pub send_key: String,
}

/// One reason messages did not go out or failed, counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureGroup {
    /// failed, undelivered, skipped or unknown.
    pub status: String,
    pub code: Option<String>,
    pub message: String,
    pub count: u64,
}

/// One line of a distribution's message log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageLine {
    pub id: i64,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    /// Masked.
    pub to: String,
    pub text: String,
    pub status: String,
    pub skip_reason: Option<String>,
    pub segments: u32,
    pub provider_id: Option<String>,
    pub error: Option<String>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePage {
    pub items: Vec<MessageLine>,
    /// Pass as `after` for the next page.
    pub next_after: Option<i64>,
}

/// What a SEND did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendOutcome {
    pub audience: u64,
    pub queued: u64,
    pub exclusions: Exclusions,
    pub codes_published: u64,
    pub segments_total: u64,
    /// A repeat of an earlier SEND with the same key: nothing new happened.
    pub replayed: bool,
}
