use super::PageHeader;
use crate::components::empty_state::EmptyState;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn CampaignsPage() -> impl IntoView {
    view! {
        <Title text="Campaigns"/>
        <PageHeader title="Campaigns" description="Coupon campaigns with unique codes, and cart-level promotions."/>
        <EmptyState title="No campaigns yet" icon="ticket">
            <p>"A campaign holds a pool of unique codes (for example "<code>"SUMMER-4821"</code>") with a discount and an expiry. Each customer gets exactly one code, as text or as a QR image link, and redemptions are tracked per code."</p>
        </EmptyState>
    }
}
