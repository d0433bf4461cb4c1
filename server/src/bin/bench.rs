//! Benchmarks that print numbers: `cargo run --release -p server --bin bench -- <name>`.
//!
//! - `template`: parse + render + count of the 1,600-character, ten-tag benchmark template
//!   (the work the editor does per keystroke and the sender per message).

use app::domain::{
    message::{benchmark_template, preview, preview_parsed},
    template::{
        sample_customers, sample_promotion, sample_voucher, DistributionData, Template,
        TemplateData,
    },
};
use std::time::{Duration, Instant};

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    match which.as_str() {
        "template" | "all" => template(),
        other => {
            eprintln!("unknown benchmark {other:?}; try: template");
            std::process::exit(2);
        }
    }
}

fn template() {
    let source = benchmark_template();
    let data = TemplateData {
        customer: sample_customers()[0].data.clone(),
        voucher: Some(sample_voucher("https://sms.example.com", "2026-12-31")),
        promotion: Some(sample_promotion()),
        distribution: DistributionData {
            subject: "winter sale".into(),
        },
        unsubscribe_text: None,
    };
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
