//! What the server must provide to the app's server functions. The app never touches the
//! database, HTTP clients or the runtime directly: it calls these ports, which the server
//! implements and puts into the Leptos context.

use crate::{
    domain::{EmailAddress, Label, Password, Role},
    dto::{
        ApiKeyView, ConsentChange, CreatedApiKey, CurrentUser, CustomerInput, CustomerView,
        EventView, UserView,
    },
    error::AppError,
};
use async_trait::async_trait;
use std::sync::Arc;

/// Name of the HttpOnly cookie that carries the session token.
pub const SESSION_COOKIE: &str = "codecast_session";

/// A freshly minted session: the token goes into the cookie, only its hash into the database.
pub struct NewSession {
    pub token: String,
    pub max_age_secs: i64,
}

/// One page of a list, in id order.
pub struct Page {
    pub limit: u64,
    pub starting_after: Option<String>,
}

#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// True until the first admin exists.
    async fn setup_required(&self) -> Result<bool, AppError>;
    /// Creates the first admin; refused once setup is done (even when two browsers race).
    async fn create_first_admin(
        &self,
        email: EmailAddress,
        password: Password,
    ) -> Result<CurrentUser, AppError>;
    /// Checks a password, with throttling per address and per client.
    async fn authenticate(
        &self,
        email: &str,
        password: &str,
        client: &str,
    ) -> Result<CurrentUser, AppError>;
    async fn start_session(&self, user: &CurrentUser) -> Result<NewSession, AppError>;
    async fn end_session(&self, token: &str) -> Result<(), AppError>;

    async fn list_users(&self) -> Result<Vec<UserView>, AppError>;
    async fn create_user(
        &self,
        email: EmailAddress,
        role: Role,
        password: Password,
    ) -> Result<UserView, AppError>;
    async fn delete_user(&self, actor: &CurrentUser, id: &str) -> Result<(), AppError>;

    async fn list_api_keys(&self, page: Page) -> Result<(Vec<ApiKeyView>, bool), AppError>;
    async fn create_api_key(
        &self,
        name: Label,
        role: Role,
        created_by: Option<&str>,
    ) -> Result<CreatedApiKey, AppError>;
    async fn revoke_api_key(&self, id: &str) -> Result<(), AppError>;
}

#[async_trait]
pub trait Customers: Send + Sync + 'static {
    /// Customers whose name, email, phone or source id contains `query` (all when empty), by id.
    async fn search(&self, query: &str, page: Page) -> Result<(Vec<CustomerView>, bool), AppError>;
    /// By id (`cust_…`) or, failing that, by source id.
    async fn get(&self, id_or_source_id: &str) -> Result<CustomerView, AppError>;
    /// Creates, or updates the customer with the same source id; `true` when created.
    /// `actor` (who, for the consent ledger) and `source` (api, ui, import) are recorded.
    async fn upsert(
        &self,
        input: CustomerInput,
        source: &str,
        actor: &str,
    ) -> Result<(CustomerView, bool), AppError>;
    async fn delete(&self, id: &str) -> Result<(), AppError>;
    /// Stores an event and upserts its customer (by source id) in one transaction; answers
    /// with the event's id and the customer.
    async fn track_event(
        &self,
        name: &str,
        customer: CustomerInput,
        metadata: serde_json::Map<String, serde_json::Value>,
        actor: &str,
    ) -> Result<(String, CustomerView), AppError>;
    /// A customer's latest events, newest first.
    async fn recent_events(
        &self,
        customer_id: &str,
        limit: u64,
    ) -> Result<Vec<EventView>, AppError>;
    /// The country national phone numbers are read in (ISO 3166 alpha-2).
    async fn default_country(&self) -> Result<String, AppError>;
    /// Sets it (admins, in Settings); answers with the stored, upper-cased code.
    async fn set_default_country(&self, code: &str) -> Result<String, AppError>;
    /// Every consent change of a customer, newest first.
    async fn consent_history(&self, id: &str) -> Result<Vec<ConsentChange>, AppError>;
    /// Updates the customer with this id (the source id may change too).
    async fn update(
        &self,
        id: &str,
        input: CustomerInput,
        source: &str,
        actor: &str,
    ) -> Result<CustomerView, AppError>;
}

/// Everything server functions reach through the context.
#[derive(Clone)]
pub struct Ports {
    pub accounts: Arc<dyn Accounts>,
    pub customers: Arc<dyn Customers>,
    /// Set the `Secure` flag on cookies (the public URL is https).
    pub secure_cookies: bool,
    /// `CODECAST_PUBLIC_URL`: the base of links in messages (QR images).
    pub public_url: String,
}

/// The value of one cookie in a request's `Cookie` headers.
pub fn read_cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// `Set-Cookie` value for a session. SameSite=Lax keeps the cookie off cross-site posts,
/// HttpOnly keeps it from scripts.
pub fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = http::HeaderMap::new();
        headers.append(
            http::header::COOKIE,
            "a=1; codecast_session=tok; b=2".parse().unwrap(),
        );
        assert_eq!(read_cookie(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(read_cookie(&headers, "missing"), None);
    }

    #[test]
    fn session_cookies_are_http_only_and_same_site() {
        let c = session_cookie("t", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure"));
    }
}
