//! What templates can refer to, the picker's tags, and the sample customers of the preview.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// What `{{ unsubscribe_text }}` says unless a distribution sets its own.
pub const DEFAULT_UNSUBSCRIBE_TEXT: &str = "Reply STOP to opt out";

/// The variables templates may use; `customer.metadata.<key>` takes any key.
const KNOWN: [&str; 14] = [
    "customer.name",
    "customer.first_name",
    "customer.last_name",
    "customer.email",
    "customer.phone",
    "voucher.code",
    "voucher.qr_url",
    "voucher.expiration_date",
    "voucher.discount",
    "promotion.name",
    "promotion.banner",
    "distribution.subject",
    "unsubscribe_text",
    "customer.source_id",
];

pub(crate) fn is_known_variable(path: &str) -> bool {
    KNOWN.contains(&path)
        || path
            .strip_prefix("customer.metadata.")
            .is_some_and(|key| !key.is_empty())
}

/// One entry of the editor's tag picker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagChoice {
    pub label: &'static str,
    pub insert: &'static str,
    /// Tags about codes only fit distributions that send codes.
    pub needs_code: bool,
    /// Tags about the promotion only fit distributions that announce one.
    pub needs_promotion: bool,
}

pub const TAGS: [TagChoice; 10] = [
    TagChoice {
        label: "First name",
        insert: "{{ customer.first_name | default: \"there\" }}",
        needs_code: false,
        needs_promotion: false,
    },
    TagChoice {
        label: "Full name",
        insert: "{{ customer.name }}",
        needs_code: false,
        needs_promotion: false,
    },
    TagChoice {
        label: "Code",
        insert: "{{ voucher.code }}",
        needs_code: true,
        needs_promotion: false,
    },
    TagChoice {
        label: "Code as QR link",
        insert: "{{ voucher.qr_url }}",
        needs_code: true,
        needs_promotion: false,
    },
    TagChoice {
        label: "Expiry date",
        insert: "{{ voucher.expiration_date | date: \"%b %d\" }}",
        needs_code: true,
        needs_promotion: false,
    },
    TagChoice {
        label: "Discount",
        insert: "{{ voucher.discount }}",
        needs_code: true,
        needs_promotion: false,
    },
    TagChoice {
        label: "Promotion",
        insert: "{{ promotion.name }}",
        needs_code: false,
        needs_promotion: true,
    },
    TagChoice {
        label: "Promotion banner",
        insert: "{{ promotion.banner }}",
        needs_code: false,
        needs_promotion: true,
    },
    TagChoice {
        label: "Subject",
        insert: "{{ distribution.subject }}",
        needs_code: false,
        needs_promotion: false,
    },
    TagChoice {
        label: "Opt-out text",
        insert: "{{ unsubscribe_text }}",
        needs_code: false,
        needs_promotion: false,
    },
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerData {
    pub source_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub metadata: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VoucherData {
    pub code: String,
    pub qr_url: String,
    /// RFC 3339 or YYYY-MM-DD.
    pub expiration_date: Option<String>,
    /// Ready to print: "20%", "€5".
    pub discount: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PromotionData {
    pub name: String,
    pub banner: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DistributionData {
    pub subject: String,
}

/// Everything one message is rendered from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TemplateData {
    pub customer: CustomerData,
    pub voucher: Option<VoucherData>,
    pub promotion: Option<PromotionData>,
    pub distribution: DistributionData,
    pub unsubscribe_text: Option<String>,
}

impl TemplateData {
    /// The tree templates read from. First and last names come from the full name when the
    /// customer has no separate fields.
    pub fn to_value(&self) -> Value {
        let c = &self.customer;
        let name = c.name.as_deref().map(str::trim).unwrap_or_default();
        let (first, last) = match name.split_once(char::is_whitespace) {
            Some((f, l)) => (f, l.trim()),
            None => (name, ""),
        };
        let opt = |s: &str| {
            if s.is_empty() {
                Value::Null
            } else {
                Value::String(s.to_owned())
            }
        };
        json!({
            "customer": {
                "source_id": c.source_id,
                "name": opt(name),
                "first_name": opt(first),
                "last_name": opt(last),
                "email": c.email,
                "phone": c.phone,
                "metadata": Value::Object(c.metadata.clone()),
            },
            "voucher": self.voucher,
            "promotion": self.promotion,
            "distribution": self.distribution,
            "unsubscribe_text": self.unsubscribe_text.as_deref().unwrap_or(DEFAULT_UNSUBSCRIBE_TEXT),
        })
    }
}

/// Length of the random part of a QR link (128 bits, base64url), so sample links are as long
/// as real ones and the preview counts segments right.
pub const QR_TOKEN_CHARS: usize = 22;

/// The QR link of a code: `{public_url}/q/{token}`.
pub fn qr_url(public_url: &str, token: &str) -> String {
    format!("{}/q/{token}", public_url.trim_end_matches('/'))
}

/// A made-up voucher for previews, with a link as long as a real one.
pub fn sample_voucher(public_url: &str, expiration_date: &str) -> VoucherData {
    VoucherData {
        code: "SUMMER-4821".into(),
        qr_url: qr_url(public_url, &"S".repeat(QR_TOKEN_CHARS)),
        expiration_date: Some(expiration_date.to_owned()),
        discount: Some("20%".into()),
    }
}

/// A made-up promotion for previews.
pub fn sample_promotion() -> PromotionData {
    PromotionData {
        name: "Winter sale".into(),
        banner: "20% off everything over €50".into(),
    }
}

/// A made-up customer for previews, clearly labelled as a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleCustomer {
    pub label: &'static str,
    pub data: CustomerData,
}

/// Sample customers that exercise the usual cases: a plain name, a name outside GSM-7,
/// and no name at all.
pub fn sample_customers() -> Vec<SampleCustomer> {
    let meta = |pairs: &[(&str, Value)]| -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    };
    vec![
        SampleCustomer {
            label: "Ana García (sample)",
            data: CustomerData {
                source_id: Some("sample-1".into()),
                name: Some("Ana García".into()),
                email: Some("ana@example.com".into()),
                phone: Some("+34612345678".into()),
                metadata: meta(&[
                    ("tier", json!("gold")),
                    ("store", json!("Madrid Centro")),
                    ("points", json!(1280)),
                ]),
            },
        },
        SampleCustomer {
            label: "Zoë Kowalczyk (sample)",
            data: CustomerData {
                source_id: Some("sample-2".into()),
                name: Some("Zoë Kowalczyk".into()),
                email: Some("zoe@example.com".into()),
                phone: Some("+48512345678".into()),
                metadata: meta(&[("tier", json!("silver")), ("store", json!("Kraków"))]),
            },
        },
        SampleCustomer {
            label: "No name on file (sample)",
            data: CustomerData {
                source_id: Some("sample-3".into()),
                name: None,
                email: None,
                phone: Some("+14155550123".into()),
                metadata: Map::new(),
            },
        },
    ]
}
