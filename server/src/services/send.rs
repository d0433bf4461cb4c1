//! The pre-send review and SEND of a manual distribution.
//!
//! SEND is one transaction, set-based: the audience is snapshot into a temporary table with
//! each customer's exclusion (no phone, invalid phone, opted out, a phone shared with an
//! earlier recipient) and whether they already hold a code of the campaign; the codes the
//! others need are drawn from the campaign's free codes in random order and marked published
//! in one statement; then the snapshot is read a page at a time, each message rendered with
//! the shared renderer and counted, and deliveries and publications are inserted a thousand
//! rows per statement. A pool too small for the audience stops it before anything is written.

use super::{distributions::Row, rule_sql::Sql, tokens::random_token};
use crate::ids::now_millis;
use app::{
    domain::{
        message::preview_parsed,
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
/// customer) with why they are left out, if they are, and the code they already hold.
fn push_audience(q: &mut Sql, row: &Row, campaign: Option<&str>) {
    q.push("SELECT c.id AS customer_id, \
        CASE WHEN c.phone IS NULL OR c.phone = '' THEN 'no_phone' \
             WHEN c.phone NOT LIKE '+%' OR LENGTH(c.phone) < 8 OR LENGTH(c.phone) > 16 THEN 'invalid_phone' \
             WHEN c.sms_consent = 'opted_out' THEN 'opted_out' \
             WHEN ROW_NUMBER() OVER (PARTITION BY c.phone ORDER BY c.id) > 1 THEN 'duplicate' END AS skip, ");
    match campaign {
        Some(_) => q.push("p.voucher_id AS existing FROM customers c "),
        None => q.push("CAST(NULL AS BIGINT) AS existing FROM customers c "),
    };
    match row.audience() {
        Some(Audience::Segment(s)) => {
            q.push("JOIN segment_members m ON m.customer_id = c.id AND m.left_at IS NULL AND m.segment_id = ")
                .bind(s);
        }
        Some(Audience::Customer(_)) | None => {}
    }
    if let Some(campaign) = campaign {
        q.push(" LEFT JOIN publications p ON p.customer_id = c.id AND p.campaign_id = ")
            .bind(campaign.to_owned());
    }
    match row.audience() {
        Some(Audience::Customer(c)) => {
            q.push(" WHERE c.id = ").bind(c);
        }
        Some(Audience::Segment(_)) => {}
        None => {
            q.push(" WHERE 1 = 0");
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
    let preview = preview_parsed(&ctx.template, &data, ctx.smart_encoding);
    (preview.text, preview.count)
}

fn voucher_data(ctx: &Context, code: String, token: &str, expires_at: Option<i64>) -> VoucherData {
    VoucherData {
        code,
        qr_url: qr_url(&ctx.public_url, token),
        expiration_date: expires_at.and_then(|e| {
            chrono::DateTime::<chrono::Utc>::from_timestamp_millis(e)
                .map(|t| t.format("%Y-%m-%d").to_string())
        }),
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

/// A member of the snapshot, read and waiting to be rendered.
struct Pending {
    rn: i64,
    rec: Recipient,
    /// A code drawn for them now (else `code` is one they already hold, or none).
    new_code: bool,
    code: Option<String>,
    token: Option<String>,
    expires_at: Option<i64>,
}

/// A rendered message, staged for the queue.
struct Staged {
    rn: i64,
    phone: String,
    source_id: Option<String>,
    body: String,
    encoding: &'static str,
    segments: i32,
    /// The QR token of a newly published code.
    token: Option<String>,
}

/// Renders a page of recipients (on a blocking thread). QR tokens come from a ChaCha
/// generator seeded from the operating system: as unpredictable, a syscall per page instead
/// of per token.
fn render_page(ctx: &Context, page: Vec<Pending>, expires_at: Option<i64>) -> Vec<Staged> {
    use rand::{RngCore, SeedableRng};
    let mut rng = rand_chacha::ChaCha20Rng::from_entropy();
    page.into_iter()
        .map(|p| {
            let phone = p.rec.data.phone.clone().unwrap_or_default();
            let source_id = p.rec.data.source_id.clone();
            if p.rec.skip.is_some() {
                return Staged {
                    rn: p.rn,
                    phone,
                    source_id,
                    body: String::new(),
                    encoding: "GSM-7",
                    segments: 0,
                    token: None,
                };
            }
            let (voucher, token) = match (&ctx.campaign, p.code) {
                (Some(_), Some(code)) if p.new_code => {
                    let mut bytes = [0u8; TOKEN_BYTES];
                    rng.fill_bytes(&mut bytes);
                    let token = base64::Engine::encode(
                        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                        bytes,
                    );
                    (
                        Some(voucher_data(ctx, code, &token, expires_at)),
                        Some(token),
                    )
                }
                (Some(_), Some(code)) => (
                    Some(voucher_data(
                        ctx,
                        code,
                        p.token.as_deref().unwrap_or_default(),
                        p.expires_at,
                    )),
                    None,
                ),
                _ => (None, None),
            };
            let (body, count) = render(ctx, p.rec.data, voucher);
            Staged {
                rn: p.rn,
                phone,
                source_id,
                body,
                encoding: count.encoding.label(),
                segments: count.segments as i32,
                token,
            }
        })
        .collect()
}

/// Drops SQLite's staging tables (PostgreSQL drops them at commit).
async fn drop_staging(txn: &impl ConnectionTrait) -> Result<(), AppError> {
    for table in ["send_audience", "send_codes", "send_texts"] {
        txn.execute_unprepared(&format!("DROP TABLE IF EXISTS temp.{table}"))
            .await
            .map_err(internal)?;
    }
    Ok(())
}

/// Writes rendered messages to the staging table; answers with their segments.
async fn store_texts(txn: &impl ConnectionTrait, staged: &[Staged]) -> Result<u64, AppError> {
    let mut segments = 0u64;
    let mut q = Sql::new(txn.get_database_backend());
    q.push(
        "INSERT INTO send_texts (rn, phone, source_id, body, encoding, segments, token) VALUES ",
    );
    for (i, s) in staged.iter().enumerate() {
        segments += s.segments.max(0) as u64;
        q.push(if i == 0 { "(" } else { ", (" })
            .bind(s.rn)
            .push(", ")
            .bind(s.phone.clone())
            .push(", ")
            .bind(s.source_id.clone())
            .push(", ")
            .bind(s.body.clone())
            .push(", ")
            .bind(s.encoding)
            .push(", ")
            .bind(s.segments)
            .push(", ")
            .bind(s.token.clone())
            .push(")");
    }
    txn.execute(q.statement()).await.map_err(internal)?;
    Ok(segments)
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
    push_audience(&mut q, row, campaign);
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
        let (available, first) = free_codes(db, &c.id).await?;
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
    push_audience(&mut q, row, campaign);
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
                    voucher_data(&ctx, code, &token, expires)
                }
                // Not drawn yet: a code of this campaign stands in (same shape, same length).
                _ => voucher_data(
                    &ctx,
                    sample_code.clone().unwrap_or_else(|| "CODE".into()),
                    &"x".repeat(QR_TOKEN_CHARS),
                    c.expires_at(now),
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

/// Free codes of a campaign, and one of them to show in samples.
async fn free_codes(
    db: &impl ConnectionTrait,
    campaign: &str,
) -> Result<(u64, Option<String>), AppError> {
    let backend = db.get_database_backend();
    let mut q = Sql::new(backend);
    q.push("SELECT COUNT(*) AS n FROM vouchers WHERE published_at IS NULL AND campaign_id = ")
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
    let mut q = Sql::new(backend);
    q.push("SELECT code FROM vouchers WHERE published_at IS NULL AND campaign_id = ")
        .bind(campaign.to_owned())
        .push(" LIMIT 1");
    let sample = db
        .query_one(q.statement())
        .await
        .map_err(internal)?
        .map(|r| r.try_get::<String>("", "code"))
        .transpose()
        .map_err(internal)?;
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
        DbBackend::Postgres => [
            "CREATE TEMP TABLE send_audience (rn BIGINT PRIMARY KEY, customer_id VARCHAR(64) NOT NULL, skip VARCHAR(16), existing BIGINT, code_k BIGINT) ON COMMIT DROP",
            "CREATE TEMP TABLE send_codes (k BIGINT PRIMARY KEY, voucher_id BIGINT NOT NULL, code VARCHAR(64) NOT NULL) ON COMMIT DROP",
            "CREATE TEMP TABLE send_texts (rn BIGINT PRIMARY KEY, phone TEXT NOT NULL, source_id TEXT, body TEXT NOT NULL, encoding VARCHAR(8) NOT NULL, segments INTEGER NOT NULL, token TEXT) ON COMMIT DROP",
        ],
        _ => [
            "CREATE TEMP TABLE send_audience (rn INTEGER PRIMARY KEY, customer_id TEXT NOT NULL, skip TEXT, existing INTEGER, code_k INTEGER)",
            "CREATE TEMP TABLE send_codes (k INTEGER PRIMARY KEY, voucher_id INTEGER NOT NULL, code TEXT NOT NULL)",
            "CREATE TEMP TABLE send_texts (rn INTEGER PRIMARY KEY, phone TEXT NOT NULL, source_id TEXT, body TEXT NOT NULL, encoding TEXT NOT NULL, segments INTEGER NOT NULL, token TEXT)",
        ],
    };
    if backend != DbBackend::Postgres {
        // SQLite's temporary tables live as long as the pooled connection.
        drop_staging(txn).await?;
    }
    for sql in temp {
        txn.execute_unprepared(sql).await.map_err(internal)?;
    }

    // 1. The snapshot, numbered; those who need a new code numbered again among themselves.
    let mut q = Sql::new(backend);
    q.push("INSERT INTO send_audience (rn, customer_id, skip, existing, code_k) SELECT ROW_NUMBER() OVER (ORDER BY a.customer_id), \
            a.customer_id, a.skip, a.existing, CASE WHEN a.skip IS NULL AND a.existing IS NULL THEN \
            ROW_NUMBER() OVER (PARTITION BY (CASE WHEN a.skip IS NULL AND a.existing IS NULL THEN 1 ELSE 0 END) ORDER BY a.customer_id) END FROM (");
    push_audience(&mut q, row, campaign);
    q.push(") a");
    txn.execute(q.statement()).await.map_err(internal)?;
    let count = |sql: &'static str| async move {
        txn.query_one(sea_orm::Statement::from_string(backend, sql))
            .await
            .map_err(internal)?
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()
            .map_err(internal)
            .map(|n| n.unwrap_or(0).max(0) as u64)
    };
    let audience = count("SELECT COUNT(*) AS n FROM send_audience").await?;
    let sendable = count("SELECT COUNT(*) AS n FROM send_audience WHERE skip IS NULL").await?;
    let needed = if campaign.is_some() {
        count("SELECT COUNT(*) AS n FROM send_audience WHERE code_k IS NOT NULL").await?
    } else {
        0
    };
    if sendable == 0 {
        return Err(AppError::conflict(format!(
            "No one in this audience can get an SMS ({audience} in it); nothing was sent."
        )));
    }
    // 2. Codes: drawn at random from the free ones, marked published at once.
    if let Some(c) = &ctx.campaign {
        let (available, _) = free_codes(txn, &c.id).await?;
        if available < needed {
            return Err(AppError::conflict(format!(
                "The campaign has {available} codes left and this audience needs {needed}: generate more codes or narrow the audience. Nothing was sent."
            )));
        }
        if needed > 0 {
            let mut q = Sql::new(backend);
            q.push("INSERT INTO send_codes (k, voucher_id, code) SELECT ROW_NUMBER() OVER (ORDER BY x.r), x.id, x.code FROM \
                    (SELECT id, code, RANDOM() AS r FROM vouchers WHERE published_at IS NULL AND campaign_id = ")
                .bind(c.id.clone())
                .push(" ORDER BY r LIMIT ")
                .bind(needed as i64)
                .push(") x");
            txn.execute(q.statement()).await.map_err(internal)?;
            let mut q = Sql::new(backend);
            q.push("UPDATE vouchers SET published_at = ")
                .bind(now)
                .push(" WHERE published_at IS NULL AND id IN (SELECT voucher_id FROM send_codes)");
            let marked = txn
                .execute(q.statement())
                .await
                .map_err(internal)?
                .rows_affected();
            if marked != needed {
                return Err(AppError::conflict(
                    "Codes of this campaign were being handed out at the same moment; nothing was sent. Send again.",
                ));
            }
            let mut q = Sql::new(backend);
            q.push("UPDATE campaigns SET published_count = published_count + ")
                .bind(needed as i64)
                .push(" WHERE id = ")
                .bind(c.id.clone());
            txn.execute(q.statement()).await.map_err(internal)?;
        }
    }
    // 3. Render every text (on a blocking thread, a page at a time, while the database stores
    // the page before) into a staging table, then queue everything in two set-based inserts.
    let expires_at = ctx.campaign.as_ref().and_then(|c| c.expires_at(now));
    let mut exclusions = Exclusions::default();
    let (mut queued, mut segments_total) = (0u64, 0u64);
    let mut after = 0i64;
    let mut rendering: Option<tokio::task::JoinHandle<Vec<Staged>>> = None;
    let shared = std::sync::Arc::new(ctx.clone());
    loop {
        let mut q = Sql::new(backend);
        q.push("SELECT t.rn, t.customer_id, t.skip, ")
            .push(customer_columns(backend));
        q.push(", k.voucher_id AS new_voucher, COALESCE(k.code, v.code) AS code, p.token AS token, p.expires_at AS expires_at \
                FROM send_audience t JOIN customers c ON c.id = t.customer_id LEFT JOIN send_codes k ON k.k = t.code_k \
                LEFT JOIN vouchers v ON v.id = t.existing LEFT JOIN publications p ON p.voucher_id = t.existing \
                WHERE t.rn > ")
            .bind(after)
            .push(" ORDER BY t.rn LIMIT ")
            .bind(PAGE);
        let rows = txn.query_all(q.statement()).await.map_err(internal)?;
        let mut page = Vec::with_capacity(rows.len());
        for r in &rows {
            after = r.try_get("", "rn").map_err(internal)?;
            let rec = recipient(r).map_err(internal)?;
            match rec.skip.as_deref() {
                Some("opted_out") => exclusions.opted_out += 1,
                Some("no_phone") => exclusions.no_phone += 1,
                Some("invalid_phone") => exclusions.invalid_phone += 1,
                Some(_) => exclusions.duplicate += 1,
                None => queued += 1,
            }
            page.push(Pending {
                rn: after,
                rec,
                new_code: r
                    .try_get::<Option<i64>>("", "new_voucher")
                    .map_err(internal)?
                    .is_some(),
                code: r.try_get("", "code").map_err(internal)?,
                token: r.try_get("", "token").map_err(internal)?,
                expires_at: r.try_get("", "expires_at").map_err(internal)?,
            });
        }
        // Store the page rendered meanwhile, then hand this one over.
        if let Some(handle) = rendering.take() {
            let staged = handle.await.map_err(|e| AppError::internal(&e))?;
            segments_total += store_texts(txn, &staged).await?;
        }
        if page.is_empty() {
            break;
        }
        let ctx = shared.clone();
        rendering = Some(tokio::task::spawn_blocking(move || {
            render_page(&ctx, page, expires_at)
        }));
    }
    // Queue: one row per member of the snapshot, skipped ones with their reason.
    let mut q = Sql::new(backend);
    q.push("INSERT INTO deliveries (kind, distribution_id, customer_id, occurrence, voucher_id, integration_id, priority, \
            recipient, body, encoding, segments, status, skip_reason, attempts, send_after, created_at, updated_at, failed_at) \
            SELECT 'distribution', ")
        .bind(row.id.clone())
        .push(", t.customer_id, '', CASE WHEN t.skip IS NULL THEN COALESCE(k.voucher_id, t.existing) END, ")
        .bind(row.integration_id.clone())
        .push(", ")
        .bind(super::deliveries::PRIORITY_BULK)
        .push(", x.phone, x.body, x.encoding, x.segments, CASE WHEN t.skip IS NULL THEN 'pending' ELSE 'skipped' END, t.skip, 0, ")
        .bind(now)
        .push(", ")
        .bind(now)
        .push(", ")
        .bind(now)
        .push(", CASE WHEN t.skip IS NULL THEN NULL ELSE ")
        .bind(now)
        .push(" END FROM send_audience t JOIN send_texts x ON x.rn = t.rn LEFT JOIN send_codes k ON k.k = t.code_k ORDER BY t.rn");
    txn.execute(q.statement()).await.map_err(internal)?;
    if let Some(c) = &ctx.campaign {
        let mut q = Sql::new(backend);
        q.push("INSERT INTO publications (voucher_id, campaign_id, customer_id, source_id, token, published_at, expires_at) \
                SELECT k.voucher_id, ")
            .bind(c.id.clone())
            .push(", t.customer_id, x.source_id, x.token, ")
            .bind(now)
            .push(", ")
            .bind(expires_at)
            .push(" FROM send_audience t JOIN send_codes k ON k.k = t.code_k JOIN send_texts x ON x.rn = t.rn");
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
        .bind(needed as i64)
        .push(", segments_total = ")
        .bind(segments_total as i64)
        .push(" WHERE id = ")
        .bind(row.id.clone());
    txn.execute(q.statement()).await.map_err(internal)?;
    if backend != DbBackend::Postgres {
        drop_staging(txn).await?;
    }
    Ok(SendOutcome {
        audience,
        queued,
        exclusions,
        codes_published: needed,
        segments_total,
        replayed: false,
    })
}
