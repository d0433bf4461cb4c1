use leptos::prelude::*;

/// The wordmark: a speech bubble with a ticket notch, and the name.
#[component]
pub fn Brand() -> impl IntoView {
    view! {
        <span class="brand">
            <svg class="brand-mark" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
                <path d="M6 4h20a4 4 0 0 1 4 4v12a4 4 0 0 1-4 4H14l-7 6v-6H6a4 4 0 0 1-4-4V8a4 4 0 0 1 4-4z" fill="currentColor"/>
                <path d="M11 11h10M11 16h6" stroke="var(--brand-ink)" stroke-width="2.4" stroke-linecap="round"/>
            </svg>
            <span class="brand-name">"Codecast"</span>
        </span>
    }
}
