//! SMS integrations: which provider, which sender, how fast, and the credentials, whose
//! secret parts are sealed at rest and never leave the server again.

use super::{phone::PhoneNumber, secret_box::SecretBox};
use crate::providers::{
    sandbox::Sandbox,
    twilio::{self, Twilio},
    OutgoingSms, SmsProvider,
};
use crate::{
    db::sms_integrations,
    ids::{new_id, now_millis},
};
use app::{
    domain::provider::{mask_secret, provider, ProviderSpec, PROVIDERS},
    dto::{IntegrationInput, IntegrationView, TestSendResult},
    error::AppError,
    ports::Integrations,
};
use async_trait::async_trait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set, TransactionTrait,
};
use std::{collections::BTreeMap, sync::Arc};

/// Pacing when none is given: one segment a second, what a US long code takes.
pub const DEFAULT_SEGMENTS_PER_SECOND: u32 = 1;
pub const MAX_SEGMENTS_PER_SECOND: u32 = 10_000;

pub struct IntegrationService {
    db: DatabaseConnection,
    secrets: SecretBox,
    http: reqwest::Client,
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
        let adapter = self.adapter(id).await?;
        let sms = OutgoingSms {
            to: to.clone(),
            body: body.to_owned(),
            status_callback: None,
        };
        Ok(match adapter.send(&sms).await {
            Ok(a) => TestSendResult {
                accepted: true,
                provider_id: Some(a.provider_id),
                segments: a.segments,
                failure: None,
                code: None,
                message: None,
                http_status: a.raw.http_status,
                raw: a.raw.body,
                to,
            },
            Err(f) => TestSendResult {
                accepted: false,
                provider_id: None,
                segments: None,
                failure: Some(f.kind().to_owned()),
                code: f.code().map(str::to_owned),
                message: Some(f.message().to_owned()),
                http_status: f.raw().http_status,
                raw: f.raw().body.clone(),
                to,
            },
        })
    }
}

impl IntegrationService {
    pub fn new(db: DatabaseConnection, secrets: SecretBox) -> Arc<Self> {
        // No redirects: a provider answer is never followed somewhere else.
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .connect_timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Codecast/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Arc::new(Self { db, secrets, http })
    }

    /// The adapter that sends through this integration.
    pub async fn adapter(&self, id: &str) -> Result<Box<dyn SmsProvider>, AppError> {
        let m = self.find(id).await?;
        if !m.enabled {
            return Err(AppError::conflict(
                "This integration is disabled; enable it to send through it.",
            ));
        }
        let mut creds: Credentials =
            serde_json::from_str(&m.public_credentials).unwrap_or_default();
        creds.extend(self.open(&m)?);
        let take = |k: &str| creds.get(k).cloned().unwrap_or_default();
        Ok(match m.provider.as_str() {
            "sandbox" => Box::new(Sandbox {
                db: self.db.clone(),
                integration_id: m.id.clone(),
                sender: m.sender.clone(),
            }),
            "twilio" => Box::new(Twilio {
                http: self.http.clone(),
                base_url: m
                    .base_url
                    .clone()
                    .unwrap_or_else(|| twilio::DEFAULT_BASE.to_owned()),
                account_sid: take("account_sid"),
                auth_token: take("auth_token"),
                from: m.sender.clone(),
                messaging_service_sid: creds.get("messaging_service_sid").cloned(),
            }),
            other => {
                return Err(AppError::conflict(format!(
                    "Sending through {} is not available yet; use Twilio or the sandbox.",
                    provider(other).map_or(other, |p| p.label)
                )))
            }
        })
    }

    async fn list_impl(&self) -> Result<Vec<IntegrationView>, AppError> {
        let rows = sms_integrations::Entity::find()
            .order_by_asc(sms_integrations::Column::Id)
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(view).collect())
    }

    async fn get_impl(&self, id: &str) -> Result<IntegrationView, AppError> {
        Ok(view(self.find(id).await?))
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
            &mut fields,
        );
        if !fields.is_empty() {
            return Err(AppError::validation_fields(fields));
        }
        let (spec, c) = (spec.expect("checked"), checked.expect("checked"));
        let now = now_millis();
        let txn = self.db.begin().await.map_err(internal)?;
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
        Ok(view(model))
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
            ..input.clone()
        };
        let checked = check(
            Some(spec),
            &merged,
            &stored_public,
            &stored_secret,
            &mut fields,
        );
        if !fields.is_empty() {
            return Err(AppError::validation_fields(fields));
        }
        let c = checked.expect("checked");
        let txn = self.db.begin().await.map_err(internal)?;
        let is_default = c.enabled && input.is_default.unwrap_or(found.is_default);
        if is_default && !found.is_default {
            clear_default(&txn).await.map_err(internal)?;
        }
        let model = sms_integrations::ActiveModel {
            id: Set(found.id.clone()),
            name: Set(c.name),
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
        Ok(view(model))
    }

    async fn delete_impl(&self, id: &str) -> Result<(), AppError> {
        let result = sms_integrations::Entity::delete_by_id(id.to_owned())
            .exec(&self.db)
            .await
            .map_err(internal)?;
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
            if !reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                fields.insert(
                    "credentials.url".into(),
                    "Give the gateway's http(s) URL.".into(),
                );
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
    fields.is_empty().then(|| Checked {
        name,
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

fn view(m: sms_integrations::Model) -> IntegrationView {
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
        credentials,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn internal(err: DbErr) -> AppError {
    AppError::internal(&err)
}
