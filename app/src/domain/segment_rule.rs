//! Segment rules: which customers an auto-update segment holds.
//!
//! The JSON shape is the public one (API.md): `{"all": [..]}`, `{"any": [..]}`, `{"not": rule}`,
//! a field condition `{"field", "op", "value"}` or an event condition
//! `{"event", "op": "performed"|"not_performed", "within_days"?, "min_count"?}`.
//! Parsing checks everything a database would otherwise trip over and reports the path of the
//! offending part (`filter.all[1].op`), so the rule builder and the API show the same errors.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Deepest nesting of all/any/not accepted.
pub const MAX_DEPTH: usize = 8;
/// Most conditions (leaves and groups) in one rule.
pub const MAX_NODES: usize = 200;
/// Most values in one `in` list.
pub const MAX_IN_VALUES: usize = 500;
/// Longest `within_days` window (ten years).
pub const MAX_WITHIN_DAYS: u32 = 3650;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub enum Rule {
    All(Vec<Rule>),
    Any(Vec<Rule>),
    Not(Box<Rule>),
    Field(FieldRule),
    Event(EventRule),
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldRule {
    pub field: Field,
    pub op: Op,
    /// Checked against `op` and `field`: see [`Rule::parse`].
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EventRule {
    pub event: String,
    pub performed: bool,
    pub within_days: Option<u32>,
    pub min_count: Option<u32>,
}

/// A customer attribute a rule can test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    Name,
    Email,
    Phone,
    Timezone,
    SourceId,
    SmsConsent,
    /// A top-level key of the customer's metadata; values keep their JSON type.
    Metadata(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Contains,
    StartsWith,
    Gt,
    Gte,
    Lt,
    Lte,
    Exists,
    In,
}

/// Where a rule is wrong and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for RuleError {}

pub const FIELDS: &[(&str, &str)] = &[
    ("customer.name", "Name"),
    ("customer.email", "Email"),
    ("customer.phone", "Phone (E.164)"),
    ("customer.timezone", "Time zone"),
    ("customer.source_id", "Source id"),
    ("customer.sms_consent", "SMS consent"),
];

pub const OPS: &[(&str, &str)] = &[
    ("eq", "is"),
    ("ne", "is not"),
    ("contains", "contains"),
    ("starts_with", "starts with"),
    ("gt", ">"),
    ("gte", "≥"),
    ("lt", "<"),
    ("lte", "≤"),
    ("exists", "is set"),
    ("in", "is one of"),
];

impl Field {
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "customer.name" => Self::Name,
            "customer.email" => Self::Email,
            "customer.phone" => Self::Phone,
            "customer.timezone" => Self::Timezone,
            "customer.source_id" => Self::SourceId,
            "customer.sms_consent" => Self::SmsConsent,
            other => match other.strip_prefix("customer.metadata.") {
                Some(key) if valid_metadata_key(key) => Self::Metadata(key.to_owned()),
                Some(_) => {
                    return Err(
                        "A metadata key has 1 to 64 letters, digits, _ or - (like customer.metadata.tier)."
                            .into(),
                    )
                }
                None => {
                    return Err(format!(
                        "Unknown field {other:?}; use customer.name, customer.email, customer.phone, \
                         customer.timezone, customer.source_id, customer.sms_consent or customer.metadata.<key>."
                    ))
                }
            },
        })
    }

    pub fn as_string(&self) -> String {
        match self {
            Self::Name => "customer.name".into(),
            Self::Email => "customer.email".into(),
            Self::Phone => "customer.phone".into(),
            Self::Timezone => "customer.timezone".into(),
            Self::SourceId => "customer.source_id".into(),
            Self::SmsConsent => "customer.sms_consent".into(),
            Self::Metadata(k) => format!("customer.metadata.{k}"),
        }
    }
}

pub fn valid_metadata_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Op {
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "contains" => Self::Contains,
            "starts_with" => Self::StartsWith,
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            "exists" => Self::Exists,
            "in" => Self::In,
            other => {
                return Err(format!(
                    "Unknown operator {other:?}; use eq, ne, contains, starts_with, gt, gte, lt, lte, exists or in."
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Contains => "contains",
            Self::StartsWith => "starts_with",
            Self::Gt => "gt",
            Self::Gte => "gte",
            Self::Lt => "lt",
            Self::Lte => "lte",
            Self::Exists => "exists",
            Self::In => "in",
        }
    }
}

/// Event names as `POST /v1/events` accepts them.
pub fn valid_event_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Rule {
    /// Parses and checks a rule; `root` names it in error paths (`filter`).
    pub fn parse(value: &Value, root: &str) -> Result<Self, RuleError> {
        let mut nodes = 0;
        parse_node(value, root, 0, &mut nodes)
    }

    /// The rule that matches every customer.
    pub fn everyone() -> Self {
        Self::All(Vec::new())
    }

    /// True when membership can change by time passing alone (an event window).
    pub fn is_time_relative(&self) -> bool {
        match self {
            Self::All(rules) | Self::Any(rules) => rules.iter().any(Self::is_time_relative),
            Self::Not(rule) => rule.is_time_relative(),
            Self::Field(_) => false,
            Self::Event(e) => e.within_days.is_some(),
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            Self::All(rules) => single(
                "all",
                Value::Array(rules.iter().map(Self::to_value).collect()),
            ),
            Self::Any(rules) => single(
                "any",
                Value::Array(rules.iter().map(Self::to_value).collect()),
            ),
            Self::Not(rule) => single("not", rule.to_value()),
            Self::Field(f) => {
                let mut m = Map::new();
                m.insert("field".into(), Value::String(f.field.as_string()));
                m.insert("op".into(), Value::String(f.op.as_str().into()));
                m.insert("value".into(), f.value.clone());
                Value::Object(m)
            }
            Self::Event(e) => {
                let mut m = Map::new();
                m.insert("event".into(), Value::String(e.event.clone()));
                let op = if e.performed {
                    "performed"
                } else {
                    "not_performed"
                };
                m.insert("op".into(), Value::String(op.into()));
                if let Some(d) = e.within_days {
                    m.insert("within_days".into(), Value::from(d));
                }
                if let Some(n) = e.min_count {
                    m.insert("min_count".into(), Value::from(n));
                }
                Value::Object(m)
            }
        }
    }

    /// A one-line English reading of the rule, for lists and the review page.
    pub fn describe(&self) -> String {
        match self {
            Self::All(rules) if rules.is_empty() => "every customer".into(),
            Self::Any(rules) if rules.is_empty() => "no customer".into(),
            Self::All(rules) => join(rules, " and "),
            Self::Any(rules) => join(rules, " or "),
            Self::Not(rule) => format!("not ({})", rule.describe()),
            Self::Field(f) => {
                let field = f.field.as_string();
                let field = field.trim_start_matches("customer.");
                let label = OPS
                    .iter()
                    .find(|(k, _)| *k == f.op.as_str())
                    .map_or("?", |(_, l)| l);
                match f.op {
                    Op::Exists if f.value == Value::Bool(false) => format!("{field} is not set"),
                    Op::Exists => format!("{field} is set"),
                    _ => format!("{field} {label} {}", f.value),
                }
            }
            Self::Event(e) => {
                let mut s = format!(
                    "{} {}",
                    if e.performed { "did" } else { "did not do" },
                    e.event
                );
                if let Some(n) = e.min_count.filter(|n| *n > 1) {
                    s.push_str(&format!(" at least {n} times"));
                }
                if let Some(d) = e.within_days {
                    s.push_str(&format!(" in the last {d} days"));
                }
                s
            }
        }
    }
}

fn join(rules: &[Rule], sep: &str) -> String {
    let parts: Vec<String> = rules
        .iter()
        .map(|r| match r {
            Rule::All(inner) | Rule::Any(inner) if inner.len() > 1 => format!("({})", r.describe()),
            _ => r.describe(),
        })
        .collect();
    parts.join(sep)
}

fn single(key: &str, v: Value) -> Value {
    let mut m = Map::new();
    m.insert(key.into(), v);
    Value::Object(m)
}

impl From<Rule> for Value {
    fn from(rule: Rule) -> Self {
        rule.to_value()
    }
}

impl TryFrom<Value> for Rule {
    type Error = RuleError;
    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Rule::parse(&value, "filter")
    }
}

fn err(path: &str, message: impl Into<String>) -> RuleError {
    RuleError {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn parse_node(v: &Value, path: &str, depth: usize, nodes: &mut usize) -> Result<Rule, RuleError> {
    *nodes += 1;
    if *nodes > MAX_NODES {
        return Err(err(
            path,
            format!("A rule may have at most {MAX_NODES} conditions."),
        ));
    }
    if depth > MAX_DEPTH {
        return Err(err(
            path,
            format!("Rules may nest at most {MAX_DEPTH} levels deep."),
        ));
    }
    let Some(obj) = v.as_object() else {
        return Err(err(path, "Expected an object such as {\"all\": [...]} or {\"field\": ..., \"op\": ..., \"value\": ...}."));
    };
    let group = |key: &str, nodes: &mut usize| -> Result<Vec<Rule>, RuleError> {
        let p = format!("{path}.{key}");
        let items = obj[key]
            .as_array()
            .ok_or_else(|| err(&p, "Expected a list of rules."))?;
        items
            .iter()
            .enumerate()
            .map(|(i, r)| parse_node(r, &format!("{p}[{i}]"), depth + 1, nodes))
            .collect()
    };
    let only = |key: &str| -> Result<(), RuleError> {
        match obj.keys().find(|k| k.as_str() != key) {
            Some(extra) => Err(err(
                path,
                format!(
                    "{key:?} cannot be combined with {extra:?}; wrap both in \"all\" or \"any\"."
                ),
            )),
            None => Ok(()),
        }
    };
    if obj.contains_key("all") {
        only("all")?;
        return group("all", nodes).map(Rule::All);
    }
    if obj.contains_key("any") {
        only("any")?;
        return group("any", nodes).map(Rule::Any);
    }
    if obj.contains_key("not") {
        only("not")?;
        let inner = parse_node(&obj["not"], &format!("{path}.not"), depth + 1, nodes)?;
        return Ok(Rule::Not(Box::new(inner)));
    }
    if obj.contains_key("event") {
        return parse_event(obj, path).map(Rule::Event);
    }
    if obj.contains_key("field") {
        return parse_field(obj, path).map(Rule::Field);
    }
    Err(err(path, "Expected one of all, any, not, field or event."))
}

fn allowed_keys(obj: &Map<String, Value>, path: &str, keys: &[&str]) -> Result<(), RuleError> {
    match obj.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(k) => Err(err(
            &format!("{path}.{k}"),
            format!("Unknown key; a condition here has {}.", keys.join(", ")),
        )),
        None => Ok(()),
    }
}

fn parse_event(obj: &Map<String, Value>, path: &str) -> Result<EventRule, RuleError> {
    allowed_keys(obj, path, &["event", "op", "within_days", "min_count"])?;
    let event = obj["event"].as_str().unwrap_or_default().trim();
    if !valid_event_name(event) {
        return Err(err(
            &format!("{path}.event"),
            "Name the event with 1 to 100 letters, digits, _ - or ., like cart_abandoned.",
        ));
    }
    let performed = match obj.get("op").and_then(Value::as_str) {
        Some("performed") => true,
        Some("not_performed") => false,
        _ => {
            return Err(err(
                &format!("{path}.op"),
                "Use performed or not_performed.",
            ))
        }
    };
    let number = |key: &str, max: u32| -> Result<Option<u32>, RuleError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if (1..=u64::from(max)).contains(&n) => Ok(Some(n as u32)),
                _ => Err(err(
                    &format!("{path}.{key}"),
                    format!("Use a whole number from 1 to {max}."),
                )),
            },
        }
    };
    Ok(EventRule {
        event: event.to_owned(),
        performed,
        within_days: number("within_days", MAX_WITHIN_DAYS)?,
        min_count: number("min_count", 1_000_000)?,
    })
}

fn parse_field(obj: &Map<String, Value>, path: &str) -> Result<FieldRule, RuleError> {
    allowed_keys(obj, path, &["field", "op", "value"])?;
    let field = obj["field"]
        .as_str()
        .ok_or_else(|| {
            err(
                &format!("{path}.field"),
                "Expected a field name such as customer.name.",
            )
        })
        .and_then(|f| Field::parse(f).map_err(|m| err(&format!("{path}.field"), m)))?;
    let op = obj
        .get("op")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            err(
                &format!("{path}.op"),
                "Give an operator: eq, ne, contains, starts_with, gt, gte, lt, lte, exists or in.",
            )
        })
        .and_then(|o| Op::parse(o).map_err(|m| err(&format!("{path}.op"), m)))?;
    let value = obj.get("value").cloned().unwrap_or(Value::Null);
    let vpath = format!("{path}.value");
    let metadata = matches!(field, Field::Metadata(_));
    let scalar_ok = |v: &Value| match v {
        Value::String(s) => s.chars().count() <= 1000,
        Value::Number(n) => n.as_f64().is_some_and(f64::is_finite),
        Value::Bool(_) => metadata,
        _ => false,
    };
    let scalar_hint = if metadata {
        "Expected a text, a number or true/false."
    } else {
        "Expected a text (customer fields are text)."
    };
    match op {
        Op::Exists => {
            if !matches!(value, Value::Bool(_) | Value::Null) {
                return Err(err(
                    &vpath,
                    "exists takes true (is set) or false (is not set).",
                ));
            }
        }
        Op::Contains | Op::StartsWith => {
            if !value
                .as_str()
                .is_some_and(|s| !s.is_empty() && s.chars().count() <= 1000)
            {
                return Err(err(&vpath, "Expected a non-empty text."));
            }
        }
        Op::In => {
            let items = value
                .as_array()
                .ok_or_else(|| err(&vpath, "in takes a list of values."))?;
            if items.is_empty() || items.len() > MAX_IN_VALUES {
                return Err(err(
                    &vpath,
                    format!("in takes 1 to {MAX_IN_VALUES} values."),
                ));
            }
            if let Some(i) = items.iter().position(|v| !scalar_ok(v) || v.is_boolean()) {
                return Err(err(
                    &format!("{vpath}[{i}]"),
                    if metadata {
                        "Expected a text or a number."
                    } else {
                        scalar_hint
                    },
                ));
            }
            if !metadata && items.iter().any(|v| !v.is_string()) {
                return Err(err(&vpath, scalar_hint));
            }
        }
        Op::Eq | Op::Ne => {
            if !scalar_ok(&value) || (!metadata && !value.is_string()) {
                return Err(err(&vpath, scalar_hint));
            }
        }
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            let ok = match &value {
                Value::Number(_) => metadata && scalar_ok(&value),
                Value::String(_) => scalar_ok(&value),
                _ => false,
            };
            if !ok {
                return Err(err(
                    &vpath,
                    if metadata {
                        "Compare with a number or a text."
                    } else {
                        "Compare with a text."
                    },
                ));
            }
        }
    }
    if field == Field::SmsConsent && matches!(op, Op::Eq | Op::Ne | Op::In) {
        let states = ["opted_in", "opted_out", "unknown"];
        let bad = match &value {
            Value::Array(items) => items
                .iter()
                .any(|v| !states.contains(&v.as_str().unwrap_or_default())),
            v => !states.contains(&v.as_str().unwrap_or_default()),
        };
        if bad {
            return Err(err(
                &vpath,
                "SMS consent is opted_in, opted_out or unknown.",
            ));
        }
    }
    let value = if op == Op::Exists && value.is_null() {
        Value::Bool(true)
    } else {
        value
    };
    Ok(FieldRule { field, op, value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Rule, RuleError> {
        Rule::parse(&v, "filter")
    }

    #[test]
    fn the_public_shapes_parse_and_print_back() {
        let v = json!({"all": [
            {"field": "customer.metadata.tier", "op": "eq", "value": "gold"},
            {"any": [{"event": "cart_abandoned", "op": "performed", "within_days": 7},
                     {"not": {"field": "customer.email", "op": "exists", "value": true}}]},
            {"field": "customer.metadata.orders", "op": "gte", "value": 3},
            {"event": "order_placed", "op": "not_performed", "min_count": 2}
        ]});
        let rule = parse(v.clone()).unwrap();
        assert_eq!(rule.to_value(), v);
        assert!(rule.is_time_relative());
        let back: Rule = serde_json::from_value(v).unwrap();
        assert_eq!(back, rule);
        assert_eq!(
            rule.describe(),
            "metadata.tier is \"gold\" and (did cart_abandoned in the last 7 days or not (email is set)) \
             and metadata.orders ≥ 3 and did not do order_placed at least 2 times"
        );
    }

    #[test]
    fn errors_point_at_the_offending_part() {
        let e = parse(json!({"all": [{"field": "customer.name", "op": "eq", "value": "a"}, {"field": "customer.name", "op": "equals", "value": 1}]})).unwrap_err();
        assert_eq!(e.path, "filter.all[1].op");
        assert!(e.message.contains("Unknown operator \"equals\""));
        let e = parse(json!({"field": "customer.age", "op": "eq", "value": 1})).unwrap_err();
        assert_eq!(e.path, "filter.field");
        let e = parse(json!({"field": "customer.name", "op": "gt", "value": 3})).unwrap_err();
        assert_eq!(e.path, "filter.value");
        let e = parse(json!({"event": "x", "op": "performed", "within_days": 0})).unwrap_err();
        assert_eq!(e.path, "filter.within_days");
        let e = parse(json!({"all": [], "any": []})).unwrap_err();
        assert_eq!(e.path, "filter");
        let e = parse(json!({"field": "customer.metadata.tier", "op": "in", "value": ["a", true]}))
            .unwrap_err();
        assert_eq!(e.path, "filter.value[1]");
        let e = parse(json!({"field": "customer.sms_consent", "op": "eq", "value": "yes"}))
            .unwrap_err();
        assert!(e.message.contains("opted_in"));
        let e = parse(json!({"field": "customer.name", "op": "eq", "value": "a", "extra": 1}))
            .unwrap_err();
        assert_eq!(e.path, "filter.extra");
        assert!(parse(json!("all")).is_err());
    }

    #[test]
    fn depth_and_size_are_bounded() {
        let mut v = json!({"field": "customer.name", "op": "exists"});
        for _ in 0..=MAX_DEPTH {
            v = json!({"not": v});
        }
        assert!(parse(v).unwrap_err().message.contains("nest"));
        let many: Vec<Value> = (0..=MAX_NODES)
            .map(|_| json!({"field": "customer.name", "op": "exists"}))
            .collect();
        assert!(parse(json!({"any": many}))
            .unwrap_err()
            .message
            .contains("at most"));
    }

    #[test]
    fn exists_defaults_to_true() {
        let r = parse(json!({"field": "customer.phone", "op": "exists"})).unwrap();
        assert_eq!(r.to_value()["value"], json!(true));
        assert!(!r.is_time_relative());
        assert_eq!(Rule::everyone().describe(), "every customer");
    }
}
