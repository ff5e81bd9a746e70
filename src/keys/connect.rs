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

/// `provider`, and a proof that it answers, as one line naming it.
pub async fn checked(external: &External) -> Result<Arc<dyn RootKeyProvider>, String> {
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
    Ok(provider)
}

/// Opens the keys while migrating from `previous` to `external`: the local
/// key stays the one `previous` held (`previous_local` for a file/env key,
/// else the wrapped file), and the wrapped file is written again under
/// `external` unless an earlier start did so already.
pub async fn open_migrating(
    external: &External,
    wrapped_file: &Path,
    previous: Arc<dyn RootKeyProvider>,
    previous_local: Option<crate::crypto::Key>,
) -> Result<RootKeys, String> {
    let name = external.name();
    let provider = checked(external).await?;
    let shown = wrapped_file.display();
    let file_error = |e: WrappedRootError| format!("migrating to root key provider {name}: {e}");
    let by = wrapped_root::wrapped_by(wrapped_file).map_err(file_error)?;
    let local = if by.as_deref() == Some(provider.kind()) {
        wrapped_root::load_or_create(provider.as_ref(), wrapped_file)
            .await
            .map_err(file_error)?
            .0
    } else {
        let local = match (previous_local, by) {
            (Some(k), _) => k,
            (None, Some(_)) => {
                wrapped_root::load_or_create(previous.as_ref(), wrapped_file)
                    .await
                    .map_err(file_error)?
                    .0
            }
            (None, None) => {
                return Err(format!(
                    "migrating to root key provider {name}: {shown} does not exist; the previous provider's wrapped key file is needed"
                ))
            }
        };
        wrapped_root::replace(provider.as_ref(), wrapped_file, &local)
            .await
            .map_err(file_error)?;
        tracing::info!("{shown} is now wrapped by the {name} root key provider");
        local
    };
    tracing::info!(
        "root key provider: {} (migrating from {}: run hush keys rotate-root)",
        provider.describe(),
        previous.describe()
    );
    Ok(RootKeys::external(provider, local).with_previous(previous))
}

/// Connects, checks the provider answers, and opens (or on first start
/// makes) the local key. Returns the keys and whether the wrapped key file
/// was created by this call.
pub async fn open(external: &External, wrapped_file: &Path) -> Result<(RootKeys, bool), String> {
    let name = external.name();
    let provider = checked(external).await?;
    let shown = provider.describe();
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
