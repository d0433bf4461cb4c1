//! Customers and their SMS consent ledger.

use super::{
    phone::{is_known_country, PhoneNumber},
    segments,
};
use crate::{
    db::{self, consent_changes, customers, events, instance_settings},
    ids::{new_id, now_millis},
};
use app::{
    domain::{consent::SmsConsent, EmailAddress},
    dto::{ConsentChange, CustomerInput, CustomerView, EventView},
    error::AppError,
    ports::{Customers, Page},
};
use async_trait::async_trait;
use sea_orm::{
    sea_query::{Expr, Func},
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// The country national phone numbers are read in until an admin sets another.
pub const DEFAULT_COUNTRY: &str = "US";
const DEFAULT_COUNTRY_KEY: &str = "default_country";
/// Longest source id, name, email and time zone accepted.
const FIELD_MAX_CHARS: usize = 255;
/// Largest metadata object, as JSON.
const METADATA_MAX_BYTES: usize = 16 * 1024;

pub struct CustomerService {
    db: DatabaseConnection,
    default_country: RwLock<Option<String>>,
}

impl CustomerService {
    pub fn new(db: DatabaseConnection) -> Arc<Self> {
        Arc::new(Self {
            db,
            default_country: RwLock::new(None),
        })
    }

    async fn stored_default_country(&self) -> Result<String, AppError> {
        if let Some(c) = self.default_country.read().ok().and_then(|c| c.clone()) {
            return Ok(c);
        }
        let stored = instance_settings::Entity::find_by_id(DEFAULT_COUNTRY_KEY)
            .one(&self.db)
            .await
            .map_err(internal)?
            .map_or_else(|| DEFAULT_COUNTRY.to_owned(), |s| s.value);
        if let Ok(mut c) = self.default_country.write() {
            *c = Some(stored.clone());
        }
        Ok(stored)
    }

    async fn store_default_country(&self, code: &str) -> Result<String, AppError> {
        let code = code.trim().to_ascii_uppercase();
        if !is_known_country(&code) {
            return Err(AppError::validation(
                "default_country",
                "Use a two-letter country code such as US, ES or GB.",
            ));
        }
        let existing = instance_settings::Entity::find_by_id(DEFAULT_COUNTRY_KEY)
            .one(&self.db)
            .await
            .map_err(internal)?;
        let model = instance_settings::ActiveModel {
            key: Set(DEFAULT_COUNTRY_KEY.into()),
            value: Set(code.clone()),
        };
        if existing.is_some() {
            model.update(&self.db).await
        } else {
            model.insert(&self.db).await
        }
        .map_err(internal)?;
        if let Ok(mut c) = self.default_country.write() {
            *c = Some(code.clone());
        }
        Ok(code)
    }

    /// Stores a batch of imported rows in one transaction and says, per row, whether it was
    /// created (`Ok(true)`), updated (`Ok(false)`) or rejected. Rows are checked before any
    /// write; should the batch still fail in the database, its rows are retried one by one so
    /// one bad row never costs the others.
    pub async fn import_batch(
        &self,
        rows: Vec<(u64, CustomerInput)>,
        actor: &str,
    ) -> Result<Vec<(u64, Result<bool, AppError>)>, AppError> {
        let country = self.stored_default_country().await?;
        let mut outcomes = Vec::with_capacity(rows.len());
        let mut valid = Vec::with_capacity(rows.len());
        for (row, input) in rows {
            match check(&input, &country) {
                Ok(checked) => valid.push((row, input, checked)),
                Err(e) => outcomes.push((row, Err(e))),
            }
        }
        let now = now_millis();
        let txn = crate::db::begin(&self.db).await.map_err(internal)?;
        let phones: Vec<String> = valid
            .iter()
            .filter_map(|(_, _, c)| c.phone.clone().flatten())
            .collect();
        let list = match NumberList::read(&txn, phones).await {
            Ok(list) => list,
            Err(e) => {
                let _ = txn.rollback().await;
                return Err(e);
            }
        };
        let mut batch = Vec::with_capacity(valid.len());
        let mut failed = false;
        let mut touched = Vec::with_capacity(valid.len());
        for (row, input, checked) in &valid {
            match upsert_in(&txn, input, checked.clone(), "import", actor, now, &list).await {
                Ok(Ok((model, created))) => {
                    touched.push(model.id);
                    batch.push((*row, Ok(created)));
                }
                // Refused before anything was written: the row's own outcome.
                Ok(Err(refused)) => batch.push((*row, Err(refused))),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if !failed {
            for ids in touched.chunks(500) {
                if let Err(e) = segments::refresh_customers(&txn, ids, now).await {
                    tracing::warn!(error = %e, "segment refresh failed during import");
                    failed = true;
                    break;
                }
            }
        }
        // The batch transaction ends here either way, before any retry opens its own.
        let committed = if failed {
            let _ = txn.rollback().await;
            false
        } else {
            txn.commit().await.is_ok()
        };
        if committed {
            outcomes.extend(batch);
        } else {
            for (row, input, _) in valid {
                let result = self
                    .upsert(input, "import", actor)
                    .await
                    .map(|(_, created)| created);
                outcomes.push((row, result));
            }
        }
        outcomes.sort_by_key(|(row, _)| *row);
        Ok(outcomes)
    }

    async fn find(
        &self,
        db: &impl ConnectionTrait,
        id_or_source_id: &str,
    ) -> Result<Option<customers::Model>, AppError> {
        let by_id = customers::Entity::find_by_id(id_or_source_id.to_owned())
            .one(db)
            .await
            .map_err(internal)?;
        if by_id.is_some() {
            return Ok(by_id);
        }
        customers::Entity::find()
            .filter(customers::Column::SourceId.eq(id_or_source_id))
            .one(db)
            .await
            .map_err(internal)
    }
}

impl CustomerService {
    /// Sets the SMS consent of every customer with this phone number (an inbound STOP or
    /// START), with a ledger entry each and segment membership re-checked; answers with how
    /// many changed. With `only_opted_out`, customers who had not opted out keep their
    /// consent (a YES re-subscribes, it grants nothing).
    pub async fn set_consent_by_phone(
        &self,
        phone: &str,
        consent: SmsConsent,
        only_opted_out: bool,
        source: &str,
        actor: &str,
    ) -> Result<u64, AppError> {
        let now = now_millis();
        let txn = crate::db::begin(&self.db).await.map_err(internal)?;
        let found = customers::Entity::find()
            .filter(customers::Column::Phone.eq(phone))
            .all(&txn)
            .await
            .map_err(internal)?;
        let mut changed = Vec::new();
        for c in found.into_iter().filter(|c| {
            c.sms_consent != consent.as_str()
                && (!only_opted_out || c.sms_consent == SmsConsent::OptedOut.as_str())
        }) {
            let mut active: customers::ActiveModel = c.into();
            active.sms_consent = Set(consent.as_str().to_owned());
            active.updated_at = Set(now);
            let model = active.update(&txn).await.map_err(internal)?;
            record_consent(&txn, &model, source, actor, now).await?;
            changed.push(model.id);
        }
        segments::refresh_customers(&txn, &changed, now)
            .await
            .map_err(internal)?;
        // The number itself is opted out, customers or not (see `keep_number_opt_out`).
        let backend = txn.get_database_backend();
        let mut q = super::rule_sql::Sql::new(backend);
        if consent == SmsConsent::OptedOut {
            q.push("INSERT INTO sms_opt_outs (phone, actor, created_at) VALUES (")
                .bind(phone.to_owned())
                .push(", ")
                .bind(actor.to_owned())
                .push(", ")
                .bind(now)
                .push(") ON CONFLICT (phone) DO NOTHING");
        } else {
            q.push("DELETE FROM sms_opt_outs WHERE phone = ")
                .bind(phone.to_owned());
        }
        txn.execute(q.statement()).await.map_err(internal)?;
        if consent == SmsConsent::OptedOut {
            // Nothing queued for them goes out any more.
            super::deliveries::skip_for_customers(&txn, &changed)
                .await
                .map_err(internal)?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(changed.len() as u64)
    }
}

/// Input checked field by field; `None` fields were absent and keep their stored values.
#[derive(Clone)]
struct Checked {
    name: Option<Option<String>>,
    email: Option<Option<String>>,
    phone: Option<Option<String>>,
    timezone: Option<Option<String>>,
    metadata: Option<Value>,
    consent: Option<SmsConsent>,
}

fn check(input: &CustomerInput, country: &str) -> Result<Checked, AppError> {
    let mut fields = BTreeMap::new();
    let text = |name: &str,
                v: &Option<String>,
                fields: &mut BTreeMap<String, String>|
     -> Option<Option<String>> {
        let v = v.as_ref()?;
        let t = v.trim();
        if t.chars().count() > FIELD_MAX_CHARS {
            fields.insert(
                name.into(),
                format!("Use at most {FIELD_MAX_CHARS} characters."),
            );
        }
        Some((!t.is_empty()).then(|| t.to_owned()))
    };
    if let Some(source_id) = &input.source_id {
        if source_id.trim().is_empty() || source_id.chars().count() > FIELD_MAX_CHARS {
            fields.insert(
                "source_id".into(),
                format!("A source id has 1 to {FIELD_MAX_CHARS} characters."),
            );
        }
    }
    let name = text("name", &input.name, &mut fields);
    let timezone = text("timezone", &input.timezone, &mut fields);
    let email = match text("email", &input.email, &mut fields) {
        Some(Some(e)) => match EmailAddress::parse(&e) {
            Ok(e) => Some(Some(e.as_str().to_owned())),
            Err(msg) => {
                fields.insert("email".into(), msg);
                None
            }
        },
        other => other,
    };
    let phone = match input.phone.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(p) => match PhoneNumber::parse(p, country) {
            Ok(p) => Some(Some(p.into_inner())),
            Err(msg) => {
                fields.insert("phone".into(), msg);
                None
            }
        },
    };
    let metadata = match &input.metadata {
        None => None,
        Some(m) => {
            let json = Value::Object(m.clone());
            if json.to_string().len() > METADATA_MAX_BYTES {
                fields.insert(
                    "metadata".into(),
                    format!(
                        "Metadata may take at most {} KiB as JSON.",
                        METADATA_MAX_BYTES / 1024
                    ),
                );
            }
            Some(json)
        }
    };
    let consent = match input.sms_consent.as_deref() {
        None => None,
        Some(c) => match SmsConsent::parse(c) {
            Ok(c) => Some(c),
            Err(msg) => {
                fields.insert("sms_consent".into(), msg);
                None
            }
        },
    };
    if !fields.is_empty() {
        return Err(AppError::validation_fields(fields));
    }
    Ok(Checked {
        name,
        email,
        phone,
        timezone,
        metadata,
        consent,
    })
}

#[async_trait]
impl Customers for CustomerService {
    async fn search(&self, query: &str, page: Page) -> Result<(Vec<CustomerView>, bool), AppError> {
        let mut select = customers::Entity::find()
            .order_by_asc(customers::Column::Id)
            .limit(page.limit + 1);
        let q = query.trim().to_lowercase();
        if !q.is_empty() {
            let pattern = super::rule_sql::like_pattern(&q, true);
            let like = |col: customers::Column| {
                Expr::expr(Func::lower(Expr::col(col)))
                    .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
            };
            select = select.filter(
                Condition::any()
                    .add(like(customers::Column::Name))
                    .add(like(customers::Column::Email))
                    .add(like(customers::Column::Phone))
                    .add(like(customers::Column::SourceId)),
            );
        }
        if let Some(after) = page.starting_after {
            select = select.filter(customers::Column::Id.gt(after));
        }
        let mut rows = select.all(&self.db).await.map_err(internal)?;
        let has_more = rows.len() as u64 > page.limit;
        rows.truncate(page.limit as usize);
        Ok((rows.into_iter().map(view).collect(), has_more))
    }

    async fn get(&self, id_or_source_id: &str) -> Result<CustomerView, AppError> {
        self.find(&self.db, id_or_source_id)
            .await?
            .map(view)
            .ok_or_else(|| {
                AppError::not_found(format!(
                    "No customer has the id or source_id {id_or_source_id:?}."
                ))
            })
    }

    async fn upsert(
        &self,
        input: CustomerInput,
        source: &str,
        actor: &str,
    ) -> Result<(CustomerView, bool), AppError> {
        let checked = check(&input, &self.stored_default_country().await?)?;
        let txn = crate::db::begin(&self.db).await.map_err(internal)?;
        let now = now_millis();
        let (model, created) =
            upsert_in(&txn, &input, checked, source, actor, now, &NumberList::Ask).await??;
        segments::refresh_customers(&txn, std::slice::from_ref(&model.id), now)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok((view(model), created))
    }

    async fn update(
        &self,
        id: &str,
        input: CustomerInput,
        source: &str,
        actor: &str,
    ) -> Result<CustomerView, AppError> {
        let checked = check(&input, &self.stored_default_country().await?)?;
        let now = now_millis();
        let txn = crate::db::begin(&self.db).await.map_err(internal)?;
        let found = customers::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or_else(|| AppError::not_found("No customer has that id."))?;
        let previous = found.sms_consent.clone();
        let source_id = input.source_id.as_deref().map(str::trim).map(str::to_owned);
        if refuses_opt_in(checked.consent, Some(previous.as_str()), source) {
            let phone = match &checked.phone {
                Some(p) => p.as_deref(),
                None => found.phone.as_deref(),
            };
            refuse_listed_number(&txn, phone, &NumberList::Ask).await??;
        }
        let model = apply_update(&txn, found, checked, source_id, now).await?;
        let (model, kept) = keep_number_opt_out(&txn, model, now, &NumberList::Ask).await?;
        if kept {
            record_consent(&txn, &model, "sms", NUMBER_OPTED_OUT, now).await?;
        } else if previous != model.sms_consent {
            record_consent(&txn, &model, source, actor, now).await?;
        }
        segments::refresh_customers(&txn, std::slice::from_ref(&model.id), now)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(view(model))
    }

    async fn track_event(
        &self,
        name: &str,
        customer: CustomerInput,
        metadata: Map<String, Value>,
        actor: &str,
    ) -> Result<(String, CustomerView), AppError> {
        let mut fields = BTreeMap::new();
        let name = name.trim();
        let name_ok = (1..=100).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !name_ok {
            fields.insert(
                "event".into(),
                "Name the event with 1 to 100 letters, digits, _ - or ., like cart_abandoned."
                    .into(),
            );
        }
        if customer
            .source_id
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
        {
            fields.insert(
                "customer.source_id".into(),
                "Give the customer's source_id, so the event finds (or creates) them.".into(),
            );
        }
        let metadata_json = Value::Object(metadata).to_string();
        if metadata_json.len() > METADATA_MAX_BYTES {
            fields.insert(
                "metadata".into(),
                format!(
                    "Event metadata may take at most {} KiB as JSON.",
                    METADATA_MAX_BYTES / 1024
                ),
            );
        }
        let checked =
            check(&customer, &self.stored_default_country().await?).map_err(|e| match e {
                AppError::ValidationFailed { fields: f, .. } => {
                    let mut all = fields.clone();
                    all.extend(f.into_iter().map(|(k, v)| (format!("customer.{k}"), v)));
                    AppError::validation_fields(all)
                }
                other => other,
            })?;
        if !fields.is_empty() {
            return Err(AppError::validation_fields(fields));
        }
        let now = now_millis();
        let txn = crate::db::begin(&self.db).await.map_err(internal)?;
        let (model, _) = upsert_in(
            &txn,
            &customer,
            checked,
            "event",
            actor,
            now,
            &NumberList::Ask,
        )
        .await??;
        let id = new_id("evt");
        events::ActiveModel {
            id: Set(id.clone()),
            customer_id: Set(model.id.clone()),
            name: Set(name.to_owned()),
            metadata: Set(metadata_json),
            created_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(internal)?;
        segments::refresh_customers(&txn, std::slice::from_ref(&model.id), now)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok((id, view(model)))
    }

    async fn recent_events(
        &self,
        customer_id: &str,
        limit: u64,
    ) -> Result<Vec<EventView>, AppError> {
        let rows = events::Entity::find()
            .filter(events::Column::CustomerId.eq(customer_id))
            .order_by_desc(events::Column::CreatedAt)
            .order_by_desc(events::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|e| EventView {
                metadata: serde_json::from_str(&e.metadata).unwrap_or_default(),
                id: e.id,
                name: e.name,
                at: e.created_at,
            })
            .collect())
    }

    async fn default_country(&self) -> Result<String, AppError> {
        self.stored_default_country().await
    }

    async fn set_default_country(&self, code: &str) -> Result<String, AppError> {
        self.store_default_country(code).await
    }

    async fn consent_history(&self, id: &str) -> Result<Vec<ConsentChange>, AppError> {
        let rows = consent_changes::Entity::find()
            .filter(consent_changes::Column::CustomerId.eq(id))
            .order_by_desc(consent_changes::Column::CreatedAt)
            .order_by_desc(consent_changes::Column::Id)
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|r| ConsentChange {
                state: SmsConsent::parse(&r.state).unwrap_or(SmsConsent::Unknown),
                source: r.source,
                actor: r.actor,
                at: r.created_at,
            })
            .collect())
    }

    async fn delete(&self, id: &str) -> Result<(), AppError> {
        // A deleted customer's codes stay published (never handed to anyone else); only the
        // link to them goes. Publications have no foreign key (SEND inserts them in bulk).
        let txn = crate::db::begin(&self.db).await.map_err(internal)?;
        let mut q = super::rule_sql::Sql::new(txn.get_database_backend());
        q.push("UPDATE publications SET customer_id = NULL WHERE customer_id = ")
            .bind(id.to_owned());
        txn.execute(q.statement()).await.map_err(internal)?;
        let result = customers::Entity::delete_by_id(id.to_owned())
            .exec(&txn)
            .await
            .map_err(internal)?;
        if result.rows_affected == 0 {
            return Err(AppError::not_found("No customer has that id."));
        }
        txn.commit().await.map_err(internal)?;
        Ok(())
    }
}

/// Creates or updates (by source id) inside the caller's transaction; `true` when created.
/// The inner error is a refusal made before anything was written (the transaction goes on);
/// the outer one leaves the transaction to be rolled back.
async fn upsert_in(
    db: &impl ConnectionTrait,
    input: &CustomerInput,
    checked: Checked,
    source: &str,
    actor: &str,
    now: i64,
    list: &NumberList,
) -> Result<Result<(customers::Model, bool), AppError>, AppError> {
    let source_id = input.source_id.as_deref().map(str::trim).map(str::to_owned);
    let requested = checked.consent;
    let existing = match &source_id {
        Some(s) => customers::Entity::find()
            .filter(customers::Column::SourceId.eq(s.as_str()))
            .one(db)
            .await
            .map_err(internal)?,
        None => None,
    };
    let previous_consent = existing.as_ref().map(|c| c.sms_consent.clone());
    if refuses_opt_in(requested, previous_consent.as_deref(), source) {
        let phone = match &checked.phone {
            Some(p) => p.as_deref(),
            None => existing.as_ref().and_then(|c| c.phone.as_deref()),
        };
        if let Err(refused) = refuse_listed_number(db, phone, list).await? {
            return Ok(Err(refused));
        }
    }
    let (model, created) = match existing {
        Some(found) => {
            let updated = apply_update(db, found, checked, None, now).await?;
            (updated, false)
        }
        None => {
            let model = customers::ActiveModel {
                id: Set(new_id("cust")),
                source_id: Set(source_id.clone()),
                name: Set(checked.name.flatten()),
                email: Set(checked.email.flatten()),
                phone: Set(checked.phone.flatten()),
                timezone: Set(checked.timezone.flatten()),
                metadata: Set(checked
                    .metadata
                    .unwrap_or_else(|| Value::Object(Map::new()))),
                sms_consent: Set(checked
                    .consent
                    .unwrap_or(SmsConsent::Unknown)
                    .as_str()
                    .to_owned()),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(db)
            .await
            .map_err(|e| {
                if db::is_unique_violation(&e) {
                    // Another request created the same source id a moment ago.
                    AppError::conflict(
                        "A customer with this source_id was created at the same moment; retry.",
                    )
                } else {
                    internal(e)
                }
            })?;
            (model, true)
        }
    };
    let (model, kept) = keep_number_opt_out(db, model, now, list).await?;
    if kept {
        record_consent(db, &model, "sms", NUMBER_OPTED_OUT, now).await?;
    } else if previous_consent.as_deref() != Some(model.sms_consent.as_str())
        && !(created && model.sms_consent == SmsConsent::Unknown.as_str())
    {
        record_consent(db, &model, source, actor, now).await?;
    }
    Ok(Ok((model, created)))
}

/// The ledger's actor when a customer is opted out because their number replied STOP.
const NUMBER_OPTED_OUT: &str = "Their number replied STOP earlier";

/// Where `keep_number_opt_out` learns whether a number replied STOP: a query each time, or,
/// for an import batch, one query for all the numbers of the batch.
enum NumberList {
    Ask,
    Known {
        asked: std::collections::HashSet<String>,
        listed: std::collections::HashMap<String, i64>,
    },
}

impl NumberList {
    async fn read(db: &impl ConnectionTrait, phones: Vec<String>) -> Result<Self, AppError> {
        let mut listed = std::collections::HashMap::new();
        for chunk in phones.chunks(500) {
            let mut q = super::rule_sql::Sql::new(db.get_database_backend());
            q.push("SELECT phone, created_at FROM sms_opt_outs WHERE phone IN (");
            for (i, phone) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(phone.clone());
            }
            q.push(")");
            for row in db.query_all(q.statement()).await.map_err(internal)? {
                listed.insert(
                    row.try_get("", "phone").map_err(internal)?,
                    row.try_get("", "created_at").map_err(internal)?,
                );
            }
        }
        Ok(Self::Known {
            asked: phones.into_iter().collect(),
            listed,
        })
    }

    /// When the number replied STOP, if it did.
    async fn since(&self, db: &impl ConnectionTrait, phone: &str) -> Result<Option<i64>, AppError> {
        if let Self::Known { asked, listed } = self {
            if asked.contains(phone) {
                return Ok(listed.get(phone).copied());
            }
        }
        let mut q = super::rule_sql::Sql::new(db.get_database_backend());
        q.push("SELECT created_at FROM sms_opt_outs WHERE phone = ")
            .bind(phone.to_owned());
        db.query_one(q.statement())
            .await
            .map_err(internal)?
            .map(|row| row.try_get("", "created_at").map_err(internal))
            .transpose()
    }
}

/// Whether asking to opt in a customer whose number replied STOP is refused with a field
/// error, or the opt-out is simply kept.
///
/// Someone changing consent by hand (the API, the customers page, an import) learns why it
/// did not take. An event is a fact that happened and is recorded whatever its customer
/// fields say, and a request that repeats the customer's stored "opted in" (a shop syncing
/// whole records) changes nothing by hand: both keep the opt-out, with its ledger entry.
fn refuses_opt_in(requested: Option<SmsConsent>, previous: Option<&str>, source: &str) -> bool {
    requested == Some(SmsConsent::OptedIn)
        && previous != Some(SmsConsent::OptedIn.as_str())
        && source != "event"
}

/// Refuses, as a field error, to opt in a customer filed under a number that replied STOP
/// (and not START since): only the number's owner opts it back in, by replying START.
/// The inner error is the refusal; called before anything is written, so a refused row of an
/// import costs the others nothing.
async fn refuse_listed_number(
    db: &impl ConnectionTrait,
    phone: Option<&str>,
    list: &NumberList,
) -> Result<Result<(), AppError>, AppError> {
    let Some(phone) = phone.filter(|p| !p.is_empty()) else {
        return Ok(Ok(()));
    };
    let Some(since) = list.since(db, phone).await? else {
        return Ok(Ok(()));
    };
    let day = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(since)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    Ok(Err(AppError::validation(
        "sms_consent",
        format!(
            "{phone} replied STOP on {day}. Only a START sent from that number opts it in again."
        ),
    )))
}

/// A customer whose number replied STOP (and not START since) stays opted out, whatever the
/// input said; `true` says they were just opted out and a ledger entry is due.
async fn keep_number_opt_out(
    db: &impl ConnectionTrait,
    model: customers::Model,
    now: i64,
    list: &NumberList,
) -> Result<(customers::Model, bool), AppError> {
    let Some(phone) = model.phone.clone().filter(|p| !p.is_empty()) else {
        return Ok((model, false));
    };
    if model.sms_consent == SmsConsent::OptedOut.as_str() {
        return Ok((model, false));
    }
    if list.since(db, &phone).await?.is_none() {
        return Ok((model, false));
    }
    let mut active: customers::ActiveModel = model.into();
    active.sms_consent = Set(SmsConsent::OptedOut.as_str().to_owned());
    active.updated_at = Set(now);
    let model = active.update(db).await.map_err(internal)?;
    Ok((model, true))
}

/// Writes the present fields of `checked` (and a new source id, when given) over `found`.
async fn apply_update(
    db: &impl ConnectionTrait,
    found: customers::Model,
    checked: Checked,
    source_id: Option<String>,
    now: i64,
) -> Result<customers::Model, AppError> {
    let mut active: customers::ActiveModel = found.into();
    if let Some(v) = source_id {
        active.source_id = Set(Some(v));
    }
    if let Some(v) = checked.name {
        active.name = Set(v);
    }
    if let Some(v) = checked.email {
        active.email = Set(v);
    }
    if let Some(v) = checked.phone {
        active.phone = Set(v);
    }
    if let Some(v) = checked.timezone {
        active.timezone = Set(v);
    }
    if let Some(v) = checked.metadata {
        active.metadata = Set(v);
    }
    if let Some(c) = checked.consent {
        active.sms_consent = Set(c.as_str().to_owned());
    }
    active.updated_at = Set(now);
    active.update(db).await.map_err(|e| {
        if db::is_unique_violation(&e) {
            AppError::validation("source_id", "Another customer has this source id.")
        } else {
            internal(e)
        }
    })
}

async fn record_consent(
    db: &impl ConnectionTrait,
    model: &customers::Model,
    source: &str,
    actor: &str,
    now: i64,
) -> Result<(), AppError> {
    consent_changes::ActiveModel {
        id: Set(new_id("cons")),
        customer_id: Set(model.id.clone()),
        state: Set(model.sms_consent.clone()),
        source: Set(source.to_owned()),
        actor: Set(Some(actor.to_owned())),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .map(|_| ())
    .map_err(internal)
}

pub(crate) fn view(m: customers::Model) -> CustomerView {
    let metadata = match m.metadata {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    CustomerView {
        id: m.id,
        source_id: m.source_id,
        name: m.name,
        email: m.email,
        phone: m.phone,
        timezone: m.timezone,
        metadata,
        sms_consent: SmsConsent::parse(&m.sms_consent).unwrap_or(SmsConsent::Unknown),
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn internal(err: DbErr) -> AppError {
    AppError::internal(&err)
}
