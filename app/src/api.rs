//! Server functions: thin adapters that parse input, check the caller's role, call a port
//! and return a DTO. The logic lives in the server's services.

pub mod api_keys;
pub mod auth;
pub mod campaigns;
pub mod customers;
pub mod distributions;
pub mod integrations;
pub mod segments;
pub mod templates;
pub mod users;

#[cfg(feature = "ssr")]
pub(crate) mod context {
    use crate::{domain::Role, dto::CurrentUser, error::AppError, ports::Ports};
    use http::{header, request::Parts, HeaderValue, StatusCode};
    use leptos::prelude::*;
    use leptos_axum::ResponseOptions;

    pub fn ports() -> Result<Ports, AppError> {
        use_context::<Ports>().ok_or_else(|| AppError::internal_msg("Ports missing from context"))
    }

    pub fn parts() -> Option<Parts> {
        use_context::<Parts>()
    }

    /// The user the server's session layer resolved for this request.
    pub fn current_user() -> Option<CurrentUser> {
        parts().and_then(|p| p.extensions.get::<CurrentUser>().cloned())
    }

    pub fn require_user() -> Result<CurrentUser, AppError> {
        current_user().ok_or_else(AppError::unauthorized)
    }

    pub fn require_role(role: Role) -> Result<CurrentUser, AppError> {
        let user = require_user()?;
        if role == Role::Admin && !user.is_admin() {
            return Err(AppError::forbidden());
        }
        Ok(user)
    }

    /// The client's address, for login throttling.
    pub fn client_address() -> String {
        parts()
            .and_then(|p| {
                p.extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|c| c.0.ip().to_string())
            })
            .unwrap_or_else(|| "unknown".into())
    }

    /// A plain HTML form post (no JavaScript) wants a redirect; a fetch from the hydrated app
    /// wants data and navigates itself.
    pub fn is_form_post() -> bool {
        parts()
            .and_then(|p| p.headers.get(header::ACCEPT).cloned())
            .and_then(|v| v.to_str().map(|s| s.contains("text/html")).ok())
            .unwrap_or(false)
    }

    pub fn set_cookie(value: &str) {
        if let (Some(res), Ok(value)) = (
            use_context::<ResponseOptions>(),
            HeaderValue::from_str(value),
        ) {
            res.append_header(header::SET_COOKIE, value);
        }
    }

    /// Sends a form post on to `path`; the hydrated app does its own navigation.
    pub fn redirect_form_post(path: &str) {
        if is_form_post() {
            leptos_axum::redirect(path);
        }
    }

    /// Gives a failed server function the HTTP status its error deserves (403, 422, …), so
    /// scripts and proxies see the truth. Plain form posts keep the redirect Leptos sets up
    /// to carry the error back to the form.
    pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let Err(err) = &result {
            if !is_form_post() {
                if let (Some(res), Ok(status)) = (
                    use_context::<ResponseOptions>(),
                    StatusCode::from_u16(err.status()),
                ) {
                    res.set_status(status);
                }
            }
        }
        result
    }
}
