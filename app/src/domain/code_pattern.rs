//! What unique codes look like: a pattern such as `SUMMER-####` (`#` a digit, `?` a letter),
//! or a length, a character set and an optional prefix and postfix.

use serde::{Deserialize, Serialize};

pub const DIGITS: &str = "0123456789";
pub const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
pub const ALPHANUMERIC: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// Longest code accepted (it is typed by people and printed in SMS).
pub const MAX_CODE_CHARS: usize = 40;

/// How codes are configured, as the API receives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeConfig {
    pub pattern: Option<String>,
    pub length: Option<usize>,
    /// `alphanumeric`, `alphabetic`, `numbers`, or the characters themselves.
    pub charset: Option<String>,
    pub prefix: Option<String>,
    pub postfix: Option<String>,
}

/// One position of a code: fixed text, or a character drawn from a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Fixed(char),
    Random(Vec<char>),
}

/// A checked code shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSpec {
    parts: Vec<Part>,
}

impl CodeSpec {
    pub fn parse(config: &CodeConfig) -> Result<Self, String> {
        // The length is checked before anything is built: a length of a hundred million
        // must be refused, not attempted.
        let chars = |text: Option<&str>| text.map_or(0, |t| t.chars().count());
        let varying = match (&config.pattern, config.length) {
            (Some(pattern), None) => chars(Some(pattern.trim())),
            (None, Some(length)) => length,
            _ => 0,
        };
        let total = varying
            .saturating_add(chars(config.prefix.as_deref()))
            .saturating_add(chars(config.postfix.as_deref()));
        if total > MAX_CODE_CHARS {
            return Err(format!(
                "Codes may have at most {MAX_CODE_CHARS} characters."
            ));
        }
        let mut parts = Vec::new();
        let fixed = |text: &str, parts: &mut Vec<Part>| -> Result<(), String> {
            for c in text.chars() {
                if c.is_whitespace() || c.is_control() {
                    return Err("Codes cannot contain spaces or control characters.".into());
                }
                parts.push(Part::Fixed(c));
            }
            Ok(())
        };
        match (&config.pattern, config.length) {
            (Some(_), Some(_)) => return Err("Give either a pattern or a length, not both.".into()),
            (Some(pattern), None) => {
                fixed(config.prefix.as_deref().unwrap_or_default(), &mut parts)?;
                for c in pattern.trim().chars() {
                    match c {
                        '#' => parts.push(Part::Random(DIGITS.chars().collect())),
                        '?' => parts.push(Part::Random(LETTERS.chars().collect())),
                        other => fixed(&other.to_string(), &mut parts)?,
                    }
                }
                fixed(config.postfix.as_deref().unwrap_or_default(), &mut parts)?;
            }
            (None, Some(length)) => {
                let charset = charset(config.charset.as_deref().unwrap_or("alphanumeric"))?;
                fixed(config.prefix.as_deref().unwrap_or_default(), &mut parts)?;
                for _ in 0..length {
                    parts.push(Part::Random(charset.clone()));
                }
                fixed(config.postfix.as_deref().unwrap_or_default(), &mut parts)?;
            }
            (None, None) => return Err("Give a pattern such as SUMMER-#### or a length.".into()),
        }
        if !parts.iter().any(|p| matches!(p, Part::Random(_))) {
            return Err("The pattern needs at least one # (digit) or ? (letter) to vary.".into());
        }
        if parts.len() > MAX_CODE_CHARS {
            return Err(format!(
                "Codes may have at most {MAX_CODE_CHARS} characters."
            ));
        }
        Ok(Self { parts })
    }

    /// How many different codes the shape allows (saturating).
    pub fn capacity(&self) -> u128 {
        self.parts.iter().fold(1u128, |acc, p| match p {
            Part::Fixed(_) => acc,
            Part::Random(set) => acc.saturating_mul(set.len() as u128),
        })
    }

    /// Refuses counts the shape cannot hold comfortably: at most half of its capacity, so codes
    /// stay hard to guess and drawing them does not stall on collisions.
    pub fn check_count(&self, count: u64) -> Result<(), String> {
        let capacity = self.capacity();
        if u128::from(count) > capacity / 2 {
            return Err(format!(
                "This pattern allows {capacity} different codes; {count} would use more than half of them, which makes codes guessable. Add # or ? positions, or lengthen the code."
            ));
        }
        Ok(())
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }
}

fn charset(name: &str) -> Result<Vec<char>, String> {
    let chars: Vec<char> = match name {
        "alphanumeric" => ALPHANUMERIC.chars().collect(),
        "alphabetic" => LETTERS.chars().collect(),
        "numbers" => DIGITS.chars().collect(),
        custom => {
            let mut chars: Vec<char> = Vec::new();
            for c in custom.chars() {
                if c.is_whitespace() || c.is_control() {
                    return Err(
                        "A character set cannot contain spaces or control characters.".into(),
                    );
                }
                if !chars.contains(&c) {
                    chars.push(c);
                }
            }
            chars
        }
    };
    if chars.len() < 2 {
        return Err("A character set needs at least two different characters.".into());
    }
    Ok(chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(p: &str) -> CodeConfig {
        CodeConfig {
            pattern: Some(p.into()),
            ..Default::default()
        }
    }

    #[test]
    fn patterns_count_their_variations() {
        assert_eq!(
            CodeSpec::parse(&pattern("SUMMER-####")).unwrap().capacity(),
            10_000
        );
        assert_eq!(
            CodeSpec::parse(&pattern("??-##")).unwrap().capacity(),
            26 * 26 * 100
        );
    }

    #[test]
    fn a_pattern_too_small_for_the_count_is_refused_with_the_reason() {
        let spec = CodeSpec::parse(&pattern("SUMMER-####")).unwrap();
        assert!(spec.check_count(5_000).is_ok());
        let err = spec.check_count(5_001).unwrap_err();
        assert!(err.contains("10000 different codes"), "{err}");
    }

    #[test]
    fn length_and_charset_build_a_shape() {
        let spec = CodeSpec::parse(&CodeConfig {
            length: Some(8),
            charset: Some("numbers".into()),
            prefix: Some("XMAS-".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(spec.capacity(), 100_000_000);
        assert_eq!(spec.parts().len(), 13);
    }

    #[test]
    fn bad_shapes_are_refused() {
        assert!(CodeSpec::parse(&pattern("NOVARIATION")).is_err());
        assert!(CodeSpec::parse(&pattern("A B-##")).is_err());
        assert!(CodeSpec::parse(&CodeConfig::default()).is_err());
        assert!(CodeSpec::parse(&CodeConfig {
            length: Some(6),
            charset: Some("aaaa".into()),
            ..Default::default()
        })
        .is_err());
        assert!(CodeSpec::parse(&pattern(&"#".repeat(41))).is_err());
    }

    #[test]
    fn huge_lengths_are_refused_before_anything_is_built() {
        for length in [41, 100_000_000, usize::MAX] {
            let err = CodeSpec::parse(&CodeConfig {
                length: Some(length),
                ..Default::default()
            })
            .unwrap_err();
            assert!(err.contains("at most 40 characters"), "{err}");
        }
        let err = CodeSpec::parse(&CodeConfig {
            length: Some(38),
            prefix: Some("XMAS-".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.contains("at most 40"), "{err}");
    }
}
