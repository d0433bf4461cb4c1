//! Twilio Programmable Messaging: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`,
//! form-encoded, HTTP Basic auth with the account SID and auth token.

use super::{
    server_error, throttled, transport_failure, Accepted, Answer, Failure, OutgoingSms, SmsProvider,
};
use super::{
    signatures::twilio_valid,
    webhook::{common_status, plus, Credentials, Inbound, Keyword, WebhookRequest, Webhooks},
};
use crate::services::deliveries::{StatusReport, DELIVERED};
use async_trait::async_trait;

pub const DEFAULT_BASE: &str = "https://api.twilio.com";

pub struct Twilio {
    http: reqwest::Client,
    /// `{base}/2010-04-01/Accounts/{sid}/Messages.json`, and the same parsed once: a
    /// dispatcher sends thousands of messages a second through one adapter, and parsing the
    /// address and encoding the credentials anew for each cost more than building the form.
    messages_url: String,
    parsed_url: Option<reqwest::Url>,
    authorization: reqwest::header::HeaderValue,
    /// A From number or alphanumeric id, unless a messaging service sends.
    from: Option<String>,
    messaging_service_sid: Option<String>,
}

impl Twilio {
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        account_sid: &str,
        auth_token: &str,
        from: Option<String>,
        messaging_service_sid: Option<String>,
    ) -> Self {
        let messages_url = format!(
            "{}/2010-04-01/Accounts/{account_sid}/Messages.json",
            base_url.trim_end_matches('/')
        );
        Self {
            http,
            parsed_url: reqwest::Url::parse(&messages_url).ok(),
            messages_url,
            authorization: super::basic_authorization(account_sid, auth_token),
            from,
            messaging_service_sid,
        }
    }
}

#[async_trait]
impl SmsProvider for Twilio {
    async fn send(&self, sms: &OutgoingSms) -> Result<Accepted, Failure> {
        let mut form: Vec<(&str, &str)> = vec![("To", &sms.to), ("Body", &sms.body)];
        match (&self.messaging_service_sid, &self.from) {
            (Some(service), _) => form.push(("MessagingServiceSid", service)),
            (None, Some(from)) => form.push(("From", from)),
            (None, None) => {}
        }
        if let Some(cb) = &sms.status_callback {
            form.push(("StatusCallback", cb));
        }
        // An address that does not parse fails the way reqwest reports it.
        let request = match &self.parsed_url {
            Some(url) => self.http.post(url.clone()),
            None => self.http.post(&self.messages_url),
        };
        let response = request
            .header(reqwest::header::AUTHORIZATION, self.authorization.clone())
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_failure(&e))?;
        let Answer {
            status,
            retry_after: wait,
            json,
            raw,
        } = Answer::read(response).await?;
        if status.is_success() {
            return match json["sid"].as_str() {
                Some(sid) => Ok(Accepted {
                    provider_id: sid.to_owned(),
                    // Twilio sends the count as a string ("2").
                    segments: json["num_segments"]
                        .as_str()
                        .and_then(|n| n.parse().ok())
                        .or_else(|| json["num_segments"].as_u64().map(|n| n as u32)),
                    raw,
                }),
                None => Err(Failure::Ambiguous {
                    message: "Twilio answered without a message SID.".into(),
                    raw,
                }),
            };
        }
        // Classic `{code, message}` or RFC 9457 problem JSON (`{type, title, detail, code?}`).
        let code = json["code"]
            .as_u64()
            .map(|c| c.to_string())
            .or_else(|| json["code"].as_str().map(str::to_owned))
            .unwrap_or_else(|| status.as_u16().to_string());
        let message = json["message"]
            .as_str()
            .or_else(|| json["detail"].as_str())
            .or_else(|| json["title"].as_str())
            .unwrap_or("Twilio refused the message.")
            .to_owned();
        if status.as_u16() == 429 || code == "20429" {
            return Err(throttled(code, message, wait, raw));
        }
        if status.is_server_error() {
            return Err(server_error(status.as_u16(), code, message, raw));
        }
        // Every other 4xx (21211 invalid To, 21610 replied STOP, 21614 not mobile, 21617 too
        // long, 20003 authentication, …) fails the same way again.
        Err(Failure::Permanent { code, message, raw })
    }
}

/// Twilio's webhooks: form posts signed with `X-Twilio-Signature` over the URL and the sorted
/// form fields (see `signatures::twilio_valid`).
pub struct TwilioWebhooks;

impl Webhooks for TwilioWebhooks {
    fn verify(&self, req: &WebhookRequest, credentials: &Credentials) -> bool {
        let token = credentials
            .get("auth_token")
            .map(String::as_str)
            .unwrap_or_default();
        let signature = req.header("x-twilio-signature").unwrap_or_default();
        !token.is_empty() && twilio_valid(token, &req.url, &req.form, signature)
    }

    fn status(&self, req: &WebhookRequest) -> Option<StatusReport> {
        let word = req.param("MessageStatus")?.to_owned();
        // `read` (WhatsApp/RCS) comes after delivered; `receiving`/`received` are inbound.
        let status = match word.as_str() {
            "read" => DELIVERED,
            other => common_status(other)?,
        };
        let error_code = req
            .param("ErrorCode")
            .filter(|c| !c.is_empty() && *c != "0")
            .map(str::to_owned);
        Some(StatusReport {
            part: None,
            delivery_id: req.delivery_id(),
            provider_id: req.param("MessageSid").map(str::to_owned),
            status,
            provider_status: word,
            error_message: error_code.as_deref().map(error_text),
            error_code,
        })
    }

    fn inbound(&self, req: &WebhookRequest) -> Option<Inbound> {
        // With Advanced Opt-Out, Twilio names the keyword it recognised, the account's own
        // words included (ARRET, say).
        let recognised =
            req.param("OptOutType")
                .and_then(|t| match t.to_ascii_uppercase().as_str() {
                    "STOP" => Some(Keyword::OptOut),
                    "START" => Some(Keyword::OptIn),
                    "HELP" => Some(Keyword::Help),
                    _ => None,
                });
        Some(Inbound {
            from: plus(req.param("From")?),
            text: req.param("Body").unwrap_or_default().to_owned(),
            // Twilio has sent the account's HELP answer itself.
            answered: recognised == Some(Keyword::Help),
            recognised,
        })
    }

    fn replies_inline(&self) -> bool {
        true
    }
}

/// What Twilio's common delivery error codes mean.
fn error_text(code: &str) -> String {
    match code {
        "30001" => "Queue overflow: the sender's queue was full for too long.",
        "30002" => "Account suspended.",
        "30003" => "Unreachable destination handset.",
        "30004" => {
            "Message blocked (the recipient may have replied STOP, or the carrier blocked it)."
        }
        "30005" => "Unknown destination handset.",
        "30006" => "Landline or unreachable carrier.",
        "30007" => "Filtered by the carrier as spam or unregistered traffic.",
        "30008" => "Unknown error from the carrier.",
        "21610" => "The recipient replied STOP to this sender.",
        _ => "Twilio reported an error; see its error dictionary.",
    }
    .to_owned()
}
