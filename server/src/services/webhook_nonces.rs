//! Webhook nonces accepted once (see migration 12): a signature that signs no time is only
//! as good as the promise that its nonce is new. They are kept for good: a nonce forgotten
//! would make its captured signature valid again, for any body (Plivo's V2 signs none).

use super::rule_sql::Sql;
use crate::db;
use sea_orm::{ConnectionTrait, DbErr};

/// The longest nonce kept; a provider's is some twenty digits.
pub const NONCE_MAX: usize = 255;

/// Records `nonce` and says whether it is the first time it is seen.
pub async fn first_use(db: &impl ConnectionTrait, nonce: &str, now: i64) -> Result<bool, DbErr> {
    if nonce.is_empty() || nonce.len() > NONCE_MAX {
        return Ok(false);
    }
    let mut q = Sql::new(db.get_database_backend());
    q.push("INSERT INTO webhook_nonces (nonce, seen_at) VALUES (")
        .bind(nonce.to_owned())
        .push(", ")
        .bind(now)
        .push(")");
    match db.execute(q.statement()).await {
        Ok(_) => Ok(true),
        Err(e) if db::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Forgets a nonce whose request failed on our side, so the provider's retry of the very
/// same request is accepted.
pub async fn forget(db: &impl ConnectionTrait, nonce: &str) -> Result<(), DbErr> {
    let mut q = Sql::new(db.get_database_backend());
    q.push("DELETE FROM webhook_nonces WHERE nonce = ")
        .bind(nonce.to_owned());
    db.execute(q.statement()).await.map(|_| ())
}
