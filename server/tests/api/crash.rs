//! A `codecast serve` process killed (SIGKILL) in the middle of a queue, then started again:
//! nothing is lost, the integration it held is taken over once its lease has run out, and no
//! message is sent twice except those that had reached the provider without their answer
//! being recorded when it died (the ambiguous window). And one stopped with SIGTERM, which
//! finishes or hands back its work before exiting.

use crate::helpers::{eventually, postgres_admin_url};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::json;
use server::{
    ids::now_millis,
    services::deliveries::{self, NewDelivery},
};
use std::{
    collections::HashMap,
    io::Write,
    process::{Child, Command, Stdio},
    time::Duration,
};
use wiremock::{matchers::method, Mock, MockServer, ResponseTemplate};

const MESSAGES: usize = 150;

struct Instance {
    database_url: String,
    data_dir: std::path::PathBuf,
    port: u16,
}

impl Instance {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_codecast"));
        c.args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("CODECAST_DATA_DIR", &self.data_dir)
            .env("CODECAST_ADDR", format!("127.0.0.1:{}", self.port))
            .env("CODECAST_LOG", "warn");
        c
    }

    fn run(&self, args: &[&str], stdin: &str) -> String {
        let mut child = self
            .command(args)
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
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    async fn serve(&self) -> Child {
        let child = self
            .command(&["serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve");
        let url = format!("http://127.0.0.1:{}/healthz", self.port);
        eventually(60, "the server answers", || async {
            reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        child
    }
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "n")
        .unwrap()
}

/// A `codecast serve` process on `database_url` with an admin, a Twilio integration pointed at
/// a fake provider that answers after `delay_ms`, paced at `rate`, and `messages` queued.
struct Sending {
    instance: Instance,
    server: Child,
    fake: MockServer,
    db: DatabaseConnection,
    _data_dir: tempfile::TempDir,
}

async fn start_sending(database_url: &str, delay_ms: u64, rate: u32, messages: usize) -> Sending {
    let data_dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let instance = Instance {
        database_url: database_url.to_owned(),
        data_dir: data_dir.path().to_path_buf(),
        port,
    };
    instance.run(
        &[
            "user",
            "create",
            "--email",
            "ops@shop.example",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "a long enough password\n",
    );
    let key = instance.run(
        &["api-key", "create", "--name", "ops", "--role", "admin"],
        "",
    );
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_delay(Duration::from_millis(delay_ms))
                .set_body_json(json!({"sid": "SMfake", "num_segments": "1"})),
        )
        .mount(&fake)
        .await;
    let server = instance.serve().await;
    let integration: serde_json::Value = reqwest::Client::new().post(format!("http://127.0.0.1:{port}/v1/integrations/sms")).bearer_auth(&key)
        .json(&json!({"name": "Fake Twilio", "provider": "twilio", "sender": "+15017122661", "base_url": fake.uri(),
            "max_segments_per_second": rate, "credentials": {"account_sid": "AC1", "auth_token": "token-long-enough"}}))
        .send().await.unwrap().json().await.unwrap();
    let id = integration["id"]
        .as_str()
        .expect("integration created")
        .to_owned();
    let db = Database::connect(database_url).await.unwrap();
    let items: Vec<NewDelivery> = (0..messages)
        .map(|i| NewDelivery {
            kind: "distribution",
            distribution_id: Some("dst_fault".into()),
            customer_id: None,
            occurrence: i.to_string(),
            integration_id: id.clone(),
            priority: deliveries::PRIORITY_BULK,
            recipient: format!("+1415555{i:04}"),
            body: format!("Message {i}"),
            send_after: now_millis(),
        })
        .collect();
    deliveries::enqueue(&db, &items).await.unwrap();
    Sending {
        instance,
        server,
        fake,
        db,
        _data_dir: data_dir,
    }
}

async fn crash_and_recover(database_url: String) {
    // A slow provider, so requests are in flight when the process dies.
    let Sending {
        instance,
        mut server,
        fake,
        db,
        _data_dir,
    } = start_sending(&database_url, 150, 40, MESSAGES).await;

    // Kill it a third of the way through.
    eventually(60, "sending has started", || async {
        fake.received_requests().await.unwrap().len() >= MESSAGES / 3
    })
    .await;
    server.kill().unwrap();
    server.wait().unwrap();
    let reached = fake.received_requests().await.unwrap().len() as i64;
    let accepted_before = count(
        &db,
        "SELECT COUNT(*) AS n FROM deliveries WHERE status = 'accepted'",
    )
    .await;
    assert!(accepted_before < MESSAGES as i64, "killed mid-queue");
    // Requests that reached the provider and whose answer was not recorded: the ambiguous
    // window, which the next process may send again.
    let unrecorded = reached - accepted_before;

    let mut server = instance.serve().await;
    eventually(120, "every message accepted after the restart", || async {
        count(
            &db,
            "SELECT COUNT(*) AS n FROM deliveries WHERE status = 'accepted'",
        )
        .await
            == MESSAGES as i64
    })
    .await;
    server.kill().ok();
    server.wait().ok();

    // Each delivery reached the provider; only those unrecorded at the kill may have twice.
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for r in fake.received_requests().await.unwrap() {
        let d: i64 = url::form_urlencoded::parse(&r.body)
            .find(|(k, _)| k == "StatusCallback")
            .and_then(|(_, v)| {
                v.split("?d=")
                    .nth(1)
                    .and_then(|d| d.split('.').next()?.parse().ok())
            })
            .expect("every request names its delivery");
        *seen.entry(d).or_default() += 1;
    }
    assert_eq!(seen.len(), MESSAGES, "nothing lost");
    let twice = seen.values().filter(|n| **n > 1).count() as i64;
    assert!(seen.values().all(|n| *n <= 2));
    assert!(
        twice <= unrecorded,
        "{twice} sent twice, but only {unrecorded} had reached the provider unrecorded at the kill"
    );
    db.close().await.ok();
}

/// SIGTERM while sending: the process finishes or hands back what it holds before it exits.
async fn graceful_stop(database_url: String) {
    let Sending {
        mut server,
        fake,
        db,
        _data_dir,
        ..
    } = start_sending(&database_url, 300, 20, 100).await;
    eventually(60, "sending has started", || async {
        fake.received_requests().await.unwrap().len() >= 10
    })
    .await;
    let term = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "a clean exit: {status:?}");

    // Every message is either recorded with the provider's answer or back in the queue.
    let sent = fake.received_requests().await.unwrap().len() as i64;
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) AS n FROM deliveries WHERE status = 'accepted'"
        )
        .await,
        sent,
        "each request that went out is recorded"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'"
        )
        .await,
        100 - sent
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) AS n FROM integration_leases").await,
        0,
        "the integration lease is released"
    );
    db.close().await.ok();
}

/// Runs `scenario` on a fresh SQLite file or a fresh PostgreSQL database (dropped after).
async fn on_fresh_database<F, Fut>(postgres: bool, scenario: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if !postgres {
        let dir = tempfile::tempdir().unwrap();
        return scenario(format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("fault.db").display()
        ))
        .await;
    }
    let name = format!(
        "codecast_fault_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let admin = Database::connect(format!("{}/postgres", postgres_admin_url()))
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    scenario(format!("{}/{name}", postgres_admin_url())).await;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .ok();
}

#[tokio::test]
async fn sqlite_hands_back_its_work_on_sigterm() {
    on_fresh_database(false, graceful_stop).await;
}

#[tokio::test]
async fn postgres_hands_back_its_work_on_sigterm() {
    on_fresh_database(true, graceful_stop).await;
}

#[tokio::test]
async fn sqlite_survives_sigkill_mid_queue() {
    on_fresh_database(false, crash_and_recover).await;
}

#[tokio::test]
async fn postgres_survives_sigkill_mid_queue() {
    on_fresh_database(true, crash_and_recover).await;
}
