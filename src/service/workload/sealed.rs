//! The credential an auth method holds (Kubernetes' token reviewer JWT),
//! sealed like a stream's headers: a data key of its own, wrapped under the
//! root key for this (identity, method) and bound to it as AAD, so a sealed
//! blob copied to another identity or method does not open there.

use crate::crypto::{CryptoError, Key};
use std::sync::Arc;
use zeroize::Zeroizing;

fn scope(identity_id: &str, method: &str) -> String {
    // A NUL cannot occur in a project id: never a project's data key scope.
    format!("\0identity-auth\0{identity_id}\0{method}")
}

fn aad(identity_id: &str, method: &str) -> Vec<u8> {
    format!("hush-identity-auth-v1\0{identity_id}\0{method}").into_bytes()
}

/// (wrapped data key, sealed secret).
pub fn seal(
    root: &Key,
    identity_id: &str,
    method: &str,
    secret: &str,
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let data_key = Key::generate()?;
    let wrapped = root.wrap(&scope(identity_id, method), 0, &data_key)?;
    let sealed = data_key.seal(&aad(identity_id, method), secret.as_bytes())?;
    Ok((wrapped, sealed))
}

pub fn open(
    root: &Key,
    identity_id: &str,
    method: &str,
    wrapped: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<String>, CryptoError> {
    let data_key = root.unwrap_key(&scope(identity_id, method), 0, wrapped)?;
    let plain = data_key.open(&aad(identity_id, method), sealed)?;
    String::from_utf8(plain.to_vec())
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Integrity)
}

/// Re-wraps every method's data key under `new` (root-key rotation); a key
/// that already opens under `new` is left as it is. Returns the count.
pub async fn rewrap_keys(
    store: &Arc<dyn crate::store::Store>,
    old: &Key,
    new: &Key,
) -> anyhow::Result<usize> {
    let methods = store.identity_auth_methods();
    let mut rewrapped = Vec::new();
    for row in methods.identity_auths().await? {
        let Some(wrapped) = &row.key_wrapped else {
            continue;
        };
        let s = scope(&row.identity_id, &row.method);
        match old.unwrap_key(&s, 0, wrapped) {
            Ok(k) => rewrapped.push((row.identity_id, row.method, new.wrap(&s, 0, &k)?)),
            Err(_) if new.unwrap_key(&s, 0, wrapped).is_ok() => {}
            Err(_) => anyhow::bail!(
                "the credential key of the {} auth of identity {} opens under neither root key",
                row.method,
                row.identity_id
            ),
        }
    }
    let count = rewrapped.len();
    methods.rewrap_identity_auth_keys(rewrapped).await?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_to_identity_and_method() {
        let root = Key::generate().unwrap();
        let (w, s) = seal(&root, "i1", "kubernetes", "reviewer-canary").unwrap();
        assert!(!String::from_utf8_lossy(&s).contains("canary"));
        assert_eq!(
            open(&root, "i1", "kubernetes", &w, &s).unwrap().as_str(),
            "reviewer-canary"
        );
        assert!(open(&root, "i2", "kubernetes", &w, &s).is_err());
        assert!(open(&root, "i1", "oidc", &w, &s).is_err());
    }
}
