//! Setup, sign-in, sessions, users and roles, through the server functions the UI calls.

use crate::{
    both_backends,
    helpers::{ADMIN_EMAIL, PASSWORD},
};
use reqwest::header;
use serde_json::Value;

both_backends! {
    async fn a_fresh_install_creates_its_first_admin_once(app: TestApp) {
        let session: Value = app.call(&app.client, "get_session", &[]).await.json().await.unwrap();
        assert_eq!(session["setup_required"], true);

        let first = app.setup_admin().await;
        assert_eq!(first.status(), 200);
        assert!(first.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap().contains("HttpOnly"));
        let session: Value = app.call(&app.client, "get_session", &[]).await.json().await.unwrap();
        assert_eq!(session["setup_required"], false);
        assert_eq!(session["user"]["email"], ADMIN_EMAIL);
        assert_eq!(session["user"]["role"], "admin");

        let again = app.call(&app.new_client(), "setup_admin",
            &[("email", "intruder@x.io"), ("password", PASSWORD), ("password_confirm", PASSWORD)]).await;
        assert_eq!(again.status(), 409);
        let body: Value = again.json().await.unwrap();
        assert_eq!(body["code"], "conflict");
    }
}

both_backends! {
    async fn racing_setup_forms_create_exactly_one_admin(app: TestApp) {
        let attempts = (0..6).map(|i| {
            let client = app.new_client();
            let email = format!("admin{i}@x.io");
            let url = app.url("/api/setup_admin");
            async move {
                client.post(url).header(header::ACCEPT, "application/json")
                    .form(&[("email", email.as_str()), ("password", PASSWORD), ("password_confirm", PASSWORD)])
                    .send().await.unwrap().status().as_u16()
            }
        });
        let statuses = futures::future::join_all(attempts).await;
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 200 || *s == 409), "{statuses:?}");
    }
}

both_backends! {
    async fn setup_reports_every_bad_field_at_once(app: TestApp) {
        let res = app.call(&app.client, "setup_admin",
            &[("email", "not-an-email"), ("password", "short"), ("password_confirm", "short")]).await;
        assert_eq!(res.status(), 422);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "validation_failed");
        assert!(body["fields"]["email"].is_string());
        assert!(body["fields"]["password"].as_str().unwrap().contains("10"));

        let res = app.call(&app.client, "setup_admin",
            &[("email", "a@x.io"), ("password", PASSWORD), ("password_confirm", "something else")]).await;
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["fields"]["password_confirm"], "The passwords do not match.");
    }
}

both_backends! {
    async fn sign_in_checks_the_password_and_throttles_guessing(app: TestApp) {
        app.with_admin().await;
        let browser = app.new_client();
        let wrong = app.login(&browser, ADMIN_EMAIL, "wrong password!").await;
        assert_eq!(wrong.status(), 401);
        let unknown = app.login(&browser, "nobody@x.io", PASSWORD).await;
        assert_eq!(unknown.status(), 401);
        assert_eq!(app.login(&browser, &ADMIN_EMAIL.to_uppercase(), PASSWORD).await.status(), 200);

        let guesser = app.new_client();
        for _ in 0..5 {
            assert_eq!(app.login(&guesser, ADMIN_EMAIL, "guess guess guess").await.status(), 401);
        }
        let blocked = app.login(&guesser, ADMIN_EMAIL, PASSWORD).await;
        assert_eq!(blocked.status(), 429);
        let body: Value = blocked.json().await.unwrap();
        assert_eq!(body["code"], "rate_limited");
    }
}

both_backends! {
    async fn signing_out_ends_the_session(app: TestApp) {
        app.with_admin().await;
        assert_eq!(app.call(&app.client, "list_users", &[]).await.status(), 200);
        let out = app.call(&app.client, "logout", &[]).await;
        assert_eq!(out.status(), 200);
        assert!(out.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap().contains("Max-Age=0"));
        assert_eq!(app.call(&app.client, "list_users", &[]).await.status(), 401);
    }
}

both_backends! {
    async fn marketers_are_refused_admin_server_functions(app: TestApp) {
        app.with_admin().await;
        let marketer = app.signed_in_as("mia@shop.example", "marketer").await;
        for (name, form) in [
            ("list_users", vec![]),
            ("create_user", vec![("email", "x@x.io"), ("role", "admin"), ("password", PASSWORD)]),
            ("delete_user", vec![("id", "usr_x")]),
            ("list_api_keys", vec![]),
            ("create_api_key", vec![("name", "k"), ("role", "admin")]),
            ("revoke_api_key", vec![("id", "key_x")]),
        ] {
            let res = app.call(&marketer, name, &form).await;
            assert_eq!(res.status(), 403, "{name}");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["code"], "forbidden", "{name}");
        }
        // Anonymous callers are told to sign in instead.
        assert_eq!(app.call(&app.new_client(), "list_users", &[]).await.status(), 401);
        // The marketer's own session is fine.
        let session: Value = app.call(&marketer, "get_session", &[]).await.json().await.unwrap();
        assert_eq!(session["user"]["role"], "marketer");
    }
}

both_backends! {
    async fn admins_manage_users(app: TestApp) {
        app.with_admin().await;
        let marketer = app.signed_in_as("mia@shop.example", "marketer").await;

        let dup = app.call(&app.client, "create_user",
            &[("email", "MIA@shop.example"), ("role", "marketer"), ("password", PASSWORD)]).await;
        assert_eq!(dup.status(), 422);
        let body: Value = dup.json().await.unwrap();
        assert_eq!(body["fields"]["email"], "A user with this email already exists.");

        let users: Value = app.call(&app.client, "list_users", &[]).await.json().await.unwrap();
        let users = users.as_array().unwrap();
        assert_eq!(users.len(), 2);
        let me = users.iter().find(|u| u["email"] == ADMIN_EMAIL).unwrap();
        let mia = users.iter().find(|u| u["email"] == "mia@shop.example").unwrap();

        let self_delete = app.call(&app.client, "delete_user", &[("id", me["id"].as_str().unwrap())]).await;
        assert_eq!(self_delete.status(), 409);

        let removed = app.call(&app.client, "delete_user", &[("id", mia["id"].as_str().unwrap())]).await;
        assert_eq!(removed.status(), 200);
        // Removing a user ends their sessions.
        assert_eq!(app.call(&marketer, "list_api_keys", &[]).await.status(), 401);
        let gone = app.call(&app.client, "delete_user", &[("id", mia["id"].as_str().unwrap())]).await;
        assert_eq!(gone.status(), 404);
    }
}

both_backends! {
    async fn a_form_post_without_javascript_signs_in_and_redirects(app: TestApp) {
        app.with_admin().await;
        let browser = app.new_client();
        let res = browser.post(app.url("/api/login"))
            .header(header::ACCEPT, "text/html,application/xhtml+xml")
            .header(header::REFERER, app.url("/login?next=%2Fsettings"))
            .form(&[("email", ADMIN_EMAIL), ("password", PASSWORD), ("next", "/settings")])
            .send().await.unwrap();
        assert_eq!(res.status(), 302);
        assert_eq!(res.headers()[header::LOCATION], "/settings");
        assert!(res.headers().get(header::SET_COOKIE).is_some());

        // A failed no-JS post goes back to the form with the error in the URL for the page to show.
        let res = app.new_client().post(app.url("/api/login"))
            .header(header::ACCEPT, "text/html")
            .header(header::REFERER, app.url("/login"))
            .form(&[("email", ADMIN_EMAIL), ("password", "nope nope nope")])
            .send().await.unwrap();
        assert_eq!(res.status(), 302);
        let location = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
        assert!(location.starts_with(&app.url("/login?")) && location.contains("__err="), "{location}");
    }
}
