//! `/v1/users/me` and `/v1/api-keys`: the first resources of the public API.

use super::{
    api_auth::{AdminCaller, Caller},
    error::{ApiError, ErrorBody},
    extract::{ApiJson, ApiQuery},
};
use crate::startup::AppState;
use app::{
    domain::{Label, Role},
    dto::ApiKeyView,
    error::AppError,
    ports::{Accounts, Page},
};
use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 500;

/// The caller of the API, identified by its key.
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// Always `api_key`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    /// `admin` or `marketer`.
    pub role: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub role: String,
    /// The first characters of the secret.
    pub prefix: String,
    /// RFC 3339.
    pub created_at: String,
    pub last_used_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub data: Vec<ApiKey>,
    pub has_more: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateApiKey {
    pub name: String,
    /// `admin` or `marketer` (default).
    pub role: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The key to send as `Authorization: Bearer …`. Shown only in this answer.
    pub secret: String,
}

#[derive(Deserialize, IntoParams)]
pub struct ListParams {
    /// 1 to 500; 50 by default.
    pub limit: Option<u64>,
    /// An id from the previous page: the list continues after it.
    pub starting_after: Option<String>,
}

pub fn rfc3339(millis: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

impl From<ApiKeyView> for ApiKey {
    fn from(k: ApiKeyView) -> Self {
        Self {
            id: k.id,
            name: k.name,
            role: k.role.as_str().to_owned(),
            prefix: k.prefix,
            created_at: rfc3339(k.created_at),
            last_used_at: k.last_used_at.map(rfc3339),
        }
    }
}

/// Parses `limit` against the API's bounds.
pub fn page(params: ListParams) -> Result<Page, AppError> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::validation(
            "limit",
            format!("Use a limit from 1 to {MAX_LIMIT}."),
        ));
    }
    Ok(Page {
        limit,
        starting_after: params.starting_after,
    })
}

/// Pages a list that is read whole because it stays short (segments, campaigns, promotion
/// tiers, integrations), in its own order: at most `limit` items after the one whose id is
/// `starting_after`, and whether more follow.
pub fn page_of<T>(
    items: Vec<T>,
    id: impl Fn(&T) -> &str,
    params: ListParams,
) -> Result<(Vec<T>, bool), AppError> {
    let page = page(params)?;
    let start = match page.starting_after.as_deref().filter(|a| !a.is_empty()) {
        None => 0,
        Some(after) => {
            items.iter().position(|x| id(x) == after).ok_or_else(|| {
                AppError::validation(
                    "starting_after",
                    format!("Nothing in this list has the id {after:?}."),
                )
            })? + 1
        }
    };
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
    let mut out: Vec<T> = items
        .into_iter()
        .skip(start)
        .take(limit.saturating_add(1))
        .collect();
    let more = out.len() > limit;
    out.truncate(limit);
    Ok((out, more))
}

/// Who is calling: the API key's id, name and role.
#[utoipa::path(get, path = "/v1/users/me", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(Caller(principal): Caller) -> Json<Me> {
    Json(Me {
        kind: "api_key",
        id: principal.key_id,
        name: principal.name,
        role: principal.role.as_str().to_owned(),
    })
}

/// Active (unrevoked) API keys, oldest first.
#[utoipa::path(get, path = "/v1/api-keys", tag = "account", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = ApiKeyList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    _: AdminCaller,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ApiKeyList>, ApiError> {
    let (keys, has_more) = state.accounts.list_api_keys(page(params)?).await?;
    Ok(Json(ApiKeyList {
        data: keys.into_iter().map(ApiKey::from).collect(),
        has_more,
    }))
}

/// Creates a key; the answer is the only place its secret appears.
#[utoipa::path(post, path = "/v1/api-keys", tag = "account", security(("bearer" = [])), request_body = CreateApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    _: AdminCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    let mut fields = BTreeMap::new();
    let name = Label::parse(&body.name)
        .map_err(|e| fields.insert("name".into(), e))
        .ok();
    let role = Role::parse(body.role.as_deref().unwrap_or("marketer"))
        .map_err(|e| fields.insert("role".into(), e))
        .ok();
    let (Some(name), Some(role)) = (name, role) else {
        return Err(AppError::validation_fields(fields).into());
    };
    let created = state.accounts.create_api_key(name, role, None).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            key: created.key.into(),
            secret: created.secret,
        }),
    ))
}

/// Revokes a key at once; requests with it get 401 from then on.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "account", security(("bearer" = [])),
    params(("id" = String, Path, description = "The key's id (key_…)")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    _: AdminCaller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.accounts.revoke_api_key(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod paging {
    use super::{page_of, ListParams};

    fn ids(limit: Option<u64>, after: Option<&str>) -> Result<(Vec<&'static str>, bool), String> {
        page_of(
            vec!["a", "b", "c", "d", "e"],
            |s| s,
            ListParams {
                limit,
                starting_after: after.map(str::to_owned),
            },
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn short_lists_page_like_the_long_ones() {
        assert_eq!(ids(Some(2), None).unwrap(), (vec!["a", "b"], true));
        assert_eq!(ids(Some(2), Some("b")).unwrap(), (vec!["c", "d"], true));
        assert_eq!(ids(Some(2), Some("d")).unwrap(), (vec!["e"], false));
        assert_eq!(
            ids(None, None).unwrap(),
            (vec!["a", "b", "c", "d", "e"], false)
        );
        assert_eq!(ids(Some(5), Some("e")).unwrap(), (vec![], false));
        assert!(ids(Some(2), Some("zz")).is_err());
        assert!(ids(Some(0), None).is_err());
    }
}
