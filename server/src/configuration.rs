//! Settings from the environment (and an optional `.env`). Every value is checked at start-up;
//! a wrong one stops Codecast with a message naming the variable.

use std::{net::SocketAddr, path::PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("configuration error in {variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

fn invalid(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

#[derive(Debug, Clone)]
pub enum SecretKeySource {
    /// `CODECAST_SECRET_KEY`, already decoded.
    Given([u8; 32]),
    /// A key file under the data directory, generated on first start.
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    pub database_url: String,
    /// Base of links Codecast hands out (QR images, webhooks), without a trailing slash.
    pub public_url: String,
    /// No `CODECAST_PUBLIC_URL` was given: the listening address stands in (resolved once bound,
    /// so port 0 becomes the real port).
    pub public_url_from_addr: bool,
    pub data_dir: PathBuf,
    pub secret_key: SecretKeySource,
    pub log_filter: String,
    /// Where cargo-leptos put the compiled site (JS, WASM, CSS).
    pub site_root: String,
    /// Lets generic HTTP gateways live on private, loopback or link-local addresses
    /// (`CODECAST_ALLOW_PRIVATE_GATEWAYS=true`); refused by default against request forgery.
    pub allow_private_gateways: bool,
}

pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";
pub const DEFAULT_LOG: &str = "info,sqlx=warn,sea_orm=warn";

impl Settings {
    /// Reads `.env` (when present) and the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let addr_text = get("CODECAST_ADDR").unwrap_or_else(|| DEFAULT_ADDR.into());
        let addr: SocketAddr = addr_text.trim().parse().map_err(|_| {
            invalid(
                "CODECAST_ADDR",
                format!("{addr_text:?} is not an address like 127.0.0.1:3000 or 0.0.0.0:8080"),
            )
        })?;

        let data_dir = PathBuf::from(get("CODECAST_DATA_DIR").unwrap_or_else(|| "data".into()));

        let database_url = match get("DATABASE_URL") {
            Some(url) => {
                let url = url.trim().to_owned();
                if !(url.starts_with("sqlite:")
                    || url.starts_with("postgres://")
                    || url.starts_with("postgresql://"))
                {
                    return Err(invalid(
                        "DATABASE_URL",
                        "use sqlite://path/to/file.db?mode=rwc or postgres://user@host/db",
                    ));
                }
                url
            }
            None => format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("codecast.db").display()
            ),
        };

        let explicit_public_url = get("CODECAST_PUBLIC_URL");
        let public_url_from_addr = explicit_public_url.is_none();
        let public_url = match explicit_public_url {
            Some(url) => parse_public_url(&url)?,
            None => format!("http://{addr}"),
        };

        let secret_key = match get("CODECAST_SECRET_KEY") {
            Some(text) => SecretKeySource::Given(decode_key(&text)?),
            None => SecretKeySource::File(data_dir.join("secret.key")),
        };

        let log_filter = get("CODECAST_LOG").unwrap_or_else(|| DEFAULT_LOG.into());
        tracing_subscriber::EnvFilter::try_new(&log_filter).map_err(|e| {
            invalid(
                "CODECAST_LOG",
                format!("{e}; try values like info or debug,sqlx=warn"),
            )
        })?;

        let site_root = get("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".into());

        let allow_private_gateways = match get("CODECAST_ALLOW_PRIVATE_GATEWAYS")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(other) => {
                return Err(invalid(
                    "CODECAST_ALLOW_PRIVATE_GATEWAYS",
                    format!("{other:?} is not true or false"),
                ))
            }
        };

        Ok(Self {
            addr,
            database_url,
            public_url,
            public_url_from_addr,
            data_dir,
            secret_key,
            log_filter,
            site_root,
            allow_private_gateways,
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

fn parse_public_url(text: &str) -> Result<String, ConfigError> {
    let text = text.trim().trim_end_matches('/');
    let uri: http::Uri = text.parse().map_err(|_| {
        invalid(
            "CODECAST_PUBLIC_URL",
            format!("{text:?} is not a URL like https://sms.example.com"),
        )
    })?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) || uri.query().is_some() {
        return Err(invalid(
            "CODECAST_PUBLIC_URL",
            "use an http(s) URL with a host and no query, like https://sms.example.com",
        ));
    }
    Ok(text.to_owned())
}

/// 32 bytes as 64 hex digits or as base64.
fn decode_key(text: &str) -> Result<[u8; 32], ConfigError> {
    use base64::Engine as _;
    let text = text.trim();
    let bytes = hex::decode(text)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
        .ok_or_else(|| {
            invalid(
                "CODECAST_SECRET_KEY",
                "use 64 hex digits or base64 of 32 bytes (openssl rand -hex 32)",
            )
        })?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        invalid(
            "CODECAST_SECRET_KEY",
            format!("the key must be 32 bytes; this one has {}", b.len()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_run_on_embedded_sqlite_under_data() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.addr.to_string(), DEFAULT_ADDR);
        assert_eq!(s.database_url, "sqlite://data/codecast.db?mode=rwc");
        assert_eq!(s.public_url, "http://127.0.0.1:3000");
        assert!(matches!(s.secret_key, SecretKeySource::File(ref p) if p.ends_with("secret.key")));
        assert!(s.is_sqlite());
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let cases = [
            ("CODECAST_ADDR", "localhost"),
            ("DATABASE_URL", "mysql://x"),
            ("CODECAST_PUBLIC_URL", "ftp://x"),
            ("CODECAST_PUBLIC_URL", "not a url"),
            ("CODECAST_SECRET_KEY", "abcd"),
            ("CODECAST_LOG", "info,[[["),
        ];
        for (name, value) in cases {
            let err = settings(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{value}");
            assert!(err.to_string().contains(name));
        }
    }

    #[test]
    fn secret_keys_are_read_as_hex_or_base64() {
        let hex_key = "11".repeat(32);
        let s = settings(&[("CODECAST_SECRET_KEY", &hex_key)]).unwrap();
        assert!(matches!(s.secret_key, SecretKeySource::Given(k) if k == [0x11; 32]));
        let b64 = "ESIzRFVmd4iZqrvM3e7/ABEiM0RVZneImaq7zN3u/wA=";
        assert!(settings(&[("CODECAST_SECRET_KEY", b64)]).is_ok());
    }

    #[test]
    fn public_url_loses_its_trailing_slash_and_https_sets_secure_cookies() {
        let s = settings(&[("CODECAST_PUBLIC_URL", "https://sms.example.com/")]).unwrap();
        assert_eq!(s.public_url, "https://sms.example.com");
        assert!(s.secure_cookies());
    }

    #[test]
    fn postgres_urls_switch_the_backend() {
        let s = settings(&[("DATABASE_URL", "postgres://postgres@127.0.0.1/codecast")]).unwrap();
        assert!(!s.is_sqlite());
    }
}
