use super::{customers::ConsentBadge, PageError, PageHeader};
use crate::{
    api::customers::{get_customer_detail, CustomerDetail, DeleteCustomer, SaveCustomer},
    components::{
        form::{field_error, form_error, FormAlert, SubmitButton, TextField},
        navigation::hard_navigate,
        time::format_timestamp,
    },
    domain::consent::SmsConsent,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// `/customers/new` and `/customers/:id`: the form, and for existing customers their consent history.
#[component]
pub fn CustomerPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id")).filter(|id| id != "new");
    let detail = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_customer_detail(id).await.map(Some),
            None => Ok(None),
        }
    });
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <CustomerForm detail=d/> }.into_any(),
                    Err(e) => view! { <PageError title="Customer" status=e.status() message=e.to_string() back_href="/customers" back_label="Back to customers"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CustomerForm(detail: Option<CustomerDetail>) -> impl IntoView {
    let save = ServerAction::<SaveCustomer>::new();
    let delete = ServerAction::<DeleteCustomer>::new();
    let value = save.value();
    Effect::new(move |_| {
        if let Some(Ok(saved)) = value.get() {
            hard_navigate(&format!("/customers/{}?saved=1", saved.id));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            hard_navigate("/customers");
        }
    });
    let saved_notice =
        leptos_router::hooks::use_query_map().with_untracked(|q| q.get("saved").is_some());
    let c = detail.as_ref().map(|d| d.customer.clone());
    let title = c.as_ref().map_or("New customer".to_owned(), |c| {
        c.name.clone().unwrap_or_else(|| "Customer".into())
    });
    let id = c.as_ref().map(|c| c.id.clone()).unwrap_or_default();
    let delete_id = id.clone();
    let field = {
        let c = c.clone();
        move |f: fn(&crate::dto::CustomerView) -> Option<String>| {
            c.as_ref().and_then(f).unwrap_or_default()
        }
    };
    let metadata = c.as_ref().map_or(String::new(), |c| {
        if c.metadata.is_empty() {
            String::new()
        } else {
            serde_json::to_string_pretty(&c.metadata).unwrap_or_default()
        }
    });
    let consent = c.as_ref().map_or(SmsConsent::Unknown, |c| c.sms_consent);
    let country = detail.as_ref().map(|d| d.default_country.clone());
    let history = detail
        .as_ref()
        .map(|d| d.consent_history.clone())
        .unwrap_or_default();
    let events = detail
        .as_ref()
        .map(|d| d.events.clone())
        .unwrap_or_default();
    let segments = detail
        .as_ref()
        .map(|d| d.segments.clone())
        .unwrap_or_default();
    let codes = detail.as_ref().map(|d| d.codes.clone()).unwrap_or_default();
    let existing = detail.is_some();
    let phone_hint = match &country {
        Some(cc) => format!("Any format; numbers without a country code are read as {cc}. Stored as +… (E.164)."),
        None => "Any format; add the country code (+34…) unless it is in the instance's default country.".into(),
    };
    let metadata_error = field_error(value, "metadata");

    view! {
        <Title text=title.clone()/>
        <PageHeader title=title/>
        <p class="breadcrumbs"><a href="/customers">"← Customers"</a></p>
        {saved_notice.then(|| view! { <p class="alert alert-success" role="status">"Saved."</p> })}
        <section class="card">
            <ActionForm action=save attr:class="form form-grid">
                <FormAlert message=form_error(value)/>
                <input type="hidden" name="id" value=id.clone()/>
                <TextField id="customer-name" label="Name" name="name" value=field(|c| c.name.clone()) error=field_error(value, "name")/>
                <TextField id="customer-phone" label="Phone" name="phone" kind="tel" autocomplete="off"
                    value=field(|c| c.phone.clone()) error=field_error(value, "phone")/>
                <TextField id="customer-email" label="Email" name="email" kind="email" autocomplete="off"
                    value=field(|c| c.email.clone()) error=field_error(value, "email")/>
                <TextField id="customer-source-id" label="Source id" name="source_id"
                    hint="Your shop's own id for this customer; the API updates by it."
                    value=field(|c| c.source_id.clone()) error=field_error(value, "source_id")/>
                <TextField id="customer-timezone" label="Time zone" name="timezone" hint="For example Europe/Madrid."
                    value=field(|c| c.timezone.clone()) error=field_error(value, "timezone")/>
                <div class="field">
                    <label for="customer-consent">"SMS consent"</label>
                    <select id="customer-consent" name="sms_consent">
                        {[SmsConsent::OptedIn, SmsConsent::OptedOut, SmsConsent::Unknown].into_iter().map(|s| view! {
                            <option value=s.as_str() selected=s == consent>{s.label()}</option>
                        }).collect_view()}
                    </select>
                    <p class="field-error" hidden=move || field_error(value, "sms_consent").get().is_none()>{move || field_error(value, "sms_consent").get()}</p>
                </div>
                <p class="field-hint form-wide">{phone_hint}</p>
                <div class="field form-wide" class:invalid=move || metadata_error.get().is_some()>
                    <label for="customer-metadata">"Metadata (JSON object)"</label>
                    <textarea id="customer-metadata" name="metadata" rows="5" class="template-body"
                        aria-describedby="customer-metadata-error">{metadata}</textarea>
                    <p class="field-error" id="customer-metadata-error" hidden=move || metadata_error.get().is_none()>{move || metadata_error.get()}</p>
                </div>
                <div class="form-actions">
                    <SubmitButton label=if existing { "Save changes" } else { "Add customer" } busy_label="Saving…" pending=save.pending()/>
                </div>
            </ActionForm>
        </section>
        {existing.then(|| view! {
            <section class="card" aria-labelledby="consent-heading">
                <h2 id="consent-heading">"Consent history"</h2>
                {if history.is_empty() {
                    view! { <p class="empty-inline">"No consent has been recorded yet."</p> }.into_any()
                } else {
                    view! {
                        <ol class="timeline">
                            {history.into_iter().map(|h| view! {
                                <li>
                                    <ConsentBadge consent=h.state/>
                                    " " {format_timestamp(h.at)} " · " {h.source.clone()}
                                    {h.actor.clone().map(|a| view! { " · " {a} })}
                                </li>
                            }).collect_view()}
                        </ol>
                    }.into_any()
                }}
            </section>
            <section class="card" aria-labelledby="events-heading">
                <h2 id="events-heading">"Recent events"</h2>
                {if events.is_empty() {
                    view! { <p class="empty-inline">"No events yet. Your shop reports them with POST /v1/events."</p> }.into_any()
                } else {
                    view! {
                        <ol class="timeline" data-testid="events">
                            {events.into_iter().map(|e| {
                                let meta = (!e.metadata.is_empty()).then(|| serde_json::Value::Object(e.metadata.clone()).to_string());
                                view! {
                                    <li><code>{e.name.clone()}</code> " " {format_timestamp(e.at)}
                                        {meta.map(|m| view! { " · " <span class="muted small">{m}</span> })}
                                    </li>
                                }
                            }).collect_view()}
                        </ol>
                    }.into_any()
                }}
            </section>
            <section class="card" aria-labelledby="segments-heading">
                <h2 id="segments-heading">"Segments"</h2>
                {if segments.is_empty() {
                    view! { <p class="empty-inline">"Not in any segment."</p> }.into_any()
                } else {
                    view! {
                        <ul class="timeline" data-testid="customer-segments">
                            {segments.into_iter().map(|s| view! {
                                <li>
                                    <a href=format!("/segments/{}", s.id)>{s.name.clone()}</a>
                                    {match s.left_at {
                                        None => format!(" · member since {}", format_timestamp(s.entered_at)),
                                        Some(left) => format!(" · left {}", format_timestamp(left)),
                                    }}
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
            <section class="card" aria-labelledby="codes-heading">
                <h2 id="codes-heading">"Codes received"</h2>
                {if codes.is_empty() {
                    view! { <p class="empty-inline">"No codes yet."</p> }.into_any()
                } else {
                    view! {
                        <ul class="timeline" data-testid="customer-codes">
                            {codes.into_iter().map(|v| view! {
                                <li>
                                    <code>{v.code.clone()}</code>" "
                                    <span class="state-badge" data-state=v.state.clone()>{v.state.clone()}</span>
                                    " · "<a href=format!("/campaigns/{}", v.campaign_id)>"campaign"</a>
                                    {v.published_at.map(|t| format!(" · {}", format_timestamp(t)))}
                                    {v.qr_url.clone().map(|u| view! { " · " <a href=u target="_blank" rel="noopener">"QR"</a> })}
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
            <section class="card danger-zone">
                <h2>"Delete"</h2>
                <p class="muted">"Deletes the customer and their consent history. Codes they received stay redeemable."</p>
                <FormAlert message=form_error(delete.value())/>
                <ActionForm action=delete attr:class="inline-form">
                    <input type="hidden" name="id" value=delete_id.clone()/>
                    <button type="submit" class="btn btn-danger">"Delete customer"</button>
                </ActionForm>
            </section>
        })}
    }
}
