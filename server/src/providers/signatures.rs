//! Checking that a webhook really comes from the provider.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Twilio's `X-Twilio-Signature`: base64(HMAC-SHA1(auth token, the full URL followed by every
/// POST parameter sorted by name, as name+value)). Checked in constant time, with and without
/// an explicit `:443`, since proxies differ in what they keep.
/// Whether two byte strings are equal, in time that depends on their length only.
pub fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn twilio_valid(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    let Ok(given) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    [url.to_owned(), with_or_without_443(url)]
        .iter()
        .any(|candidate| {
            twilio_mac(auth_token, candidate, params)
                .verify_slice(&given)
                .is_ok()
        })
}

/// The signature Twilio would send for this request (what fakes and tests sign with).
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(twilio_mac(auth_token, url, params).finalize().into_bytes())
}

fn twilio_mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Hmac<Sha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// `https://host/x` ⇄ `https://host:443/x`.
fn with_or_without_443(url: &str) -> String {
    let Some(rest) = url.strip_prefix("https://") else {
        return url.to_owned();
    };
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match host.strip_suffix(":443") {
        Some(bare) => format!("https://{bare}{path}"),
        None => format!("https://{host}:443{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn twilios_published_vector_verifies() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert!(twilio_valid(
            "12345",
            url,
            &params(),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(twilio_valid(
            "12345",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &params(),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert_eq!(
            twilio_signature("12345", url, &params()),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }

    #[test]
    fn anything_altered_fails() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let sig = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
        assert!(!twilio_valid("12346", url, &params(), sig), "other token");
        assert!(
            !twilio_valid(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=3",
                &params(),
                sig
            ),
            "other URL"
        );
        let mut p = params();
        p[2].1 = "1235".into();
        assert!(!twilio_valid("12345", url, &p, sig), "other parameter");
        assert!(
            !twilio_valid("12345", url, &params(), "not base64!"),
            "garbage"
        );
        assert!(!twilio_valid("12345", url, &params(), ""), "missing");
    }
}
