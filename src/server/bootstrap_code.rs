//! The one-time bootstrap code: whoever reached `bootstrap` first used to own a
//! fresh server (including a web page, through a developer's browser). Now a
//! server without users prints a code on start and writes it to
//! `<data dir>/bootstrap-code` (0600); `bootstrap` needs it.
//!
//! Replicas on one PostgreSQL database share the code: the first to start
//! stores it sealed under the root key (which replicas must share) and every
//! replica opens the same one, so any replica's printed code works. The
//! database holds only the ciphertext. Once any user exists the code is
//! worthless (bootstrap is refused) and each replica deletes its file, at
//! the bootstrap it served or at its next start or bootstrap attempt.

use super::error::ApiError;
use crate::crypto::Key;
use crate::service::ServiceError;
use crate::store::{Store, StoreError};
use axum::http::StatusCode;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The code's file in the data dir.
pub const FILE_NAME: &str = "bootstrap-code";
const META_KEY: &str = "bootstrap_code";
const AAD: &[u8] = b"hush bootstrap code v1";

pub struct BootstrapCode {
    /// SHA-256 of the normalised code; None when the server was bootstrapped
    /// before this process started.
    digest: Option<[u8; 32]>,
    bootstrapped: AtomicBool,
    file: PathBuf,
}

/// What `prepare` found: the code to print and write, or nothing to do.
pub enum Prepared {
    Fresh(Zeroizing<String>),
    AlreadyBootstrapped,
}

/// Letters and digits only, lower case: dashes, spaces and a trailing newline
/// from a copied file do not matter.
fn normalise(code: &str) -> Zeroizing<String> {
    Zeroizing::new(
        code.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect(),
    )
}

fn digest(code: &str) -> [u8; 32] {
    Sha256::digest(normalise(code).as_bytes()).into()
}

/// 96 random bits as `xxxx-xxxx-xxxx-xxxx-xxxx-xxxx` (hex): too many to guess,
/// short enough to type.
fn generate() -> anyhow::Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new([0u8; 12]);
    getrandom::getrandom(bytes.as_mut())
        .map_err(|e| anyhow::anyhow!("system random generator failed: {e}"))?;
    let hex = Zeroizing::new(hex::encode(bytes.as_ref()));
    let groups: Vec<&str> = hex
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    Ok(Zeroizing::new(groups.join("-")))
}

fn already_bootstrapped() -> ApiError {
    ApiError::from(ServiceError::from(StoreError::AlreadyBootstrapped))
}

impl BootstrapCode {
    /// At start: finds whether the server has users and, if not, the code
    /// shared by every replica (creating it on the first start).
    pub async fn prepare(
        store: &Arc<dyn Store>,
        root: &Key,
        data_dir: &Path,
    ) -> anyhow::Result<(Self, Prepared)> {
        let file = data_dir.join(FILE_NAME);
        if !store.users().await?.is_empty() {
            let code = BootstrapCode {
                digest: None,
                bootstrapped: AtomicBool::new(true),
                file,
            };
            code.remove_file();
            return Ok((code, Prepared::AlreadyBootstrapped));
        }
        let sealed = root.seal(AAD, generate()?.as_bytes())?;
        let stored = store.meta_init(META_KEY, sealed).await?;
        let plain = root.open(AAD, &stored)?;
        let text = Zeroizing::new(
            std::str::from_utf8(&plain)
                .map_err(|_| anyhow::anyhow!("the stored bootstrap code is not text"))?
                .to_owned(),
        );
        let code = BootstrapCode {
            digest: Some(digest(&text)),
            bootstrapped: AtomicBool::new(false),
            file,
        };
        Ok((code, Prepared::Fresh(text)))
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Before a bootstrap: Err 400 once the server has a user, 403 for a
    /// missing or wrong code.
    pub async fn check(&self, store: &Arc<dyn Store>, given: Option<&str>) -> Result<(), ApiError> {
        if self.bootstrapped.load(Ordering::Acquire) {
            return Err(already_bootstrapped());
        }
        // Another replica may have bootstrapped the shared database.
        let users = store
            .users()
            .await
            .map_err(|e| ApiError::from(ServiceError::from(e)))?;
        if !users.is_empty() {
            self.bootstrapped();
            return Err(already_bootstrapped());
        }
        let Some(expected) = self.digest else {
            return Err(already_bootstrapped());
        };
        let given = given.filter(|g| !g.trim().is_empty()).ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "BootstrapCodeRequired",
                format!(
                    "bootstrap needs this server's one-time bootstrap code (printed on start, also in its data dir's {FILE_NAME} file); pass it with hush bootstrap --code"
                ),
            )
        })?;
        // Digests, not codes, are compared: timing reveals nothing of the code.
        if digest(given) != expected {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "BootstrapCodeRequired",
                format!("wrong bootstrap code: use the one this server printed on start (also in its data dir's {FILE_NAME} file)"),
            ));
        }
        Ok(())
    }

    /// After a bootstrap (or on learning of one): the code is spent.
    pub fn bootstrapped(&self) {
        if !self.bootstrapped.swap(true, Ordering::AcqRel) {
            self.remove_file();
        }
    }

    fn remove_file(&self) {
        match std::fs::remove_file(&self.file) {
            Ok(()) => tracing::info!("removed the spent bootstrap code {}", self.file.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(
                "cannot remove the spent bootstrap code {}: {e}; delete it by hand",
                self.file.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typeable_and_compare_loosely() {
        let code = generate().unwrap();
        assert_eq!(code.len(), 29, "{}", code.as_str());
        assert_eq!(
            digest(&code),
            digest(&code.to_uppercase().replace('-', " "))
        );
        assert_eq!(digest(&code), digest(&format!("{}\n", code.as_str())));
        assert_ne!(digest(&code), digest(&generate().unwrap()));
    }
}
