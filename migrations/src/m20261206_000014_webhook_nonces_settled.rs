//! A webhook nonce says whether its request was handled to the end (`settled_at`) or is
//! still being handled. A provider's retry that arrives while the first request still runs
//! is then told to come back (503) instead of being refused as a replay (403), which a
//! provider takes as final; and a nonce whose handling stopped with its process (never
//! settled, long ago) is accepted again. The nonces kept so far were handled to the end.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in [
            "ALTER TABLE webhook_nonces ADD COLUMN settled_at BIGINT NULL",
            "UPDATE webhook_nonces SET settled_at = seen_at",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE webhook_nonces DROP COLUMN settled_at")
            .await
            .map(|_| ())
    }
}
