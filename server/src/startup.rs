//! Builds the application (database, services, router) and serves it until shut down.

use crate::{
    configuration::Settings,
    db,
    http::{self, guards},
    services::{
        accounts::AccountService, campaigns::CampaignService, customers::CustomerService,
        dispatch::Engine, distributions::DistributionService, integrations::IntegrationService,
        secret_box::SecretBox, segments::SegmentService,
    },
};
use app::{ports::Ports, shell, App};
use axum::{
    extract::FromRef,
    http::{header, HeaderValue},
    middleware, Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use sea_orm::DatabaseConnection;
use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, OnceLock},
};
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub settings: Arc<Settings>,
    pub db: DatabaseConnection,
    pub accounts: Arc<AccountService>,
    pub customers: Arc<CustomerService>,
    pub segments: Arc<SegmentService>,
    pub campaigns: Arc<CampaignService>,
    pub integrations: Arc<IntegrationService>,
    pub distributions: Arc<DistributionService>,
    /// Sends what the delivery queue holds.
    pub engine: Arc<Engine>,
    pub secrets: SecretBox,
    pub ports: Ports,
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    port: u16,
    pub state: AppState,
}

impl Application {
    pub async fn build(mut settings: Settings) -> Result<Self, BoxError> {
        let secrets = SecretBox::load(&settings.secret_key)?;
        let db = db::connect_and_migrate(&settings.database_url)
            .await
            .map_err(|e| {
                format!(
                    "cannot open the database ({}): {e}",
                    redact(&settings.database_url)
                )
            })?;
        let listener = TcpListener::bind(settings.addr)
            .await
            .map_err(|e| format!("cannot listen on {} (CODECAST_ADDR): {e}", settings.addr))?;
        let bound = listener.local_addr()?;
        let port = bound.port();
        if settings.public_url_from_addr {
            settings.public_url = format!("http://{bound}");
        }

        let leptos_options = LeptosOptions::builder()
            .output_name("codecast")
            .site_root(settings.site_root.as_str())
            .site_pkg_dir("pkg")
            .site_addr(settings.addr)
            .build();
        let accounts = AccountService::new(db.clone());
        let customers = CustomerService::new(db.clone());
        let segments = SegmentService::new(db.clone());
        let campaigns = CampaignService::new(db.clone(), settings.public_url.clone());
        // Rung whenever a message is queued in this process.
        let bell = Arc::new(tokio::sync::Notify::new());
        let integrations = IntegrationService::new(
            db.clone(),
            secrets.clone(),
            bell.clone(),
            settings.public_url.clone(),
            settings.allow_private_gateways,
        );
        let distributions =
            DistributionService::new(db.clone(), settings.public_url.clone(), bell.clone());
        let engine = Engine::new(
            db.clone(),
            integrations.clone(),
            settings.public_url.clone(),
            secrets.clone(),
            bell,
        );
        let ports = Ports {
            accounts: accounts.clone(),
            customers: customers.clone(),
            segments: segments.clone(),
            campaigns: campaigns.clone(),
            integrations: integrations.clone(),
            distributions: distributions.clone(),
            secure_cookies: settings.secure_cookies(),
            public_url: settings.public_url.clone(),
        };
        let state = AppState {
            leptos_options,
            settings: Arc::new(settings),
            db,
            accounts,
            customers,
            segments,
            campaigns,
            integrations,
            distributions,
            engine,
            secrets,
            ports,
        };
        Ok(Self {
            listener,
            router: build_router(state.clone()),
            port,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(addr = %self.listener.local_addr()?, "Codecast is listening");
        // Background work lives as long as the runtime that serves.
        self.state
            .segments
            .spawn_refresher(std::time::Duration::from_secs(60));
        self.state.campaigns.resume_generation();
        let engine = self.state.engine.start();
        let served = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        // Messages in flight finish (or go back to the queue) before the process ends.
        tracing::info!("stopping the delivery engine");
        self.state.engine.shutdown(engine).await;
        served
    }
}

/// The app's routes, listed once per process.
///
/// Listing them renders the app with resource loading switched off through a flag that is
/// global to the process (`leptos_server::SuppressResourceLoad`): a resource first polled by a
/// page being rendered at that moment, by another router in the same process, would wait
/// forever. Tests run many servers in one process, so every router shares the one list.
fn routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn build_router(state: AppState) -> Router {
    let routes = routes();
    let ports = state.ports.clone();
    let leptos_options = state.leptos_options.clone();
    let context = move || provide_context(ports.clone());

    Router::new()
        .merge(http::api_routes(&state))
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            shell(leptos_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guards::route_visitors,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guards::resolve_session,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guards::refuse_cross_site,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        // Same-origin referrers are what carry a no-JavaScript form's errors back to it.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        // A bug that panics in a handler answers that request with the API's JSON 500 (its
        // cause logged under the reference), instead of dropping the connection.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .with_state(state)
}

fn panicked(cause: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let message = cause
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| cause.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    let message = format!("a request handler panicked: {message}");
    http::error::ApiError(app::error::AppError::internal_msg(&message)).into_response()
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted_from_database_urls() {
        assert_eq!(
            super::redact("postgres://u:pw@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
