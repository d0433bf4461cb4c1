use super::{shell::AdminOnly, PageHeader};
use crate::components::empty_state::EmptyState;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn IntegrationsPage() -> impl IntoView {
    view! {
        <Title text="Integrations"/>
        <AdminOnly>
            <PageHeader title="Integrations" description="The SMS providers Codecast sends through."/>
            <EmptyState title="No SMS provider connected" icon="plug">
                <p>"Connect Twilio, Vonage, Plivo, Telnyx, MessageBird, your own HTTP gateway, or the sandbox (which records messages instead of sending them). Credentials are encrypted at rest and never shown again; sending is paced to the rate your provider accepts."</p>
            </EmptyState>
        </AdminOnly>
    }
}
