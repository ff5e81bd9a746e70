//! The ciphertext `encrypt` answers, base64 of:
//!
//! ```text
//! format (1 byte, 1) | key id (16 bytes, a UUID) | key version (4 bytes, BE)
//!   | nonce (12 bytes) | AES-256-GCM ciphertext and tag
//! ```
//!
//! The header (format, key id, version) is the AAD, so it cannot be changed
//! without the tag failing; it tells `decrypt` which key opened it, so a
//! ciphertext of another key is refused before any key is touched. Every
//! failure is the same `Invalid`: an answer says nothing about why.

use crate::crypto::Key;
use base64::Engine as _;

const FORMAT: u8 = 1;
const HEADER_LEN: usize = 1 + 16 + 4;
/// Nonce and tag.
const OVERHEAD: usize = 12 + 16;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CiphertextError {
    #[error("the ciphertext is invalid or was not made with this key")]
    Invalid,
    #[error("system random generator failed")]
    Random,
}

fn header(key_id: &uuid::Uuid, version: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = FORMAT;
    h[1..17].copy_from_slice(key_id.as_bytes());
    h[17..].copy_from_slice(&version.to_be_bytes());
    h
}

/// Seals `plaintext` under `key` (KMS key `key_id`, `version`).
pub fn seal(
    key: &Key,
    key_id: &uuid::Uuid,
    version: u32,
    plaintext: &[u8],
) -> Result<String, CiphertextError> {
    let h = header(key_id, version);
    let sealed = key.seal(&h, plaintext).map_err(|e| match e {
        crate::crypto::CryptoError::Random => CiphertextError::Random,
        _ => CiphertextError::Invalid,
    })?;
    let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
    out.extend_from_slice(&h);
    out.extend_from_slice(&sealed);
    Ok(base64::engine::general_purpose::STANDARD.encode(out))
}

/// A parsed ciphertext: which key version made it and the sealed part.
pub struct Parsed {
    pub version: u32,
    header: [u8; HEADER_LEN],
    sealed: Vec<u8>,
}

/// Parses `text` as a ciphertext of KMS key `key_id`.
pub fn parse(text: &str, key_id: &uuid::Uuid) -> Result<Parsed, CiphertextError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| CiphertextError::Invalid)?;
    if bytes.len() < HEADER_LEN + OVERHEAD || bytes[0] != FORMAT {
        return Err(CiphertextError::Invalid);
    }
    if &bytes[1..17] != key_id.as_bytes() {
        return Err(CiphertextError::Invalid);
    }
    let mut header = [0u8; HEADER_LEN];
    header.copy_from_slice(&bytes[..HEADER_LEN]);
    let mut version = [0u8; 4];
    version.copy_from_slice(&bytes[17..HEADER_LEN]);
    Ok(Parsed {
        version: u32::from_be_bytes(version),
        header,
        sealed: bytes[HEADER_LEN..].to_vec(),
    })
}

impl Parsed {
    /// Opens the ciphertext with the key of its version.
    pub fn open(&self, key: &Key) -> Result<zeroize::Zeroizing<Vec<u8>>, CiphertextError> {
        key.open(&self.header, &self.sealed)
            .map_err(|_| CiphertextError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let key = Key::generate().unwrap();
        let id = uuid::Uuid::new_v4();
        let ct = seal(&key, &id, 1, b"attack at dawn").unwrap();
        let parsed = parse(&ct, &id).unwrap();
        assert_eq!(parsed.version, 1);
        assert_eq!(parsed.open(&key).unwrap().as_slice(), b"attack at dawn");

        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(&ct)
            .unwrap();
        for i in [0, 5, 18, 25, raw.len() - 1] {
            raw[i] ^= 1;
            let t = base64::engine::general_purpose::STANDARD.encode(&raw);
            let r = parse(&t, &id).and_then(|p| p.open(&key));
            assert_eq!(r.err(), Some(CiphertextError::Invalid), "byte {i}");
            raw[i] ^= 1;
        }
        // Another key id, another key, garbage, truncation.
        assert!(parse(&ct, &uuid::Uuid::new_v4()).is_err());
        let other = Key::generate().unwrap();
        assert!(parse(&ct, &id).unwrap().open(&other).is_err());
        assert!(parse("not base64!", &id).is_err());
        assert!(parse(&ct[..20], &id).is_err());
    }

    #[test]
    fn empty_plaintext_round_trips() {
        let key = Key::generate().unwrap();
        let id = uuid::Uuid::new_v4();
        let ct = seal(&key, &id, 1, b"").unwrap();
        assert!(parse(&ct, &id).unwrap().open(&key).unwrap().is_empty());
    }
}
