use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "segments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    /// `static` or `auto-update`.
    pub kind: String,
    /// The rule of an auto-update segment, as JSON text.
    pub filter: Option<String>,
    /// The rule has an event window, so time alone changes membership.
    pub time_relative: bool,
    pub refreshed_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
