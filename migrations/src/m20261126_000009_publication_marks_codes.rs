//! A code is published when it has a publication row, and nothing else marks it.
//!
//! `vouchers.published_at` repeated what the publication row says, and keeping it cost every
//! code a SEND hands out an UPDATE of its voucher: on PostgreSQL a new row version with a new
//! entry in every index of `vouchers`, the code's unique index included, at a random place
//! (the column was indexed, so the update could not be HOT). For a million recipients that was
//! the largest part of a SEND. Now the publications primary key (the voucher id) is the one
//! thing that says a code is taken and stops it being taken twice.
//!
//! Free codes are found by probing that key. So that searches do not walk the codes a SEND
//! already handed out, `campaigns.published_through` records an id at or below which every
//! code of the campaign is published; a SEND takes the lowest free codes and moves it on.
//!
//! The same migration leaves `publications` one index lighter: one unique index on
//! (customer, campaign) answers both "the code this customer holds in this campaign" and "the
//! codes this customer holds". On SQLite the table is rebuilt with its voucher id as the
//! row id, which spares it a separate primary-key index.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every code of a campaign with an id at or below it is published: the code before the
/// campaign's first free one, or its last code when none is free.
const MARK_EXISTING: &str = "UPDATE campaigns SET published_through = COALESCE(
        (SELECT MIN(v.id) - 1 FROM vouchers v WHERE v.campaign_id = campaigns.id
            AND NOT EXISTS (SELECT 1 FROM publications p WHERE p.voucher_id = v.id)),
        (SELECT MAX(v.id) FROM vouchers v WHERE v.campaign_id = campaigns.id),
        0)";

fn sqlite_publications(primary_key: &str) -> Vec<String> {
    vec![
        format!(
            "CREATE TABLE publications_rebuilt (
                voucher_id {primary_key},
                campaign_id VARCHAR(64) NOT NULL,
                customer_id VARCHAR(64) NULL,
                source_id VARCHAR(255) NULL,
                token VARCHAR(64) NOT NULL UNIQUE,
                published_at BIGINT NOT NULL,
                expires_at BIGINT NULL
            )"
        ),
        "INSERT INTO publications_rebuilt (voucher_id, campaign_id, customer_id, source_id, token, published_at, expires_at) \
         SELECT voucher_id, campaign_id, customer_id, source_id, token, published_at, expires_at FROM publications ORDER BY voucher_id"
            .into(),
        "DROP TABLE publications".into(),
        "ALTER TABLE publications_rebuilt RENAME TO publications".into(),
    ]
}

fn up(backend: DbBackend) -> Vec<String> {
    let mut out: Vec<String> = vec![
        "ALTER TABLE campaigns ADD COLUMN published_through BIGINT NOT NULL DEFAULT 0".into(),
        MARK_EXISTING.into(),
        "DROP INDEX idx_vouchers_campaign".into(),
        "ALTER TABLE vouchers DROP COLUMN published_at".into(),
        // A campaign's codes in id order.
        "CREATE INDEX idx_vouchers_campaign ON vouchers (campaign_id, id)".into(),
    ];
    if backend == DbBackend::Postgres {
        out.push("DROP INDEX idx_publications_holder".into());
        out.push("DROP INDEX idx_publications_customer".into());
    } else {
        out.extend(sqlite_publications("INTEGER PRIMARY KEY"));
    }
    out.push(
        "CREATE UNIQUE INDEX idx_publications_holder ON publications (customer_id, campaign_id)"
            .into(),
    );
    out
}

fn down(backend: DbBackend) -> Vec<String> {
    let mut out: Vec<String> = vec![
        "DROP INDEX idx_vouchers_campaign".into(),
        "ALTER TABLE vouchers ADD COLUMN published_at BIGINT NULL".into(),
        "UPDATE vouchers SET published_at = (SELECT p.published_at FROM publications p WHERE p.voucher_id = vouchers.id)".into(),
        "CREATE INDEX idx_vouchers_campaign ON vouchers (campaign_id, published_at, id)".into(),
        "ALTER TABLE campaigns DROP COLUMN published_through".into(),
    ];
    if backend == DbBackend::Postgres {
        out.push("DROP INDEX idx_publications_holder".into());
    } else {
        out.extend(sqlite_publications("BIGINT NOT NULL PRIMARY KEY"));
    }
    out.push(
        "CREATE UNIQUE INDEX idx_publications_holder ON publications (campaign_id, customer_id)"
            .into(),
    );
    out.push("CREATE INDEX idx_publications_customer ON publications (customer_id)".into());
    out
}

async fn run(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    // One batch, so one pooled connection runs it all (see migration 8).
    manager
        .get_connection()
        .execute_unprepared(&statements.join(";\n"))
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, up(manager.get_database_backend())).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, down(manager.get_database_backend())).await
    }
}
