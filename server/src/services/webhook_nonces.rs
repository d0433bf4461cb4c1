//! Webhook nonces accepted once (see migrations 12 and 14): a signature that signs no time is
//! only as good as the promise that its nonce is new. They are kept for good: a nonce
//! forgotten would make its captured signature valid again, for any body (Plivo's V2 signs
//! none).
//!
//! A nonce is taken when its request starts ([`take`]), with a hash of that request, settled
//! when the request was handled ([`settle`]) and released when handling failed on our side
//! ([`release`]), so that the provider's retry of the very same request counts. Whatever
//! happens, only that very request (the same hash) is ever handled again under the nonce.

use super::rule_sql::Sql;
use crate::db;
use sea_orm::{ConnectionTrait, DbErr};
use sha2::{Digest, Sha256};

/// The longest nonce kept; a provider's is some twenty digits.
pub const NONCE_MAX: usize = 255;

/// A nonce taken and never settled this long ago belongs to a request whose process stopped
/// while handling it (a handler takes a few database writes): its retry is handled.
pub const ABANDONED_MS: i64 = 120_000;

/// What a request's nonce says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// New (or abandoned by a stopped process): handle the request, then settle or release
    /// the nonce with this token.
    First { token: i64 },
    /// The same request is being handled right now: its retry should come back later.
    Running,
    /// Handled before, or taken by another request: a replay.
    Used,
}

/// What identifies a request under its nonce: its method, address and body.
pub fn request_hash(method: &str, url: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b"\n");
    h.update(url.as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

/// Takes `nonce` for the request with `hash`, starting now.
pub async fn take(
    db: &impl ConnectionTrait,
    nonce: &str,
    hash: &str,
    now: i64,
) -> Result<Taken, DbErr> {
    if nonce.is_empty() || nonce.len() > NONCE_MAX {
        return Ok(Taken::Used);
    }
    let backend = db.get_database_backend();
    let mut q = Sql::new(backend);
    q.push("INSERT INTO webhook_nonces (nonce, seen_at, settled_at, request_hash) VALUES (")
        .bind(nonce.to_owned())
        .push(", ")
        .bind(now)
        .push(", NULL, ")
        .bind(hash.to_owned())
        .push(")");
    match db.execute(q.statement()).await {
        Ok(_) => return Ok(Taken::First { token: now }),
        Err(e) if db::is_unique_violation(&e) => {}
        Err(e) => return Err(e),
    }
    let mut q = Sql::new(backend);
    q.push("UPDATE webhook_nonces SET seen_at = ")
        .bind(now)
        .push(" WHERE nonce = ")
        .bind(nonce.to_owned())
        .push(" AND request_hash = ")
        .bind(hash.to_owned())
        .push(" AND settled_at IS NULL AND seen_at < ")
        .bind(now - ABANDONED_MS);
    if db.execute(q.statement()).await?.rows_affected() == 1 {
        return Ok(Taken::First { token: now });
    }
    let mut q = Sql::new(backend);
    q.push("SELECT settled_at, request_hash FROM webhook_nonces WHERE nonce = ")
        .bind(nonce.to_owned());
    let row: Option<(Option<i64>, Option<String>)> = match db.query_one(q.statement()).await? {
        Some(r) => Some((r.try_get("", "settled_at")?, r.try_get("", "request_hash")?)),
        None => None,
    };
    Ok(match row {
        Some((None, Some(h))) if h == hash => Taken::Running,
        // Not there any more (nothing deletes a nonce): the provider's next retry decides.
        None => Taken::Running,
        _ => Taken::Used,
    })
}

/// The request that took a nonce with `token` was handled: the nonce is spent for good.
pub async fn settle(
    db: &impl ConnectionTrait,
    nonce: &str,
    token: i64,
    now: i64,
) -> Result<(), DbErr> {
    let mut q = Sql::new(db.get_database_backend());
    q.push("UPDATE webhook_nonces SET settled_at = ")
        .bind(now)
        .push(" WHERE nonce = ")
        .bind(nonce.to_owned())
        .push(" AND seen_at = ")
        .bind(token)
        .push(" AND settled_at IS NULL");
    db.execute(q.statement()).await.map(|_| ())
}

/// Releases a nonce whose request (the one that took it with `token`) failed on our side, so
/// the provider's retry of the very same request is handled at once. The row stays, with its
/// request's hash: deleting it would let a captured signature in with any other body. A nonce
/// taken over since, or settled, stays as it is.
pub async fn release(db: &impl ConnectionTrait, nonce: &str, token: i64) -> Result<(), DbErr> {
    let mut q = Sql::new(db.get_database_backend());
    q.push("UPDATE webhook_nonces SET seen_at = 0 WHERE nonce = ")
        .bind(nonce.to_owned())
        .push(" AND seen_at = ")
        .bind(token)
        .push(" AND settled_at IS NULL");
    db.execute(q.statement()).await.map(|_| ())
}
