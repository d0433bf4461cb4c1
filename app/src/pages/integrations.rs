use super::{shell::AdminOnly, PageError, PageHeader};
use crate::{
    api::integrations::{
        get_integration, integration_activity, list_integrations, DeleteIntegration,
        SaveIntegration, TestSend,
    },
    components::{
        empty_state::EmptyState,
        form::{field_error, form_error, FormAlert, SubmitButton, TextField},
        navigation::hard_navigate,
        time::format_timestamp,
    },
    domain::provider::{provider, PROVIDERS},
    dto::{DeliveryView, IntegrationView, SandboxMessage},
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
    let help_text = found
        .as_ref()
        .and_then(|i| i.help_text.clone())
        .unwrap_or_default();
    let webhooks = found
        .as_ref()
        .map(|i| (i.status_webhook.clone(), i.inbound_webhook.clone()));
    let activity_id = id.clone();
    let is_sandbox = spec.id == "sandbox";
    let bump = RwSignal::new(0u32);
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
                    <label for="integration-help">"Reply to HELP (optional)"</label>
                    <textarea id="integration-help" name="help_text" rows="2" maxlength="320">{help_text}</textarea>
                    <p class="field-hint">"Sent when someone texts HELP or INFO. Empty uses: “You get offers by SMS from this shop. Reply STOP to unsubscribe, START to subscribe again.”"</p>
                    <p class="field-error" hidden=move || field_error(value, "help_text").get().is_none()>{move || field_error(value, "help_text").get()}</p>
                </div>
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
        {webhooks.filter(|_| !is_sandbox).map(|(status, inbound)| view! {
            <section class="card" aria-labelledby="webhooks-heading">
                <h2 id="webhooks-heading">"Webhooks"</h2>
                <p class="muted">"Codecast asks the provider to report each message's status to the first address. Set the second as the number's incoming-message webhook, so STOP, START and HELP replies reach Codecast. Both are checked against the provider's signature."</p>
                <dl class="webhook-urls">
                    <dt>"Delivery status"</dt><dd><code data-testid="status-webhook">{status}</code></dd>
                    <dt>"Incoming messages"</dt><dd><code data-testid="inbound-webhook">{inbound}</code></dd>
                </dl>
            </section>
        })}
        {existing.then(|| view! { <TestSendForm id=test_id.clone() bump/> })}
        {existing.then(|| view! { <IntegrationActivity id=activity_id.clone() sandbox=is_sandbox bump/> })}
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
fn TestSendForm(id: String, bump: RwSignal<u32>) -> impl IntoView {
    let send = ServerAction::<TestSend>::new();
    let value = send.value();
    Effect::new(move |_| {
        if value.with(|v| matches!(v, Some(Ok(_)))) {
            bump.update(|n| *n += 1);
        }
    });
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

/// The integration's latest messages (kept current while the page is open) and, for the
/// sandbox, the messages it recorded instead of sending.
#[component]
fn IntegrationActivity(id: String, sandbox: bool, bump: RwSignal<u32>) -> impl IntoView {
    let activity = Resource::new(
        move || (id.clone(), bump.get()),
        |(id, _)| integration_activity(id),
    );
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(
            move || activity.refetch(),
            std::time::Duration::from_secs(3),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading messages…"</p> }>
            {move || Suspend::new(async move {
                match activity.await {
                    Err(e) => view! { <div class="alert alert-error" role="alert">{e.to_string()}</div> }.into_any(),
                    Ok((messages, inbox)) => view! {
                        {sandbox.then(|| view! { <SandboxInbox inbox/> })}
                        <MessageLog messages/>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn MessageLog(messages: Vec<DeliveryView>) -> impl IntoView {
    view! {
        <section class="card table-card" aria-labelledby="messages-heading">
            <h2 id="messages-heading">"Recent messages"</h2>
            {if messages.is_empty() {
                view! { <p class="muted">"Nothing sent through this integration yet."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="messages">
                            <thead><tr>
                                <th scope="col">"Queued"</th><th scope="col">"To"</th><th scope="col">"Text"</th>
                                <th scope="col">"Status"</th><th scope="col">"Provider id"</th><th scope="col">"Error"</th>
                            </tr></thead>
                            <tbody>
                                {messages.into_iter().map(|m| {
                                    let kind = match m.kind.as_str() { "test" => "test", "reply" => "reply", _ => "" };
                                    let error = match (&m.error_code, &m.error_message, &m.skip_reason) {
                                        (_, _, Some(reason)) => format!("skipped: {}", reason.replace('_', " ")),
                                        (Some(code), Some(msg), _) => format!("{code}: {msg}"),
                                        (None, Some(msg), _) => msg.clone(),
                                        _ => String::new(),
                                    };
                                    let status_class = format!("status status-{}", m.status);
                                    view! {
                                        <tr data-delivery=m.id>
                                            <td data-label="Queued">{format_timestamp(m.created_at)}</td>
                                            <td data-label="To">{m.to.clone()}</td>
                                            <td data-label="Text" class="message-text">{m.body.clone()}
                                                {(!kind.is_empty()).then(|| view! { " " <span class="badge">{kind}</span> })}</td>
                                            <td data-label="Status"><span class=status_class data-testid="message-status">{m.status.clone()}</span>
                                                {m.provider_status.clone().filter(|p| *p != m.status).map(|p| view! { <span class="muted small">{format!(" ({p})")}</span> })}</td>
                                            <td data-label="Provider id"><code>{m.provider_id.clone().unwrap_or_default()}</code></td>
                                            <td data-label="Error">{error}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn SandboxInbox(inbox: Vec<SandboxMessage>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="inbox-heading">
            <h2 id="inbox-heading">"Sandbox inbox"</h2>
            <p class="muted">"What the sandbox recorded instead of sending: nothing here reached a phone."</p>
            {if inbox.is_empty() {
                view! { <p class="muted">"Empty: send a test or a distribution through this integration."</p> }.into_any()
            } else {
                view! {
                    <ul class="sandbox-inbox" data-testid="sandbox-inbox">
                        {inbox.into_iter().map(|m| view! {
                            <li class="sms-bubble">
                                <p class="sms-meta">{format!("{} → {} · {} · {} segment{}", m.sender.clone().unwrap_or_else(|| "Sandbox".into()), m.to,
                                    format_timestamp(m.created_at), m.segments, if m.segments == 1 { "" } else { "s" })}</p>
                                <p class="sms-body">{m.body.clone()}</p>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}
