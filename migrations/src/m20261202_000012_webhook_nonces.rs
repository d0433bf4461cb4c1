//! Nonces of webhooks whose signature covers neither their parameters nor a time.
//!
//! Plivo signs SMS callbacks the V2 way: an HMAC of the address and a nonce. The body is not
//! signed, so a captured request could carry any report or any reply again, with its
//! signature still valid. Each such nonce is therefore accepted once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in [
            "CREATE TABLE webhook_nonces (
                nonce VARCHAR(255) NOT NULL PRIMARY KEY,
                seen_at BIGINT NOT NULL
            )",
            "CREATE INDEX idx_webhook_nonces_seen ON webhook_nonces (seen_at)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE webhook_nonces")
            .await
            .map(|_| ())
    }
}
