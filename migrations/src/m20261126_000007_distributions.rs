//! Distributions: what to send (purpose, template), to whom (a customer or a segment),
//! through which integration, and, once sent, the numbers of its SEND.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE distributions (
        id VARCHAR(64) NOT NULL PRIMARY KEY,
        name VARCHAR(255) NOT NULL,
        mode VARCHAR(16) NOT NULL,
        purpose VARCHAR(16) NOT NULL,
        campaign_id VARCHAR(64) NULL,
        promotion_tier_id VARCHAR(64) NULL,
        audience_customer_id VARCHAR(64) NULL,
        audience_segment_id VARCHAR(64) NULL,
        subject VARCHAR(255) NOT NULL,
        channel VARCHAR(16) NOT NULL,
        integration_id VARCHAR(64) NULL,
        template TEXT NOT NULL,
        smart_encoding BOOLEAN NOT NULL,
        reminders TEXT NOT NULL,
        status VARCHAR(16) NOT NULL,
        step VARCHAR(16) NOT NULL,
        send_key VARCHAR(128) NULL,
        audience_count BIGINT NULL,
        queued_count BIGINT NULL,
        skipped_opted_out BIGINT NULL,
        skipped_no_phone BIGINT NULL,
        skipped_invalid_phone BIGINT NULL,
        skipped_duplicate BIGINT NULL,
        codes_published BIGINT NULL,
        segments_total BIGINT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        sent_at BIGINT NULL,
        completed_at BIGINT NULL
    )",
    "CREATE INDEX idx_distributions_status ON distributions (status, created_at)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in UP {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS distributions")
            .await?;
        Ok(())
    }
}
