//! Server functions of the distribution wizard, the list and the report. Each wizard step is
//! one form: it saves the draft and moves on to the next step (a redirect without JavaScript).

use super::templates::PreviewSettings;
use crate::{
    dto::{DistributionView, FailureGroup, MessagePage, ReviewReport, SendOutcome},
    error::AppError,
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the wizard's pickers offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WizardOptions {
    /// (id, name, codes left).
    pub campaigns: Vec<(String, String, u64)>,
    /// (id, name, banner).
    pub tiers: Vec<(String, String, String)>,
    /// (id, name, members now).
    pub segments: Vec<(String, String, u64)>,
    /// Enabled integrations: (id, name, segments per second, default).
    pub integrations: Vec<(String, String, u32, bool)>,
    pub preview: PreviewSettings,
}

/// A draft and what its pickers offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WizardData {
    pub distribution: DistributionView,
    pub options: WizardOptions,
}

/// A distribution's live part: itself (with its counts) and failures by reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressData {
    pub distribution: DistributionView,
    pub failures: Vec<FailureGroup>,
}

#[server(endpoint = "list_distributions")]
pub async fn list_distributions(status: Option<String>) -> Result<Vec<DistributionView>, AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            // The list page shows the latest 200.
            let page = crate::ports::Page {
                limit: 200,
                starting_after: None,
            };
            Ok(ports()?.distributions.list(status, page).await?.0)
        }
        .await,
    )
}

/// Starts a manual distribution and opens its first step.
#[server(endpoint = "new_distribution")]
pub async fn new_distribution() -> Result<String, AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            let d = ports()?
                .distributions
                .create(crate::dto::DistributionInput::default())
                .await?;
            redirect_form_post(&format!("/distributions/{}/purpose", d.id));
            Ok(d.id)
        }
        .await,
    )
}

#[server(endpoint = "get_wizard")]
pub async fn get_wizard(id: String) -> Result<WizardData, AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            let ports = ports()?;
            let distribution = ports.distributions.get(&id).await?;
            let campaigns = ports
                .campaigns
                .list()
                .await?
                .into_iter()
                .filter(|c| c.status != "failed")
                .map(|c| {
                    let left = c.available();
                    (c.id, c.name, left)
                })
                .collect();
            let tiers = ports
                .campaigns
                .promotion_tiers()
                .await?
                .into_iter()
                .map(|t| (t.id, t.name, t.banner))
                .collect();
            let segments = ports
                .segments
                .list()
                .await?
                .into_iter()
                .map(|s| (s.id, s.name, s.customers_count))
                .collect();
            let integrations = ports
                .integrations
                .list()
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|i| i.enabled)
                .map(|i| (i.id, i.name, i.max_segments_per_second, i.is_default))
                .collect();
            let today = chrono::Utc::now().date_naive();
            Ok(WizardData {
                distribution,
                options: WizardOptions {
                    campaigns,
                    tiers,
                    segments,
                    integrations,
                    preview: PreviewSettings {
                        public_url: ports.public_url.clone(),
                        sample_expiration: (today + chrono::Days::new(30))
                            .format("%Y-%m-%d")
                            .to_string(),
                    },
                },
            })
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
async fn save(
    id: &str,
    step: &str,
    go: &str,
    input: crate::dto::DistributionInput,
) -> Result<DistributionView, AppError> {
    use super::context::*;
    require_user()?;
    let saved = ports()?
        .distributions
        .update(
            id,
            crate::dto::DistributionInput {
                step: Some(step.to_owned()),
                ..input
            },
        )
        .await?;
    redirect_form_post(&format!("/distributions/{id}/{}", step_after(step, go)));
    Ok(saved)
}

/// Where a step's form goes once saved: on to the next step, or back to the one before
/// with "← Back" (which saves too, so going back and forth keeps what was typed).
pub fn step_after(step: &str, go: &str) -> &'static str {
    if go == "back" {
        previous_step(step)
    } else {
        next_step(step)
    }
}

/// The step before `step`.
pub fn previous_step(step: &str) -> &'static str {
    match step {
        "audience" => "purpose",
        "subject" => "audience",
        "message" => "subject",
        "reminders" => "message",
        "review" => "reminders",
        _ => "purpose",
    }
}

/// The step after `step`.
pub fn next_step(step: &str) -> &'static str {
    match step {
        "purpose" => "audience",
        "audience" => "subject",
        "subject" => "message",
        "message" => "reminders",
        _ => "review",
    }
}

#[server(endpoint = "save_purpose")]
pub async fn save_purpose(
    id: String,
    #[server(default)] go: String,
    purpose: String,
    #[server(default)] campaign_id: String,
    #[server(default)] promotion_tier_id: String,
) -> Result<DistributionView, AppError> {
    use super::context::*;
    use crate::dto::DistributionInput;
    if let Err(e) = require_user() {
        return respond(Err(e));
    }
    let entered = [
        ("purpose", purpose.clone()),
        ("campaign_id", campaign_id.clone()),
        ("promotion_tier_id", promotion_tier_id.clone()),
    ];
    let entered = entered.iter().map(|(k, v)| (*k, v.as_str()));
    if purpose == "unique_codes" && campaign_id.trim().is_empty() {
        return respond(Err(AppError::validation(
            "campaign_id",
            "Choose the campaign whose codes to send.",
        )
        .with_entered(entered)));
    }
    if purpose == "promotion" && promotion_tier_id.trim().is_empty() {
        return respond(Err(AppError::validation(
            "promotion_tier_id",
            "Choose the promotion to announce.",
        )
        .with_entered(entered)));
    }
    respond(
        save(
            &id,
            "purpose",
            &go,
            DistributionInput {
                // Only the pick that fits the purpose is kept.
                campaign_id: Some(if purpose == "unique_codes" {
                    campaign_id
                } else {
                    String::new()
                }),
                promotion_tier_id: Some(if purpose == "promotion" {
                    promotion_tier_id
                } else {
                    String::new()
                }),
                purpose: Some(purpose.clone()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.with_entered(entered)),
    )
}

/// The audience: a segment, or one customer found by id, source id, email, phone or name.
#[server(endpoint = "save_audience")]
pub async fn save_audience(
    id: String,
    #[server(default)] go: String,
    kind: String,
    #[server(default)] segment_id: String,
    #[server(default)] customer: String,
) -> Result<DistributionView, AppError> {
    use super::context::*;
    use crate::dto::{Audience, DistributionInput};
    let entered = [
        ("kind", kind.clone()),
        ("segment_id", segment_id.clone()),
        ("customer", customer.clone()),
    ];
    respond(
        async {
            require_user()?;
            let audience = match kind.as_str() {
                "segment" if !segment_id.trim().is_empty() => Audience::Segment(segment_id),
                "segment" => return Err(AppError::validation("segment_id", "Choose a segment.")),
                "customer" => {
                    let query = customer.trim();
                    if query.is_empty() {
                        return Err(AppError::validation("customer", "Type the customer's name, email, phone or id."));
                    }
                    let customers = &ports()?.customers;
                    // An id or source id names one customer (the field shows the saved
                    // customer's id when the step is opened again).
                    match customers.get(query).await {
                        Ok(c) => {
                            return save(&id, "audience", &go, DistributionInput { audience: Some(Audience::Customer(c.id)), ..Default::default() }).await
                        }
                        Err(e) if e.status() == 404 => {}
                        Err(e) => return Err(e),
                    }
                    let (found, _) = customers
                        .search(query, crate::ports::Page { limit: 20, starting_after: None })
                        .await?;
                    let exact = found.iter().find(|c| {
                        c.id == query
                            || c.source_id.as_deref() == Some(query)
                            || c.email.as_deref() == Some(query)
                            || c.phone.as_deref() == Some(query)
                    });
                    match (exact, found.len()) {
                        (Some(c), _) => Audience::Customer(c.id.clone()),
                        (None, 1) => Audience::Customer(found[0].id.clone()),
                        (None, 0) => return Err(AppError::validation("customer", format!("No customer matches {query:?}."))),
                        (None, _) => {
                            return Err(AppError::validation(
                                "customer",
                                format!("Several customers match {query:?}; type more of the name, or the email or phone."),
                            ))
                        }
                    }
                }
                _ => return Err(AppError::validation("kind", "Choose one customer or a segment.")),
            };
            let field = if matches!(audience, Audience::Segment(_)) { "segment_id" } else { "customer" };
            save(&id, "audience", &go, DistributionInput { audience: Some(audience), ..Default::default() })
                .await
                // The service names the audience as a whole; the form shows it beside the pick.
                .map_err(|e| match e.field("audience") {
                    Some(message) => AppError::validation(field, message),
                    None => e,
                })
        }
        .await
        .map_err(|e| e.with_entered(entered.iter().map(|(k, v)| (*k, v.as_str())))),
    )
}

#[server(endpoint = "save_subject")]
pub async fn save_subject(
    id: String,
    #[server(default)] go: String,
    name: String,
    #[server(default)] subject: String,
) -> Result<DistributionView, AppError> {
    use super::context::*;
    use crate::dto::DistributionInput;
    respond(
        save(
            &id,
            "subject",
            &go,
            DistributionInput {
                name: Some(name.clone()),
                subject: Some(subject.clone()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.with_entered([("name", name.as_str()), ("subject", subject.as_str())])),
    )
}

#[server(endpoint = "save_message")]
pub async fn save_message(
    id: String,
    #[server(default)] go: String,
    #[server(default)] integration_id: String,
    #[server(default)] template: String,
    #[server(default)] smart_encoding: Option<String>,
) -> Result<DistributionView, AppError> {
    use super::context::*;
    use crate::dto::DistributionInput;
    let smart = if smart_encoding.is_some() { "on" } else { "" };
    let entered = [
        ("integration_id", integration_id.as_str()),
        ("template", template.as_str()),
        ("smart_encoding", smart),
    ];
    respond(
        async {
            if integration_id.trim().is_empty() {
                return Err(AppError::validation(
                    "integration_id",
                    "Choose an SMS integration (admins add them on the Integrations page).",
                ));
            }
            if template.trim().is_empty() {
                return Err(AppError::validation("template", "Write the message."));
            }
            save(
                &id,
                "message",
                &go,
                DistributionInput {
                    integration_id: Some(integration_id.clone()),
                    template: Some(template.clone()),
                    smart_encoding: Some(smart_encoding.is_some()),
                    ..Default::default()
                },
            )
            .await
        }
        .await
        .map_err(|e| e.with_entered(entered)),
    )
}

/// One optional reminder (the API takes up to three).
#[server(endpoint = "save_reminders")]
pub async fn save_reminders(
    id: String,
    #[server(default)] go: String,
    #[server(default)] remind: Option<String>,
    #[server(default)] after_hours: String,
    #[server(default)] only_if_not_redeemed: Option<String>,
    #[server(default)] reminder_template: String,
) -> Result<DistributionView, AppError> {
    use super::context::*;
    use crate::dto::{DistributionInput, Reminder};
    let entered = [
        ("remind", remind.clone().unwrap_or_default()),
        ("after_hours", after_hours.clone()),
        (
            "only_if_not_redeemed",
            only_if_not_redeemed.clone().unwrap_or_default(),
        ),
        ("reminder_template", reminder_template.clone()),
    ];
    respond(
        async {
            let reminders = if remind.is_some() {
                let hours = after_hours.trim().parse::<u32>().map_err(|_| {
                    AppError::validation("after_hours", "Give whole hours, such as 24.")
                })?;
                vec![Reminder {
                    after_hours: hours,
                    only_if_not_redeemed: only_if_not_redeemed.is_some(),
                    template: reminder_template,
                }]
            } else {
                Vec::new()
            };
            save(
                &id,
                "reminders",
                &go,
                DistributionInput {
                    reminders: Some(reminders),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| match e.fields() {
                Some(f) if f.keys().any(|k| k.starts_with("reminders[0].")) => {
                    let mut fields = std::collections::BTreeMap::new();
                    for (k, v) in f {
                        let k = match k.as_str() {
                            "reminders[0].after_hours" => "after_hours",
                            "reminders[0].template" => "reminder_template",
                            other => other,
                        };
                        fields.insert(k.to_owned(), v.clone());
                    }
                    AppError::validation_fields(fields)
                }
                _ => e,
            })
        }
        .await
        .map_err(|e| e.with_entered(entered.iter().map(|(k, v)| (*k, v.as_str())))),
    )
}

#[server(endpoint = "review_distribution")]
pub async fn review_distribution(id: String) -> Result<(DistributionView, ReviewReport), AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            let ports = ports()?;
            let d = ports.distributions.get(&id).await?;
            let review = ports.distributions.review(&id).await?;
            Ok((d, review))
        }
        .await,
    )
}

#[server(endpoint = "send_distribution")]
pub async fn send_distribution(id: String, send_key: String) -> Result<SendOutcome, AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            let outcome = ports()?.distributions.send(&id, &send_key).await?;
            redirect_form_post(&format!("/distributions/{id}"));
            Ok(outcome)
        }
        .await,
    )
}

#[server(endpoint = "delete_distribution")]
pub async fn delete_distribution(id: String) -> Result<(), AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            ports()?.distributions.delete(&id).await?;
            redirect_form_post("/distributions");
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "duplicate_distribution")]
pub async fn duplicate_distribution(id: String) -> Result<String, AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            let copy = ports()?.distributions.duplicate(&id).await?;
            redirect_form_post(&format!("/distributions/{}/review", copy.id));
            Ok(copy.id)
        }
        .await,
    )
}

/// A distribution's status alone (draft, sending, sent), for what depends on nothing else.
#[server(endpoint = "distribution_status")]
pub async fn distribution_status(id: String) -> Result<String, AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            ports()?.distributions.status(&id).await
        }
        .await,
    )
}

/// What the distribution's page refreshes while it sends: counts and failures.
#[server(endpoint = "distribution_progress")]
pub async fn distribution_progress(id: String) -> Result<ProgressData, AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            let ports = ports()?;
            let distribution = ports.distributions.get(&id).await?;
            let failures = ports.distributions.failures(&id).await?;
            Ok(ProgressData {
                distribution,
                failures,
            })
        }
        .await,
    )
}

/// A page of the distribution's message log, searched and filtered.
#[server(endpoint = "distribution_messages")]
pub async fn distribution_messages(
    id: String,
    q: String,
    status: String,
    after: Option<i64>,
) -> Result<MessagePage, AppError> {
    use super::context::*;
    respond(
        async {
            require_user()?;
            ports()?
                .distributions
                .messages(&id, &q, Some(status).filter(|s| !s.is_empty()), after, 50)
                .await
        }
        .await,
    )
}
