//! Users, sessions and API keys.

use super::{login_throttle::LoginThrottle, tokens};
use crate::{
    db::{self, api_keys, instance, sessions, users},
    ids::{new_id, now_millis},
};
use app::{
    domain::{EmailAddress, Label, Password, Role},
    dto::{ApiKeyView, CreatedApiKey, CurrentUser, UserView},
    error::AppError,
    ports::{Accounts, NewSession, Page},
};
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use async_trait::async_trait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

/// How long a sign-in lasts.
pub const SESSION_DAYS: i64 = 14;
/// `last_used_at` of an API key is written at most this often, not on every request.
const KEY_TOUCH_INTERVAL_MS: i64 = 60_000;

/// Who called the REST API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPrincipal {
    pub key_id: String,
    pub name: String,
    pub role: Role,
}

pub struct AccountService {
    db: DatabaseConnection,
    throttle: LoginThrottle,
    setup_done: AtomicBool,
    /// A hash to verify against when the address is unknown, so timing does not reveal accounts.
    dummy_hash: String,
}

impl AccountService {
    pub fn new(db: DatabaseConnection) -> Arc<Self> {
        let dummy_hash = hash_password_blocking("codecast-timing-equaliser").unwrap_or_default();
        Arc::new(Self {
            db,
            throttle: LoginThrottle::default(),
            setup_done: AtomicBool::new(false),
            dummy_hash,
        })
    }

    /// The signed-in user for a session cookie's token, if the session is live.
    pub async fn resolve_session(&self, token: &str) -> Result<Option<CurrentUser>, AppError> {
        let found = sessions::Entity::find_by_id(tokens::digest(token))
            .filter(sessions::Column::ExpiresAt.gt(now_millis()))
            .find_also_related(users::Entity)
            .one(&self.db)
            .await
            .map_err(internal)?;
        Ok(found
            .and_then(|(_, user)| user)
            .and_then(|u| current_user(&u)))
    }

    /// The API key behind a bearer token, if it exists and is not revoked.
    pub async fn resolve_api_key(&self, secret: &str) -> Result<Option<ApiPrincipal>, AppError> {
        let Some(key) = api_keys::Entity::find()
            .filter(api_keys::Column::KeyHash.eq(tokens::digest(secret)))
            .filter(api_keys::Column::RevokedAt.is_null())
            .one(&self.db)
            .await
            .map_err(internal)?
        else {
            return Ok(None);
        };
        let now = now_millis();
        if key
            .last_used_at
            .is_none_or(|t| now - t > KEY_TOUCH_INTERVAL_MS)
        {
            api_keys::Entity::update_many()
                .col_expr(api_keys::Column::LastUsedAt, now.into())
                .filter(api_keys::Column::Id.eq(key.id.clone()))
                .exec(&self.db)
                .await
                .map_err(internal)?;
        }
        let Ok(role) = Role::parse(&key.role) else {
            return Err(AppError::internal_msg("api key with unknown role"));
        };
        Ok(Some(ApiPrincipal {
            key_id: key.id,
            name: key.name,
            role,
        }))
    }

    /// For the CLI: any user, any role. The first user created this way completes setup.
    pub async fn create_user_any(
        &self,
        email: EmailAddress,
        role: Role,
        password: Password,
    ) -> Result<UserView, AppError> {
        let hash = hash_password(password).await?;
        let txn = crate::db::begin(&self.db).await.map_err(internal)?;
        let user = insert_user(&txn, &email, role, hash).await?;
        if instance::Entity::find_by_id(1)
            .one(&txn)
            .await
            .map_err(internal)?
            .is_none()
        {
            insert_instance(&txn)
                .await
                .or_else(|e| if is_conflict(&e) { Ok(()) } else { Err(e) })?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(user)
    }

    /// For the CLI: sets a new password and signs the user out everywhere.
    pub async fn set_password(
        &self,
        email: &EmailAddress,
        password: Password,
    ) -> Result<(), AppError> {
        let hash = hash_password(password).await?;
        let user = find_user_by_email(&self.db, email.as_str())
            .await?
            .ok_or_else(|| AppError::not_found(format!("No user has the email {email}.")))?;
        let txn = crate::db::begin(&self.db).await.map_err(internal)?;
        users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, hash.into())
            .filter(users::Column::Id.eq(user.id.clone()))
            .exec(&txn)
            .await
            .map_err(internal)?;
        sessions::Entity::delete_many()
            .filter(sessions::Column::UserId.eq(user.id))
            .exec(&txn)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)
    }
}

#[async_trait]
impl Accounts for AccountService {
    async fn setup_required(&self) -> Result<bool, AppError> {
        if self.setup_done.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let done = instance::Entity::find()
            .count(&self.db)
            .await
            .map_err(internal)?
            > 0;
        if done {
            self.setup_done.store(true, Ordering::Relaxed);
        }
        Ok(!done)
    }

    async fn create_first_admin(
        &self,
        email: EmailAddress,
        password: Password,
    ) -> Result<CurrentUser, AppError> {
        let already = || AppError::conflict("Codecast is already set up. Sign in instead.");
        if !self.setup_required().await? {
            return Err(already());
        }
        let hash = hash_password(password).await?;
        let txn = crate::db::begin(&self.db).await.map_err(internal)?;
        // The instance row's primary key decides a race between two set-up forms.
        insert_instance(&txn)
            .await
            .map_err(|e| if is_conflict(&e) { already() } else { e })?;
        let user = insert_user(&txn, &email, Role::Admin, hash).await?;
        txn.commit().await.map_err(internal)?;
        self.setup_done.store(true, Ordering::Relaxed);
        Ok(CurrentUser {
            id: user.id,
            email: user.email,
            role: user.role,
        })
    }

    async fn authenticate(
        &self,
        email: &str,
        password: &str,
        client: &str,
    ) -> Result<CurrentUser, AppError> {
        if let Err(wait) = self.throttle.check(email, client) {
            return Err(AppError::RateLimited {
                message: format!(
                    "Too many failed sign-ins. Try again in {} minute(s).",
                    wait.div_ceil(60)
                ),
                retry_after_secs: wait,
            });
        }
        let user = find_user_by_email(&self.db, &email.trim().to_lowercase()).await?;
        let hash = user
            .as_ref()
            .map_or(self.dummy_hash.clone(), |u| u.password_hash.clone());
        let matches = verify_password(password.to_owned(), hash).await?;
        match user.filter(|_| matches).and_then(|u| current_user(&u)) {
            Some(found) => {
                self.throttle.record_success(email);
                let now = now_millis();
                users::Entity::update_many()
                    .col_expr(users::Column::LastLoginAt, now.into())
                    .filter(users::Column::Id.eq(found.id.clone()))
                    .exec(&self.db)
                    .await
                    .map_err(internal)?;
                sessions::Entity::delete_many()
                    .filter(sessions::Column::UserId.eq(found.id.clone()))
                    .filter(sessions::Column::ExpiresAt.lte(now))
                    .exec(&self.db)
                    .await
                    .map_err(internal)?;
                Ok(found)
            }
            None => {
                self.throttle.record_failure(email, client);
                Err(AppError::Unauthorized {
                    message: "That email and password do not match an account.".into(),
                })
            }
        }
    }

    async fn start_session(&self, user: &CurrentUser) -> Result<NewSession, AppError> {
        let token = tokens::random_token(32);
        let now = now_millis();
        let max_age_secs = SESSION_DAYS * 24 * 3600;
        sessions::ActiveModel {
            token_hash: Set(tokens::digest(&token)),
            user_id: Set(user.id.clone()),
            created_at: Set(now),
            expires_at: Set(now + max_age_secs * 1000),
        }
        .insert(&self.db)
        .await
        .map_err(internal)?;
        Ok(NewSession {
            token,
            max_age_secs,
        })
    }

    async fn end_session(&self, token: &str) -> Result<(), AppError> {
        sessions::Entity::delete_by_id(tokens::digest(token))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn list_users(&self) -> Result<Vec<UserView>, AppError> {
        let rows = users::Entity::find()
            .order_by_asc(users::Column::Id)
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows.iter().filter_map(user_view).collect())
    }

    async fn create_user(
        &self,
        email: EmailAddress,
        role: Role,
        password: Password,
    ) -> Result<UserView, AppError> {
        let hash = hash_password(password).await?;
        insert_user(&self.db, &email, role, hash).await
    }

    async fn delete_user(&self, actor: &CurrentUser, id: &str) -> Result<(), AppError> {
        if actor.id == id {
            return Err(AppError::conflict(
                "You cannot remove yourself; another admin can.",
            ));
        }
        let result = users::Entity::delete_by_id(id.to_owned())
            .exec(&self.db)
            .await
            .map_err(internal)?;
        if result.rows_affected == 0 {
            return Err(AppError::not_found("That user no longer exists."));
        }
        Ok(())
    }

    async fn list_api_keys(&self, page: Page) -> Result<(Vec<ApiKeyView>, bool), AppError> {
        let mut query = api_keys::Entity::find()
            .filter(api_keys::Column::RevokedAt.is_null())
            .order_by_asc(api_keys::Column::Id)
            .limit(page.limit + 1);
        if let Some(after) = page.starting_after {
            query = query.filter(api_keys::Column::Id.gt(after));
        }
        let mut rows = query.all(&self.db).await.map_err(internal)?;
        let has_more = rows.len() as u64 > page.limit;
        rows.truncate(page.limit as usize);
        Ok((rows.iter().filter_map(api_key_view).collect(), has_more))
    }

    async fn create_api_key(
        &self,
        name: Label,
        role: Role,
        created_by: Option<&str>,
    ) -> Result<CreatedApiKey, AppError> {
        let secret = format!("cc_{}", tokens::random_token(24));
        let model = api_keys::ActiveModel {
            id: Set(new_id("key")),
            name: Set(name.into_inner()),
            role: Set(role.as_str().to_owned()),
            prefix: Set(secret.chars().take(10).collect()),
            key_hash: Set(tokens::digest(&secret)),
            created_by: Set(created_by.map(str::to_owned)),
            created_at: Set(now_millis()),
            last_used_at: Set(None),
            revoked_at: Set(None),
        }
        .insert(&self.db)
        .await
        .map_err(internal)?;
        let key =
            api_key_view(&model).ok_or_else(|| AppError::internal_msg("stored key unreadable"))?;
        Ok(CreatedApiKey { key, secret })
    }

    async fn revoke_api_key(&self, id: &str) -> Result<(), AppError> {
        let result = api_keys::Entity::update_many()
            .col_expr(api_keys::Column::RevokedAt, now_millis().into())
            .filter(api_keys::Column::Id.eq(id))
            .filter(api_keys::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(internal)?;
        if result.rows_affected == 0 {
            return Err(AppError::not_found("No active API key has that id."));
        }
        Ok(())
    }
}

fn internal(err: DbErr) -> AppError {
    AppError::internal(&err)
}

fn is_conflict(err: &AppError) -> bool {
    matches!(err, AppError::Conflict { .. })
}

async fn insert_instance(db: &impl ConnectionTrait) -> Result<(), AppError> {
    instance::ActiveModel {
        id: Set(1),
        setup_at: Set(now_millis()),
    }
    .insert(db)
    .await
    .map(|_| ())
    .map_err(|e| {
        if db::is_unique_violation(&e) {
            AppError::conflict("already set up")
        } else {
            internal(e)
        }
    })
}

async fn insert_user(
    db: &impl ConnectionTrait,
    email: &EmailAddress,
    role: Role,
    password_hash: String,
) -> Result<UserView, AppError> {
    let model = users::ActiveModel {
        id: Set(new_id("usr")),
        email: Set(email.as_str().to_owned()),
        password_hash: Set(password_hash),
        role: Set(role.as_str().to_owned()),
        created_at: Set(now_millis()),
        last_login_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(|e| {
        if db::is_unique_violation(&e) {
            AppError::validation("email", "A user with this email already exists.")
        } else {
            internal(e)
        }
    })?;
    user_view(&model).ok_or_else(|| AppError::internal_msg("stored user unreadable"))
}

async fn find_user_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<users::Model>, AppError> {
    users::Entity::find()
        .filter(users::Column::Email.eq(email))
        .one(db)
        .await
        .map_err(internal)
}

fn current_user(u: &users::Model) -> Option<CurrentUser> {
    Some(CurrentUser {
        id: u.id.clone(),
        email: u.email.clone(),
        role: Role::parse(&u.role).ok()?,
    })
}

fn user_view(u: &users::Model) -> Option<UserView> {
    Some(UserView {
        id: u.id.clone(),
        email: u.email.clone(),
        role: Role::parse(&u.role).ok()?,
        created_at: u.created_at,
        last_login_at: u.last_login_at,
    })
}

fn api_key_view(k: &api_keys::Model) -> Option<ApiKeyView> {
    Some(ApiKeyView {
        id: k.id.clone(),
        name: k.name.clone(),
        role: Role::parse(&k.role).ok()?,
        prefix: k.prefix.clone(),
        created_at: k.created_at,
        last_used_at: k.last_used_at,
    })
}

fn hash_password_blocking(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal_msg(&format!("argon2: {e}")))
}

/// Argon2id hashing takes tens of milliseconds of CPU: it runs off the async workers.
async fn hash_password(password: Password) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_password_blocking(password.expose()))
        .await
        .map_err(|e| AppError::internal(&e))?
}

async fn verify_password(password: String, hash: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(|e| AppError::internal(&e))
}
