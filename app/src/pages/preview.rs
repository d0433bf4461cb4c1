use super::PageHeader;
use crate::{api::templates::get_preview_settings, components::template_editor::TemplateEditor};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

const STARTER: &str = "Hi {{ customer.first_name | default: \"there\" }}, here is {{ voucher.discount }} off with code {{ voucher.code }}, valid until {{ voucher.expiration_date | date: \"%b %d\" }}. {{ unsubscribe_text }}";

/// A playground for the message editor (the distribution wizard embeds the same editor).
#[component]
pub fn PreviewPage() -> impl IntoView {
    let settings = Resource::new_blocking(|| (), |_| get_preview_settings());
    let body = RwSignal::new(STARTER.to_owned());
    let bench = use_query_map().with_untracked(|q| q.get("bench").is_some());
    view! {
        <Title text="Message preview"/>
        <PageHeader
            title="Message preview"
            description="Write a message with merge tags and see what each customer receives, its encoding and what it costs, as you type."
        />
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(settings) => view! { <TemplateEditor body settings/> }.into_any(),
                    Err(e) => view! { <div class="alert alert-error" role="alert">{e.to_string()}</div> }.into_any(),
                }
            })}
        </Suspense>
        {bench.then(|| view! { <BenchPanel/> })}
    }
}

/// `?bench`: times parse + render + count of the 1,600-character benchmark template in this
/// browser's WASM, for the numbers in the README.
#[component]
fn BenchPanel() -> impl IntoView {
    let result = RwSignal::new(String::new());
    let runs = RwSignal::new(0u32);
    let run = move |_| {
        runs.update(|n| *n += 1);
        result.set(format!(
            "run {}: {}",
            runs.get_untracked(),
            run_benchmark(2_000)
        ));
    };
    view! {
        <section class="card bench">
            <h2>"Benchmark"</h2>
            <button type="button" class="btn" on:click=run>"Run in this browser"</button>
            <output id="bench-result" data-testid="bench-result">{move || result.get()}</output>
        </section>
    }
}

fn run_benchmark(iterations: u32) -> String {
    #[cfg(feature = "hydrate")]
    {
        use crate::domain::message::{benchmark_data, benchmark_template, preview};
        let Some(perf) = web_sys::window().and_then(|w| w.performance()) else {
            return "no performance timer".into();
        };
        let source = benchmark_template();
        let data = benchmark_data();
        let mut segments = 0;
        let mut samples: Vec<f64> = Vec::with_capacity(iterations as usize);
        for _ in 0..iterations {
            let start = perf.now();
            if let Ok(p) = preview(&source, &data, false) {
                segments = p.count.segments;
            }
            samples.push(perf.now() - start);
        }
        samples.sort_by(|a, b| a.total_cmp(b));
        let mean = samples.iter().sum::<f64>() / f64::from(iterations);
        let p95 = samples[(samples.len() * 95 / 100).min(samples.len() - 1)];
        format!("wasm: mean {:.1} µs, p95 {:.1} µs per parse+render+count ({iterations} runs, {segments} segments)", mean * 1000.0, p95 * 1000.0)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = iterations;
        String::new()
    }
}
