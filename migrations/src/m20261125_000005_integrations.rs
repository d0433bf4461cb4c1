//! SMS integrations: provider, sender, pacing and credentials. Plain credentials (an account
//! SID) are kept as JSON; secret ones (an auth token) only sealed with AES-256-GCM, with a
//! masked hint to show.

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
                "CREATE TABLE sms_integrations (
                    id VARCHAR(64) NOT NULL PRIMARY KEY,
                    name VARCHAR(255) NOT NULL,
                    provider VARCHAR(32) NOT NULL,
                    sender VARCHAR(255) NULL,
                    base_url TEXT NULL,
                    max_segments_per_second INTEGER NOT NULL,
                    is_default BOOLEAN NOT NULL,
                    enabled BOOLEAN NOT NULL,
                    public_credentials TEXT NOT NULL,
                    sealed_secrets TEXT NOT NULL,
                    secret_hints TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )",
            )
            .await?;
        // What the sandbox provider "sent", for the integration page.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE TABLE sandbox_messages (
                    id VARCHAR(64) NOT NULL PRIMARY KEY,
                    integration_id VARCHAR(64) NOT NULL REFERENCES sms_integrations(id) ON DELETE CASCADE,
                    sender VARCHAR(255) NULL,
                    recipient VARCHAR(32) NOT NULL,
                    body TEXT NOT NULL,
                    segments INTEGER NOT NULL,
                    created_at BIGINT NOT NULL
                )",
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_sandbox_messages_integration ON sandbox_messages (integration_id, created_at)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS sandbox_messages")
            .await?;
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS sms_integrations")
            .await?;
        Ok(())
    }
}
