//! Segment rules as SQL over `customers c`, for SQLite and PostgreSQL.
//!
//! The database is the only evaluator: counting a rule, materialising a segment and
//! re-checking one customer after a change all run the same predicate, so they cannot
//! disagree. Every leaf is two-valued (`COALESCE(…, FALSE)`), so `not` and `ne` behave as a
//! marketer reads them: "tier is not gold" includes customers without a tier. Every value is
//! a bound parameter; metadata keys are checked by the rule parser and bound as JSON paths.

use app::domain::segment_rule::{EventRule, Field, FieldRule, Op, Rule};
use sea_orm::{DbBackend, Statement, Value as DbValue};
use serde_json::Value;

/// SQL text with its bound values, written for one backend.
pub struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<DbValue>,
    probe: bool,
}

impl Sql {
    pub fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            text: String::with_capacity(256),
            values: Vec::new(),
            probe: false,
        }
    }

    /// Event conditions as per-customer index probes (`EXISTS … WHERE customer_id = c.id`)
    /// instead of one set built from all matching events: right when a few known customers
    /// are re-checked, wrong for a scan of every customer.
    pub fn probing(mut self) -> Self {
        self.probe = true;
        self
    }

    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: impl Into<DbValue>) -> &mut Self {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.values.len().to_string());
            }
            _ => self.text.push('?'),
        }
        self
    }

    /// Appends the rule's predicate over the customer row `c`; `now` anchors event windows.
    pub fn rule(&mut self, rule: &Rule, now: i64) -> &mut Self {
        match rule {
            Rule::All(rules) | Rule::Any(rules) if rules.is_empty() => {
                self.push(if matches!(rule, Rule::All(_)) {
                    "(1=1)"
                } else {
                    "(1=0)"
                });
            }
            Rule::All(rules) | Rule::Any(rules) => {
                let sep = if matches!(rule, Rule::All(_)) {
                    " AND "
                } else {
                    " OR "
                };
                self.push("(");
                for (i, r) in rules.iter().enumerate() {
                    if i > 0 {
                        self.push(sep);
                    }
                    self.rule(r, now);
                }
                self.push(")");
            }
            Rule::Not(inner) => {
                self.push("(NOT ");
                self.rule(inner, now);
                self.push(")");
            }
            Rule::Field(f) => self.field(f),
            Rule::Event(e) => self.event(e, now),
        }
        self
    }

    pub fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }

    fn pg(&self) -> bool {
        self.backend == DbBackend::Postgres
    }

    fn event(&mut self, e: &EventRule, now: i64) {
        let min = e.min_count.unwrap_or(1);
        if self.probe {
            self.push(if e.performed { "(" } else { "(NOT " });
            self.push(if min > 1 {
                "(SELECT COUNT(*) FROM events e"
            } else {
                "EXISTS (SELECT 1 FROM events e"
            });
            self.push(" WHERE e.customer_id = c.id AND e.name = ");
            self.bind(e.event.clone());
            if let Some(days) = e.within_days {
                self.push(" AND e.created_at >= ");
                self.bind(now - i64::from(days) * 86_400_000);
            }
            self.push(")");
            if min > 1 {
                self.push(" >= ").bind(i64::from(min));
            }
            self.push(")");
            return;
        }
        self.push(if e.performed {
            "(c.id IN ("
        } else {
            "(c.id NOT IN ("
        });
        self.push("SELECT e.customer_id FROM events e WHERE e.name = ");
        self.bind(e.event.clone());
        if let Some(days) = e.within_days {
            self.push(" AND e.created_at >= ");
            self.bind(now - i64::from(days) * 86_400_000);
        }
        if min > 1 {
            self.push(" GROUP BY e.customer_id HAVING COUNT(*) >= ");
            self.bind(i64::from(min));
        }
        self.push("))");
    }

    fn field(&mut self, f: &FieldRule) {
        if f.op == Op::Ne {
            // The complement of eq, so a missing value counts as "not equal".
            self.push("(NOT ");
            self.field(&FieldRule {
                op: Op::Eq,
                ..f.clone()
            });
            self.push(")");
            return;
        }
        self.push("COALESCE((");
        match &f.field {
            Field::Metadata(key) => self.metadata(key, f.op, &f.value),
            column => self.column(column_name(column), f.op, &f.value),
        }
        self.push("), FALSE)");
    }

    fn column(&mut self, col: &str, op: Op, value: &Value) {
        let c = format!("c.{col}");
        match op {
            Op::Exists => {
                let set = value.as_bool().unwrap_or(true);
                self.push(&c)
                    .push(if set { " IS NOT NULL" } else { " IS NULL" });
            }
            Op::Eq | Op::Ne => {
                self.push(&c).push(" = ").bind(text(value));
            }
            Op::In => {
                self.push(&c).push(" IN (");
                for (i, v) in value.as_array().into_iter().flatten().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.bind(text(v));
                }
                self.push(")");
            }
            Op::Contains | Op::StartsWith => self.like(&c, op, value),
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
                self.push(&c);
                if self.pg() {
                    self.push(" COLLATE \"C\"");
                }
                self.push(comparison(op)).bind(text(value));
            }
        }
    }

    fn like(&mut self, expr: &str, op: Op, value: &Value) {
        let pattern = like_pattern(&text(value), op == Op::Contains);
        self.push("lower(")
            .push(expr)
            .push(") LIKE ")
            .bind(pattern)
            .push(" ESCAPE '\\'");
    }

    /// Metadata values keep their JSON type: 3 matches the number 3, not the text "3".
    fn metadata(&mut self, key: &str, op: Op, value: &Value) {
        let pg = self.pg();
        // Both backends get the key as a bound value; the parser allows only [A-Za-z0-9_-].
        let path = if pg {
            key.to_owned()
        } else {
            format!("$.\"{key}\"")
        };
        let kind = |s: &mut Self| {
            if pg {
                s.push("jsonb_typeof(c.metadata -> CAST(")
                    .bind(path.clone())
                    .push(" AS TEXT))");
            } else {
                s.push("json_type(c.metadata, ")
                    .bind(path.clone())
                    .push(")");
            }
        };
        let as_text = |s: &mut Self| {
            if pg {
                s.push("(c.metadata ->> CAST(")
                    .bind(path.clone())
                    .push(" AS TEXT))");
            } else {
                s.push("json_extract(c.metadata, ")
                    .bind(path.clone())
                    .push(")");
            }
        };
        let (text_kind, number_test) = if pg {
            ("= 'string'", "= 'number'")
        } else {
            ("= 'text'", "IN ('integer', 'real')")
        };
        let typed_eq = |s: &mut Self, v: &Value| match v {
            Value::Bool(b) => {
                kind(s);
                if pg {
                    s.push(" = 'boolean' AND ");
                    as_text(s);
                    s.push(if *b { " = 'true'" } else { " = 'false'" });
                } else {
                    s.push(if *b { " = 'true'" } else { " = 'false'" });
                }
            }
            Value::Number(n) => {
                s.push("CASE WHEN ");
                kind(s);
                s.push(" ").push(number_test).push(" THEN ");
                number(s, &as_text, pg);
                s.push(" END = ").bind(n.as_f64().unwrap_or_default());
            }
            other => {
                kind(s);
                s.push(" ").push(text_kind).push(" AND ");
                as_text(s);
                s.push(" = ").bind(text(other));
            }
        };
        match op {
            Op::Exists => {
                let set = value.as_bool().unwrap_or(true);
                if set {
                    kind(self);
                    self.push(" <> 'null'");
                } else {
                    self.push("NOT COALESCE(");
                    kind(self);
                    self.push(" <> 'null', FALSE)");
                }
            }
            Op::Eq | Op::Ne => typed_eq(self, value),
            Op::In => {
                for (i, v) in value.as_array().into_iter().flatten().enumerate() {
                    if i > 0 {
                        self.push(" OR ");
                    }
                    self.push("COALESCE((");
                    typed_eq(self, v);
                    self.push("), FALSE)");
                }
            }
            Op::Contains | Op::StartsWith => {
                kind(self);
                self.push(" ").push(text_kind).push(" AND ");
                self.push("lower(");
                as_text(self);
                self.push(")");
                let pattern = like_pattern(&text(value), op == Op::Contains);
                self.push(" LIKE ").bind(pattern).push(" ESCAPE '\\'");
            }
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => match value {
                Value::Number(n) => {
                    self.push("CASE WHEN ");
                    kind(self);
                    self.push(" ").push(number_test).push(" THEN ");
                    number(self, &as_text, pg);
                    self.push(" END")
                        .push(comparison(op))
                        .bind(n.as_f64().unwrap_or_default());
                }
                other => {
                    kind(self);
                    self.push(" ").push(text_kind).push(" AND ");
                    as_text(self);
                    if pg {
                        self.push(" COLLATE \"C\"");
                    }
                    self.push(comparison(op)).bind(text(other));
                }
            },
        }
    }
}

fn number(s: &mut Sql, as_text: &dyn Fn(&mut Sql), pg: bool) {
    if pg {
        s.push("CAST(");
        as_text(s);
        s.push(" AS DOUBLE PRECISION)");
    } else {
        as_text(s);
    }
}

/// A case-insensitive LIKE pattern (for `lower(…) LIKE … ESCAPE '\'`) that takes `needle`
/// literally: `%` and `_` in what people type are not wildcards.
pub fn like_pattern(needle: &str, anywhere: bool) -> String {
    let escaped = needle
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    if anywhere {
        format!("%{escaped}%")
    } else {
        format!("{escaped}%")
    }
}

fn comparison(op: Op) -> &'static str {
    match op {
        Op::Gt => " > ",
        Op::Gte => " >= ",
        Op::Lt => " < ",
        _ => " <= ",
    }
}

fn column_name(field: &Field) -> &'static str {
    match field {
        Field::Name => "name",
        Field::Email => "email",
        Field::Phone => "phone",
        Field::Timezone => "timezone",
        Field::SourceId => "source_id",
        Field::SmsConsent => "sms_consent",
        Field::Metadata(_) => "metadata",
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sql(backend: DbBackend, rule: Value) -> (String, usize) {
        let rule = Rule::parse(&rule, "filter").unwrap();
        let mut q = Sql::new(backend);
        q.rule(&rule, 1_000_000_000_000);
        (q.text, q.values.len())
    }

    #[test]
    fn placeholders_follow_the_backend() {
        let rule = json!({"all": [{"field": "customer.name", "op": "eq", "value": "a"},
                                  {"event": "x", "op": "performed", "within_days": 3, "min_count": 2}]});
        let (pg, n) = sql(DbBackend::Postgres, rule.clone());
        assert!(pg.contains("$1") && pg.contains("$4") && !pg.contains('?'));
        assert_eq!(n, 4);
        let (lite, n) = sql(DbBackend::Sqlite, rule);
        assert_eq!(lite.matches('?').count(), 4);
        assert_eq!(n, 4);
    }

    #[test]
    fn values_are_never_spliced_into_the_text() {
        let (text, _) = sql(
            DbBackend::Sqlite,
            json!({"field": "customer.metadata.k", "op": "contains", "value": "'; DROP TABLE customers; --"}),
        );
        assert!(!text.contains("DROP"));
    }
}
