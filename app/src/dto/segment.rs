use crate::domain::segment_rule::Rule;
use serde::{Deserialize, Serialize};

pub const STATIC: &str = "static";
pub const AUTO_UPDATE: &str = "auto-update";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentView {
    pub id: String,
    pub name: String,
    /// `static` or `auto-update`.
    pub kind: String,
    /// The rule of an auto-update segment.
    pub filter: Option<Rule>,
    /// The rule in words ("metadata.tier is \"gold\" and …"), or "picked by hand".
    pub description: String,
    /// Current members.
    pub customers_count: u64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What creating a segment takes; `customers` (ids or source ids) for static ones,
/// `filter` for auto-update ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentInput {
    pub name: String,
    pub kind: String,
    pub filter: Option<serde_json::Value>,
    pub customers: Vec<String>,
}

/// A current member and since when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentMember {
    pub customer: super::CustomerView,
    pub entered_at: i64,
}

/// A segment a customer is (or was) in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerSegment {
    pub id: String,
    pub name: String,
    pub entered_at: i64,
    pub left_at: Option<i64>,
}
