//! Nodes + data → text. Total: every input renders (undefined values render empty).

use super::{
    parser::{Filter, Node, Operand},
    Template,
};
use chrono::{format::StrftimeItems, DateTime, NaiveDate, Utc};
use serde_json::Value;
use std::fmt::Write as _;

/// Renders `template` against `data` (the tree from `TemplateData::to_value`).
pub fn render(template: &Template, data: &Value) -> String {
    let mut out = String::new();
    for node in &template.nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Output(expr) => {
                let mut value = resolve(&expr.operand, data);
                for call in &expr.filters {
                    let args: Vec<Value> = call.args.iter().map(|a| resolve(a, data)).collect();
                    value = apply(call.filter, value, &args);
                }
                write_value(&mut out, &value);
            }
        }
    }
    out
}

fn resolve(operand: &Operand, data: &Value) -> Value {
    match operand {
        Operand::Text(t) => Value::String(t.clone()),
        Operand::Number(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
        Operand::Variable(path, _) => lookup(data, path).cloned().unwrap_or(Value::Null),
    }
}

/// Follows a dotted path. A metadata key may itself contain dots, so under
/// `customer.metadata` the rest of the path is tried whole before it is split.
fn lookup<'a>(data: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(key) = path.strip_prefix("customer.metadata.") {
        let metadata = data.get("customer")?.get("metadata")?;
        if let Some(v) = metadata.get(key) {
            return Some(v);
        }
        return key.split('.').try_fold(metadata, |v, k| v.get(k));
    }
    path.split('.').try_fold(data, |v, k| v.get(k))
}

fn text_of(value: &Value) -> String {
    let mut s = String::new();
    write_value(&mut s, value);
    s
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => {
                let _ = write!(out, "{i}");
            }
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => {
                let _ = write!(out, "{}", f as i64);
            }
            _ => {
                let _ = write!(out, "{n}");
            }
        },
        Value::Array(items) => items.iter().for_each(|i| write_value(out, i)),
        Value::Object(_) => {}
    }
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn apply(filter: Filter, value: Value, args: &[Value]) -> Value {
    let arg = |i: usize| args.get(i).map(text_of).unwrap_or_default();
    match filter {
        Filter::Default => {
            if is_blank(&value) {
                args.first().cloned().unwrap_or(Value::Null)
            } else {
                value
            }
        }
        Filter::Upcase => Value::String(text_of(&value).to_uppercase()),
        Filter::Downcase => Value::String(text_of(&value).to_lowercase()),
        Filter::Capitalize => {
            let text = text_of(&value);
            let mut chars = text.chars();
            Value::String(match chars.next() {
                Some(first) => first
                    .to_uppercase()
                    .chain(chars.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            })
        }
        Filter::Strip => Value::String(text_of(&value).trim().to_owned()),
        Filter::Append => Value::String(text_of(&value) + &arg(0)),
        Filter::Prepend => Value::String(arg(0) + &text_of(&value)),
        Filter::Truncate => {
            let limit = args
                .first()
                .and_then(Value::as_f64)
                .unwrap_or(50.0)
                .max(0.0) as usize;
            let ellipsis = if args.len() > 1 {
                arg(1)
            } else {
                "...".to_owned()
            };
            Value::String(truncate(&text_of(&value), limit, &ellipsis))
        }
        Filter::Date => {
            let text = text_of(&value);
            match parse_date(&text) {
                Some(date) => Value::String(format_date(date, &arg(0)).unwrap_or(text)),
                None => Value::String(text),
            }
        }
    }
}

/// Liquid's truncate: at most `limit` characters, the ellipsis included.
fn truncate(text: &str, limit: usize, ellipsis: &str) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let keep = limit.saturating_sub(ellipsis.chars().count());
    text.chars().take(keep).chain(ellipsis.chars()).collect()
}

fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
        })
}

/// Formats with strftime codes; `None` when the format has an invalid code (never panics).
fn format_date(date: DateTime<Utc>, format: &str) -> Option<String> {
    let items: Vec<_> = StrftimeItems::new(format).collect();
    if items
        .iter()
        .any(|i| matches!(i, chrono::format::Item::Error))
    {
        return None;
    }
    let mut out = String::new();
    write!(out, "{}", date.format_with_items(items.into_iter())).ok()?;
    Some(out)
}
