use crate::{dto::SessionInfo, error::AppError};
use leptos::prelude::*;

/// Who is signed in, and whether first-run setup is still pending.
#[server(endpoint = "get_session")]
pub async fn get_session() -> Result<SessionInfo, AppError> {
    use super::context::*;
    respond(
        async {
            let setup_required = ports()?.accounts.setup_required().await?;
            Ok(SessionInfo {
                setup_required,
                user: current_user(),
            })
        }
        .await,
    )
}

/// Creates the first admin of a fresh install and signs them in.
#[server(endpoint = "setup_admin")]
pub async fn setup_admin(
    email: String,
    password: String,
    password_confirm: String,
) -> Result<String, AppError> {
    use super::context::*;
    use crate::{
        domain::{EmailAddress, Password},
        ports::session_cookie,
    };
    use std::collections::BTreeMap;
    respond(
        async {
            let ports = ports()?;
            let mut fields = BTreeMap::new();
            let email = EmailAddress::parse(&email)
                .map_err(|e| fields.insert("email".into(), e))
                .ok();
            let password = Password::parse(&password)
                .map_err(|e| fields.insert("password".into(), e))
                .ok();
            if password.is_some()
                && password_confirm != password.as_ref().map(|p| p.expose()).unwrap_or_default()
            {
                fields.insert(
                    "password_confirm".into(),
                    "The passwords do not match.".into(),
                );
            }
            let (Some(email), Some(password), true) = (email, password, fields.is_empty()) else {
                return Err(AppError::validation_fields(fields));
            };
            let user = ports.accounts.create_first_admin(email, password).await?;
            let session = ports.accounts.start_session(&user).await?;
            set_cookie(&session_cookie(
                &session.token,
                session.max_age_secs,
                ports.secure_cookies,
            ));
            let target = "/distributions".to_string();
            redirect_form_post(&target);
            Ok(target)
        }
        .await,
    )
}

/// Signs in; answers with the page to go to next.
#[server(endpoint = "login")]
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<String, AppError> {
    use super::context::*;
    use crate::ports::session_cookie;
    respond(
        async {
            let ports = ports()?;
            let user = ports
                .accounts
                .authenticate(&email, &password, &client_address())
                .await?;
            let session = ports.accounts.start_session(&user).await?;
            set_cookie(&session_cookie(
                &session.token,
                session.max_age_secs,
                ports.secure_cookies,
            ));
            let target = safe_next(next.as_deref());
            redirect_form_post(&target);
            Ok(target)
        }
        .await,
    )
}

/// Ends the session and clears the cookie.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<String, AppError> {
    use super::context::*;
    use crate::ports::{read_cookie, session_cookie, SESSION_COOKIE};
    respond(
        async {
            let ports = ports()?;
            if let Some(token) = parts()
                .as_ref()
                .and_then(|p| read_cookie(&p.headers, SESSION_COOKIE).map(str::to_owned))
            {
                ports.accounts.end_session(&token).await?;
            }
            set_cookie(&session_cookie("", 0, ports.secure_cookies));
            let target = "/login".to_string();
            redirect_form_post(&target);
            Ok(target)
        }
        .await,
    )
}

/// Only same-site paths may follow a login, so a crafted link cannot send people elsewhere.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n != "/login" =>
        {
            n.to_owned()
        }
        _ => "/distributions".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_only_accepts_local_paths() {
        assert_eq!(safe_next(Some("/settings")), "/settings");
        for evil in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "settings",
            "/login",
        ] {
            assert_eq!(safe_next(Some(evil)), "/distributions", "{evil}");
        }
        assert_eq!(safe_next(None), "/distributions");
    }
}
