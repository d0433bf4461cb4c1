//! One distribution: the wizard while it is a draft (`/distributions/:id/:step`), its live
//! progress and report once sent (`/distributions/:id`).

use super::{distributions::purpose_label, PageError, PageHeader};
use crate::{
    api::distributions::{
        distribution_messages, distribution_progress, distribution_status, get_wizard,
        review_distribution, DeleteDistribution, DuplicateDistribution, SaveAudience, SaveMessage,
        SavePurpose, SaveReminders, SaveSubject, SendDistribution, WizardData,
    },
    components::{
        form::{any_error, entered, field_error, form_error, FormAlert, TextField},
        template_editor::TemplateEditor,
        time::format_timestamp,
    },
    dto::{Audience, DistributionStats, DistributionView, ReviewReport},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

const STEPS: [(&str, &str); 6] = [
    ("purpose", "Purpose"),
    ("audience", "Audience"),
    ("subject", "Subject"),
    ("message", "Channel & message"),
    ("reminders", "Reminders"),
    ("review", "Review"),
];

fn step_index(step: &str) -> usize {
    STEPS.iter().position(|(s, _)| *s == step).unwrap_or(0)
}

#[component]
pub fn WizardPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let step = move || params.with(|p| p.get("step").unwrap_or_else(|| "purpose".into()));
    // Refetched per step, so going back shows what was saved.
    let data = Resource::new(move || (id(), step()), |(id, _)| get_wizard(id));
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(w) if w.distribution.status != "draft" => view! {
                        <PageError title="Distribution" status=409 message="This distribution was sent; its wizard is closed. Duplicate it to send it again." back_href=format!("/distributions/{}", w.distribution.id) back_label="Open its report"/>
                    }.into_any(),
                    Ok(w) => {
                        let current = step();
                        view! { <Wizard data=w step=current/> }.into_any()
                    }
                    Err(e) => view! { <PageError title="Distribution" status=e.status() message=e.to_string() back_href="/distributions" back_label="Back to distributions"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Wizard(data: WizardData, step: String) -> impl IntoView {
    let d = data.distribution.clone();
    let reached = step_index(&d.step);
    let at = step_index(&step);
    let title = d.name.clone();
    view! {
        <Title text=format!("{title} · draft")/>
        <PageHeader title=title description="A manual message: choose what, to whom and how, review, then send."/>
        <p class="breadcrumbs"><a href="/distributions">"← Distributions"</a></p>
        <DraftTools id=d.id.clone()/>
        <nav class="steps" aria-label="Steps">
            <ol>
                {STEPS.iter().enumerate().map(|(i, (s, label))| {
                    let href = format!("/distributions/{}/{s}", d.id);
                    let here = i == at;
                    view! {
                        <li class:done=i < at class:current=here>
                            {if i <= reached.max(at) {
                                view! { <a href=href aria-current=here.then_some("step")>{format!("{}. {label}", i + 1)}</a> }.into_any()
                            } else {
                                view! { <span>{format!("{}. {label}", i + 1)}</span> }.into_any()
                            }}
                        </li>
                    }
                }).collect_view()}
            </ol>
        </nav>
        {match step.as_str() {
            "audience" => view! { <AudienceStep data/> }.into_any(),
            "subject" => view! { <SubjectStep data/> }.into_any(),
            "message" => view! { <MessageStep data/> }.into_any(),
            "reminders" => view! { <RemindersStep data/> }.into_any(),
            "review" => view! { <ReviewStep id=d.id.clone()/> }.into_any(),
            _ => view! { <PurposeStep data/> }.into_any(),
        }}
    }
}

/// On every step of a draft: duplicate it (the copy opens at its review) or delete it.
#[component]
fn DraftTools(id: String) -> impl IntoView {
    let duplicate = ServerAction::<DuplicateDistribution>::new();
    let delete = ServerAction::<DeleteDistribution>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(copy)) = duplicate.value().get() {
            navigate(&format!("/distributions/{copy}/review"), Default::default());
        }
    });
    let to_list = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            to_list("/distributions", Default::default());
        }
    });
    let failed = Signal::derive(move || {
        duplicate
            .value()
            .with(|v| {
                v.as_ref()
                    .and_then(|r| r.as_ref().err().map(ToString::to_string))
            })
            .or_else(|| {
                delete.value().with(|v| {
                    v.as_ref()
                        .and_then(|r| r.as_ref().err().map(ToString::to_string))
                })
            })
    });
    let copy_of = id.clone();
    view! {
        <div class="draft-tools">
            <FormAlert message=failed/>
            <ActionForm action=duplicate attr:class="inline-form">
                <input type="hidden" name="id" value=copy_of/>
                <button type="submit" class="btn btn-small">"Duplicate draft"</button>
            </ActionForm>
            <ActionForm action=delete attr:class="inline-form">
                <input type="hidden" name="id" value=id/>
                <button type="submit" class="btn btn-link">"Delete draft"</button>
            </ActionForm>
        </div>
    }
}

/// Back and next under each step's form. Both submit the form (the browser sends the button
/// pressed as `go`), so what was typed is saved whichever way the marketer goes.
#[component]
fn StepActions(step: &'static str, pending: Signal<bool>, back: RwSignal<bool>) -> impl IntoView {
    let first = step_index(step) == 0;
    view! {
        // "Save and continue" comes first, so Enter in a field goes on; the style shows
        // "← Back" on the left.
        <div class="form-actions wizard-actions">
            <button type="submit" class="btn btn-primary" name="go" value="next" disabled=move || pending.get()
                aria-busy=move || pending.get().then_some("true") on:click=move |_| back.set(false)>
                {move || if pending.get() { "Saving…" } else { "Save and continue →" }}
            </button>
            {(!first).then(|| view! {
                <button type="submit" class="btn" name="go" value="back" disabled=move || pending.get()
                    on:click=move |_| back.set(true)>"← Back"</button>
            })}
        </div>
    }
}

/// After a step's form saved, the hydrated app goes on to the next step, or back to the one
/// before when "← Back" was pressed. Answers the flag the step's buttons set.
fn follow(
    value: MappedSignal<Option<Result<DistributionView, crate::error::AppError>>>,
    id: String,
    step: &'static str,
) -> RwSignal<bool> {
    let back = RwSignal::new(false);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = value.get() {
            let go = if back.get_untracked() { "back" } else { "next" };
            navigate(
                &format!(
                    "/distributions/{id}/{}",
                    crate::api::distributions::step_after(step, go)
                ),
                Default::default(),
            );
        }
    });
    back
}

#[component]
fn PurposeStep(data: WizardData) -> impl IntoView {
    let d = data.distribution;
    let save = ServerAction::<SavePurpose>::new();
    let value = save.value();
    let back = follow(value, d.id.clone(), "purpose");
    let purpose = RwSignal::new(entered(value, "purpose").unwrap_or_else(|| d.purpose.clone()));
    // Without JavaScript every field shows; the hydrated page shows those that fit the choice.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let choice = move |value: &'static str, title: &'static str, hint: &'static str| {
        let checked = purpose.get_untracked() == value;
        view! {
            <label class="choice choice-card">
                <input type="radio" name="purpose" value=value checked=checked on:change=move |_| purpose.set(value.into())/>
                <span><strong>{title}</strong><br/><span class="muted small">{hint}</span></span>
            </label>
        }
    };
    let campaigns = data.options.campaigns;
    let tiers = data.options.tiers;
    let campaign_id =
        entered(value, "campaign_id").unwrap_or_else(|| d.campaign_id.clone().unwrap_or_default());
    let tier_id = entered(value, "promotion_tier_id")
        .unwrap_or_else(|| d.promotion_tier_id.clone().unwrap_or_default());
    view! {
        <section class="card">
            <h2>"1. What do you send?"</h2>
            <ActionForm action=save attr:class="form">
                <FormAlert message=form_error(value)/>
                <input type="hidden" name="id" value=d.id.clone()/>
                <fieldset class="field">
                    <legend>"Purpose"</legend>
                    {choice("unique_codes", "Send unique codes from a campaign", "Each recipient gets their own code (one per customer and campaign).")}
                    {choice("promotion", "Announce a cart-level promotion", "The same offer for everyone, applied at checkout.")}
                    {choice("plain", "Plain message", "No code: news, reminders, thank-yous.")}
                </fieldset>
                <div class="field" class:invalid=move || field_error(value, "campaign_id").get().is_some() hidden=move || hydrated.get() && purpose.get() != "unique_codes">
                    <label for="campaign">"Campaign"</label>
                    <select id="campaign" name="campaign_id" aria-invalid=move || field_error(value, "campaign_id").get().is_some().then_some("true") aria-describedby="campaign-error">
                        <option value="">"Choose a campaign…"</option>
                        {campaigns.into_iter().map(|(id, name, left)| {
                            let selected = id == campaign_id;
                            view! { <option value=id selected=selected>{format!("{name} — {left} codes left")}</option> }
                        }).collect_view()}
                    </select>
                    <p class="field-error" id="campaign-error" hidden=move || field_error(value, "campaign_id").get().is_none()>{move || field_error(value, "campaign_id").get()}</p>
                </div>
                <div class="field" class:invalid=move || field_error(value, "promotion_tier_id").get().is_some() hidden=move || hydrated.get() && purpose.get() != "promotion">
                    <label for="tier">"Promotion tier"</label>
                    <select id="tier" name="promotion_tier_id" aria-invalid=move || field_error(value, "promotion_tier_id").get().is_some().then_some("true") aria-describedby="tier-error">
                        <option value="">"Choose a promotion…"</option>
                        {tiers.into_iter().map(|(id, name, banner)| {
                            let selected = id == tier_id;
                            view! { <option value=id selected=selected>{format!("{name} — {banner}")}</option> }
                        }).collect_view()}
                    </select>
                    <p class="field-error" id="tier-error" hidden=move || field_error(value, "promotion_tier_id").get().is_none()>{move || field_error(value, "promotion_tier_id").get()}</p>
                </div>
                <StepActions step="purpose" pending=save.pending().into() back/>
            </ActionForm>
        </section>
    }
}

#[component]
fn AudienceStep(data: WizardData) -> impl IntoView {
    let d = data.distribution;
    let save = ServerAction::<SaveAudience>::new();
    let value = save.value();
    let back = follow(value, d.id.clone(), "audience");
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let kind = RwSignal::new(entered(value, "kind").unwrap_or_else(|| match &d.audience {
        Some(Audience::Customer(_)) => "customer".to_owned(),
        _ => "segment".to_owned(),
    }));
    let segment_id = entered(value, "segment_id").unwrap_or_else(|| match &d.audience {
        Some(Audience::Segment(s)) => s.clone(),
        _ => String::new(),
    });
    let customer = entered(value, "customer").unwrap_or_else(|| match &d.audience {
        Some(Audience::Customer(c)) => c.clone(),
        _ => String::new(),
    });
    let current = d.audience_label.clone();
    let segments = data.options.segments;
    let seg_checked = kind.get_untracked() == "segment";
    view! {
        <section class="card">
            <h2>"2. Who gets it?"</h2>
            {current.map(|c| view! { <p class="muted">"Now: " {c}</p> })}
            <ActionForm action=save attr:class="form">
                <FormAlert message=form_error(value)/>
                <input type="hidden" name="id" value=d.id.clone()/>
                <fieldset class="field">
                    <legend>"Audience"</legend>
                    <label class="choice"><input type="radio" name="kind" value="segment" checked=seg_checked on:change=move |_| kind.set("segment".into())/>" Every customer in a segment"</label>
                    <label class="choice"><input type="radio" name="kind" value="customer" checked=!seg_checked on:change=move |_| kind.set("customer".into())/>" One customer"</label>
                </fieldset>
                <div class="field" class:invalid=move || field_error(value, "segment_id").get().is_some() hidden=move || hydrated.get() && kind.get() != "segment">
                    <label for="segment">"Segment"</label>
                    <select id="segment" name="segment_id" aria-invalid=move || field_error(value, "segment_id").get().is_some().then_some("true") aria-describedby="segment-error">
                        <option value="">"Choose a segment…"</option>
                        {segments.into_iter().map(|(id, name, count)| {
                            let selected = id == segment_id;
                            view! { <option value=id selected=selected>{format!("{name} ({count} now)")}</option> }
                        }).collect_view()}
                    </select>
                    <p class="field-error" id="segment-error" hidden=move || field_error(value, "segment_id").get().is_none()>{move || field_error(value, "segment_id").get()}</p>
                </div>
                <div hidden=move || hydrated.get() && kind.get() != "customer">
                    <TextField id="audience-customer" label="Customer" name="customer" value=customer
                        hint="Name, email, phone, source id or customer id." error=field_error(value, "customer")/>
                </div>
                <StepActions step="audience" pending=save.pending().into() back/>
            </ActionForm>
        </section>
    }
}

#[component]
fn SubjectStep(data: WizardData) -> impl IntoView {
    let d = data.distribution;
    let save = ServerAction::<SaveSubject>::new();
    let value = save.value();
    let back = follow(value, d.id.clone(), "subject");
    view! {
        <section class="card">
            <h2>"3. Name and subject"</h2>
            <ActionForm action=save attr:class="form">
                <FormAlert message=form_error(value)/>
                <input type="hidden" name="id" value=d.id.clone()/>
                <TextField id="distribution-name" label="Name" name="name" value=entered(value, "name").unwrap_or_else(|| d.name.clone())
                    hint="For you and your team; shown in the list and the report." error=field_error(value, "name")/>
                <TextField id="distribution-subject" label="Subject" name="subject" value=entered(value, "subject").unwrap_or_else(|| d.subject.clone())
                    hint="Internal; messages can show it with {{ distribution.subject }}." error=field_error(value, "subject")/>
                <StepActions step="subject" pending=save.pending().into() back/>
            </ActionForm>
        </section>
    }
}

const STARTER_CODES: &str = "Hi {{ customer.first_name | default: \"there\" }}, your code {{ voucher.code }} gets you {{ voucher.discount }} off. {{ unsubscribe_text }}";
const STARTER_PROMOTION: &str = "Hi {{ customer.first_name | default: \"there\" }}: {{ promotion.banner }}. {{ unsubscribe_text }}";
const STARTER_PLAIN: &str =
    "Hi {{ customer.first_name | default: \"there\" }}, … {{ unsubscribe_text }}";

#[component]
fn MessageStep(data: WizardData) -> impl IntoView {
    let d = data.distribution;
    let save = ServerAction::<SaveMessage>::new();
    let value = save.value();
    let back = follow(value, d.id.clone(), "message");
    let starter = match d.purpose.as_str() {
        "unique_codes" => STARTER_CODES,
        "promotion" => STARTER_PROMOTION,
        _ => STARTER_PLAIN,
    };
    let body = RwSignal::new(entered(value, "template").unwrap_or_else(|| {
        if d.template.is_empty() {
            starter.to_owned()
        } else {
            d.template.clone()
        }
    }));
    let integrations = data.options.integrations;
    let chosen = entered(value, "integration_id")
        .unwrap_or_else(|| d.integration_id.clone().unwrap_or_default());
    // The preview shows what will be sent: the chosen promotion, smart encoding as ticked.
    let promotion = data
        .options
        .tiers
        .iter()
        .find(|(id, _, _)| Some(id) == d.promotion_tier_id.as_ref())
        .map(|(_, name, banner)| crate::domain::template::PromotionData {
            name: name.clone(),
            banner: banner.clone(),
        });
    let smart =
        RwSignal::new(entered(value, "smart_encoding").map_or(d.smart_encoding, |v| v == "on"));
    let no_integrations = integrations.is_empty();
    view! {
        <section class="card">
            <h2>"4. Channel and message"</h2>
            <ActionForm action=save attr:class="form">
                <FormAlert message=form_error(value)/>
                <input type="hidden" name="id" value=d.id.clone()/>
                <div class="field">
                    <label for="channel">"Channel"</label>
                    <select id="channel" name="channel" disabled=true><option>"SMS"</option></select>
                </div>
                <div class="field" class:invalid=move || field_error(value, "integration_id").get().is_some()>
                    <label for="integration">"SMS integration"</label>
                    <select id="integration" name="integration_id" aria-invalid=move || field_error(value, "integration_id").get().is_some().then_some("true") aria-describedby="integration-error">
                        {no_integrations.then(|| view! { <option value="">"No enabled integration: ask an admin to add one"</option> })}
                        {integrations.into_iter().map(|(id, name, rate, is_default)| {
                            let selected = id == chosen;
                            view! { <option value=id selected=selected>{format!("{name} — {rate} segments/s{}", if is_default { " (default)" } else { "" })}</option> }
                        }).collect_view()}
                    </select>
                    <p class="field-error" id="integration-error" hidden=move || field_error(value, "integration_id").get().is_none()>{move || field_error(value, "integration_id").get()}</p>
                </div>
                <div class="field" class:invalid=move || field_error(value, "template").get().is_some()>
                    <TemplateEditor body settings=data.options.preview with_codes=d.purpose == "unique_codes"
                        with_promotion=d.purpose == "promotion" promotion smart_encoding=smart subject=d.subject.clone()/>
                    <p class="field-error" hidden=move || field_error(value, "template").get().is_none()>{move || field_error(value, "template").get()}</p>
                </div>
                <label class="choice"><input type="checkbox" name="smart_encoding" value="on" checked=smart.get_untracked()
                    on:change=move |ev| smart.set(event_target_checked(&ev))/>" Smart encoding (replace curly quotes, dashes and the like with GSM-7 look-alikes)"</label>
                <StepActions step="message" pending=save.pending().into() back/>
            </ActionForm>
        </section>
    }
}

#[component]
fn RemindersStep(data: WizardData) -> impl IntoView {
    let d = data.distribution;
    let save = ServerAction::<SaveReminders>::new();
    let value = save.value();
    let back = follow(value, d.id.clone(), "reminders");
    let existing = d.reminders.first().cloned();
    // After a post without JavaScript that failed, what was typed.
    let typed = entered(value, "remind").is_some();
    let on = if typed {
        entered(value, "remind").is_some_and(|v| v == "on")
    } else {
        existing.is_some()
    };
    let hours = entered(value, "after_hours").unwrap_or_else(|| {
        existing
            .as_ref()
            .map_or("24".to_owned(), |r| r.after_hours.to_string())
    });
    let only = if typed {
        entered(value, "only_if_not_redeemed").is_some_and(|v| v == "on")
    } else {
        existing.as_ref().is_none_or(|r| r.only_if_not_redeemed)
    };
    let text = entered(value, "reminder_template").unwrap_or_else(|| {
        existing.map_or_else(
            || {
                if d.purpose == "unique_codes" {
                    "Reminder: your code {{ voucher.code }} is waiting. {{ unsubscribe_text }}"
                        .to_owned()
                } else {
                    String::new()
                }
            },
            |r| r.template,
        )
    });
    view! {
        <section class="card">
            <h2>"5. Reminders (optional)"</h2>
            <p class="muted">"A follow-up some hours after the send. It is stored with the distribution and shown as scheduled; sending reminders arrives with a later release."</p>
            <ActionForm action=save attr:class="form">
                <FormAlert message=form_error(value)/>
                <input type="hidden" name="id" value=d.id.clone()/>
                <label class="choice"><input type="checkbox" name="remind" value="on" checked=on/>" Send a reminder"</label>
                <TextField id="reminder-hours" label="Hours after the send" name="after_hours" value=hours error=field_error(value, "after_hours")/>
                {(d.purpose == "unique_codes").then(|| view! {
                    <label class="choice"><input type="checkbox" name="only_if_not_redeemed" value="on" checked=only/>" Only to those who have not redeemed their code"</label>
                })}
                <div class="field" class:invalid=move || field_error(value, "reminder_template").get().is_some()>
                    <label for="reminder-template">"Reminder text"</label>
                    <textarea id="reminder-template" name="reminder_template" rows="3" aria-invalid=move || field_error(value, "reminder_template").get().is_some().then_some("true") aria-describedby="reminder-template-error">{text}</textarea>
                    <p class="field-error" id="reminder-template-error" hidden=move || field_error(value, "reminder_template").get().is_none()>{move || field_error(value, "reminder_template").get()}</p>
                </div>
                <StepActions step="reminders" pending=save.pending().into() back/>
            </ActionForm>
        </section>
    }
}

/// "1 h 23 min", "4 min 10 s", "12 s".
fn duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min"),
    }
}

#[component]
fn ReviewStep(id: String) -> impl IntoView {
    let review = Resource::new(move || id.clone(), review_distribution);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Preparing the review…"</p> }>
            {move || Suspend::new(async move {
                match review.await {
                    Ok((d, r)) => view! { <Review d r/> }.into_any(),
                    Err(e) => view! { <div class="alert alert-error" role="alert">{e.to_string()}</div> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Review(d: DistributionView, r: ReviewReport) -> impl IntoView {
    let send = ServerAction::<SendDistribution>::new();
    let value = send.value();
    let navigate = use_navigate();
    let report_href = format!("/distributions/{}", d.id);
    Effect::new(move |_| {
        if let Some(Ok(_)) = value.get() {
            navigate(&report_href, Default::default());
        }
    });
    let ready = r.problems.is_empty();
    let send_id = d.id.clone();
    let x = &r.exclusions;
    let reminders = d.reminders.clone();
    view! {
        <section class="card" aria-labelledby="review-heading">
            <h2 id="review-heading">"6. Review"</h2>
            {(!ready).then(|| view! {
                <div class="alert alert-error" role="alert" data-testid="problems">
                    <p>"Fix these before sending:"</p>
                    <ul>{r.problems.iter().map(|(step, msg)| view! {
                        <li>{msg.clone()} " " <a href=format!("/distributions/{}/{step}", d.id)>{format!("Go to {}", STEPS[step_index(step)].1)}</a></li>
                    }).collect_view()}</ul>
                </div>
            })}
            <dl class="review-facts" data-testid="review">
                <dt>"Purpose"</dt><dd>{purpose_label(&d.purpose)}{d.campaign_name.clone().map(|c| format!(" · {c}"))}{d.promotion_tier_name.clone().map(|t| format!(" · {t}"))}</dd>
                <dt>"Audience"</dt><dd>{d.audience_label.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Recipients"</dt><dd data-testid="recipients">{format!("{} of {} in the audience", r.recipients, r.audience)}</dd>
                <dt>"Left out"</dt><dd data-testid="exclusions">{format!("{} opted out · {} without a phone · {} with an invalid phone · {} sharing a phone", x.opted_out, x.no_phone, x.invalid_phone, x.duplicate)}</dd>
                {r.codes_needed.map(|n| view! { <dt>"Codes"</dt><dd data-testid="codes">{format!("{n} needed · {} available", r.codes_available.unwrap_or(0))}</dd> })}
                <dt>"Integration"</dt><dd>{d.integration_name.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"Segments"</dt><dd data-testid="segments">{format!("{}{} in total", if r.segments_estimated { "≈ " } else { "" }, r.segments_total)}</dd>
                <dt>"Duration"</dt><dd>{format!("about {} at {} segments/s", duration(r.estimated_seconds), r.segments_per_second)}</dd>
                <dt>"Reminders"</dt><dd>{if reminders.is_empty() { "None".to_owned() } else {
                    reminders.iter().map(|m| format!("scheduled {} h after the send{}", m.after_hours, if m.only_if_not_redeemed { ", if not redeemed" } else { "" })).collect::<Vec<_>>().join("; ")
                }}</dd>
            </dl>
            <h3>"Sample messages"</h3>
            {(d.purpose == "unique_codes").then(|| view! { <p class="muted small">"The codes shown are examples of this campaign; each recipient gets a code of their own when you send."</p> })}
            <ul class="sandbox-inbox" data-testid="samples">
                {r.samples.iter().map(|s| view! {
                    <li class="sms-bubble">
                        <p class="sms-meta">{format!("{} · {} · {} · {} segment{}", s.customer, s.to, s.encoding, s.segments, if s.segments == 1 { "" } else { "s" })}</p>
                        <p class="sms-body">{s.text.clone()}</p>
                    </li>
                }).collect_view()}
            </ul>
            <ActionForm action=send attr:class="form send-form">
                <FormAlert message=any_error(value)/>
                <input type="hidden" name="id" value=send_id/>
                <input type="hidden" name="send_key" value=r.send_key.clone()/>
                <div class="form-actions">
                    <a class="btn" href=format!("/distributions/{}/reminders", d.id)>"← Back"</a>
                    <button type="submit" class="btn btn-primary btn-send" disabled=move || !ready || send.pending().get()>
                        {move || if send.pending().get() { "Sending…" } else { "SEND" }}
                    </button>
                </div>
            </ActionForm>
        </section>
    }
}

/// `/distributions/:id`: progress while sending, the report when done. The counts refresh
/// on their own (every 1.5 s while sending, then every 5 s for ten minutes while delivery
/// reports are still due); the message log is read when the page opens, when a search is
/// made and once when sending ends, so what a marketer types in its search box stays.
#[component]
pub fn DistributionPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let q = move || query.with(|m| m.get("q").unwrap_or_default());
    let status = move || query.with(|m| m.get("status").unwrap_or_default());
    let after = move || query.with(|m| m.get("after").and_then(|a| a.parse::<i64>().ok()));
    let progress = Resource::new(id, distribution_progress);
    let log = Resource::new(
        move || (id(), q(), status(), after()),
        |(id, q, status, after)| distribution_messages(id, q, status, after),
    );
    let every: RwSignal<Option<u64>> = RwSignal::new(None);
    Effect::new(move |_| {
        if let Some(ms) = every.get() {
            if let Ok(handle) = set_interval_with_handle(
                move || progress.refetch(),
                std::time::Duration::from_millis(ms),
            ) {
                on_cleanup(move || handle.clear());
            }
        }
    });
    let was_sending = StoredValue::new(false);
    let receipt_polls = StoredValue::new(0u32);
    // Whether the log belongs on the page (the distribution exists and was sent), read once:
    // the log must not hang off `progress`, whose every refresh would redraw it.
    let gate = Resource::new(id, distribution_status);
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match progress.await {
                    Ok(p) if p.distribution.status == "draft" => view! {
                        <PageError title="Distribution" status=409 message="This distribution is a draft." back_href=format!("/distributions/{}/{}", p.distribution.id, p.distribution.step) back_label="Continue the wizard"/>
                    }.into_any(),
                    Ok(p) => {
                        let sending = p.distribution.status == "sending";
                        let s = p.distribution.stats.clone().unwrap_or_default();
                        let next = if sending {
                            Some(1500)
                        } else if s.accepted + s.sent > 0 && receipt_polls.get_value() < 120 {
                            receipt_polls.update_value(|n| *n += 1);
                            Some(5000)
                        } else {
                            None
                        };
                        if every.get_untracked() != next {
                            every.set(next);
                        }
                        if was_sending.get_value() && !sending {
                            log.refetch();
                        }
                        was_sending.set_value(sending);
                        view! { <Report d=p.distribution failures=p.failures/> }.into_any()
                    }
                    Err(e) => view! { <PageError title="Distribution" status=e.status() message=e.to_string() back_href="/distributions" back_label="Back to distributions"/> }.into_any(),
                }
            })}
        </Transition>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match gate.await {
                    Ok(state) if state != "draft" => view! {
                        <section class="card table-card" aria-labelledby="log-heading">
                            <h2 id="log-heading">"Messages"</h2>
                            <form method="get" class="inline-form search-form">
                                <label for="log-q" class="visually-hidden">"Search messages"</label>
                                <input id="log-q" name="q" type="search" value=q() placeholder="Name, number or text"/>
                                <select name="status" aria-label="Status">
                                    {["", "queued", "accepted", "sent", "delivered", "failed", "skipped", "unknown"].into_iter().map(|v| {
                                        let selected = v == status();
                                        view! { <option value=v selected=selected>{if v.is_empty() { "Any status" } else { v }}</option> }
                                    }).collect_view()}
                                </select>
                                <button type="submit" class="btn">"Search"</button>
                                <a class="btn" href=move || csv_href(&id(), &q(), &status()) download="">"Export CSV"</a>
                            </form>
                            <Transition fallback=|| view! { <p class="loading">"Loading messages…"</p> }>
                                {move || Suspend::new(async move {
                                    match log.await {
                                        Ok(page) => view! { <MessageLog id=id() page query=q() status=status()/> }.into_any(),
                                        Err(e) => view! { <div class="alert alert-error" role="alert">{e.to_string()}</div> }.into_any(),
                                    }
                                })}
                            </Transition>
                        </section>
                    }.into_any(),
                    _ => ().into_any(),
                }
            })}
        </Suspense>
    }
}

/// The CSV export of the messages the log shows (its search and status filter).
fn csv_href(id: &str, q: &str, status: &str) -> String {
    let mut href = format!("/app/distributions/{id}/messages.csv");
    let params: Vec<String> = [("q", q), ("status", status)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
    if !params.is_empty() {
        href.push('?');
        href.push_str(&params.join("&"));
    }
    href
}

#[component]
fn Report(d: DistributionView, failures: Vec<crate::dto::FailureGroup>) -> impl IntoView {
    let s = d.stats.clone().unwrap_or_default();
    let duplicate = ServerAction::<DuplicateDistribution>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = duplicate.value().get() {
            navigate(&format!("/distributions/{id}/review"), Default::default());
        }
    });
    let sending = d.status == "sending";
    view! {
        <Title text=d.name.clone()/>
        <PageHeader title=d.name.clone()/>
        <p class="page-description">{format!("{} · {} · via {}", purpose_label(&d.purpose), d.audience_label.clone().unwrap_or_default(), d.integration_name.clone().unwrap_or_default())}</p>
        <p class="breadcrumbs"><a href="/distributions">"← Distributions"</a></p>
        {sending.then(|| view! { <noscript><meta http-equiv="refresh" content="3"/></noscript> })}
        <section class="card" aria-labelledby="progress-heading">
            <h2 id="progress-heading">{if sending { "Sending" } else { "Sent" }} " " <span class=format!("status status-{}", d.status) data-testid="distribution-status">{d.status.clone()}</span></h2>
            <Progress s=s.clone()/>
            <p class="muted small">{format!("Sent {}{}", d.sent_at.map(format_timestamp).unwrap_or_default(),
                d.completed_at.map(|c| format!(" · done {}", format_timestamp(c))).unwrap_or_default())}</p>
            <ActionForm action=duplicate attr:class="inline-form">
                <input type="hidden" name="id" value=d.id.clone()/>
                <button type="submit" class="btn">"Duplicate"</button>
            </ActionForm>
        </section>
        <section class="card" aria-labelledby="funnel-heading">
            <h2 id="funnel-heading">"Funnel"</h2>
            <Funnel s=s.clone() codes=d.purpose == "unique_codes"/>
            <p class="muted">{format!("{} segments used · {} codes published", s.segments_total, s.codes_published)}</p>
        </section>
        <section class="card" aria-labelledby="failures-heading">
            <h2 id="failures-heading">"Not delivered, by reason"</h2>
            {if failures.is_empty() {
                view! { <p class="muted">"Nothing failed or was skipped."</p> }.into_any()
            } else {
                view! {
                    <table class="table" data-testid="failures">
                        <thead><tr><th scope="col">"Status"</th><th scope="col">"Reason"</th><th scope="col" class="num">"Messages"</th></tr></thead>
                        <tbody>{failures.into_iter().map(|f| view! {
                            <tr><td>{f.status}</td><td>{f.code.map(|c| format!("{c}: ")).unwrap_or_default()}{f.message}</td><td class="num">{f.count}</td></tr>
                        }).collect_view()}</tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn MessageLog(
    id: String,
    page: crate::dto::MessagePage,
    query: String,
    status: String,
) -> impl IntoView {
    let next = page.next_after.map(|a| {
        format!(
            "/distributions/{id}?q={}&status={}&after={a}",
            urlencode(&query),
            urlencode(&status)
        )
    });
    view! {
        <div class="table-wrap">
            <table class="table" data-testid="message-log">
                <thead><tr>
                    <th scope="col">"Customer"</th><th scope="col">"To"</th><th scope="col">"Text"</th>
                    <th scope="col">"Status"</th><th scope="col">"Provider id"</th><th scope="col">"Error"</th>
                </tr></thead>
                <tbody>
                    {page.items.into_iter().map(|m| view! {
                        <tr>
                            <td data-label="Customer">{match m.customer_id.clone() {
                                Some(cid) => view! { <a href=format!("/customers/{cid}")>{m.customer_name.clone().unwrap_or_else(|| cid.clone())}</a> }.into_any(),
                                None => view! { <span>"—"</span> }.into_any(),
                            }}</td>
                            <td data-label="To">{m.to.clone()}</td>
                            <td data-label="Text" class="message-text">{m.text.clone()}</td>
                            <td data-label="Status"><span class=format!("status status-{}", m.status)>{m.status.clone()}</span></td>
                            <td data-label="Provider id"><code>{m.provider_id.clone().unwrap_or_default()}</code></td>
                            <td data-label="Error">{m.error.clone().unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {next.map(|href| view! { <p><a class="btn" href=href>"Next page →"</a></p> })}
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
fn Progress(s: DistributionStats) -> impl IntoView {
    let total = s.to_send().max(1) as f64;
    let part = |n: u64| format!("width: {:.2}%", 100.0 * n as f64 / total);
    let delivered = s.delivered;
    let sent = s.accepted + s.sent;
    let failed = s.failed + s.unknown;
    view! {
        <div class="progress-stack" role="img" aria-label=format!("{}% sent", s.percent_done()) data-testid="progress">
            <span class="bar bar-delivered" style=part(delivered)></span>
            <span class="bar bar-sent" style=part(sent)></span>
            <span class="bar bar-failed" style=part(failed)></span>
        </div>
        <ul class="legend" data-testid="counters">
            <li><span class="dot dot-queued"></span>{format!("Queued {}", s.queued)}</li>
            <li><span class="dot dot-sent"></span>{format!("Sent {}", sent + delivered)}</li>
            <li><span class="dot dot-delivered"></span>{format!("Delivered {}", delivered)}</li>
            <li><span class="dot dot-failed"></span>{format!("Failed {}", s.failed)}</li>
            {(s.unknown > 0).then(|| view! { <li>{format!("Unconfirmed {}", s.unknown)}</li> })}
            <li>{format!("Skipped {}", s.skipped.total())}</li>
            <li data-testid="percent"><strong>{format!("{}%", s.percent_done())}</strong></li>
        </ul>
    }
}

/// Audience → sent → delivered → redeemed, as horizontal bars (SVG, no script).
#[component]
fn Funnel(s: DistributionStats, codes: bool) -> impl IntoView {
    let mut rows = vec![
        ("Audience", s.audience),
        ("Sent", s.accepted + s.sent + s.delivered),
        ("Delivered", s.delivered),
    ];
    if codes {
        rows.push(("Redeemed", s.redeemed));
    }
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let height = rows.len() * 34;
    view! {
        <svg class="funnel" viewBox=format!("0 0 600 {height}") role="img" aria-label="Funnel" data-testid="funnel">
            {rows.into_iter().enumerate().map(|(i, (label, n))| {
                let y = i * 34;
                let w = 400.0 * n as f64 / max;
                view! {
                    <g>
                        <text x="0" y=y + 21 class="funnel-label">{label}</text>
                        <rect x="110" y=y + 6 width=format!("{w:.1}") height="22" rx="4" class=format!("funnel-bar funnel-{}", i)></rect>
                        <text x=format!("{:.1}", 118.0 + w) y=y + 21 class="funnel-value">{n.to_string()}</text>
                    </g>
                }
            }).collect_view()}
        </svg>
    }
}
