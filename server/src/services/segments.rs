//! Segments and their membership.
//!
//! Membership is stored (`segment_members`) and kept current: customer writes and events
//! re-check the auto-update segments for the customers they touched, in the same transaction;
//! saving a rule re-checks everyone; rules with an event window are re-checked on a timer
//! because time alone moves customers in and out. A segment's count is therefore an index
//! count, and `entered_at` marks the moment an automatic distribution will react to.

use super::rule_sql::Sql;
use crate::{
    db::segments,
    ids::{new_id, now_millis},
};
use app::{
    domain::segment_rule::Rule,
    dto::{
        segment::{AUTO_UPDATE, STATIC},
        CustomerSegment, SegmentInput, SegmentMember, SegmentView,
    },
    error::AppError,
    ports::{Page, Segments},
};
use async_trait::async_trait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set,
};
use std::{collections::BTreeMap, sync::Arc, time::Duration};

const NAME_MAX_CHARS: usize = 255;
/// Most customers given when creating or adding to a static segment in one call.
pub const MAX_STATIC_BATCH: usize = 10_000;

pub struct SegmentService {
    db: DatabaseConnection,
}

impl SegmentService {
    pub fn new(db: DatabaseConnection) -> Arc<Self> {
        Arc::new(Self { db })
    }

    /// Re-checks segments whose rules have event windows, every `every`, until the runtime
    /// stops. Errors are logged and retried on the next tick.
    pub fn spawn_refresher(self: &Arc<Self>, every: Duration) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = this.refresh_time_relative().await {
                    tracing::warn!(error = %e, "refreshing time-relative segments failed");
                }
            }
        });
    }

    pub async fn refresh_time_relative(&self) -> Result<(), DbErr> {
        let rows = segments::Entity::find().all(&self.db).await?;
        for s in rows.into_iter().filter(|s| s.time_relative) {
            let Some(rule) = s.rule() else { continue };
            let now = now_millis();
            let txn = crate::db::begin(&self.db).await?;
            reconcile(&txn, &s.id, &rule, None, now).await?;
            segments::Entity::update(segments::ActiveModel {
                id: Set(s.id.clone()),
                refreshed_at: Set(now),
                ..Default::default()
            })
            .exec(&txn)
            .await?;
            txn.commit().await?;
        }
        Ok(())
    }

    async fn find(&self, id: &str) -> Result<segments::Model, AppError> {
        segments::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await
            .map_err(internal)?
            .ok_or_else(|| AppError::not_found(format!("No segment has the id {id:?}.")))
    }

    async fn view(&self, m: segments::Model) -> Result<SegmentView, AppError> {
        let count = member_count(&self.db, &m.id).await.map_err(internal)?;
        Ok(to_view(m, count))
    }

    /// Resolves ids or source ids; unknown ones are a field error naming them.
    async fn resolve_customers(
        &self,
        db: &impl ConnectionTrait,
        given: &[String],
    ) -> Result<Vec<String>, AppError> {
        if given.len() > MAX_STATIC_BATCH {
            return Err(AppError::validation(
                "customers",
                format!("Give at most {MAX_STATIC_BATCH} customers per call."),
            ));
        }
        let mut found = Vec::with_capacity(given.len());
        let mut unknown = Vec::new();
        for chunk in given.chunks(500) {
            let mut q = Sql::new(db.get_database_backend());
            q.push("SELECT id, source_id FROM customers WHERE id IN (");
            list(&mut q, chunk);
            q.push(") OR source_id IN (");
            list(&mut q, chunk);
            q.push(")");
            let rows = db.query_all(q.statement()).await.map_err(internal)?;
            let mut by_key = BTreeMap::new();
            for r in rows {
                let id: String = r.try_get("", "id").map_err(internal)?;
                let source: Option<String> = r.try_get("", "source_id").map_err(internal)?;
                if let Some(s) = source {
                    by_key.insert(s, id.clone());
                }
                by_key.insert(id.clone(), id);
            }
            for g in chunk {
                match by_key.get(g.trim()) {
                    Some(id) => found.push(id.clone()),
                    None => unknown.push(g.clone()),
                }
            }
        }
        if !unknown.is_empty() {
            let shown: Vec<_> = unknown.iter().take(10).map(|u| format!("{u:?}")).collect();
            return Err(AppError::validation(
                "customers",
                format!(
                    "{} unknown customer{}: {}{}",
                    unknown.len(),
                    if unknown.len() == 1 { "" } else { "s" },
                    shown.join(", "),
                    if unknown.len() > 10 { ", …" } else { "" }
                ),
            ));
        }
        found.sort();
        found.dedup();
        Ok(found)
    }
}

fn list(q: &mut Sql, items: &[String]) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(item.trim().to_owned());
    }
}

fn check_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS {
        return Err(AppError::validation(
            "name",
            format!("Name the segment (1 to {NAME_MAX_CHARS} characters)."),
        ));
    }
    Ok(name.to_owned())
}

/// A rule from JSON, with its errors as a field error on `filter` (path included).
pub fn parse_filter(v: &serde_json::Value) -> Result<Rule, AppError> {
    Rule::parse(v, "filter").map_err(|e| AppError::validation("filter", e.to_string()))
}

fn to_view(m: segments::Model, count: u64) -> SegmentView {
    let filter = m.rule();
    let description = match &filter {
        Some(r) => r.describe(),
        None => "picked by hand".into(),
    };
    SegmentView {
        id: m.id,
        name: m.name,
        kind: m.kind,
        filter,
        description,
        customers_count: count,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

async fn member_count(db: &impl ConnectionTrait, segment_id: &str) -> Result<u64, DbErr> {
    let mut q = Sql::new(db.get_database_backend());
    q.push("SELECT COUNT(*) AS n FROM segment_members WHERE segment_id = ")
        .bind(segment_id.to_owned())
        .push(" AND left_at IS NULL");
    let row = db.query_one(q.statement()).await?;
    Ok(row
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or(0) as u64)
}

/// Brings one segment's membership in line with its rule, for every customer or only for
/// `only`; answers with how many customers entered.
pub async fn reconcile(
    db: &impl ConnectionTrait,
    segment_id: &str,
    rule: &Rule,
    only: Option<&[String]>,
    now: i64,
) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let new_sql = || {
        let q = Sql::new(backend);
        if only.is_some() {
            q.probing()
        } else {
            q
        }
    };
    let matching = |q: &mut Sql| {
        q.push("SELECT c.id FROM customers c WHERE ")
            .rule(rule, now);
        if let Some(ids) = only {
            q.push(" AND c.id IN (");
            list(q, ids);
            q.push(")");
        }
    };
    let restrict = |q: &mut Sql| {
        if let Some(ids) = only {
            q.push(" AND customer_id IN (");
            list(q, ids);
            q.push(")");
        }
    };
    // Leave: current members that no longer match.
    let mut q = new_sql();
    q.push("UPDATE segment_members SET left_at = ")
        .bind(now)
        .push(" WHERE segment_id = ")
        .bind(segment_id.to_owned())
        .push(" AND left_at IS NULL");
    restrict(&mut q);
    q.push(" AND customer_id NOT IN (");
    matching(&mut q);
    q.push(")");
    db.execute(q.statement()).await?;
    // Re-enter: former members that match again.
    let mut q = new_sql();
    q.push("UPDATE segment_members SET entered_at = ")
        .bind(now)
        .push(", left_at = NULL WHERE segment_id = ")
        .bind(segment_id.to_owned())
        .push(" AND left_at IS NOT NULL");
    restrict(&mut q);
    q.push(" AND customer_id IN (");
    matching(&mut q);
    q.push(")");
    let reentered = db.execute(q.statement()).await?.rows_affected();
    // Enter: matches never seen before.
    let mut q = new_sql();
    q.push("INSERT INTO segment_members (segment_id, customer_id, entered_at) SELECT ")
        .bind(segment_id.to_owned())
        .push(", c.id, ")
        .bind(now)
        .push(" FROM customers c WHERE ")
        .rule(rule, now);
    if let Some(ids) = only {
        q.push(" AND c.id IN (");
        list(&mut q, ids);
        q.push(")");
    }
    q.push(" AND NOT EXISTS (SELECT 1 FROM segment_members m WHERE m.segment_id = ")
        .bind(segment_id.to_owned())
        .push(" AND m.customer_id = c.id)");
    let entered = db.execute(q.statement()).await?.rows_affected();
    Ok(reentered + entered)
}

/// Fills a segment that has no members yet with every customer its rule matches.
async fn fill_new(
    db: &impl ConnectionTrait,
    segment_id: &str,
    rule: &Rule,
    now: i64,
) -> Result<u64, DbErr> {
    let mut q = Sql::new(db.get_database_backend());
    q.push("INSERT INTO segment_members (segment_id, customer_id, entered_at) SELECT ")
        .bind(segment_id.to_owned())
        .push(", c.id, ")
        .bind(now)
        .push(" FROM customers c WHERE ")
        .rule(rule, now);
    Ok(db.execute(q.statement()).await?.rows_affected())
}

/// Re-checks every auto-update segment for the customers just written or who just acted.
/// Runs inside the caller's transaction.
pub async fn refresh_customers(
    db: &impl ConnectionTrait,
    customer_ids: &[String],
    now: i64,
) -> Result<(), DbErr> {
    if customer_ids.is_empty() {
        return Ok(());
    }
    let autos = segments::Entity::find()
        .filter(segments::Column::Kind.eq(AUTO_UPDATE))
        .all(db)
        .await?;
    for s in autos {
        if let Some(rule) = s.rule() {
            reconcile(db, &s.id, &rule, Some(customer_ids), now).await?;
        }
    }
    Ok(())
}

/// Makes the given customers current members of a static segment.
async fn enter_static(
    db: &impl ConnectionTrait,
    segment_id: &str,
    ids: &[String],
    now: i64,
) -> Result<u64, DbErr> {
    let mut entered = 0;
    for chunk in ids.chunks(500) {
        let backend = db.get_database_backend();
        let mut q = Sql::new(backend);
        q.push("UPDATE segment_members SET entered_at = ")
            .bind(now)
            .push(", left_at = NULL WHERE segment_id = ")
            .bind(segment_id.to_owned())
            .push(" AND left_at IS NOT NULL AND customer_id IN (");
        list(&mut q, chunk);
        q.push(")");
        entered += db.execute(q.statement()).await?.rows_affected();
        let mut q = Sql::new(backend);
        q.push("INSERT INTO segment_members (segment_id, customer_id, entered_at) SELECT ")
            .bind(segment_id.to_owned())
            .push(", c.id, ")
            .bind(now)
            .push(" FROM customers c WHERE c.id IN (");
        list(&mut q, chunk);
        q.push(") AND NOT EXISTS (SELECT 1 FROM segment_members m WHERE m.segment_id = ")
            .bind(segment_id.to_owned())
            .push(" AND m.customer_id = c.id)");
        entered += db.execute(q.statement()).await?.rows_affected();
    }
    Ok(entered)
}

#[async_trait]
impl Segments for SegmentService {
    async fn list(&self) -> Result<Vec<SegmentView>, AppError> {
        let rows = segments::Entity::find()
            .order_by_desc(segments::Column::Id)
            .all(&self.db)
            .await
            .map_err(internal)?;
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("SELECT segment_id, COUNT(*) AS n FROM segment_members WHERE left_at IS NULL GROUP BY segment_id");
        let counts: BTreeMap<String, i64> = self
            .db
            .query_all(q.statement())
            .await
            .map_err(internal)?
            .into_iter()
            .filter_map(|r| Some((r.try_get("", "segment_id").ok()?, r.try_get("", "n").ok()?)))
            .collect();
        Ok(rows
            .into_iter()
            .map(|m| {
                let n = counts.get(&m.id).copied().unwrap_or(0) as u64;
                to_view(m, n)
            })
            .collect())
    }

    async fn get(&self, id: &str) -> Result<SegmentView, AppError> {
        let m = self.find(id).await?;
        self.view(m).await
    }

    async fn create(&self, input: SegmentInput) -> Result<SegmentView, AppError> {
        let mut fields = BTreeMap::new();
        let name = check_name(&input.name)
            .map_err(|e| fields.extend(e.fields().cloned().unwrap_or_default()));
        let kind = input.kind.trim();
        let rule = match kind {
            AUTO_UPDATE => match &input.filter {
                Some(f) => match parse_filter(f) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        fields.extend(e.fields().cloned().unwrap_or_default());
                        None
                    }
                },
                None => {
                    fields.insert(
                        "filter".into(),
                        "An auto-update segment needs a rule (filter).".into(),
                    );
                    None
                }
            },
            STATIC => {
                if input.filter.is_some() {
                    fields.insert(
                        "filter".into(),
                        "A static segment has no rule; give customers instead.".into(),
                    );
                }
                None
            }
            _ => {
                fields.insert("type".into(), "Use static or auto-update.".into());
                None
            }
        };
        if !fields.is_empty() {
            return Err(AppError::validation_fields(fields));
        }
        let name = name.unwrap_or_default();
        let now = now_millis();
        let txn = crate::db::begin(&self.db).await.map_err(internal)?;
        let members = if kind == STATIC {
            self.resolve_customers(&txn, &input.customers).await?
        } else {
            Vec::new()
        };
        let model = segments::ActiveModel {
            id: Set(new_id("seg")),
            name: Set(name),
            kind: Set(kind.to_owned()),
            filter: Set(rule.as_ref().map(|r| r.to_value().to_string())),
            time_relative: Set(rule.as_ref().is_some_and(Rule::is_time_relative)),
            refreshed_at: Set(now),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(internal)?;
        match &rule {
            // A new segment has no members to re-check: one set-based insert fills it.
            Some(rule) => fill_new(&txn, &model.id, rule, now).await,
            None => enter_static(&txn, &model.id, &members, now).await,
        }
        .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        self.view(model).await
    }

    async fn update(
        &self,
        id: &str,
        name: &str,
        filter: Option<serde_json::Value>,
    ) -> Result<SegmentView, AppError> {
        let found = self.find(id).await?;
        let name = check_name(name)?;
        let rule = match (&found.kind[..], filter) {
            (AUTO_UPDATE, Some(f)) => Some(parse_filter(&f)?),
            (AUTO_UPDATE, None) => found.rule(),
            (_, Some(_)) => {
                return Err(AppError::validation(
                    "filter",
                    "A static segment has no rule.",
                ))
            }
            (_, None) => None,
        };
        let now = now_millis();
        let txn = crate::db::begin(&self.db).await.map_err(internal)?;
        let model = segments::ActiveModel {
            id: Set(found.id.clone()),
            name: Set(name),
            filter: Set(rule.as_ref().map(|r| r.to_value().to_string())),
            time_relative: Set(rule.as_ref().is_some_and(Rule::is_time_relative)),
            updated_at: Set(now),
            refreshed_at: Set(now),
            ..Default::default()
        }
        .update(&txn)
        .await
        .map_err(internal)?;
        if let Some(rule) = &rule {
            reconcile(&txn, &model.id, rule, None, now)
                .await
                .map_err(internal)?;
        }
        txn.commit().await.map_err(internal)?;
        self.view(model).await
    }

    async fn delete(&self, id: &str) -> Result<(), AppError> {
        let result = segments::Entity::delete_by_id(id.to_owned())
            .exec(&self.db)
            .await
            .map_err(internal)?;
        if result.rows_affected == 0 {
            return Err(AppError::not_found(format!(
                "No segment has the id {id:?}."
            )));
        }
        Ok(())
    }

    async fn count(&self, filter: &Rule) -> Result<u64, AppError> {
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("SELECT COUNT(*) AS n FROM customers c WHERE ")
            .rule(filter, now_millis());
        let row = self.db.query_one(q.statement()).await.map_err(internal)?;
        Ok(row
            .and_then(|r| r.try_get::<i64>("", "n").ok())
            .unwrap_or(0) as u64)
    }

    async fn members(&self, id: &str, page: Page) -> Result<(Vec<SegmentMember>, bool), AppError> {
        self.find(id).await?;
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("SELECT m.entered_at, c.* FROM segment_members m JOIN customers c ON c.id = m.customer_id WHERE m.segment_id = ")
            .bind(id.to_owned())
            .push(" AND m.left_at IS NULL");
        if let Some(after) = page.starting_after.filter(|a| !a.is_empty()) {
            q.push(" AND m.customer_id > ").bind(after);
        }
        q.push(" ORDER BY m.customer_id LIMIT ")
            .bind((page.limit + 1) as i64);
        let rows = self.db.query_all(q.statement()).await.map_err(internal)?;
        let has_more = rows.len() as u64 > page.limit;
        let mut members = Vec::with_capacity(rows.len());
        for r in rows.into_iter().take(page.limit as usize) {
            let entered_at: i64 = r.try_get("", "entered_at").map_err(internal)?;
            let customer =
                <crate::db::customers::Model as sea_orm::FromQueryResult>::from_query_result(
                    &r, "",
                )
                .map_err(internal)?;
            members.push(SegmentMember {
                customer: super::customers::view(customer),
                entered_at,
            });
        }
        Ok((members, has_more))
    }

    async fn add_members(&self, id: &str, customers: &[String]) -> Result<u64, AppError> {
        let found = self.find(id).await?;
        if found.kind != STATIC {
            return Err(AppError::conflict(
                "Members of an auto-update segment follow its rule; edit the rule instead.",
            ));
        }
        let txn = crate::db::begin(&self.db).await.map_err(internal)?;
        let ids = self.resolve_customers(&txn, customers).await?;
        let entered = enter_static(&txn, id, &ids, now_millis())
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(entered)
    }

    async fn remove_member(&self, id: &str, customer_id: &str) -> Result<(), AppError> {
        let found = self.find(id).await?;
        if found.kind != STATIC {
            return Err(AppError::conflict(
                "Members of an auto-update segment follow its rule; edit the rule instead.",
            ));
        }
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("UPDATE segment_members SET left_at = ")
            .bind(now_millis())
            .push(" WHERE segment_id = ")
            .bind(id.to_owned())
            .push(" AND customer_id = ")
            .bind(customer_id.to_owned())
            .push(" AND left_at IS NULL");
        let done = self.db.execute(q.statement()).await.map_err(internal)?;
        if done.rows_affected() == 0 {
            return Err(AppError::not_found("That customer is not in this segment."));
        }
        Ok(())
    }

    async fn of_customer(&self, customer_id: &str) -> Result<Vec<CustomerSegment>, AppError> {
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("SELECT s.id, s.name, m.entered_at, m.left_at FROM segment_members m JOIN segments s ON s.id = m.segment_id WHERE m.customer_id = ")
            .bind(customer_id.to_owned())
            .push(" ORDER BY m.left_at IS NOT NULL, s.name");
        let rows = self.db.query_all(q.statement()).await.map_err(internal)?;
        rows.into_iter()
            .map(|r| {
                Ok(CustomerSegment {
                    id: r.try_get("", "id")?,
                    name: r.try_get("", "name")?,
                    entered_at: r.try_get("", "entered_at")?,
                    left_at: r.try_get("", "left_at")?,
                })
            })
            .collect::<Result<_, DbErr>>()
            .map_err(internal)
    }
}

impl segments::Model {
    pub fn rule(&self) -> Option<Rule> {
        let text = self.filter.as_deref()?;
        let value = serde_json::from_str(text).ok()?;
        Rule::parse(&value, "filter").ok()
    }
}

fn internal(err: DbErr) -> AppError {
    AppError::internal(&err)
}
