/// Longest name for things people label (API keys, later integrations and segments).
pub const LABEL_MAX_CHARS: usize = 80;

/// A short, non-blank, single-line name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label(String);

impl Label {
    pub fn parse(input: &str) -> Result<Self, String> {
        let value = input.trim();
        if value.is_empty() {
            return Err("Enter a name.".into());
        }
        if value.chars().count() > LABEL_MAX_CHARS {
            return Err(format!("Use at most {LABEL_MAX_CHARS} characters."));
        }
        if value.chars().any(char::is_control) {
            return Err("A name cannot contain line breaks or control characters.".into());
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_trimmed() {
        assert_eq!(
            Label::parse("  Shop backend ").unwrap().as_str(),
            "Shop backend"
        );
    }

    #[test]
    fn blank_long_and_multi_line_labels_are_refused() {
        assert!(Label::parse("   ").is_err());
        assert!(Label::parse(&"x".repeat(LABEL_MAX_CHARS + 1)).is_err());
        assert!(Label::parse("a\nb").is_err());
    }
}
