//! A webhook nonce says whether its request was handled to the end (`settled_at`) or is
//! still being handled, and which request it came with (`request_hash`: method, address and
//! body). A provider's retry of the very same request that arrives while the first still
//! runs is then told to come back (503) instead of being refused as a replay (403), which a
//! provider takes as final; and a nonce whose handling stopped with its process (never
//! settled, long ago) is accepted again for that same request only. Rows written by a
//! process of the version before settle as they are written (the default), and so do the
//! nonces kept so far: their requests were handled to the end.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in [
            "ALTER TABLE webhook_nonces ADD COLUMN settled_at BIGINT NULL DEFAULT 0",
            "ALTER TABLE webhook_nonces ADD COLUMN request_hash VARCHAR(64) NULL",
            "UPDATE webhook_nonces SET settled_at = seen_at",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in [
            "ALTER TABLE webhook_nonces DROP COLUMN request_hash",
            "ALTER TABLE webhook_nonces DROP COLUMN settled_at",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
