//! The rule builder: conditions joined by "all" or "any", each a customer field, a metadata
//! key or an event, optionally negated, with a live count of matching customers.
//!
//! The form submits the rule as JSON from a textarea (`name="filter"`), which is also the
//! editor without JavaScript and for nested rules. Once hydrated, the visual builder edits
//! that JSON; typing valid flat JSON into the textarea updates the builder in turn.

use crate::{
    api::segments::count_segment_rule,
    domain::segment_rule::{Rule, FIELDS, OPS},
};
use leptos::prelude::*;
use serde_json::{json, Map, Value};

const METADATA: &str = "customer.metadata";
const EVENT: &str = "event";

#[derive(Clone, Debug, PartialEq)]
struct Condition {
    key: u32,
    negate: bool,
    /// A field name from FIELDS, `customer.metadata` or `event`.
    what: String,
    meta_key: String,
    op: String,
    value: String,
    event: String,
    performed: bool,
    within_days: String,
    min_count: String,
}

impl Condition {
    fn new(key: u32) -> Self {
        Self {
            key,
            negate: false,
            what: METADATA.into(),
            meta_key: String::new(),
            op: "eq".into(),
            value: String::new(),
            event: String::new(),
            performed: true,
            within_days: String::new(),
            min_count: String::new(),
        }
    }

    fn to_value(&self) -> Value {
        let leaf = if self.what == EVENT {
            let mut m = Map::new();
            m.insert("event".into(), json!(self.event.trim()));
            m.insert(
                "op".into(),
                json!(if self.performed {
                    "performed"
                } else {
                    "not_performed"
                }),
            );
            if let Some(d) = number(&self.within_days) {
                m.insert("within_days".into(), d);
            }
            if let Some(n) = number(&self.min_count) {
                m.insert("min_count".into(), n);
            }
            Value::Object(m)
        } else {
            let metadata = self.what == METADATA;
            let field = if metadata {
                format!("{METADATA}.{}", self.meta_key.trim())
            } else {
                self.what.clone()
            };
            let value = match self.op.as_str() {
                "exists" => json!(true),
                "in" => Value::Array(
                    self.value
                        .split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(|v| typed(v, metadata, false))
                        .collect(),
                ),
                op => typed(self.value.trim(), metadata, matches!(op, "eq" | "ne")),
            };
            json!({"field": field, "op": self.op, "value": value})
        };
        if self.negate {
            json!({ "not": leaf })
        } else {
            leaf
        }
    }

    /// A leaf (or a negated leaf) of a parsed rule; `None` for groups.
    fn from_rule(rule: &Rule, key: u32) -> Option<Self> {
        let (negate, leaf) = match rule {
            Rule::Not(inner) => (true, inner.as_ref()),
            other => (false, other),
        };
        let mut c = Self::new(key);
        c.negate = negate;
        match leaf {
            Rule::Field(f) => {
                let name = f.field.as_string();
                match name.strip_prefix("customer.metadata.") {
                    Some(k) => {
                        c.what = METADATA.into();
                        c.meta_key = k.into();
                    }
                    None => c.what = name,
                }
                c.op = f.op.as_str().into();
                if c.op == "exists" && f.value == Value::Bool(false) {
                    // "is not set" reads as a negated "is set".
                    c.negate = !c.negate;
                }
                c.value = match &f.value {
                    Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join(", "),
                    Value::Bool(_) if c.op == "exists" => String::new(),
                    v => show(v),
                };
            }
            Rule::Event(e) => {
                c.what = EVENT.into();
                c.event = e.event.clone();
                c.performed = e.performed;
                c.within_days = e.within_days.map(|d| d.to_string()).unwrap_or_default();
                c.min_count = e.min_count.map(|n| n.to_string()).unwrap_or_default();
            }
            _ => return None,
        }
        Some(c)
    }
}

fn number(text: &str) -> Option<Value> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    Some(
        t.parse::<u64>()
            .map(Value::from)
            .unwrap_or_else(|_| json!(t)),
    )
}

/// Metadata values are typed: numbers and true/false as such, "quoted" text stays text.
fn typed(text: &str, metadata: bool, allow_bool: bool) -> Value {
    if !metadata {
        return json!(text);
    }
    if text.len() >= 2 && text.starts_with('"') && text.ends_with('"') {
        return json!(&text[1..text.len() - 1]);
    }
    if allow_bool && (text == "true" || text == "false") {
        return json!(text == "true");
    }
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => serde_json::Number::from_f64(n)
            .map(|num| {
                if n.fract() == 0.0 && n.abs() < 1e15 {
                    json!(n as i64)
                } else {
                    Value::Number(num)
                }
            })
            .unwrap_or_else(|| json!(text)),
        _ => json!(text),
    }
}

/// How a value is typed back into the builder: text that looks like a number gets quotes.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) if s.parse::<f64>().is_ok() || s == "true" || s == "false" => {
            format!("\"{s}\"")
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The builder's state, when a rule is flat enough to show in it.
fn flatten(rule: &Rule) -> Option<(bool, Vec<Condition>)> {
    let (all, items): (bool, Vec<&Rule>) = match rule {
        Rule::All(items) => (true, items.iter().collect()),
        Rule::Any(items) => (false, items.iter().collect()),
        leaf => (true, vec![leaf]),
    };
    let conds = items
        .iter()
        .enumerate()
        .map(|(i, r)| Condition::from_rule(r, i as u32 + 1))
        .collect::<Option<Vec<_>>>()?;
    Some((all, conds))
}

fn to_json(all: bool, conds: &[Condition]) -> String {
    let items: Vec<Value> = conds.iter().map(Condition::to_value).collect();
    let rule = if all {
        json!({ "all": items })
    } else {
        json!({ "any": items })
    };
    serde_json::to_string_pretty(&rule).unwrap_or_default()
}

#[component]
pub fn RuleBuilder(
    /// The rule to start from (a new segment starts with "every customer").
    initial: Option<Rule>,
    /// The server's error for the `filter` field, shown beside the JSON.
    #[prop(into)]
    error: Signal<Option<String>>,
) -> impl IntoView {
    let initial = initial.unwrap_or_else(Rule::everyone);
    let initial_text = serde_json::to_string_pretty(&initial.to_value()).unwrap_or_default();
    let flat = flatten(&initial);
    let (all0, conds0) = flat.clone().unwrap_or((true, Vec::new()));
    let all = RwSignal::new(all0);
    let next_key = RwSignal::new(conds0.len() as u32 + 1);
    let conds = RwSignal::new(conds0);
    let text = RwSignal::new(initial_text.clone());
    let representable = RwSignal::new(flat.is_some());
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    let sync = move || text.set(to_json(all.get_untracked(), &conds.get_untracked()));
    let update = move |key: u32, f: &dyn Fn(&mut Condition)| {
        conds.update(|cs| {
            if let Some(c) = cs.iter_mut().find(|c| c.key == key) {
                f(c);
            }
        });
        sync();
    };
    let add = move |_| {
        let key = next_key.get_untracked();
        next_key.set(key + 1);
        conds.update(|cs| cs.push(Condition::new(key)));
        sync();
    };

    // The live count follows the JSON, a moment after typing stops.
    let count = RwSignal::new(None::<Result<u64, String>>);
    let counting = RwSignal::new(false);
    let generation = StoredValue::new(0u64);
    Effect::new(move |_| {
        let body = text.get();
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        counting.set(true);
        set_timeout(
            move || {
                if generation.get_value() != mine {
                    return;
                }
                leptos::task::spawn_local(async move {
                    let result = count_segment_rule(body).await;
                    if generation.get_value() == mine {
                        counting.set(false);
                        count.set(Some(result.map_err(|e| match e.field("filter") {
                            Some(f) => f.to_owned(),
                            None => e.to_string(),
                        })));
                    }
                });
            },
            std::time::Duration::from_millis(350),
        );
    });

    let on_text = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        text.set(value.clone());
        if let Some(rule) = serde_json::from_str::<Value>(&value)
            .ok()
            .and_then(|v| Rule::parse(&v, "filter").ok())
        {
            match flatten(&rule) {
                Some((a, cs)) => {
                    next_key.set(cs.len() as u32 + 1);
                    all.set(a);
                    conds.set(cs);
                    representable.set(true);
                }
                None => representable.set(false),
            }
        }
    };

    let row = move |key: u32| {
        let get = move |f: fn(&Condition) -> String| {
            move || conds.with(|cs| cs.iter().find(|c| c.key == key).map(f).unwrap_or_default())
        };
        let what = get(|c| c.what.clone());
        let is_event = move || what() == EVENT;
        let is_meta = move || what() == METADATA;
        let op = get(|c| c.op.clone());
        let no_value = move || op() == "exists";
        let label = format!("Condition {key}");
        view! {
            <li class="rule-row" aria-label=label.clone()>
                <label class="rule-not">
                    <input type="checkbox"
                        prop:checked=move || conds.with(|cs| cs.iter().any(|c| c.key == key && c.negate))
                        on:change=move |ev| { let on = event_target_checked(&ev); update(key, &|c| c.negate = on) }/>
                    "not"
                </label>
                <select aria-label="Field or event" prop:value=what
                    on:change=move |ev| { let v = event_target_value(&ev); update(key, &|c| c.what = v.clone()) }>
                    {FIELDS.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                    <option value=METADATA>"Metadata key…"</option>
                    <option value=EVENT>"Event…"</option>
                </select>
                <Show when=is_meta>
                    <input class="rule-key" aria-label="Metadata key" placeholder="tier" prop:value=get(|c| c.meta_key.clone())
                        on:input=move |ev| { let v = event_target_value(&ev); update(key, &|c| c.meta_key = v.clone()) }/>
                </Show>
                <Show when=is_event fallback=move || view! {
                    <select aria-label="Operator" prop:value=op
                        on:change=move |ev| { let v = event_target_value(&ev); update(key, &|c| c.op = v.clone()) }>
                        {OPS.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                    </select>
                    <Show when=move || !no_value()>
                        <input class="rule-value" aria-label="Value" placeholder=move || if op() == "in" { "gold, silver" } else { "value" }
                            prop:value=get(|c| c.value.clone())
                            on:input=move |ev| { let v = event_target_value(&ev); update(key, &|c| c.value = v.clone()) }/>
                    </Show>
                }>
                    <input class="rule-key" aria-label="Event name" placeholder="cart_abandoned" prop:value=get(|c| c.event.clone())
                        on:input=move |ev| { let v = event_target_value(&ev); update(key, &|c| c.event = v.clone()) }/>
                    <select aria-label="Performed"
                        prop:value=move || conds.with(|cs| cs.iter().find(|c| c.key == key).map(|c| if c.performed { "performed" } else { "not_performed" }).unwrap_or("performed"))
                        on:change=move |ev| { let v = event_target_value(&ev) == "performed"; update(key, &|c| c.performed = v) }>
                        <option value="performed">"performed"</option>
                        <option value="not_performed">"not performed"</option>
                    </select>
                    <label class="rule-inline">"at least"
                        <input class="rule-num" type="number" min="1" aria-label="Minimum count" placeholder="1" prop:value=get(|c| c.min_count.clone())
                            on:input=move |ev| { let v = event_target_value(&ev); update(key, &|c| c.min_count = v.clone()) }/>
                        "times"</label>
                    <label class="rule-inline">"in the last"
                        <input class="rule-num" type="number" min="1" aria-label="Within days" placeholder="any" prop:value=get(|c| c.within_days.clone())
                            on:input=move |ev| { let v = event_target_value(&ev); update(key, &|c| c.within_days = v.clone()) }/>
                        "days"</label>
                </Show>
                <button type="button" class="btn btn-small btn-ghost" aria-label=format!("Remove condition {key}")
                    on:click=move |_| { conds.update(|cs| cs.retain(|c| c.key != key)); sync(); }>"Remove"</button>
            </li>
        }
    };

    view! {
        <div class="rule-builder" hidden=move || !hydrated.get() || !representable.get()>
            <div class="rule-mode">
                "Customers who match "
                <select aria-label="Match" prop:value=move || if all.get() { "all" } else { "any" }
                    on:change=move |ev| { all.set(event_target_value(&ev) == "all"); sync(); }>
                    <option value="all">"all"</option>
                    <option value="any">"any"</option>
                </select>
                " of these conditions"
                {move || conds.with(Vec::is_empty).then(|| view! { <span class="muted">" (none yet: every customer)"</span> })}
            </div>
            <ol class="rule-rows">
                <For each=move || conds.get() key=|c| c.key children=move |c| row(c.key)/>
            </ol>
            <button type="button" class="btn btn-small" on:click=add>"+ Add condition"</button>
            <p class="field-hint">"Metadata values are matched with their type: 12 is a number, true a yes/no, \"12\" (quoted) a text. For \"is one of\", separate values with commas."</p>
        </div>
        <p class="rule-nested alert" hidden=move || !hydrated.get() || representable.get()>
            "This rule nests groups; edit it as JSON below."
        </p>
        <p class="rule-count" aria-live="polite" data-testid="rule-count" hidden=move || !hydrated.get()>
            {move || match (counting.get(), count.get()) {
                (true, _) => view! { <span class="muted">"Counting…"</span> }.into_any(),
                (false, Some(Ok(n))) => view! { <strong>{group(n)}</strong> {if n == 1 { " customer matches" } else { " customers match" }} }.into_any(),
                (false, Some(Err(e))) => view! { <span class="field-error">{e}</span> }.into_any(),
                (false, None) => ().into_any(),
            }}
        </p>
        <details class="rule-json" open=move || !hydrated.get() || !representable.get()>
            <summary>"Rule as JSON"</summary>
            <div class="field" class:invalid=move || error.get().is_some()>
                <label for="segment-filter">"Rule (JSON, as the API takes it)"</label>
                <textarea id="segment-filter" name="filter" rows="8" class="template-body" spellcheck="false"
                    aria-describedby="segment-filter-error" prop:value=move || text.get() on:input=on_text>{initial_text}</textarea>
                <p class="field-error" id="segment-filter-error" hidden=move || error.get().is_none()>{move || error.get()}</p>
            </div>
        </details>
    }
}

/// 1234567 → "1,234,567".
pub fn group(n: u64) -> String {
    crate::dto::campaign::group_digits(u128::from(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_rules_round_trip_through_the_builder() {
        let v = json!({"any": [
            {"field": "customer.metadata.tier", "op": "in", "value": ["gold", "silver"]},
            {"not": {"event": "order_placed", "op": "performed", "within_days": 30}},
            {"field": "customer.metadata.orders", "op": "gte", "value": 3},
            {"field": "customer.metadata.code", "op": "eq", "value": "12"},
            {"field": "customer.name", "op": "contains", "value": "ana"}
        ]});
        let rule = Rule::parse(&v, "filter").unwrap();
        let (all, conds) = flatten(&rule).unwrap();
        assert!(!all);
        assert_eq!(conds[3].value, "\"12\"");
        let back: Value = serde_json::from_str(&to_json(all, &conds)).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn nested_groups_stay_in_json() {
        let rule = Rule::parse(&json!({"all": [{"any": []}]}), "filter").unwrap();
        assert!(flatten(&rule).is_none());
    }

    #[test]
    fn values_get_their_types() {
        assert_eq!(typed("12", true, true), json!(12));
        assert_eq!(typed("1.5", true, true), json!(1.5));
        assert_eq!(typed("true", true, true), json!(true));
        assert_eq!(typed("true", true, false), json!("true"));
        assert_eq!(typed("\"12\"", true, true), json!("12"));
        assert_eq!(typed("12", false, true), json!("12"));
        assert_eq!(group(1234567), "1,234,567");
    }
}
