//! Uploading a CSV of customers with a progress bar. The server stores rows as the upload
//! streams in, so the bar tracks the import itself. Needs JavaScript; the REST API
//! (`POST /v1/customers/import`) is the scriptable path.

use crate::dto::customer::ImportOutcome;
use leptos::{html::Input, prelude::*};

// Only the browser build moves past Idle.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, PartialEq)]
enum State {
    Idle,
    Uploading(f64),
    Done(ImportOutcome),
    Failed(String),
}

#[component]
pub fn CsvImport(
    /// Called after a finished import, to refresh lists.
    #[prop(into)]
    on_done: Callback<()>,
) -> impl IntoView {
    let file = NodeRef::<Input>::new();
    let state = RwSignal::new(State::Idle);
    let start = move |_| start_upload(file, state, on_done);
    view! {
        <section class="card import" aria-labelledby="import-heading">
            <h2 id="import-heading">"Import from CSV"</h2>
            <p class="muted">"A header row with "<code>"source_id"</code>" and any of "<code>"name, phone, email, timezone, sms_consent"</code>" and "<code>"metadata.<key>"</code>" columns. Rows with a known source id update that customer; rejected rows are listed with their reason and the rest are stored."</p>
            <noscript><p class="alert alert-info">"Importing here needs JavaScript; scripts can use POST /v1/customers/import."</p></noscript>
            <div class="import-controls">
                <label for="csv-file" class="visually-hidden">"CSV file"</label>
                <input id="csv-file" type="file" accept=".csv,text/csv" node_ref=file/>
                <button type="button" class="btn" on:click=start disabled=move || matches!(state.get(), State::Uploading(_))>"Import"</button>
            </div>
            {move || match state.get() {
                State::Idle => ().into_any(),
                State::Uploading(fraction) => view! {
                    <div class="progress" role="progressbar" aria-label="Import progress" aria-valuemin="0" aria-valuemax="100"
                        aria-valuenow=format!("{:.0}", fraction * 100.0)>
                        <div class="progress-bar" style=format!("width: {:.1}%", fraction * 100.0)></div>
                    </div>
                }.into_any(),
                State::Failed(message) => view! { <div class="alert alert-error" role="alert">{message}</div> }.into_any(),
                State::Done(outcome) => view! {
                    <div class="alert alert-success" role="status" data-testid="import-result">
                        {format!("{} created, {} updated, {} rejected.", outcome.created, outcome.updated, outcome.rejected_count)}
                    </div>
                    {(!outcome.rejected.is_empty()).then(|| view! {
                        <div class="table-wrap">
                            <table class="table">
                                <thead><tr><th scope="col">"Row"</th><th scope="col">"Why it was rejected"</th></tr></thead>
                                <tbody>
                                    {outcome.rejected.into_iter().map(|r| view! {
                                        <tr><td data-label="Row">{r.row}</td><td data-label="Why">{r.error}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    })}
                }.into_any(),
            }}
        </section>
    }
}

fn start_upload(file: NodeRef<Input>, state: RwSignal<State>, on_done: Callback<()>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::{closure::Closure, JsCast};
        let Some(chosen) = file
            .get()
            .and_then(|input| input.files())
            .and_then(|files| files.get(0))
        else {
            state.set(State::Failed("Choose a CSV file first.".into()));
            return;
        };
        let Ok(xhr) = web_sys::XmlHttpRequest::new() else {
            state.set(State::Failed("This browser cannot upload files.".into()));
            return;
        };
        if xhr.open("POST", "/app/customers/import").is_err() {
            state.set(State::Failed("The upload could not start.".into()));
            return;
        }
        let _ = xhr.set_request_header("Content-Type", "text/csv");
        let _ = xhr.set_request_header("Accept", "application/json");
        state.set(State::Uploading(0.0));
        let on_progress =
            Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
                if e.length_computable() && e.total() > 0.0 {
                    state.set(State::Uploading(e.loaded() / e.total()));
                }
            });
        if let Ok(upload) = xhr.upload() {
            upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        }
        // Lives as long as the request; one small closure per import.
        on_progress.forget();
        let done = xhr.clone();
        let on_load = Closure::once_into_js(move || {
            let text = done.response_text().ok().flatten().unwrap_or_default();
            let status = done.status().unwrap_or(0);
            if status == 200 {
                match serde_json::from_str::<ImportOutcome>(&text) {
                    Ok(outcome) => {
                        state.set(State::Done(outcome));
                        on_done.run(());
                    }
                    Err(_) => state.set(State::Failed(
                        "The server's answer could not be read.".into(),
                    )),
                }
            } else {
                let message = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("The import failed (HTTP {status})."));
                state.set(State::Failed(message));
            }
        });
        xhr.set_onload(Some(on_load.unchecked_ref()));
        let on_error = Closure::once_into_js(move || {
            state.set(State::Failed(
                "The upload was interrupted; nothing after the last stored batch was imported."
                    .into(),
            ));
        });
        xhr.set_onerror(Some(on_error.unchecked_ref()));
        if xhr.send_with_opt_blob(Some(&chosen)).is_err() {
            state.set(State::Failed("The upload could not start.".into()));
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (file, state, on_done);
}
