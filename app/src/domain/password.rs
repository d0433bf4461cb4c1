/// Shortest password accepted (NIST SP 800-63B asks for at least 8; we ask for a little more).
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Longest password accepted, so hashing cost stays bounded.
pub const PASSWORD_MAX_CHARS: usize = 256;

/// A new password that meets the length policy. It is never printed: `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(input: &str) -> Result<Self, String> {
        let chars = input.chars().count();
        if chars < PASSWORD_MIN_CHARS {
            return Err(format!(
                "Use at least {PASSWORD_MIN_CHARS} characters ({chars} so far)."
            ));
        }
        if chars > PASSWORD_MAX_CHARS {
            return Err(format!("Use at most {PASSWORD_MAX_CHARS} characters."));
        }
        if input.trim().is_empty() {
            return Err("A password cannot be only spaces.".into());
        }
        Ok(Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_passwords_say_how_long_they_are() {
        let err = Password::parse("abc").unwrap_err();
        assert!(err.contains("3 so far"), "{err}");
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(Password::parse("ééééééééé").is_err());
        assert!(Password::parse("éééééééééé").is_ok());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let p = Password::parse("correct horse battery").unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
    }

    #[test]
    fn blank_passwords_are_refused() {
        assert!(Password::parse(&" ".repeat(12)).is_err());
    }
}
