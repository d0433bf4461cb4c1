//! A template rendered for one recipient and counted as an SMS: what the editor previews,
//! what the preview API answers and what the sender sends are all made here.

use super::{
    sms::{self, SmsCount},
    template::{render, Template, TemplateData, TemplateError, UnknownTag},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagePreview {
    /// The exact text that is sent.
    pub text: String,
    pub count: SmsCount,
    /// Smart encoding's text and count, when it would help (never when `smart_encoding` is on).
    pub smart_alternative: Option<(String, SmsCount)>,
    pub unknown_tags: Vec<UnknownTag>,
    pub uses_qr: bool,
}

impl MessagePreview {
    pub fn too_long(&self) -> bool {
        self.text.chars().count() > sms::MAX_CHARACTERS || self.count.segments > sms::MAX_SEGMENTS
    }
}

/// Parses, renders for `data`, and counts (after smart encoding when asked).
pub fn preview(
    source: &str,
    data: &TemplateData,
    smart_encoding: bool,
) -> Result<MessagePreview, Vec<TemplateError>> {
    let template = Template::parse(source)?;
    Ok(preview_parsed(&template, data, smart_encoding))
}

/// The same, for a template parsed once and rendered for many recipients.
pub fn preview_parsed(
    template: &Template,
    data: &TemplateData,
    smart_encoding: bool,
) -> MessagePreview {
    let (text, count) = render_for_sending(template, data, smart_encoding);
    // Without smart encoding the text is the rendered template as is.
    let smart_alternative = if smart_encoding {
        None
    } else {
        sms::smart_alternative(&text)
    };
    MessagePreview {
        count,
        text,
        smart_alternative,
        unknown_tags: template.unknown_tags(),
        uses_qr: template.uses("voucher.qr_url"),
    }
}

/// What the sender keeps of one message: the exact text (after smart encoding when asked)
/// and its count, without the preview's extras (the smart alternative, unknown tags), which a
/// SEND to a million recipients would compute a million times and throw away.
pub fn render_for_sending(
    template: &Template,
    data: &TemplateData,
    smart_encoding: bool,
) -> (String, SmsCount) {
    let rendered = render(template, &data.to_value());
    let text = if smart_encoding {
        sms::smart_encode(&rendered)
    } else {
        rendered
    };
    let count = sms::count(&text, false);
    (text, count)
}

/// The data the benchmarks render the benchmark template with.
pub fn benchmark_data() -> TemplateData {
    use super::template::{sample_customers, sample_promotion, sample_voucher, DistributionData};
    TemplateData {
        customer: sample_customers()[0].data.clone(),
        voucher: Some(sample_voucher("https://sms.example.com", "2026-12-31")),
        promotion: Some(sample_promotion()),
        distribution: DistributionData {
            subject: "winter sale".into(),
        },
        unsubscribe_text: None,
    }
}

/// The template the benchmarks time (native and in the browser): 1,600 characters of text
/// with ten merge tags, some with filters.
pub fn benchmark_template() -> String {
    let tags = [
        "{{ customer.first_name | default: \"there\" }}",
        "{{ voucher.code }}",
        "{{ voucher.discount }}",
        "{{ voucher.expiration_date | date: \"%b %d, %Y\" }}",
        "{{ voucher.qr_url }}",
        "{{ customer.metadata.tier | upcase }}",
        "{{ customer.metadata.store | default: \"our stores\" }}",
        "{{ promotion.name | truncate: 20 }}",
        "{{ distribution.subject | capitalize }}",
        "{{ unsubscribe_text }}",
    ];
    let filler = "Thanks for shopping with us this season, we saved something for you. ";
    let mut out = String::new();
    let mut i = 0;
    while out.chars().count() < 1600 {
        if i < tags.len() && out.chars().count() >= i * 150 {
            out.push_str(tags[i]);
            out.push(' ');
            i += 1;
        } else {
            out.push_str(filler);
        }
    }
    out.chars().take(1600).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::template::{sample_customers, sample_voucher};

    fn data() -> TemplateData {
        TemplateData {
            customer: sample_customers()[1].data.clone(),
            voucher: Some(sample_voucher("https://cc.example", "2026-12-31")),
            ..Default::default()
        }
    }

    #[test]
    fn a_name_outside_gsm_makes_the_message_ucs2() {
        let p = preview("Hi {{ customer.first_name }}", &data(), false).unwrap();
        assert_eq!(p.text, "Hi Zoë");
        assert_eq!(p.count.encoding, sms::Encoding::Ucs2);
        assert_eq!(p.count.non_gsm_characters, vec!["ë"]);
    }

    #[test]
    fn smart_encoding_applies_to_the_rendered_text() {
        let p = preview("It\u{2019}s {{ voucher.code }}", &data(), true).unwrap();
        assert_eq!(p.text, "It's SUMMER-4821");
        assert!(p.smart_alternative.is_none());
        let p = preview("It\u{2019}s {{ voucher.code }}", &data(), false).unwrap();
        assert_eq!(p.smart_alternative.unwrap().0, "It's SUMMER-4821");
    }

    #[test]
    fn what_is_sent_is_what_the_preview_shows() {
        let template =
            Template::parse("It\u{2019}s {{ customer.first_name }}: {{ voucher.code }} \u{1f600}")
                .unwrap();
        for smart in [false, true] {
            let p = preview_parsed(&template, &data(), smart);
            assert_eq!(
                render_for_sending(&template, &data(), smart),
                (p.text, p.count)
            );
        }
    }

    #[test]
    fn the_benchmark_template_has_1600_characters_and_ten_tags() {
        let source = benchmark_template();
        assert_eq!(source.chars().count(), 1600);
        assert_eq!(Template::parse(&source).unwrap().variables().len(), 10);
    }

    #[test]
    fn qr_links_are_as_long_as_real_ones() {
        let p = preview("{{ voucher.qr_url }}", &data(), false).unwrap();
        assert!(p.uses_qr);
        assert_eq!(p.text.len(), "https://cc.example/q/".len() + 22);
    }
}
