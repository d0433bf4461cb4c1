//! Route-level pages: each owns its data (resources, actions).

pub mod campaign;
pub mod campaigns;
pub mod customer;
pub mod customers;
pub mod distribution;
pub mod distributions;
pub mod integrations;
pub mod login;
pub mod not_found;
pub mod preview;
pub mod segment;
pub mod segments;
pub mod settings;
pub mod setup;
pub mod shell;

use leptos::prelude::*;

/// Sets the HTTP status of the server-rendered page (404, 403); no effect in the browser.
pub(crate) fn set_page_status(status: u16) {
    #[cfg(feature = "ssr")]
    if let (Some(res), Ok(code)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::StatusCode::from_u16(status),
    ) {
        res.set_status(code);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = status;
}

/// The title block of a page.
#[component]
pub(crate) fn PageHeader(
    #[prop(into)] title: String,
    #[prop(optional)] description: Option<&'static str>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <header class="page-header">
            <div>
                <h1>{title}</h1>
                {description.map(|d| view! { <p class="page-description">{d}</p> })}
            </div>
            {children.map(|c| view! { <div class="page-actions">{c()}</div> })}
        </header>
    }
}

/// A page that could not load its subject: the right HTTP status, the error, and a way back.
#[component]
pub(crate) fn PageError(
    title: &'static str,
    status: u16,
    #[prop(into)] message: String,
    #[prop(into)] back_href: String,
    back_label: &'static str,
) -> impl IntoView {
    set_page_status(status);
    view! {
        <leptos_meta::Title text=title/>
        <PageHeader title=title/>
        <div class="alert alert-error" role="alert">{message}</div>
        <p><a href=back_href>{back_label}</a></p>
    }
}
