use super::PageHeader;
use crate::{
    api::segments::list_segments,
    components::{empty_state::EmptyState, rule_builder::group, time::format_timestamp},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn SegmentsPage() -> impl IntoView {
    let segments = Resource::new(|| (), |_| list_segments());
    view! {
        <Title text="Segments"/>
        <PageHeader title="Segments" description="Groups of customers to send to.">
            <a class="btn btn-primary" href="/segments/new">"New segment"</a>
        </PageHeader>
        <Transition fallback=|| view! { <p class="loading">"Loading segments…"</p> }>
            {move || Suspend::new(async move {
                match segments.await {
                    Err(e) => view! { <div class="alert alert-error" role="alert">{e.to_string()}</div> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="No segments yet" icon="filter">
                            <p>"A static segment is a list of customers you pick. An auto-update segment is a rule — for example “metadata.tier is gold and performed "<code>"cart_abandoned"</code>" in the last 7 days” — and its members change as customers and events do."</p>
                            <p><a class="btn btn-primary" href="/segments/new">"Create the first segment"</a></p>
                        </EmptyState>
                    }.into_any(),
                    Ok(list) => view! {
                        <div class="card table-card">
                            <div class="table-wrap">
                                <table class="table">
                                    <thead><tr>
                                        <th scope="col">"Name"</th><th scope="col">"Type"</th><th scope="col">"Who"</th>
                                        <th scope="col" class="num">"Customers"</th><th scope="col">"Updated"</th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|s| view! {
                                            <tr>
                                                <td data-label="Name"><A href=format!("/segments/{}", s.id)>{s.name.clone()}</A></td>
                                                <td data-label="Type"><span class="badge">{if s.kind == "static" { "Static" } else { "Auto-update" }}</span></td>
                                                <td data-label="Who" class="muted">{s.description.clone()}</td>
                                                <td data-label="Customers" class="num">{group(s.customers_count)}</td>
                                                <td data-label="Updated">{format_timestamp(s.updated_at)}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
