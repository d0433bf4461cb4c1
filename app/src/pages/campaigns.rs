use super::PageHeader;
use crate::{
    api::campaigns::{list_campaigns, CreatePromotionTier},
    components::{
        empty_state::EmptyState,
        form::{field_error, form_error, FormAlert, SubmitButton, TextField},
        navigation::hard_navigate,
        rule_builder::group,
        time::format_timestamp,
    },
    dto::CampaignView,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn CampaignsPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| list_campaigns());
    let tier_saved =
        leptos_router::hooks::use_query_map().with_untracked(|q| q.get("tier_saved").is_some());
    view! {
        <Title text="Campaigns"/>
        <PageHeader title="Campaigns" description="Coupon campaigns with unique codes, and cart-level promotions.">
            <a class="btn btn-primary" href="/campaigns/new">"New campaign"</a>
        </PageHeader>
        {tier_saved.then(|| view! { <p class="alert alert-success" role="status">"Promotion tier saved."</p> })}
        <Transition fallback=|| view! { <p class="loading">"Loading campaigns…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Err(e) => view! { <div class="alert alert-error" role="alert">{e.to_string()}</div> }.into_any(),
                    Ok(o) => view! {
                        {if o.campaigns.is_empty() {
                            view! {
                                <EmptyState title="No campaigns yet" icon="ticket">
                                    <p>"A campaign holds a pool of unique codes (for example "<code>"SUMMER-4821"</code>") with a discount and an expiry. Each customer gets exactly one code, as text or as a QR image link, and redemptions are tracked per code."</p>
                                    <p><a class="btn btn-primary" href="/campaigns/new">"Create the first campaign"</a></p>
                                </EmptyState>
                            }.into_any()
                        } else {
                            view! { <CampaignTable campaigns=o.campaigns/> }.into_any()
                        }}
                        <section class="card" aria-labelledby="tiers-heading">
                            <h2 id="tiers-heading">"Promotion tiers"</h2>
                            <p class="muted">"Cart-level promotions without codes — “10.00 off orders over 50.00” — that a distribution can announce."</p>
                            {(!o.tiers.is_empty()).then(|| view! {
                                <div class="table-wrap">
                                    <table class="table" data-testid="tiers">
                                        <thead><tr><th scope="col">"Name"</th><th scope="col">"Banner"</th><th scope="col">"Discount"</th><th scope="col">"Condition"</th></tr></thead>
                                        <tbody>
                                            {o.tiers.into_iter().map(|t| view! {
                                                <tr>
                                                    <td data-label="Name">{t.name.clone()}</td>
                                                    <td data-label="Banner">{t.banner.clone()}</td>
                                                    <td data-label="Discount">{t.discount.describe()}</td>
                                                    <td data-label="Condition">{t.condition()}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            })}
                            <TierForm/>
                        </section>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn CampaignTable(campaigns: Vec<CampaignView>) -> impl IntoView {
    view! {
        <div class="card table-card">
            <div class="table-wrap">
                <table class="table">
                    <thead><tr>
                        <th scope="col">"Name"</th><th scope="col">"Discount"</th><th scope="col">"Codes"</th>
                        <th scope="col" class="num">"Published"</th><th scope="col" class="num">"Redeemed"</th><th scope="col">"Expires"</th>
                    </tr></thead>
                    <tbody>
                        {campaigns.into_iter().map(|c| {
                            let expires = expiry(&c);
                            let codes = match c.status.as_str() {
                                "generating" => format!("generating {} of {}", group(c.generated), group(c.vouchers_count)),
                                "failed" => "generation failed".to_owned(),
                                _ => format!("{} · {}", group(c.generated), c.code_shape),
                            };
                            view! {
                                <tr>
                                    <td data-label="Name"><A href=format!("/campaigns/{}", c.id)>{c.name.clone()}</A></td>
                                    <td data-label="Discount">{c.discount.describe()}</td>
                                    <td data-label="Codes">{codes}</td>
                                    <td data-label="Published" class="num">{group(c.published)}</td>
                                    <td data-label="Redeemed" class="num">{group(c.redeemed)}</td>
                                    <td data-label="Expires">{expires}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </div>
    }
}

/// "2026-12-31 23:59 UTC", "48 h after publication", both, or "never".
pub fn expiry(c: &CampaignView) -> String {
    match (c.expiration_date, c.validity_hours) {
        (Some(d), Some(h)) => format!("{} or {h} h after publication", format_timestamp(d)),
        (Some(d), None) => format_timestamp(d),
        (None, Some(h)) => format!("{h} h after publication"),
        (None, None) => "never".into(),
    }
}

#[component]
fn TierForm() -> impl IntoView {
    let create = ServerAction::<CreatePromotionTier>::new();
    let value = create.value();
    Effect::new(move |_| {
        if let Some(Ok(_)) = value.get() {
            hard_navigate("/campaigns?tier_saved=1");
        }
    });
    view! {
        <details class="tier-form" open=move || value.with(|v| matches!(v, Some(Err(_))))>
            <summary class="btn btn-small">"+ New promotion tier"</summary>
            <ActionForm action=create attr:class="form form-grid">
                <FormAlert message=form_error(value)/>
                <TextField id="tier-name" label="Name" name="name" error=field_error(value, "name")/>
                <TextField id="tier-banner" label="Banner text" name="banner" hint="What customers read, e.g. 10.00 off orders over 50.00."
                    error=field_error(value, "banner")/>
                <DiscountFields prefix="tier" error=field_error(value, "discount_value")/>
                <TextField id="tier-min" label="Cart total at least (optional)" name="cart_total_gte" hint="An amount such as 50 or 49.99."
                    error=field_error(value, "cart_total_gte")/>
                <div class="form-actions">
                    <SubmitButton label="Save promotion tier" busy_label="Saving…" pending=create.pending()/>
                </div>
            </ActionForm>
        </details>
    }
}

/// Discount type (percentage or amount) and value.
#[component]
pub fn DiscountFields(
    prefix: &'static str,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let type_id = format!("{prefix}-discount-type");
    let value_id = format!("{prefix}-discount-value");
    view! {
        <div class="field">
            <label for=type_id.clone()>"Discount"</label>
            <select id=type_id name="discount_type">
                <option value="PERCENT">"Percentage off"</option>
                <option value="AMOUNT">"Amount off"</option>
            </select>
        </div>
        <div class="field" class:invalid=move || error.get().is_some()>
            <label for=value_id.clone()>"Discount value"</label>
            <input id=value_id name="discount_value" inputmode="decimal" placeholder="20"
                aria-invalid=move || error.get().map(|_| "true")/>
            <p class="field-hint">"20 for 20 %, or 10.00 for an amount."</p>
            <p class="field-error" hidden=move || error.get().is_none()>{move || error.get()}</p>
        </div>
    }
}
