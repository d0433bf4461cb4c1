//! SMS integrations: which provider, which sender, how fast, and the credentials, whose
//! secret parts are sealed at rest and never leave the server again.

use super::deliveries::{self, NewDelivery};
use super::rule_sql::Sql;
use super::{phone::PhoneNumber, secret_box::SecretBox};
use crate::providers::{
    generic::{Generic, GuardedResolver},
    messagebird::{self, MessageBird},
    plivo::{self, Plivo},
    sandbox::Sandbox,
    telnyx::{self, Telnyx},
    twilio::{self, Twilio},
    vonage::{self, Vonage},
    SmsProvider,
};
use crate::{
    db::sms_integrations,
    ids::{new_id, now_millis},
};
use app::{
    domain::provider::{mask_secret, provider, ProviderSpec, PROVIDERS},
    dto::{DeliveryView, IntegrationInput, IntegrationView, SandboxMessage, TestSendResult},
    error::AppError,
    ports::Integrations,
};
use async_trait::async_trait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set,
};
use std::{collections::BTreeMap, sync::Arc};
use tokio::sync::Notify;

/// Pacing when none is given: one segment a second, what a US long code takes.
pub const DEFAULT_SEGMENTS_PER_SECOND: u32 = 1;
pub const MAX_SEGMENTS_PER_SECOND: u32 = 100_000;
/// The answer to an inbound HELP when the integration has no text of its own.
pub const DEFAULT_HELP_TEXT: &str =
    "You get offers by SMS from this shop. Reply STOP to unsubscribe, START to subscribe again.";
const HELP_TEXT_MAX: usize = 320;

pub struct IntegrationService {
    db: DatabaseConnection,
    secrets: SecretBox,
    http: reqwest::Client,
    /// Rung when a message is queued, so the dispatcher starts at once.
    bell: Arc<Notify>,
    /// Base of the webhook addresses shown to admins.
    public_url: String,
    /// For admin-given gateway URLs: resolves names only to public addresses unless private
    /// gateways are allowed.
    gateway_http: reqwest::Client,
    allow_private_gateways: bool,
}

type Credentials = BTreeMap<String, String>;

#[async_trait]
impl Integrations for IntegrationService {
    async fn list(&self) -> Result<Vec<IntegrationView>, AppError> {
        self.list_impl().await
    }
    async fn get(&self, id: &str) -> Result<IntegrationView, AppError> {
        self.get_impl(id).await
    }
    async fn create(&self, input: IntegrationInput) -> Result<IntegrationView, AppError> {
        self.create_impl(input).await
    }
    async fn update(&self, id: &str, input: IntegrationInput) -> Result<IntegrationView, AppError> {
        self.update_impl(id, input).await
    }
    async fn delete(&self, id: &str) -> Result<(), AppError> {
        self.delete_impl(id).await
    }
    async fn messages(
        &self,
        id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryView>, AppError> {
        self.find(id).await?;
        // Up to a page of 500 and one more, which says whether more follow.
        deliveries::recent(&self.db, id, before, limit.clamp(1, 501))
            .await
            .map_err(internal)
    }
    async fn sandbox_inbox(&self, id: &str, limit: u32) -> Result<Vec<SandboxMessage>, AppError> {
        self.find(id).await?;
        let mut q = Sql::new(self.db.get_database_backend());
        q.push("SELECT id, sender, recipient, body, segments, created_at FROM sandbox_messages WHERE integration_id = ")
            .bind(id.to_owned())
            .push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .bind(i64::from(limit.clamp(1, 200)));
        let rows = self.db.query_all(q.statement()).await.map_err(internal)?;
        rows.iter()
            .map(|r| {
                Ok(SandboxMessage {
                    id: r.try_get("", "id")?,
                    sender: r.try_get("", "sender")?,
                    to: r.try_get("", "recipient")?,
                    body: r.try_get("", "body")?,
                    segments: r.try_get::<i32>("", "segments")?.max(0) as u32,
                    created_at: r.try_get("", "created_at")?,
                })
            })
            .collect::<Result<_, DbErr>>()
            .map_err(internal)
    }
    async fn test_send(
        &self,
        id: &str,
        to: &str,
        body: &str,
        default_country: &str,
    ) -> Result<TestSendResult, AppError> {
        let mut fields = BTreeMap::new();
        let to = match PhoneNumber::parse(to, default_country) {
            Ok(p) => p.into_inner(),
            Err(msg) => {
                fields.insert("to".to_owned(), msg);
                String::new()
            }
        };
        let body = body.trim();
        if body.is_empty() || body.chars().count() > 1600 {
            fields.insert("body".to_owned(), "Write 1 to 1,600 characters.".to_owned());
        }
        if !fields.is_empty() {
            return Err(AppError::validation_fields(fields));
        }
        // Refuse at once what cannot be sent (disabled, unknown provider, bad credentials).
        self.adapter(id).await?;
        let queued = deliveries::enqueue(
            &self.db,
            &[NewDelivery {
                kind: "test",
                distribution_id: None,
                customer_id: None,
                occurrence: String::new(),
                integration_id: id.to_owned(),
                priority: deliveries::PRIORITY_URGENT,
                recipient: to.clone(),
                body: body.to_owned(),
                send_after: now_millis(),
            }],
        )
        .await
        .map_err(internal)?;
        let delivery_id = queued
            .first()
            .copied()
            .flatten()
            .ok_or_else(|| AppError::internal_msg("the test message was not queued"))?;
        self.bell.notify_one();
        // Wait for the first attempt's answer; the page can follow the delivery afterwards.
        let deadline = std::time::Instant::now() + TEST_SEND_WAIT;
        loop {
            let row = self.delivery(id, delivery_id).await?;
            let settled = row.attempts > 0 || row.status != "pending";
            if settled || std::time::Instant::now() >= deadline {
                return Ok(test_result(row, to));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// How long a test send waits for the provider's first answer before showing "queued".
const TEST_SEND_WAIT: std::time::Duration = std::time::Duration::from_secs(25);

fn test_result(d: DeliveryView, to: String) -> TestSendResult {
    let accepted = matches!(d.status.as_str(), "accepted" | "sent" | "delivered");
    TestSendResult {
        accepted,
        provider_id: d.provider_id,
        segments: d.provider_segments,
        failure: (!accepted).then(|| match d.status.as_str() {
            "pending" if d.attempts > 0 => "retrying".to_owned(),
            "pending" => "queued".to_owned(),
            other => other.to_owned(),
        }),
        code: if accepted { None } else { d.error_code },
        message: if accepted { None } else { d.error_message },
        http_status: d.provider_http_status,
        raw: d.provider_answer.unwrap_or_default(),
        to,
        delivery_id: Some(d.id),
        status: d.status,
    }
}

impl IntegrationService {
    pub fn new(
        db: DatabaseConnection,
        secrets: SecretBox,
        bell: Arc<Notify>,
        public_url: String,
        allow_private_gateways: bool,
    ) -> Arc<Self> {
        // No redirects: a provider answer is never followed somewhere else.
        let client = || {
            reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(15))
                .connect_timeout(std::time::Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("Codecast/", env!("CARGO_PKG_VERSION")))
        };
        let http = client().build().unwrap_or_default();
        let gateway_http = if allow_private_gateways {
            http.clone()
        } else {
            client()
                .dns_resolver(Arc::new(GuardedResolver))
                .no_proxy()
                .build()
                .unwrap_or_default()
        };
        Arc::new(Self {
            db,
            secrets,
            http,
            bell,
            public_url,
            gateway_http,
            allow_private_gateways,
        })
    }

    /// The adapter that sends through this integration.
    pub async fn adapter(&self, id: &str) -> Result<Box<dyn SmsProvider>, AppError> {
        Ok(self.dispatch_adapter(id).await?.0)
    }

    /// Ids of the integrations that may send.
    pub async fn enabled_ids(&self) -> Result<Vec<String>, DbErr> {
        Ok(sms_integrations::Entity::find()
            .filter(sms_integrations::Column::Enabled.eq(true))
            .order_by_asc(sms_integrations::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| m.id)
            .collect())
    }

    /// One delivery of this integration.
    pub async fn delivery(&self, id: &str, delivery_id: i64) -> Result<DeliveryView, AppError> {
        deliveries::get(&self.db, id, delivery_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                AppError::not_found(format!(
                    "No message {delivery_id} went through this integration."
                ))
            })
    }

    /// What an inbound HELP gets.
    pub async fn help_text(&self, id: &str) -> Result<String, AppError> {
        Ok(self
            .find(id)
            .await?
            .help_text
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_HELP_TEXT.to_owned()))
    }

    /// The adapter and its pace (segments per second).
    pub async fn dispatch_adapter(
        &self,
        id: &str,
    ) -> Result<(Box<dyn SmsProvider>, u32), AppError> {
        let m = self.find(id).await?;
        let rate = m.max_segments_per_second.max(1) as u32;
        if !m.enabled {
            return Err(AppError::conflict(
                "This integration is disabled; enable it to send through it.",
            ));
        }
        let mut creds: Credentials =
            serde_json::from_str(&m.public_credentials).unwrap_or_default();
        creds.extend(self.open(&m)?);
        let take = |k: &str| creds.get(k).cloned().unwrap_or_default();
        let base = |default: &str| m.base_url.clone().unwrap_or_else(|| default.to_owned());
        let sender = m.sender.clone().unwrap_or_default();
        Ok((
            match m.provider.as_str() {
                "sandbox" => Box::new(Sandbox {
                    db: self.db.clone(),
                    integration_id: m.id.clone(),
                    sender: m.sender.clone(),
                }),
                "twilio" => Box::new(Twilio::new(
                    self.http.clone(),
                    &base(twilio::DEFAULT_BASE),
                    &take("account_sid"),
                    &take("auth_token"),
                    m.sender.clone(),
                    creds.get("messaging_service_sid").cloned(),
                )),
                "vonage" => Box::new(Vonage {
                    http: self.http.clone(),
                    base_url: base(vonage::DEFAULT_BASE),
                    api_key: take("api_key"),
                    api_secret: take("api_secret"),
                    from: sender,
                }),
                "plivo" => Box::new(Plivo {
                    http: self.http.clone(),
                    base_url: base(plivo::DEFAULT_BASE),
                    auth_id: take("auth_id"),
                    auth_token: take("auth_token"),
                    src: sender,
                }),
                "telnyx" => Box::new(Telnyx {
                    http: self.http.clone(),
                    base_url: base(telnyx::DEFAULT_BASE),
                    api_key: take("api_key"),
                    from: sender,
                }),
                "messagebird" => Box::new(MessageBird {
                    http: self.http.clone(),
                    base_url: base(messagebird::DEFAULT_BASE),
                    access_key: take("access_key"),
                    originator: sender,
                }),
                "generic" => Box::new(Generic {
                    http: self.gateway_http.clone(),
                    url: take("url"),
                    secret: take("signing_secret"),
                    from: m.sender.clone(),
                    allow_private: self.allow_private_gateways,
                }),
                _ => {
                    return Err(AppError::internal_msg(
                        "stored integration has an unknown provider",
                    ))
                }
            },
            rate,
        ))
    }

    async fn list_impl(&self) -> Result<Vec<IntegrationView>, AppError> {
        let rows = sms_integrations::Entity::find()
            .order_by_asc(sms_integrations::Column::Id)
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|m| view(m, &self.public_url))
            .collect())
    }

    async fn get_impl(&self, id: &str) -> Result<IntegrationView, AppError> {
        Ok(view(self.find(id).await?, &self.public_url))
    }

    /// Every credential in the clear, for the adapter that sends.
    pub async fn credentials(&self, id: &str) -> Result<Credentials, AppError> {
        let m = self.find(id).await?;
        let mut all: Credentials = serde_json::from_str(&m.public_credentials).unwrap_or_default();
        all.extend(self.open(&m)?);
        Ok(all)
    }

    async fn find(&self, id: &str) -> Result<sms_integrations::Model, AppError> {
        sms_integrations::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await
            .map_err(internal)?
            .ok_or_else(|| AppError::not_found(format!("No SMS integration has the id {id:?}.")))
    }

    fn open(&self, m: &sms_integrations::Model) -> Result<Credentials, AppError> {
        let plain = self.secrets.open(&m.sealed_secrets).map_err(|_| {
            AppError::internal_msg(
                "stored credentials cannot be decrypted: was CODECAST_SECRET_KEY changed?",
            )
        })?;
        Ok(serde_json::from_str(&plain).unwrap_or_default())
    }

    async fn create_impl(&self, input: IntegrationInput) -> Result<IntegrationView, AppError> {
        let mut fields = BTreeMap::new();
        let spec = match input.provider.as_deref().map(str::trim).and_then(provider) {
            Some(p) => Some(p),
            None => {
                fields.insert(
                    "provider".into(),
                    format!(
                        "Use one of {}.",
                        PROVIDERS
                            .iter()
                            .map(|p| p.id)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                None
            }
        };
        let checked = check(
            spec,
            &input,
            &Credentials::new(),
            &Credentials::new(),
            self.allow_private_gateways,
            &mut fields,
        );
        if !fields.is_empty() {
            return Err(AppError::validation_fields(fields));
        }
        let (spec, c) = (spec.expect("checked"), checked.expect("checked"));
        let now = now_millis();
        let txn = crate::db::begin(&self.db).await.map_err(internal)?;
        // The first enabled integration becomes the default; a new default replaces the old.
        let has_default = sms_integrations::Entity::find()
            .filter(sms_integrations::Column::IsDefault.eq(true))
            .one(&txn)
            .await
            .map_err(internal)?
            .is_some();
        let is_default = c.enabled && (input.is_default.unwrap_or(false) || !has_default);
        if is_default {
            clear_default(&txn).await.map_err(internal)?;
        }
        let model = sms_integrations::ActiveModel {
            id: Set(new_id("int")),
            name: Set(c.name),
            help_text: Set(c.help_text),
            provider: Set(spec.id.to_owned()),
            sender: Set(c.sender),
            base_url: Set(c.base_url),
            max_segments_per_second: Set(c.rate as i32),
            is_default: Set(is_default),
            enabled: Set(c.enabled),
            public_credentials: Set(to_json(&c.public)),
            sealed_secrets: Set(self.secrets.seal(&to_json(&c.secret))),
            secret_hints: Set(to_json(&hints(&c.secret))),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(view(model, &self.public_url))
    }

    async fn update_impl(
        &self,
        id: &str,
        input: IntegrationInput,
    ) -> Result<IntegrationView, AppError> {
        let found = self.find(id).await?;
        let spec = provider(&found.provider)
            .ok_or_else(|| AppError::internal_msg("stored integration has an unknown provider"))?;
        let mut fields = BTreeMap::new();
        if input
            .provider
            .as_deref()
            .is_some_and(|p| p.trim() != found.provider)
        {
            fields.insert(
                "provider".into(),
                "The provider of an integration cannot change; add a new integration instead."
                    .into(),
            );
        }
        let stored_public: Credentials =
            serde_json::from_str(&found.public_credentials).unwrap_or_default();
        let stored_secret = self.open(&found)?;
        let merged = IntegrationInput {
            name: input.name.clone().or(Some(found.name.clone())),
            sender: input.sender.clone().or(found.sender.clone()),
            base_url: input.base_url.clone().or(found.base_url.clone()),
            max_segments_per_second: input
                .max_segments_per_second
                .or(Some(found.max_segments_per_second.max(1) as u32)),
            enabled: input.enabled.or(Some(found.enabled)),
            help_text: input.help_text.clone().or(found.help_text.clone()),
            ..input.clone()
        };
        let checked = check(
            Some(spec),
            &merged,
            &stored_public,
            &stored_secret,
            self.allow_private_gateways,
            &mut fields,
        );
        if !fields.is_empty() {
            return Err(AppError::validation_fields(fields));
        }
        let c = checked.expect("checked");
        let txn = crate::db::begin(&self.db).await.map_err(internal)?;
        let is_default = c.enabled && input.is_default.unwrap_or(found.is_default);
        if is_default && !found.is_default {
            clear_default(&txn).await.map_err(internal)?;
        }
        let model = sms_integrations::ActiveModel {
            id: Set(found.id.clone()),
            name: Set(c.name),
            help_text: Set(c.help_text),
            sender: Set(c.sender),
            base_url: Set(c.base_url),
            max_segments_per_second: Set(c.rate as i32),
            is_default: Set(is_default),
            enabled: Set(c.enabled),
            public_credentials: Set(to_json(&c.public)),
            sealed_secrets: Set(self.secrets.seal(&to_json(&c.secret))),
            secret_hints: Set(to_json(&hints(&c.secret))),
            updated_at: Set(now_millis()),
            ..Default::default()
        }
        .update(&txn)
        .await
        .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(view(model, &self.public_url))
    }

    async fn delete_impl(&self, id: &str) -> Result<(), AppError> {
        let txn = crate::db::begin(&self.db).await.map_err(internal)?;
        let result = sms_integrations::Entity::delete_by_id(id.to_owned())
            .exec(&txn)
            .await
            .map_err(internal)?;
        deliveries::fail_for_integration(&txn, id)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        if result.rows_affected == 0 {
            return Err(AppError::not_found(format!(
                "No SMS integration has the id {id:?}."
            )));
        }
        Ok(())
    }
}

struct Checked {
    name: String,
    help_text: Option<String>,
    sender: Option<String>,
    base_url: Option<String>,
    rate: u32,
    enabled: bool,
    public: Credentials,
    secret: Credentials,
}

/// Checks an input against the provider's needs; `stored_*` fill credentials left empty.
fn check(
    spec: Option<&ProviderSpec>,
    input: &IntegrationInput,
    stored_public: &Credentials,
    stored_secret: &Credentials,
    allow_private: bool,
    fields: &mut BTreeMap<String, String>,
) -> Option<Checked> {
    let name = input.name.as_deref().unwrap_or_default().trim().to_owned();
    if name.is_empty() || name.chars().count() > 255 {
        fields.insert(
            "name".into(),
            "Name the integration (1 to 255 characters).".into(),
        );
    }
    let sender = input
        .sender
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if sender.as_ref().is_some_and(|s| s.chars().count() > 64) {
        fields.insert(
            "sender".into(),
            "A sender has at most 64 characters.".into(),
        );
    }
    let base_url = input
        .base_url
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('/').to_owned());
    if let Some(url) = &base_url {
        match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => {
                fields.insert(
                    "base_url".into(),
                    "Give an http(s) URL such as https://api.twilio.com, or leave it empty for the provider's own.".into(),
                );
            }
        }
    }
    let rate = input
        .max_segments_per_second
        .unwrap_or(DEFAULT_SEGMENTS_PER_SECOND);
    if !(1..=MAX_SEGMENTS_PER_SECOND).contains(&rate) {
        fields.insert(
            "max_segments_per_second".into(),
            format!("Give 1 to {MAX_SEGMENTS_PER_SECOND} segments per second (what your sender is allowed)."),
        );
    }
    let spec = spec?;
    let known: Vec<&str> = spec.credentials.iter().map(|c| c.name).collect();
    for k in input.credentials.keys() {
        if !known.contains(&k.as_str()) {
            fields.insert(
                format!("credentials.{k}"),
                if known.is_empty() {
                    format!("{} takes no credentials.", spec.label)
                } else {
                    format!("{} takes {}.", spec.label, known.join(", "))
                },
            );
        }
    }
    let mut public = Credentials::new();
    let mut secret = Credentials::new();
    for c in spec.credentials {
        let given = input
            .credentials
            .get(c.name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        let stored = if c.secret {
            stored_secret.get(c.name)
        } else {
            stored_public.get(c.name)
        };
        match given.or_else(|| stored.cloned()) {
            Some(v) if v.chars().count() > 1000 => {
                fields.insert(format!("credentials.{}", c.name), "Too long.".into());
            }
            Some(v) => {
                if c.secret {
                    secret.insert(c.name.to_owned(), v);
                } else {
                    public.insert(c.name.to_owned(), v);
                }
            }
            None if c.required => {
                fields.insert(
                    format!("credentials.{}", c.name),
                    format!("{} is required.", c.label),
                );
            }
            None => {}
        }
    }
    if spec.id == "generic" {
        if let Some(url) = public.get("url") {
            if let Err(message) = crate::providers::generic::check_target(url, allow_private) {
                fields.insert("credentials.url".into(), message);
            }
        }
    }
    let twilio_service = spec.id == "twilio" && public.contains_key("messaging_service_sid");
    if sender.is_none() && (spec.sender_required || (spec.id == "twilio" && !twilio_service)) {
        fields.insert(
            "sender".into(),
            format!("Give the sender. {}", spec.sender_hint),
        );
    }
    let help_text = input
        .help_text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    if help_text
        .as_ref()
        .is_some_and(|t| t.chars().count() > HELP_TEXT_MAX)
    {
        fields.insert(
            "help_text".into(),
            format!("Keep the help reply to {HELP_TEXT_MAX} characters (two SMS)."),
        );
    }
    fields.is_empty().then(|| Checked {
        name,
        help_text,
        sender,
        base_url,
        rate,
        enabled: input.enabled.unwrap_or(true),
        public,
        secret,
    })
}

fn hints(secret: &Credentials) -> Credentials {
    secret
        .iter()
        .map(|(k, v)| (k.clone(), mask_secret(v)))
        .collect()
}

fn to_json(map: &Credentials) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".into())
}

async fn clear_default(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    sms_integrations::Entity::update_many()
        .col_expr(
            sms_integrations::Column::IsDefault,
            sea_orm::sea_query::Expr::value(false),
        )
        .filter(sms_integrations::Column::IsDefault.eq(true))
        .exec(db)
        .await
        .map(|_| ())
}

fn view(m: sms_integrations::Model, public_url: &str) -> IntegrationView {
    let webhook = |kind: &str| format!("{public_url}/webhooks/sms/{}/{kind}", m.id);
    let (status_webhook, inbound_webhook) = (webhook("status"), webhook("inbound"));
    let mut credentials: Credentials =
        serde_json::from_str(&m.public_credentials).unwrap_or_default();
    let hints: Credentials = serde_json::from_str(&m.secret_hints).unwrap_or_default();
    credentials.extend(hints);
    IntegrationView {
        id: m.id,
        name: m.name,
        provider: m.provider,
        sender: m.sender,
        base_url: m.base_url,
        max_segments_per_second: m.max_segments_per_second.max(0) as u32,
        is_default: m.is_default,
        enabled: m.enabled,
        help_text: m.help_text,
        status_webhook,
        inbound_webhook,
        credentials,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn internal(err: DbErr) -> AppError {
    AppError::internal(&err)
}
