//! What browsers see before and around pages: redirects, role refusals, cross-site refusal.

use crate::both_backends;
use reqwest::header;

both_backends! {
    async fn pages_lead_visitors_to_setup_then_sign_in(app: TestApp) {
        let visitor = app.new_client();
        let res = visitor.get(app.url("/customers")).send().await.unwrap();
        assert_eq!(res.headers()[header::LOCATION], "/setup");
        assert_eq!(visitor.get(app.url("/setup")).send().await.unwrap().status(), 200);

        app.with_admin().await;
        let res = visitor.get(app.url("/customers?page=2")).send().await.unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()[header::LOCATION], "/login?next=/customers%3Fpage%3D2");
        assert_eq!(visitor.get(app.url("/setup")).send().await.unwrap().headers()[header::LOCATION], "/login");
        let login = visitor.get(app.url("/login")).send().await.unwrap();
        assert_eq!(login.status(), 200);
        assert!(login.text().await.unwrap().contains("Sign in"));

        // Signed in: the shell and its navigation render on the server.
        let page = app.client.get(app.url("/distributions")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        for item in ["Distributions", "Campaigns", "Customers", "Segments", "Integrations", "Settings", "No distributions yet"] {
            assert!(html.contains(item), "{item} missing");
        }
        assert_eq!(app.client.get(app.url("/")).send().await.unwrap().headers()[header::LOCATION], "/distributions");
    }
}

both_backends! {
    async fn marketers_see_no_admin_areas(app: TestApp) {
        app.with_admin().await;
        let marketer = app.signed_in_as("mia@shop.example", "marketer").await;
        let html = marketer.get(app.url("/customers")).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("Customers"));
        assert!(!html.contains("nav-admin") && !html.contains("href=\"/settings\""), "admin navigation shown to a marketer");
        for path in ["/settings", "/integrations"] {
            let res = marketer.get(app.url(path)).send().await.unwrap();
            assert_eq!(res.status(), 403, "{path}");
            assert!(res.text().await.unwrap().contains("Admins only"));
        }
        let res = app.client.get(app.url("/settings")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains(crate::helpers::ADMIN_EMAIL));
    }
}

both_backends! {
    async fn cross_site_posts_are_refused(app: TestApp) {
        app.with_admin().await;
        let forged = app.client.post(app.url("/api/create_user"))
            .header(header::ORIGIN, "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .form(&[("email", "evil@x.io"), ("role", "admin"), ("password", crate::helpers::PASSWORD)])
            .send().await.unwrap();
        assert_eq!(forged.status(), 403);
        let forged = app.client.post(app.url("/api/logout"))
            .header(header::ORIGIN, "https://evil.example")
            .send().await.unwrap();
        assert_eq!(forged.status(), 403);
        let users: serde_json::Value = app.call(&app.client, "list_users", &[]).await.json().await.unwrap();
        assert_eq!(users.as_array().unwrap().len(), 1);

        let same = app.client.post(app.url("/api/list_users"))
            .header(header::ORIGIN, app.address.as_str())
            .header("sec-fetch-site", "same-origin")
            .header(header::ACCEPT, "application/json")
            .send().await.unwrap();
        assert_eq!(same.status(), 200);
    }
}

both_backends! {
    async fn unknown_pages_are_404(app: TestApp) {
        app.with_admin().await;
        let res = app.client.get(app.url("/no-such-page")).send().await.unwrap();
        assert_eq!(res.status(), 404);
        assert!(res.text().await.unwrap().contains("Page not found"));
    }
}
