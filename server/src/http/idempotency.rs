//! `Idempotency-Key` for mutations that assign codes or send: the first answer to a
//! key is stored and every retry with the same key and the same request replays it, marked
//! `Idempotent-Replayed: true`. The same key with a different request is refused (422), and
//! a retry that arrives while the first is still running gets 409.
//!
//! Keys belong to the API key that used them and live for 24 hours. Only answers that mean
//! something for a retry are kept: authentication failures, rate limits, conflicts (which say
//! "not now") and server errors are not, so the retry runs again. A request whose client went
//! away still runs to its end and keeps its answer; one whose handler panicked releases its
//! key, and one left behind by a process that died is released after ten minutes.

use super::{api_auth::Caller, error::ApiError};
use crate::{db, ids::now_millis, services::rule_sql::Sql, startup::AppState};
use app::error::AppError;
use axum::{
    body::{to_bytes, Body},
    extract::{FromRequestParts, Request, State},
    http::{HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sea_orm::ConnectionTrait;
use sha2::{Digest, Sha256};

pub const HEADER: &str = "idempotency-key";
const REPLAYED: &str = "idempotent-replayed";
/// Largest request or response body kept.
const MAX_BODY: usize = 1 << 20;
const LIFETIME_MS: i64 = 24 * 3_600_000;
/// After this long, a key still marked in progress belongs to a process that died.
const ABANDONED_MS: i64 = 10 * 60_000;

/// Releases a claimed key when the request ends without an answer to keep: its future was
/// dropped (the client disconnected) or unwound (a panic).
struct Claimed {
    db: sea_orm::DatabaseConnection,
    caller: String,
    key: String,
    settled: bool,
}

impl Drop for Claimed {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let (db, caller, key) = (
            self.db.clone(),
            std::mem::take(&mut self.caller),
            std::mem::take(&mut self.key),
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = forget(&db, &caller, &key).await {
                    tracing::warn!(error = %e, "releasing an unanswered Idempotency-Key failed");
                }
            });
        }
    }
}

/// The key a header carries, when it is 1 to `max` visible ASCII characters.
pub fn valid_key(value: &HeaderValue, max: usize) -> Option<&str> {
    value
        .to_str()
        .ok()
        .filter(|k| (1..=max).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
}

pub async fn idempotent(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(key) = req.headers().get(HEADER).cloned() else {
        return next.run(req).await;
    };
    let key = match valid_key(&key, 255) {
        Some(k) => k.to_owned(),
        None => {
            return ApiError(AppError::validation(
                "Idempotency-Key",
                "Use 1 to 255 visible ASCII characters, such as a UUID.",
            ))
            .into_response()
        }
    };
    let (mut parts, body) = req.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(Caller(principal)) => principal.key_id,
        Err(rejection) => return rejection.into_response(),
    };
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return ApiError(AppError::validation(
            "body",
            "The request body is too large.",
        ))
        .into_response();
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update([0]);
    hasher.update(parts.uri.path());
    hasher.update([0]);
    hasher.update(&bytes);
    let fingerprint = hex::encode(hasher.finalize());

    let db = &state.db;
    let now = now_millis();
    match claim(db, &caller, &key, &fingerprint, now).await {
        Ok(None) => {}
        Ok(Some(answer)) => return answer,
        Err(e) => return ApiError(AppError::internal(&e)).into_response(),
    }
    // From here the request runs on a task of its own: a client that hangs up (its timeout
    // shorter than a test send's wait, say) does not cancel it, so its answer is stored and
    // the retry replays it instead of doing the work again.
    let db = db.clone();
    let finished = tokio::spawn(async move {
        let mut claimed = Claimed {
            db: db.clone(),
            caller: caller.clone(),
            key: key.clone(),
            settled: false,
        };
        let response = next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
        let status = response.status();
        let keep = !status.is_server_error()
            && !matches!(
                status,
                StatusCode::UNAUTHORIZED
                    | StatusCode::FORBIDDEN
                    | StatusCode::CONFLICT
                    | StatusCode::TOO_MANY_REQUESTS
            );
        let (head, body) = response.into_parts();
        let Ok(body) = to_bytes(body, MAX_BODY).await else {
            // (The guard releases the key.)
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let stored = if keep {
            let mut q = Sql::new(db.get_database_backend());
            q.push("UPDATE idempotency_keys SET status = ")
                .bind(i32::from(status.as_u16()))
                .push(", body = ")
                .bind(String::from_utf8_lossy(&body).into_owned())
                .push(" WHERE caller = ")
                .bind(caller.clone())
                .push(" AND idem_key = ")
                .bind(key.clone());
            db.execute(q.statement()).await.map(|_| ())
        } else {
            forget(&db, &caller, &key).await
        };
        claimed.settled = true;
        if let Err(e) = stored {
            tracing::warn!(error = %e, "storing an idempotent answer failed");
        }
        Response::from_parts(head, Body::from(body))
    })
    .await;
    // A handler that panicked has released its key (the guard, while unwinding).
    finished.unwrap_or_else(|e| {
        tracing::error!(error = %e, "an idempotent request failed");
        ApiError(AppError::internal(&e)).into_response()
    })
}

/// Records the key as in progress, or answers from what is stored under it.
async fn claim(
    db: &sea_orm::DatabaseConnection,
    caller: &str,
    key: &str,
    fingerprint: &str,
    now: i64,
) -> Result<Option<Response>, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    // An expired key is free again, and so is one a dead process left in progress.
    let mut q = Sql::new(backend);
    q.push("DELETE FROM idempotency_keys WHERE caller = ")
        .bind(caller.to_owned())
        .push(" AND idem_key = ")
        .bind(key.to_owned())
        .push(" AND (created_at < ")
        .bind(now - LIFETIME_MS)
        .push(" OR (status IS NULL AND created_at < ")
        .bind(now - ABANDONED_MS)
        .push("))");
    db.execute(q.statement()).await?;
    let mut q = Sql::new(backend);
    q.push("INSERT INTO idempotency_keys (caller, idem_key, fingerprint, status, body, created_at) VALUES (")
        .bind(caller.to_owned())
        .push(", ")
        .bind(key.to_owned())
        .push(", ")
        .bind(fingerprint.to_owned())
        .push(", NULL, NULL, ")
        .bind(now)
        .push(")");
    match db.execute(q.statement()).await {
        Ok(_) => return Ok(None),
        Err(e) if db::is_unique_violation(&e) => {}
        Err(e) => return Err(e),
    }
    let mut q = Sql::new(backend);
    q.push("SELECT fingerprint, status, body FROM idempotency_keys WHERE caller = ")
        .bind(caller.to_owned())
        .push(" AND idem_key = ")
        .bind(key.to_owned());
    let Some(row) = db.query_one(q.statement()).await? else {
        return Ok(Some(
            ApiError(AppError::conflict(
                "This Idempotency-Key was just released; retry.",
            ))
            .into_response(),
        ));
    };
    let stored_fingerprint: String = row.try_get("", "fingerprint")?;
    if stored_fingerprint != fingerprint {
        return Ok(Some(
            ApiError(AppError::validation(
                "Idempotency-Key",
                "This key was used with a different request; use a new key for a new request.",
            ))
            .into_response(),
        ));
    }
    let status: Option<i32> = row.try_get("", "status")?;
    let body: Option<String> = row.try_get("", "body")?;
    Ok(Some(match (status, body) {
        (Some(status), Some(body)) => {
            let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
            let mut r = (status, body).into_response();
            r.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r.headers_mut()
                .insert(REPLAYED, HeaderValue::from_static("true"));
            r
        }
        _ => ApiError(AppError::conflict(
            "A request with this Idempotency-Key is still being processed; retry in a moment.",
        ))
        .into_response(),
    }))
}

async fn forget(
    db: &sea_orm::DatabaseConnection,
    caller: &str,
    key: &str,
) -> Result<(), sea_orm::DbErr> {
    let mut q = Sql::new(db.get_database_backend());
    q.push("DELETE FROM idempotency_keys WHERE caller = ")
        .bind(caller.to_owned())
        .push(" AND idem_key = ")
        .bind(key.to_owned());
    db.execute(q.statement()).await.map(|_| ())
}
