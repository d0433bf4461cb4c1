use super::{shell::AdminOnly, PageError, PageHeader};
use crate::{
    api::integrations::{
        get_integration, list_integrations, DeleteIntegration, SaveIntegration, TestSend,
    },
    components::{
        empty_state::EmptyState,
        form::{field_error, form_error, FormAlert, SubmitButton, TextField},
        navigation::hard_navigate,
    },
    domain::provider::{provider, PROVIDERS},
    dto::IntegrationView,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn IntegrationsPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| list_integrations());
    let saved = use_query_map().with_untracked(|q| q.get("saved").is_some());
    view! {
        <Title text="Integrations"/>
        <AdminOnly>
            <PageHeader title="Integrations" description="The SMS providers Codecast sends through."/>
            {saved.then(|| view! { <p class="alert alert-success" role="status">"Integration saved."</p> })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Err(e) => view! { <div class="alert alert-error" role="alert">{e.to_string()}</div> }.into_any(),
                        Ok(items) if items.is_empty() => view! {
                            <EmptyState title="No SMS provider connected" icon="plug">
                                <p>"Connect Twilio, Vonage, Plivo, Telnyx, MessageBird, your own HTTP gateway, or the sandbox (which records messages instead of sending them). Credentials are encrypted at rest and never shown again; sending is paced to the rate your provider accepts."</p>
                            </EmptyState>
                        }.into_any(),
                        Ok(items) => view! { <IntegrationTable items/> }.into_any(),
                    }
                })}
            </Suspense>
            <section class="card" aria-labelledby="add-heading">
                <h2 id="add-heading">"Add an integration"</h2>
                <ul class="provider-list">
                    {PROVIDERS.iter().map(|p| view! {
                        <li><a class="btn" href=format!("/integrations/new?provider={}", p.id)>{p.label}</a></li>
                    }).collect_view()}
                </ul>
            </section>
        </AdminOnly>
    }
}

#[component]
fn IntegrationTable(items: Vec<IntegrationView>) -> impl IntoView {
    view! {
        <div class="card table-card">
            <div class="table-wrap">
                <table class="table" data-testid="integrations">
                    <thead><tr>
                        <th scope="col">"Name"</th><th scope="col">"Provider"</th><th scope="col">"Sender"</th>
                        <th scope="col" class="num">"Segments/s"</th><th scope="col">"Status"</th>
                    </tr></thead>
                    <tbody>
                        {items.into_iter().map(|i| {
                            let label = provider(&i.provider).map_or(i.provider.clone(), |p| p.label.to_owned());
                            view! {
                                <tr>
                                    <td data-label="Name"><a href=format!("/integrations/{}", i.id)>{i.name.clone()}</a></td>
                                    <td data-label="Provider">{label}</td>
                                    <td data-label="Sender">{i.sender.clone().unwrap_or_else(|| "—".into())}</td>
                                    <td data-label="Segments/s" class="num">{i.max_segments_per_second}</td>
                                    <td data-label="Status">
                                        {if i.enabled { "enabled" } else { "disabled" }}
                                        {i.is_default.then(|| view! { " " <span class="badge">"default"</span> })}
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </div>
    }
}

/// `/integrations/new?provider=…` and `/integrations/:id`.
#[component]
pub fn IntegrationPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.with(|p| p.get("id")).filter(|id| id != "new");
    let chosen = move || query.with(|q| q.get("provider"));
    let existing = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_integration(id).await.map(Some),
            None => Ok(None),
        }
    });
    view! {
        <AdminOnly>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match existing.await {
                        Ok(found) => {
                            let provider_id = found.as_ref().map(|i| i.provider.clone()).or_else(chosen).unwrap_or_default();
                            match provider(&provider_id) {
                                Some(_) => view! { <IntegrationForm provider_id found/> }.into_any(),
                                None => view! { <PageError title="Add an integration" status=404 message="Choose a provider on the Integrations page." back_href="/integrations" back_label="Back to integrations"/> }.into_any(),
                            }
                        }
                        Err(e) => view! { <PageError title="Integration" status=e.status() message=e.to_string() back_href="/integrations" back_label="Back to integrations"/> }.into_any(),
                    }
                })}
            </Suspense>
        </AdminOnly>
    }
}

#[component]
fn IntegrationForm(provider_id: String, found: Option<IntegrationView>) -> impl IntoView {
    let spec = provider(&provider_id).expect("checked by the caller");
    let save = ServerAction::<SaveIntegration>::new();
    let delete = ServerAction::<DeleteIntegration>::new();
    let value = save.value();
    Effect::new(move |_| {
        if let Some(Ok(_)) = value.get() {
            hard_navigate("/integrations?saved=1");
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            hard_navigate("/integrations");
        }
    });
    let title = found
        .as_ref()
        .map_or(format!("Add {}", spec.label), |i| i.name.clone());
    let id = found.as_ref().map(|i| i.id.clone()).unwrap_or_default();
    let delete_id = id.clone();
    let test_id = id.clone();
    let existing = found.is_some();
    let name = found.as_ref().map(|i| i.name.clone()).unwrap_or_default();
    let sender = found
        .as_ref()
        .and_then(|i| i.sender.clone())
        .unwrap_or_default();
    let base_url = found
        .as_ref()
        .and_then(|i| i.base_url.clone())
        .unwrap_or_default();
    let rate = found
        .as_ref()
        .map_or("1".to_owned(), |i| i.max_segments_per_second.to_string());
    let is_default = found.as_ref().is_some_and(|i| i.is_default);
    let enabled = found.as_ref().is_none_or(|i| i.enabled);
    let stored = found
        .as_ref()
        .map(|i| i.credentials.clone())
        .unwrap_or_default();
    view! {
        <Title text=title.clone()/>
        <PageHeader title=title/>
        <p class="breadcrumbs"><a href="/integrations">"← Integrations"</a></p>
        <section class="card">
            <ActionForm action=save attr:class="form form-grid">
                <FormAlert message=form_error(value)/>
                <input type="hidden" name="id" value=id.clone()/>
                <input type="hidden" name="provider" value=spec.id/>
                <TextField id="integration-name" label="Name" name="name" value=name error=field_error(value, "name")/>
                <div class="field">
                    <label for="integration-sender">"Sender"</label>
                    <input id="integration-sender" name="sender" value=sender autocomplete="off"/>
                    <p class="field-hint">{spec.sender_hint}</p>
                    <p class="field-error" hidden=move || field_error(value, "sender").get().is_none()>{move || field_error(value, "sender").get()}</p>
                </div>
                {spec.credentials.iter().map(|c| {
                    let input_id = format!("credential-{}", c.name);
                    let key = format!("credentials.{}", c.name);
                    let error = Signal::derive(move || value.with(|v| match v { Some(Err(e)) => e.field(&key).map(str::to_owned), _ => None }));
                    let shown = stored.get(c.name).cloned();
                    let (current, hint) = match (c.secret, shown) {
                        (true, Some(mask)) => (String::new(), format!("Stored ({mask}); leave empty to keep it.")),
                        (true, None) => (String::new(), "Stored encrypted; never shown again.".to_owned()),
                        (false, v) => (v.unwrap_or_default(), if c.required { String::new() } else { "Optional.".to_owned() }),
                    };
                    view! {
                        <div class="field" class:invalid=move || error.get().is_some()>
                            <label for=input_id.clone()>{c.label}</label>
                            <input id=input_id name=format!("credentials[{}]", c.name) value=current
                                type=if c.secret { "password" } else { "text" } autocomplete="off"/>
                            {(!hint.is_empty()).then(|| view! { <p class="field-hint">{hint}</p> })}
                            <p class="field-error" hidden=move || error.get().is_none()>{move || error.get()}</p>
                        </div>
                    }
                }).collect_view()}
                <TextField id="integration-base-url" label="Base URL (optional)" name="base_url" value=base_url
                    hint="For self-hosted gateways and tests; empty uses the provider's own API." error=field_error(value, "base_url")/>
                <TextField id="integration-rate" label="Segments per second" name="max_segments_per_second" value=rate
                    hint="What your sender may send: 1 for a US long code, 3 toll-free, 100 a short code." error=field_error(value, "max_segments_per_second")/>
                <div class="field">
                    <label for="integration-default">"Default for new distributions"</label>
                    <select id="integration-default" name="is_default">
                        <option value="no" selected=!is_default>"No"</option>
                        <option value="yes" selected=is_default>"Yes"</option>
                    </select>
                </div>
                <div class="field">
                    <label for="integration-enabled">"Status"</label>
                    <select id="integration-enabled" name="enabled">
                        <option value="yes" selected=enabled>"Enabled"</option>
                        <option value="no" selected=!enabled>"Disabled"</option>
                    </select>
                </div>
                <div class="form-actions">
                    <SubmitButton label=if existing { "Save integration" } else { "Add integration" } busy_label="Saving…" pending=save.pending()/>
                </div>
            </ActionForm>
        </section>
        {existing.then(|| view! { <TestSendForm id=test_id.clone()/> })}
        {existing.then(|| view! {
            <section class="card danger-zone">
                <h2>"Delete"</h2>
                <p class="muted">"Deletes the integration and its stored credentials."</p>
                <FormAlert message=form_error(delete.value())/>
                <ActionForm action=delete attr:class="inline-form">
                    <input type="hidden" name="id" value=delete_id.clone()/>
                    <button type="submit" class="btn btn-danger">"Delete integration"</button>
                </ActionForm>
            </section>
        })}
    }
    .into_any()
}

/// Sends one message and shows the provider's answer as it came.
#[component]
fn TestSendForm(id: String) -> impl IntoView {
    let send = ServerAction::<TestSend>::new();
    let value = send.value();
    view! {
        <section class="card" aria-labelledby="test-heading">
            <h2 id="test-heading">"Test send"</h2>
            <p class="muted">"Sends one real message through this integration (the sandbox only records it)."</p>
            <ActionForm action=send attr:class="form form-grid">
                <FormAlert message=form_error(value)/>
                <input type="hidden" name="id" value=id/>
                <TextField id="test-to" label="To" name="to" kind="tel" autocomplete="off" error=field_error(value, "to")/>
                <TextField id="test-body" label="Message" name="body" value="Test from Codecast".to_owned() error=field_error(value, "body")/>
                <div class="form-actions">
                    <SubmitButton label="Send test" busy_label="Sending…" pending=send.pending()/>
                </div>
            </ActionForm>
            {move || value.get().and_then(Result::ok).map(|r| view! {
                <div class="test-result" data-testid="test-result" role="status">
                    {if r.accepted {
                        view! { <p class="alert alert-success">{format!("Accepted for {}: {}{}", r.to, r.provider_id.clone().unwrap_or_default(),
                            r.segments.map(|n| format!(" · {n} segment{}", if n == 1 { "" } else { "s" })).unwrap_or_default())}</p> }.into_any()
                    } else {
                        view! { <p class="alert alert-error">{format!("Not sent ({}{}): {}", r.failure.clone().unwrap_or_default(),
                            r.code.clone().map(|c| format!(", code {c}")).unwrap_or_default(), r.message.clone().unwrap_or_default())}</p> }.into_any()
                    }}
                    <p class="muted small">{match r.http_status { Some(s) => format!("The provider answered HTTP {s}:"), None => "The provider answered:".into() }}</p>
                    <pre class="raw-answer">{r.raw.clone()}</pre>
                </div>
            })}
        </section>
    }
}
