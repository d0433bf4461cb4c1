use super::{shell::AdminOnly, PageHeader};
use crate::{
    api::{
        api_keys::{list_api_keys, CreateApiKey, RevokeApiKey},
        customers::{get_default_country, SetDefaultCountry},
        users::{list_users, CreateUser, DeleteUser},
    },
    components::{
        form::{field_error, form_error, FormAlert, RoleField, SubmitButton, TextField},
        time::format_timestamp,
    },
    domain::{label::LABEL_MAX_CHARS, password::PASSWORD_MIN_CHARS},
    error::AppError,
};
use leptos::{html::Form, prelude::*};
use leptos_meta::Title;

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <Title text="Settings"/>
        <AdminOnly>
            <PageHeader title="Settings" description="Who can use this Codecast, and which programs may call its API."/>
            <PhoneSection/>
            <UsersSection/>
            <ApiKeysSection/>
        </AdminOnly>
    }
}

/// Clears a form once its action succeeded, so the next entry starts blank.
fn reset_on_success<T: Clone + Send + Sync + 'static>(
    form: NodeRef<Form>,
    value: MappedSignal<Option<Result<T, AppError>>>,
) {
    Effect::new(move |_| {
        if matches!(value.get(), Some(Ok(_))) {
            if let Some(form) = form.get() {
                form.reset();
            }
        }
    });
}

#[component]
fn PhoneSection() -> impl IntoView {
    let save = ServerAction::<SetDefaultCountry>::new();
    let value = save.value();
    let current = Resource::new(move || save.version().get(), |_| get_default_country());
    view! {
        <section class="card" aria-labelledby="phone-heading">
            <h2 id="phone-heading">"Phone numbers"</h2>
            <p class="muted">"Numbers typed or imported without a country code (like 612 345 678) are read in this country, then stored in international format."</p>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let country = current.await.unwrap_or_default();
                    view! {
                        <ActionForm action=save attr:class="form form-grid">
                            <TextField id="default-country" label="Default country" name="country" value=country
                                maxlength=2usize required=true hint="Two letters: US, GB, ES, DE, …"
                                error=field_error(value, "default_country")/>
                            <div class="form-actions">
                                <SubmitButton label="Save country" busy_label="Saving…" pending=save.pending()/>
                            </div>
                        </ActionForm>
                    }
                })}
            </Transition>
            <Show when=move || matches!(value.get(), Some(Ok(_)))>
                <p class="alert alert-success" role="status">"Saved."</p>
            </Show>
        </section>
    }
}

#[component]
fn UsersSection() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let delete = ServerAction::<DeleteUser>::new();
    let users = Resource::new(
        move || (create.version().get(), delete.version().get()),
        |_| list_users(),
    );
    let form = NodeRef::<Form>::new();
    let value = create.value();
    reset_on_success(form, value);
    let session = expect_context::<super::shell::SessionResource>();
    let me = move || {
        session
            .get()
            .and_then(|s| s.ok())
            .and_then(|s| s.user)
            .map(|u| u.id)
    };

    view! {
        <section class="card" aria-labelledby="users-heading">
            <h2 id="users-heading">"Users"</h2>
            <FormAlert message=form_error(delete.value())/>
            <Transition fallback=|| view! { <p class="loading">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Err(e) => view! { <div class="alert alert-error" role="alert">{e.to_string()}</div> }.into_any(),
                        Ok(users) => view! {
                            <div class="table-wrap">
                                <table class="table">
                                    <thead><tr><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Added"</th><th scope="col">"Last sign-in"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                                    <tbody>
                                        {users.into_iter().map(|u| {
                                            let is_me = me() == Some(u.id.clone());
                                            view! {
                                                <tr>
                                                    <td data-label="Email">{u.email.clone()} {is_me.then(|| view! { <span class="muted">" (you)"</span> })}</td>
                                                    <td data-label="Role"><span class="role-badge" data-role=u.role.as_str()>{u.role.label()}</span></td>
                                                    <td data-label="Added">{format_timestamp(u.created_at)}</td>
                                                    <td data-label="Last sign-in">{u.last_login_at.map(format_timestamp).unwrap_or_else(|| "Never".into())}</td>
                                                    <td class="row-actions">
                                                        {(!is_me).then(|| view! {
                                                            <ActionForm action=delete attr:class="inline-form">
                                                                <input type="hidden" name="id" value=u.id.clone()/>
                                                                <button type="submit" class="btn btn-danger btn-small" aria-label=format!("Remove {}", u.email)>"Remove"</button>
                                                            </ActionForm>
                                                        })}
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any(),
                    }
                })}
            </Transition>

            <h3>"Add a user"</h3>
            <ActionForm action=create node_ref=form attr:class="form form-grid">
                <FormAlert message=form_error(value)/>
                <TextField id="user-email" label="Email" name="email" kind="email" autocomplete="off" required=true error=field_error(value, "email")/>
                <RoleField id="user-role" error=field_error(value, "role")/>
                <TextField id="user-password" label="Initial password" name="password" kind="password" autocomplete="new-password"
                    required=true minlength=PASSWORD_MIN_CHARS hint="Share it privately; at least 10 characters."
                    error=field_error(value, "password")/>
                <div class="form-actions">
                    <SubmitButton label="Add user" busy_label="Adding…" pending=create.pending()/>
                </div>
            </ActionForm>
            <Show when=move || matches!(value.get(), Some(Ok(_)))>
                <p class="alert alert-success" role="status">
                    {move || value.get().and_then(|r| r.ok()).map(|u| format!("{} can now sign in.", u.email))}
                </p>
            </Show>
        </section>
    }
}

#[component]
fn ApiKeysSection() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_api_keys(),
    );
    let form = NodeRef::<Form>::new();
    let value = create.value();
    reset_on_success(form, value);

    view! {
        <section class="card" aria-labelledby="keys-heading">
            <h2 id="keys-heading">"API keys"</h2>
            <p class="muted">"Your shop's backend uses a key as "<code>"Authorization: Bearer …"</code>" to send customers and events. Marketer keys cannot manage integrations, users or keys."</p>
            <FormAlert message=form_error(revoke.value())/>
            {move || value.get().and_then(|r| r.ok()).map(|created| view! {
                <div class="alert alert-success secret-reveal" role="status">
                    <p><strong>{format!("Key “{}” created.", created.key.name)}</strong>" Copy it now: it is shown only once."</p>
                    <label class="visually-hidden" for="new-api-key">"New API key"</label>
                    <input id="new-api-key" class="secret" readonly=true value=created.secret.clone() data-testid="new-api-key"/>
                </div>
            })}
            <Transition fallback=|| view! { <p class="loading">"Loading keys…"</p> }>
                {move || Suspend::new(async move {
                    match keys.await {
                        Err(e) => view! { <div class="alert alert-error" role="alert">{e.to_string()}</div> }.into_any(),
                        Ok(keys) if keys.is_empty() => view! { <p class="empty-inline">"No API keys yet."</p> }.into_any(),
                        Ok(keys) => view! {
                            <div class="table-wrap">
                                <table class="table">
                                    <thead><tr><th scope="col">"Name"</th><th scope="col">"Key"</th><th scope="col">"Role"</th><th scope="col">"Created"</th><th scope="col">"Last used"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                                    <tbody>
                                        {keys.into_iter().map(|k| view! {
                                            <tr>
                                                <td data-label="Name">{k.name.clone()}</td>
                                                <td data-label="Key"><code>{format!("{}…", k.prefix)}</code></td>
                                                <td data-label="Role"><span class="role-badge" data-role=k.role.as_str()>{k.role.label()}</span></td>
                                                <td data-label="Created">{format_timestamp(k.created_at)}</td>
                                                <td data-label="Last used">{k.last_used_at.map(format_timestamp).unwrap_or_else(|| "Never".into())}</td>
                                                <td class="row-actions">
                                                    <ActionForm action=revoke attr:class="inline-form">
                                                        <input type="hidden" name="id" value=k.id.clone()/>
                                                        <button type="submit" class="btn btn-danger btn-small" aria-label=format!("Revoke {}", k.name)>"Revoke"</button>
                                                    </ActionForm>
                                                </td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any(),
                    }
                })}
            </Transition>

            <h3>"Create a key"</h3>
            <noscript><p class="alert alert-info">"Showing a new key needs JavaScript. Without it, create keys with "<code>"codecast api-key create --name … --role …"</code>"."</p></noscript>
            <ActionForm action=create node_ref=form attr:class="form form-grid">
                <FormAlert message=form_error(value)/>
                <TextField id="key-name" label="Name" name="name" required=true maxlength=LABEL_MAX_CHARS
                    hint="What uses it, e.g. “Shop backend”." error=field_error(value, "name")/>
                <RoleField id="key-role" error=field_error(value, "role")/>
                <div class="form-actions">
                    <SubmitButton label="Create key" busy_label="Creating…" pending=create.pending()/>
                </div>
            </ActionForm>
        </section>
    }
}
