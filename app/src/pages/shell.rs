use crate::{
    api::auth::{get_session, Logout},
    components::{brand::Brand, navigation::hard_navigate},
    dto::SessionInfo,
    error::AppError,
};
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

/// The session as the shell loaded it; pages read it from context instead of asking again.
pub type SessionResource = Resource<Result<SessionInfo, AppError>>;

/// The signed-in frame: top bar, navigation, and the page in the middle.
#[component]
pub fn AppShell() -> impl IntoView {
    let session: SessionResource = Resource::new_blocking(|| (), |_| get_session());
    provide_context(session);
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if let Some(Ok(target)) = logout.value().get() {
            hard_navigate(&target);
        }
    });
    let is_admin = move || {
        session
            .get()
            .and_then(|r| r.ok())
            .and_then(|s| s.user)
            .is_some_and(|u| u.is_admin())
    };

    view! {
        <div class="app">
            <a class="skip-link" href="#main">"Skip to content"</a>
            <header class="topbar">
                <A href="/distributions" attr:class="topbar-brand"><Brand/></A>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let user = session.await.ok().and_then(|s| s.user);
                        user.map(|user| view! {
                            <div class="topbar-user">
                                <span class="user-email">{user.email.clone()}</span>
                                <span class="role-badge" data-role=user.role.as_str()>{user.role.label()}</span>
                                <ActionForm action=logout attr:class="inline-form">
                                    <button type="submit" class="btn btn-quiet">"Sign out"</button>
                                </ActionForm>
                            </div>
                        })
                    })}
                </Suspense>
            </header>
            <div class="app-body">
                <nav class="sidebar" aria-label="Main">
                    <ul>
                        <li><A href="/distributions">"Distributions"</A></li>
                        <li><A href="/campaigns">"Campaigns"</A></li>
                        <li><A href="/customers">"Customers"</A></li>
                        <li><A href="/segments">"Segments"</A></li>
                        <li><A href="/preview">"Message preview"</A></li>
                        <Transition fallback=|| ()>
                            <Show when=is_admin>
                                <li class="nav-admin"><A href="/integrations">"Integrations"</A></li>
                                <li class="nav-admin"><A href="/settings">"Settings"</A></li>
                            </Show>
                        </Transition>
                    </ul>
                </nav>
                <main id="main" class="content" tabindex="-1">
                    <Outlet/>
                </main>
            </div>
        </div>
    }
}

/// Renders `children` for admins and a clear refusal (HTTP 403 on the server) for others.
#[component]
pub fn AdminOnly(children: ChildrenFn) -> impl IntoView {
    let session = expect_context::<SessionResource>();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let admin = session.await.ok().and_then(|s| s.user).is_some_and(|u| u.is_admin());
                if admin {
                    children.with_value(|c| c()).into_any()
                } else {
                    super::set_page_status(403);
                    view! {
                        <section class="notice" role="alert">
                            <h1>"Admins only"</h1>
                            <p>"This area manages SMS providers, users and API keys. Ask an admin of your Codecast to do this, or to give you the admin role."</p>
                        </section>
                    }
                    .into_any()
                }
            })}
        </Suspense>
    }
}
