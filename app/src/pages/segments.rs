use super::PageHeader;
use crate::components::empty_state::EmptyState;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SegmentsPage() -> impl IntoView {
    view! {
        <Title text="Segments"/>
        <PageHeader title="Segments" description="Groups of customers to send to."/>
        <EmptyState title="No segments yet" icon="filter">
            <p>"A static segment is a list of customers you pick. An auto-update segment is a rule — for example “metadata.tier is gold and performed "<code>"cart_abandoned"</code>" in the last 7 days” — and its members change as customers and events do."</p>
        </EmptyState>
    }
}
