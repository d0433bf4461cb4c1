use super::*;
use serde_json::json;

fn sample() -> TemplateData {
    TemplateData {
        customer: sample_customers()[0].data.clone(),
        voucher: Some(VoucherData {
            code: "SUMMER-4821".into(),
            qr_url: "https://sms.example.com/q/abc".into(),
            expiration_date: Some("2026-12-31T23:59:59Z".into()),
            discount: Some("20%".into()),
        }),
        promotion: None,
        distribution: DistributionData {
            subject: "Winter sale".into(),
        },
        unsubscribe_text: None,
    }
}

fn render_str(source: &str, data: &TemplateData) -> String {
    render(&Template::parse(source).expect("parses"), &data.to_value())
}

fn first_error(source: &str) -> TemplateError {
    Template::parse(source)
        .expect_err("should not parse")
        .remove(0)
}

#[test]
fn tags_render_customer_voucher_and_distribution_fields() {
    let text = render_str(
        "Hi {{ customer.first_name }}! {{distribution.subject}}: {{ voucher.code }} gives {{ voucher.discount }} until {{ voucher.expiration_date | date: \"%b %d\" }}. {{ unsubscribe_text }}",
        &sample(),
    );
    assert_eq!(
        text,
        "Hi Ana! Winter sale: SUMMER-4821 gives 20% until Dec 31. Reply STOP to opt out"
    );
}

#[test]
fn missing_values_fall_back_to_default() {
    let mut data = sample();
    data.customer.name = None;
    assert_eq!(
        render_str("Hi {{ customer.first_name | default: \"there\" }}", &data),
        "Hi there"
    );
    assert_eq!(render_str("[{{ customer.last_name }}]", &data), "[]");
}

#[test]
fn string_filters_behave_like_liquid() {
    let d = sample();
    assert_eq!(render_str("{{ customer.name | upcase }}", &d), "ANA GARCÍA");
    assert_eq!(
        render_str("{{ customer.name | downcase }}", &d),
        "ana garcía"
    );
    assert_eq!(
        render_str("{{ \"hELLO wORLD\" | capitalize }}", &d),
        "Hello world"
    );
    assert_eq!(
        render_str("{{ \"Ground control to Major Tom.\" | truncate: 20 }}", &d),
        "Ground control to..."
    );
    assert_eq!(
        render_str("{{ \"Ground control\" | truncate: 8, \"…\" }}", &d),
        "Ground …"
    );
    assert_eq!(render_str("{{ \"short\" | truncate: 20 }}", &d), "short");
    assert_eq!(
        render_str(
            "{{ \"  x \" | strip | append: \"!\" | prepend: \"¡\" }}",
            &d
        ),
        "¡x!"
    );
}

#[test]
fn metadata_keeps_its_types_and_odd_keys() {
    let mut d = sample();
    d.customer
        .metadata
        .insert("favourite store".into(), json!("Gran Vía"));
    assert_eq!(
        render_str(
            "{{ customer.metadata.points }} / {{ customer.metadata.tier | upcase }}",
            &d
        ),
        "1280 / GOLD"
    );
    assert_eq!(
        render_str("{{ customer.metadata[\"favourite store\"] }}", &d),
        "Gran Vía"
    );
}

#[test]
fn whitespace_control_trims_around_tags() {
    assert_eq!(
        render_str("Hi   {{- customer.first_name -}}   !", &sample()),
        "HiAna!"
    );
}

#[test]
fn unknown_tags_are_listed_with_their_position() {
    let t = Template::parse(
        "Hi {{ customer.first_name }}\n{{ custmer.name }} {{ customer.metadata.tier }}",
    )
    .unwrap();
    let unknown = t.unknown_tags();
    assert_eq!(unknown.len(), 1);
    assert_eq!(
        (unknown[0].name.as_str(), unknown[0].line, unknown[0].column),
        ("custmer.name", 2, 4)
    );
    assert!(t.uses("customer.first_name"));
}

#[test]
fn an_unclosed_tag_says_where_it_opened_and_what_is_missing() {
    let e = first_error("Hello {{ customer.name ");
    assert_eq!((e.line, e.column, e.start), (1, 7, 6));
    assert_eq!(e.expected.as_deref(), Some("}}"));
}

#[test]
fn a_misspelt_filter_suggests_the_right_one() {
    let e = first_error("{{ customer.name | upcas }}");
    assert!(e.message.contains("Did you mean upcase?"), "{}", e.message);
    assert_eq!(e.column, 20);
}

#[test]
fn filter_arguments_are_checked() {
    assert!(first_error("{{ x | truncate }}")
        .message
        .contains("truncate takes 1 or 2 values"));
    assert!(first_error("{{ x | truncate: \"a\" }}")
        .message
        .contains("whole number"));
    assert!(first_error("{{ x | date: \"%Q\" }}")
        .message
        .contains("not a valid date format"));
    assert!(first_error("{{ x | upcase: 1 }}")
        .message
        .contains("upcase takes no value"));
}

#[test]
fn every_bad_tag_is_reported_and_positions_count_lines() {
    let errors = Template::parse("{{ }}\nok {{ a | }}\n{% if x %}").unwrap_err();
    assert_eq!(errors.len(), 3);
    assert_eq!((errors[1].line, errors[1].column), (2, 11));
    assert_eq!(errors[2].line, 3);
}

#[test]
fn unterminated_strings_are_reported() {
    assert!(first_error("{{ customer.name | default: \"there }}")
        .message
        .contains("closing quote"));
}

#[test]
fn dates_accept_plain_days_and_invalid_values_pass_through() {
    let mut d = sample();
    d.voucher.as_mut().unwrap().expiration_date = Some("2027-01-05".into());
    assert_eq!(
        render_str("{{ voucher.expiration_date | date: \"%d/%m/%Y\" }}", &d),
        "05/01/2027"
    );
    d.voucher.as_mut().unwrap().expiration_date = Some("someday".into());
    assert_eq!(
        render_str("{{ voucher.expiration_date | date: \"%d/%m\" }}", &d),
        "someday"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|i| json!(i)),
            any::<f64>().prop_map(|f| json!(f)),
            ".{0,12}".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::hash_map("[a-z_]{1,8}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parsing_and_rendering_never_panic(source in ".{0,200}", data in arbitrary_json()) {
            if let Ok(t) = Template::parse(&source) {
                let _ = render(&t, &data);
                let _ = t.unknown_tags();
            }
        }

        #[test]
        fn tag_shaped_input_never_panics(
            parts in prop::collection::vec(prop_oneof![
                Just("{{".to_string()), Just("}}".to_string()), Just("|".to_string()), Just(":".to_string()),
                Just(",".to_string()), Just("\"".to_string()), Just("-".to_string()), Just("[".to_string()),
                Just("]".to_string()), Just("{%".to_string()), Just(".".to_string()),
                Just("customer.first_name".to_string()), Just("date".to_string()), Just("truncate".to_string()),
                Just("default".to_string()), "[a-z%]{0,4}", "[0-9]{1,3}", " ".prop_map(String::from),
            ], 0..30),
            data in arbitrary_json(),
        ) {
            let source: String = parts.concat();
            match Template::parse(&source) {
                Ok(t) => { let _ = render(&t, &data); }
                Err(errors) => {
                    prop_assert!(!errors.is_empty());
                    for e in errors {
                        prop_assert!(e.start <= e.end && e.end <= source.chars().count());
                        prop_assert!(e.line >= 1 && e.column >= 1);
                    }
                }
            }
        }
    }
}
