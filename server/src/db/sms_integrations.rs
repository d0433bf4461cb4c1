use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sms_integrations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub provider: String,
    pub sender: Option<String>,
    pub base_url: Option<String>,
    pub max_segments_per_second: i32,
    pub is_default: bool,
    pub enabled: bool,
    /// JSON object of the credentials that are not secret.
    pub public_credentials: String,
    /// The secret credentials as a JSON object, sealed by `SecretBox`.
    pub sealed_secrets: String,
    /// JSON object: secret name → masked hint.
    pub secret_hints: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// What an inbound HELP gets; the built-in text when `None`.
    pub help_text: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
