use super::{customers::ConsentBadge, PageError, PageHeader};
use crate::{
    api::segments::{
        get_segment_detail, AddSegmentMembers, DeleteSegment, RemoveSegmentMember, SaveSegment,
        SegmentDetail,
    },
    components::{
        form::{field_error, form_error, FormAlert, SubmitButton, TextField},
        navigation::hard_navigate,
        rule_builder::{group, RuleBuilder},
        time::format_timestamp,
    },
    dto::segment::{AUTO_UPDATE, STATIC},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// `/segments/new` and `/segments/:id`.
#[component]
pub fn SegmentPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.with(|p| p.get("id")).filter(|id| id != "new");
    let after = move || query.with(|q| q.get("after"));
    let detail = Resource::new(
        move || (id(), after()),
        |(id, after)| async move {
            match id {
                Some(id) => get_segment_detail(id, after).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <SegmentView detail=d/> }.into_any(),
                    Err(e) => view! { <PageError title="Segment" status=e.status() message=e.to_string() back_href="/segments" back_label="Back to segments"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SegmentView(detail: Option<SegmentDetail>) -> impl IntoView {
    let save = ServerAction::<SaveSegment>::new();
    let delete = ServerAction::<DeleteSegment>::new();
    let value = save.value();
    Effect::new(move |_| {
        if let Some(Ok(saved)) = value.get() {
            hard_navigate(&format!("/segments/{}?saved=1", saved.id));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            hard_navigate("/segments");
        }
    });
    let query = use_query_map();
    let saved_notice = query.with_untracked(|q| q.get("saved").is_some());
    let added = query.with_untracked(|q| q.get("added"));
    let segment = detail.as_ref().map(|d| d.segment.clone());
    let existing = segment.is_some();
    let title = segment
        .as_ref()
        .map_or("New segment".to_owned(), |s| s.name.clone());
    let id = segment.as_ref().map(|s| s.id.clone()).unwrap_or_default();
    let delete_id = id.clone();
    let kind0 = segment
        .as_ref()
        .map_or(AUTO_UPDATE.to_owned(), |s| s.kind.clone());
    let kind = RwSignal::new(kind0.clone());
    let is_static = move || kind.get() == STATIC;
    // Without JavaScript both the rule and the customer list show; once hydrated, the chosen type's.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let rule = segment.as_ref().and_then(|s| s.filter.clone());
    let filter_error = field_error(value, "filter");

    view! {
        <Title text=title.clone()/>
        <PageHeader title=title/>
        <p class="breadcrumbs"><a href="/segments">"← Segments"</a></p>
        {saved_notice.then(|| view! { <p class="alert alert-success" role="status">"Saved."</p> })}
        {added.map(|n| view! { <p class="alert alert-success" role="status">{format!("{n} customer(s) added.")}</p> })}
        {segment.clone().map(|s| view! {
            <section class="stats" aria-label="Segment summary">
                <div class="stat"><span class="stat-value" data-testid="segment-count">{group(s.customers_count)}</span><span class="stat-label">"customers now"</span></div>
                <div class="stat"><span class="stat-value">{if s.kind == STATIC { "Static" } else { "Auto-update" }}</span><span class="stat-label">{s.description.clone()}</span></div>
            </section>
        })}
        <section class="card">
            <ActionForm action=save attr:class="form">
                <FormAlert message=form_error(value)/>
                <input type="hidden" name="id" value=id.clone()/>
                <TextField id="segment-name" label="Name" name="name" value=segment.as_ref().map(|s| s.name.clone()).unwrap_or_default()
                    error=field_error(value, "name")/>
                {if existing {
                    view! { <input type="hidden" name="kind" value=kind0.clone()/> }.into_any()
                } else {
                    view! {
                        <fieldset class="field choice-group">
                            <legend>"Type"</legend>
                            <label class="choice">
                                <input type="radio" name="kind" value=AUTO_UPDATE checked=true on:change=move |_| kind.set(AUTO_UPDATE.into())/>
                                <span><strong>"Auto-update"</strong>" — a rule; members come and go as customers and events change."</span>
                            </label>
                            <label class="choice">
                                <input type="radio" name="kind" value=STATIC on:change=move |_| kind.set(STATIC.into())/>
                                <span><strong>"Static"</strong>" — customers you pick."</span>
                            </label>
                        </fieldset>
                    }.into_any()
                }}
                {(kind0 == AUTO_UPDATE).then(|| view! {
                    <div class="rule-area" hidden=move || hydrated.get() && is_static()>
                        <RuleBuilder initial=rule.clone() error=filter_error/>
                    </div>
                })}
                {(!existing).then(|| view! {
                    <div class="field" hidden=move || hydrated.get() && !is_static() class:invalid=move || field_error(value, "customers").get().is_some()>
                        <label for="segment-customers">"Customers (static segments)"</label>
                        <textarea id="segment-customers" name="customers" rows="3"
                            placeholder="Customer ids or your source ids, separated by commas or lines"></textarea>
                        <p class="field-hint">"Only for a static segment; more can be added later."</p>
                        <p class="field-error" hidden=move || field_error(value, "customers").get().is_none()>{move || field_error(value, "customers").get()}</p>
                    </div>
                })}
                <div class="form-actions">
                    <SubmitButton label=if existing { "Save segment" } else { "Create segment" } busy_label="Saving…" pending=save.pending()/>
                </div>
            </ActionForm>
        </section>
        {detail.map(|d| view! { <Members detail=d/> })}
        {existing.then(|| view! {
            <section class="card danger-zone">
                <h2>"Delete"</h2>
                <p class="muted">"Deletes the segment; its customers stay."</p>
                <FormAlert message=form_error(delete.value())/>
                <ActionForm action=delete attr:class="inline-form">
                    <input type="hidden" name="id" value=delete_id.clone()/>
                    <button type="submit" class="btn btn-danger">"Delete segment"</button>
                </ActionForm>
            </section>
        })}
    }
    .into_any()
}

#[component]
fn Members(detail: SegmentDetail) -> impl IntoView {
    let add = ServerAction::<AddSegmentMembers>::new();
    let remove = ServerAction::<RemoveSegmentMember>::new();
    let s = detail.segment.clone();
    let id = s.id.clone();
    Effect::new({
        let id = id.clone();
        move |_| {
            if let Some(Ok(n)) = add.value().get() {
                hard_navigate(&format!("/segments/{id}?added={n}"));
            }
        }
    });
    Effect::new({
        let id = id.clone();
        move |_| {
            if let Some(Ok(())) = remove.value().get() {
                hard_navigate(&format!("/segments/{id}"));
            }
        }
    });
    let is_static = s.kind == STATIC;
    let add_id = id.clone();
    let pager_id = id.clone();
    let next = detail
        .members
        .last()
        .map(|m| m.customer.id.clone())
        .filter(|_| detail.has_more);
    view! {
        <section class="card" aria-labelledby="members-heading">
            <h2 id="members-heading">"Members"</h2>
            {is_static.then(|| view! {
                <ActionForm action=add attr:class="inline-form add-members">
                    <input type="hidden" name="id" value=add_id.clone()/>
                    <label for="add-customers" class="visually-hidden">"Customers to add"</label>
                    <input id="add-customers" name="customers" placeholder="Customer ids or source ids, comma-separated"/>
                    <SubmitButton label="Add" busy_label="Adding…" pending=add.pending() class="btn"/>
                </ActionForm>
                <FormAlert message=Signal::derive(move || add.value().with(|v| match v { Some(Err(e)) => Some(e.field("customers").map(str::to_owned).unwrap_or_else(|| e.to_string())), _ => None }))/>
            })}
            {if detail.members.is_empty() {
                view! { <p class="empty-inline">{if is_static { "No customers yet: add them above." } else { "No customer matches the rule yet." }}</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table">
                            <thead><tr><th scope="col">"Customer"</th><th scope="col">"Phone"</th><th scope="col">"SMS consent"</th><th scope="col">"Member since"</th>{is_static.then(|| view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> })}</tr></thead>
                            <tbody>
                                {detail.members.into_iter().map(|m| {
                                    let c = m.customer;
                                    let cid = c.id.clone();
                                    let sid = id.clone();
                                    view! {
                                        <tr>
                                            <td data-label="Customer"><a href=format!("/customers/{}", c.id)>{c.name.clone().or(c.source_id.clone()).unwrap_or_else(|| c.id.clone())}</a></td>
                                            <td data-label="Phone">{c.phone.clone().unwrap_or_else(|| "—".into())}</td>
                                            <td data-label="SMS consent"><ConsentBadge consent=c.sms_consent/></td>
                                            <td data-label="Member since">{format_timestamp(m.entered_at)}</td>
                                            {is_static.then(|| view! {
                                                <td>
                                                    <ActionForm action=remove attr:class="inline-form">
                                                        <input type="hidden" name="id" value=sid/>
                                                        <input type="hidden" name="customer_id" value=cid/>
                                                        <button type="submit" class="btn btn-small btn-ghost">"Remove"</button>
                                                    </ActionForm>
                                                </td>
                                            })}
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    <nav class="pager" aria-label="Pages">
                        {next.map(|after| view! { <a class="btn btn-small" href=format!("/segments/{}?after={after}", pager_id)>"Next page"</a> })}
                    </nav>
                }.into_any()
            }}
        </section>
    }
    .into_any()
}
