use sea_orm::entity::prelude::*;

/// The consent ledger: one row per change of a customer's SMS consent.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consent_changes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub customer_id: String,
    pub state: String,
    /// api, ui, import, sms (a STOP reply), …
    pub source: String,
    /// Who: a user's email or an API key's name.
    pub actor: Option<String>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
