//! Encryption of stored secrets (provider credentials) with AES-256-GCM under the instance key.

use crate::configuration::SecretKeySource;
use aes_gcm::{
    aead::{Aead, KeyInit},
    Aes256Gcm, Nonce,
};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use rand::{rngs::OsRng, RngCore};
use std::{io::Write, path::Path};

#[derive(Debug, thiserror::Error)]
pub enum SecretBoxError {
    #[error("cannot read or create the key file {path}: {source}")]
    KeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the key file {0} does not hold 64 hex digits")]
    KeyFileFormat(String),
    #[error("a stored secret could not be decrypted (wrong CODECAST_SECRET_KEY, or the value was altered)")]
    Decrypt,
}

/// Seals and opens secrets. A sealed value is `v1:` + base64(nonce ‖ ciphertext ‖ tag).
/// Also signs the delivery ids in status callback addresses (see [`SecretBox::callback_tag`]).
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    /// HMAC keyed with a key of its own for callback tags, derived from the instance key;
    /// kept keyed, so a tag costs a copy of this state rather than the key's set-up each time.
    tags: HmacSha256,
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn hmac(key: &[u8], message: &[u8]) -> HmacSha256 {
    let mut mac =
        <HmacSha256 as hmac::Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    hmac::Mac::update(&mut mac, message);
    mac
}

/// Hex digits of a callback tag: 64 bits, guessed online only.
const TAG_HEX: usize = 16;

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        let tags = hmac::Mac::finalize(hmac(key, b"codecast callback tags v1")).into_bytes();
        Self {
            cipher: Aes256Gcm::new(key.into()),
            tags: hmac(&tags, b""),
        }
    }

    /// The tag a status callback address carries beside its delivery id (`?d=42.<tag>`).
    /// Some providers sign only the body of their reports (Telnyx, Standard Webhooks) or
    /// leave our query out (Vonage), so the id in the address is ours to vouch for: a
    /// signed report replayed with another id must not settle someone else's message.
    pub fn callback_tag(&self, integration_id: &str, delivery_id: i64) -> String {
        // The MAC of "{integration_id}:{delivery_id}".
        let mut mac = self.tags.clone();
        hmac::Mac::update(&mut mac, integration_id.as_bytes());
        hmac::Mac::update(&mut mac, b":");
        hmac::Mac::update(&mut mac, delivery_id.to_string().as_bytes());
        hex::encode(&hmac::Mac::finalize(mac).into_bytes()[..TAG_HEX / 2])
    }

    /// Whether `tag` is the callback tag of this delivery (compared in constant time).
    pub fn callback_tag_matches(&self, integration_id: &str, delivery_id: i64, tag: &str) -> bool {
        let expected = self.callback_tag(integration_id, delivery_id);
        crate::providers::signatures::constant_eq(expected.as_bytes(), tag.as_bytes())
    }

    /// Takes the configured key, or reads the key file, creating it (mode 0600) on first start.
    pub fn load(source: &SecretKeySource) -> Result<Self, SecretBoxError> {
        match source {
            SecretKeySource::Given(key) => Ok(Self::new(key)),
            SecretKeySource::File(path) => Ok(Self::new(&load_or_create_key_file(path)?)),
        }
    }

    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        // Encryption with a fresh nonce and an in-memory buffer cannot fail.
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        format!("v1:{}", STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<String, SecretBoxError> {
        let bytes = sealed
            .strip_prefix("v1:")
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|b| b.len() > 12)
            .ok_or(SecretBoxError::Decrypt)?;
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| SecretBoxError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| SecretBoxError::Decrypt)
    }
}

fn load_or_create_key_file(path: &Path) -> Result<[u8; 32], SecretBoxError> {
    let io_err = |source| SecretBoxError::KeyFile {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => hex::decode(text.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| SecretBoxError::KeyFileFormat(path.display().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(io_err)?;
            }
            let mut key = [0u8; 32];
            OsRng.fill_bytes(&mut key);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(io_err)?;
            file.write_all(hex::encode(key).as_bytes())
                .map_err(io_err)?;
            file.sync_all().map_err(io_err)?;
            tracing::info!(path = %path.display(), "generated a new secret key file; back it up with the database");
            Ok(key)
        }
        Err(e) => Err(io_err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_tags_bind_the_delivery_and_the_integration() {
        let a = SecretBox::new(&[7; 32]);
        let tag = a.callback_tag("int_1", 42);
        assert_eq!(tag.len(), TAG_HEX);
        // The first 64 bits of HMAC-SHA256("int_1:42") under the derived key, as messages
        // already on their way carry them.
        let derived =
            hmac::Mac::finalize(hmac(&[7; 32], b"codecast callback tags v1")).into_bytes();
        let full = hex::encode(hmac::Mac::finalize(hmac(&derived, b"int_1:42")).into_bytes());
        assert_eq!(tag, full[..TAG_HEX]);
        assert!(a.callback_tag_matches("int_1", 42, &tag));
        assert!(!a.callback_tag_matches("int_1", 43, &tag));
        assert!(!a.callback_tag_matches("int_2", 42, &tag));
        assert!(!a.callback_tag_matches("int_1", 42, ""));
        assert!(!SecretBox::new(&[8; 32]).callback_tag_matches("int_1", 42, &tag));
    }

    #[test]
    fn sealed_secrets_open_with_the_same_key_only() {
        let a = SecretBox::new(&[7; 32]);
        let sealed = a.seal("auth-token-123");
        assert!(!sealed.contains("auth-token"));
        assert_eq!(a.open(&sealed).unwrap(), "auth-token-123");
        assert!(SecretBox::new(&[8; 32]).open(&sealed).is_err());
        assert!(a.open("v1:AAAA").is_err());
        assert!(a.open("garbage").is_err());
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/secret.key");
        let first = load_or_create_key_file(&path).unwrap();
        assert_eq!(load_or_create_key_file(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn a_damaged_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        std::fs::write(&path, "nope").unwrap();
        assert!(matches!(
            load_or_create_key_file(&path),
            Err(SecretBoxError::KeyFileFormat(_))
        ));
    }
}
