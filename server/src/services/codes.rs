//! Drawing unique codes from a `CodeSpec` with a cryptographically secure generator.

use app::domain::code_pattern::{CodeSpec, Part};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::collections::HashSet;

/// `count` distinct codes of `spec`. `StdRng` is a CSPRNG (ChaCha) seeded from the operating
/// system, so codes cannot be predicted from one another; the caller has checked the count
/// against the capacity. `taken` holds codes that exist already (e.g. in other campaigns).
pub fn generate_codes(spec: &CodeSpec, count: usize, taken: &HashSet<String>) -> Vec<String> {
    let mut rng = StdRng::from_entropy();
    let mut seen: HashSet<String> = HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    let mut code = String::with_capacity(spec.parts().len() * 2);
    while out.len() < count {
        code.clear();
        for part in spec.parts() {
            match part {
                Part::Fixed(c) => code.push(*c),
                Part::Random(set) => code.push(set[rng.gen_range(0..set.len())]),
            }
        }
        if !taken.contains(&code) && seen.insert(code.clone()) {
            out.push(code.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::code_pattern::CodeConfig;

    #[test]
    fn codes_follow_the_pattern_and_never_repeat() {
        let spec = CodeSpec::parse(&CodeConfig {
            pattern: Some("SUMMER-##??".into()),
            ..Default::default()
        })
        .unwrap();
        let codes = generate_codes(&spec, 20_000, &HashSet::new());
        let distinct: HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 20_000);
        for c in &codes {
            let tail: Vec<char> = c.strip_prefix("SUMMER-").unwrap().chars().collect();
            assert!(
                tail[..2].iter().all(char::is_ascii_digit)
                    && tail[2..].iter().all(char::is_ascii_uppercase),
                "{c}"
            );
        }
    }

    #[test]
    fn taken_codes_are_skipped() {
        let spec = CodeSpec::parse(&CodeConfig {
            pattern: Some("#".into()),
            ..Default::default()
        })
        .unwrap();
        let taken: HashSet<String> = (0..5).map(|d| d.to_string()).collect();
        let mut codes = generate_codes(&spec, 5, &taken);
        codes.sort();
        assert_eq!(codes, vec!["5", "6", "7", "8", "9"]);
    }
}
