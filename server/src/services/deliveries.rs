//! The delivery queue's storage: every statement that moves a delivery between states. The
//! dispatcher (`dispatch.rs`) drives it; webhooks and consent changes move deliveries too.
//!
//! Statuses only move forward. Ranks: pending 1, accepted and unknown 2, sent 3,
//! delivered/undelivered/failed/skipped 4 (final). A late or out-of-order status callback
//! never takes a delivery back.

use super::rule_sql::Sql;
use crate::{ids::now_millis, providers::RawAnswer};
use app::dto::{customer::mask_phone, DeliveryView};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, TransactionTrait};

pub const PENDING: &str = "pending";
pub const ACCEPTED: &str = "accepted";
pub const SENT: &str = "sent";
pub const DELIVERED: &str = "delivered";
pub const UNDELIVERED: &str = "undelivered";
pub const FAILED: &str = "failed";
pub const SKIPPED: &str = "skipped";
pub const UNKNOWN: &str = "unknown";

/// Test sends and replies go before distribution traffic of the same integration.
pub const PRIORITY_URGENT: i16 = 0;
pub const PRIORITY_BULK: i16 = 1;

/// How much of a provider's answer is kept per delivery.
const ANSWER_MAX: usize = 4000;

/// A new message for the queue.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub kind: &'static str,
    pub distribution_id: Option<String>,
    pub customer_id: Option<String>,
    pub occurrence: String,
    pub integration_id: String,
    pub priority: i16,
    pub recipient: String,
    pub body: String,
    pub send_after: i64,
}

/// A delivery claimed for sending.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    /// Whether the provider's answer is kept when it accepts the message: for test sends and
    /// replies, whose answer someone reads. A distribution's accepted messages keep the
    /// provider's id and segment count; the whole answer (a kilobyte from Twilio) for each of
    /// a million recipients would only fill the database. Failures always keep it.
    pub keeps_answer: bool,
    pub customer_id: Option<String>,
    pub recipient: String,
    pub body: String,
    pub unicode: bool,
    pub segments: u32,
    pub attempts: u32,
    pub priority: i16,
    pub send_after: i64,
    /// Its customer opted out, or its number is on the STOP list, since it was queued.
    pub opted_out: bool,
}

/// What became of one attempt, to be recorded.
#[derive(Debug, Clone)]
pub enum Outcome {
    Accepted {
        provider_id: String,
        segments: Option<u32>,
        answer: RawAnswer,
    },
    /// Final failure (permanent, or retries used up).
    Failed {
        code: String,
        message: String,
        answer: RawAnswer,
    },
    /// Back to the queue, due at `at`; `counts` says whether an attempt was used up (a 429
    /// does not use one).
    Retry {
        at: i64,
        counts: bool,
        code: String,
        message: String,
        answer: RawAnswer,
    },
    /// The provider may have sent it.
    Unknown { message: String, answer: RawAnswer },
    /// Not attempted (shutdown): back to pending as it was.
    Released,
}

/// A status reported by the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// Our delivery id, from the callback URL.
    pub delivery_id: Option<i64>,
    pub provider_id: Option<String>,
    /// The part it is about, for providers that report each part of a long message on its
    /// own (Vonage): the part's own message id.
    pub part: Option<String>,
    /// One of accepted, sent, delivered, undelivered, failed.
    pub status: &'static str,
    /// The provider's own word for it.
    pub provider_status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// At most `max` characters of `s`, for columns of a fixed width (a provider's id or code
/// longer than any real one must not make the whole batch of outcomes fail).
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => s[..end].to_owned(),
        None => s.to_owned(),
    }
}

/// Widths of `deliveries` columns that hold what providers say.
const PROVIDER_ID_MAX: usize = 128;
const PROVIDER_STATUS_MAX: usize = 32;
const ERROR_CODE_MAX: usize = 64;

fn truncate(s: &str) -> String {
    if s.len() <= ANSWER_MAX {
        return s.to_owned();
    }
    let mut end = ANSWER_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Queues messages, skipping duplicates of (distribution, customer, occurrence); returns the
/// ids of the new rows in order (a duplicate's position holds `None`).
pub async fn enqueue(
    db: &impl ConnectionTrait,
    items: &[NewDelivery],
) -> Result<Vec<Option<i64>>, DbErr> {
    let now = now_millis();
    let mut ids = Vec::with_capacity(items.len());
    for d in items {
        let count = app::domain::sms::count(&d.body, false);
        let mut q = Sql::new(db.get_database_backend());
        q.push(
            "INSERT INTO deliveries (kind, distribution_id, customer_id, occurrence, integration_id, \
             priority, recipient, body, encoding, segments, status, attempts, send_after, created_at, updated_at) VALUES (",
        )
        .bind(d.kind)
        .push(", ")
        .bind(d.distribution_id.clone())
        .push(", ")
        .bind(d.customer_id.clone())
        .push(", ")
        .bind(d.occurrence.clone())
        .push(", ")
        .bind(d.integration_id.clone())
        .push(", ")
        .bind(d.priority)
        .push(", ")
        .bind(d.recipient.clone())
        .push(", ")
        .bind(d.body.clone())
        .push(", ")
        .bind(count.encoding.label())
        .push(", ")
        .bind(count.segments as i32)
        .push(", ")
        .bind(PENDING)
        .push(", 0, ")
        .bind(d.send_after)
        .push(", ")
        .bind(now)
        .push(", ")
        .bind(now)
        .push(") ON CONFLICT DO NOTHING RETURNING id");
        let row = db.query_one(q.statement()).await?;
        ids.push(row.map(|r| r.try_get::<i64>("", "id")).transpose()?);
    }
    Ok(ids)
}

/// Reads up to `limit` due deliveries of an integration, in due order, leaving out those
/// `held` names (sent or being sent by this process, their outcome not yet recorded).
///
/// A claim writes nothing: a delivery stays `pending` until its outcome is recorded. Only the
/// holder of the integration's lease (see [`hold_integration`]) sends through it, and it
/// keeps the messages it has taken but not yet recorded in `held`, so nothing else would
/// pick them up. Writing a lease into every row cost each message a second row version and
/// index entries, as much database work as recording its outcome.
///
/// The rows come back as one JSON array: on SQLite every result row is a hand-over between
/// the database thread and the caller, which costs more than reading it.
///
/// `after` starts the search after a position in the due order (priority, send_after, id),
/// normally the last row of the previous claim; work that sorts before it is found by the
/// next search from the start.
pub async fn claim(
    db: &impl ConnectionTrait,
    integration_id: &str,
    limit: u32,
    after: Option<DueKey>,
    held: &Held,
) -> Result<Vec<Claimed>, DbErr> {
    let backend = db.get_database_backend();
    // Taken before the read: an outcome recorded after this copy is still left out, and one
    // recorded before it is no longer pending when the read starts.
    let held = held.snapshot(integration_id);
    let skip = held
        .values()
        .filter(|k| after.is_none_or(|a| **k > a))
        .count();
    let mut q = Sql::new(backend);
    q.push(&crate::db::json_page(
        backend,
        &format!("{CLAIMED_COLUMNS}, opted_out"),
        "priority, send_after, id",
    ))
    .push("SELECT ")
    .push(CLAIMED_COLUMNS)
    .push(OPTED_OUT)
    .push(" FROM deliveries WHERE integration_id = ")
    .bind(integration_id.to_owned())
    .push(" AND status = 'pending' AND send_after <= ")
    .bind(now_millis());
    if let Some(key) = after {
        q.push(" AND (priority, send_after, id) > (")
            .bind(key.priority)
            .push(", ")
            .bind(key.send_after)
            .push(", ")
            .bind(key.id)
            .push(")");
    }
    q.push(" ORDER BY priority, send_after, id LIMIT ")
        .bind(i64::from(limit) + skip as i64)
        .push(") AS s");
    let rows: Vec<ClaimedRow> = crate::db::fetch_json_page(db, q.statement()).await?;
    let mut claimed: Vec<Claimed> = rows
        .into_iter()
        .map(Claimed::from)
        .filter(|c| !held.contains_key(&c.id))
        .collect();
    claimed.sort_by_key(Claimed::due_key);
    claimed.truncate(limit as usize);
    Ok(claimed)
}

/// The deliveries a process has taken from the queue whose outcome is not recorded yet, with
/// their integrations and positions in the due order. The dispatcher adds what it claims;
/// the recorder takes out what it has committed.
#[derive(Debug, Default)]
pub struct Held(std::sync::Mutex<std::collections::HashMap<i64, (std::sync::Arc<str>, DueKey)>>);

impl Held {
    pub fn hold(&self, integration_id: &str, claimed: &[Claimed]) {
        let integration: std::sync::Arc<str> = integration_id.into();
        let mut held = self.0.lock().expect("held lock");
        held.extend(
            claimed
                .iter()
                .map(|c| (c.id, (integration.clone(), c.due_key()))),
        );
    }

    pub fn release(&self, ids: impl IntoIterator<Item = i64>) {
        let mut held = self.0.lock().expect("held lock");
        for id in ids {
            held.remove(&id);
        }
    }

    pub fn len(&self) -> usize {
        self.0.lock().expect("held lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What is held of one integration. A claim raises its `LIMIT` by the held messages after
    /// its position; counting other integrations' messages there would read rows for nothing.
    fn snapshot(&self, integration_id: &str) -> std::collections::HashMap<i64, DueKey> {
        self.0
            .lock()
            .expect("held lock")
            .iter()
            .filter(|(_, (integration, _))| &**integration == integration_id)
            .map(|(id, (_, key))| (*id, *key))
            .collect()
    }
}

const CLAIMED_COLUMNS: &str =
    "id, kind, customer_id, recipient, body, encoding, segments, attempts, priority, send_after";
/// Consent, checked as the claim reads: a recipient who opted out since the message was
/// queued, or whose number replied STOP (a customer written on another server meanwhile can
/// still read "opted in"), gets nothing. Tests and replies have no customer and are sent.
const OPTED_OUT: &str = ", CASE WHEN customer_id IS NOT NULL AND (\
    EXISTS (SELECT 1 FROM customers c WHERE c.id = deliveries.customer_id AND c.sms_consent = 'opted_out') \
    OR EXISTS (SELECT 1 FROM sms_opt_outs o WHERE o.phone = deliveries.recipient)) THEN 1 ELSE 0 END AS opted_out";

/// A claimed row as the JSON array `CLAIMED_COLUMNS` make.
type ClaimedRow = (
    i64,
    String,
    Option<String>,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
);

/// A position in the order work is claimed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DueKey {
    pub priority: i16,
    pub send_after: i64,
    pub id: i64,
}

impl Claimed {
    pub fn due_key(&self) -> DueKey {
        DueKey {
            priority: self.priority,
            send_after: self.send_after,
            id: self.id,
        }
    }
}

impl From<ClaimedRow> for Claimed {
    fn from(
        (
            id,
            kind,
            customer_id,
            recipient,
            body,
            encoding,
            segments,
            attempts,
            priority,
            send_after,
            opted_out,
        ): ClaimedRow,
    ) -> Self {
        Self {
            id,
            keeps_answer: kind != "distribution",
            customer_id,
            recipient,
            body,
            unicode: encoding != "GSM-7",
            segments: segments.clamp(1, i64::from(u32::MAX)) as u32,
            attempts: attempts.clamp(0, i64::from(u32::MAX)) as u32,
            priority: priority.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16,
            send_after,
            opted_out: opted_out != 0,
        }
    }
}

/// Of the claimed deliveries, skips those the claim found opted out (see [`OPTED_OUT`]), and
/// returns their ids.
pub async fn skip_opted_out(
    db: &impl ConnectionTrait,
    claimed: &[Claimed],
) -> Result<Vec<i64>, DbErr> {
    let out: Vec<i64> = claimed
        .iter()
        .filter(|c| c.opted_out)
        .map(|c| c.id)
        .collect();
    if !out.is_empty() {
        let now = now_millis();
        let mut q = Sql::new(db.get_database_backend());
        q.push("UPDATE deliveries SET status = 'skipped', skip_reason = 'opted_out', failed_at = ")
            .bind(now)
            .push(", updated_at = ")
            .bind(now)
            .push(" WHERE status = 'pending' AND id IN (");
        push_ids(&mut q, &out);
        q.push(")");
        db.execute(q.statement()).await?;
    }
    Ok(out)
}

fn push_ids(q: &mut Sql, ids: &[i64]) {
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(*id);
    }
}

/// An acceptance as [`record`] sends it: id, provider id, segments, answer, HTTP status.
type AcceptedRow = (i64, String, Option<u32>, Option<String>, Option<u16>);
/// The columns an [`AcceptedRow`] becomes, with their SQL types.
const ACCEPTED_FIELDS: &[(&str, &str)] = &[
    ("id", "BIGINT"),
    ("provider_id", "TEXT"),
    ("segments", "INTEGER"),
    ("answer", "TEXT"),
    ("http_status", "INTEGER"),
];

/// Pushes a subquery that reads `rows`, a JSON array of arrays, as rows with the named
/// columns, named `alias`.
fn push_json_rows(q: &mut Sql, fields: &[(&str, &str)], rows: String, alias: &str) {
    let postgres = q.backend() == sea_orm::DbBackend::Postgres;
    let columns: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(i, (name, ty))| {
            if postgres {
                format!("CAST(e ->> {i} AS {ty}) AS {name}")
            } else {
                // JSON numbers come out as integers, strings as text and null as NULL.
                format!("json_extract(e.value, '$[{i}]') AS {name}")
            }
        })
        .collect();
    q.push("(SELECT ").push(&columns.join(", "));
    if postgres {
        // JSONB: the array is parsed once, where `->>` on each element of a JSON array would
        // parse that element again for every field (a tenth of the statement's time).
        q.push(" FROM jsonb_array_elements(CAST(")
            .bind(rows)
            .push(" AS JSONB)) AS e)");
    } else {
        q.push(" FROM json_each(").bind(rows).push(") AS e)");
    }
    q.push(" AS ").push(alias);
}

/// Records attempts' outcomes in one transaction.
pub async fn record(
    db: &(impl ConnectionTrait + TransactionTrait),
    outcomes: &[(i64, Outcome)],
) -> Result<(), DbErr> {
    if outcomes.iter().all(|(_, o)| matches!(o, Outcome::Released)) {
        return Ok(());
    }
    let txn = crate::db::begin(db).await?;
    let backend = txn.get_database_backend();
    let now = now_millis();
    // The common case, acceptances, in one statement whatever their number: the rows travel
    // as one JSON array, so the statement's text never changes (one prepared statement, not
    // one per batch size) and the database parses one value instead of five per row. A
    // message skipped while it was on its way (its customer opted out meanwhile) went out all
    // the same, and says so.
    let accepted: Vec<AcceptedRow> = outcomes
        .iter()
        .filter_map(|(id, o)| match o {
            Outcome::Accepted {
                provider_id,
                segments,
                answer,
            } => Some((
                *id,
                clip(provider_id, PROVIDER_ID_MAX),
                // The column is a 32-bit integer; a gateway's absurd count must not fail the
                // whole batch.
                segments.map(|s| s.min(i32::MAX as u32)),
                // Empty when the answer is not kept (see `Claimed::keeps_answer`).
                (!answer.body.is_empty()).then(|| truncate(&answer.body)),
                answer.http_status,
            )),
            _ => None,
        })
        .collect();
    if !accepted.is_empty() {
        let rows = serde_json::to_string(&accepted).map_err(|e| DbErr::Json(e.to_string()))?;
        let mut q = Sql::new(backend);
        q.push("UPDATE deliveries SET status = CASE WHEN deliveries.status IN ('pending', 'unknown', 'skipped') THEN 'accepted' ELSE deliveries.status END, \
                skip_reason = NULL, provider_id = COALESCE(deliveries.provider_id, v.provider_id), provider_segments = v.segments, provider_answer = v.answer, \
                provider_http_status = v.http_status, error_code = NULL, error_message = NULL, attempts = deliveries.attempts + 1, \
                attempted_at = ")
            .bind(now)
            .push(", accepted_at = ")
            .bind(now)
            .push(", updated_at = ")
            .bind(now)
            .push(" FROM ");
        push_json_rows(&mut q, ACCEPTED_FIELDS, rows, "v");
        q.push(" WHERE deliveries.id = v.id");
        txn.execute(q.statement()).await?;
    }
    for (id, outcome) in outcomes {
        let mut q = Sql::new(backend);
        match outcome {
            Outcome::Accepted { .. } => continue,
            Outcome::Failed {
                code,
                message,
                answer,
            } => {
                q.push("UPDATE deliveries SET status = CASE WHEN status IN ('pending', 'unknown') THEN 'failed' ELSE status END, error_code = ")
                    .bind(clip(code, ERROR_CODE_MAX))
                    .push(", error_message = ")
                    .bind(message.clone())
                    .push(", provider_answer = ")
                    .bind(truncate(&answer.body))
                    .push(", provider_http_status = ")
                    .bind(answer.http_status.map(i32::from))
                    .push(", attempts = attempts + 1, failed_at = ")
                    .bind(now);
            }
            Outcome::Retry {
                at,
                counts,
                code,
                message,
                answer,
            } => {
                q.push("UPDATE deliveries SET send_after = ")
                    .bind(*at)
                    .push(", error_code = ")
                    .bind(clip(code, ERROR_CODE_MAX))
                    .push(", error_message = ")
                    .bind(message.clone())
                    .push(", provider_answer = ")
                    .bind(truncate(&answer.body))
                    .push(", provider_http_status = ")
                    .bind(answer.http_status.map(i32::from))
                    .push(if *counts {
                        ", attempts = attempts + 1"
                    } else {
                        ""
                    });
            }
            Outcome::Unknown { message, answer } => {
                q.push("UPDATE deliveries SET status = CASE WHEN status IN ('pending', 'skipped') THEN 'unknown' ELSE status END, error_code = 'ambiguous', error_message = ")
                    .bind(message.clone())
                    .push(", provider_answer = ")
                    .bind(truncate(&answer.body))
                    .push(", provider_http_status = ")
                    .bind(answer.http_status.map(i32::from))
                    .push(", attempts = attempts + 1");
            }
            // Nothing was written when it was claimed.
            Outcome::Released => continue,
        }
        q.push(", attempted_at = ")
            .bind(now)
            .push(", updated_at = ")
            .bind(now)
            .push(" WHERE id = ")
            .bind(*id);
        txn.execute(q.statement()).await?;
    }
    txn.commit().await
}

/// A delivery whose outcome could not be written leaves the queue: `unknown` when the
/// provider may have taken it (a status callback still settles it), else `failed`.
pub async fn mark_unrecorded(
    db: &impl ConnectionTrait,
    id: i64,
    may_have_gone: bool,
    why: &str,
) -> Result<(), DbErr> {
    let now = now_millis();
    let mut q = Sql::new(db.get_database_backend());
    q.push("UPDATE deliveries SET status = CASE WHEN status IN ('pending', 'skipped') THEN ")
        .bind(if may_have_gone { UNKNOWN } else { FAILED })
        .push(" ELSE status END, error_code = 'unrecorded', error_message = ")
        .bind(format!(
            "The outcome of this attempt could not be stored: {}",
            truncate(why)
        ))
        .push(", attempts = attempts + 1, attempted_at = ")
        .bind(now)
        .push(", updated_at = ")
        .bind(now)
        .push(" WHERE id = ")
        .bind(id);
    db.execute(q.statement()).await.map(|_| ())
}

/// Whether an integration has work due now.
pub async fn has_work(db: &impl ConnectionTrait, integration_id: &str) -> Result<bool, DbErr> {
    let now = now_millis();
    let backend = db.get_database_backend();
    let mut q = Sql::new(backend);
    q.push("SELECT 1 AS one FROM deliveries WHERE integration_id = ")
        .bind(integration_id.to_owned())
        .push(" AND status = 'pending' AND send_after <= ")
        .bind(now)
        .push(" LIMIT 1");
    Ok(db.query_one(q.statement()).await?.is_some())
}

/// Takes or renews the right to send through an integration until `until`. Only one process
/// holds it at a time; another may take it once it has run out.
pub async fn hold_integration(
    db: &impl ConnectionTrait,
    integration_id: &str,
    owner: &str,
    until: i64,
) -> Result<bool, DbErr> {
    let now = now_millis();
    let mut q = Sql::new(db.get_database_backend());
    q.push("INSERT INTO integration_leases (integration_id, owner, lease_until) VALUES (")
        .bind(integration_id.to_owned())
        .push(", ")
        .bind(owner.to_owned())
        .push(", ")
        .bind(until)
        .push(") ON CONFLICT (integration_id) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until \
               WHERE integration_leases.owner = excluded.owner OR integration_leases.lease_until < ")
        .bind(now);
    Ok(db.execute(q.statement()).await?.rows_affected() == 1)
}

/// Who holds an integration's lease, and until when, if anyone does or did.
pub async fn integration_holder(
    db: &impl ConnectionTrait,
    integration_id: &str,
) -> Result<Option<(String, i64)>, DbErr> {
    let mut q = Sql::new(db.get_database_backend());
    q.push("SELECT owner, lease_until FROM integration_leases WHERE integration_id = ")
        .bind(integration_id.to_owned());
    db.query_one(q.statement())
        .await?
        .map(|r| Ok((r.try_get("", "owner")?, r.try_get("", "lease_until")?)))
        .transpose()
}

pub async fn release_integration(
    db: &impl ConnectionTrait,
    integration_id: &str,
    owner: &str,
) -> Result<(), DbErr> {
    let mut q = Sql::new(db.get_database_backend());
    q.push("DELETE FROM integration_leases WHERE integration_id = ")
        .bind(integration_id.to_owned())
        .push(" AND owner = ")
        .bind(owner.to_owned());
    db.execute(q.statement()).await.map(|_| ())
}

fn rank(status: &str) -> u8 {
    match status {
        PENDING => 1,
        ACCEPTED | UNKNOWN => 2,
        SENT => 3,
        _ => 4,
    }
}

/// The statuses a report of `status` may move a delivery out of. Any report settles an
/// ambiguous send (`unknown`): the provider has the message.
fn earlier_than(status: &str) -> Vec<&'static str> {
    [PENDING, ACCEPTED, UNKNOWN, SENT]
        .into_iter()
        .filter(|s| rank(s) < rank(status) || (*s == UNKNOWN && status != UNKNOWN))
        .collect()
}

/// Error codes that only say we did not hear back in time; a report from the provider
/// replaces them.
const UNHEARD: &str = "('ambiguous', 'unconfirmed', 'unrecorded')";

/// Applies a provider's status report to the delivery it names (by our id, else by the
/// provider's id). Returns whether a delivery moved.
pub async fn apply_status(
    db: &impl ConnectionTrait,
    integration_id: &str,
    report: &StatusReport,
) -> Result<bool, DbErr> {
    let combined = combine_parts(db, integration_id, report).await?;
    // A message on its way in parts says how many are delivered so far.
    let progress = combined.as_ref().is_some_and(|r| r.status == SENT);
    let report = combined.as_ref().unwrap_or(report);
    let now = now_millis();
    let mut q = Sql::new(db.get_database_backend());
    q.push("UPDATE deliveries SET status = ")
        .bind(report.status)
        .push(", provider_status = ")
        .bind(clip(&report.provider_status, PROVIDER_STATUS_MAX))
        .push(", provider_id = COALESCE(provider_id, ")
        .bind(
            report
                .provider_id
                .as_deref()
                .map(|p| clip(p, PROVIDER_ID_MAX)),
        )
        .push("), skip_reason = NULL, updated_at = ")
        .bind(now);
    let stamp = match report.status {
        ACCEPTED => "accepted_at",
        SENT => "sent_at",
        DELIVERED => "delivered_at",
        _ => "failed_at",
    };
    if progress {
        // Another part delivered: the message left the provider when the first one did.
        q.push(", sent_at = COALESCE(sent_at, ").bind(now).push(")");
    } else {
        q.push(", ").push(stamp).push(" = ").bind(now);
    }
    if let Some(code) = &report.error_code {
        q.push(", error_code = ").bind(clip(code, ERROR_CODE_MAX));
        q.push(", error_message = ")
            .bind(report.error_message.clone().unwrap_or_default());
    } else {
        // "We did not hear back" is no longer true once the provider reports.
        q.push(&format!(
            ", error_code = CASE WHEN error_code IN {UNHEARD} THEN NULL ELSE error_code END, \
             error_message = CASE WHEN error_code IN {UNHEARD} THEN NULL ELSE error_message END"
        ));
        if stamp != "failed_at" {
            q.push(" , failed_at = CASE WHEN status = 'failed' THEN NULL ELSE failed_at END");
        }
    }
    q.push(" WHERE integration_id = ")
        .bind(integration_id.to_owned());
    match (&report.delivery_id, &report.provider_id) {
        (Some(id), _) => {
            q.push(" AND id = ").bind(*id);
        }
        (None, Some(pid)) => {
            q.push(" AND provider_id = ").bind(pid.clone());
        }
        (None, None) => return Ok(false),
    }
    q.push(" AND (");
    // A message skipped because its customer opted out while it was on its way went out all
    // the same: the provider's report says so. One the reconciliation timeout settled as
    // failed because nobody confirmed it (providers may queue for hours) is confirmed now.
    // Only a report that the message left the provider says either: "queued" says nothing
    // of what became of it, and would leave it `accepted` for good.
    if rank(report.status) >= rank(SENT) {
        q.push("status = 'skipped' AND skip_reason = 'opted_out' OR status = 'failed' AND error_code = 'unconfirmed' OR ");
    }
    if progress {
        q.push("status = 'sent' OR ");
    }
    q.push("status IN (");
    for (i, s) in earlier_than(report.status).iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(*s);
    }
    q.push("))");
    Ok(db.execute(q.statement()).await?.rows_affected() > 0)
}

/// A final receipt for one part of a message sent in several, from a provider that reports
/// parts one by one, stands for the whole message only together with the other parts'
/// receipts: the message is delivered once every part is, fails (or is undelivered, with
/// the failing part's error) as soon as one part does, and is `sent` meanwhile. A part's
/// first final receipt is the one kept. Returns the report for the whole message, or `None`
/// when the report is about the whole message already.
///
/// Each receipt is written before the parts are counted, and each statement commits on its
/// own, so of two receipts arriving together at least the later count sees both.
async fn combine_parts(
    db: &impl ConnectionTrait,
    integration_id: &str,
    report: &StatusReport,
) -> Result<Option<StatusReport>, DbErr> {
    let Some(part) = &report.part else {
        return Ok(None);
    };
    if rank(report.status) < rank(DELIVERED) {
        return Ok(None);
    }
    let backend = db.get_database_backend();
    // Until the provider's part count is recorded (an ambiguous send) our own count stands
    // for it.
    let mut q = Sql::new(backend);
    q.push("SELECT id, COALESCE(provider_segments, segments) AS parts FROM deliveries WHERE integration_id = ")
        .bind(integration_id.to_owned());
    // Without our id (an address from before tags, say) a part cannot be told from the
    // whole: the provider's id is that of the first part only, and the others would match
    // nothing.
    let Some(id) = report.delivery_id else {
        return Ok(None);
    };
    q.push(" AND id = ").bind(id);
    let Some(row) = db.query_one(q.statement()).await? else {
        return Ok(None);
    };
    let id: i64 = row.try_get("", "id")?;
    let parts = i64::from(row.try_get::<i32>("", "parts")?);
    if parts <= 1 {
        return Ok(None);
    }
    let mut q = Sql::new(backend);
    q.push("INSERT INTO delivery_part_reports (delivery_id, part_id, status, provider_status, error_code, error_message, reported_at) VALUES (")
        .bind(id)
        .push(", ")
        .bind(clip(part, PROVIDER_ID_MAX))
        .push(", ")
        .bind(report.status)
        .push(", ")
        .bind(clip(&report.provider_status, PROVIDER_STATUS_MAX))
        .push(", ")
        .bind(report.error_code.as_deref().map(|c| clip(c, ERROR_CODE_MAX)))
        .push(", ")
        .bind(report.error_message.clone())
        .push(", ")
        .bind(now_millis())
        .push(") ON CONFLICT (delivery_id, part_id) DO NOTHING");
    db.execute(q.statement()).await?;
    let mut q = Sql::new(backend);
    q.push("SELECT status, provider_status, error_code, error_message FROM delivery_part_reports WHERE delivery_id = ")
        .bind(id)
        .push(" ORDER BY reported_at, part_id");
    let mut delivered = 0i64;
    let mut failing: Option<(&'static str, String, Option<String>, Option<String>)> = None;
    for row in db.query_all(q.statement()).await? {
        let status: String = row.try_get("", "status")?;
        let status = match status.as_str() {
            DELIVERED => {
                delivered += 1;
                continue;
            }
            FAILED => FAILED,
            _ => UNDELIVERED,
        };
        // A failure outranks an undelivered part; otherwise the first one reported.
        if failing
            .as_ref()
            .is_none_or(|f| f.0 == UNDELIVERED && status == FAILED)
        {
            failing = Some((
                status,
                row.try_get("", "provider_status")?,
                row.try_get("", "error_code")?,
                row.try_get("", "error_message")?,
            ));
        }
    }
    let whole = |status, provider_status| StatusReport {
        delivery_id: Some(id),
        status,
        provider_status,
        ..report.clone()
    };
    Ok(Some(match failing {
        Some((status, provider_status, error_code, error_message)) => StatusReport {
            error_code,
            error_message,
            ..whole(status, provider_status)
        },
        None if delivered >= parts => whole(DELIVERED, report.provider_status.clone()),
        None => whole(
            SENT,
            format!("{} ({delivered} of {parts} parts)", report.provider_status),
        ),
    }))
}

/// How often one number gets the help text through one integration, at most.
pub const HELP_EVERY_MS: i64 = 10 * 60 * 1000;

/// Whether `phone` may get the help text through the integration now (it did not get it in
/// the last [`HELP_EVERY_MS`]); if so, the reply is counted as given. One statement, so
/// several processes answering the same number at once give it once.
pub async fn help_due(
    db: &impl ConnectionTrait,
    integration_id: &str,
    phone: &str,
    now: i64,
) -> Result<bool, DbErr> {
    let mut q = Sql::new(db.get_database_backend());
    q.push("INSERT INTO help_replies (integration_id, phone, replied_at) VALUES (")
        .bind(integration_id.to_owned())
        .push(", ")
        .bind(phone.to_owned())
        .push(", ")
        .bind(now)
        .push(") ON CONFLICT (integration_id, phone) DO UPDATE SET replied_at = excluded.replied_at WHERE help_replies.replied_at <= ")
        .bind(now - HELP_EVERY_MS);
    Ok(db.execute(q.statement()).await?.rows_affected() > 0)
}

/// Ambiguous sends nobody confirmed within `older_than` ms are settled as failed (never sent
/// again: a second copy is worse than a reported failure). Returns how many.
pub async fn settle_unknown(db: &impl ConnectionTrait, older_than: i64) -> Result<u64, DbErr> {
    let now = now_millis();
    let mut q = Sql::new(db.get_database_backend());
    q.push("UPDATE deliveries SET status = 'failed', error_code = 'unconfirmed', error_message = 'The provider neither confirmed nor refused this message in time; it may not have been sent.', failed_at = ")
        .bind(now)
        .push(", updated_at = ")
        .bind(now)
        .push(" WHERE status = 'unknown' AND attempted_at < ")
        .bind(now - older_than);
    Ok(db.execute(q.statement()).await?.rows_affected())
}

/// Pending messages to customers who just opted out are skipped at once.
pub async fn skip_for_customers(
    db: &impl ConnectionTrait,
    customer_ids: &[String],
) -> Result<u64, DbErr> {
    if customer_ids.is_empty() {
        return Ok(0);
    }
    let now = now_millis();
    let mut q = Sql::new(db.get_database_backend());
    q.push("UPDATE deliveries SET status = 'skipped', skip_reason = 'opted_out', failed_at = ")
        .bind(now)
        .push(", updated_at = ")
        .bind(now)
        .push(" WHERE status = 'pending' AND customer_id IN (");
    for (i, id) in customer_ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(id.clone());
    }
    q.push(")");
    Ok(db.execute(q.statement()).await?.rows_affected())
}

/// Pending messages of a deleted integration fail, since nothing can send them.
pub async fn fail_for_integration(
    db: &impl ConnectionTrait,
    integration_id: &str,
) -> Result<u64, DbErr> {
    let now = now_millis();
    let mut q = Sql::new(db.get_database_backend());
    q.push("UPDATE deliveries SET status = 'failed', error_code = 'integration_deleted', error_message = 'The SMS integration was deleted before this message was sent.', failed_at = ")
        .bind(now)
        .push(", updated_at = ")
        .bind(now)
        .push(" WHERE integration_id = ")
        .bind(integration_id.to_owned())
        .push(" AND status = 'pending'");
    Ok(db.execute(q.statement()).await?.rows_affected())
}

const VIEW_COLUMNS: &str = "id, kind, distribution_id, customer_id, recipient, body, encoding, segments, status, \
    skip_reason, attempts, provider_id, provider_status, provider_segments, provider_http_status, provider_answer, \
    error_code, error_message, created_at, accepted_at, sent_at, delivered_at, failed_at, updated_at";

fn view_row(r: &QueryResult) -> Result<DeliveryView, DbErr> {
    let recipient: String = r.try_get("", "recipient")?;
    let opt_u32 = |c: &str| -> Result<Option<u32>, DbErr> {
        Ok(r.try_get::<Option<i32>>("", c)?.map(|v| v.max(0) as u32))
    };
    Ok(DeliveryView {
        id: r.try_get("", "id")?,
        kind: r.try_get("", "kind")?,
        distribution_id: r.try_get("", "distribution_id")?,
        customer_id: r.try_get("", "customer_id")?,
        to: mask_phone(&recipient),
        body: r.try_get("", "body")?,
        encoding: r.try_get("", "encoding")?,
        segments: r.try_get::<i32>("", "segments")?.max(0) as u32,
        status: r.try_get("", "status")?,
        skip_reason: r.try_get("", "skip_reason")?,
        attempts: r.try_get::<i32>("", "attempts")?.max(0) as u32,
        provider_id: r.try_get("", "provider_id")?,
        provider_status: r.try_get("", "provider_status")?,
        provider_segments: opt_u32("provider_segments")?,
        provider_http_status: opt_u32("provider_http_status")?.map(|v| v as u16),
        provider_answer: r.try_get("", "provider_answer")?,
        error_code: r.try_get("", "error_code")?,
        error_message: r.try_get("", "error_message")?,
        created_at: r.try_get("", "created_at")?,
        accepted_at: r.try_get("", "accepted_at")?,
        sent_at: r.try_get("", "sent_at")?,
        delivered_at: r.try_get("", "delivered_at")?,
        failed_at: r.try_get("", "failed_at")?,
        updated_at: r.try_get("", "updated_at")?,
    })
}

/// Deliveries of an integration, as views; `rest` follows `WHERE integration_id = ?`.
async fn views(
    db: &impl ConnectionTrait,
    integration_id: &str,
    rest: impl FnOnce(&mut Sql),
) -> Result<Vec<DeliveryView>, DbErr> {
    let mut q = Sql::new(db.get_database_backend());
    q.push("SELECT ")
        .push(VIEW_COLUMNS)
        .push(" FROM deliveries WHERE integration_id = ")
        .bind(integration_id.to_owned());
    rest(&mut q);
    db.query_all(q.statement())
        .await?
        .iter()
        .map(view_row)
        .collect()
}

/// One delivery of an integration.
pub async fn get(
    db: &impl ConnectionTrait,
    integration_id: &str,
    id: i64,
) -> Result<Option<DeliveryView>, DbErr> {
    Ok(views(db, integration_id, |q| {
        q.push(" AND id = ").bind(id);
    })
    .await?
    .into_iter()
    .next())
}

/// An integration's latest messages, newest first.
pub async fn recent(
    db: &impl ConnectionTrait,
    integration_id: &str,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<DeliveryView>, DbErr> {
    views(db, integration_id, |q| {
        if let Some(before) = before {
            q.push(" AND id < ").bind(before);
        }
        q.push(" ORDER BY id DESC LIMIT ").bind(i64::from(limit));
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_only_move_forward() {
        assert_eq!(earlier_than(SENT), vec![PENDING, ACCEPTED, UNKNOWN]);
        assert_eq!(earlier_than(ACCEPTED), vec![PENDING, UNKNOWN]);
        assert_eq!(earlier_than(UNKNOWN), vec![PENDING]);
        assert!(earlier_than(DELIVERED).contains(&SENT));
        assert!(!earlier_than(FAILED).contains(&DELIVERED));
    }

    #[test]
    fn a_claim_sees_only_what_is_held_of_its_own_integration() {
        let claimed = |id: i64| Claimed {
            id,
            keeps_answer: false,
            customer_id: None,
            recipient: "+14155550100".into(),
            body: "Hi".into(),
            unicode: false,
            segments: 1,
            attempts: 0,
            priority: PRIORITY_BULK,
            send_after: id,
            opted_out: false,
        };
        let held = Held::default();
        held.hold("int_a", &[claimed(1), claimed(2)]);
        held.hold("int_b", &[claimed(3)]);
        let mut of_a: Vec<i64> = held.snapshot("int_a").into_keys().collect();
        of_a.sort_unstable();
        assert_eq!(of_a, [1, 2]);
        assert_eq!(held.snapshot("int_b").len(), 1);
        held.release([1, 3]);
        assert_eq!(held.len(), 1);
        assert!(held.snapshot("int_b").is_empty());
    }

    #[test]
    fn long_answers_are_cut_on_a_character_boundary() {
        let long = "é".repeat(3000);
        let cut = truncate(&long);
        assert!(cut.len() <= ANSWER_MAX + "…".len());
        assert!(cut.ends_with('…'));
    }
}
