//! Phone numbers: parsed with libphonenumber's rules and stored as E.164 only.

use rlibphonenumber::{enums::Region, PhoneNumberFormat, PHONE_NUMBER_UTIL};

/// A valid phone number in E.164 (`+34612345678`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses international input (`+…`, `00…`) or a national number of `default_country`
    /// (ISO 3166 alpha-2, e.g. `ES`).
    pub fn parse(input: &str, default_country: &str) -> Result<Self, String> {
        let input = input.trim();
        if input.is_empty() {
            return Err("Enter a phone number.".into());
        }
        // What people write as a phone number: digits, a plus, spaces and punctuation, letters
        // of a vanity number. Anything else (a `tel:` URI's `;phone-context=`, say, on which
        // the library panics) is refused before it gets there.
        if input.chars().count() > 40
            || !input
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " +-().\u{a0}/".contains(c))
        {
            return Err(format!("{input:?} is not a phone number."));
        }
        let region: Option<Region> = default_country.trim().to_ascii_uppercase().parse().ok();
        // And should the library still panic on some input, that input is refused; the
        // request is not lost.
        let parsed = std::panic::catch_unwind(|| PHONE_NUMBER_UTIL.parse(input, region));
        let number = match parsed {
            Ok(Ok(number)) => number,
            _ => return Err(format!("{input:?} is not a phone number.")),
        };
        if !number.is_valid() {
            return Err(format!(
                "{input:?} is not a valid phone number (national numbers are read as {}; add the country code, e.g. +44…).",
                default_country.to_ascii_uppercase()
            ));
        }
        Ok(Self(number.format_as(PhoneNumberFormat::E164).to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// True when `code` is a region the phone library knows (`ES`, `US`, …).
pub fn is_known_country(code: &str) -> bool {
    code.len() == 2
        && code
            .to_ascii_uppercase()
            .parse::<Region>()
            .ok()
            .and_then(|r| PHONE_NUMBER_UTIL.get_country_code_for_region(r))
            .is_some_and(|cc| cc > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_syntax_and_overlong_input_are_refused_not_parsed() {
        for input in [
            "1;phone-context=+1;tel:2",
            "tel:+1-201-555-0123;ext=1",
            "+1 201 555 0123 <script>",
            &"1".repeat(41),
        ] {
            let err = PhoneNumber::parse(input, "US").unwrap_err();
            assert!(err.contains("is not a phone number"), "{input}: {err}");
        }
        assert_eq!(
            PhoneNumber::parse("(415) 555-0201", "US").unwrap().as_str(),
            "+14155550201"
        );
    }

    #[test]
    fn national_numbers_use_the_default_country() {
        assert_eq!(
            PhoneNumber::parse("612 345 678", "es").unwrap().as_str(),
            "+34612345678"
        );
        assert_eq!(
            PhoneNumber::parse("(415) 555-0123", "US").unwrap().as_str(),
            "+14155550123"
        );
    }

    #[test]
    fn international_numbers_ignore_the_default_country() {
        assert_eq!(
            PhoneNumber::parse("+44 20 7183 8750", "US")
                .unwrap()
                .as_str(),
            "+442071838750"
        );
        assert_eq!(
            PhoneNumber::parse("0034 612 345 678", "ES")
                .unwrap()
                .as_str(),
            "+34612345678"
        );
    }

    #[test]
    fn invalid_numbers_are_refused_with_a_reason() {
        for bad in ["", "abc", "123", "+34 12"] {
            assert!(PhoneNumber::parse(bad, "ES").is_err(), "{bad}");
        }
    }

    #[test]
    fn countries_are_checked() {
        assert!(is_known_country("es") && is_known_country("US"));
        assert!(!is_known_country("XX") && !is_known_country("USA"));
    }
}
