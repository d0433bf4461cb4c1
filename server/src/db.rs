//! Storage: connecting, migrating, and the sea-orm entities. Queries take
//! `&impl ConnectionTrait` so they run inside or outside a transaction alike.

pub mod api_keys;
pub mod campaigns;
pub mod consent_changes;
pub mod customers;
pub mod events;
pub mod instance;
pub mod instance_settings;
pub mod promotion_tiers;
pub mod segments;
pub mod sessions;
pub mod sms_integrations;
pub mod users;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqlErr, Statement, TransactionTrait,
};
use std::time::Duration;

/// Begins a transaction that writes. On SQLite it takes the write lock at once (a no-op
/// update), as `BEGIN IMMEDIATE` would: a deferred transaction that reads first and writes
/// later fails with "database is locked" when another connection wrote in between, while one
/// that starts by locking waits its turn (the busy timeout). PostgreSQL needs nothing extra.
pub async fn begin(
    db: &(impl TransactionTrait + ConnectionTrait),
) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Sqlite {
        txn.execute_unprepared("UPDATE instance_settings SET value = value WHERE 0")
            .await?;
    }
    Ok(txn)
}

/// Opens a query that answers with one row holding a page of rows as one JSON array in
/// `page` (a row at a time costs a hand-over between threads per row on SQLite). The rows'
/// query follows, then `) AS s`; on PostgreSQL the array is in `order`.
pub fn json_page(backend: DbBackend, columns: &str, order: &str) -> String {
    match backend {
        DbBackend::Postgres => format!(
            "SELECT CAST(COALESCE(json_agg(json_build_array({columns}) ORDER BY {order}), '[]') AS TEXT) AS page FROM ("
        ),
        _ => format!("SELECT json_group_array(json_array({columns})) AS page FROM ("),
    }
}

/// Runs a [`json_page`] query and decodes its rows.
pub async fn fetch_json_page<T: serde::de::DeserializeOwned>(
    db: &impl ConnectionTrait,
    statement: Statement,
) -> Result<Vec<T>, DbErr> {
    let text: Option<String> = db
        .query_one(statement)
        .await?
        .map(|r| r.try_get("", "page"))
        .transpose()?;
    match text {
        Some(text) => serde_json::from_str(&text).map_err(|e| DbErr::Json(e.to_string())),
        None => Ok(Vec::new()),
    }
}

/// Opens the database named by `url` (SQLite file or PostgreSQL) and brings its schema up to date.
pub async fn connect_and_migrate(url: &str) -> Result<DatabaseConnection, DbErr> {
    let db = connect(url).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let sqlite = url.starts_with("sqlite:");
    if sqlite {
        ensure_sqlite_dir(url)?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(if sqlite { 8 } else { 16 })
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false)
        // PostgreSQL's JIT compiles a query whose estimated cost is high, which takes 100 ms
        // or more, for queries that run in milliseconds: a page of free codes (the planner
        // cannot estimate how many codes are free) would spend a SEND of a million recipients
        // over a minute compiling.
        .map_sqlx_postgres_opts(|o| o.options([("jit", "off")]));
    let db = Database::connect(options).await?;
    if sqlite {
        // WAL lets readers proceed while one writer writes; the setting is stored in the file,
        // so every pooled connection gets it. (sqlx already enables foreign keys and a 5 s busy timeout.)
        db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
    }
    Ok(db)
}

/// Creates the directory of a `sqlite://dir/file.db` URL, so a fresh checkout starts without setup.
fn ensure_sqlite_dir(url: &str) -> Result<(), DbErr> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
    }
    Ok(())
}

/// True when PostgreSQL gave up waiting for a lock (`lock_timeout`, SQLSTATE 55P03).
pub fn is_lock_timeout(err: &DbErr) -> bool {
    use sea_orm::{sqlx, RuntimeErr};
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(e)))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(e))) => {
            e.code().is_some_and(|c| c == "55P03")
        }
        _ => false,
    }
}

/// True when the error is a UNIQUE or PRIMARY KEY violation (a constraint said no).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_directories_are_created() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/nested/x.db?mode=rwc", dir.path().display());
        super::ensure_sqlite_dir(&url).unwrap();
        assert!(dir.path().join("nested").is_dir());
    }
}
