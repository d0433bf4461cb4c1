use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    /// `PERCENT` or `AMOUNT`.
    pub discount_type: String,
    pub percent_off: Option<f64>,
    /// Minor units.
    pub amount_off: Option<i64>,
    /// The code shape as JSON text.
    pub code_config: String,
    pub vouchers_count: i64,
    pub generated_count: i64,
    pub published_count: i64,
    pub redeemed_count: i64,
    /// `generating`, `ready` or `failed`.
    pub status: String,
    pub failure: Option<String>,
    pub expiration_date: Option<i64>,
    pub validity_hours: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
