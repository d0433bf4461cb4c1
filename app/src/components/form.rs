use crate::error::AppError;
use leptos::prelude::*;

/// The error a server action returned for one field.
pub fn field_error<T>(
    value: MappedSignal<Option<Result<T, AppError>>>,
    name: &'static str,
) -> Signal<Option<String>>
where
    T: Clone + Send + Sync + 'static,
{
    Signal::derive(move || {
        value.with(|v| match v {
            Some(Err(e)) => e.field(name).map(str::to_owned),
            _ => None,
        })
    })
}

/// The error a server action returned that belongs to no field (or the summary of several).
pub fn form_error<T>(value: MappedSignal<Option<Result<T, AppError>>>) -> Signal<Option<String>>
where
    T: Clone + Send + Sync + 'static,
{
    Signal::derive(move || {
        value.with(|v| match v {
            Some(Err(e)) if e.fields().is_none_or(|f| f.is_empty() || f.len() > 1) => {
                Some(e.to_string())
            }
            _ => None,
        })
    })
}

/// Every error a server action returned, field errors spelled out: for forms whose fields
/// were filled in on other pages (the wizard's review), where no field is here to show them.
pub fn any_error<T>(value: MappedSignal<Option<Result<T, AppError>>>) -> Signal<Option<String>>
where
    T: Clone + Send + Sync + 'static,
{
    Signal::derive(move || {
        value.with(|v| match v {
            Some(Err(e)) => Some(match e.fields() {
                Some(fields) if !fields.is_empty() => {
                    fields.values().cloned().collect::<Vec<_>>().join(" ")
                }
                _ => e.to_string(),
            }),
            _ => None,
        })
    })
}

/// What the form sent for `name` with the validation error it got back. After a post without
/// JavaScript the page is loaded again with that error, and shows what was typed rather than
/// what is saved.
pub fn entered<T>(value: MappedSignal<Option<Result<T, AppError>>>, name: &str) -> Option<String>
where
    T: Clone + Send + Sync + 'static,
{
    value.with_untracked(|v| match v {
        Some(Err(e)) => e.entered(name).map(str::to_owned),
        _ => None,
    })
}

/// A labelled input with its hint and its error, wired for screen readers.
#[component]
pub fn TextField(
    id: &'static str,
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] required: bool,
    #[prop(optional)] minlength: Option<usize>,
    #[prop(optional)] maxlength: Option<usize>,
    #[prop(into, optional)] error: MaybeProp<String>,
    #[prop(into, optional)] value: Option<String>,
) -> impl IntoView {
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described_by = {
        let hint_id = hint_id.clone();
        let error_id = error_id.clone();
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if error.get().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div class="field" class:invalid=move || error.get().is_some()>
            <label for=id>{label}</label>
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                required=required
                minlength=minlength
                maxlength=maxlength
                value=value
                aria-invalid=move || error.get().map(|_| "true")
                aria-describedby=described_by
            />
            {hint.map(|h| view! { <p class="field-hint" id=hint_id>{h}</p> })}
            <p class="field-error" id=error_id hidden=move || error.get().is_none()>
                {move || error.get()}
            </p>
        </div>
    }
}

/// A select of the two roles.
#[component]
pub fn RoleField(
    id: &'static str,
    #[prop(into, optional)] error: MaybeProp<String>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    view! {
        <div class="field" class:invalid=move || error.get().is_some()>
            <label for=id>"Role"</label>
            <select id=id name="role" aria-describedby=format!("{id}-hint {error_id}")>
                <option value="marketer" selected=true>"Marketer"</option>
                <option value="admin">"Admin"</option>
            </select>
            <p class="field-hint" id=format!("{id}-hint")>"Admins also manage integrations, users and API keys."</p>
            <p class="field-error" id=error_id hidden=move || error.get().is_none()>
                {move || error.get()}
            </p>
        </div>
    }
}

/// A banner for an error that is not about one field.
#[component]
pub fn FormAlert(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <Show when=move || message.get().is_some()>
            <div class="alert alert-error" role="alert">{move || message.get()}</div>
        </Show>
    }
}

/// A submit button that says when it is busy.
#[component]
pub fn SubmitButton(
    label: &'static str,
    busy_label: &'static str,
    #[prop(into)] pending: Signal<bool>,
    #[prop(default = "btn btn-primary")] class: &'static str,
) -> impl IntoView {
    view! {
        <button type="submit" class=class disabled=move || pending.get() aria-busy=move || pending.get().then_some("true")>
            {move || if pending.get() { busy_label } else { label }}
        </button>
    }
}
