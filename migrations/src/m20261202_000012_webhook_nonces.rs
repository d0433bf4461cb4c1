//! Nonces of webhooks whose signature signs no time.
//!
//! Plivo signs SMS callbacks the V2 way: an HMAC of the address and a nonce. The body is not
//! signed, so a captured request could carry any report or any reply again, with its
//! signature still valid; its V3 signs the body but no time, so a captured START could be
//! replayed after a STOP. Each such nonce is therefore accepted once, and kept for good.

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
                "CREATE TABLE webhook_nonces (
                    nonce VARCHAR(255) NOT NULL PRIMARY KEY,
                    seen_at BIGINT NOT NULL
                )",
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE webhook_nonces")
            .await
            .map(|_| ())
    }
}
