//! Unique-code campaigns, publication (one code per customer), redemption, QR tokens and
//! cart-level promotion tiers.
//!
//! Uniqueness of codes is the database's job (`UNIQUE(code)` across all campaigns): the
//! generator draws codes from a CSPRNG and inserts them with "ignore duplicates", and
//! whatever a collision cost is drawn again. Publication claims the next free code with a
//! single conditional UPDATE and records the holder under `UNIQUE(campaign, customer)`, so
//! concurrent requests for one customer end with one code and the losers' claims roll back.

use super::{
    codes::generate_codes,
    rule_sql::{like_pattern, Sql},
    tokens::random_token,
};
use crate::{
    db::{self, campaigns, promotion_tiers},
    ids::{new_id, now_millis},
};
use app::{
    domain::{
        code_pattern::{CodeConfig, CodeSpec},
        template::qr_url,
    },
    dto::{
        CampaignInput, CampaignView, Discount, PromotionTierInput, PromotionTierView, Publication,
        VoucherPage, VoucherView,
    },
    error::AppError,
    ports::{Campaigns, Page},
};
use async_trait::async_trait;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    QueryOrder, QueryResult, Set,
};
use std::{collections::BTreeMap, collections::HashSet, sync::Arc};

/// Largest campaign accepted.
pub const MAX_VOUCHERS: u64 = 10_000_000;
/// Campaigns up to this size are generated before `create` answers; larger ones in the
/// background, with progress in `generated`.
pub const INLINE_GENERATION: u64 = 10_000;
/// Codes drawn per round and inserted per statement.
const ROUND: usize = 200_000;
const CHUNK: usize = 20_000;
/// QR tokens: 16 random bytes, URL-safe base64.
const TOKEN_BYTES: usize = 16;
const TOKEN_CHARS: usize = 22;

pub struct CampaignService {
    db: DatabaseConnection,
    public_url: String,
}

impl CampaignService {
    pub fn new(db: DatabaseConnection, public_url: String) -> Arc<Self> {
        Arc::new(Self { db, public_url })
    }

    /// Finishes generating campaigns a previous process left half done.
    pub fn resume_generation(self: &Arc<Self>) {
        let this = self.clone();
        tokio::spawn(async move {
            let pending = campaigns::Entity::find()
                .all(&this.db)
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|c| c.status == "generating");
            for c in pending {
                this.generate(&c.id).await;
            }
        });
    }

    async fn find(&self, id: &str) -> Result<campaigns::Model, AppError> {
        campaigns::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await
            .map_err(internal)?
            .ok_or_else(|| AppError::not_found(format!("No campaign has the id {id:?}.")))
    }

    /// Generates the missing codes of a campaign and marks it ready (or failed, with why).
    pub async fn generate(&self, id: &str) {
        if let Err(e) = self.fill(id).await {
            let (message, log) = match &e {
                AppError::Conflict { message } => (message.clone(), false),
                other => (
                    "Code generation failed; see the server log.".to_owned(),
                    matches!(other, AppError::Internal { .. }),
                ),
            };
            if log {
                tracing::error!(campaign = id, error = %e, "code generation failed");
            }
            let _ = campaigns::ActiveModel {
                id: Set(id.to_owned()),
                status: Set("failed".into()),
                failure: Set(Some(message)),
                updated_at: Set(now_millis()),
                ..Default::default()
            }
            .update(&self.db)
            .await;
        }
    }

    async fn fill(&self, id: &str) -> Result<(), AppError> {
        let c = self.find(id).await?;
        let config: CodeConfig = serde_json::from_str(&c.code_config)
            .map_err(|e| AppError::internal_msg(&format!("stored code config unreadable: {e}")))?;
        let spec = CodeSpec::parse(&config).map_err(|m| AppError::internal_msg(&m))?;
        let mut generated = c.generated_count.max(0) as u64;
        let target = c.vouchers_count.max(0) as u64;
        let mut fruitless = 0;
        while generated < target {
            let want = ((target - generated) as usize).min(ROUND);
            let mut codes = generate_codes(&spec, want, &HashSet::new());
            // Sorted keys land next to each other in the unique index: far fewer page writes.
            codes.sort_unstable();
            let mut inserted_round = 0;
            for chunk in codes.chunks(CHUNK) {
                let mut txn = crate::db::begin(&self.db).await.map_err(internal)?;
                // Collisions are rare: a plain insert is fastest, and only a chunk that hit
                // one goes again with "skip duplicates".
                let inserted = match insert_codes(&txn, id, chunk, false).await {
                    Ok(n) => n,
                    Err(e) if db::is_unique_violation(&e) => {
                        txn.rollback().await.map_err(internal)?;
                        txn = crate::db::begin(&self.db).await.map_err(internal)?;
                        insert_codes(&txn, id, chunk, true)
                            .await
                            .map_err(internal)?
                    }
                    Err(e) => return Err(internal(e)),
                };
                let mut q = Sql::new(txn.get_database_backend());
                q.push("UPDATE campaigns SET generated_count = generated_count + ")
                    .bind(inserted as i64)
                    .push(" WHERE id = ")
                    .bind(id.to_owned());
                txn.execute(q.statement()).await.map_err(internal)?;
                txn.commit().await.map_err(internal)?;
                inserted_round += inserted;
            }
            generated += inserted_round;
            if inserted_round == 0 {
                fruitless += 1;
                if fruitless >= 3 {
                    return Err(AppError::conflict(format!(
                        "The pattern ran out of unused codes after {generated} of {target}: \
                         other campaigns hold the rest. Use a longer pattern."
                    )));
                }
            }
        }
        campaigns::ActiveModel {
            id: Set(id.to_owned()),
            status: Set("ready".into()),
            updated_at: Set(now_millis()),
            ..Default::default()
        }
        .update(&self.db)
        .await
        .map_err(internal)?;
        Ok(())
    }

    fn view(&self, c: campaigns::Model) -> CampaignView {
        let config: serde_json::Value =
            serde_json::from_str(&c.code_config).unwrap_or(serde_json::Value::Null);
        let code_shape = serde_json::from_value::<CodeConfig>(config.clone())
            .ok()
            .map(|cfg| describe_shape(&cfg))
            .unwrap_or_default();
        CampaignView {
            id: c.id,
            name: c.name,
            discount: Discount {
                kind: c.discount_type,
                percent_off: c.percent_off,
                amount_off: c.amount_off,
            },
            code_shape,
            code_config: config,
            vouchers_count: c.vouchers_count.max(0) as u64,
            generated: c.generated_count.max(0) as u64,
            status: c.status,
            failure: c.failure,
            published: c.published_count.max(0) as u64,
            redeemed: c.redeemed_count.max(0) as u64,
            expiration_date: c.expiration_date,
            validity_hours: c.validity_hours.map(|h| h as u32),
            created_at: c.created_at,
        }
    }

    fn voucher(&self, r: &QueryResult, now: i64) -> Result<VoucherView, DbErr> {
        let published_at: Option<i64> = r.try_get("", "published_at")?;
        let redeemed_at: Option<i64> = r.try_get("", "redeemed_at")?;
        let expires_at: Option<i64> = r.try_get("", "expires_at")?;
        let campaign_expiry: Option<i64> = r.try_get("", "expiration_date")?;
        let token: Option<String> = r.try_get("", "token")?;
        let name: Option<String> = r.try_get("", "customer_name")?;
        let phone: Option<String> = r.try_get("", "customer_phone")?;
        let customer_id: Option<String> = r.try_get("", "customer_id")?;
        let expiry = expires_at.or(campaign_expiry);
        let state = if redeemed_at.is_some() {
            "redeemed"
        } else if expiry.is_some_and(|e| e < now) {
            "expired"
        } else if published_at.is_some() {
            "published"
        } else {
            "available"
        };
        let customer_label = customer_id.as_ref().map(|id| {
            let who = name.clone().unwrap_or_else(|| id.clone());
            match &phone {
                Some(p) => format!("{who} · {}", app::dto::customer::mask_phone(p)),
                None => who,
            }
        });
        Ok(VoucherView {
            code: r.try_get("", "code")?,
            campaign_id: r.try_get("", "campaign_id")?,
            state: state.into(),
            customer_id,
            customer_label,
            published_at,
            expires_at: expiry,
            redeemed_at,
            qr_url: token.map(|t| qr_url(&self.public_url, &t)),
        })
    }

    async fn customer_id(&self, id_or_source_id: &str) -> Result<String, AppError> {
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("SELECT id FROM customers WHERE id = ")
            .bind(id_or_source_id.to_owned())
            .push(" OR source_id = ")
            .bind(id_or_source_id.to_owned())
            .push(" ORDER BY CASE WHEN id = ")
            .bind(id_or_source_id.to_owned())
            .push(" THEN 0 ELSE 1 END LIMIT 1");
        let row = self.db.query_one(q.statement()).await.map_err(internal)?;
        row.and_then(|r| r.try_get::<String>("", "id").ok())
            .ok_or_else(|| {
                AppError::validation(
                    "customer",
                    format!("No customer has the id or source_id {id_or_source_id:?}."),
                )
            })
    }

    async fn existing_publication(
        &self,
        campaign_id: &str,
        customer_id: &str,
    ) -> Result<Option<Publication>, AppError> {
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("SELECT v.code, p.published_at, p.expires_at, p.token FROM publications p JOIN vouchers v ON v.id = p.voucher_id WHERE p.campaign_id = ")
            .bind(campaign_id.to_owned())
            .push(" AND p.customer_id = ")
            .bind(customer_id.to_owned());
        let Some(r) = self.db.query_one(q.statement()).await.map_err(internal)? else {
            return Ok(None);
        };
        let token: String = r.try_get("", "token").map_err(internal)?;
        Ok(Some(Publication {
            code: r.try_get("", "code").map_err(internal)?,
            campaign_id: campaign_id.to_owned(),
            customer_id: customer_id.to_owned(),
            published_at: r.try_get("", "published_at").map_err(internal)?,
            expires_at: r.try_get("", "expires_at").map_err(internal)?,
            qr_url: qr_url(&self.public_url, &token),
            created: false,
        }))
    }

    /// A uniformly drawn id between the campaign's first and last free code (0 when none is
    /// free); the claim then takes the first free code at or after it.
    async fn random_free_id(&self, campaign_id: &str) -> Result<i64, AppError> {
        let mark = published_through(&self.db, campaign_id)
            .await
            .map_err(internal)?;
        let first = free_codes(&self.db, campaign_id, mark, 1, Walk::Up)
            .await
            .map_err(internal)?;
        let last = free_codes(&self.db, campaign_id, i64::MAX, 1, Walk::Down)
            .await
            .map_err(internal)?;
        let (low, high) = match (first.first(), last.first()) {
            (Some(low), Some(high)) => (low.0, high.0),
            _ => return Ok(0),
        };
        if high <= low {
            return Ok(low);
        }
        Ok(rand::Rng::gen_range(&mut rand::thread_rng(), low..=high))
    }

    /// The code behind a QR token, or `None` for anything unknown or malformed.
    pub async fn code_for_token(&self, token: &str) -> Result<Option<String>, AppError> {
        let well_formed = token.len() == TOKEN_CHARS
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Ok(None);
        }
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("SELECT v.code FROM publications p JOIN vouchers v ON v.id = p.voucher_id WHERE p.token = ")
            .bind(token.to_owned());
        let row = self.db.query_one(q.statement()).await.map_err(internal)?;
        Ok(row.and_then(|r| r.try_get::<String>("", "code").ok()))
    }

    const VOUCHER_COLUMNS: &'static str = "v.id, v.code, v.campaign_id, p.published_at, v.redeemed_at, \
        p.customer_id, p.expires_at, p.token, k.expiration_date, c.name AS customer_name, c.phone AS customer_phone \
        FROM vouchers v JOIN campaigns k ON k.id = v.campaign_id \
        LEFT JOIN publications p ON p.voucher_id = v.id LEFT JOIN customers c ON c.id = p.customer_id";
}

/// Which way [`free_codes`] walks a campaign's codes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    /// Ids above the start, lowest first.
    Up,
    /// Ids below the start, highest first.
    Down,
}

/// Up to `n` free codes of a campaign as `(voucher id, code)`, walking its codes from voucher
/// id `from` (exclusive) in the given direction. A code is free when no publication holds it:
/// nothing else marks a code published (migration 9).
///
/// The codes are read in windows in the order of the campaign's index, each with whether a
/// publication holds it, and the held ones dropped here. Asked as a condition instead
/// (`WHERE NOT EXISTS …`), PostgreSQL has no estimate of how many codes are free and may
/// choose to read and sort every code of the campaign, or to merge against every
/// publication, for each window.
pub(crate) async fn free_codes(
    db: &impl ConnectionTrait,
    campaign_id: &str,
    from: i64,
    n: usize,
    walk: Walk,
) -> Result<Vec<(i64, String)>, DbErr> {
    let backend = db.get_database_backend();
    let (compare, order) = match walk {
        Walk::Up => (" AND v.id > ", " ORDER BY v.campaign_id, v.id LIMIT "),
        Walk::Down => (
            " AND v.id < ",
            " ORDER BY v.campaign_id DESC, v.id DESC LIMIT ",
        ),
    };
    let mut out = Vec::with_capacity(n);
    let mut cursor = from;
    let mut extra = 16usize;
    while out.len() < n {
        // Codes above a campaign's mark are rarely held (single publications, at random
        // places), so a window of what is still wanted is nearly always enough; where held
        // codes lie in a run, each further window is twice as wide.
        let window = (n - out.len()).max(extra);
        extra = (extra * 2).min(8192);
        let mut q = Sql::new(backend);
        q.push(&db::json_page(backend, "id, code, held", "id"))
            .push("SELECT v.id AS id, v.code AS code, (SELECT fp.voucher_id FROM publications fp WHERE fp.voucher_id = v.id) AS held \
                   FROM vouchers v WHERE v.campaign_id = ")
            .bind(campaign_id.to_owned())
            .push(compare)
            .bind(cursor)
            .push(order)
            .bind(window as i64)
            .push(") AS s");
        let mut rows: Vec<(i64, String, Option<i64>)> =
            db::fetch_json_page(db, q.statement()).await?;
        match walk {
            Walk::Up => rows.sort_unstable_by_key(|r| r.0),
            Walk::Down => rows.sort_unstable_by_key(|r| std::cmp::Reverse(r.0)),
        }
        let Some(last) = rows.last() else {
            break;
        };
        cursor = last.0;
        let read = rows.len();
        out.extend(
            rows.into_iter()
                .filter(|r| r.2.is_none())
                .map(|(id, code, _)| (id, code))
                .take(n - out.len()),
        );
        if read < window {
            break;
        }
    }
    Ok(out)
}

/// The id at or below which every code of the campaign is published (migration 9).
pub(crate) async fn published_through(
    db: &impl ConnectionTrait,
    campaign_id: &str,
) -> Result<i64, DbErr> {
    let mut q = Sql::new(db.get_database_backend());
    q.push("SELECT published_through FROM campaigns WHERE id = ")
        .bind(campaign_id.to_owned());
    Ok(db
        .query_one(q.statement())
        .await?
        .map(|r| r.try_get::<i64>("", "published_through"))
        .transpose()?
        .unwrap_or(0))
}

/// Inserts codes, skipping any that exist in any campaign; answers with how many went in.
async fn insert_codes(
    db: &impl ConnectionTrait,
    campaign_id: &str,
    codes: &[String],
    skip_duplicates: bool,
) -> Result<u64, DbErr> {
    let mut q = Sql::new(db.get_database_backend());
    if db.get_database_backend() == DbBackend::Postgres {
        // Codes never contain whitespace (the code shape forbids it), so one newline-joined
        // parameter carries the whole chunk.
        q.push("INSERT INTO vouchers (campaign_id, code) SELECT ")
            .bind(campaign_id.to_owned())
            .push(", unnest(string_to_array(")
            .bind(codes.join("\n"))
            .push(", E'\\n'))");
        if skip_duplicates {
            q.push(" ON CONFLICT (code) DO NOTHING");
        }
    } else {
        let json = serde_json::to_string(codes).unwrap_or_else(|_| "[]".into());
        q.push(if skip_duplicates {
            "INSERT OR IGNORE INTO vouchers (campaign_id, code) SELECT "
        } else {
            "INSERT INTO vouchers (campaign_id, code) SELECT "
        })
        .bind(campaign_id.to_owned())
        .push(", value FROM json_each(")
        .bind(json)
        .push(")");
    }
    Ok(db.execute(q.statement()).await?.rows_affected())
}

fn describe_shape(cfg: &CodeConfig) -> String {
    let shape = match (&cfg.pattern, cfg.length) {
        (Some(p), _) => format!(
            "{}{}{}",
            cfg.prefix.as_deref().unwrap_or_default(),
            p,
            cfg.postfix.as_deref().unwrap_or_default()
        ),
        (None, Some(n)) => format!(
            "{}{} × {}{}",
            cfg.prefix.as_deref().unwrap_or_default(),
            n,
            cfg.charset.as_deref().unwrap_or("alphanumeric"),
            cfg.postfix.as_deref().unwrap_or_default()
        ),
        _ => String::new(),
    };
    match CodeSpec::parse(cfg) {
        Ok(spec) => format!(
            "{shape} ({} possible)",
            app::dto::campaign::group_digits(spec.capacity())
        ),
        Err(_) => shape,
    }
}

/// Checks a discount; `prefix` names the field ("voucher.discount").
pub fn check_discount(
    d: &Discount,
    prefix: &str,
    fields: &mut BTreeMap<String, String>,
) -> (Option<f64>, Option<i64>) {
    match d.kind.as_str() {
        "PERCENT" => match d.percent_off {
            Some(p) if p.is_finite() && p > 0.0 && p <= 100.0 => (Some(p), None),
            _ => {
                fields.insert(
                    format!("{prefix}.percent_off"),
                    "Give a percentage above 0 and at most 100.".into(),
                );
                (None, None)
            }
        },
        "AMOUNT" => match d.amount_off {
            Some(a) if (1..=1_000_000_000_000).contains(&a) => (None, Some(a)),
            _ => {
                fields.insert(
                    format!("{prefix}.amount_off"),
                    "Give the amount in the currency's minor unit (1000 = 10.00), above 0.".into(),
                );
                (None, None)
            }
        },
        _ => {
            fields.insert(format!("{prefix}.type"), "Use PERCENT or AMOUNT.".into());
            (None, None)
        }
    }
}

fn check_text(
    value: &str,
    field: &str,
    max: usize,
    what: &str,
    fields: &mut BTreeMap<String, String>,
) -> String {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        fields.insert(field.into(), format!("{what} (1 to {max} characters)."));
    }
    v.to_owned()
}

#[async_trait]
impl Campaigns for CampaignService {
    async fn list(&self) -> Result<Vec<CampaignView>, AppError> {
        let rows = campaigns::Entity::find()
            .order_by_desc(campaigns::Column::Id)
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(|c| self.view(c)).collect())
    }

    async fn get(&self, id: &str) -> Result<CampaignView, AppError> {
        Ok(self.view(self.find(id).await?))
    }

    async fn create(&self, input: CampaignInput) -> Result<CampaignView, AppError> {
        let mut fields = BTreeMap::new();
        let name = check_text(&input.name, "name", 255, "Name the campaign", &mut fields);
        let (percent_off, amount_off) =
            check_discount(&input.discount, "voucher.discount", &mut fields);
        let config = match serde_json::from_value::<CodeConfig>(input.code_config.clone()) {
            Ok(c) => Some(c),
            Err(e) => {
                fields.insert(
                    "voucher.code_config".into(),
                    format!("Expected {{pattern}} or {{length, charset, prefix, postfix}}: {e}."),
                );
                None
            }
        };
        let count = input.vouchers_count;
        if count == 0 || count > MAX_VOUCHERS {
            fields.insert(
                "vouchers_count".into(),
                format!("Give a number of codes from 1 to {MAX_VOUCHERS}."),
            );
        }
        if let Some(cfg) = &config {
            match CodeSpec::parse(cfg) {
                Ok(spec) => {
                    if let Err(why) = spec.check_count(count) {
                        fields.insert("voucher.code_config".into(), why);
                    }
                }
                Err(why) => {
                    fields.insert("voucher.code_config".into(), why);
                }
            }
        }
        let now = now_millis();
        if input.expiration_date.is_some_and(|e| e <= now) {
            fields.insert(
                "expiration_date".into(),
                "The expiration date has passed; pick a later one.".into(),
            );
        }
        if input
            .validity_hours
            .is_some_and(|h| h == 0 || h > 24 * 365 * 10)
        {
            fields.insert(
                "validity_after_publication_hours".into(),
                "Give 1 to 87,600 hours.".into(),
            );
        }
        if !fields.is_empty() {
            return Err(AppError::validation_fields(fields));
        }
        let model = campaigns::ActiveModel {
            id: Set(new_id("camp")),
            name: Set(name),
            discount_type: Set(input.discount.kind.clone()),
            percent_off: Set(percent_off),
            amount_off: Set(amount_off),
            code_config: Set(serde_json::to_string(&config).unwrap_or_default()),
            vouchers_count: Set(count as i64),
            generated_count: Set(0),
            published_count: Set(0),
            redeemed_count: Set(0),
            status: Set("generating".into()),
            failure: Set(None),
            expiration_date: Set(input.expiration_date),
            validity_hours: Set(input.validity_hours.map(i64::from)),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&self.db)
        .await
        .map_err(internal)?;
        let id = model.id.clone();
        if count <= INLINE_GENERATION {
            self.generate(&id).await;
        } else {
            let this = CampaignService::new(self.db.clone(), self.public_url.clone());
            let spawned = id.clone();
            tokio::spawn(async move { this.generate(&spawned).await });
        }
        self.get(&id).await
    }

    async fn vouchers(
        &self,
        campaign_id: &str,
        query: &str,
        page: Page,
    ) -> Result<VoucherPage, AppError> {
        self.find(campaign_id).await?;
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("SELECT ")
            .push(Self::VOUCHER_COLUMNS)
            .push(" WHERE v.campaign_id = ")
            .bind(campaign_id.to_owned());
        if !query.trim().is_empty() {
            let pattern = like_pattern(query.trim(), true);
            q.push(" AND (lower(v.code) LIKE ")
                .bind(pattern.clone())
                .push(" ESCAPE '\\' OR lower(c.name) LIKE ")
                .bind(pattern.clone())
                .push(" ESCAPE '\\' OR c.phone LIKE ")
                .bind(pattern.clone())
                .push(" ESCAPE '\\' OR p.customer_id = ")
                .bind(query.trim().to_owned())
                .push(")");
        }
        if let Some(after) = page
            .starting_after
            .as_deref()
            .and_then(|a| a.parse::<i64>().ok())
        {
            q.push(" AND v.id > ").bind(after);
        }
        q.push(" ORDER BY v.id LIMIT ")
            .bind((page.limit + 1) as i64);
        let rows = self.db.query_all(q.statement()).await.map_err(internal)?;
        let has_more = rows.len() as u64 > page.limit;
        let now = now_millis();
        let items = rows
            .iter()
            .take(page.limit as usize)
            .map(|r| self.voucher(r, now))
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?;
        let next_after = rows
            .get(items.len().saturating_sub(1))
            .filter(|_| has_more)
            .and_then(|r| r.try_get::<i64>("", "id").ok())
            .map(|id| id.to_string());
        Ok(VoucherPage {
            items,
            has_more,
            next_after,
        })
    }

    async fn publish(
        &self,
        campaign_id: &str,
        customer: &str,
        source_id: Option<String>,
    ) -> Result<Publication, AppError> {
        let campaign = self.find(campaign_id).await?;
        let customer_id = self.customer_id(customer).await?;
        if let Some(existing) = self.existing_publication(campaign_id, &customer_id).await? {
            return Ok(existing);
        }
        let now = now_millis();
        if campaign.expiration_date.is_some_and(|e| e <= now) {
            return Err(AppError::conflict(
                "This campaign has expired; its codes can no longer be published.",
            ));
        }
        let expires_at = match (campaign.expiration_date, campaign.validity_hours) {
            (Some(e), Some(h)) => Some(e.min(now + h * 3_600_000)),
            (Some(e), None) => Some(e),
            (None, Some(h)) => Some(now + h * 3_600_000),
            (None, None) => None,
        };
        let backend = self.db.get_database_backend();
        for _ in 0..64 {
            // Codes are stored in sorted runs (fast to index), so handing out the lowest free id
            // would hand out codes in order and tell one holder where the others' codes are.
            // Each claim starts at a random free position instead.
            let start = self.random_free_id(campaign_id).await?;
            let txn = crate::db::begin(&self.db).await.map_err(internal)?;
            // The code is taken by its publication row (keyed by the voucher id): a
            // concurrent publisher of the same code fails on that key and tries another.
            // One that has not committed yet (a SEND of a million takes half a minute) would
            // keep the insert waiting until it does, so the wait is short and a code whose
            // key is being written elsewhere is passed over like a taken one.
            if backend == DbBackend::Postgres {
                txn.execute_unprepared("SET LOCAL lock_timeout = '200ms'")
                    .await
                    .map_err(internal)?;
            }
            let claimed = free_codes(&txn, campaign_id, start.saturating_sub(1), 1, Walk::Up)
                .await
                .map_err(internal)?
                .pop();
            let Some((voucher_id, code)) = claimed else {
                txn.rollback().await.map_err(internal)?;
                if let Some(existing) = self.existing_publication(campaign_id, &customer_id).await?
                {
                    return Ok(existing);
                }
                let c = self.find(campaign_id).await?;
                if c.published_count >= c.generated_count {
                    let more = if c.status == "generating" {
                        " More are being generated; try again in a moment."
                    } else {
                        ""
                    };
                    return Err(AppError::conflict(format!(
                        "All {} codes of this campaign are published.{more}",
                        c.generated_count
                    )));
                }
                continue;
            };
            let token = random_token(TOKEN_BYTES);
            let mut q = Sql::new(backend);
            q.push("INSERT INTO publications (voucher_id, campaign_id, customer_id, source_id, token, published_at, expires_at) VALUES (")
                .bind(voucher_id)
                .push(", ")
                .bind(campaign_id.to_owned())
                .push(", ")
                .bind(customer_id.clone())
                .push(", ")
                .bind(source_id.clone())
                .push(", ")
                .bind(token.clone())
                .push(", ")
                .bind(now)
                .push(", ")
                .bind(expires_at)
                .push(")");
            match txn.execute(q.statement()).await {
                Ok(_) => {}
                Err(e) if db::is_lock_timeout(&e) => {
                    txn.rollback().await.map_err(internal)?;
                    continue;
                }
                Err(e) if db::is_unique_violation(&e) => {
                    // Someone published to this customer first: theirs stands, ours rolls back.
                    txn.rollback().await.map_err(internal)?;
                    match self.existing_publication(campaign_id, &customer_id).await? {
                        Some(existing) => return Ok(existing),
                        None => continue,
                    }
                }
                Err(e) => return Err(internal(e)),
            }
            let mut q = Sql::new(backend);
            q.push("UPDATE campaigns SET published_count = published_count + 1 WHERE id = ")
                .bind(campaign_id.to_owned());
            txn.execute(q.statement()).await.map_err(internal)?;
            txn.commit().await.map_err(internal)?;
            return Ok(Publication {
                code,
                campaign_id: campaign_id.to_owned(),
                customer_id,
                published_at: now,
                expires_at,
                qr_url: qr_url(&self.public_url, &token),
                created: true,
            });
        }
        Err(AppError::conflict(
            "Too many publications are running at once; retry.",
        ))
    }

    async fn redeem(&self, code: &str, customer: Option<&str>) -> Result<VoucherView, AppError> {
        let code = code.trim();
        if code.is_empty() {
            return Err(AppError::validation("code", "Give the code to redeem."));
        }
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("SELECT ")
            .push(Self::VOUCHER_COLUMNS)
            .push(" WHERE v.code = ")
            .bind(code.to_owned());
        let now = now_millis();
        let row = self
            .db
            .query_one(q.statement())
            .await
            .map_err(internal)?
            .ok_or_else(|| AppError::not_found("No such code."))?;
        let voucher = self.voucher(&row, now).map_err(internal)?;
        let voucher_id: i64 = row.try_get("", "id").map_err(internal)?;
        match voucher.state.as_str() {
            "redeemed" => {
                return Err(AppError::conflict(format!(
                    "This code was already redeemed ({}).",
                    rfc3339(voucher.redeemed_at.unwrap_or_default())
                )))
            }
            "expired" => {
                return Err(AppError::conflict(format!(
                    "This code expired ({}).",
                    rfc3339(voucher.expires_at.unwrap_or_default())
                )))
            }
            "available" => {
                return Err(AppError::conflict(
                    "This code has not been published to anyone yet.",
                ))
            }
            _ => {}
        }
        let redeemer = match customer.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => {
                let id = self.customer_id(c).await?;
                if voucher.customer_id.as_deref() != Some(id.as_str()) {
                    return Err(AppError::conflict("This code belongs to another customer."));
                }
                Some(id)
            }
            None => voucher.customer_id.clone(),
        };
        let backend = self.db.get_database_backend();
        let txn = crate::db::begin(&self.db).await.map_err(internal)?;
        let mut q = Sql::new(backend);
        q.push("UPDATE vouchers SET redeemed_at = ")
            .bind(now)
            .push(", redeemed_by = ")
            .bind(redeemer)
            .push(" WHERE id = ")
            .bind(voucher_id)
            .push(" AND redeemed_at IS NULL");
        let done = txn.execute(q.statement()).await.map_err(internal)?;
        if done.rows_affected() == 0 {
            txn.rollback().await.map_err(internal)?;
            return Err(AppError::conflict("This code was already redeemed."));
        }
        let mut q = Sql::new(backend);
        q.push("UPDATE campaigns SET redeemed_count = redeemed_count + 1 WHERE id = ")
            .bind(voucher.campaign_id.clone());
        txn.execute(q.statement()).await.map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(VoucherView {
            state: "redeemed".into(),
            redeemed_at: Some(now),
            ..voucher
        })
    }

    async fn of_customer(&self, customer_id: &str) -> Result<Vec<VoucherView>, AppError> {
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("SELECT ")
            .push(Self::VOUCHER_COLUMNS)
            .push(" WHERE p.customer_id = ")
            .bind(customer_id.to_owned())
            .push(" ORDER BY p.published_at DESC LIMIT 100");
        let now = now_millis();
        let rows = self.db.query_all(q.statement()).await.map_err(internal)?;
        rows.iter()
            .map(|r| self.voucher(r, now))
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)
    }

    async fn promotion_tiers(&self) -> Result<Vec<PromotionTierView>, AppError> {
        let rows = promotion_tiers::Entity::find()
            .order_by_desc(promotion_tiers::Column::Id)
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(tier_view).collect())
    }

    async fn create_promotion_tier(
        &self,
        input: PromotionTierInput,
    ) -> Result<PromotionTierView, AppError> {
        let mut fields = BTreeMap::new();
        let name = check_text(&input.name, "name", 255, "Name the promotion", &mut fields);
        let banner = check_text(
            &input.banner,
            "banner",
            500,
            "Write the banner text customers see",
            &mut fields,
        );
        let (percent_off, amount_off) = check_discount(&input.discount, "discount", &mut fields);
        if input.cart_total_gte.is_some_and(|t| t < 0) {
            fields.insert(
                "condition.cart_total_gte".into(),
                "A cart total cannot be negative.".into(),
            );
        }
        if !fields.is_empty() {
            return Err(AppError::validation_fields(fields));
        }
        let model = promotion_tiers::ActiveModel {
            id: Set(new_id("promo")),
            name: Set(name),
            banner: Set(banner),
            discount_type: Set(input.discount.kind),
            percent_off: Set(percent_off),
            amount_off: Set(amount_off),
            cart_total_gte: Set(input.cart_total_gte),
            created_at: Set(now_millis()),
        }
        .insert(&self.db)
        .await
        .map_err(internal)?;
        Ok(tier_view(model))
    }
}

fn tier_view(m: promotion_tiers::Model) -> PromotionTierView {
    PromotionTierView {
        id: m.id,
        name: m.name,
        banner: m.banner,
        discount: Discount {
            kind: m.discount_type,
            percent_off: m.percent_off,
            amount_off: m.amount_off,
        },
        cart_total_gte: m.cart_total_gte,
        created_at: m.created_at,
    }
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn internal(err: DbErr) -> AppError {
    AppError::internal(&err)
}

#[cfg(test)]
mod tests {
    use app::dto::campaign::group_digits;

    #[test]
    fn capacities_read_with_separators() {
        assert_eq!(group_digits(10_000), "10,000");
        assert_eq!(group_digits(999), "999");
        assert!(group_digits(u128::MAX).starts_with("about 10^"));
    }
}
