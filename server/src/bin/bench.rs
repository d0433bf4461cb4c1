//! Benchmarks that print numbers: `cargo run --release -p server --bin bench -- <name>`.
//!
//! - `template`: parse + render + count of the 1,600-character, ten-tag benchmark template
//!   (the work the editor does per keystroke and the sender per message).
//! - `codes [count]`: draws 1,000,000 unique codes (pattern `SUMMER-????####`) in memory.
//! - `import [rows] [postgres]`: streams a generated CSV of customers (100,000 rows by default)
//!   through `POST /v1/customers/import` of an in-process server on a fresh database, and
//!   prints the time and the process's peak memory.

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
        "all" => {
            template();
            codes();
            import();
        }
        other => {
            eprintln!("unknown benchmark {other:?}; try: template, codes, import");
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
        use app::{domain::{Label, Role}, ports::Accounts};
        use sea_orm::{ConnectionTrait, Database};
        use server::{configuration::Settings, startup::Application};

        let dir = std::env::temp_dir().join(format!("codecast-bench-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (url, pg) = if postgres {
            let name = format!("codecast_bench_{}", ulid::Ulid::new().to_string().to_lowercase());
            let admin = Database::connect("postgres://postgres@127.0.0.1:5432/postgres").await.expect("PostgreSQL");
            admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create database");
            (format!("postgres://postgres@127.0.0.1:5432/{name}"), Some((admin, name)))
        } else {
            (format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()), None)
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
        tokio::spawn(app.run_until(std::future::pending()));

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
            if postgres { "PostgreSQL" } else { "SQLite" },
            elapsed.as_secs_f64(),
            rows as f64 / elapsed.as_secs_f64(),
            body["created"],
            body["rejected_count"],
            before / 1024,
            peak_rss_kib() / 1024,
        );
        if let Some((admin, name)) = pg {
            let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// The process's peak resident memory (VmHWM), in KiB; 0 where /proc is missing.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
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
    for round in 1..=3 {
        let started = Instant::now();
        let codes = server::services::codes::generate_codes(&spec, count, &Default::default());
        println!(
            "codes: {} unique codes in {:.3} s (round {round})",
            codes.len(),
            started.elapsed().as_secs_f64()
        );
    }
}
