//! Envelope encryption: a root key wraps per-project data keys; data keys seal
//! secret values with AES-256-GCM, random 96-bit nonces and an AAD that binds each
//! ciphertext to where it lives (project, environment, path, key, version, field).
//!
//! A ciphertext copied to another row, or an older version's ciphertext put back in
//! place of a newer one, fails authentication and is reported as an integrity error.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use zeroize::Zeroizing;

const NONCE_LEN: usize = 12;
/// Encryptions under one data key before a rotation is forced. AES-GCM with random
/// 96-bit nonces must stay well below 2^32 messages per key; we rotate at 2^30.
pub const MAX_ENCRYPTIONS_PER_KEY: i64 = 1 << 30;
const KEY_CHECK_PLAINTEXT: &[u8] = b"hush root key check v1";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("integrity check failed: the ciphertext does not belong here or was modified")]
    Integrity,
    #[error("invalid root key: {0}")]
    BadRootKey(String),
    #[error("cannot read root key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("system random generator failed")]
    Random,
}

/// 32 bytes of key material; Debug never prints it, memory is zeroed on drop.
/// The expanded AES key schedule is built once and shared by clones: a list
/// opens hundreds of fields with one key, and expanding it per field was a
/// measurable part of a list's CPU.
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; 32]>, Arc<Aes256Gcm>);

fn expand(bytes: &[u8; 32]) -> Arc<Aes256Gcm> {
    Arc::new(Aes256Gcm::new(bytes.into()))
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(***)")
    }
}

impl Key {
    /// A 32-byte key for one purpose, derived from this one: HKDF-Expand
    /// (RFC 5869) with SHA-256, this key as the pseudorandom key (it is
    /// uniformly random already) and `label` as the info. Distinct labels
    /// give independent keys, so a key derived for the audit chain opens
    /// nothing else, and learning it reveals nothing of this key.
    pub fn derive(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        use hmac::{Hmac, Mac};
        // HMAC accepts a key of any length; 32 bytes cannot fail.
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.0.as_ref())
            .expect("HMAC takes a 32-byte key");
        mac.update(label);
        mac.update(&[1]);
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&mac.finalize().into_bytes());
        out
    }

    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(bytes.as_mut()).map_err(|_| CryptoError::Random)?;
        let cipher = expand(&bytes);
        Ok(Self(bytes, cipher))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let array: [u8; 32] = bytes.try_into().map_err(|_| {
            CryptoError::BadRootKey(format!("expected 32 bytes, got {}", bytes.len()))
        })?;
        let bytes = Zeroizing::new(array);
        let cipher = expand(&bytes);
        Ok(Self(bytes, cipher))
    }

    /// Parses 32 bytes given as hex (64 chars) or base64 (standard or url-safe).
    pub fn parse_text(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let bytes = Zeroizing::new(
                hex::decode(text).map_err(|_| CryptoError::BadRootKey("bad hex".into()))?,
            );
            return Self::from_bytes(&bytes);
        }
        let engines = [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        for engine in engines {
            if let Ok(bytes) = engine.decode(text) {
                let bytes = Zeroizing::new(bytes);
                return Self::from_bytes(&bytes);
            }
        }
        Err(CryptoError::BadRootKey(
            "expected 32 random bytes, hex- or base64-encoded (generate one with: openssl rand -base64 32)".into(),
        ))
    }

    /// Reads a key file, refusing one that group or others can read.
    pub fn read_file(path: &Path) -> Result<Self, CryptoError> {
        use std::os::unix::fs::PermissionsExt;
        let err = |reason: String| CryptoError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(err(format!(
                "mode {:o} lets other users read it; run: chmod 600 {}",
                mode & 0o777,
                path.display()
            )));
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
        Self::parse_text(&text)
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.0.as_ref()))
    }

    /// The raw bytes, for a root key provider to wrap (never to print).
    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.as_ref()
    }

    fn cipher(&self) -> &Aes256Gcm {
        &self.1
    }

    /// Encrypts with a fresh random nonce; output is nonce || ciphertext || tag.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce).map_err(|_| CryptoError::Random)?;
        let ct = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Integrity)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Integrity);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Integrity)
    }

    /// Wraps a project's data key under this (root) key, bound to the project and key id.
    pub fn wrap(
        &self,
        project_id: &str,
        key_id: i64,
        data_key: &Key,
    ) -> Result<Vec<u8>, CryptoError> {
        self.seal(&wrap_aad(project_id, key_id), data_key.0.as_ref())
    }

    pub fn unwrap_key(
        &self,
        project_id: &str,
        key_id: i64,
        wrapped: &[u8],
    ) -> Result<Key, CryptoError> {
        let bytes = self.open(&wrap_aad(project_id, key_id), wrapped)?;
        Key::from_bytes(&bytes)
    }

    /// A value stored at initialisation so a server started with another root key
    /// refuses to start instead of failing at the first read.
    pub fn key_check(&self) -> Result<Vec<u8>, CryptoError> {
        self.seal(b"hush-key-check", KEY_CHECK_PLAINTEXT)
    }

    pub fn verify_key_check(&self, check: &[u8]) -> bool {
        matches!(self.open(b"hush-key-check", check), Ok(p) if p.as_slice() == KEY_CHECK_PLAINTEXT)
    }
}

/// The AAD a data key is wrapped with: bound to its project and key id.
pub fn wrap_aad(project_id: &str, key_id: i64) -> Vec<u8> {
    format!("hush-dek\0{project_id}\0{key_id}").into_bytes()
}

/// Which field of a secret version a ciphertext holds.
#[derive(Clone, Copy, Debug)]
pub enum Field {
    Value,
    Comment,
    Tags,
}

/// The additional authenticated data of one field of one secret version.
/// NUL separators cannot occur in any component (all are validated names).
pub fn secret_aad(
    project_id: &str,
    env: &str,
    path: &str,
    key: &str,
    version: i64,
    field: Field,
) -> Vec<u8> {
    let field = match field {
        Field::Value => "value",
        Field::Comment => "comment",
        Field::Tags => "tags",
    };
    let mut aad = Vec::with_capacity(
        40 + project_id.len() + env.len() + path.len() + key.len() + field.len(),
    );
    for part in [
        "hush-secret-v1",
        project_id,
        env,
        path,
        key,
        itoa::Buffer::new().format(version),
    ] {
        aad.extend_from_slice(part.as_bytes());
        aad.push(0);
    }
    aad.extend_from_slice(field.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_aad_binding() {
        let k = Key::generate().unwrap();
        let aad = secret_aad("p", "dev", "/", "A", 1, Field::Value);
        let ct = k.seal(&aad, b"hello").unwrap();
        assert_eq!(k.open(&aad, &ct).unwrap().as_slice(), b"hello");
        let other = secret_aad("p", "dev", "/", "A", 2, Field::Value);
        assert!(matches!(k.open(&other, &ct), Err(CryptoError::Integrity)));
        let mut flipped = ct.clone();
        flipped[14] ^= 1;
        assert!(k.open(&aad, &flipped).is_err());
    }

    #[test]
    fn parse_root_key_forms() {
        let k = Key::generate().unwrap();
        let b64 = k.to_base64();
        let again = Key::parse_text(&b64).unwrap();
        let check = k.key_check().unwrap();
        assert!(again.verify_key_check(&check));
        let hexed = hex::encode(k.0.as_ref());
        assert!(Key::parse_text(&hexed).unwrap().verify_key_check(&check));
        assert!(Key::parse_text("short").is_err());
        assert!(!Key::generate().unwrap().verify_key_check(&check));
    }

    #[test]
    fn wrap_binds_project() {
        let root = Key::generate().unwrap();
        let dek = Key::generate().unwrap();
        let w = root.wrap("p1", 1, &dek).unwrap();
        assert!(root.unwrap_key("p1", 1, &w).is_ok());
        assert!(root.unwrap_key("p2", 1, &w).is_err());
    }

    #[test]
    fn key_debug_redacted() {
        assert_eq!(format!("{:?}", Key::generate().unwrap()), "Key(***)");
    }
}
