use leptos::prelude::*;

/// What an empty area will hold, and what to do first.
#[component]
pub fn EmptyState(
    /// A short headline.
    title: &'static str,
    /// The explanation and, usually, the first action.
    children: Children,
    /// An icon name from the small set in `icon()`.
    #[prop(default = "inbox")]
    icon: &'static str,
) -> impl IntoView {
    view! {
        <section class="empty-state">
            <div class="empty-icon" aria-hidden="true" inner_html=icon_svg(icon)></div>
            <h2>{title}</h2>
            <div class="empty-body">{children()}</div>
        </section>
    }
}

fn icon_svg(name: &str) -> &'static str {
    match name {
        "send" => {
            r#"<svg viewBox="0 0 24 24"><path d="M3 11l18-8-8 18-2-8-8-2z" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/></svg>"#
        }
        "ticket" => {
            r#"<svg viewBox="0 0 24 24"><path d="M3 7h18v3a2 2 0 0 0 0 4v3H3v-3a2 2 0 0 0 0-4z" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/><path d="M14 7v10" stroke="currentColor" stroke-width="1.8" stroke-dasharray="2 2"/></svg>"#
        }
        "people" => {
            r#"<svg viewBox="0 0 24 24"><circle cx="9" cy="8" r="3.5" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M2.5 20c.8-3.6 3.4-5.5 6.5-5.5s5.7 1.9 6.5 5.5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/><path d="M16 4.8a3.3 3.3 0 0 1 0 6.4M18 14.8c1.8.6 3 2.3 3.5 5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg>"#
        }
        "filter" => {
            r#"<svg viewBox="0 0 24 24"><path d="M3 5h18l-7 8v6l-4-2v-4z" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/></svg>"#
        }
        "plug" => {
            r#"<svg viewBox="0 0 24 24"><path d="M9 3v5M15 3v5M6 8h12v3a6 6 0 0 1-12 0zM12 17v4" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg>"#
        }
        _ => {
            r#"<svg viewBox="0 0 24 24"><path d="M3 13l3-8h12l3 8v6H3zM3 13h5l1 2h6l1-2h5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/></svg>"#
        }
    }
}
