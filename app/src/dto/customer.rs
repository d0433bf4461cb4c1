use crate::domain::consent::SmsConsent;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerView {
    pub id: String,
    pub source_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub timezone: Option<String>,
    pub metadata: Map<String, Value>,
    pub sms_consent: SmsConsent,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A create-or-update request; absent fields keep their stored values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerInput {
    pub source_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub timezone: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub sms_consent: Option<String>,
}

/// One entry of the consent ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentChange {
    pub state: SmsConsent,
    pub source: String,
    pub actor: Option<String>,
    pub at: i64,
}

/// Something a customer did, as the shop reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    pub id: String,
    pub name: String,
    pub metadata: Map<String, Value>,
    pub at: i64,
}

/// A page of customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerPage {
    pub items: Vec<CustomerView>,
    pub has_more: bool,
}

/// A search hit: enough to recognise a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerOption {
    pub id: String,
    pub label: String,
}

impl CustomerView {
    /// "Ana García · +34612…678", falling back to the email, source id or id.
    pub fn label(&self) -> String {
        let who = self
            .name
            .clone()
            .or_else(|| self.email.clone())
            .or_else(|| self.source_id.clone())
            .unwrap_or_else(|| self.id.clone());
        match &self.phone {
            Some(p) => format!("{who} · {}", mask_phone(p)),
            None => who,
        }
    }
}

impl From<CustomerView> for crate::domain::template::CustomerData {
    fn from(c: CustomerView) -> Self {
        Self {
            source_id: c.source_id,
            name: c.name,
            email: c.email,
            phone: c.phone,
            metadata: c.metadata,
        }
    }
}

/// Keeps the country code and the last three digits: `+34612…678`.
pub fn mask_phone(e164: &str) -> String {
    let digits = e164.chars().count();
    if digits <= 7 {
        return e164.to_owned();
    }
    let head: String = e164.chars().take(4).collect();
    let tail: String = e164.chars().skip(digits - 3).collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn phones_are_masked_in_labels() {
        assert_eq!(super::mask_phone("+34612345678"), "+346…678");
        assert_eq!(super::mask_phone("+1234"), "+1234");
    }
}

/// The answer of a CSV import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportOutcome {
    pub created: u64,
    pub updated: u64,
    pub rejected: Vec<RejectedRow>,
    pub rejected_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRow {
    pub row: u64,
    pub error: String,
}
