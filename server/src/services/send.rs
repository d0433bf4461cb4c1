//! The pre-send review and SEND of a manual distribution.
//!
//! SEND is one transaction, set-based: the audience is snapshot into a temporary table with
//! each customer's fields and exclusion (no phone, invalid phone, opted out, a phone shared
//! with an earlier recipient) and the code they already hold, if any. A pool too small for
//! the audience stops it there, before anything is written. Then the snapshot is read a page
//! at a time, in customer order, each page handed over as one JSON value: the page's new
//! codes are drawn (the campaign's lowest free ids; their publications take them), its texts
//! rendered with the shared renderer on a blocking thread while the database queues the page
//! before, with one INSERT of deliveries and one of publications. The keys a page writes
//! (customer, voucher id, QR token prefix) all lie next to each other, so each index is
//! written in one place per page, not at random.

use super::{campaigns::Walk, distributions::Row, rule_sql::Sql, tokens::random_token};
use crate::ids::now_millis;
use app::{
    domain::{
        message::render_for_sending,
        sms,
        template::{
            qr_url, CustomerData, DistributionData, PromotionData, Template, TemplateData,
            VoucherData, QR_TOKEN_CHARS,
        },
    },
    dto::{
        campaign::money, customer::mask_phone, Audience, Exclusions, ReviewReport, SampleMessage,
        SendOutcome,
    },
    error::AppError,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult};
use std::collections::BTreeMap;

/// Deliveries and publications per INSERT.
const PAGE: i64 = 1000;
/// The review renders this many recipients and extrapolates beyond.
const REVIEW_RENDERED: i64 = 2000;
const SAMPLES: usize = 3;
const TOKEN_BYTES: usize = 16;

fn internal(err: DbErr) -> AppError {
    if crate::db::is_lock_timeout(&err) {
        return AppError::conflict(
            "Another SEND or publication is handing out this campaign's codes right now; nothing was sent. Send again when it has finished.",
        );
    }
    AppError::internal(&err)
}

/// What every message of the distribution shares.
#[derive(Clone)]
struct Context {
    template: Template,
    smart_encoding: bool,
    subject: String,
    promotion: Option<PromotionData>,
    campaign: Option<Campaign>,
    rate: u32,
    public_url: String,
}

#[derive(Clone)]
struct Campaign {
    id: String,
    discount: String,
    expiration_date: Option<i64>,
    validity_hours: Option<i64>,
}

impl Campaign {
    fn expires_at(&self, now: i64) -> Option<i64> {
        match (self.expiration_date, self.validity_hours) {
            (Some(e), Some(h)) => Some(e.min(now + h * 3_600_000)),
            (Some(e), None) => Some(e),
            (None, Some(h)) => Some(now + h * 3_600_000),
            (None, None) => None,
        }
    }
}

/// A recipient's customer fields, as the snapshot query reads them.
struct Recipient {
    customer_id: String,
    skip: Option<String>,
    data: CustomerData,
}

fn recipient(r: &QueryResult) -> Result<Recipient, DbErr> {
    let metadata: Option<String> = r.try_get("", "metadata")?;
    Ok(Recipient {
        customer_id: r.try_get("", "customer_id")?,
        skip: r.try_get("", "skip")?,
        data: CustomerData {
            source_id: r.try_get("", "source_id")?,
            name: r.try_get("", "name")?,
            email: r.try_get("", "email")?,
            phone: r.try_get("", "phone")?,
            metadata: metadata
                .and_then(|m| serde_json::from_str(&m).ok())
                .unwrap_or_default(),
        },
    })
}

/// The customer columns the renderer needs (metadata as JSON text on both databases).
fn customer_columns(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "c.name, c.email, c.phone, c.source_id, c.metadata::text AS metadata"
        }
        _ => "c.name, c.email, c.phone, c.source_id, c.metadata AS metadata",
    }
}

/// Where the distribution cannot go as it is, by wizard step.
fn problems_of(row: &Row, template: Option<&Template>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |step: &str, msg: &str| out.push((step.to_owned(), msg.to_owned()));
    if row.purpose == "unique_codes" && row.campaign_id.is_none() {
        add("purpose", "Choose the campaign whose codes to send.");
    }
    if row.purpose == "promotion" && row.promotion_tier_id.is_none() {
        add("purpose", "Choose the promotion tier to announce.");
    }
    if row.audience().is_none() {
        add("audience", "Choose a customer or a segment.");
    }
    if row.integration_id.is_none() {
        add(
            "message",
            "Choose an SMS integration (admins add them on the Integrations page).",
        );
    }
    match template {
        _ if row.template.trim().is_empty() => add("message", "Write the message."),
        None => add("message", "The message has errors."),
        Some(t) => {
            let uses = |prefix: &str| t.variables().iter().any(|(v, _)| v.starts_with(prefix));
            if row.purpose != "unique_codes" && uses("voucher.") {
                add(
                    "message",
                    "Code tags ({{ voucher.… }}) need the purpose “Send unique codes”.",
                );
            }
            if row.purpose != "promotion" && uses("promotion.") {
                add(
                    "message",
                    "Promotion tags ({{ promotion.… }}) need the purpose “Announce a promotion”.",
                );
            }
            if row.purpose == "unique_codes"
                && !(t.uses("voucher.code") || t.uses("voucher.qr_url"))
            {
                add("message", "The message does not show the code: add {{ voucher.code }} or {{ voucher.qr_url }}.");
            }
        }
    }
    out
}

async fn context(
    db: &impl ConnectionTrait,
    public_url: &str,
    row: &Row,
) -> Result<(Context, Vec<(String, String)>), AppError> {
    let backend = db.get_database_backend();
    let parsed = Template::parse(&row.template).ok();
    let mut problems = problems_of(row, parsed.as_ref());
    let mut rate = 1;
    if let Some(id) = &row.integration_id {
        let mut q = Sql::new(backend);
        q.push("SELECT enabled, max_segments_per_second FROM sms_integrations WHERE id = ")
            .bind(id.clone());
        match db.query_one(q.statement()).await.map_err(internal)? {
            Some(r) if r.try_get::<bool>("", "enabled").map_err(internal)? => {
                rate = r
                    .try_get::<i32>("", "max_segments_per_second")
                    .map_err(internal)?
                    .max(1) as u32;
            }
            Some(_) => problems.push((
                "message".into(),
                "The chosen integration is disabled.".into(),
            )),
            None => problems.push((
                "message".into(),
                "The chosen integration was deleted; choose another.".into(),
            )),
        }
    }
    let mut promotion = None;
    if let (Some(id), "promotion") = (&row.promotion_tier_id, row.purpose.as_str()) {
        let mut q = Sql::new(backend);
        q.push("SELECT name, banner FROM promotion_tiers WHERE id = ")
            .bind(id.clone());
        match db.query_one(q.statement()).await.map_err(internal)? {
            Some(r) => {
                promotion = Some(PromotionData {
                    name: r.try_get("", "name").map_err(internal)?,
                    banner: r.try_get("", "banner").map_err(internal)?,
                })
            }
            None => problems.push((
                "purpose".into(),
                "The promotion tier was deleted; choose another.".into(),
            )),
        }
    }
    let mut campaign = None;
    if let (Some(id), "unique_codes") = (&row.campaign_id, row.purpose.as_str()) {
        let mut q = Sql::new(backend);
        q.push("SELECT discount_type, percent_off, amount_off, expiration_date, validity_hours, status FROM campaigns WHERE id = ")
            .bind(id.clone());
        match db.query_one(q.statement()).await.map_err(internal)? {
            Some(r) => {
                let kind: String = r.try_get("", "discount_type").map_err(internal)?;
                let percent: Option<f64> = r.try_get("", "percent_off").map_err(internal)?;
                let amount: Option<i64> = r.try_get("", "amount_off").map_err(internal)?;
                let expiration_date: Option<i64> =
                    r.try_get("", "expiration_date").map_err(internal)?;
                if expiration_date.is_some_and(|e| e <= now_millis()) {
                    problems.push((
                        "purpose".into(),
                        "The campaign has expired; its codes can no longer be sent.".into(),
                    ));
                }
                campaign = Some(Campaign {
                    id: id.clone(),
                    discount: match (kind.as_str(), percent, amount) {
                        ("PERCENT", Some(p), _) => {
                            format!("{}%", p.to_string().trim_end_matches(".0"))
                        }
                        ("AMOUNT", _, Some(a)) => money(a),
                        _ => String::new(),
                    },
                    expiration_date,
                    validity_hours: r.try_get("", "validity_hours").map_err(internal)?,
                });
            }
            None => problems.push((
                "purpose".into(),
                "The campaign was deleted; choose another.".into(),
            )),
        }
    }
    let context = Context {
        template: parsed.unwrap_or_else(|| Template::parse("").expect("the empty template parses")),
        smart_encoding: row.smart_encoding,
        subject: row.subject.clone(),
        promotion,
        campaign,
        rate,
        public_url: public_url.to_owned(),
    };
    Ok((context, problems))
}

/// The audience as `(customer_id, skip, existing)`: every member of the segment (or the one
/// customer) with why they are left out, if they are, and the code they already hold. With
/// `fields`, also what the renderer needs: the customer's fields and the held code's text,
/// QR token and expiry. (Ordered by `m.customer_id`, a segment's members come in the order
/// of its primary key, with no sort.)
///
/// A customer whose phone an earlier member of the audience (by customer id) also has is a
/// duplicate: a probe of the phone index per member, instead of sorting the whole audience by
/// phone.
///
/// With `first`, only the segment's first `first` current members (by customer id) are
/// looked at: the review's samples need the first recipients, not the whole audience with
/// its probes sorted afterwards.
fn push_audience(
    q: &mut Sql,
    row: &Row,
    campaign: Option<&str>,
    fields: Option<DbBackend>,
    first: Option<i64>,
) {
    q.push("SELECT c.id AS customer_id, \
        CASE WHEN c.phone IS NULL OR c.phone = '' THEN 'no_phone' \
             WHEN c.phone NOT LIKE '+%' OR LENGTH(c.phone) < 8 OR LENGTH(c.phone) > 16 THEN 'invalid_phone' \
             WHEN c.sms_consent = 'opted_out' THEN 'opted_out' ");
    if let Some(Audience::Segment(s)) = row.audience() {
        // Membership of the other customer as a scalar subquery on the primary key, so no
        // planner (PostgreSQL with statistics from before the segment filled, say) can turn
        // it into a scan of the whole segment per member.
        q.push("WHEN EXISTS (SELECT 1 FROM customers c2 WHERE c2.phone = c.phone AND c2.id < c.id AND \
                (SELECT m2.left_at IS NULL FROM segment_members m2 WHERE m2.customer_id = c2.id AND m2.segment_id = ")
            .bind(s)
            .push(")) THEN 'duplicate' ");
    }
    q.push("END AS skip, ");
    match campaign {
        Some(_) => q.push("p.voucher_id AS existing"),
        None => q.push("CAST(NULL AS BIGINT) AS existing"),
    };
    if let Some(backend) = fields {
        q.push(", ").push(customer_columns(backend));
        match campaign {
            Some(_) => q.push(", v.code AS code, p.token AS token, p.expires_at AS expires_at"),
            None => q.push(", CAST(NULL AS TEXT) AS code, CAST(NULL AS TEXT) AS token, CAST(NULL AS BIGINT) AS expires_at"),
        };
    }
    match row.audience() {
        Some(Audience::Segment(s)) => {
            match first {
                Some(n) => q
                    .push(" FROM (SELECT customer_id, left_at, segment_id FROM segment_members WHERE left_at IS NULL AND segment_id = ")
                    .bind(s.clone())
                    .push(" ORDER BY segment_id, customer_id LIMIT ")
                    .bind(n)
                    .push(") m JOIN customers c ON c.id = m.customer_id"),
                None => q.push(" FROM segment_members m JOIN customers c ON c.id = m.customer_id"),
            };
            join_codes(q, campaign, fields.is_some());
            q.push(" WHERE m.left_at IS NULL AND m.segment_id = ")
                .bind(s);
        }
        Some(Audience::Customer(id)) => {
            q.push(" FROM customers c");
            join_codes(q, campaign, fields.is_some());
            q.push(" WHERE c.id = ").bind(id);
        }
        None => {
            q.push(" FROM customers c");
            join_codes(q, campaign, fields.is_some());
            q.push(" WHERE 1 = 0");
        }
    }
}

/// The code a customer already holds of the campaign (and its text, with `fields`).
fn join_codes(q: &mut Sql, campaign: Option<&str>, fields: bool) {
    if let Some(campaign) = campaign {
        q.push(" LEFT JOIN publications p ON p.customer_id = c.id AND p.campaign_id = ")
            .bind(campaign.to_owned());
        if fields {
            q.push(" LEFT JOIN vouchers v ON v.id = p.voucher_id");
        }
    }
}

/// Renders one message; the voucher is `None` for purposes without codes.
fn render(
    ctx: &Context,
    customer: CustomerData,
    voucher: Option<VoucherData>,
) -> (String, sms::SmsCount) {
    let data = TemplateData {
        customer,
        voucher,
        promotion: ctx.promotion.clone(),
        distribution: DistributionData {
            subject: ctx.subject.clone(),
        },
        unsubscribe_text: None,
    };
    render_for_sending(&ctx.template, &data, ctx.smart_encoding)
}

/// A code's expiry as templates see it (`2026-12-31`).
fn expiration_date(expires_at: Option<i64>) -> Option<String> {
    expires_at.and_then(|e| {
        chrono::DateTime::<chrono::Utc>::from_timestamp_millis(e)
            .map(|t| t.format("%Y-%m-%d").to_string())
    })
}

fn voucher_data(
    ctx: &Context,
    code: String,
    token: &str,
    expiration_date: Option<String>,
) -> VoucherData {
    VoucherData {
        code,
        qr_url: qr_url(&ctx.public_url, token),
        expiration_date,
        discount: ctx
            .campaign
            .as_ref()
            .map(|c| c.discount.clone())
            .filter(|d| !d.is_empty()),
    }
}

fn label(c: &CustomerData, id: &str) -> String {
    c.name
        .clone()
        .or_else(|| c.source_id.clone())
        .unwrap_or_else(|| id.to_owned())
}

/// A row of the snapshot as the page query hands it over: rn, customer_id, skip, existing,
/// name, email, phone, source_id, metadata, code, token, expires_at.
type SnapshotRow = (
    i64,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// A member of the snapshot, read and waiting to be rendered.
struct Pending {
    rec: Recipient,
    /// The code drawn for them now, as `(voucher id, code)`.
    drawn: Option<(i64, String)>,
    /// The code they already hold, with its QR token and expiry.
    held: Option<(i64, String, String, Option<i64>)>,
}

/// A rendered message, ready for the queue.
struct Staged {
    customer_id: String,
    skip: Option<String>,
    phone: String,
    source_id: Option<String>,
    body: String,
    encoding: &'static str,
    segments: i32,
    voucher_id: Option<i64>,
    /// The QR token of a newly published code.
    token: Option<String>,
}

/// A QR token for a newly published code: the voucher id (six bytes, big-endian) and ten
/// random bytes, URL-safe base64 like every token (22 characters). The prefix makes it
/// unique by construction and keeps a SEND page's tokens in one narrow range of the index
/// (random tokens would land all over it); the 80 random bits make it unguessable.
fn qr_token(rng: &mut impl rand::RngCore, voucher_id: i64) -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    bytes[..6].copy_from_slice(&voucher_id.to_be_bytes()[2..]);
    rng.fill_bytes(&mut bytes[6..]);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

/// Renders a page of recipients (on a blocking thread). The random part of QR tokens comes
/// from a ChaCha generator seeded from the operating system: as unpredictable, a syscall per
/// page instead of per token.
fn render_page(ctx: &Context, page: Vec<Pending>, expires_at: Option<i64>) -> Vec<Staged> {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha20Rng::from_entropy();
    // Every code this SEND hands out expires at the same moment: its date is written once.
    let fresh_expiration = expiration_date(expires_at);
    page.into_iter()
        .map(|p| {
            let phone = p.rec.data.phone.clone().unwrap_or_default();
            let source_id = p.rec.data.source_id.clone();
            if p.rec.skip.is_some() {
                return Staged {
                    customer_id: p.rec.customer_id,
                    skip: p.rec.skip,
                    phone,
                    source_id,
                    body: String::new(),
                    encoding: "GSM-7",
                    segments: 0,
                    voucher_id: None,
                    token: None,
                };
            }
            let (voucher, voucher_id, token) = match (&ctx.campaign, p.drawn, p.held) {
                (Some(_), Some((id, code)), _) => {
                    let token = qr_token(&mut rng, id);
                    (
                        Some(voucher_data(ctx, code, &token, fresh_expiration.clone())),
                        Some(id),
                        Some(token),
                    )
                }
                (Some(_), None, Some((id, code, token, expires))) => (
                    Some(voucher_data(ctx, code, &token, expiration_date(expires))),
                    Some(id),
                    None,
                ),
                _ => (None, None, None),
            };
            let (body, count) = render(ctx, p.rec.data, voucher);
            Staged {
                customer_id: p.rec.customer_id,
                skip: None,
                phone,
                source_id,
                body,
                encoding: count.encoding.label(),
                segments: count.segments as i32,
                voucher_id,
                token,
            }
        })
        .collect()
}

/// Drops SQLite's snapshot table (PostgreSQL drops it at commit).
async fn drop_staging(txn: &impl ConnectionTrait) -> Result<(), AppError> {
    txn.execute_unprepared("DROP TABLE IF EXISTS temp.send_audience")
        .await
        .map_err(internal)?;
    Ok(())
}

/// What every queued row of one SEND shares.
struct Queue<'a> {
    distribution_id: &'a str,
    integration_id: &'a str,
    campaign_id: Option<&'a str>,
    now: i64,
    expires_at: Option<i64>,
}

/// Queues a rendered page: its deliveries (skipped ones with their reason) in one INSERT and
/// the publications of its new codes in another. Answers with the page's segments.
async fn queue_page(
    txn: &impl ConnectionTrait,
    queue: &Queue<'_>,
    staged: Vec<Staged>,
) -> Result<u64, AppError> {
    let backend = txn.get_database_backend();
    let mut segments = 0u64;
    let mut publications = Sql::new(backend);
    publications
        .push("INSERT INTO publications (voucher_id, campaign_id, customer_id, source_id, token, published_at, expires_at) SELECT v.column1, ")
        .bind(queue.campaign_id.map(str::to_owned))
        .push(", v.column2, v.column3, v.column4, ")
        .bind(queue.now)
        .push(", ")
        .bind(queue.expires_at)
        .push(" FROM (VALUES ");
    let mut published = 0usize;
    let mut q = Sql::new(backend);
    q.push("INSERT INTO deliveries (kind, distribution_id, customer_id, occurrence, voucher_id, integration_id, priority, \
            recipient, body, encoding, segments, status, skip_reason, attempts, send_after, created_at, updated_at, failed_at) \
            SELECT 'distribution', ")
        .bind(queue.distribution_id.to_owned())
        .push(", v.column1, '', v.column2, ")
        .bind(queue.integration_id.to_owned())
        .push(", ")
        .bind(super::deliveries::PRIORITY_BULK)
        .push(", v.column3, v.column4, v.column5, v.column6, CASE WHEN v.column7 IS NULL THEN 'pending' ELSE 'skipped' END, v.column7, 0, ")
        .bind(queue.now)
        .push(", ")
        .bind(queue.now)
        .push(", ")
        .bind(queue.now)
        .push(", CASE WHEN v.column7 IS NULL THEN NULL ELSE ")
        .bind(queue.now)
        .push(" END FROM (VALUES ");
    for (i, s) in staged.into_iter().enumerate() {
        segments += s.segments.max(0) as u64;
        if let Some(token) = s.token {
            publications
                .push(if published == 0 { "(" } else { ", (" })
                .bind(s.voucher_id)
                .push(", ")
                .bind(s.customer_id.clone())
                .push(", ")
                .bind(s.source_id)
                .push(", ")
                .bind(token)
                .push(")");
            published += 1;
        }
        q.push(if i == 0 { "(" } else { ", (" })
            .bind(s.customer_id)
            .push(", ")
            .bind(s.voucher_id)
            .push(", ")
            .bind(s.phone)
            .push(", ")
            .bind(s.body)
            .push(", ")
            .bind(s.encoding)
            .push(", ")
            .bind(s.segments)
            .push(", ")
            .bind(s.skip)
            .push(")");
    }
    q.push(") AS v");
    txn.execute(q.statement()).await.map_err(internal)?;
    if published > 0 {
        publications.push(") AS v");
        match txn.execute(publications.statement()).await {
            Ok(_) => {}
            // A code (or this customer's code of the campaign) was published by someone else
            // after it was drawn (PostgreSQL only: SQLite's SEND holds the write lock).
            Err(e) if crate::db::is_unique_violation(&e) => {
                return Err(AppError::conflict(
                    "Codes of this campaign were being handed out at the same moment; nothing was sent. Send again.",
                ))
            }
            Err(e) => return Err(internal(e)),
        }
    }
    Ok(segments)
}

/// Draws the `needed` lowest free codes of the campaign after voucher id `after`. They are
/// taken by the publications the page then inserts (keyed by the voucher id): nothing else
/// marks a code published.
async fn draw_codes(
    txn: &impl ConnectionTrait,
    campaign: &str,
    needed: usize,
    after: i64,
) -> Result<Vec<(i64, String)>, AppError> {
    let drawn = super::campaigns::free_codes(txn, campaign, after, needed, Walk::Up)
        .await
        .map_err(internal)?;
    if drawn.len() != needed {
        return Err(AppError::conflict(
            "Codes of this campaign were being handed out at the same moment and too few are left; nothing was sent.",
        ));
    }
    Ok(drawn)
}

pub(crate) async fn review(
    db: &DatabaseConnection,
    public_url: &str,
    row: &Row,
) -> Result<ReviewReport, AppError> {
    let backend = db.get_database_backend();
    let (ctx, mut problems) = context(db, public_url, row).await?;
    let campaign = ctx.campaign.as_ref().map(|c| c.id.as_str());
    let mut q = Sql::new(backend);
    q.push("SELECT a.skip AS skip, COUNT(*) AS n, SUM(CASE WHEN a.existing IS NULL THEN 0 ELSE 1 END) AS holders FROM (");
    push_audience(&mut q, row, campaign, None, None);
    q.push(") a GROUP BY a.skip");
    let mut exclusions = Exclusions::default();
    let (mut audience, mut recipients, mut holders) = (0u64, 0u64, 0u64);
    for r in db.query_all(q.statement()).await.map_err(internal)? {
        let skip: Option<String> = r.try_get("", "skip").map_err(internal)?;
        let n = r.try_get::<i64>("", "n").map_err(internal)?.max(0) as u64;
        audience += n;
        match skip.as_deref() {
            None => {
                recipients = n;
                holders = r
                    .try_get::<Option<i64>>("", "holders")
                    .map_err(internal)?
                    .unwrap_or(0)
                    .max(0) as u64;
            }
            Some("opted_out") => exclusions.opted_out = n,
            Some("no_phone") => exclusions.no_phone = n,
            Some("invalid_phone") => exclusions.invalid_phone = n,
            Some(_) => exclusions.duplicate = n,
        }
    }
    if row.audience().is_some() && recipients == 0 {
        problems.push(("audience".into(), format!(
            "No one in this audience can get an SMS ({} in it: {} opted out, {} without a phone, {} with an invalid phone, {} sharing a phone).",
            audience, exclusions.opted_out, exclusions.no_phone, exclusions.invalid_phone, exclusions.duplicate
        )));
    }
    let (mut codes_needed, mut codes_available, mut sample_code) = (None, None, None);
    if let Some(c) = &ctx.campaign {
        let needed = recipients - holders;
        let (available, first) = codes_left(db, &c.id).await?;
        if available < needed {
            problems.push(("purpose".into(), format!(
                "The campaign has {available} codes left and this audience needs {needed}: generate more codes or narrow the audience."
            )));
        }
        codes_needed = Some(needed);
        codes_available = Some(available);
        sample_code = first;
    }
    // Render the first recipients: the samples, and the segment total.
    let mut q = Sql::new(backend);
    q.push("SELECT a.customer_id, a.skip, ")
        .push(customer_columns(backend));
    q.push(", v.code AS code, p2.token AS token, p2.expires_at AS expires_at FROM (");
    // Twice as many members as are rendered: room for those left out.
    push_audience(&mut q, row, campaign, None, Some(2 * REVIEW_RENDERED));
    q.push(") a JOIN customers c ON c.id = a.customer_id LEFT JOIN vouchers v ON v.id = a.existing LEFT JOIN publications p2 ON p2.voucher_id = a.existing \
            WHERE a.skip IS NULL ORDER BY a.customer_id LIMIT ")
        .bind(REVIEW_RENDERED);
    let rows = db.query_all(q.statement()).await.map_err(internal)?;
    let now = now_millis();
    let mut samples = Vec::new();
    let mut rendered_segments = 0u64;
    let mut too_long = None;
    for r in &rows {
        let rec = recipient(r).map_err(internal)?;
        let voucher = ctx.campaign.as_ref().map(|c| {
            let code: Option<String> = r.try_get("", "code").ok().flatten();
            let token: Option<String> = r.try_get("", "token").ok().flatten();
            match (code, token) {
                (Some(code), Some(token)) => {
                    let expires: Option<i64> = r.try_get("", "expires_at").ok().flatten();
                    voucher_data(&ctx, code, &token, expiration_date(expires))
                }
                // Not drawn yet: a code of this campaign stands in (same shape, same length).
                _ => voucher_data(
                    &ctx,
                    sample_code.clone().unwrap_or_else(|| "CODE".into()),
                    &"x".repeat(QR_TOKEN_CHARS),
                    expiration_date(c.expires_at(now)),
                ),
            }
        });
        let who = label(&rec.data, &rec.customer_id);
        let to = rec
            .data
            .phone
            .clone()
            .map(|p: String| mask_phone(&p))
            .unwrap_or_default();
        let (text, count) = render(&ctx, rec.data, voucher);
        rendered_segments += count.segments as u64;
        if too_long.is_none()
            && (count.segments > sms::MAX_SEGMENTS || text.chars().count() > sms::MAX_CHARACTERS)
        {
            too_long = Some(format!(
                "The message for {who} is {} segments; the limit is {}.",
                count.segments,
                sms::MAX_SEGMENTS
            ));
        }
        if samples.len() < SAMPLES {
            samples.push(SampleMessage {
                customer: who,
                to,
                text,
                encoding: count.encoding.label().to_owned(),
                segments: count.segments as u32,
            });
        }
    }
    if let Some(p) = too_long {
        problems.push(("message".into(), p));
    }
    let rendered = rows.len() as u64;
    let estimated = recipients > rendered;
    let segments_total = if rendered == 0 {
        0
    } else if estimated {
        (rendered_segments as f64 * recipients as f64 / rendered as f64).round() as u64
    } else {
        rendered_segments
    };
    Ok(ReviewReport {
        audience,
        recipients,
        exclusions,
        codes_needed,
        codes_available,
        samples,
        segments_total,
        segments_estimated: estimated,
        segments_per_second: ctx.rate,
        estimated_seconds: segments_total.div_ceil(u64::from(ctx.rate.max(1))),
        problems,
        send_key: random_token(TOKEN_BYTES),
    })
}

/// Free codes of a campaign (its counters: codes generated less codes published, both kept
/// in the transactions that change them), and one of them to show in samples.
async fn codes_left(
    db: &impl ConnectionTrait,
    campaign: &str,
) -> Result<(u64, Option<String>), AppError> {
    let backend = db.get_database_backend();
    let mut q = Sql::new(backend);
    q.push("SELECT generated_count - published_count AS n FROM campaigns WHERE id = ")
        .bind(campaign.to_owned());
    let available = db
        .query_one(q.statement())
        .await
        .map_err(internal)?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()
        .map_err(internal)?
        .unwrap_or(0)
        .max(0) as u64;
    let mark = super::campaigns::published_through(db, campaign)
        .await
        .map_err(internal)?;
    let sample = super::campaigns::free_codes(db, campaign, mark, 1, Walk::Up)
        .await
        .map_err(internal)?
        .pop()
        .map(|(_, code)| code);
    Ok((available, sample))
}

fn stored_outcome(row: &Row) -> SendOutcome {
    let n = |v: Option<i64>| v.unwrap_or(0).max(0) as u64;
    SendOutcome {
        audience: n(row.audience_count),
        queued: n(row.queued_count),
        exclusions: Exclusions {
            opted_out: n(row.skipped[0]),
            no_phone: n(row.skipped[1]),
            invalid_phone: n(row.skipped[2]),
            duplicate: n(row.skipped[3]),
        },
        codes_published: n(row.codes_published),
        segments_total: n(row.segments_total),
        replayed: true,
    }
}

/// SEND: see the module's comment. `key` makes it happen once.
pub(crate) async fn send(
    db: &DatabaseConnection,
    public_url: &str,
    row: &Row,
    key: &str,
) -> Result<SendOutcome, AppError> {
    let backend = db.get_database_backend();
    let txn = crate::db::begin(db).await.map_err(internal)?;
    let now = now_millis();
    let mut q = Sql::new(backend);
    q.push("UPDATE distributions SET status = 'sending', send_key = ")
        .bind(key.to_owned())
        .push(", sent_at = ")
        .bind(now)
        .push(", updated_at = ")
        .bind(now)
        .push(" WHERE status = 'draft' AND id = ")
        .bind(row.id.clone());
    if txn
        .execute(q.statement())
        .await
        .map_err(internal)?
        .rows_affected()
        == 0
    {
        // Sent already: by this key (a double click, a retry) or by another.
        txn.rollback().await.map_err(internal)?;
        let mut q = Sql::new(backend);
        q.push("SELECT send_key FROM distributions WHERE id = ")
            .bind(row.id.clone());
        let stored: Option<String> = db
            .query_one(q.statement())
            .await
            .map_err(internal)?
            .and_then(|r| r.try_get("", "send_key").ok().flatten());
        if stored.as_deref() == Some(key) {
            let mut q = Sql::new(backend);
            q.push("SELECT ")
                .push(super::distributions::COLUMNS)
                .push(" FROM distributions WHERE id = ")
                .bind(row.id.clone());
            let r = db
                .query_one(q.statement())
                .await
                .map_err(internal)?
                .ok_or_else(|| AppError::not_found("The distribution is gone."))?;
            return Ok(stored_outcome(&Row::from(&r).map_err(internal)?));
        }
        return Err(AppError::conflict(
            "This distribution was sent already; duplicate it to send it again.",
        ));
    }
    if backend == DbBackend::Postgres {
        // From here on, a SEND that draws codes another SEND is still publishing would wait
        // for it to commit, then fail on their keys: it fails at once instead (see
        // `internal`). (Not before: a second SEND of this draft waits above for the first
        // to commit, then answers with its outcome.)
        txn.execute_unprepared("SET LOCAL lock_timeout = '2s'")
            .await
            .map_err(internal)?;
    }
    let (ctx, problems) = context(&txn, public_url, row).await?;
    if !problems.is_empty() {
        txn.rollback().await.map_err(internal)?;
        let mut fields = BTreeMap::new();
        for (step, message) in problems {
            fields.entry(step).or_insert(message);
        }
        return Err(AppError::validation_fields(fields));
    }
    let result = materialise(&txn, &ctx, row, now).await;
    match result {
        Ok(outcome) => {
            txn.commit().await.map_err(internal)?;
            Ok(outcome)
        }
        Err(e) => {
            txn.rollback().await.map_err(internal)?;
            Err(e)
        }
    }
}

async fn materialise(
    txn: &impl ConnectionTrait,
    ctx: &Context,
    row: &Row,
    now: i64,
) -> Result<SendOutcome, AppError> {
    let backend = txn.get_database_backend();
    let campaign = ctx.campaign.as_ref().map(|c| c.id.as_str());
    let temp = match backend {
        DbBackend::Postgres => "CREATE TEMP TABLE send_audience (rn BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_id VARCHAR(64) NOT NULL, skip VARCHAR(16), existing BIGINT, \
            name TEXT, email TEXT, phone TEXT, source_id TEXT, metadata TEXT, code TEXT, token TEXT, expires_at BIGINT) ON COMMIT DROP",
        _ => "CREATE TEMP TABLE send_audience (rn INTEGER PRIMARY KEY, customer_id TEXT NOT NULL, skip TEXT, existing INTEGER, \
            name TEXT, email TEXT, phone TEXT, source_id TEXT, metadata TEXT, code TEXT, token TEXT, expires_at INTEGER)",
    };
    if backend != DbBackend::Postgres {
        // SQLite's temporary tables live as long as the pooled connection.
        drop_staging(txn).await?;
    }
    txn.execute_unprepared(temp).await.map_err(internal)?;

    // 1. The snapshot, in customer order, with everything the renderer needs.
    let clock = std::time::Instant::now();
    let mut q = Sql::new(backend);
    // (`rn` numbers the rows in the order they are inserted.)
    q.push("INSERT INTO send_audience (customer_id, skip, existing, name, email, phone, source_id, metadata, code, token, expires_at) ");
    push_audience(&mut q, row, campaign, Some(backend), None);
    q.push(match row.audience() {
        // The segment's members in the order of its primary key: no sort.
        Some(Audience::Segment(_)) => " ORDER BY m.customer_id",
        _ => " ORDER BY c.id",
    });
    txn.execute(q.statement()).await.map_err(internal)?;
    let counts = txn
        .query_one(sea_orm::Statement::from_string(
            backend,
            "SELECT COUNT(*) AS audience, COALESCE(SUM(CASE WHEN skip IS NULL THEN 1 ELSE 0 END), 0) AS sendable, \
             COALESCE(SUM(CASE WHEN skip IS NULL AND existing IS NULL THEN 1 ELSE 0 END), 0) AS fresh FROM send_audience",
        ))
        .await
        .map_err(internal)?
        .ok_or_else(|| internal(DbErr::RecordNotFound("the snapshot count".into())))?;
    let count = |column: &str| {
        counts
            .try_get::<i64>("", column)
            .map(|n| n.max(0) as u64)
            .map_err(internal)
    };
    let (audience, sendable) = (count("audience")?, count("sendable")?);
    let needed = if campaign.is_some() {
        count("fresh")?
    } else {
        0
    };
    if sendable == 0 {
        return Err(AppError::conflict(format!(
            "No one in this audience can get an SMS ({audience} in it); nothing was sent."
        )));
    }
    let snapshot_took = clock.elapsed();
    // 2. The pool must cover everyone who needs a new code before anything is written.
    if let Some(c) = &ctx.campaign {
        let (available, _) = codes_left(txn, &c.id).await?;
        if available < needed {
            return Err(AppError::conflict(format!(
                "The campaign has {available} codes left and this audience needs {needed}: generate more codes or narrow the audience. Nothing was sent."
            )));
        }
    }
    // 3. Page by page: draw the page's codes, render it on a blocking thread while the
    // database queues the page before.
    let expires_at = ctx.campaign.as_ref().and_then(|c| c.expires_at(now));
    let integration_id = row.integration_id.clone().unwrap_or_default();
    let queue = Queue {
        distribution_id: &row.id,
        integration_id: &integration_id,
        campaign_id: campaign,
        now,
        expires_at,
    };
    let mut exclusions = Exclusions::default();
    let (mut queued, mut segments_total, mut published) = (0u64, 0u64, 0u64);
    let mut after = 0i64;
    // The lowest free codes are drawn, from the campaign's mark on: every free code between
    // the mark and the last one drawn goes to this SEND, so the mark may move to it.
    let mut code_cursor = match campaign {
        Some(c) => super::campaigns::published_through(txn, c)
            .await
            .map_err(internal)?,
        None => 0,
    };
    let mut rendering: Option<tokio::task::JoinHandle<Vec<Staged>>> = None;
    let shared = std::sync::Arc::new(ctx.clone());
    let pages_started = std::time::Instant::now();
    let (mut reading, mut drawing, mut waiting, mut queueing) = Default::default();
    loop {
        let clock = std::time::Instant::now();
        const COLUMNS: &str = "rn, customer_id, skip, existing, name, email, phone, source_id, metadata, code, token, expires_at";
        let mut q = Sql::new(backend);
        q.push(&crate::db::json_page(backend, COLUMNS, "rn"))
            .push("SELECT ")
            .push(COLUMNS)
            .push(" FROM send_audience WHERE rn > ")
            .bind(after)
            .push(" ORDER BY rn LIMIT ")
            .bind(PAGE)
            .push(") AS s");
        let rows: Vec<SnapshotRow> = crate::db::fetch_json_page(txn, q.statement())
            .await
            .map_err(internal)?;
        let mut page = Vec::with_capacity(rows.len());
        let mut fresh = 0usize;
        for r in rows {
            after = after.max(r.0);
            let rec = Recipient {
                customer_id: r.1,
                skip: r.2,
                data: CustomerData {
                    name: r.4,
                    email: r.5,
                    phone: r.6,
                    source_id: r.7,
                    metadata: r
                        .8
                        .and_then(|m| serde_json::from_str(&m).ok())
                        .unwrap_or_default(),
                },
            };
            match rec.skip.as_deref() {
                Some("opted_out") => exclusions.opted_out += 1,
                Some("no_phone") => exclusions.no_phone += 1,
                Some("invalid_phone") => exclusions.invalid_phone += 1,
                Some(_) => exclusions.duplicate += 1,
                None => queued += 1,
            }
            let held = match (r.3, r.9) {
                (Some(id), Some(code)) => Some((id, code, r.10.unwrap_or_default(), r.11)),
                _ => None,
            };
            if rec.skip.is_none() && held.is_none() && campaign.is_some() {
                fresh += 1;
            }
            page.push(Pending {
                rec,
                drawn: None,
                held,
            });
        }
        reading += clock.elapsed();
        let clock = std::time::Instant::now();
        if let (Some(campaign), true) = (campaign, fresh > 0) {
            let mut codes = draw_codes(txn, campaign, fresh, code_cursor)
                .await?
                .into_iter();
            code_cursor = codes.as_slice().last().map_or(code_cursor, |(id, _)| *id);
            published += fresh as u64;
            for p in page
                .iter_mut()
                .filter(|p| p.rec.skip.is_none() && p.held.is_none())
            {
                p.drawn = codes.next();
            }
        }
        drawing += clock.elapsed();
        // Take the page rendered meanwhile, hand this one over, and queue the former while
        // this one renders.
        let rendered = match rendering.take() {
            Some(handle) => {
                let clock = std::time::Instant::now();
                let staged = handle.await.map_err(|e| AppError::internal(&e))?;
                waiting += clock.elapsed();
                Some(staged)
            }
            None => None,
        };
        let done = page.is_empty();
        if !done {
            let ctx = shared.clone();
            rendering = Some(tokio::task::spawn_blocking(move || {
                render_page(&ctx, page, expires_at)
            }));
        }
        if let Some(staged) = rendered {
            let clock = std::time::Instant::now();
            segments_total += queue_page(txn, &queue, staged).await?;
            queueing += clock.elapsed();
        }
        if done {
            break;
        }
    }
    if let (Some(c), true) = (&ctx.campaign, published > 0) {
        let mut q = Sql::new(backend);
        q.push("UPDATE campaigns SET published_count = published_count + ")
            .bind(published as i64)
            .push(", published_through = CASE WHEN published_through > ")
            .bind(code_cursor)
            .push(" THEN published_through ELSE ")
            .bind(code_cursor)
            .push(" END WHERE id = ")
            .bind(c.id.clone());
        txn.execute(q.statement()).await.map_err(internal)?;
    }
    let mut q = Sql::new(backend);
    q.push("UPDATE distributions SET audience_count = ")
        .bind(audience as i64)
        .push(", queued_count = ")
        .bind(queued as i64)
        .push(", skipped_opted_out = ")
        .bind(exclusions.opted_out as i64)
        .push(", skipped_no_phone = ")
        .bind(exclusions.no_phone as i64)
        .push(", skipped_invalid_phone = ")
        .bind(exclusions.invalid_phone as i64)
        .push(", skipped_duplicate = ")
        .bind(exclusions.duplicate as i64)
        .push(", codes_published = ")
        .bind(published as i64)
        .push(", segments_total = ")
        .bind(segments_total as i64)
        .push(" WHERE id = ")
        .bind(row.id.clone());
    txn.execute(q.statement()).await.map_err(internal)?;
    if backend != DbBackend::Postgres {
        drop_staging(txn).await?;
    }
    let ms = |d: std::time::Duration| d.as_millis() as u64;
    tracing::info!(
        distribution = %row.id,
        audience,
        queued,
        snapshot_ms = ms(snapshot_took),
        pages_ms = ms(pages_started.elapsed()),
        reading_ms = ms(reading),
        drawing_ms = ms(drawing),
        waiting_for_rendering_ms = ms(waiting),
        queueing_ms = ms(queueing),
        "SEND materialised"
    );
    Ok(SendOutcome {
        audience,
        queued,
        exclusions,
        codes_published: published,
        segments_total,
        replayed: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use rand::SeedableRng;

    #[test]
    fn qr_tokens_carry_the_voucher_id_then_random_bytes() {
        let mut rng = rand_chacha::ChaCha20Rng::from_entropy();
        let a = qr_token(&mut rng, 0x0102_0304_0506);
        let b = qr_token(&mut rng, 0x0102_0304_0506);
        assert_eq!(a.len(), QR_TOKEN_CHARS);
        assert_ne!(a, b, "the random part differs");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&a)
            .expect("URL-safe base64");
        assert_eq!(&bytes[..6], &[1, 2, 3, 4, 5, 6]);
        // Neighbouring vouchers share the token's first characters, so a page of a SEND
        // writes its tokens into one narrow range of the index.
        let next = qr_token(&mut rng, 0x0102_0304_0507);
        assert_eq!(next[..7], a[..7]);
        assert_ne!(next[..8], a[..8]);
    }
}
