//! The `codecast` binary's commands, run as a person would.

use crate::both_backends;
use std::{
    io::Write,
    process::{Command, Stdio},
};

fn codecast(app: &crate::helpers::TestApp, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_codecast"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("CODECAST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run codecast");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

both_backends! {
    async fn the_cli_creates_users_and_keys(app: TestApp) {
        let a = std::sync::Arc::new(app);
        let app2 = a.clone();
        let out = tokio::task::spawn_blocking(move || codecast(&app2, &["user", "create", "--email", "Ops@Shop.example", "--role", "admin", "--password-stdin"], "a long enough password\n")).await.unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("ops@shop.example"));

        // The first user made on the command line completes setup, and can sign in.
        let session: serde_json::Value = a.call(&a.client, "get_session", &[]).await.json().await.unwrap();
        assert_eq!(session["setup_required"], false);
        assert_eq!(a.login(&a.client, "ops@shop.example", "a long enough password").await.status(), 200);

        let app2 = a.clone();
        let out = tokio::task::spawn_blocking(move || codecast(&app2, &["api-key", "create", "--name", "Shop", "--role", "marketer"], "")).await.unwrap();
        assert!(out.status.success());
        let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let me: serde_json::Value = a.client.get(a.url("/v1/users/me")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        assert_eq!(me["name"], "Shop");

        let app2 = a.clone();
        let out = tokio::task::spawn_blocking(move || codecast(&app2, &["user", "create", "--email", "x@x.io", "--password-stdin"], "short\n")).await.unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("password"));

        let app2 = a.clone();
        let out = tokio::task::spawn_blocking(move || codecast(&app2, &["user", "create", "--email", "x@x.io", "--role", "owner", "--password-stdin"], "")).await.unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("admin or marketer"));
    }
}

both_backends! {
    async fn a_wrong_setting_stops_start_up_naming_it(app: TestApp) {
        let out = Command::new(env!("CARGO_BIN_EXE_codecast"))
            .arg("migrate")
            .env("DATABASE_URL", &app.database_url)
            .env("CODECAST_ADDR", "not-an-address")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("CODECAST_ADDR"));
    }
}
