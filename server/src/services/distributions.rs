//! Distributions: drafts the wizard saves step by step, the pre-send review, SEND (in
//! `send.rs`), and the numbers of a sent distribution: progress, failures grouped by reason,
//! and the message log.

use super::{deliveries, rule_sql::Sql, send};
use crate::ids::{new_id, now_millis};
use app::{
    domain::template::Template,
    dto::{
        customer::mask_phone, Audience, DistributionInput, DistributionStats, DistributionView,
        Exclusions, FailureGroup, MessageLine, MessagePage, Reminder, ReviewReport, SendOutcome,
    },
    error::AppError,
    ports::{Distributions, Page},
};
use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, QueryResult, Value as DbValue};
use std::{collections::BTreeMap, sync::Arc};
use tokio::sync::Notify;

pub const PURPOSES: [&str; 3] = ["promotion", "unique_codes", "plain"];
/// The wizard's steps, in order.
pub const STEPS: [&str; 6] = [
    "purpose",
    "audience",
    "subject",
    "message",
    "reminders",
    "review",
];
const REMINDERS_MAX: usize = 3;

pub struct DistributionService {
    db: DatabaseConnection,
    public_url: String,
    /// Rung after a SEND, so the dispatcher starts at once.
    bell: Arc<Notify>,
}

pub(crate) const COLUMNS: &str = "id, name, mode, purpose, campaign_id, promotion_tier_id, audience_customer_id, audience_segment_id, \
    subject, channel, integration_id, template, smart_encoding, reminders, status, step, audience_count, queued_count, \
    skipped_opted_out, skipped_no_phone, skipped_invalid_phone, skipped_duplicate, codes_published, segments_total, \
    created_at, updated_at, sent_at, completed_at";

/// A distribution row as stored.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub id: String,
    pub name: String,
    pub mode: String,
    pub purpose: String,
    pub campaign_id: Option<String>,
    pub promotion_tier_id: Option<String>,
    pub audience_customer_id: Option<String>,
    pub audience_segment_id: Option<String>,
    pub subject: String,
    pub channel: String,
    pub integration_id: Option<String>,
    pub template: String,
    pub smart_encoding: bool,
    pub reminders: Vec<Reminder>,
    pub status: String,
    pub step: String,
    pub audience_count: Option<i64>,
    pub queued_count: Option<i64>,
    pub skipped: [Option<i64>; 4],
    pub codes_published: Option<i64>,
    pub segments_total: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub sent_at: Option<i64>,
    pub completed_at: Option<i64>,
}

impl Row {
    pub(crate) fn from(r: &QueryResult) -> Result<Self, DbErr> {
        let reminders: String = r.try_get("", "reminders")?;
        Ok(Self {
            id: r.try_get("", "id")?,
            name: r.try_get("", "name")?,
            mode: r.try_get("", "mode")?,
            purpose: r.try_get("", "purpose")?,
            campaign_id: r.try_get("", "campaign_id")?,
            promotion_tier_id: r.try_get("", "promotion_tier_id")?,
            audience_customer_id: r.try_get("", "audience_customer_id")?,
            audience_segment_id: r.try_get("", "audience_segment_id")?,
            subject: r.try_get("", "subject")?,
            channel: r.try_get("", "channel")?,
            integration_id: r.try_get("", "integration_id")?,
            template: r.try_get("", "template")?,
            smart_encoding: r.try_get("", "smart_encoding")?,
            reminders: serde_json::from_str(&reminders).unwrap_or_default(),
            status: r.try_get("", "status")?,
            step: r.try_get("", "step")?,
            audience_count: r.try_get("", "audience_count")?,
            queued_count: r.try_get("", "queued_count")?,
            skipped: [
                r.try_get("", "skipped_opted_out")?,
                r.try_get("", "skipped_no_phone")?,
                r.try_get("", "skipped_invalid_phone")?,
                r.try_get("", "skipped_duplicate")?,
            ],
            codes_published: r.try_get("", "codes_published")?,
            segments_total: r.try_get("", "segments_total")?,
            created_at: r.try_get("", "created_at")?,
            updated_at: r.try_get("", "updated_at")?,
            sent_at: r.try_get("", "sent_at")?,
            completed_at: r.try_get("", "completed_at")?,
        })
    }

    pub fn audience(&self) -> Option<Audience> {
        match (&self.audience_customer_id, &self.audience_segment_id) {
            (Some(c), _) => Some(Audience::Customer(c.clone())),
            (None, Some(s)) => Some(Audience::Segment(s.clone())),
            (None, None) => None,
        }
    }
}

fn internal(err: DbErr) -> AppError {
    AppError::internal(&err)
}

fn not_found(id: &str) -> AppError {
    AppError::not_found(format!("No distribution has the id {id:?}."))
}

#[async_trait]
impl Distributions for DistributionService {
    async fn list(
        &self,
        status: Option<String>,
        page: Page,
    ) -> Result<(Vec<DistributionView>, bool), AppError> {
        let limit = page.limit.clamp(1, 500);
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("SELECT ")
            .push(COLUMNS)
            .push(" FROM distributions WHERE 1 = 1");
        if let Some(s) = status.filter(|s| !s.is_empty()) {
            q.push(" AND status = ").bind(s);
        }
        if let Some(after) = page.starting_after.filter(|a| !a.is_empty()) {
            // Newest first: the page continues with what was created before that one.
            let before = self.find(&after).await.map_err(|_| {
                AppError::validation(
                    "starting_after",
                    format!("No distribution has the id {after:?}."),
                )
            })?;
            q.push(" AND (created_at < ")
                .bind(before.created_at)
                .push(" OR (created_at = ")
                .bind(before.created_at)
                .push(" AND id < ")
                .bind(before.id)
                .push("))");
        }
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .bind(limit as i64 + 1);
        let rows = self.db.query_all(q.statement()).await.map_err(internal)?;
        let more = rows.len() as u64 > limit;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows.iter().take(limit as usize) {
            let row = Row::from(r).map_err(internal)?;
            out.push(self.view(row, false).await?);
        }
        Ok((out, more))
    }

    async fn get(&self, id: &str) -> Result<DistributionView, AppError> {
        let row = self.find(id).await?;
        self.view(row, true).await
    }

    async fn status(&self, id: &str) -> Result<String, AppError> {
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("SELECT status FROM distributions WHERE id = ")
            .bind(id.to_owned());
        self.db
            .query_one(q.statement())
            .await
            .map_err(internal)?
            .ok_or_else(|| not_found(id))?
            .try_get("", "status")
            .map_err(internal)
    }

    async fn create(&self, input: DistributionInput) -> Result<DistributionView, AppError> {
        let now = now_millis();
        // The default integration is preselected.
        let default_integration: Option<String> = self
            .db
            .query_one(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                "SELECT id FROM sms_integrations WHERE is_default = TRUE AND enabled = TRUE LIMIT 1",
            ))
            .await
            .map_err(internal)?
            .map(|r| r.try_get("", "id"))
            .transpose()
            .map_err(internal)?;
        let row = Row {
            id: new_id("dist"),
            name: "Untitled distribution".into(),
            mode: "manual".into(),
            purpose: "unique_codes".into(),
            campaign_id: None,
            promotion_tier_id: None,
            audience_customer_id: None,
            audience_segment_id: None,
            subject: String::new(),
            channel: "sms".into(),
            integration_id: default_integration,
            template: String::new(),
            smart_encoding: false,
            reminders: Vec::new(),
            status: "draft".into(),
            step: "purpose".into(),
            audience_count: None,
            queued_count: None,
            skipped: [None; 4],
            codes_published: None,
            segments_total: None,
            created_at: now,
            updated_at: now,
            sent_at: None,
            completed_at: None,
        };
        let row = self.apply(row, &input).await?;
        self.insert(&row).await?;
        self.get(&row.id).await
    }

    async fn update(
        &self,
        id: &str,
        input: DistributionInput,
    ) -> Result<DistributionView, AppError> {
        let row = self.find(id).await?;
        if row.status != "draft" {
            return Err(AppError::conflict(
                "This distribution was sent; duplicate it to send it again with changes.",
            ));
        }
        let mut row = self.apply(row, &input).await?;
        row.updated_at = now_millis();
        self.save(&row).await?;
        self.get(id).await
    }

    async fn delete(&self, id: &str) -> Result<(), AppError> {
        let row = self.find(id).await?;
        if row.status != "draft" {
            return Err(AppError::conflict(
                "Only drafts can be deleted; a sent distribution keeps its report.",
            ));
        }
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("DELETE FROM distributions WHERE status = 'draft' AND id = ")
            .bind(id.to_owned());
        self.db.execute(q.statement()).await.map_err(internal)?;
        Ok(())
    }

    async fn duplicate(&self, id: &str) -> Result<DistributionView, AppError> {
        let source = self.find(id).await?;
        let now = now_millis();
        let copy = Row {
            id: new_id("dist"),
            name: format!("Copy of {}", source.name)
                .chars()
                .take(255)
                .collect(),
            status: "draft".into(),
            step: "review".into(),
            audience_count: None,
            queued_count: None,
            skipped: [None; 4],
            codes_published: None,
            segments_total: None,
            created_at: now,
            updated_at: now,
            sent_at: None,
            completed_at: None,
            ..source
        };
        self.insert(&copy).await?;
        self.get(&copy.id).await
    }

    async fn review(&self, id: &str) -> Result<ReviewReport, AppError> {
        let row = self.find(id).await?;
        send::review(&self.db, &self.public_url, &row).await
    }

    async fn send(&self, id: &str, key: &str) -> Result<SendOutcome, AppError> {
        let key = key.trim();
        if key.is_empty() || key.len() > 128 {
            return Err(AppError::validation(
                "send_key",
                "Open the review again: the send key is missing or malformed.",
            ));
        }
        let row = self.find(id).await?;
        let outcome = send::send(&self.db, &self.public_url, &row, key).await?;
        if !outcome.replayed {
            self.bell.notify_one();
        }
        Ok(outcome)
    }

    async fn failures(&self, id: &str) -> Result<Vec<FailureGroup>, AppError> {
        self.find(id).await?;
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("SELECT status, COALESCE(error_code, skip_reason) AS code, MIN(COALESCE(error_message, '')) AS message, COUNT(*) AS n \
                FROM deliveries WHERE distribution_id = ")
            .bind(id.to_owned())
            .push(" AND status IN ('failed', 'undelivered', 'skipped', 'unknown') GROUP BY status, COALESCE(error_code, skip_reason) ORDER BY n DESC LIMIT 50");
        let rows = self.db.query_all(q.statement()).await.map_err(internal)?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("", "status")?;
                let code: Option<String> = r.try_get("", "code")?;
                let message: String = r.try_get("", "message")?;
                Ok(FailureGroup {
                    message: if status == "skipped" {
                        skip_text(code.as_deref().unwrap_or_default()).to_owned()
                    } else {
                        message
                    },
                    status,
                    code,
                    count: r.try_get::<i64>("", "n")?.max(0) as u64,
                })
            })
            .collect::<Result<_, DbErr>>()
            .map_err(internal)
    }

    async fn messages(
        &self,
        id: &str,
        search: &str,
        status: Option<String>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<MessagePage, AppError> {
        self.find(id).await?;
        let limit = limit.clamp(1, 500);
        let mut q = Sql::new(self.db.get_database_backend());
        Self::message_query(&mut q, id, search, status, after);
        q.push(" ORDER BY d.id LIMIT ").bind(i64::from(limit) + 1);
        let rows = self.db.query_all(q.statement()).await.map_err(internal)?;
        let mut items = rows
            .iter()
            .map(message_line)
            .collect::<Result<Vec<_>, DbErr>>()
            .map_err(internal)?;
        let next_after = (items.len() > limit as usize).then(|| {
            items.truncate(limit as usize);
            items.last().map(|m| m.id).unwrap_or_default()
        });
        Ok(MessagePage { items, next_after })
    }
}

/// What a skip reason means, in words.
pub fn skip_text(reason: &str) -> &'static str {
    match reason {
        "opted_out" => "Opted out of SMS",
        "no_phone" => "No phone number",
        "invalid_phone" => "Invalid phone number",
        "duplicate" => "Phone number shared with another recipient",
        _ => "Skipped",
    }
}

fn message_line(r: &QueryResult) -> Result<MessageLine, DbErr> {
    let recipient: String = r.try_get("", "recipient")?;
    let code: Option<String> = r.try_get("", "error_code")?;
    let message: Option<String> = r.try_get("", "error_message")?;
    let skip: Option<String> = r.try_get("", "skip_reason")?;
    let error = match (skip.as_deref(), code, message) {
        (Some(reason), _, _) => Some(skip_text(reason).to_owned()),
        (None, Some(c), Some(m)) => Some(format!("{c}: {m}")),
        (None, None, Some(m)) => Some(m),
        (None, Some(c), None) => Some(c),
        (None, None, None) => None,
    };
    Ok(MessageLine {
        id: r.try_get("", "id")?,
        customer_id: r.try_get("", "customer_id")?,
        customer_name: r.try_get("", "customer_name")?,
        to: if recipient.is_empty() {
            "—".into()
        } else {
            mask_phone(&recipient)
        },
        text: r.try_get("", "body")?,
        status: r.try_get("", "status")?,
        skip_reason: skip,
        segments: r
            .try_get::<Option<i32>>("", "provider_segments")?
            .unwrap_or(r.try_get::<i32>("", "segments")?)
            .max(0) as u32,
        provider_id: r.try_get("", "provider_id")?,
        error,
        updated_at: r.try_get("", "updated_at")?,
    })
}

impl DistributionService {
    pub fn new(db: DatabaseConnection, public_url: String, bell: Arc<Notify>) -> Arc<Self> {
        Arc::new(Self {
            db,
            public_url,
            bell,
        })
    }

    pub(crate) async fn find(&self, id: &str) -> Result<Row, AppError> {
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("SELECT ")
            .push(COLUMNS)
            .push(" FROM distributions WHERE id = ")
            .bind(id.to_owned());
        let row = self
            .db
            .query_one(q.statement())
            .await
            .map_err(internal)?
            .ok_or_else(|| not_found(id))?;
        Row::from(&row).map_err(internal)
    }

    fn message_query(
        q: &mut Sql,
        id: &str,
        search: &str,
        status: Option<String>,
        after: Option<i64>,
    ) {
        q.push("SELECT d.id, d.customer_id, c.name AS customer_name, d.recipient, d.body, d.status, d.skip_reason, d.segments, \
                d.provider_segments, d.provider_id, d.error_code, d.error_message, d.updated_at \
                FROM deliveries d LEFT JOIN customers c ON c.id = d.customer_id WHERE d.distribution_id = ")
            .bind(id.to_owned());
        if let Some(s) = status.filter(|s| !s.is_empty()) {
            match s.as_str() {
                "failed" => q.push(" AND d.status IN ('failed', 'undelivered')"),
                "queued" => q.push(" AND d.status = 'pending'"),
                _ => q.push(" AND d.status = ").bind(s),
            };
        }
        let search = search.trim();
        if !search.is_empty() {
            let like = super::rule_sql::like_pattern(search, true);
            q.push(" AND (LOWER(COALESCE(c.name, '')) LIKE ")
                .bind(like.clone())
                .push(" ESCAPE '\\' OR d.recipient LIKE ")
                .bind(like.clone())
                .push(" ESCAPE '\\' OR LOWER(d.body) LIKE ")
                .bind(like)
                .push(" ESCAPE '\\')");
        }
        if let Some(after) = after {
            q.push(" AND d.id > ").bind(after);
        }
    }

    /// The messages of a distribution as CSV (numbers masked), searched and filtered like the
    /// report's log: a header, then 5,000 lines at a time, each read as the client takes the
    /// last, so a million messages never sit in memory at once.
    pub async fn messages_csv(
        &self,
        id: &str,
        search: &str,
        status: Option<String>,
    ) -> Result<impl futures::Stream<Item = Result<String, AppError>> + Send + 'static, AppError>
    {
        use futures::StreamExt;
        const PAGE: usize = 5000;
        let d = self.find(id).await?;
        let db = self.db.clone();
        let (id, search) = (d.id, search.to_owned());
        let header = futures::stream::once(async {
            Ok("id,customer_id,customer_name,to,status,segments,provider_id,error,text,updated_at\n"
                .to_owned())
        });
        let lines = futures::stream::try_unfold(Some(None), move |after: Option<Option<i64>>| {
            let (db, id, search, status) = (db.clone(), id.clone(), search.clone(), status.clone());
            async move {
                let Some(after) = after else {
                    return Ok(None);
                };
                let mut q = Sql::new(db.get_database_backend());
                Self::message_query(&mut q, &id, &search, status, after);
                q.push(" ORDER BY d.id LIMIT ").push(&PAGE.to_string());
                let rows = db.query_all(q.statement()).await.map_err(internal)?;
                let mut out = String::new();
                let mut last = after;
                for r in &rows {
                    let m = message_line(r).map_err(internal)?;
                    last = Some(m.id);
                    let fields = [
                        // The id the JSON API gives the message.
                        crate::ids::message_id(m.id),
                        m.customer_id.unwrap_or_default(),
                        m.customer_name.unwrap_or_default(),
                        m.to,
                        m.status,
                        m.segments.to_string(),
                        m.provider_id.unwrap_or_default(),
                        m.error.unwrap_or_default(),
                        m.text,
                        crate::http::api_keys::rfc3339(m.updated_at),
                    ];
                    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                    out.push_str(&line.join(","));
                    out.push('\n');
                }
                if rows.is_empty() {
                    return Ok(None);
                }
                let next = (rows.len() == PAGE).then_some(last);
                Ok(Some((out, next)))
            }
        });
        Ok(header.chain(lines))
    }

    /// Checks the given fields and applies them to the draft.
    async fn apply(&self, mut row: Row, input: &DistributionInput) -> Result<Row, AppError> {
        let mut fields = BTreeMap::new();
        if let Some(name) = &input.name {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 255 {
                fields.insert(
                    "name".into(),
                    "Name the distribution (1 to 255 characters).".into(),
                );
            } else {
                row.name = name.to_owned();
            }
        }
        if let Some(mode) = &input.mode {
            match mode.trim() {
                "manual" => row.mode = "manual".into(),
                "automatic" => {
                    fields.insert(
                        "mode".into(),
                        "Automatic distributions (SET LIVE) are not available yet; choose manual."
                            .into(),
                    );
                }
                _ => {
                    fields.insert("mode".into(), "Use manual.".into());
                }
            }
        }
        if let Some(purpose) = &input.purpose {
            if PURPOSES.contains(&purpose.trim()) {
                row.purpose = purpose.trim().to_owned();
            } else {
                fields.insert(
                    "purpose".into(),
                    "Choose promotion, unique_codes or plain.".into(),
                );
            }
        }
        let backend = self.db.get_database_backend();
        let exists = |table: &'static str, id: String| {
            let db = self.db.clone();
            async move {
                let mut q = Sql::new(backend);
                q.push("SELECT id FROM ")
                    .push(table)
                    .push(" WHERE id = ")
                    .bind(id);
                db.query_one(q.statement()).await.map(|r| r.is_some())
            }
        };
        if let Some(c) = &input.campaign_id {
            let c = c.trim();
            if c.is_empty() {
                row.campaign_id = None;
            } else if exists("campaigns", c.to_owned()).await.map_err(internal)? {
                row.campaign_id = Some(c.to_owned());
            } else {
                fields.insert(
                    "campaign_id".into(),
                    format!("No campaign has the id {c:?}."),
                );
            }
        }
        if let Some(t) = &input.promotion_tier_id {
            let t = t.trim();
            if t.is_empty() {
                row.promotion_tier_id = None;
            } else if exists("promotion_tiers", t.to_owned())
                .await
                .map_err(internal)?
            {
                row.promotion_tier_id = Some(t.to_owned());
            } else {
                fields.insert(
                    "promotion_tier_id".into(),
                    format!("No promotion tier has the id {t:?}."),
                );
            }
        }
        match &input.audience {
            Some(Audience::Customer(c)) => {
                let c = c.trim();
                if exists("customers", c.to_owned()).await.map_err(internal)? {
                    row.audience_customer_id = Some(c.to_owned());
                    row.audience_segment_id = None;
                } else {
                    fields.insert("audience".into(), "Choose a customer that exists.".into());
                }
            }
            Some(Audience::Segment(s)) => {
                let s = s.trim();
                if exists("segments", s.to_owned()).await.map_err(internal)? {
                    row.audience_segment_id = Some(s.to_owned());
                    row.audience_customer_id = None;
                } else {
                    fields.insert("audience".into(), "Choose a segment that exists.".into());
                }
            }
            None => {}
        }
        if let Some(subject) = &input.subject {
            if subject.trim().chars().count() > 255 {
                fields.insert(
                    "subject".into(),
                    "Keep the subject to 255 characters.".into(),
                );
            } else {
                row.subject = subject.trim().to_owned();
            }
        }
        if let Some(channel) = &input.channel {
            if channel.trim() == "sms" {
                row.channel = "sms".into();
            } else {
                fields.insert("channel".into(), "SMS is the only channel.".into());
            }
        }
        if let Some(i) = &input.integration_id {
            let i = i.trim();
            let mut q = Sql::new(backend);
            q.push("SELECT enabled FROM sms_integrations WHERE id = ")
                .bind(i.to_owned());
            match self.db.query_one(q.statement()).await.map_err(internal)? {
                Some(r) if r.try_get::<bool>("", "enabled").map_err(internal)? => {
                    row.integration_id = Some(i.to_owned())
                }
                Some(_) => {
                    fields.insert(
                        "integration_id".into(),
                        "This integration is disabled; choose an enabled one.".into(),
                    );
                }
                None => {
                    fields.insert("integration_id".into(), "Choose an SMS integration.".into());
                }
            }
        }
        if let Some(template) = &input.template {
            if template.chars().count() > 4000 {
                fields.insert(
                    "template".into(),
                    "Keep the template under 4,000 characters.".into(),
                );
            } else {
                match Template::parse(template) {
                    Ok(t) => {
                        let unknown = t.unknown_tags();
                        if let Some(u) = unknown.first() {
                            fields.insert(
                                "template".into(),
                                format!(
                                    "Line {}, column {}: no message can fill {{{{ {} }}}}.",
                                    u.line, u.column, u.name
                                ),
                            );
                        } else {
                            row.template = template.clone();
                        }
                    }
                    Err(errors) => {
                        fields.insert(
                            "template".into(),
                            errors.first().map(ToString::to_string).unwrap_or_default(),
                        );
                    }
                }
            }
        }
        if let Some(smart) = input.smart_encoding {
            row.smart_encoding = smart;
        }
        if let Some(reminders) = &input.reminders {
            if reminders.len() > REMINDERS_MAX {
                fields.insert(
                    "reminders".into(),
                    format!("At most {REMINDERS_MAX} reminders."),
                );
            }
            for (i, r) in reminders.iter().enumerate() {
                if !(1..=720).contains(&r.after_hours) {
                    fields.insert(
                        format!("reminders[{i}].after_hours"),
                        "Give 1 to 720 hours.".into(),
                    );
                }
                match Template::parse(&r.template) {
                    Ok(t) if r.template.trim().is_empty() => {
                        let _ = t;
                        fields.insert(
                            format!("reminders[{i}].template"),
                            "Write the reminder's text.".into(),
                        );
                    }
                    Ok(t) => {
                        if let Some(u) = t.unknown_tags().first() {
                            fields.insert(
                                format!("reminders[{i}].template"),
                                format!("No message can fill {{{{ {} }}}}.", u.name),
                            );
                        }
                    }
                    Err(errors) => {
                        fields.insert(
                            format!("reminders[{i}].template"),
                            errors.first().map(ToString::to_string).unwrap_or_default(),
                        );
                    }
                }
            }
            if !fields.keys().any(|k| k.starts_with("reminders")) {
                row.reminders = reminders.clone();
            }
        }
        if let Some(step) = &input.step {
            if let Some(pos) = STEPS.iter().position(|s| s == step) {
                let current = STEPS.iter().position(|s| *s == row.step).unwrap_or(0);
                // The furthest step reached: the next one after the step just completed.
                let next = (pos + 1).min(STEPS.len() - 1);
                if next > current {
                    row.step = STEPS[next].to_owned();
                }
            }
        }
        if fields.is_empty() {
            Ok(row)
        } else {
            Err(AppError::validation_fields(fields))
        }
    }

    fn bind_row(q: &mut Sql, r: &Row) {
        let values: Vec<DbValue> = vec![
            r.name.clone().into(),
            r.mode.clone().into(),
            r.purpose.clone().into(),
            r.campaign_id.clone().into(),
            r.promotion_tier_id.clone().into(),
            r.audience_customer_id.clone().into(),
            r.audience_segment_id.clone().into(),
            r.subject.clone().into(),
            r.channel.clone().into(),
            r.integration_id.clone().into(),
            r.template.clone().into(),
            r.smart_encoding.into(),
            serde_json::to_string(&r.reminders)
                .unwrap_or_else(|_| "[]".into())
                .into(),
            r.status.clone().into(),
            r.step.clone().into(),
            r.updated_at.into(),
        ];
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(v);
        }
    }

    async fn insert(&self, r: &Row) -> Result<(), AppError> {
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("INSERT INTO distributions (name, mode, purpose, campaign_id, promotion_tier_id, audience_customer_id, \
                audience_segment_id, subject, channel, integration_id, template, smart_encoding, reminders, status, step, \
                updated_at, id, created_at) VALUES (");
        Self::bind_row(&mut q, r);
        q.push(", ")
            .bind(r.id.clone())
            .push(", ")
            .bind(r.created_at)
            .push(")");
        self.db.execute(q.statement()).await.map_err(internal)?;
        Ok(())
    }

    async fn save(&self, r: &Row) -> Result<(), AppError> {
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("UPDATE distributions SET (name, mode, purpose, campaign_id, promotion_tier_id, audience_customer_id, \
                audience_segment_id, subject, channel, integration_id, template, smart_encoding, reminders, status, step, \
                updated_at) = (");
        Self::bind_row(&mut q, r);
        q.push(") WHERE status = 'draft' AND id = ")
            .bind(r.id.clone());
        let done = self.db.execute(q.statement()).await.map_err(internal)?;
        if done.rows_affected() == 0 {
            return Err(AppError::conflict(
                "This distribution was sent meanwhile; its draft can no longer change.",
            ));
        }
        Ok(())
    }

    /// Names for the view, and the numbers once sent.
    async fn view(&self, row: Row, with_redeemed: bool) -> Result<DistributionView, AppError> {
        let backend = self.db.get_database_backend();
        let name_of = |table: &'static str, id: Option<String>| {
            let db = self.db.clone();
            async move {
                let Some(id) = id else { return Ok(None) };
                let mut q = Sql::new(backend);
                q.push("SELECT name FROM ")
                    .push(table)
                    .push(" WHERE id = ")
                    .bind(id);
                db.query_one(q.statement())
                    .await?
                    .map(|r| r.try_get::<Option<String>>("", "name"))
                    .transpose()
                    .map(Option::flatten)
            }
        };
        let campaign_name = name_of("campaigns", row.campaign_id.clone())
            .await
            .map_err(internal)?;
        let promotion_tier_name = name_of("promotion_tiers", row.promotion_tier_id.clone())
            .await
            .map_err(internal)?;
        let integration_name = name_of("sms_integrations", row.integration_id.clone())
            .await
            .map_err(internal)?;
        let audience_label = match row.audience() {
            Some(Audience::Customer(c)) => {
                let mut q = Sql::new(backend);
                q.push("SELECT name, phone, source_id FROM customers WHERE id = ")
                    .bind(c.clone());
                match self.db.query_one(q.statement()).await.map_err(internal)? {
                    Some(r) => {
                        let name: Option<String> = r.try_get("", "name").map_err(internal)?;
                        let phone: Option<String> = r.try_get("", "phone").map_err(internal)?;
                        let source: Option<String> =
                            r.try_get("", "source_id").map_err(internal)?;
                        Some(format!(
                            "{}{}",
                            name.or(source).unwrap_or(c),
                            phone
                                .map(|p| format!(" ({})", mask_phone(&p)))
                                .unwrap_or_default()
                        ))
                    }
                    None => Some("A deleted customer".into()),
                }
            }
            Some(Audience::Segment(s)) => Some(
                name_of("segments", Some(s))
                    .await
                    .map_err(internal)?
                    .unwrap_or_else(|| "A deleted segment".into()),
            ),
            None => None,
        };
        let stats = if row.status == "draft" {
            None
        } else {
            Some(self.stats(&row, with_redeemed).await.map_err(internal)?)
        };
        let mut status = row.status.clone();
        let mut completed_at = row.completed_at;
        if status == "sending" && stats.as_ref().is_some_and(|s| s.queued == 0) {
            // Everything left the queue: the SEND is done.
            let now = now_millis();
            let mut q = Sql::new(backend);
            q.push("UPDATE distributions SET status = 'sent', completed_at = ")
                .bind(now)
                .push(" WHERE status = 'sending' AND id = ")
                .bind(row.id.clone());
            self.db.execute(q.statement()).await.map_err(internal)?;
            status = "sent".into();
            completed_at = Some(now);
        }
        Ok(DistributionView {
            audience: row.audience(),
            id: row.id,
            name: row.name,
            mode: row.mode,
            purpose: row.purpose,
            campaign_id: row.campaign_id,
            campaign_name,
            promotion_tier_id: row.promotion_tier_id,
            promotion_tier_name,
            audience_label,
            subject: row.subject,
            channel: row.channel,
            integration_id: row.integration_id,
            integration_name,
            template: row.template,
            smart_encoding: row.smart_encoding,
            reminders: row.reminders,
            status,
            step: row.step,
            stats,
            created_at: row.created_at,
            updated_at: row.updated_at,
            sent_at: row.sent_at,
            completed_at,
        })
    }

    async fn stats(&self, row: &Row, with_redeemed: bool) -> Result<DistributionStats, DbErr> {
        let backend = self.db.get_database_backend();
        let mut q = Sql::new(backend);
        q.push("SELECT status, COUNT(*) AS n FROM deliveries WHERE distribution_id = ")
            .bind(row.id.clone())
            .push(" GROUP BY status");
        let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
        for r in self.db.query_all(q.statement()).await? {
            by_status.insert(
                r.try_get("", "status")?,
                r.try_get::<i64>("", "n")?.max(0) as u64,
            );
        }
        let n = |s: &str| by_status.get(s).copied().unwrap_or(0);
        let stored = |i: usize| row.skipped[i].unwrap_or(0).max(0) as u64;
        let at_send = stored(0) + stored(1) + stored(2) + stored(3);
        // Skips after the SEND are customers who opted out meanwhile.
        let later = n(deliveries::SKIPPED).saturating_sub(at_send);
        let redeemed = if with_redeemed && row.purpose == "unique_codes" {
            let mut q = Sql::new(backend);
            q.push("SELECT COUNT(*) AS n FROM deliveries d JOIN vouchers v ON v.id = d.voucher_id WHERE d.distribution_id = ")
                .bind(row.id.clone())
                .push(" AND v.redeemed_at IS NOT NULL");
            self.db
                .query_one(q.statement())
                .await?
                .map(|r| r.try_get::<i64>("", "n"))
                .transpose()?
                .unwrap_or(0)
                .max(0) as u64
        } else {
            0
        };
        Ok(DistributionStats {
            audience: row.audience_count.unwrap_or(0).max(0) as u64,
            queued: n(deliveries::PENDING),
            accepted: n(deliveries::ACCEPTED),
            sent: n(deliveries::SENT),
            delivered: n(deliveries::DELIVERED),
            failed: n(deliveries::FAILED) + n(deliveries::UNDELIVERED),
            unknown: n(deliveries::UNKNOWN),
            skipped: Exclusions {
                opted_out: stored(0) + later,
                no_phone: stored(1),
                invalid_phone: stored(2),
                duplicate: stored(3),
            },
            redeemed,
            segments_total: row.segments_total.unwrap_or(0).max(0) as u64,
            codes_published: row.codes_published.unwrap_or(0).max(0) as u64,
        })
    }
}

/// One CSV field, quoted when it must be, and defused against spreadsheet formulas.
/// One CSV field, quoted when needed. A field a spreadsheet would take for a formula (it
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading apostrophe,
/// except a masked phone number (`+346…678`), which no spreadsheet evaluates.
fn csv_field(value: &str) -> String {
    let mut v = value.to_owned();
    let phone = v.strip_prefix('+').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_digit() || c == '…' || c == ' ')
    });
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) && !phone {
        v.insert(0, '\'');
    }
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(super::csv_field("plain"), "plain");
        assert_eq!(super::csv_field("a, \"b\""), "\"a, \"\"b\"\"\"");
        assert_eq!(super::csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(super::csv_field("+346…678"), "+346…678");
        assert_eq!(
            super::csv_field("+HYPERLINK(\"x\")"),
            "\"'+HYPERLINK(\"\"x\"\")\""
        );
        assert_eq!(super::csv_field("-2+3"), "'-2+3");
        assert_eq!(super::csv_field("\tcmd"), "'\tcmd");
    }
}
