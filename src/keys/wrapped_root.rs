//! The local key of an external provider (see the module doc of `keys`):
//! 32 random bytes made on first start, wrapped by the provider and kept in
//! a file (`root_key_wrapped_file`, default `DATA_DIR/root-key.wrapped`).
//! The file is useless without the provider; replicas sharing a PostgreSQL
//! database share it (copy it), like they share a root key file today.

use super::{ProviderError, RootKeyProvider};
use crate::crypto::Key;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use std::io::Write as _;
use std::path::Path;

/// Binds the wrapped local key to its purpose: no data key unwraps as it.
const AAD: &[u8] = b"hush-local-root-v1";
const HEADER: &str = "hush-wrapped-root-key v1";
const MAX_FILE_BYTES: u64 = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum WrappedRootError {
    #[error("{0}")]
    File(String),
    #[error("{0}")]
    Provider(#[from] ProviderError),
}

/// The file's content: `key` wrapped by `provider`, and which provider.
async fn wrapped_text(
    provider: &dyn RootKeyProvider,
    key: &Key,
) -> Result<String, WrappedRootError> {
    let blob = provider.wrap(AAD, key.bytes()).await?;
    Ok(format!(
        "{HEADER} {} {}\n",
        provider.kind(),
        B64.encode(&blob)
    ))
}

/// The file's text, bounded; None when there is no file.
fn read_text(path: &Path) -> Result<Option<String>, WrappedRootError> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() > MAX_FILE_BYTES => Err(WrappedRootError::File(format!(
            "{shown} is larger than {MAX_FILE_BYTES} bytes: not a wrapped root key file"
        ))),
        Ok(_) => std::fs::read_to_string(path)
            .map(Some)
            .map_err(|e| WrappedRootError::File(format!("cannot read {shown}: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(WrappedRootError::File(format!("cannot read {shown}: {e}"))),
    }
}

/// Reads and unwraps the local key, or makes one when the file does not
/// exist. Returns the key and whether this call created the file.
pub async fn load_or_create(
    provider: &dyn RootKeyProvider,
    path: &Path,
) -> Result<(Key, bool), WrappedRootError> {
    let shown = path.display();
    match read_text(path)? {
        Some(text) => {
            let blob = parse(&text, provider.kind())
                .map_err(|e| WrappedRootError::File(format!("{shown}: {e}")))?;
            let bytes = provider.unwrap(AAD, &blob).await?;
            let key = Key::from_bytes(&bytes).map_err(|_| {
                WrappedRootError::File(format!("{shown} did not unwrap to a 32-byte key"))
            })?;
            Ok((key, false))
        }
        None => {
            let key = Key::generate().map_err(|e| WrappedRootError::File(e.to_string()))?;
            let text = wrapped_text(provider, &key).await?;
            write_new(path, text.as_bytes())
                .map_err(|e| WrappedRootError::File(format!("cannot create {shown}: {e}")))?;
            Ok((key, true))
        }
    }
}

/// The provider kind that wrapped the file at `path`; None when there is
/// no file.
pub fn wrapped_by(path: &Path) -> Result<Option<String>, WrappedRootError> {
    let Some(text) = read_text(path)? else {
        return Ok(None);
    };
    text.trim()
        .strip_prefix(HEADER)
        .and_then(|rest| rest.strip_prefix(' '))
        .and_then(|rest| rest.split(' ').next())
        .filter(|kind| !kind.is_empty())
        .map(|kind| Some(kind.to_owned()))
        .ok_or_else(|| {
            WrappedRootError::File(format!("{}: not a wrapped root key file", path.display()))
        })
}

/// Writes `key` wrapped by `provider` in place of the file at `path`
/// (temp file, fsync, rename): a migration to another provider keeps the
/// local key and changes only what wraps it.
pub async fn replace(
    provider: &dyn RootKeyProvider,
    path: &Path,
    key: &Key,
) -> Result<(), WrappedRootError> {
    let text = wrapped_text(provider, key).await?;
    let tmp = path.with_extension("wrapped.tmp");
    let _ = std::fs::remove_file(&tmp);
    let fail =
        |e: std::io::Error| WrappedRootError::File(format!("cannot write {}: {e}", path.display()));
    write_new(&tmp, text.as_bytes()).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(fail)?;
    }
    Ok(())
}

fn parse(text: &str, kind: &str) -> Result<Vec<u8>, String> {
    let mut parts = text.trim().rsplitn(3, ' ');
    let (Some(blob), Some(found), Some(HEADER)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("not a wrapped root key file".into());
    };
    if found != kind {
        return Err(format!(
            "wrapped by the {found} root key provider, but this server uses {kind}"
        ));
    }
    B64.decode(blob)
        .map_err(|_| "not a wrapped root key file".into())
}

/// 0600, created only if absent (two servers starting at once cannot
/// overwrite each other's key), flushed before use.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Removes a file this start created, when the database turned out to
/// belong to another key (a replica that should have copied the file).
pub fn discard(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        tracing::warn!("cannot remove {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn creates_then_reads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root-key.wrapped");
        let provider = super::super::local::Local::new(Key::generate().unwrap());
        let (made, created) = load_or_create(&provider, &path).await.unwrap();
        assert!(created);
        let (read, created) = load_or_create(&provider, &path).await.unwrap();
        assert!(!created);
        assert_eq!(made.bytes(), read.bytes());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("hush-wrapped-root-key v1 file "));
        assert!(!text.contains(&*made.to_base64()));
        let other = super::super::local::Local::new(Key::generate().unwrap());
        assert!(load_or_create(&other, &path).await.is_err());
        assert!(parse(&text, "transit")
            .unwrap_err()
            .contains("file root key provider"));
    }
}
