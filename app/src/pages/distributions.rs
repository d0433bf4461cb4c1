use super::PageHeader;
use crate::{
    api::distributions::{list_distributions, NewDistribution},
    components::{
        empty_state::EmptyState,
        form::{form_error, FormAlert},
        time::format_timestamp,
    },
    dto::{Audience, DistributionView},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};

/// A purpose in words.
pub fn purpose_label(purpose: &str) -> &'static str {
    match purpose {
        "promotion" => "Cart-level promotion",
        "unique_codes" => "Unique codes",
        _ => "Plain message",
    }
}

#[component]
pub fn DistributionsPage() -> impl IntoView {
    let query = use_query_map();
    let status = move || query.with(|q| q.get("status"));
    let list = Resource::new(status, list_distributions);
    let create = ServerAction::<NewDistribution>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = create.value().get() {
            navigate(&format!("/distributions/{id}/purpose"), Default::default());
        }
    });
    let tab = move |value: &'static str, label: &'static str| {
        let href = if value.is_empty() {
            "/distributions".to_owned()
        } else {
            format!("/distributions?status={value}")
        };
        view! {
            <a href=href class="tab" aria-current=move || (status().unwrap_or_default() == value).then_some("page")>{label}</a>
        }
    };
    view! {
        <Title text="Distributions"/>
        <PageHeader title="Distributions" description="Send coupon codes and promotions to customers by SMS."/>
        <section class="card new-distribution" aria-labelledby="new-heading">
            <h2 id="new-heading">"+ New distribution"</h2>
            <ActionForm action=create attr:class="inline-form">
                <FormAlert message=form_error(create.value())/>
                <button type="submit" class="btn btn-primary">"Manual message"</button>
                <span class="muted small">"Send now to one customer or a segment. Automatic distributions (SET LIVE) come later."</span>
            </ActionForm>
        </section>
        <nav class="tabs" aria-label="Filter by status">
            {tab("", "All")} {tab("draft", "Drafts")} {tab("sending", "Sending")} {tab("sent", "Sent")}
        </nav>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Err(e) => view! { <div class="alert alert-error" role="alert">{e.to_string()}</div> }.into_any(),
                    Ok(items) if items.is_empty() => view! {
                        <EmptyState title="No distributions yet" icon="send">
                            <p>"A distribution sends one message to every customer of an audience — a single customer or a whole segment — with a unique code from a campaign, a cart-level promotion, or plain text."</p>
                            <p>"Each distribution gets a live report: queued, sent, delivered, failed and redeemed."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(items) => view! { <DistributionTable items/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn DistributionTable(items: Vec<DistributionView>) -> impl IntoView {
    view! {
        <div class="card table-card">
            <div class="table-wrap">
                <table class="table" data-testid="distributions">
                    <thead><tr>
                        <th scope="col">"Name"</th><th scope="col">"Status"</th><th scope="col">"Purpose"</th>
                        <th scope="col">"Audience"</th><th scope="col" class="num">"Size"</th><th scope="col">"Progress"</th>
                        <th scope="col">"Created"</th><th scope="col">"Sent"</th>
                    </tr></thead>
                    <tbody>
                        {items.into_iter().map(|d| {
                            let href = if d.status == "draft" { format!("/distributions/{}/{}", d.id, d.step) } else { format!("/distributions/{}", d.id) };
                            let size = d.stats.as_ref().map(|s| s.audience.to_string()).unwrap_or_else(|| "—".into());
                            let percent = d.stats.as_ref().map(|s| s.percent_done());
                            let audience = d.audience_label.clone().unwrap_or_else(|| "—".into());
                            let kind = match &d.audience { Some(Audience::Segment(_)) => "segment", Some(Audience::Customer(_)) => "customer", None => "" };
                            view! {
                                <tr>
                                    <td data-label="Name"><a href=href>{d.name.clone()}</a></td>
                                    <td data-label="Status"><span class=format!("status status-{}", d.status)>{d.status.clone()}</span></td>
                                    <td data-label="Purpose">{purpose_label(&d.purpose)}</td>
                                    <td data-label="Audience">{audience}{(!kind.is_empty()).then(|| view! { " " <span class="badge">{kind}</span> })}</td>
                                    <td data-label="Size" class="num">{size}</td>
                                    <td data-label="Progress">{match percent {
                                        Some(p) => view! { <progress max="100" value=p aria-label="Sent">{format!("{p}%")}</progress> " " {format!("{p}%")} }.into_any(),
                                        None => view! { <span class="muted">"—"</span> }.into_any(),
                                    }}</td>
                                    <td data-label="Created">{format_timestamp(d.created_at)}</td>
                                    <td data-label="Sent">{d.sent_at.map(format_timestamp).unwrap_or_else(|| "—".into())}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </div>
    }
}
