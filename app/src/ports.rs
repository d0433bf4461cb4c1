//! What the server must provide to the app's server functions. The app never touches the
//! database, HTTP clients or the runtime directly: it calls these ports, which the server
//! implements and puts into the Leptos context.

use crate::{
    domain::{segment_rule::Rule, EmailAddress, Label, Password, Role},
    dto::{
        ApiKeyView, CampaignInput, CampaignView, ConsentChange, CreatedApiKey, CurrentUser,
        CustomerInput, CustomerSegment, CustomerView, DeliveryView, DistributionInput,
        DistributionView, EventView, FailureGroup, IntegrationInput, IntegrationView, MessagePage,
        PromotionTierInput, PromotionTierView, Publication, ReviewReport, SandboxMessage,
        SegmentInput, SegmentMember, SegmentView, SendOutcome, TestSendResult, UserView,
        VoucherPage, VoucherView,
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

#[async_trait]
pub trait Segments: Send + Sync + 'static {
    /// Every segment with its current member count, newest first.
    async fn list(&self) -> Result<Vec<SegmentView>, AppError>;
    async fn get(&self, id: &str) -> Result<SegmentView, AppError>;
    /// Creates a segment and fills it (static: the given customers; auto-update: the rule).
    async fn create(&self, input: SegmentInput) -> Result<SegmentView, AppError>;
    /// Renames a segment and, for an auto-update one, replaces its rule (members who no
    /// longer match leave, new matches enter).
    async fn update(
        &self,
        id: &str,
        name: &str,
        filter: Option<serde_json::Value>,
    ) -> Result<SegmentView, AppError>;
    async fn delete(&self, id: &str) -> Result<(), AppError>;
    /// How many customers match a rule right now (the rule builder's live count).
    async fn count(&self, filter: &Rule) -> Result<u64, AppError>;
    /// Current members, in customer id order.
    async fn members(&self, id: &str, page: Page) -> Result<(Vec<SegmentMember>, bool), AppError>;
    /// Adds customers (ids or source ids) to a static segment; answers with how many entered.
    async fn add_members(&self, id: &str, customers: &[String]) -> Result<u64, AppError>;
    async fn remove_member(&self, id: &str, customer_id: &str) -> Result<(), AppError>;
    /// The segments a customer is in or has left.
    async fn of_customer(&self, customer_id: &str) -> Result<Vec<CustomerSegment>, AppError>;
}

#[async_trait]
pub trait Campaigns: Send + Sync + 'static {
    async fn list(&self) -> Result<Vec<CampaignView>, AppError>;
    async fn get(&self, id: &str) -> Result<CampaignView, AppError>;
    /// Stores the campaign and starts generating its codes in the background.
    async fn create(&self, input: CampaignInput) -> Result<CampaignView, AppError>;
    /// Codes of a campaign matching `query` (code or holder), in generation order.
    async fn vouchers(
        &self,
        campaign_id: &str,
        query: &str,
        page: Page,
    ) -> Result<VoucherPage, AppError>;
    /// The customer's code of the campaign: the same one on every call.
    async fn publish(
        &self,
        campaign_id: &str,
        customer: &str,
        source_id: Option<String>,
    ) -> Result<Publication, AppError>;
    /// Marks a code redeemed; refused when unknown, expired, redeemed or someone else's.
    async fn redeem(&self, code: &str, customer: Option<&str>) -> Result<VoucherView, AppError>;
    /// Codes published to a customer, newest first.
    async fn of_customer(&self, customer_id: &str) -> Result<Vec<VoucherView>, AppError>;
    async fn promotion_tiers(&self) -> Result<Vec<PromotionTierView>, AppError>;
    async fn create_promotion_tier(
        &self,
        input: PromotionTierInput,
    ) -> Result<PromotionTierView, AppError>;
}

#[async_trait]
pub trait Integrations: Send + Sync + 'static {
    async fn list(&self) -> Result<Vec<IntegrationView>, AppError>;
    async fn get(&self, id: &str) -> Result<IntegrationView, AppError>;
    async fn create(&self, input: IntegrationInput) -> Result<IntegrationView, AppError>;
    /// Absent fields and empty secrets keep their stored values.
    async fn update(&self, id: &str, input: IntegrationInput) -> Result<IntegrationView, AppError>;
    async fn delete(&self, id: &str) -> Result<(), AppError>;
    /// Sends `body` to `to` (read in `default_country` when national) through the integration
    /// and answers with what the provider said.
    async fn test_send(
        &self,
        id: &str,
        to: &str,
        body: &str,
        default_country: &str,
    ) -> Result<TestSendResult, AppError>;
    /// The integration's messages (test sends, replies and distribution traffic), newest
    /// first: `limit` of them before message `before`.
    async fn messages(
        &self,
        id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryView>, AppError>;
    /// What the sandbox recorded, newest first (empty for real providers).
    async fn sandbox_inbox(&self, id: &str, limit: u32) -> Result<Vec<SandboxMessage>, AppError>;
}

#[async_trait]
pub trait Distributions: Send + Sync + 'static {
    /// Newest first; `status` filters (draft, sending, sent). Answers a page and whether more
    /// follow.
    async fn list(
        &self,
        status: Option<String>,
        page: Page,
    ) -> Result<(Vec<DistributionView>, bool), AppError>;
    async fn get(&self, id: &str) -> Result<DistributionView, AppError>;
    /// Only the status (draft, sending, sent): one row read, without the counts `get` makes.
    async fn status(&self, id: &str) -> Result<String, AppError>;
    /// A draft with defaults (the default integration preselected) and what `input` gives.
    async fn create(&self, input: DistributionInput) -> Result<DistributionView, AppError>;
    /// Changes a draft; given fields are checked, absent ones keep their values.
    async fn update(
        &self,
        id: &str,
        input: DistributionInput,
    ) -> Result<DistributionView, AppError>;
    /// Drafts only.
    async fn delete(&self, id: &str) -> Result<(), AppError>;
    /// A new draft with the same settings.
    async fn duplicate(&self, id: &str) -> Result<DistributionView, AppError>;
    /// The pre-send report, with a freshly minted send key.
    async fn review(&self, id: &str) -> Result<ReviewReport, AppError>;
    /// SEND: happens once per distribution; the same key again replays the outcome.
    async fn send(&self, id: &str, key: &str) -> Result<SendOutcome, AppError>;
    /// Failed, skipped and unconfirmed messages grouped by reason.
    async fn failures(&self, id: &str) -> Result<Vec<FailureGroup>, AppError>;
    /// The message log, searched by name, number or text.
    async fn messages(
        &self,
        id: &str,
        search: &str,
        status: Option<String>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<MessagePage, AppError>;
}

/// Everything server functions reach through the context.
#[derive(Clone)]
pub struct Ports {
    pub accounts: Arc<dyn Accounts>,
    pub customers: Arc<dyn Customers>,
    pub segments: Arc<dyn Segments>,
    pub campaigns: Arc<dyn Campaigns>,
    pub integrations: Arc<dyn Integrations>,
    pub distributions: Arc<dyn Distributions>,
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
