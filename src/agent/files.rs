//! Writing rendered files: a temp file in the destination's directory,
//! created with the final mode (never wider for a moment), written, fsynced,
//! renamed over the destination, and the directory fsynced. A reader sees
//! the old file or the new one, never a part.
//!
//! A template's `owner` is applied to the temp file (fchown) before the
//! rename, so the destination never exists with the wrong owner; changing
//! the owner needs root (or CAP_CHOWN), and the error says so.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Who should own a written file: a uid, a gid or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// As the config wrote it, for messages.
    pub label: String,
}

impl Owner {
    fn apply(&self, f: &std::fs::File) -> std::io::Result<()> {
        use nix::unistd::{fchown, Gid, Uid};
        fchown(
            f,
            self.uid.map(Uid::from_raw),
            self.gid.map(Gid::from_raw),
        )
        .map_err(|e| {
            let hint = if e == nix::errno::Errno::EPERM {
                " (changing a file's owner needs root or CAP_CHOWN; run the agent as that user or drop `owner`)"
            } else {
                ""
            };
            std::io::Error::new(
                std::io::Error::from(e).kind(),
                format!("cannot give it to owner {:?}: {}{hint}", self.label, e.desc()),
            )
        })
    }

    fn matches(&self, meta: &std::fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt;
        self.uid.is_none_or(|u| u == meta.uid()) && self.gid.is_none_or(|g| g == meta.gid())
    }
}

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

/// Writes `bytes` to `path` with `mode` (and `owner`) unless the file
/// already holds exactly these bytes (then only its mode and owner are
/// corrected).
pub fn write_if_changed(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<&Owner>,
) -> std::io::Result<Outcome> {
    if current(path, bytes.len()).as_deref() == Some(bytes) {
        let meta = std::fs::metadata(path)?;
        if meta.permissions().mode() & 0o7777 != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
        if let Some(o) = owner.filter(|o| !o.matches(&meta)) {
            o.apply(&std::fs::File::open(path)?)?;
        }
        return Ok(Outcome::Unchanged);
    }
    write_atomic_owned(path, bytes, mode, owner)?;
    Ok(Outcome::Written)
}

/// Replaces `path` with `bytes` atomically (see the module doc).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    write_atomic_owned(path, bytes, mode, None)
}

/// `write_atomic`, the temp file given to `owner` before the rename.
pub fn write_atomic_owned(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<&Owner>,
) -> std::io::Result<()> {
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
        if let Some(o) = owner {
            o.apply(&f)?;
        }
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
            write_if_changed(&p, b"A=1\n", 0o600, None).unwrap(),
            Outcome::Written
        );
        let meta = std::fs::metadata(&p).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let ino = std::os::unix::fs::MetadataExt::ino(&meta);
        assert_eq!(
            write_if_changed(&p, b"A=1\n", 0o640, None).unwrap(),
            Outcome::Unchanged
        );
        let meta = std::fs::metadata(&p).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::ino(&meta), ino);
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
        assert_eq!(
            write_if_changed(&p, b"A=2\n", 0o600, None).unwrap(),
            Outcome::Written
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"A=2\n");
        // No temp file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn owner_is_set_before_the_rename_or_refused_clearly() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("owned.env");
        let me = nix::unistd::geteuid().as_raw();
        if me == 0 {
            // root may give the file away: to nobody (65534), group 65534.
            let o = Owner {
                uid: Some(65534),
                gid: Some(65534),
                label: "65534:65534".into(),
            };
            write_if_changed(&p, b"A=1\n", 0o640, Some(&o)).unwrap();
            let meta = std::fs::metadata(&p).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
            // Unchanged bytes, owner drifted: corrected in place.
            std::os::unix::fs::chown(&p, Some(0), Some(0)).unwrap();
            assert_eq!(
                write_if_changed(&p, b"A=1\n", 0o640, Some(&o)).unwrap(),
                Outcome::Unchanged
            );
            assert_eq!(std::fs::metadata(&p).unwrap().uid(), 65534);
        } else {
            let o = Owner {
                uid: Some(0),
                gid: None,
                label: "root".into(),
            };
            let e = write_if_changed(&p, b"A=1\n", 0o600, Some(&o)).unwrap_err();
            assert!(e.to_string().contains("needs root"), "{e}");
            // Nothing was left: no destination, no temp file.
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
        // Our own ids always work.
        let o = Owner {
            uid: Some(me),
            gid: Some(nix::unistd::getegid().as_raw()),
            label: "me".into(),
        };
        write_if_changed(&p, b"A=2\n", 0o600, Some(&o)).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().uid(), me);
    }
}
