use serde::{Deserialize, Serialize};

/// `PERCENT` (percent_off) or `AMOUNT` (amount_off, in the currency's minor unit: 1000 = 10.00).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discount {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent_off: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_off: Option<i64>,
}

impl Discount {
    /// "20% off" or "10.00 off".
    pub fn describe(&self) -> String {
        match (self.kind.as_str(), self.percent_off, self.amount_off) {
            ("PERCENT", Some(p), _) => format!("{}% off", trim_number(p)),
            ("AMOUNT", _, Some(a)) => format!("{} off", money(a)),
            _ => "no discount".into(),
        }
    }
}

/// Minor units as a decimal amount: 1050 → "10.50".
pub fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

/// 1234567 → "1,234,567"; beyond 15 digits, "about 10^n".
pub fn group_digits(n: u128) -> String {
    let s = n.to_string();
    if s.len() > 15 {
        return format!("about 10^{}", s.len() - 1);
    }
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn trim_number(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignView {
    pub id: String,
    pub name: String,
    pub discount: Discount,
    /// The code shape in words ("SUMMER-#### (10,000 possible)").
    pub code_shape: String,
    pub code_config: serde_json::Value,
    pub vouchers_count: u64,
    /// Codes stored so far (less than `vouchers_count` while generating).
    pub generated: u64,
    /// `generating`, `ready` or `failed`.
    pub status: String,
    pub failure: Option<String>,
    pub published: u64,
    pub redeemed: u64,
    /// Milliseconds; codes stop working after it.
    pub expiration_date: Option<i64>,
    /// Codes stop working this many hours after they are published.
    pub validity_hours: Option<u32>,
    pub created_at: i64,
}

impl CampaignView {
    pub fn available(&self) -> u64 {
        self.generated.saturating_sub(self.published)
    }
}

/// A campaign as a form or the API asks for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignInput {
    pub name: String,
    pub discount: Discount,
    pub code_config: serde_json::Value,
    pub vouchers_count: u64,
    pub expiration_date: Option<i64>,
    pub validity_hours: Option<u32>,
}

/// One code of a campaign, with its holder and state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherView {
    pub code: String,
    pub campaign_id: String,
    /// `available`, `published`, `redeemed` or `expired`.
    pub state: String,
    pub customer_id: Option<String>,
    pub customer_label: Option<String>,
    pub published_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub redeemed_at: Option<i64>,
    /// Link to the code's QR image (published codes only).
    pub qr_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherPage {
    pub items: Vec<VoucherView>,
    pub has_more: bool,
    /// The cursor for the next page.
    pub next_after: Option<String>,
}

/// A code published to a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    pub code: String,
    pub campaign_id: String,
    pub customer_id: String,
    pub published_at: i64,
    pub expires_at: Option<i64>,
    pub qr_url: String,
    /// False when an earlier publication was returned.
    pub created: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionTierView {
    pub id: String,
    pub name: String,
    pub banner: String,
    pub discount: Discount,
    /// Minor units: the promotion applies to carts of at least this total.
    pub cart_total_gte: Option<i64>,
    pub created_at: i64,
}

impl PromotionTierView {
    pub fn condition(&self) -> String {
        match self.cart_total_gte {
            Some(min) => format!("cart total ≥ {}", money(min)),
            None => "any cart".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionTierInput {
    pub name: String,
    pub banner: String,
    pub discount: Discount,
    pub cart_total_gte: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discounts_and_money_read_naturally() {
        let d = Discount {
            kind: "PERCENT".into(),
            percent_off: Some(12.5),
            amount_off: None,
        };
        assert_eq!(d.describe(), "12.5% off");
        let d = Discount {
            kind: "AMOUNT".into(),
            percent_off: None,
            amount_off: Some(1005),
        };
        assert_eq!(d.describe(), "10.05 off");
        assert_eq!(money(-250), "-2.50");
    }
}
