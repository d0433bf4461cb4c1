//! When each number last got the help text through each integration: a number that sends
//! HELP again and again (a person, or another machine answering every message) gets it once
//! in a while, not once per message.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE TABLE help_replies (
                    integration_id VARCHAR(64) NOT NULL,
                    phone VARCHAR(32) NOT NULL,
                    replied_at BIGINT NOT NULL,
                    PRIMARY KEY (integration_id, phone)
                )",
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE help_replies")
            .await
            .map(|_| ())
    }
}
