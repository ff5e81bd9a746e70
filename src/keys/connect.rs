//! From settings to a connected, checked provider and the local key: what
//! `server::app` calls for an external provider at start. Every failure is
//! one line saying which provider failed and what to check.

use super::settings::External;
use super::wrapped_root::{self, WrappedRootError};
use super::{ProviderError, RootKeyProvider, RootKeys};
use std::path::Path;
use std::sync::Arc;

/// The provider `external` names, connected (credentials read, logged in).
pub async fn provider(external: &External) -> Result<Arc<dyn RootKeyProvider>, ProviderError> {
    Ok(match external {
        External::Transit(s) => Arc::new(super::transit::Transit::connect(s).await?),
        #[cfg(feature = "pkcs11")]
        External::Pkcs11(s) => Arc::new(super::pkcs11::Pkcs11::connect(s).await?),
        #[cfg(not(feature = "pkcs11"))]
        External::Pkcs11(_) => {
            return Err(ProviderError::Refused(
                "this hush was built without the pkcs11 feature; rebuild with --features pkcs11"
                    .into(),
            ))
        }
        #[cfg(feature = "awskms")]
        External::AwsKms(s) => Arc::new(super::awskms::AwsKms::connect(s).await?),
        #[cfg(not(feature = "awskms"))]
        External::AwsKms(_) => {
            return Err(ProviderError::Refused(
                "this hush was built without the awskms feature; rebuild with --features awskms"
                    .into(),
            ))
        }
    })
}

/// Connects, checks the provider answers, and opens (or on first start
/// makes) the local key. Returns the keys and whether the wrapped key file
/// was created by this call.
pub async fn open(external: &External, wrapped_file: &Path) -> Result<(RootKeys, bool), String> {
    let name = external.name();
    let provider = provider(external)
        .await
        .map_err(|e| format!("root key provider {name}: {e}"))?;
    let shown = provider.describe();
    provider.health().await.map_err(|e| match e {
        ProviderError::Unavailable(e) => format!(
            "root key provider {name} is unreachable ({shown}): {e}; start it or fix the [{name}] settings, then start hush again"
        ),
        ProviderError::Refused(e) => format!(
            "root key provider {name} refused hush ({shown}): {e}; check the key and hush's permissions on it"
        ),
    })?;
    let (local, created) = wrapped_root::load_or_create(provider.as_ref(), wrapped_file)
        .await
        .map_err(|e| match e {
            WrappedRootError::File(e) => format!("root key provider {name}: {e}"),
            WrappedRootError::Provider(e) => format!(
                "root key provider {name} cannot unwrap {} ({shown}): {e}",
                wrapped_file.display()
            ),
        })?;
    tracing::info!("root key provider: {shown}");
    Ok((RootKeys::external(provider, local), created))
}
