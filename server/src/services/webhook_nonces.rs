//! Webhook nonces accepted once (see migrations 12 and 14): a signature that signs no time is
//! only as good as the promise that its nonce is new. They are kept for good: a nonce
//! forgotten would make its captured signature valid again, for any body (Plivo's V2 signs
//! none).
//!
//! A nonce is taken when its request starts ([`take`]), settled when the request was handled
//! ([`settle`]) and forgotten when handling failed on our side ([`forget`]), so that the
//! provider's retry of the very same request counts.

use super::rule_sql::Sql;
use crate::db;
use sea_orm::{ConnectionTrait, DbErr};

/// The longest nonce kept; a provider's is some twenty digits.
pub const NONCE_MAX: usize = 255;

/// A nonce taken and never settled this long ago belongs to a request whose process stopped
/// while handling it (a handler takes a few database writes): its retry is handled.
pub const ABANDONED_MS: i64 = 120_000;

/// What a request's nonce says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// New (or abandoned by a stopped process): handle the request.
    First,
    /// The same request is being handled right now: its retry should come back later.
    Running,
    /// Handled before: a replay.
    Used,
}

/// Takes `nonce` for a request starting now.
pub async fn take(db: &impl ConnectionTrait, nonce: &str, now: i64) -> Result<Taken, DbErr> {
    if nonce.is_empty() || nonce.len() > NONCE_MAX {
        return Ok(Taken::Used);
    }
    let backend = db.get_database_backend();
    let mut q = Sql::new(backend);
    q.push("INSERT INTO webhook_nonces (nonce, seen_at) VALUES (")
        .bind(nonce.to_owned())
        .push(", ")
        .bind(now)
        .push(")");
    match db.execute(q.statement()).await {
        Ok(_) => return Ok(Taken::First),
        Err(e) if db::is_unique_violation(&e) => {}
        Err(e) => return Err(e),
    }
    let mut q = Sql::new(backend);
    q.push("UPDATE webhook_nonces SET seen_at = ")
        .bind(now)
        .push(" WHERE nonce = ")
        .bind(nonce.to_owned())
        .push(" AND settled_at IS NULL AND seen_at < ")
        .bind(now - ABANDONED_MS);
    if db.execute(q.statement()).await?.rows_affected() == 1 {
        return Ok(Taken::First);
    }
    let mut q = Sql::new(backend);
    q.push("SELECT settled_at FROM webhook_nonces WHERE nonce = ")
        .bind(nonce.to_owned());
    let settled: Option<Option<i64>> = db
        .query_one(q.statement())
        .await?
        .map(|r| r.try_get("", "settled_at"))
        .transpose()?;
    Ok(match settled {
        Some(Some(_)) => Taken::Used,
        // Being handled, or forgotten a moment ago after a failure: either way the provider's
        // next retry counts.
        Some(None) | None => Taken::Running,
    })
}

/// The request of a taken nonce was handled: the nonce is spent for good.
pub async fn settle(db: &impl ConnectionTrait, nonce: &str, now: i64) -> Result<(), DbErr> {
    let mut q = Sql::new(db.get_database_backend());
    q.push("UPDATE webhook_nonces SET settled_at = ")
        .bind(now)
        .push(" WHERE nonce = ")
        .bind(nonce.to_owned());
    db.execute(q.statement()).await.map(|_| ())
}

/// Forgets a nonce whose request failed on our side, so the provider's retry of the very
/// same request is accepted.
pub async fn forget(db: &impl ConnectionTrait, nonce: &str) -> Result<(), DbErr> {
    let mut q = Sql::new(db.get_database_backend());
    q.push("DELETE FROM webhook_nonces WHERE nonce = ")
        .bind(nonce.to_owned());
    db.execute(q.statement()).await.map(|_| ())
}
