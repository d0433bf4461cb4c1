use reqwest::{header, redirect, Response};
use sea_orm::{ConnectionTrait, Database};
use server::{configuration::Settings, startup::Application};
use std::future::Future;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the per-test PostgreSQL databases are created (this machine runs one with trust auth).
pub fn postgres_admin_url() -> String {
    std::env::var("CODECAST_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub const ADMIN_EMAIL: &str = "admin@shop.example";
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub address: String,
    pub database_url: String,
    /// Keeps cookies, follows no redirects: tests look at each answer.
    pub client: reqwest::Client,
    /// Holds the instance's secret key file; a second process needs the same key.
    pub data_dir: std::path::PathBuf,
    _data_dir: tempfile::TempDir,
}

impl TestApp {
    /// A second browser: its own cookies.
    pub fn new_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(redirect::Policy::none())
            // A request that hangs fails the test instead of stalling the suite.
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("client")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Calls a server function as the hydrated app does (form-encoded in, JSON out).
    pub async fn call(
        &self,
        client: &reqwest::Client,
        name: &str,
        form: &[(&str, &str)],
    ) -> Response {
        client
            .post(self.url(&format!("/api/{name}")))
            .header(header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .expect("server function request")
    }

    pub async fn setup_admin(&self) -> Response {
        self.call(
            &self.client,
            "setup_admin",
            &[
                ("email", ADMIN_EMAIL),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await
    }

    pub async fn login(&self, client: &reqwest::Client, email: &str, password: &str) -> Response {
        self.call(client, "login", &[("email", email), ("password", password)])
            .await
    }

    /// Sets up the instance; the app's own client is then the signed-in admin.
    pub async fn with_admin(&self) {
        assert_eq!(self.setup_admin().await.status(), 200);
    }

    /// Creates a user through the admin's session and returns a client signed in as them.
    pub async fn signed_in_as(&self, email: &str, role: &str) -> reqwest::Client {
        let created = self
            .call(
                &self.client,
                "create_user",
                &[("email", email), ("role", role), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(
            created.status(),
            200,
            "{}",
            created.text().await.unwrap_or_default()
        );
        let client = self.new_client();
        assert_eq!(self.login(&client, email, PASSWORD).await.status(), 200);
        client
    }

    /// Creates an API key through the admin's session and returns its secret.
    pub async fn api_key(&self, role: &str) -> String {
        let created = self
            .call(
                &self.client,
                "create_api_key",
                &[("name", "test key"), ("role", role)],
            )
            .await;
        assert_eq!(created.status(), 200);
        let body: serde_json::Value = created.json().await.unwrap();
        body["secret"].as_str().expect("secret").to_owned()
    }
}

/// POSTs JSON with an API key; answers with the status and the JSON body (null when none).
pub async fn post_json(
    app: &TestApp,
    key: &str,
    path: &str,
    body: serde_json::Value,
) -> (reqwest::StatusCode, serde_json::Value) {
    let res = app
        .new_client()
        .post(app.url(path))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = res.status();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

/// GETs JSON with an API key.
pub async fn get_json(app: &TestApp, key: &str, path: &str) -> serde_json::Value {
    app.new_client()
        .get(app.url(path))
        .bearer_auth(key)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON body")
}

/// Starts the app on a fresh database of `backend`, runs `test`, and always drops the database.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let data_dir = tempfile::tempdir().expect("tempdir");
    let (database_url, pg_name) = fresh_database(backend, data_dir.path()).await;

    let data = data_dir.path().display().to_string();
    let url = database_url.clone();
    let settings = Settings::from_lookup(|k| match k {
        "CODECAST_ADDR" => Some("127.0.0.1:0".into()),
        "CODECAST_DATA_DIR" => Some(data.clone()),
        "DATABASE_URL" => Some(url.clone()),
        "CODECAST_LOG" => Some("warn".into()),
        _ => None,
    })
    .expect("test settings");
    let application = Application::build(settings).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let stop = CancellationToken::new();
    let server = tokio::spawn(application.run_until(stop.clone().cancelled_owned()));

    let app = TestApp {
        address,
        database_url,
        client: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(redirect::Policy::none())
            // A request that hangs fails the test instead of stalling the suite.
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("client"),
        data_dir: data_dir.path().to_path_buf(),
        _data_dir: data_dir,
    };
    let outcome = tokio::spawn(test(app)).await;

    stop.cancel();
    // Shutdown is bounded by the engine (20 s grace); this bound only keeps a hang visible.
    if tokio::time::timeout(std::time::Duration::from_secs(60), server)
        .await
        .is_err()
    {
        panic!("the server did not shut down within 60 s");
    }
    if let Some(name) = pg_name {
        drop_database(&name).await;
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// An empty database: a SQLite file in `dir`, or a new PostgreSQL database (its name is the
/// second value, for [`drop_database`]).
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> (String, Option<String>) {
    match backend {
        Backend::Sqlite => (
            format!("sqlite://{}?mode=rwc", dir.join("codecast.db").display()),
            None,
        ),
        Backend::Postgres => {
            let name = format!(
                "codecast_test_{}",
                ulid::Ulid::new().to_string().to_lowercase()
            );
            let admin = Database::connect(format!("{}/postgres", postgres_admin_url()))
                .await
                .expect("PostgreSQL must run on 127.0.0.1:5432 (set CODECAST_TEST_POSTGRES_URL otherwise)");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            admin.close().await.ok();
            (format!("{}/{name}", postgres_admin_url()), Some(name))
        }
    }
}

pub async fn drop_database(name: &str) {
    if let Ok(admin) = Database::connect(format!("{}/postgres", postgres_admin_url())).await {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await;
    }
}

/// Declares one test per backend: `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($(#[$meta:meta])* async fn $name:ident($app:ident: TestApp) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::helpers::{run, Backend, TestApp};

            async fn body($app: TestApp) $body

            #[tokio::test]
            async fn sqlite() {
                run(Backend::Sqlite, body).await
            }

            #[tokio::test]
            async fn postgres() {
                run(Backend::Postgres, body).await
            }
        }
    };
}

/// Starts another process-like instance on the same database and key, as a second
/// `codecast serve` would be; it stops when the token is cancelled.
pub async fn second_instance(app: &TestApp) -> (String, CancellationToken) {
    let data = app.data_dir.display().to_string();
    let url = app.database_url.clone();
    let settings = Settings::from_lookup(|k| match k {
        "CODECAST_ADDR" => Some("127.0.0.1:0".into()),
        "CODECAST_DATA_DIR" => Some(data.clone()),
        "DATABASE_URL" => Some(url.clone()),
        "CODECAST_LOG" => Some("warn".into()),
        _ => None,
    })
    .expect("settings");
    let application = Application::build(settings)
        .await
        .expect("second instance builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let stop = CancellationToken::new();
    tokio::spawn(application.run_until(stop.clone().cancelled_owned()));
    (address, stop)
}

/// Polls `check` every 50 ms until it is true; fails the test after `secs` seconds.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
