use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    super::set_page_status(404);
    view! {
        <Title text="Not found"/>
        <main class="auth-page">
            <section class="auth-card">
                <h1>"Page not found"</h1>
                <p>"There is nothing at this address."</p>
                <p><a class="btn btn-primary" href="/distributions">"Go to Distributions"</a></p>
            </section>
        </main>
    }
}
