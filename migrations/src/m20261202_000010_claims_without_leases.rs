//! Claiming a message no longer writes a lease into its row.
//!
//! A dispatcher used to mark every message it claimed `sending`, with its process and a
//! lease time, so no other process would pick it up. Only the holder of an integration's
//! lease sends through it, so that mark only repeated what the integration lease says, and it
//! cost every message a second row version (with new entries in every index) besides the one
//! that records its outcome. Claimed messages now stay `pending` until their outcome is
//! recorded; the process keeps what it holds in memory. Messages a stopped process left
//! `sending` go back to the queue, and the lease columns and their index go.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in [
            "UPDATE deliveries SET status = 'pending' WHERE status = 'sending'",
            "DROP INDEX idx_deliveries_sending",
            "ALTER TABLE deliveries DROP COLUMN lease_owner",
            "ALTER TABLE deliveries DROP COLUMN lease_until",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in [
            "ALTER TABLE deliveries ADD COLUMN lease_owner VARCHAR(64) NULL",
            "ALTER TABLE deliveries ADD COLUMN lease_until BIGINT NULL",
            "CREATE INDEX idx_deliveries_sending ON deliveries (integration_id, lease_until) WHERE status = 'sending'",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
