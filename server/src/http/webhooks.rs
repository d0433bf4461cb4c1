//! Provider webhooks: `/webhooks/sms/{integration}/status` and `/inbound`. No bearer key: the
//! provider's signature is the credential, and anything unsigned or forged gets 403. Each
//! provider's scheme and field names live in its module (`providers::*`).
//!
//! Inbound replies manage consent: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE and
//! OPTOUT opt the sender out (with a ledger entry), START and UNSTOP opt them in, YES opts
//! back in only customers who had opted out, HELP and INFO get the help text (once every ten
//! minutes per number at most). Only the whole message counts, in any case and with trailing
//! punctuation.

use crate::{
    ids::now_millis,
    providers::{
        self,
        webhook::{Keyword, WebhookRequest, Webhooks},
    },
    services::{
        deliveries::{self, NewDelivery},
        webhook_nonces::{self, Taken},
    },
    startup::AppState,
};
use app::{domain::consent::SmsConsent, dto::IntegrationView, ports::Integrations};
use axum::{
    body::Bytes,
    extract::{OriginalUri, Path, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};

/// The request as the provider sent it, and its integration, once the signature is checked.
struct Verified {
    integration: IntegrationView,
    hooks: &'static dyn Webhooks,
    req: WebhookRequest,
    /// The nonce accepted once for this request, if its signature needs that, and the
    /// request's hash (see [`webhook_nonces::request_hash`]).
    once: Option<(String, String)>,
}

async fn verified(
    state: &AppState,
    id: &str,
    method: Method,
    uri: &Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Verified, Response> {
    let forbidden = || (StatusCode::FORBIDDEN, "Forbidden").into_response();
    // Only an unknown integration or a bad signature is refused for good: a provider does
    // not retry a 403, so a failure of ours (the database, a key that cannot open the
    // credentials) answers 500 and the report, a STOP say, comes again.
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        tracing::error!(integration = %id, error = %e, "webhook: {what}");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    };
    let integration = match state.integrations.get(id).await {
        Ok(integration) => integration,
        Err(app::error::AppError::NotFound { .. }) => return Err(forbidden()),
        Err(e) => return Err(failed("reading the integration failed", &e)),
    };
    let Some(hooks) = providers::webhooks(&integration.provider) else {
        return Err(forbidden());
    };
    let credentials = match state.integrations.credentials(id).await {
        Ok(credentials) => credentials,
        Err(e) => return Err(failed("opening the credentials failed", &e)),
    };
    let url = format!(
        "{}{}",
        state.settings.public_url.trim_end_matches('/'),
        uri.path_and_query().map_or(uri.path(), |p| p.as_str())
    );
    let req = WebhookRequest::new(method, url, headers, body.to_vec(), now_millis() / 1000);
    if !hooks.verify(&req, &credentials) {
        tracing::warn!(integration = %id, "webhook with a missing or wrong signature");
        return Err(forbidden());
    }
    // Spent in `handled`, on the task that runs the handler.
    let once = hooks.single_use(&req).map(|nonce| {
        let hash = webhook_nonces::request_hash(req.method.as_str(), &req.url, &req.body);
        (format!("{id}:{nonce}"), hash)
    });
    Ok(Verified {
        integration,
        hooks,
        req,
        once,
    })
}

/// Takes a verified webhook's nonce, if its signature needs one, and runs its handler: both
/// on a task of their own, so a provider that hangs up (its timeout, during a slow commit)
/// cannot leave the nonce taken and the work undone. Handled, the nonce is spent for good.
/// Should the handler fail on our side, or panic, the nonce is released: the provider
/// retries the very same request, and that retry must count. A retry of the very same request
/// (method, address and body) that arrives while the first is still being handled is asked to
/// come back (503 with `Retry-After`), not refused as a replay: a provider does not retry a
/// 403. Any other request under a taken nonce is a replay.
async fn handled<F>(state: &AppState, once: Option<(String, String)>, handler: F) -> Response
where
    F: std::future::Future<Output = Response> + Send + 'static,
{
    let db = state.db.clone();
    tokio::spawn(async move {
        let mut taken = None;
        if let Some((key, hash)) = &once {
            match webhook_nonces::take(&db, key, hash, now_millis()).await {
                Ok(Taken::First { token }) => taken = Some((key.clone(), token)),
                Ok(Taken::Running) => {
                    tracing::info!("webhook retried while its first request is being handled");
                    return (
                        StatusCode::SERVICE_UNAVAILABLE,
                        [(header::RETRY_AFTER, "5")],
                        "The same request is being handled; try again shortly.",
                    )
                        .into_response();
                }
                Ok(Taken::Used) => {
                    tracing::warn!("webhook replayed (its nonce was used before)");
                    return (StatusCode::FORBIDDEN, "Forbidden").into_response();
                }
                Err(e) => {
                    tracing::error!(error = %e, "webhook: recording its nonce failed");
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
            }
        }
        let response = match tokio::spawn(handler).await {
            Ok(response) => response,
            Err(e) => {
                tracing::error!(error = %e, "a webhook handler failed");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        };
        if let Some((key, token)) = taken {
            let failed = response.status().is_server_error();
            // A few tries: a nonce left unsettled lets only this very request in again (two
            // minutes on), never another body under its signature.
            for attempt in 1..=3u64 {
                let done = if failed {
                    webhook_nonces::release(&db, &key, token).await
                } else {
                    webhook_nonces::settle(&db, &key, token, now_millis()).await
                };
                match done {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::error!(error = %e, attempt, "settling or releasing a webhook's nonce failed");
                        tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                    }
                }
            }
        }
        response
    })
    .await
    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// `POST|GET /webhooks/sms/{integration}/status`: a delivery status moves its delivery
/// forward (never back).
pub async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match verified(&state, &id, method, &uri, headers, body).await {
        Ok(v) => {
            let once = v.once.clone();
            handled(&state, once, apply_report(state.clone(), v)).await
        }
        Err(r) => r,
    }
}

async fn apply_report(state: AppState, v: Verified) -> Response {
    let Some(mut report) = v.hooks.status(&v.req) else {
        // Signed but not a status we track (an inbound event, a read receipt): acknowledged.
        return StatusCode::NO_CONTENT.into_response();
    };
    // The id in the address counts only with its tag; without it (a replayed report given
    // another id, an address from before tags) the provider's own message id decides.
    if let Some(delivery) = report.delivery_id {
        let tagged = v.req.delivery_tag().is_some_and(|tag| {
            state
                .secrets
                .callback_tag_matches(&v.integration.id, delivery, tag)
        });
        if !tagged {
            report.delivery_id = None;
        }
    }
    match deliveries::apply_status(&state.db, &v.integration.id, &report).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "recording a delivery status failed");
            // The provider retries on errors.
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `POST|GET /webhooks/sms/{integration}/inbound`: replies that manage consent.
pub async fn inbound(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match verified(&state, &id, method, &uri, headers, body).await {
        Ok(v) => {
            let once = v.once.clone();
            handled(&state, once, answer_reply(state.clone(), v)).await
        }
        Err(r) => r,
    }
}

async fn answer_reply(state: AppState, v: Verified) -> Response {
    // A sender that is no phone number (a provider's odd field, a forged value longer than
    // any number) can neither opt out nor get an answer; acknowledged, so it is not retried.
    let Some(message) = v.hooks.inbound(&v.req).filter(|m| m.from_a_number()) else {
        return acknowledge(v.hooks, None);
    };
    let actor = format!("SMS reply via {}", v.integration.name);
    let integration = &v.integration.id;
    let help = match message.meaning() {
        Keyword::OptOut => consent(&state, &message.from, SmsConsent::OptedOut, false, &actor)
            .await
            .map(|_| None),
        Keyword::OptIn => consent(&state, &message.from, SmsConsent::OptedIn, false, &actor)
            .await
            .map(|_| None),
        Keyword::Resubscribe => consent(&state, &message.from, SmsConsent::OptedIn, true, &actor)
            .await
            .map(|_| None),
        Keyword::Help if message.answered => Ok(None),
        Keyword::Help => state
            .integrations
            .help_text(integration)
            .await
            .map(Some)
            .map_err(|e| tracing::error!(error = %e, "reading the help text failed")),
        Keyword::Other => Ok(None),
    };
    let text = match help {
        Ok(Some(text)) => text,
        Ok(None) => return acknowledge(v.hooks, None),
        Err(()) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    // The help text goes to a number once every ten minutes at most. Counted and queued in
    // one transaction: a reply that could not be queued is not counted, so the provider's
    // retry gets it.
    let now = now_millis();
    let given = async {
        if v.hooks.replies_inline() {
            return deliveries::help_due(&state.db, integration, &message.from, now).await;
        }
        let txn = crate::db::begin(&state.db).await?;
        if !deliveries::help_due(&txn, integration, &message.from, now).await? {
            return Ok(false);
        }
        // Sent like any message: paced, recorded, on the integration's page.
        deliveries::enqueue(
            &txn,
            &[NewDelivery {
                kind: "reply",
                distribution_id: None,
                customer_id: None,
                occurrence: String::new(),
                integration_id: integration.clone(),
                priority: deliveries::PRIORITY_URGENT,
                recipient: message.from.clone(),
                body: text.clone(),
                send_after: now,
            }],
        )
        .await?;
        txn.commit().await?;
        state.engine.wake();
        Ok(true)
    }
    .await;
    match given {
        Ok(true) if v.hooks.replies_inline() => acknowledge(v.hooks, Some(&text)),
        Ok(true) => acknowledge(v.hooks, None),
        Ok(false) => {
            tracing::info!(integration = %integration, "HELP again within ten minutes: not answered again");
            acknowledge(v.hooks, None)
        }
        Err(e) => {
            tracing::error!(error = %e, "answering a HELP failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The webhook's answer: TwiML for Twilio (with the reply when there is one), else empty.
fn acknowledge(hooks: &dyn Webhooks, message: Option<&str>) -> Response {
    if hooks.replies_inline() {
        twiml(message)
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

async fn consent(
    state: &AppState,
    phone: &str,
    to: SmsConsent,
    only_opted_out: bool,
    actor: &str,
) -> Result<u64, ()> {
    state
        .customers
        .set_consent_by_phone(phone, to, only_opted_out, "sms", actor)
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
