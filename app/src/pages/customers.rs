use super::PageHeader;
use crate::components::empty_state::EmptyState;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn CustomersPage() -> impl IntoView {
    view! {
        <Title text="Customers"/>
        <PageHeader title="Customers" description="The people you can reach by SMS, with their consent."/>
        <EmptyState title="No customers yet" icon="people">
            <p>"Customers arrive from your shop's backend through the REST API, from CSV imports, or are added here by hand. Each has a phone number in international format, free-form metadata, and an SMS consent state with its full history."</p>
            <p>"To connect a shop, an admin creates an API key under Settings; the API is described at "<a href="/v1/openapi.json">"/v1/openapi.json"</a>"."</p>
        </EmptyState>
    }
}
