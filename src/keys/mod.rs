//! Root key providers: where the key that wraps project data keys lives.
//!
//! A provider wraps and unwraps small secrets (data keys) under a root key it
//! holds, and says whether it is reachable. `file` and `env` hold the key in
//! this process (today's layout, byte for byte); `transit`, `pkcs11` and
//! `awskms` keep it outside, so a copy of the database (and of the data dir)
//! is useless without the provider.
//!
//! Besides data keys, hush derives keys from the root key for its own use
//! (the audit chain's link key, checkpoint signatures, SSO state, sealed
//! stream and auth-method credentials). An external provider cannot derive
//! those, so it wraps one more random key for them, the *local key*, kept in
//! a file (`wrapped_root`); it is the only key hush holds for the server's
//! lifetime. Data keys are unwrapped on demand and cached (`availability`
//! bounds how long the cache serves while the provider is down).
//!
//! A new provider is one file implementing `RootKeyProvider`, one settings
//! section (`settings`) and one arm in `connect`.

pub mod availability;
#[cfg(feature = "awskms")]
pub mod aws_credentials;
#[cfg(feature = "awskms")]
pub mod awskms;
pub mod connect;
pub mod http;
pub mod local;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;
pub mod secret_file;
pub mod settings;
#[cfg(feature = "awskms")]
pub mod sigv4;
pub mod transit;
pub mod wrapped_root;

use crate::crypto::Key;
use std::sync::Arc;
use zeroize::Zeroizing;

/// What went wrong talking to a provider. Messages never hold key material,
/// tokens or PINs.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Not reachable or not answering right now (network, timeout, 5xx, a
    /// token session lost): the request may succeed later, so it is a 503.
    #[error("{0}")]
    Unavailable(String),
    /// It answered and refused: wrong key, a ciphertext that is not its
    /// own, permission denied, bad configuration.
    #[error("{0}")]
    Refused(String),
}

/// One root key behind wrap/unwrap. `aad` binds a wrapped key to where it is
/// used (project and key id): a wrapped key moved to another row fails.
#[async_trait::async_trait]
pub trait RootKeyProvider: Send + Sync {
    /// `file`, `env`, `transit`, `pkcs11`, `awskms`: stored with each
    /// wrapped key, so data wrapped by another provider is recognised.
    fn kind(&self) -> &'static str;
    /// A stable, secret-free description for logs and errors, e.g.
    /// `transit key "hush" at http://127.0.0.1:8200`.
    fn describe(&self) -> String;
    async fn wrap(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, ProviderError>;
    async fn unwrap(&self, aad: &[u8], wrapped: &[u8])
        -> Result<Zeroizing<Vec<u8>>, ProviderError>;
    /// Cheap proof that wrap/unwrap would work now (the key exists and
    /// the credentials are accepted).
    async fn health(&self) -> Result<(), ProviderError>;
    /// The root key itself, for providers that hold it in this process
    /// (`file`, `env`): it then also serves as the local key, as it always did.
    fn in_process_key(&self) -> Option<&Key> {
        None
    }
}

/// Marks a data key wrapped by an external provider: `TAG kind NUL blob`.
/// Keys wrapped in-process carry no tag (the layout before providers); a
/// random AES-GCM nonce starting with these 7 bytes has odds of 2^-56.
const TAG: &[u8] = b"\0hkp1\0\0";

/// The root of the key hierarchy as the service sees it: the provider that
/// wraps data keys and the local key everything else derives from.
#[derive(Clone)]
pub struct RootKeys {
    provider: Arc<dyn RootKeyProvider>,
    /// While migrating between providers: the one that wrapped the keys so
    /// far. It only unwraps; everything new is wrapped by `provider`.
    previous: Option<Arc<dyn RootKeyProvider>>,
    local: Key,
}

impl RootKeys {
    /// `file`/`env`: the key is both the data keys' wrapping key and the
    /// local key.
    pub fn in_process(key: Key) -> Self {
        Self {
            provider: Arc::new(local::Local::new(key.clone())),
            previous: None,
            local: key,
        }
    }

    pub fn external(provider: Arc<dyn RootKeyProvider>, local: Key) -> Self {
        Self {
            provider,
            previous: None,
            local,
        }
    }

    /// These keys, also unwrapping what `previous` wrapped (a migration).
    pub fn with_previous(mut self, previous: Arc<dyn RootKeyProvider>) -> Self {
        self.previous = Some(previous);
        self
    }

    /// Whether `wrapped` (a data or generation key) was wrapped by this
    /// server's provider, rather than a previous one.
    pub fn wraps(&self, wrapped: &[u8]) -> bool {
        match (untag(wrapped), self.is_external()) {
            (Some((kind, _)), true) => kind == self.provider.kind(),
            (None, false) => true,
            _ => false,
        }
    }

    /// The key hush derives its own keys from (audit, SSO, sealed credentials).
    pub fn local(&self) -> &Key {
        &self.local
    }

    pub fn provider(&self) -> &Arc<dyn RootKeyProvider> {
        &self.provider
    }

    /// True when the provider lives outside this process (its outages
    /// matter, its health is watched).
    pub fn is_external(&self) -> bool {
        self.provider.in_process_key().is_none()
    }

    /// Wraps a project's data key, bound to the project and key id (the
    /// layout of root key generation 0).
    pub async fn wrap_data_key(
        &self,
        project_id: &str,
        key_id: i64,
        data_key: &Key,
    ) -> Result<Vec<u8>, ProviderError> {
        self.wrap_key(&crate::crypto::wrap_aad(project_id, key_id), data_key)
            .await
    }

    pub async fn unwrap_data_key(
        &self,
        project_id: &str,
        key_id: i64,
        wrapped: &[u8],
    ) -> Result<Key, ProviderError> {
        let what = format!("data key {key_id} of project {project_id}");
        self.unwrap_key(&crate::crypto::wrap_aad(project_id, key_id), wrapped, &what)
            .await
    }

    /// Wraps the key of root key generation `generation` (which wraps data
    /// keys from then on).
    pub async fn wrap_generation_key(
        &self,
        generation: i64,
        key: &Key,
    ) -> Result<Vec<u8>, ProviderError> {
        self.wrap_key(&generation_aad(generation), key).await
    }

    pub async fn unwrap_generation_key(
        &self,
        generation: i64,
        wrapped: &[u8],
    ) -> Result<Key, ProviderError> {
        let what = format!("root key generation {generation}");
        self.unwrap_key(&generation_aad(generation), wrapped, &what)
            .await
    }

    async fn wrap_key(&self, aad: &[u8], key: &Key) -> Result<Vec<u8>, ProviderError> {
        let blob = self.provider.wrap(aad, key.bytes()).await?;
        Ok(match self.is_external() {
            true => tag(self.provider.kind(), &blob),
            false => blob,
        })
    }

    async fn unwrap_key(
        &self,
        aad: &[u8],
        wrapped: &[u8],
        what: &str,
    ) -> Result<Key, ProviderError> {
        let tagged = untag(wrapped);
        let (provider, blob) = match (tagged, self.is_external(), &self.previous) {
            (Some((kind, blob)), true, _) if kind == self.provider.kind() => {
                (&self.provider, blob)
            }
            (None, false, _) => (&self.provider, wrapped),
            (Some((kind, blob)), _, Some(p)) if kind == p.kind() && p.in_process_key().is_none() => {
                (p, blob)
            }
            (None, _, Some(p)) if p.in_process_key().is_some() => (p, wrapped),
            (found, ..) => {
                return Err(ProviderError::Refused(format!(
                    "{what} was wrapped by the {} root key provider; this server uses {} (while migrating, name the old one with --previous-root-key-provider)",
                    found.map(|(k, _)| k).unwrap_or("file/env"),
                    self.provider.kind()
                )))
            }
        };
        let bytes = provider.unwrap(aad, blob).await?;
        Key::from_bytes(&bytes)
            .map_err(|_| ProviderError::Refused(format!("{what} did not unwrap to 32 bytes")))
    }

    /// The provider kind as stored with each generation.
    pub fn kind(&self) -> &'static str {
        self.provider.kind()
    }
}

/// Binds a wrapped generation key to its generation: no data key (whose
/// AAD starts with the project id) unwraps as one, nor one generation's key
/// as another's.
fn generation_aad(generation: i64) -> Vec<u8> {
    format!("hush-root-generation-v1\0{generation}").into_bytes()
}

/// `TAG kind NUL blob`.
pub(crate) fn tag(kind: &str, blob: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(TAG.len() + kind.len() + 1 + blob.len());
    out.extend_from_slice(TAG);
    out.extend_from_slice(kind.as_bytes());
    out.push(0);
    out.extend_from_slice(blob);
    out
}

/// The provider kind and blob of a tagged wrapped key; None for an untagged
/// (in-process) one.
pub(crate) fn untag(wrapped: &[u8]) -> Option<(&str, &[u8])> {
    let rest = wrapped.strip_prefix(TAG)?;
    let nul = rest.iter().position(|b| *b == 0)?;
    let kind = std::str::from_utf8(&rest[..nul]).ok()?;
    Some((kind, &rest[nul + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_process_wrapping_is_the_layout_before_providers() {
        let root = Key::generate().unwrap();
        let dek = Key::generate().unwrap();
        let keys = RootKeys::in_process(root.clone());
        // Written by the old code path, read by the provider path.
        let old = root.wrap("p1", 3, &dek).unwrap();
        let opened = keys.unwrap_data_key("p1", 3, &old).await.unwrap();
        assert_eq!(opened.bytes(), dek.bytes());
        // Written by the provider path, read by the old code path.
        let new = keys.wrap_data_key("p1", 3, &dek).await.unwrap();
        assert!(untag(&new).is_none());
        assert_eq!(root.unwrap_key("p1", 3, &new).unwrap().bytes(), dek.bytes());
        assert!(keys.unwrap_data_key("p2", 3, &new).await.is_err());
    }

    #[test]
    fn tags_round_trip() {
        let t = tag("transit", b"vault:v1:abc");
        assert_eq!(untag(&t), Some(("transit", &b"vault:v1:abc"[..])));
        assert_eq!(untag(b"random nonce bytes"), None);
    }
}
