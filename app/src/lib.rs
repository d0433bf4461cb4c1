#![recursion_limit = "256"]
//! Codecast's application: domain rules, wire types, server functions and the Leptos UI,
//! compiled for the server (feature `ssr`) and for the browser (feature `hydrate`).

pub mod api;
pub mod components;
pub mod domain;
pub mod dto;
pub mod error;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ports;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path, SsrMode,
};
use pages::{
    campaign::CampaignPage,
    campaigns::CampaignsPage,
    customer::CustomerPage,
    customers::CustomersPage,
    distribution::{DistributionPage, WizardPage},
    distributions::DistributionsPage,
    integrations::{IntegrationPage, IntegrationsPage},
    login::LoginPage,
    not_found::NotFoundPage,
    preview::PreviewPage,
    segment::SegmentPage,
    segments::SegmentsPage,
    settings::SettingsPage,
    setup::SetupPage,
    shell::AppShell,
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/codecast.css"/>
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml"/>
        <Title formatter=|text: String| if text.is_empty() { "Codecast".to_owned() } else { format!("{text} · Codecast") }/>
        // In-order streaming: every Suspense resolves in place, so pages are complete without
        // JavaScript (out-of-order streaming would need a script to move the resolved parts).
        <Router>
            <Routes fallback=NotFoundPage>
                <Route path=path!("/setup") view=SetupPage ssr=SsrMode::InOrder/>
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::InOrder/>
                <ParentRoute path=path!("") view=AppShell ssr=SsrMode::InOrder>
                    <Route path=path!("/distributions") view=DistributionsPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/distributions/:id") view=DistributionPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/distributions/:id/:step") view=WizardPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/campaigns") view=CampaignsPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/campaigns/:id") view=CampaignPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/customers") view=CustomersPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/customers/:id") view=CustomerPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/segments") view=SegmentsPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/segments/:id") view=SegmentPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/preview") view=PreviewPage ssr=SsrMode::InOrder/>
                    // Whole-page (async) rendering: the 403 for non-admins must be known before
                    // the status line is sent.
                    <Route path=path!("/integrations") view=IntegrationsPage ssr=SsrMode::Async/>
                    <Route path=path!("/integrations/:id") view=IntegrationPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings") view=SettingsPage ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
