use super::PageHeader;
use crate::{
    api::customers::list_customers,
    components::{csv_import::CsvImport, empty_state::EmptyState, time::format_timestamp},
    domain::consent::SmsConsent,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

#[component]
pub fn CustomersPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.with(|m| m.get("q").unwrap_or_default());
    let after = move || query.with(|m| m.get("after"));
    let page = Resource::new(
        move || (q(), after()),
        |(q, after)| list_customers(q, after),
    );

    view! {
        <Title text="Customers"/>
        <PageHeader title="Customers" description="The people you can reach by SMS, with their consent.">
            <a class="btn btn-primary" href="/customers/new">"Add customer"</a>
        </PageHeader>
        <form method="get" action="/customers" class="search-bar" role="search">
            <label for="customer-q" class="visually-hidden">"Search customers"</label>
            <input id="customer-q" type="search" name="q" placeholder="Search by name, email, phone or source id" value=q/>
            <button type="submit" class="btn">"Search"</button>
        </form>
        <CsvImport on_done=move |_| page.refetch()/>
        <Transition fallback=|| view! { <p class="loading">"Loading customers…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => view! { <div class="alert alert-error" role="alert">{e.to_string()}</div> }.into_any(),
                    Ok(p) if p.items.is_empty() && q().is_empty() && after().is_none() => view! {
                        <EmptyState title="No customers yet" icon="people">
                            <p>"Customers arrive from your shop's backend through the REST API ("<code>"POST /v1/customers"</code>"), or are added here by hand. Each has a phone number in international format, free-form metadata, and an SMS consent state with its full history."</p>
                            <p><a class="btn btn-primary" href="/customers/new">"Add the first customer"</a></p>
                        </EmptyState>
                    }.into_any(),
                    Ok(p) if p.items.is_empty() => view! {
                        <p class="empty-inline">"No customer matches “" {q()} "”."</p>
                    }.into_any(),
                    Ok(p) => {
                        let next = p.items.last().map(|c| c.id.clone()).filter(|_| p.has_more);
                        view! {
                            <div class="card table-card">
                                <div class="table-wrap">
                                    <table class="table">
                                        <thead><tr>
                                            <th scope="col">"Name"</th><th scope="col">"Phone"</th><th scope="col">"Email"</th>
                                            <th scope="col">"SMS consent"</th><th scope="col">"Source id"</th><th scope="col">"Added"</th>
                                        </tr></thead>
                                        <tbody>
                                            {p.items.into_iter().map(|c| {
                                                let href = format!("/customers/{}", c.id);
                                                let name = c.name.clone().unwrap_or_else(|| "(no name)".into());
                                                view! {
                                                    <tr>
                                                        <td data-label="Name"><A href=href>{name}</A></td>
                                                        <td data-label="Phone">{c.phone.clone().unwrap_or_else(|| "—".into())}</td>
                                                        <td data-label="Email">{c.email.clone().unwrap_or_else(|| "—".into())}</td>
                                                        <td data-label="SMS consent"><ConsentBadge consent=c.sms_consent/></td>
                                                        <td data-label="Source id"><code>{c.source_id.clone().unwrap_or_default()}</code></td>
                                                        <td data-label="Added">{format_timestamp(c.created_at)}</td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                                <nav class="pager" aria-label="Pages">
                                    {after().map(|_| view! { <a class="btn btn-small" href=format!("/customers?q={}", encode(&q()))>"First page"</a> })}
                                    {next.map(|id| view! { <a class="btn btn-small" href=format!("/customers?q={}&after={id}", encode(&q()))>"Next page"</a> })}
                                </nav>
                            </div>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
pub fn ConsentBadge(consent: SmsConsent) -> impl IntoView {
    view! { <span class="consent-badge" data-consent=consent.as_str()>{consent.label()}</span> }
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
