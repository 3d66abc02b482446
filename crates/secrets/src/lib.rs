//! The service's secrets: the key that seals credentials at rest
//! (`RUNTIME_SECRET_KEY`), the cipher that uses it, and the admin token's
//! comparison.
//!
//! Owns: parsing the key (32 bytes as 64 hex digits or base64), sealing
//! and opening bytes with XChaCha20-Poly1305 bound to a context (the
//! record's id, so a sealed value copied under another id does not open),
//! and comparing tokens in constant time. It must not log, format or
//! return a secret in an error: every error here names what was wrong
//! with the *shape* of the input only, and `Debug` of a key prints nothing.
//!
//! Why XChaCha20-Poly1305: its 24-byte nonces can be drawn at random for
//! every seal (2^96 seals before a collision is likely), so no nonce
//! counter must survive restarts or be shared between instances.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use subtle::ConstantTimeEq;

/// The sealed format's version byte, first in every sealed value.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error(
        "{what} must be 32 bytes, given as 64 hex digits or as base64 (it decodes to {len} bytes)"
    )]
    KeyLength { what: String, len: usize },
    #[error("{what} must be 32 bytes, given as 64 hex digits or as base64")]
    KeyFormat { what: String },
    #[error("a sealed value ({context}) cannot be opened: it was sealed with another RUNTIME_SECRET_KEY, or it was altered")]
    Open { context: String },
    #[error("a sealed value ({context}) is not in the sealed format")]
    Format { context: String },
}

/// The 32-byte key. Its `Debug` hides the bytes.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// Parses 64 hex digits or base64 (standard or URL-safe, padded or
    /// not) of 32 bytes; surrounding whitespace (a file's newline) is
    /// ignored. `what` names the source in errors (`RUNTIME_SECRET_KEY`).
    pub fn parse(text: &str, what: &str) -> Result<SecretKey, SecretError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| SecretError::KeyFormat { what: what.into() })?
        } else {
            let engines = [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                &base64::engine::general_purpose::URL_SAFE,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ];
            engines
                .iter()
                .find_map(|e| e.decode(text).ok())
                .ok_or_else(|| SecretError::KeyFormat { what: what.into() })?
        };
        let len = bytes.len();
        let key: [u8; 32] = bytes.try_into().map_err(|_| SecretError::KeyLength {
            what: what.into(),
            len,
        })?;
        Ok(SecretKey(key))
    }

    /// A random key (tests, `runtime demo`).
    pub fn random() -> SecretKey {
        SecretKey(rand::random())
    }

    /// The key as 64 hex digits (for handing a generated key to a child).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Seals and opens bytes under one key. Cheap to clone.
#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    pub fn new(key: &SecretKey) -> Cipher {
        Cipher {
            aead: XChaCha20Poly1305::new((&key.0).into()),
        }
    }

    /// `plain` sealed for `context` (authenticated, not encrypted: it must
    /// be given again to open): version byte, nonce, ciphertext and tag.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let payload = Payload {
            msg: plain,
            aad: context.as_bytes(),
        };
        // Encryption fails only for messages beyond 256 GiB.
        let sealed = self
            .aead
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`Cipher::seal`] made for the same `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != VERSION {
            return Err(SecretError::Format {
                context: context.into(),
            });
        }
        let (nonce, body) = sealed[1..].split_at(NONCE_LEN);
        let payload = Payload {
            msg: body,
            aad: context.as_bytes(),
        };
        self.aead
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| SecretError::Open {
                context: context.into(),
            })
    }
}

/// Whether `given` is `expected`, in time that depends only on their
/// lengths (the token's length is no secret worth keeping: it is fixed
/// by whoever made it).
pub fn token_matches(given: &[u8], expected: &[u8]) -> bool {
    given.ct_eq(expected).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_hex_and_base64_and_name_their_source() {
        let hex = "00".repeat(31) + "ff";
        let key = SecretKey::parse(&format!("{hex}\n"), "RUNTIME_SECRET_KEY").unwrap();
        assert_eq!(key.to_hex(), hex);
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(
            SecretKey::parse(&b64, "k").unwrap().to_hex(),
            "07".repeat(32)
        );
        let short = SecretKey::parse("abcd", "RUNTIME_SECRET_KEY").unwrap_err();
        assert!(short.to_string().contains("RUNTIME_SECRET_KEY"), "{short}");
        assert!(SecretKey::parse("not a key!", "x").is_err());
        assert_eq!(format!("{key:?}"), "SecretKey(..)");
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let cipher = Cipher::new(&SecretKey::random());
        let sealed = cipher.seal("connection:a", b"{\"token\":\"s3cret\"}");
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(
            cipher.open("connection:a", &sealed).unwrap(),
            b"{\"token\":\"s3cret\"}"
        );
        assert!(matches!(
            cipher.open("connection:b", &sealed),
            Err(SecretError::Open { .. })
        ));
        let other = Cipher::new(&SecretKey::random());
        assert!(other.open("connection:a", &sealed).is_err());
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(cipher.open("connection:a", &altered).is_err());
        assert!(matches!(
            cipher.open("connection:a", b"plain"),
            Err(SecretError::Format { .. })
        ));
        // Two seals of one value differ (random nonces).
        assert_ne!(
            sealed,
            cipher.seal("connection:a", b"{\"token\":\"s3cret\"}")
        );
    }

    #[test]
    fn tokens_compare_by_content() {
        assert!(token_matches(b"abc", b"abc"));
        assert!(!token_matches(b"abd", b"abc"));
        assert!(!token_matches(b"ab", b"abc"));
    }
}
