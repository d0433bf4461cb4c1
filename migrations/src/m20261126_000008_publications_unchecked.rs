//! Publications without foreign keys. A SEND inserts one publication per recipient, up to a
//! million in one statement series; on PostgreSQL every foreign key costs each row a trigger
//! that looks up and locks the parent row (three per publication), which cost more than the
//! inserts themselves. The parents are kept right by the services instead: codes and
//! campaigns are never deleted, and deleting a customer clears their publications'
//! `customer_id` in the same transaction (what `ON DELETE SET NULL` did).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE publications DROP CONSTRAINT IF EXISTS publications_voucher_id_fkey",
    "ALTER TABLE publications DROP CONSTRAINT IF EXISTS publications_campaign_id_fkey",
    "ALTER TABLE publications DROP CONSTRAINT IF EXISTS publications_customer_id_fkey",
];

const POSTGRES_DOWN: &[&str] = &[
    "ALTER TABLE publications ADD CONSTRAINT publications_voucher_id_fkey FOREIGN KEY (voucher_id) REFERENCES vouchers(id) ON DELETE CASCADE",
    "ALTER TABLE publications ADD CONSTRAINT publications_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES campaigns(id) ON DELETE CASCADE",
    "ALTER TABLE publications ADD CONSTRAINT publications_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE SET NULL",
];

/// SQLite cannot drop a constraint: the table is rebuilt, with or without its references.
fn sqlite_rebuild(references: bool) -> Vec<String> {
    let (voucher, campaign, customer) = if references {
        (
            " REFERENCES vouchers(id) ON DELETE CASCADE",
            " REFERENCES campaigns(id) ON DELETE CASCADE",
            " REFERENCES customers(id) ON DELETE SET NULL",
        )
    } else {
        ("", "", "")
    };
    vec![
        format!(
            "CREATE TABLE publications_rebuilt (
                voucher_id BIGINT NOT NULL PRIMARY KEY{voucher},
                campaign_id VARCHAR(64) NOT NULL{campaign},
                customer_id VARCHAR(64) NULL{customer},
                source_id VARCHAR(255) NULL,
                token VARCHAR(64) NOT NULL UNIQUE,
                published_at BIGINT NOT NULL,
                expires_at BIGINT NULL
            )"
        ),
        "INSERT INTO publications_rebuilt (voucher_id, campaign_id, customer_id, source_id, token, published_at, expires_at) \
         SELECT voucher_id, campaign_id, customer_id, source_id, token, published_at, expires_at FROM publications"
            .into(),
        "DROP TABLE publications".into(),
        "ALTER TABLE publications_rebuilt RENAME TO publications".into(),
        "CREATE UNIQUE INDEX idx_publications_holder ON publications (campaign_id, customer_id)".into(),
        "CREATE INDEX idx_publications_customer ON publications (customer_id)".into(),
    ]
}

async fn run(manager: &SchemaManager<'_>, references: bool) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let statements: Vec<String> = match manager.get_database_backend() {
        DbBackend::Postgres => if references {
            POSTGRES_DOWN
        } else {
            POSTGRES_UP
        }
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        _ => sqlite_rebuild(references),
    };
    // One batch, so one pooled connection runs it all: a second connection could still hold
    // the schema from before the DROP when it parses the RENAME.
    db.execute_unprepared(&statements.join(";\n")).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, false).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, true).await
    }
}
