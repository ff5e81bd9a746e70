//! Writing rendered files: a temp file in the destination's directory,
//! created with the final mode (never wider for a moment), written, fsynced,
//! renamed over the destination, and the directory fsynced. A reader sees
//! the old file or the new one, never a part.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// What `write_if_changed` did.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Outcome {
    Written,
    Unchanged,
}

/// The destination's current bytes, if it exists and is no larger than `max`.
fn current(path: &Path, max: usize) -> Option<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    f.take(max as u64 + 1).read_to_end(&mut buf).ok()?;
    (buf.len() <= max).then_some(buf)
}

/// Writes `bytes` to `path` with `mode` unless the file already holds
/// exactly these bytes (then only its mode is corrected).
pub fn write_if_changed(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<Outcome> {
    if current(path, bytes.len()).as_deref() == Some(bytes) {
        let perms = std::fs::metadata(path)?.permissions();
        if perms.mode() & 0o7777 != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
        return Ok(Outcome::Unchanged);
    }
    write_atomic(path, bytes, mode)?;
    Ok(Outcome::Written)
}

/// Replaces `path` with `bytes` atomically (see the module doc).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut suffix = [0u8; 8];
    getrandom::getrandom(&mut suffix).map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = dir.join(format!(".{name}.hush-tmp-{}", hex::encode(suffix)));
    // 0600 at creation (the umask can only narrow it); the final mode is set
    // on the open file before anything is written.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let result = (|| {
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself survives a crash once the directory is synced.
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_with_mode_and_skips_identical_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.env");
        assert_eq!(
            write_if_changed(&p, b"A=1\n", 0o600).unwrap(),
            Outcome::Written
        );
        let meta = std::fs::metadata(&p).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let ino = std::os::unix::fs::MetadataExt::ino(&meta);
        assert_eq!(
            write_if_changed(&p, b"A=1\n", 0o640).unwrap(),
            Outcome::Unchanged
        );
        let meta = std::fs::metadata(&p).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::ino(&meta), ino);
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
        assert_eq!(
            write_if_changed(&p, b"A=2\n", 0o600).unwrap(),
            Outcome::Written
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"A=2\n");
        // No temp file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
