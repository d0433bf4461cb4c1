//! Every vector generated from Twilio's segment calculator (scripts/gen-sms-fixture.mjs) must
//! be counted identically.

use app::domain::sms::{count, Encoding};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    generator: String,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    label: String,
    text: String,
    smart_encoding: bool,
    encoding: Encoding,
    segments: usize,
    characters: usize,
    unicode_scalars: usize,
    non_gsm_characters: Vec<String>,
}

#[test]
fn segment_counts_match_the_reference_calculator_on_every_vector() {
    let fixture: Fixture =
        serde_json::from_str(include_str!("fixtures/sms_segments.json")).expect("fixture parses");
    assert!(fixture.vectors.len() > 1000, "{}", fixture.generator);
    let mut failures = Vec::new();
    for v in &fixture.vectors {
        let got = count(&v.text, v.smart_encoding);
        let want = (v.encoding, v.segments, v.characters, &v.non_gsm_characters);
        let have = (
            got.encoding,
            got.segments,
            got.characters,
            &got.non_gsm_characters,
        );
        if want != have {
            failures.push(format!(
                "{} (smart {}): want {:?}, got {:?} — {:?}",
                v.label, v.smart_encoding, want, have, v.text
            ));
        }
        if !v.smart_encoding {
            assert_eq!(got.unicode_scalars, v.unicode_scalars, "{}", v.label);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors differ from {}:\n{}",
        failures.len(),
        fixture.vectors.len(),
        fixture.generator,
        failures
            .iter()
            .take(25)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
