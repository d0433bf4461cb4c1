//! The message editor: a text area with a tag picker beside a phone-style preview that
//! renders and counts at every keystroke, in the browser, with the same code the sender uses.

use crate::{
    api::templates::{find_preview_customers, get_preview_customer, PreviewSettings},
    domain::{
        message::{preview, MessagePreview},
        sms::{self, gsm_runs, smart_encode},
        template::{
            sample_customers, sample_promotion, sample_voucher, CustomerData, DistributionData,
            PromotionData, TemplateData, TemplateError, TAGS,
        },
    },
};
use leptos::{html::Textarea, prelude::*};

type Analysis = Result<MessagePreview, Vec<TemplateError>>;

#[component]
pub fn TemplateEditor(
    /// The template; the editor reads and writes it.
    body: RwSignal<String>,
    settings: PreviewSettings,
    /// The text area's form field name, so forms submit it without JavaScript too.
    #[prop(default = "template")]
    name: &'static str,
    /// Whether the message carries a code (offers code tags and a sample code).
    #[prop(default = true)]
    with_codes: bool,
    /// Whether the message announces a promotion (offers the promotion's tags).
    #[prop(default = true)]
    with_promotion: bool,
    /// The promotion announced; a sample one when not given.
    #[prop(default = None)]
    promotion: Option<PromotionData>,
    /// Smart encoding, as the message will be sent (off when not given).
    #[prop(into, optional)]
    smart_encoding: Option<Signal<bool>>,
    /// The distribution's subject, for `{{ distribution.subject }}`.
    #[prop(into, optional)]
    subject: MaybeProp<String>,
) -> impl IntoView {
    let promotion = promotion.unwrap_or_else(sample_promotion);
    let samples = StoredValue::new(sample_customers());
    let sample = RwSignal::new(0usize);
    // A real customer picked in the search box: fetched once, then used on every keystroke.
    let real: RwSignal<Option<(String, CustomerData)>> = RwSignal::new(None);
    let textarea = NodeRef::<Textarea>::new();
    let voucher =
        with_codes.then(|| sample_voucher(&settings.public_url, &settings.sample_expiration));
    let qr_url = voucher.as_ref().map(|v| v.qr_url.clone());
    let analysis = Memo::new(move |_| {
        let customer = match real.get() {
            Some((_, data)) => data,
            None => samples.with_value(|s| {
                s.get(sample.get())
                    .map(|c| c.data.clone())
                    .unwrap_or_default()
            }),
        };
        let data = TemplateData {
            customer,
            voucher: voucher.clone(),
            promotion: Some(promotion.clone()),
            distribution: DistributionData {
                subject: subject.get().unwrap_or_else(|| "Winter sale".into()),
            },
            unsubscribe_text: None,
        };
        let smart = smart_encoding.is_some_and(|s| s.get());
        body.with(|source| preview(source, &data, smart))
    });

    let tags = TAGS
        .iter()
        .filter(|t| (with_codes || !t.needs_code) && (with_promotion || !t.needs_promotion))
        .map(|t| {
            let insert = t.insert;
            view! {
                <button type="button" class="tag-chip" title=insert on:click=move |_| insert_at_cursor(textarea, body, insert)>
                    <span aria-hidden="true">"+ "</span>{t.label}
                </button>
            }
        })
        .collect_view();

    let options = samples.with_value(|s| {
        s.iter()
            .enumerate()
            .map(|(i, c)| view! { <option value=i.to_string() selected=i == 0>{c.label}</option> })
            .collect_view()
    });

    view! {
        <div class="template-editor">
            <div class="editor-pane">
                <label for="template-body" class="editor-label">"Message"</label>
                <div class="tag-picker" role="toolbar" aria-label="Insert a merge tag at the cursor">{tags}</div>
                <textarea
                    id="template-body"
                    class="template-body"
                    name=name
                    rows="9"
                    node_ref=textarea
                    aria-describedby="sms-stats template-problems"
                    prop:value=move || body.get()
                    on:input=move |ev| body.set(event_target_value(&ev))
                >
                    {body.get_untracked()}
                </textarea>
                <Problems analysis/>
            </div>
            <div class="preview-pane">
                <div class="preview-toolbar">
                    <label for="preview-sample">"Preview as"</label>
                    <select id="preview-sample" on:change=move |ev| {
                        real.set(None);
                        sample.set(event_target_value(&ev).parse().unwrap_or(0));
                    }>
                        {options}
                    </select>
                </div>
                <CustomerSearch real/>
                <div class="phone" role="region" aria-label="Message preview">
                    <div class="phone-screen">
                        <Bubble analysis/>
                        <Qr analysis qr_url/>
                    </div>
                </div>
                <Stats analysis body/>
            </div>
        </div>
    }
    // Erased: the editor's full view type is deep enough to strain the compiler's limits.
    .into_any()
}

/// Search for a real customer to preview with.
#[component]
fn CustomerSearch(real: RwSignal<Option<(String, CustomerData)>>) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let results = Resource::new(
        move || query.get(),
        |q| async move {
            if q.trim().chars().count() < 2 {
                Ok(Vec::new())
            } else {
                find_preview_customers(q).await
            }
        },
    );
    let pick = Action::new(|(id, label): &(String, String)| {
        let (id, label) = (id.clone(), label.clone());
        async move { get_preview_customer(id).await.map(|data| (label, data)) }
    });
    Effect::new(move |_| {
        if let Some(Ok(chosen)) = pick.value().get() {
            real.set(Some(chosen));
            query.set(String::new());
        }
    });
    view! {
        <div class="customer-search">
            <label for="preview-customer-search">"or a customer"</label>
            <input
                id="preview-customer-search"
                type="search"
                placeholder="Search by name, email or phone"
                autocomplete="off"
                prop:value=move || query.get()
                on:input=move |ev| query.set(event_target_value(&ev))
            />
            {move || real.get().map(|(label, _)| view! {
                <p class="customer-chosen" data-testid="preview-customer">"Previewing as " <strong>{label}</strong>
                    <button type="button" class="btn btn-quiet btn-small" on:click=move |_| real.set(None)>"Back to sample"</button>
                </p>
            })}
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match results.await {
                        Ok(found) if !found.is_empty() => view! {
                            <ul class="search-results" role="listbox" aria-label="Customers">
                                {found.into_iter().map(|c| {
                                    let choice = (c.id.clone(), c.label.clone());
                                    view! {
                                        <li role="option" aria-selected="false">
                                            <button type="button" on:click=move |_| { pick.dispatch(choice.clone()); }>{c.label}</button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Ok(_) => ().into_any(),
                        Err(e) => view! { <p class="field-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

/// The rendered text, with the characters that force UCS-2 marked.
#[component]
fn Bubble(analysis: Memo<Analysis>) -> impl IntoView {
    move || {
        analysis.with(|a| match a {
            Ok(p) => {
                let ucs2 = p.count.encoding == sms::Encoding::Ucs2;
                let runs = gsm_runs(&p.text)
                    .into_iter()
                    .map(|(run, gsm)| {
                        if gsm || !ucs2 {
                            view! { <span>{run}</span> }.into_any()
                        } else {
                            view! { <mark class="non-gsm" title="Not in GSM-7: the whole message becomes UCS-2">{run}</mark> }.into_any()
                        }
                    })
                    .collect_view();
                view! { <div class="bubble" data-testid="preview-text">{runs}</div> }.into_any()
            }
            Err(_) => view! {
                <div class="bubble bubble-broken" data-testid="preview-text">"Fix the template to see the message."</div>
            }
            .into_any(),
        })
    }
}

/// The QR image behind `{{ voucher.qr_url }}`, drawn in the browser for the sample link.
#[component]
fn Qr(analysis: Memo<Analysis>, qr_url: Option<String>) -> impl IntoView {
    move || {
        let uses_qr = analysis.with(|a| a.as_ref().is_ok_and(|p| p.uses_qr));
        uses_qr.then_some(())?;
        let svg = qr_svg(qr_url.as_deref()?)?;
        {
            Some(view! {
                <figure class="qr">
                    <div class="qr-image" inner_html=svg></div>
                    <figcaption>"The link opens this QR image (sample code)."</figcaption>
                </figure>
            })
        }
    }
}

pub fn qr_svg(url: &str) -> Option<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(144, 144)
            .quiet_zone(true)
            .build(),
    )
}

/// Encoding, characters and segments, with warnings and the smart-encoding fix.
#[component]
fn Stats(analysis: Memo<Analysis>, body: RwSignal<String>) -> impl IntoView {
    let apply_smart = move |_| body.update(|b| *b = smart_encode(b));
    move || {
        analysis.with(|a| {
            let p = a.as_ref().ok()?;
            let c = &p.count;
            let level = if p.too_long() {
                "error"
            } else if c.segments > 1 {
                "warn"
            } else {
                "ok"
            };
            let summary = format!(
                "{} {} · {}/{} · {}",
                c.segments,
                if c.segments == 1 { "segment" } else { "segments" },
                c.characters,
                c.capacity(),
                c.encoding.label()
            );
            let advice = if p.too_long() {
                Some(format!(
                    "Too long: a message may have at most {} segments and {} characters.",
                    sms::MAX_SEGMENTS,
                    sms::MAX_CHARACTERS
                ))
            } else if c.segments > 1 {
                Some(format!("Longer than one SMS: every recipient costs {} segments.", c.segments))
            } else {
                None
            };
            let non_gsm = c.distinct_non_gsm().into_iter().map(str::to_owned).collect::<Vec<_>>();
            let smart = p.smart_alternative.as_ref().map(|(_, s)| {
                format!(
                    "Use smart encoding ({} {}, {})",
                    s.segments,
                    if s.segments == 1 { "segment" } else { "segments" },
                    s.encoding.label()
                )
            });
            Some(view! {
                <div class=format!("sms-stats sms-{level}") id="sms-stats" role="status" aria-live="polite">
                    <p class="sms-summary" data-testid="sms-summary">{summary}</p>
                    {advice.map(|a| view! { <p class="sms-advice">{a}</p> })}
                    {(!non_gsm.is_empty()).then(|| view! {
                        <p class="sms-non-gsm">
                            "UCS-2 because of "
                            {non_gsm.into_iter().map(|ch| view! { <mark class="non-gsm">{ch}</mark>" " }).collect_view()}
                        </p>
                    })}
                    {smart.map(|label| view! {
                        <button type="button" class="btn btn-small" on:click=apply_smart>{label}</button>
                    })}
                </div>
            })
        })
    }
}

/// Syntax errors and unknown tags, each with its line and column.
#[component]
fn Problems(analysis: Memo<Analysis>) -> impl IntoView {
    move || {
        analysis.with(|a| {
            let items: Vec<(String, &'static str)> = match a {
                Err(errors) => errors
                    .iter()
                    .map(|e| {
                        let expected = e.expected.as_ref().map(|x| format!(" Expected {x}.")).unwrap_or_default();
                        (format!("Line {}, column {}: {}{}", e.line, e.column, e.message, expected), "problem-error")
                    })
                    .collect(),
                Ok(p) => p
                    .unknown_tags
                    .iter()
                    .map(|u| {
                        (
                            format!("Line {}, column {}: {} is not a known tag; it prints nothing.", u.line, u.column, u.name),
                            "problem-warning",
                        )
                    })
                    .collect(),
            };
            (!items.is_empty()).then(|| view! {
                <ul class="template-problems" id="template-problems" data-testid="template-problems">
                    {items.into_iter().map(|(text, class)| view! { <li class=class>{text}</li> }).collect_view()}
                </ul>
            })
        })
    }
}

/// Inserts `snippet` at the text area's cursor (replacing a selection) and puts the cursor after it.
fn insert_at_cursor(textarea: NodeRef<Textarea>, body: RwSignal<String>, snippet: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(el) = textarea.get() {
        let value = el.value();
        let units = value.encode_utf16().count() as u32;
        let start = el.selection_start().ok().flatten().unwrap_or(units);
        let end = el
            .selection_end()
            .ok()
            .flatten()
            .unwrap_or(start)
            .max(start);
        let (a, b) = (
            utf16_to_byte(&value, start as usize),
            utf16_to_byte(&value, end as usize),
        );
        let updated = format!("{}{}{}", &value[..a], snippet, &value[b..]);
        el.set_value(&updated);
        body.set(updated);
        let caret = start + snippet.encode_utf16().count() as u32;
        let _ = el.set_selection_range(caret, caret);
        let _ = el.focus();
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (textarea, body, snippet);
}

/// The byte offset of a UTF-16 offset (what browsers report for selections).
pub fn utf16_to_byte(text: &str, units: usize) -> usize {
    let mut seen = 0;
    for (byte, c) in text.char_indices() {
        if seen >= units {
            return byte;
        }
        seen += c.len_utf16();
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_offsets_map_to_char_boundaries() {
        let s = "a😀é";
        assert_eq!(utf16_to_byte(s, 0), 0);
        assert_eq!(utf16_to_byte(s, 1), 1);
        assert_eq!(utf16_to_byte(s, 3), 5);
        assert_eq!(utf16_to_byte(s, 4), 7);
        assert_eq!(utf16_to_byte(s, 99), 7);
    }

    #[test]
    fn qr_images_are_svg() {
        assert!(qr_svg("https://cc.example/q/SSSSSSSSSSSSSSSSSSSSSS")
            .unwrap()
            .starts_with("<?xml"));
    }
}
