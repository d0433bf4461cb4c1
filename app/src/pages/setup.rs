use crate::{
    api::auth::SetupAdmin,
    components::{
        brand::Brand,
        form::{field_error, form_error, FormAlert, SubmitButton, TextField},
        navigation::hard_navigate,
    },
    domain::password::PASSWORD_MIN_CHARS,
};
use leptos::prelude::*;
use leptos_meta::Title;

/// First run: create the first admin.
#[component]
pub fn SetupPage() -> impl IntoView {
    let action = ServerAction::<SetupAdmin>::new();
    let value = action.value();
    Effect::new(move |_| {
        if let Some(Ok(target)) = value.get() {
            hard_navigate(&target);
        }
    });
    view! {
        <Title text="Set up"/>
        <main class="auth-page">
            <section class="auth-card">
                <Brand/>
                <h1>"Set up Codecast"</h1>
                <p class="lede">"Create the first administrator. Admins connect SMS providers and invite the rest of the team."</p>
                <ActionForm action=action attr:class="form">
                    <FormAlert message=form_error(value)/>
                    <TextField id="setup-email" label="Email" name="email" kind="email" autocomplete="username"
                        required=true error=field_error(value, "email")/>
                    <TextField id="setup-password" label="Password" name="password" kind="password"
                        autocomplete="new-password" required=true minlength=PASSWORD_MIN_CHARS
                        hint="At least 10 characters. A passphrase is easiest to remember."
                        error=field_error(value, "password")/>
                    <TextField id="setup-password-confirm" label="Repeat password" name="password_confirm"
                        kind="password" autocomplete="new-password" required=true
                        error=field_error(value, "password_confirm")/>
                    <SubmitButton label="Create admin account" busy_label="Creating…" pending=action.pending()/>
                </ActionForm>
            </section>
        </main>
    }
}
