//! Receipts of each part of a long message, for providers that report parts one by one
//! (Vonage sends a delivery receipt per part, each with the part's own message id). A
//! message is delivered once all its parts are, and failed as soon as one of them is, with
//! that part's error. A part's first final receipt is the one kept.

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
                "CREATE TABLE delivery_part_reports (
                    delivery_id BIGINT NOT NULL,
                    part_id VARCHAR(128) NOT NULL,
                    status VARCHAR(16) NOT NULL,
                    provider_status VARCHAR(32) NOT NULL,
                    error_code VARCHAR(64) NULL,
                    error_message TEXT NULL,
                    reported_at BIGINT NOT NULL,
                    PRIMARY KEY (delivery_id, part_id)
                )",
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE delivery_part_reports")
            .await
            .map(|_| ())
    }
}
