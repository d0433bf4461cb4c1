//! Bearer API keys: who is calling, and may they.

use super::error::ApiError;
use crate::services::accounts::{AccountService, ApiPrincipal};
use app::error::AppError;
use axum::{
    extract::{FromRef, FromRequestParts},
    http::{header, request::Parts},
};
use std::sync::Arc;

/// Any valid, unrevoked key.
pub struct Caller(pub ApiPrincipal);

/// A key with the admin role.
pub struct AdminCaller(pub ApiPrincipal);

impl<S> FromRequestParts<S> for Caller
where
    Arc<AccountService>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let unauthorized = |message: &str| {
            ApiError(AppError::Unauthorized {
                message: message.to_owned(),
            })
        };
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("Send an API key as Authorization: Bearer <key>."))?;
        let secret = header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| unauthorized("The Authorization header must be: Bearer <key>."))?;
        let accounts = Arc::<AccountService>::from_ref(state);
        accounts
            .resolve_api_key(secret)
            .await?
            .map(Caller)
            .ok_or_else(|| unauthorized("This API key is not valid (wrong, or revoked)."))
    }
}

impl<S> FromRequestParts<S> for AdminCaller
where
    Arc<AccountService>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Caller(principal) = Caller::from_request_parts(parts, state).await?;
        if !principal.role.is_admin() {
            return Err(ApiError(AppError::Forbidden {
                message: "This endpoint needs an API key with the admin role.".into(),
            }));
        }
        Ok(AdminCaller(principal))
    }
}
