//! Provider webhooks: `POST /webhooks/sms/{integration}/inbound`. No bearer key: the
//! provider's signature is the credential, and anything unsigned or forged gets 403.
//!
//! Inbound replies manage consent: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE and
//! OPTOUT opt the sender out (with a ledger entry), START, UNSTOP and YES opt them back in,
//! HELP and INFO get the help text. Only the whole message counts, in any case.

use crate::{providers::signatures::twilio_valid, startup::AppState};
use app::{domain::consent::SmsConsent, ports::Integrations};
use axum::{
    extract::{OriginalUri, Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Form,
};

pub const HELP_TEXT: &str =
    "You get offers by SMS from this shop. Reply STOP to unsubscribe, START to subscribe again.";
const OPT_OUT: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
const OPT_IN: &[&str] = &["START", "UNSTOP", "YES"];
const HELP: &[&str] = &["HELP", "INFO"];

/// What an inbound message asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Keyword {
    OptOut,
    OptIn,
    Help,
    Other,
}

pub fn keyword(body: &str) -> Keyword {
    let word = body.trim().to_uppercase();
    if OPT_OUT.contains(&word.as_str()) {
        Keyword::OptOut
    } else if OPT_IN.contains(&word.as_str()) {
        Keyword::OptIn
    } else if HELP.contains(&word.as_str()) {
        Keyword::Help
    } else {
        Keyword::Other
    }
}

pub async fn inbound(
    State(state): State<AppState>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Form(params): Form<Vec<(String, String)>>,
) -> Response {
    let forbidden = || (StatusCode::FORBIDDEN, "Forbidden").into_response();
    let Ok(integration) = state.integrations.get(&id).await else {
        return forbidden();
    };
    if integration.provider != "twilio" {
        // Other providers' signature schemes are not checked yet, so nothing is trusted.
        return forbidden();
    }
    let Ok(credentials) = state.integrations.credentials(&id).await else {
        return forbidden();
    };
    let token = credentials.get("auth_token").cloned().unwrap_or_default();
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let url = format!(
        "{}{}",
        state.settings.public_url.trim_end_matches('/'),
        uri.path_and_query().map_or(uri.path(), |p| p.as_str())
    );
    if token.is_empty() || !twilio_valid(&token, &url, &params, signature) {
        tracing::warn!(integration = %id, "inbound webhook with a missing or wrong signature");
        return forbidden();
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let from = get("From");
    let actor = format!("SMS reply via {}", integration.name);
    let reply = match keyword(&get("Body")) {
        Keyword::OptOut => consent(&state, &from, SmsConsent::OptedOut, &actor)
            .await
            .map(|_| None),
        Keyword::OptIn => consent(&state, &from, SmsConsent::OptedIn, &actor)
            .await
            .map(|_| None),
        Keyword::Help => Ok(Some(HELP_TEXT)),
        Keyword::Other => Ok(None),
    };
    match reply {
        Ok(message) => twiml(message),
        Err(()) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn consent(state: &AppState, phone: &str, to: SmsConsent, actor: &str) -> Result<u64, ()> {
    state
        .customers
        .set_consent_by_phone(phone, to, "sms", actor)
        .await
        .map_err(|e| tracing::error!(error = %e, "inbound consent change failed"))
}

/// A TwiML answer: a reply message, or nothing.
fn twiml(message: Option<&str>) -> Response {
    let body =
        match message {
            Some(m) => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{}</Message></Response>",
            m.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
        ),
            None => "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>".to_owned(),
        };
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_whole_message_is_a_keyword() {
        assert_eq!(keyword(" stop "), Keyword::OptOut);
        assert_eq!(keyword("OptOut"), Keyword::OptOut);
        assert_eq!(keyword("unstop"), Keyword::OptIn);
        assert_eq!(keyword("help"), Keyword::Help);
        assert_eq!(keyword("please stop"), Keyword::Other);
        assert_eq!(keyword("STOP!"), Keyword::Other);
    }
}
