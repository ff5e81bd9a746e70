//! `hush run --mount`: the secrets as an ephemeral file for programs that
//! read a file rather than their environment.
//!
//! Creation never exposes the bytes to anyone but the owner: the file is
//! created with `O_CREAT|O_EXCL|O_NOFOLLOW` and mode 0600 in the same
//! `open(2)` (the umask can only narrow that), so there is no moment with
//! wider permissions, and an existing file or a planted symlink at the path is
//! refused rather than followed or overwritten.
//!
//! Where: an explicit path is used exactly as given (its directory must
//! exist). Without one, a fresh private directory (0700, random name) is made
//! on a memory filesystem — `$XDG_RUNTIME_DIR` when it is set, ours and
//! closed to others, else `/dev/shm`, else the temporary directory — and the
//! file goes inside it, so the bytes normally never reach a disk.
//!
//! Removal: [`MountFile`] removes the file (and its private directory) when
//! dropped, i.e. once the supervised child has exited — including when hush
//! got SIGTERM/SIGINT, which it forwards and then waits for the child. A
//! SIGKILL of hush cannot be caught: the file then stays until the memory
//! filesystem is cleared (reboot, or logout for `$XDG_RUNTIME_DIR`).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The file's mode: owner read/write only.
pub const MODE: u32 = 0o600;

/// Where to put the file.
pub enum Location {
    /// Exactly this path (must not exist yet).
    Path(PathBuf),
    /// A private directory on a memory filesystem, the file named `file_name`.
    Auto { file_name: String },
}

/// The mounted file; removed on drop.
pub struct MountFile {
    path: PathBuf,
    /// The private directory around the file, when hush made one.
    dir: Option<PathBuf>,
}

impl MountFile {
    /// Create the file at `location` holding `bytes`. Errors come from the
    /// file system and never carry the content.
    pub fn create(location: Location, bytes: &[u8]) -> io::Result<MountFile> {
        let (path, dir) = match location {
            Location::Path(p) => (p, None),
            Location::Auto { file_name } => {
                let dir = private_dir()?;
                (dir.join(file_name), Some(dir))
            }
        };
        // From here on, dropping `mounted` undoes whatever exists.
        let mut mounted = MountFile { path, dir };
        let opened = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(MODE)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
            .open(&mounted.path);
        let mut file = match opened {
            Ok(f) => f,
            Err(e) => {
                // Not ours: never remove a file that was already there.
                mounted.path = PathBuf::new();
                return Err(e);
            }
        };
        file.write_all(bytes)?;
        file.sync_all()?;
        Ok(mounted)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for MountFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
        if let Some(dir) = &self.dir {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// A fresh directory only we can enter, on the first base that takes it:
/// `$XDG_RUNTIME_DIR` (when it is a directory closed to others, as the XDG
/// spec requires), `/dev/shm`, then the temporary directory.
fn private_dir() -> io::Result<PathBuf> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .filter(|d| closed_to_others(d));
    let bases = runtime
        .into_iter()
        .chain([PathBuf::from("/dev/shm"), std::env::temp_dir()]);
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no usable directory");
    for base in bases {
        match make_private_dir_in(&base) {
            Ok(dir) => return Ok(dir),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn closed_to_others(dir: &Path) -> bool {
    fs::metadata(dir).is_ok_and(|m| m.is_dir() && m.mode() & 0o077 == 0)
}

/// mkdir with mode 0700 (the umask can only narrow it) under a random name;
/// an existing name is never reused.
fn make_private_dir_in(base: &Path) -> io::Result<PathBuf> {
    for _ in 0..8 {
        let mut raw = [0u8; 12];
        getrandom::getrandom(&mut raw).map_err(|e| io::Error::other(e.to_string()))?;
        let name: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let dir = base.join(format!("hush-mount-{name}"));
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free directory name",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_path_is_0600_and_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.env");
        let m = MountFile::create(Location::Path(path.clone()), b"A=1\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"A=1\n");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        drop(m);
        assert!(!path.exists());
    }

    #[test]
    fn existing_file_or_symlink_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("taken");
        fs::write(&path, "old").unwrap();
        assert!(MountFile::create(Location::Path(path.clone()), b"new").is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        let link = dir.path().join("link");
        let target = dir.path().join("target");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(MountFile::create(Location::Path(link), b"new").is_err());
        assert!(!target.exists());
    }

    #[test]
    fn auto_location_is_a_private_directory_removed_on_drop() {
        let m = MountFile::create(
            Location::Auto {
                file_name: "secrets.json".into(),
            },
            b"{}",
        )
        .unwrap();
        let dir = m.path().parent().unwrap().to_path_buf();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        assert_eq!(fs::metadata(m.path()).unwrap().mode() & 0o777, 0o600);
        drop(m);
        assert!(!dir.exists());
    }
}
