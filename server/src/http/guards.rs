//! Middleware for browser requests: cross-site request refusal, session resolution, and
//! sending visitors to setup or sign-in before any page renders.

use crate::startup::AppState;
use app::{
    dto::CurrentUser,
    ports::{read_cookie, Accounts, SESSION_COOKIE},
};
use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};

/// Paths that are not cookie-authenticated browser traffic.
fn is_machine_path(path: &str) -> bool {
    path.starts_with("/v1/")
        || path == "/v1"
        || path.starts_with("/webhooks/")
        || path.starts_with("/q/")
        || path == "/healthz"
}

fn is_static_path(path: &str) -> bool {
    // `/app/…` are the UI's own endpoints (a CSV export ends in `.csv` but needs the session).
    !path.starts_with("/app/")
        && (path.starts_with("/pkg/")
            || path
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains('.')))
}

/// Refuses state-changing requests that a browser marks as coming from another site.
///
/// Browsers send `Sec-Fetch-Site` (and `Origin` on every POST); a request from another site
/// cannot forge them. Together with SameSite=Lax cookies this stops cross-site request forgery
/// for server functions and plain form posts alike, without a token round trip, so forms keep
/// working before hydration. Requests with neither header do not come from a browser and
/// carry no ambient credentials to abuse.
pub async fn refuse_cross_site(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe
        || is_machine_path(req.uri().path())
        || same_site(req.headers(), &state.settings.public_url)
    {
        return next.run(req).await;
    }
    tracing::warn!(path = %req.uri().path(), "refused a cross-site state-changing request");
    (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response()
}

fn same_site(headers: &HeaderMap, public_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin == public_url
        || origin
            .split_once("://")
            .is_some_and(|(_, authority)| !host.is_empty() && authority == host)
}

/// Puts the signed-in `CurrentUser` into the request's extensions, where server functions
/// and the page guard find it.
pub async fn resolve_session(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if !is_machine_path(path) && !is_static_path(path) {
        if let Some(token) = read_cookie(req.headers(), SESSION_COOKIE).map(str::to_owned) {
            if let Ok(Some(user)) = state.accounts.resolve_session(&token).await {
                req.extensions_mut().insert(user);
            }
        }
    }
    next.run(req).await
}

/// Sends page requests where they belong: `/setup` on a fresh install, `/login` without a
/// session (remembering where they were going), and the app once signed in.
pub async fn route_visitors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let is_page = matches!(*req.method(), Method::GET | Method::HEAD)
        && !is_machine_path(path)
        && !is_static_path(path)
        && !path.starts_with("/api/")
        && !path.starts_with("/app/");
    if !is_page {
        return next.run(req).await;
    }
    let signed_in = req.extensions().get::<CurrentUser>().is_some();
    let setup_required = state.accounts.setup_required().await.unwrap_or(false);
    let target = match (setup_required, signed_in, path) {
        (true, _, "/setup") => None,
        (true, _, _) => Some("/setup".to_owned()),
        (false, true, "/" | "/login" | "/setup") => Some("/distributions".to_owned()),
        (false, false, "/login") => None,
        (false, false, "/" | "/setup") => Some("/login".to_owned()),
        (false, false, _) => {
            let wanted = req.uri().path_and_query().map_or(path, |pq| pq.as_str());
            Some(format!("/login?next={}", encode_component(wanted)))
        }
        (false, true, _) => None,
    };
    match target {
        Some(to) => Redirect::to(&to).into_response(),
        None => next.run(req).await,
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
fn encode_component(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn fetch_metadata_decides_when_present() {
        let public = "http://127.0.0.1:3000";
        assert!(same_site(
            &headers(&[("sec-fetch-site", "same-origin")]),
            public
        ));
        assert!(!same_site(
            &headers(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://127.0.0.1:3000")
            ]),
            public
        ));
        assert!(!same_site(
            &headers(&[("sec-fetch-site", "same-site")]),
            public
        ));
    }

    #[test]
    fn origin_must_match_host_or_public_url() {
        let public = "https://sms.example.com";
        assert!(same_site(
            &headers(&[("origin", "https://sms.example.com")]),
            public
        ));
        assert!(same_site(
            &headers(&[
                ("origin", "http://10.0.0.5:3000"),
                ("host", "10.0.0.5:3000")
            ]),
            public
        ));
        assert!(!same_site(
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "sms.example.com")
            ]),
            public
        ));
        assert!(same_site(&headers(&[]), public));
    }

    #[test]
    fn next_parameters_are_encoded() {
        assert_eq!(
            encode_component("/settings?tab=a&b=c d"),
            "/settings%3Ftab%3Da%26b%3Dc%20d"
        );
    }
}
