use super::{
    campaigns::{expiry, DiscountFields},
    PageError, PageHeader,
};
use crate::{
    api::campaigns::{get_campaign_detail, CampaignDetail, CreateCampaign, PublishCode},
    components::{
        form::{field_error, form_error, FormAlert, SubmitButton, TextField},
        navigation::hard_navigate,
        rule_builder::group,
        time::format_timestamp,
    },
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// `/campaigns/new` and `/campaigns/:id`.
#[component]
pub fn CampaignPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id")).filter(|id| id != "new");
    view! {
        {move || match id() {
            None => view! { <NewCampaign/> }.into_any(),
            Some(id) => view! { <CampaignDetailPage id/> }.into_any(),
        }}
    }
}

#[component]
fn NewCampaign() -> impl IntoView {
    let create = ServerAction::<CreateCampaign>::new();
    let value = create.value();
    Effect::new(move |_| {
        if let Some(Ok(c)) = value.get() {
            hard_navigate(&format!("/campaigns/{}", c.id));
        }
    });
    let mode = RwSignal::new("pattern".to_owned());
    // Without JavaScript every shape field shows; once hydrated, only the chosen shape's.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let hide = move |shape: &'static str| move || hydrated.get() && mode.get() != shape;
    let code_error = field_error(value, "code_config");
    view! {
        <Title text="New campaign"/>
        <PageHeader title="New campaign" description="A pool of unique codes with one discount."/>
        <p class="breadcrumbs"><a href="/campaigns">"← Campaigns"</a></p>
        <section class="card">
            <ActionForm action=create attr:class="form form-grid">
                <FormAlert message=form_error(value)/>
                <TextField id="campaign-name" label="Name" name="name" error=field_error(value, "name")/>
                <TextField id="campaign-count" label="Number of codes" name="count" kind="text" hint="Up to 10,000,000. Large campaigns generate in the background."
                    error=field_error(value, "count")/>
                <DiscountFields prefix="campaign" error=field_error(value, "discount_value")/>
                <fieldset class="field choice-group form-wide">
                    <legend>"Code shape"</legend>
                    <label class="choice"><input type="radio" name="code_mode" value="pattern" checked=true on:change=move |_| mode.set("pattern".into())/>
                        <span>"A pattern: "<code>"#"</code>" is a digit, "<code>"?"</code>" a letter, anything else is kept"</span></label>
                    <label class="choice"><input type="radio" name="code_mode" value="length" on:change=move |_| mode.set("length".into())/>
                        <span>"A length and a character set"</span></label>
                </fieldset>
                <div class="field" hidden=hide("pattern") class:invalid=move || field_error(value, "pattern").get().is_some() || code_error.get().is_some()>
                    <label for="campaign-pattern">"Pattern"</label>
                    <input id="campaign-pattern" name="pattern" placeholder="SUMMER-####" autocomplete="off"/>
                    <p class="field-hint">"Used when the shape is a pattern."</p>
                    <p class="field-error" hidden=move || field_error(value, "pattern").get().is_none()>{move || field_error(value, "pattern").get()}</p>
                </div>
                <div class="field" hidden=hide("length") class:invalid=move || field_error(value, "length").get().is_some()>
                    <label for="campaign-length">"Length"</label>
                    <input id="campaign-length" name="length" inputmode="numeric" placeholder="8"/>
                    <p class="field-error" hidden=move || field_error(value, "length").get().is_none()>{move || field_error(value, "length").get()}</p>
                </div>
                <div class="field" hidden=hide("length")>
                    <label for="campaign-charset">"Characters"</label>
                    <select id="campaign-charset" name="charset">
                        <option value="alphanumeric">"Letters and digits"</option>
                        <option value="alphabetic">"Letters"</option>
                        <option value="numbers">"Digits"</option>
                    </select>
                </div>
                <TextField id="campaign-prefix" label="Prefix (optional)" name="prefix" error=field_error(value, "prefix")/>
                <TextField id="campaign-postfix" label="Postfix (optional)" name="postfix" error=field_error(value, "postfix")/>
                <p class="field-error form-wide" role="alert" hidden=move || code_error.get().is_none()>{move || code_error.get()}</p>
                <TextField id="campaign-expiry" label="Expires after (optional)" name="expiration_date" kind="date"
                    hint="Codes work through this day (UTC)." error=field_error(value, "expiration_date")/>
                <TextField id="campaign-validity" label="Valid for N hours after publication (optional)" name="validity_hours"
                    error=field_error(value, "validity_hours")/>
                <div class="form-actions">
                    <SubmitButton label="Create campaign" busy_label="Creating…" pending=create.pending()/>
                </div>
            </ActionForm>
        </section>
    }
}

#[component]
fn CampaignDetailPage(id: String) -> impl IntoView {
    let query = use_query_map();
    let q = move || query.with(|m| m.get("q").unwrap_or_default());
    let after = move || query.with(|m| m.get("after"));
    let campaign_id = id.clone();
    let detail = Resource::new(
        move || (campaign_id.clone(), q(), after()),
        |(id, q, after)| get_campaign_detail(id, q, after),
    );
    // While codes are generated, the page follows the progress (JavaScript polls; without
    // it the page refreshes itself).
    let generating = RwSignal::new(false);
    Effect::new(move |_| {
        if generating.get() {
            if let Ok(handle) = set_interval_with_handle(
                move || detail.refetch(),
                std::time::Duration::from_millis(1000),
            ) {
                on_cleanup(move || handle.clear());
            }
        }
    });
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => {
                        generating.set(d.campaign.status == "generating");
                        view! { <CampaignBody detail=d query=q()/> }.into_any()
                    }
                    Err(e) => view! { <PageError title="Campaign" status=e.status() message=e.to_string() back_href="/campaigns" back_label="Back to campaigns"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn CampaignBody(detail: CampaignDetail, query: String) -> impl IntoView {
    let c = detail.campaign;
    let publish = ServerAction::<PublishCode>::new();
    let published = publish.value();
    let id = c.id.clone();
    Effect::new({
        let id = id.clone();
        move |_| {
            if let Some(Ok(p)) = published.get() {
                hard_navigate(&format!("/campaigns/{id}?q={}", p.code));
            }
        }
    });
    let percent = (c.generated * 100)
        .checked_div(c.vouchers_count)
        .unwrap_or(100);
    let generating = c.status == "generating";
    let next = detail.codes.next_after.clone();
    let search_id = id.clone();
    let pager_id = id.clone();
    view! {
        <Title text=c.name.clone()/>
        <PageHeader title=c.name.clone()/>
        <p class="breadcrumbs"><a href="/campaigns">"← Campaigns"</a></p>
        {generating.then(|| view! { <noscript><meta http-equiv="refresh" content="2"/></noscript> })}
        <section class="stats" aria-label="Campaign counts">
            <div class="stat"><span class="stat-value" data-testid="codes-total">{group(c.generated)}</span><span class="stat-label">"codes"</span></div>
            <div class="stat"><span class="stat-value" data-testid="codes-published">{group(c.published)}</span><span class="stat-label">"published"</span></div>
            <div class="stat"><span class="stat-value" data-testid="codes-redeemed">{group(c.redeemed)}</span><span class="stat-label">"redeemed"</span></div>
            <div class="stat"><span class="stat-value">{group(c.available())}</span><span class="stat-label">"left to publish"</span></div>
        </section>
        {match c.status.as_str() {
            "generating" => view! {
                <div class="card">
                    <p><strong>"Generating codes: "</strong>{format!("{} of {}", group(c.generated), group(c.vouchers_count))}</p>
                    <progress max="100" value=percent.to_string() aria-label="Code generation">{format!("{percent} %")}</progress>
                </div>
            }.into_any(),
            "failed" => view! { <div class="alert alert-error" role="alert">{c.failure.clone().unwrap_or_else(|| "Generation failed.".into())}</div> }.into_any(),
            _ => ().into_any(),
        }}
        <section class="card">
            <dl class="facts">
                <dt>"Discount"</dt><dd>{c.discount.describe()}</dd>
                <dt>"Code shape"</dt><dd><code>{c.code_shape.clone()}</code></dd>
                <dt>"Expires"</dt><dd>{expiry(&c)}</dd>
                <dt>"Created"</dt><dd>{format_timestamp(c.created_at)}</dd>
                <dt>"Id"</dt><dd><code>{c.id.clone()}</code></dd>
            </dl>
        </section>
        <section class="card" aria-labelledby="publish-heading">
            <h2 id="publish-heading">"Give a code to a customer"</h2>
            <p class="muted">"Each customer gets one code of this campaign; asking again returns the same one."</p>
            <ActionForm action=publish attr:class="inline-form add-members">
                <input type="hidden" name="campaign_id" value=id.clone()/>
                <label for="publish-customer" class="visually-hidden">"Customer id or source id"</label>
                <input id="publish-customer" name="customer" placeholder="Customer id or source id"/>
                <SubmitButton label="Publish code" busy_label="Publishing…" pending=publish.pending() class="btn"/>
            </ActionForm>
            <FormAlert message=Signal::derive(move || published.with(|v| match v { Some(Err(e)) => Some(e.field("customer").map(str::to_owned).unwrap_or_else(|| e.to_string())), _ => None }))/>
        </section>
        <section class="card table-card" aria-labelledby="codes-heading">
            <h2 id="codes-heading">"Codes"</h2>
            <form method="get" action=format!("/campaigns/{search_id}") class="search-bar" role="search">
                <label for="code-q" class="visually-hidden">"Search codes"</label>
                <input id="code-q" type="search" name="q" placeholder="Search by code, or the holder's name, phone or id" value=query.clone()/>
                <button type="submit" class="btn">"Search"</button>
            </form>
            {if detail.codes.items.is_empty() {
                view! { <p class="empty-inline">{if query.is_empty() { "No codes yet." } else { "No code matches." }}</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="codes">
                            <thead><tr>
                                <th scope="col">"Code"</th><th scope="col">"State"</th><th scope="col">"Holder"</th>
                                <th scope="col">"Published"</th><th scope="col">"Expires"</th><th scope="col">"QR"</th>
                            </tr></thead>
                            <tbody>
                                {detail.codes.items.into_iter().map(|v| view! {
                                    <tr>
                                        <td data-label="Code"><code>{v.code.clone()}</code></td>
                                        <td data-label="State"><span class="state-badge" data-state=v.state.clone()>{v.state.clone()}</span></td>
                                        <td data-label="Holder">{match (v.customer_id.clone(), v.customer_label.clone()) {
                                            (Some(cid), Some(label)) => view! { <a href=format!("/customers/{cid}")>{label}</a> }.into_any(),
                                            _ => view! { <span class="muted">"—"</span> }.into_any(),
                                        }}</td>
                                        <td data-label="Published">{v.published_at.map(format_timestamp).unwrap_or_else(|| "—".into())}</td>
                                        <td data-label="Expires">{v.expires_at.map(format_timestamp).unwrap_or_else(|| "—".into())}</td>
                                        <td data-label="QR">{v.qr_url.clone().map(|u| view! {
                                            <a href=u.clone() target="_blank" rel="noopener">"PNG"</a>" · "
                                            <a href=format!("{u}?format=svg") target="_blank" rel="noopener">"SVG"</a>
                                        })}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    <nav class="pager" aria-label="Pages">
                        {next.map(|after| view! { <a class="btn btn-small" href=format!("/campaigns/{}?q={}&after={after}", pager_id, query)>"Next page"</a> })}
                    </nav>
                }.into_any()
            }}
        </section>
    }
    .into_any()
}
