//! Benchmarks that print numbers: `cargo run --release -p server --bin bench -- <name>`.
//!
//! - `template`: parse + render + count of the 1,600-character, ten-tag benchmark template
//!   (the work the editor does per keystroke and the sender per message).
//! - `codes [count] [postgres]`: draws 1,000,000 unique codes (pattern `SUMMER-????####`) in
//!   memory, then creates a campaign of that many codes and times it until every code is
//!   stored (generation runs in the background, as in production).
//! - `segments [customers] [postgres]`: fills a fresh database with 1,000,000 customers (and
//!   events for a fifth of them), then times: saving an auto-update segment (it is
//!   materialised), reading its count, live counts of unsaved rules (the rule builder), and a
//!   customer upsert that re-checks every auto-update segment.
//! - `import [rows] [postgres]`: streams a generated CSV of customers (100,000 rows by default)
//!   through `POST /v1/customers/import` of an in-process server on a fresh database, and
//!   prints the time and the process's peak memory.
//! - `delivery [messages] [postgres]`: (a) throughput of the delivery queue and the Twilio
//!   adapter against an unlimited loopback fake provider, next to the raw reqwest → fake
//!   ceiling measured in the same run with the same concurrency, right before and right after
//!   each queue round; (b) pacing accuracy of an integration limited to 100 segments/s,
//!   sending 6,000 segments (one- and two-segment messages) for about a minute.
//! - `send [customers] [postgres]`: a manual distribution of unique codes to a segment of
//!   1,000,000 customers (a tenth opted out), prepared in this process; then a separate server
//!   process (this binary as `__serve`, the same code as `codecast serve`) gets the review and
//!   the SEND over the REST API. Times both, and samples the server process's resident
//!   memory while SEND runs and while the sandbox sends for ten seconds after.

use app::domain::{
    message::{benchmark_data, benchmark_template, preview, preview_parsed},
    template::Template,
};
use std::time::{Duration, Instant};

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    match which.as_str() {
        "template" => template(),
        "import" => import(),
        "codes" => codes(),
        "segments" => segments(),
        "delivery" => delivery(),
        "send" => send(),
        // The server process of the `send` benchmark.
        "__serve" => serve_child(),
        "all" => {
            template();
            codes();
            import();
            segments();
            delivery();
            send();
        }
        other => {
            eprintln!(
                "unknown benchmark {other:?}; try: template, codes, import, segments, delivery"
            );
            std::process::exit(2);
        }
    }
}

fn template() {
    let source = benchmark_template();
    let data = benchmark_data();
    let parsed = Template::parse(&source).expect("benchmark template parses");
    let segments = preview_parsed(&parsed, &data, false).count.segments;
    println!(
        "template: {} characters, {} tags, renders to {} segments",
        source.chars().count(),
        parsed.variables().len(),
        segments
    );
    report("parse + render + count (per keystroke)", 20_000, || {
        std::hint::black_box(preview(&source, &data, false).ok());
    });
    report(
        "render + count, parsed once (per message sent)",
        20_000,
        || {
            std::hint::black_box(preview_parsed(&parsed, &data, false));
        },
    );
}

fn report(label: &str, iterations: usize, mut f: impl FnMut()) {
    for _ in 0..iterations / 10 {
        f();
    }
    let mut samples = Vec::with_capacity(iterations);
    let started = Instant::now();
    for _ in 0..iterations {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    let total = started.elapsed();
    samples.sort();
    let mean = total / iterations as u32;
    let p50 = samples[iterations / 2];
    let p99 = samples[iterations * 99 / 100];
    println!(
        "  {label}: mean {} µs, p50 {} µs, p99 {} µs over {iterations} runs",
        micros(mean),
        micros(p50),
        micros(p99)
    );
}

fn micros(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn import() {
    let rows: usize = std::env::args()
        .nth(2)
        .and_then(|r| r.parse().ok())
        .unwrap_or(100_000);
    let postgres = std::env::args().nth(3).is_some_and(|a| a == "postgres");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let bench = BenchApp::start(postgres).await;
        let (base, key) = (bench.base.clone(), bench.key.clone());

        let before = peak_rss_kib();
        // The CSV is generated as it is sent: neither side ever holds the whole file.
        let chunks = futures::stream::iter((0..rows).step_by(1000).map(move |start| {
            let mut chunk = if start == 0 { String::from("source_id,name,phone,email,metadata.tier,metadata.points\n") } else { String::new() };
            for i in start..(start + 1000).min(rows) {
                chunk.push_str(&format!(
                    "c{i},Customer {i},+1 415 555 {:04},c{i}@example.com,{},{}\n",
                    i % 10_000,
                    ["gold", "silver", "bronze"][i % 3],
                    i % 5000
                ));
            }
            Ok::<_, std::io::Error>(chunk)
        }));
        let started = Instant::now();
        let response = reqwest::Client::new()
            .post(format!("{base}/v1/customers/import"))
            .bearer_auth(&key)
            .header("content-type", "text/csv")
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await
            .expect("import request");
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let elapsed = started.elapsed();
        println!(
            "import ({}): {rows} rows in {:.2} s ({:.0} rows/s), HTTP {status}, created {}, rejected {}; peak RSS {} MiB before, {} MiB after",
            bench.backend_name(),
            elapsed.as_secs_f64(),
            rows as f64 / elapsed.as_secs_f64(),
            body["created"],
            body["rejected_count"],
            before / 1024,
            peak_rss_kib() / 1024,
        );
        bench.finish().await;
    });
}

/// An in-process server on a fresh SQLite file or PostgreSQL database, with a marketer key.
struct BenchApp {
    base: String,
    key: String,
    state: server::startup::AppState,
    dir: std::path::PathBuf,
    pg: Option<(sea_orm::DatabaseConnection, String)>,
    url: String,
    stop: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )>,
}

impl BenchApp {
    async fn start(postgres: bool) -> Self {
        use app::{
            domain::{Label, Role},
            ports::Accounts,
        };
        use sea_orm::{ConnectionTrait, Database};
        use server::{configuration::Settings, startup::Application};

        let dir = std::env::temp_dir().join(format!("codecast-bench-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (url, pg) = if postgres {
            let name = format!(
                "codecast_bench_{}",
                ulid::Ulid::new().to_string().to_lowercase()
            );
            let admin = Database::connect("postgres://postgres@127.0.0.1:5432/postgres")
                .await
                .expect("PostgreSQL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create database");
            (
                format!("postgres://postgres@127.0.0.1:5432/{name}"),
                Some((admin, name)),
            )
        } else {
            (
                format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
                None,
            )
        };
        let data_dir = dir.display().to_string();
        let db_url = url.clone();
        let settings = Settings::from_lookup(|k| match k {
            "CODECAST_ADDR" => Some("127.0.0.1:0".into()),
            "CODECAST_DATA_DIR" => Some(data_dir.clone()),
            "DATABASE_URL" => Some(db_url.clone()),
            "CODECAST_LOG" => Some("error".into()),
            _ => None,
        })
        .expect("settings");
        let app = Application::build(settings).await.expect("app");
        let base = format!("http://127.0.0.1:{}", app.port());
        let key = app
            .state
            .accounts
            .create_api_key(Label::parse("bench").expect("label"), Role::Marketer, None)
            .await
            .expect("key")
            .secret;
        let state = app.state.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Self {
            base,
            key,
            state,
            dir,
            pg,
            url,
            stop: Some((stop, serving)),
        }
    }

    /// Stops this process's server and delivery engine (the database stays open).
    async fn stop_serving(&mut self) {
        if let Some((stop, serving)) = self.stop.take() {
            let _ = stop.send(());
            let _ = serving.await;
        }
    }

    fn backend_name(&self) -> &'static str {
        if self.pg.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }

    async fn finish(self) {
        use sea_orm::ConnectionTrait;
        if std::env::var_os("CODECAST_BENCH_KEEP").is_some() {
            println!("  kept the database: {}", self.url);
            return;
        }
        if let Some((admin, name)) = self.pg {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The process's peak resident memory (VmHWM), in KiB; 0 where /proc is missing.
fn peak_rss_kib() -> u64 {
    rss_of(std::process::id()).1
}

fn codes() {
    use app::domain::code_pattern::{CodeConfig, CodeSpec};
    let count: usize = std::env::args()
        .nth(2)
        .and_then(|c| c.parse().ok())
        .unwrap_or(1_000_000);
    let spec = CodeSpec::parse(&CodeConfig {
        pattern: Some("SUMMER-????####".into()),
        ..Default::default()
    })
    .expect("pattern");
    spec.check_count(count as u64).expect("count fits");
    let postgres = std::env::args().nth(3).is_some_and(|a| a == "postgres");
    for round in 1..=3 {
        let started = Instant::now();
        let codes = server::services::codes::generate_codes(&spec, count, &Default::default());
        println!(
            "codes: {} unique codes in {:.3} s (round {round})",
            codes.len(),
            started.elapsed().as_secs_f64()
        );
    }

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        use app::{dto::{CampaignInput, Discount}, ports::Campaigns};
        let bench = BenchApp::start(postgres).await;
        let campaigns = bench.state.campaigns.clone();
        for (round, pattern) in [(1, "SUMMER-????####"), (2, "AUTUMN-????####")] {
            let started = Instant::now();
            let created = campaigns
                .create(CampaignInput {
                    name: format!("Bench {round}"),
                    discount: Discount { kind: "PERCENT".into(), percent_off: Some(10.0), amount_off: None },
                    code_config: serde_json::json!({ "pattern": pattern }),
                    vouchers_count: count as u64,
                    expiration_date: None,
                    validity_hours: None,
                })
                .await
                .expect("campaign");
            let answered = started.elapsed();
            let done = loop {
                let c = campaigns.get(&created.id).await.expect("campaign");
                if c.status != "generating" {
                    break c;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            };
            let elapsed = started.elapsed();
            println!(
                "codes stored ({}, campaign {round}, {} codes already in the table): {} codes in {:.2} s ({:.0} codes/s); create answered in {} ms; status {}",
                bench.backend_name(),
                (round - 1) * count,
                done.generated,
                elapsed.as_secs_f64(),
                done.generated as f64 / elapsed.as_secs_f64(),
                answered.as_millis(),
                done.status
            );
        }
        bench.finish().await;
    });
}

/// Inserts `n` customers (a third each gold, silver, bronze; orders 0-49; four cities) and a
/// `cart_abandoned` event in the last 60 days for every fifth, set-based.
async fn fill_customers(db: &sea_orm::DatabaseConnection, n: u64) {
    use sea_orm::{ConnectionTrait, DbBackend};
    let now = chrono::Utc::now().timestamp_millis();
    let pg = db.get_database_backend() == DbBackend::Postgres;
    let series = match db.get_database_backend() {
        DbBackend::Postgres => format!("SELECT i FROM generate_series(0, {}) AS s(i)", n - 1),
        _ => format!("WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {}) SELECT i FROM s", n - 1),
    };
    let customers = format!(
        "INSERT INTO customers (id, source_id, name, email, phone, timezone, metadata, sms_consent, created_at, updated_at) \
         SELECT 'cust_' || lpad_i, 'src' || lpad_i, 'Customer ' || lpad_i, NULL, '+1415' || lpad_i, NULL, \
           {json_open}'{{\"tier\":\"' || CASE i % 3 WHEN 0 THEN 'gold' WHEN 1 THEN 'silver' ELSE 'bronze' END || \
           '\",\"orders\":' || (i % 50) || ',\"city\":\"' || CASE i % 4 WHEN 0 THEN 'Madrid' WHEN 1 THEN 'Paris' WHEN 2 THEN 'Berlin' ELSE 'Rome' END || '\"}}'{json_close}, \
           CASE WHEN i % 10 = 0 THEN 'opted_out' ELSE 'opted_in' END, {now}, {now} \
         FROM (SELECT i, {pad} AS lpad_i FROM ({series}) AS g) AS t",
        pad = match db.get_database_backend() {
            DbBackend::Postgres => "lpad(i::text, 7, '0')",
            _ => "substr('0000000' || i, -7, 7)",
        },
        json_open = if pg { "CAST(" } else { "" },
        json_close = if pg { " AS jsonb)" } else { "" },
    );
    db.execute_unprepared(&customers).await.expect("customers");
    let events = format!(
        "INSERT INTO events (id, customer_id, name, metadata, created_at) \
         SELECT 'evt_' || lpad_i, 'cust_' || lpad_i, 'cart_abandoned', '{{}}', {now} - (i % 60) * CAST(86400000 AS BIGINT) \
         FROM (SELECT i, {pad} AS lpad_i FROM ({series}) AS g WHERE i % 5 = 0) AS t",
        pad = match db.get_database_backend() {
            DbBackend::Postgres => "lpad(i::text, 7, '0')",
            _ => "substr('0000000' || i, -7, 7)",
        }
    );
    db.execute_unprepared(&events).await.expect("events");
    db.execute_unprepared("ANALYZE").await.expect("analyze");
}

fn segments() {
    let customers: u64 = std::env::args()
        .nth(2)
        .and_then(|c| c.parse().ok())
        .unwrap_or(1_000_000);
    let postgres = std::env::args().nth(3).is_some_and(|a| a == "postgres");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        use app::{domain::segment_rule::Rule, dto::{CustomerInput, SegmentInput}, ports::{Customers, Segments}};
        let bench = BenchApp::start(postgres).await;
        let name = bench.backend_name();
        let started = Instant::now();
        fill_customers(&bench.state.db, customers).await;
        println!("segments ({name}): {customers} customers and {} events inserted in {:.1} s", customers / 5, started.elapsed().as_secs_f64());
        let segments = bench.state.segments.clone();
        let rule_json = serde_json::json!({"all": [
            {"field": "customer.metadata.tier", "op": "eq", "value": "gold"},
            {"event": "cart_abandoned", "op": "performed", "within_days": 30}
        ]});
        let started = Instant::now();
        let saved = segments
            .create(SegmentInput { name: "Gold cart abandoners".into(), kind: "auto-update".into(), filter: Some(rule_json.clone()), customers: vec![] })
            .await
            .expect("segment");
        println!("  save an auto-update segment (materialise {} members): {:.0} ms", saved.customers_count, started.elapsed().as_secs_f64() * 1e3);
        let big = segments
            .create(SegmentInput { name: "Not opted out".into(), kind: "auto-update".into(),
                filter: Some(serde_json::json!({"field": "customer.sms_consent", "op": "ne", "value": "opted_out"})), customers: vec![] })
            .await
            .expect("segment");
        for (label, id) in [("count a saved auto-update segment", &saved.id), ("count a saved auto-update segment of 900k", &big.id)] {
            let mut samples = Vec::new();
            let mut count = 0;
            for _ in 0..20 {
                let t = Instant::now();
                count = segments.get(id).await.expect("get").customers_count;
                samples.push(t.elapsed());
            }
            print_samples(&format!("{label} ({count} members)"), &mut samples);
        }
        let rules = [
            ("metadata.tier eq gold", serde_json::json!({"field": "customer.metadata.tier", "op": "eq", "value": "gold"})),
            ("metadata.orders gte 25", serde_json::json!({"field": "customer.metadata.orders", "op": "gte", "value": 25})),
            ("name contains \"99\"", serde_json::json!({"field": "customer.name", "op": "contains", "value": "99"})),
            ("cart_abandoned within 30 days", serde_json::json!({"event": "cart_abandoned", "op": "performed", "within_days": 30})),
            ("tier gold and cart_abandoned within 30 days", rule_json.clone()),
        ];
        for (label, rule) in rules {
            let rule = Rule::parse(&rule, "filter").expect("rule");
            let mut samples = Vec::new();
            let mut count = 0;
            for _ in 0..5 {
                let t = Instant::now();
                count = segments.count(&rule).await.expect("count");
                samples.push(t.elapsed());
            }
            print_samples(&format!("live count of an unsaved rule: {label} ({count} match)"), &mut samples);
        }
        let customers_port = bench.state.customers.clone();
        let mut samples = Vec::new();
        for i in 0..50 {
            let t = Instant::now();
            let mut metadata = serde_json::Map::new();
            metadata.insert("tier".into(), serde_json::json!(if i % 2 == 0 { "gold" } else { "silver" }));
            customers_port
                .upsert(CustomerInput { source_id: Some(format!("src{:07}", i * 3)), metadata: Some(metadata), ..Default::default() }, "api", "bench")
                .await
                .expect("upsert");
            samples.push(t.elapsed());
        }
        print_samples("customer upsert re-checking 2 auto-update segments", &mut samples);
        bench.finish().await;
    });
}

fn print_samples(label: &str, samples: &mut [Duration]) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "  {label}: mean {:.1} ms, p50 {:.1} ms, max {:.1} ms over {} runs",
        mean.as_secs_f64() * 1e3,
        samples[samples.len() / 2].as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
        samples.len()
    );
}

/// What the fake provider saw: when each request came and how many segments it carried.
#[derive(Default)]
struct FakeLog {
    arrivals: std::sync::Mutex<Vec<(Instant, u32)>>,
}

/// A Twilio-shaped provider on loopback that accepts everything at once.
async fn fake_provider() -> (String, std::sync::Arc<FakeLog>) {
    use axum::{body::Bytes, routing::post, Router};
    use std::sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    };
    let log = Arc::new(FakeLog::default());
    let counter = Arc::new(AtomicU64::new(0));
    let seen = log.clone();
    let app = Router::new().route(
        "/2010-04-01/Accounts/{sid}/Messages.json",
        post(move |body: Bytes| {
            let seen = seen.clone();
            let counter = counter.clone();
            async move {
                let text = url::form_urlencoded::parse(&body)
                    .find(|(k, _)| k == "Body")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                let segments = app::domain::sms::count(&text, false).segments as u32;
                seen.arrivals
                    .lock()
                    .expect("log")
                    .push((Instant::now(), segments));
                let n = counter.fetch_add(1, Ordering::Relaxed);
                (
                    axum::http::StatusCode::CREATED,
                    [("content-type", "application/json")],
                    format!(
                        r#"{{"sid":"SM{n:032x}","status":"queued","num_segments":"{segments}"}}"#
                    ),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (format!("http://{addr}"), log)
}

/// Rounds of ceiling, queue and ceiling in the delivery benchmark.
const ROUNDS: usize = 7;

fn delivery() {
    let count: usize = std::env::args()
        .nth(2)
        .and_then(|c| c.parse().ok())
        .unwrap_or(20_000);
    let postgres = std::env::args().nth(3).is_some_and(|a| a == "postgres");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        use app::{dto::IntegrationInput, ports::Integrations};
        use futures::StreamExt;
        use server::services::deliveries::{self, NewDelivery};

        let (fake, log) = fake_provider().await;
        let bench = BenchApp::start(postgres).await;
        println!("delivery ({}): {count} messages", bench.backend_name());

        // (a) The ceiling: the same requests straight from reqwest, 64 at a time (the
        // dispatcher's cap on requests in flight), measured in each round just before and just
        // after the queue. The round's ceiling is the plain mean of the two rates, which is
        // never below their time-weighted mean, so it errs against the queue.
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let url = format!("{fake}/2010-04-01/Accounts/AC1/Messages.json");
        let ceiling = || {
            let http = http.clone();
            let url = url.clone();
            async move {
                let started = Instant::now();
                futures::stream::iter(0..count)
                    .map(|i| {
                        let http = http.clone();
                        let url = url.clone();
                        async move {
                            let form = [("To", format!("+1415{i:07}")), ("From", "+15017122661".into()),
                                ("Body", format!("Hi Ana, your code SUMMER-{i:06} gets you 20% off")),
                                ("StatusCallback", format!("http://127.0.0.1/webhooks/sms/int_1/status?d={i}"))];
                            let res = http.post(&url).basic_auth("AC1", Some("token")).form(&form).send().await.expect("fake answers");
                            let json: serde_json::Value = res.json().await.expect("json");
                            std::hint::black_box(json);
                        }
                    })
                    .buffer_unordered(64)
                    .collect::<Vec<()>>()
                    .await;
                count as f64 / started.elapsed().as_secs_f64()
            }
        };
        let integration = |rate: u32, name: &str| IntegrationInput {
            name: Some(name.into()),
            provider: Some("twilio".into()),
            credentials: [("account_sid".to_owned(), "AC1".to_owned()), ("auth_token".to_owned(), "token-long-enough".to_owned())].into(),
            sender: Some("+15017122661".into()),
            base_url: Some(fake.clone()),
            max_segments_per_second: Some(rate),
            ..Default::default()
        };
        let fast = bench.state.integrations.create(integration(100_000, "Unlimited")).await.expect("integration");
        let db = bench.state.db.clone();
        let accepted = || {
            let db = db.clone();
            async move {
                use sea_orm::ConnectionTrait;
                db.query_one(sea_orm::Statement::from_string(db.get_database_backend(),
                    "SELECT COUNT(*) AS n FROM deliveries WHERE status = 'accepted'"))
                    .await.ok().flatten().and_then(|r| r.try_get::<i64>("", "n").ok()).unwrap_or(0)
            }
        };
        // Rounds of ceiling, queue, ceiling: this machine's speed drifts by a third within
        // minutes, so each round compares the queue with the mean of the ceilings measured
        // right before and right after it (the queueing, which takes longer than either, is
        // done before the first). The medians over the rounds are the result.
        let mut ratios = Vec::new();
        let (mut raws, mut engines) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let items: Vec<NewDelivery> = (0..count)
                .map(|i| NewDelivery {
                    kind: "distribution", distribution_id: Some("dst_bench".into()), customer_id: None,
                    occurrence: format!("{round}-{i}"), integration_id: fast.id.clone(), priority: deliveries::PRIORITY_BULK,
                    recipient: format!("+1415{i:07}"), body: format!("Hi Ana, your code SUMMER-{i:06} gets you 20% off"),
                    send_after: server::ids::now_millis(),
                })
                .collect();
            // Queued in one transaction: nothing is due until it commits, so the timing below
            // is sending only (and the commit).
            let txn = { use sea_orm::TransactionTrait; db.begin().await.expect("txn") };
            deliveries::enqueue(&txn, &items).await.expect("enqueue");
            let before = ceiling().await;
            log.arrivals.lock().expect("log").clear();
            let started = Instant::now();
            txn.commit().await.expect("commit");
            bench.state.engine.wake();
            while log.arrivals.lock().expect("log").len() < count {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let handed = started.elapsed();
            while accepted().await < ((round + 1) * count) as i64 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let recorded = started.elapsed();
            let after = ceiling().await;
            let raw = (before + after) / 2.0;
            let engine = count as f64 / handed.as_secs_f64();
            println!(
                "  round {}: raw reqwest → loopback fake {raw:.0} messages/s ({before:.0} before, {after:.0} after); queue + dispatcher + Twilio adapter {engine:.0} messages/s handed over ({:.0} %), all recorded as accepted after {:.2} s",
                round + 1, 100.0 * engine / raw, recorded.as_secs_f64()
            );
            ratios.push(engine / raw);
            raws.push(raw);
            engines.push(engine);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        println!(
            "  median: ceiling {:.0}/s, queue {:.0}/s, {:.0} % of the ceiling (goal ≥ 60 %)",
            median(&mut raws), median(&mut engines), 100.0 * median(&mut ratios)
        );
        log.arrivals.lock().expect("log").clear();

        // (b) Pacing: 100 segments/s, 6,000 segments.
        let paced = bench.state.integrations.create(integration(100, "Paced")).await.expect("integration");
        let long = "Your code SUMMER-000000 gets you 20% off everything in the summer sale this week. Show this message at the till or enter the code at checkout online before Sunday.";
        assert_eq!(app::domain::sms::count(long, false).segments, 2);
        let items: Vec<NewDelivery> = (0..5000)
            .map(|i| NewDelivery {
                kind: "distribution", distribution_id: Some("dst_paced".into()), customer_id: None,
                occurrence: i.to_string(), integration_id: paced.id.clone(), priority: deliveries::PRIORITY_BULK,
                recipient: format!("+1415{i:07}"),
                body: if i % 5 == 0 { long.to_owned() } else { format!("Short {i}") },
                send_after: server::ids::now_millis() + 3_600_000,
            })
            .collect();
        let total_segments: u32 = items.iter().map(|d| app::domain::sms::count(&d.body, false).segments as u32).sum();
        deliveries::enqueue(&db, &items).await.expect("enqueue");
        log.arrivals.lock().expect("log").clear();
        {
            use sea_orm::ConnectionTrait;
            db.execute_unprepared("UPDATE deliveries SET send_after = 0 WHERE status = 'pending'").await.expect("due now");
        }
        bench.state.engine.wake();
        while accepted().await < (ROUNDS * count + 5000) as i64 {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let arrivals = log.arrivals.lock().expect("log").clone();
        let (first, last) = (arrivals.first().expect("sent").0, arrivals.last().expect("sent"));
        let span = last.0.duration_since(first).as_secs_f64();
        // The last message's segments are not spent until after it starts.
        let rate = f64::from(total_segments - last.1) / span;
        println!(
            "  pacing at 100 segments/s: {total_segments} segments in {span:.2} s = {rate:.2} segments/s, {:+.2} % (goal within ±2 %)",
            100.0 * (rate - 100.0) / 100.0
        );
        // The worst one-second window.
        let mut worst = 0u32;
        let mut j = 0;
        let mut in_window = 0u32;
        for i in 0..arrivals.len() {
            in_window += arrivals[i].1;
            while arrivals[i].0.duration_since(arrivals[j].0) >= Duration::from_secs(1) {
                in_window -= arrivals[j].1;
                j += 1;
            }
            worst = worst.max(in_window);
        }
        println!("  busiest one-second window: {worst} segments");
        bench.finish().await;
    });
}

/// A process's resident memory now and at its peak (VmRSS, VmHWM), in KiB; 0 where /proc
/// is missing.
fn rss_of(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `bench __serve`: the server alone, configured by the environment like `codecast serve`.
fn serve_child() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let settings = server::configuration::Settings::from_env().expect("settings");
        server::telemetry::init(&settings.log_filter);
        let app = server::startup::Application::build(settings)
            .await
            .expect("server");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        app.run_until(async move {
            term.recv().await;
        })
        .await
        .expect("serve");
    });
}

fn send() {
    let customers: u64 = std::env::args()
        .nth(2)
        .and_then(|c| c.parse().ok())
        .unwrap_or(1_000_000);
    let postgres = std::env::args().nth(3).is_some_and(|a| a == "postgres");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        use app::{
            dto::{Audience, CampaignInput, Discount, DistributionInput, IntegrationInput, SegmentInput},
            ports::{Campaigns, Distributions, Integrations, Segments},
        };
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let mut bench = BenchApp::start(postgres).await;
        let name = bench.backend_name();
        let started = Instant::now();
        fill_customers(&bench.state.db, customers).await;
        let segment = bench.state.segments
            .create(SegmentInput { name: "Everyone".into(), kind: "auto-update".into(),
                filter: Some(serde_json::json!({"field": "customer.name", "op": "exists"})), customers: vec![] })
            .await
            .expect("segment");
        let recipients = customers - customers / 10;
        let campaign = bench.state.campaigns
            .create(CampaignInput {
                name: "Million".into(),
                discount: Discount { kind: "PERCENT".into(), percent_off: Some(20.0), amount_off: None },
                code_config: serde_json::json!({ "pattern": "MEGA-????-####" }),
                vouchers_count: recipients,
                expiration_date: None,
                validity_hours: Some(720),
            })
            .await
            .expect("campaign");
        loop {
            let c = bench.state.campaigns.get(&campaign.id).await.expect("campaign");
            if c.status == "ready" { break; }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let sandbox = bench.state.integrations
            .create(IntegrationInput { name: Some("Sandbox".into()), provider: Some("sandbox".into()), max_segments_per_second: Some(1000), ..Default::default() })
            .await
            .expect("integration");
        println!("send ({name}): {customers} customers in a segment of {}, {recipients} codes, ready in {:.1} s",
            segment.customers_count, started.elapsed().as_secs_f64());
        let d = bench.state.distributions
            .create(DistributionInput {
                name: Some("Million".into()),
                purpose: Some("unique_codes".into()),
                campaign_id: Some(campaign.id.clone()),
                audience: Some(Audience::Segment(segment.id.clone())),
                integration_id: Some(sandbox.id.clone()),
                template: Some("Hi {{ customer.first_name | default: \"there\" }}, {{ voucher.code }} takes {{ voucher.discount }} off until {{ voucher.expiration_date | date: \"%b %d\" }}: {{ voucher.qr_url }} {{ unsubscribe_text }}".into()),
                ..Default::default()
            })
            .await
            .expect("distribution");
        // The server alone, in its own process, on the database prepared above.
        bench.stop_serving().await;
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("port").port();
        let base = format!("http://127.0.0.1:{port}");
        let mut child = std::process::Command::new(std::env::current_exe().expect("this binary"))
            .arg("__serve")
            .env("CODECAST_ADDR", format!("127.0.0.1:{port}"))
            .env("CODECAST_DATA_DIR", bench.dir.display().to_string())
            .env("DATABASE_URL", &bench.url)
            .env("CODECAST_LOG", "error,server::services::send=info")
            .spawn()
            .expect("server process");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(600)).build().expect("client");
        let deadline = Instant::now() + Duration::from_secs(60);
        while http.get(format!("{base}/healthz")).send().await.is_err() {
            assert!(Instant::now() < deadline, "the server process did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let pid = child.id();
        let (started_rss, _) = rss_of(pid);
        let review_started = Instant::now();
        let review: serde_json::Value = http
            .get(format!("{base}/v1/distributions/{}/review", d.id))
            .bearer_auth(&bench.key)
            .send().await.expect("review").error_for_status().expect("review answers").json().await.expect("review JSON");
        println!("  review: {} recipients, {} segments (estimated: {}), in {:.0} ms",
            review["recipients"], review["segments_total"], review["segments_estimated"], review_started.elapsed().as_secs_f64() * 1e3);
        // Memory, sampled every 20 ms from just before SEND until ten seconds of sending after.
        let (before, _) = rss_of(pid);
        let peak = std::sync::Arc::new(AtomicU64::new(before));
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let sampler = {
            let (peak, stop) = (peak.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_of(pid).0, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        let started = Instant::now();
        let answer = http
            .post(format!("{base}/v1/distributions/{}/send", d.id))
            .bearer_auth(&bench.key)
            .header("Idempotency-Key", review["send_key"].as_str().expect("send key"))
            .send().await.expect("send");
        let took = started.elapsed();
        let status = answer.status();
        let outcome: serde_json::Value = answer.json().await.expect("send JSON");
        assert_eq!(status, reqwest::StatusCode::ACCEPTED, "SEND answered {outcome}");
        let peak_send = peak.load(Ordering::Relaxed);
        println!(
            "  SEND: {} queued, {} codes published, {} segments, materialised in {:.2} s (goal ≤ {} s)",
            outcome["queued"], outcome["codes_published"], outcome["segments_total"],
            took.as_secs_f64(), if postgres { 12 } else { 6 }
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        stop.store(true, Ordering::Relaxed);
        let _ = sampler.await;
        let (_, hwm) = rss_of(pid);
        let progress = bench.state.distributions.get(&d.id).await.expect("get");
        let handed = progress.stats.as_ref().map(|s| s.handed_over()).unwrap_or(0);
        println!(
            "  server process resident memory: {:.0} MB started, {:.0} MB after the review, peak {:.0} MB during SEND, \
             peak {:.0} MB including 10 s of sending ({handed} messages handed over), high-water mark {:.0} MB (goal ≤ 80 MB)",
            started_rss as f64 / 1024.0, before as f64 / 1024.0, peak_send as f64 / 1024.0,
            peak.load(Ordering::Relaxed) as f64 / 1024.0, hwm as f64 / 1024.0
        );
        // SIGTERM: the server finishes or hands back what it is sending.
        let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
        let _ = child.wait();
        bench.finish().await;
    });
}
