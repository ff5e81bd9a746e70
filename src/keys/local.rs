//! `file` and `env`: the root key is 32 bytes in this process (read from
//! `HUSH_ROOT_KEY_FILE`, `HUSH_ROOT_KEY`, or the development key in the data
//! dir). Wrapping is AES-256-GCM under it, exactly as before providers.

use super::{ProviderError, RootKeyProvider};
use crate::crypto::Key;
use zeroize::Zeroizing;

pub struct Local {
    key: Key,
}

impl Local {
    pub fn new(key: Key) -> Self {
        Self { key }
    }
}

#[async_trait::async_trait]
impl RootKeyProvider for Local {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn describe(&self) -> String {
        "the root key in this process (file or env)".into()
    }

    async fn wrap(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, ProviderError> {
        self.key
            .seal(aad, plaintext)
            .map_err(|e| ProviderError::Refused(e.to_string()))
    }

    async fn unwrap(
        &self,
        aad: &[u8],
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, ProviderError> {
        self.key
            .open(aad, wrapped)
            .map_err(|_| ProviderError::Refused("does not open under the root key".into()))
    }

    async fn health(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    fn in_process_key(&self) -> Option<&Key> {
        Some(&self.key)
    }
}
