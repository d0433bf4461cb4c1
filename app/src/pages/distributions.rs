use super::PageHeader;
use crate::components::empty_state::EmptyState;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn DistributionsPage() -> impl IntoView {
    view! {
        <Title text="Distributions"/>
        <PageHeader title="Distributions" description="Send coupon codes and promotions to customers by SMS."/>
        <EmptyState title="No distributions yet" icon="send">
            <p>"A distribution sends one message to every customer of an audience — a single customer or a whole segment — with a unique code from a campaign, a cart-level promotion, or plain text. Manual distributions go out when you press Send; automatic ones fire when a customer joins a segment or performs an event such as "<code>"cart_abandoned"</code>"."</p>
            <p>"Each distribution gets a live report: queued, sent, delivered, failed and redeemed."</p>
        </EmptyState>
    }
}
