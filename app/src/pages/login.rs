use crate::{
    api::auth::Login,
    components::{
        brand::Brand,
        form::{form_error, FormAlert, SubmitButton, TextField},
        navigation::hard_navigate,
    },
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let value = action.value();
    let next = use_query_map().with_untracked(|q| q.get("next").unwrap_or_default());
    Effect::new(move |_| {
        if let Some(Ok(target)) = value.get() {
            hard_navigate(&target);
        }
    });
    view! {
        <Title text="Sign in"/>
        <main class="auth-page">
            <section class="auth-card">
                <Brand/>
                <h1>"Sign in"</h1>
                <ActionForm action=action attr:class="form">
                    <FormAlert message=form_error(value)/>
                    <input type="hidden" name="next" value=next/>
                    <TextField id="login-email" label="Email" name="email" kind="email" autocomplete="username" required=true/>
                    <TextField id="login-password" label="Password" name="password" kind="password" autocomplete="current-password" required=true/>
                    <SubmitButton label="Sign in" busy_label="Signing in…" pending=action.pending()/>
                </ActionForm>
                <p class="muted small">"Forgot your password? Whoever runs Codecast can set a new one with "<code>"codecast user set-password"</code>"."</p>
            </section>
        </main>
    }
}
