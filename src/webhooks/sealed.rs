//! A webhook's URL and signing key, sealed with the server's envelope
//! encryption as audit streams' headers are (`streams::sealed`): a data key
//! of the webhook's own, wrapped under the root key and bound to its id,
//! seals the pair (AAD: the webhook's id). Neither ever comes back out of the
//! API: answers show `url_shown` and whether a key is set.

use crate::crypto::{CryptoError, Key};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// The "project" the data key is wrapped for: a NUL never occurs in a
/// project id, so this collides with no project's or stream's data key.
fn wrap_scope(id: &str) -> String {
    format!("\0webhook\0{id}")
}

fn aad(id: &str) -> Vec<u8> {
    format!("hush-webhook-v1\0{id}").into_bytes()
}

/// What a delivery needs that nobody may read back.
#[derive(Serialize, Deserialize)]
pub struct Secrets {
    pub url: String,
    #[serde(rename = "secretKey")]
    pub secret_key: Option<String>,
}

impl Drop for Secrets {
    fn drop(&mut self) {
        self.url.zeroize();
        self.secret_key.zeroize();
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(***)")
    }
}

/// (wrapped data key, sealed secrets).
pub fn seal(root: &Key, id: &str, secrets: &Secrets) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let data_key = Key::generate()?;
    let wrapped = root.wrap(&wrap_scope(id), 0, &data_key)?;
    let plain = Zeroizing::new(serde_json::to_vec(secrets).map_err(|_| CryptoError::Integrity)?);
    Ok((wrapped, data_key.seal(&aad(id), &plain)?))
}

pub fn open(root: &Key, id: &str, wrapped: &[u8], sealed: &[u8]) -> Result<Secrets, CryptoError> {
    let data_key = root.unwrap_key(&wrap_scope(id), 0, wrapped)?;
    let plain = data_key.open(&aad(id), sealed)?;
    serde_json::from_slice(&plain).map_err(|_| CryptoError::Integrity)
}

/// The data key wrapped under `new_root` (root-key rotation).
pub fn rewrap(
    root: &Key,
    new_root: &Key,
    id: &str,
    wrapped: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let data_key = root.unwrap_key(&wrap_scope(id), 0, wrapped)?;
    new_root.wrap(&wrap_scope(id), 0, &data_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_bound_to_its_webhook() {
        let root = Key::generate().unwrap();
        let s = Secrets {
            url: "https://x.example/canary-url".into(),
            secret_key: Some("canary-key".into()),
        };
        let (wrapped, sealed) = seal(&root, "w1", &s).unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("canary"));
        let opened = open(&root, "w1", &wrapped, &sealed).unwrap();
        assert_eq!(opened.secret_key.as_deref(), Some("canary-key"));
        assert!(open(&root, "w2", &wrapped, &sealed).is_err());
        assert_eq!(format!("{opened:?}"), "Secrets(***)");
        let other = Key::generate().unwrap();
        let moved = rewrap(&root, &other, "w1", &wrapped).unwrap();
        assert!(open(&other, "w1", &moved, &sealed).is_ok());
    }
}
