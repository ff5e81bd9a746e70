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
//! A FIFO instead (`--mount-max-reads N`): a named pipe made with mode 0600
//! (`mkfifo` never follows or replaces an existing path), served by a
//! thread that waits for a reader (polling a non-blocking open, so it can
//! be stopped), writes the bytes, puts a fresh pipe at the path (so the next
//! reader never shares the one still being drained) and closes; after N
//! reads it removes the path. Nothing is ever on a disk, and a reader that comes late finds no
//! file rather than stale secrets.
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use zeroize::Zeroizing;

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
    /// A FIFO's serving thread.
    fifo: Option<FifoServer>,
}

/// The thread that serves a FIFO's reads; it removes the FIFO after the
/// last one (and says so through `removed`).
struct FifoServer {
    stop: Arc<AtomicBool>,
    removed: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often a waiting FIFO server checks for a reader (and for `stop`).
const FIFO_POLL: std::time::Duration = std::time::Duration::from_millis(10);

impl MountFile {
    /// Where the file goes (for `Auto`, a new private directory that the
    /// value dropped removes); nothing is created at the path yet.
    fn at(location: Location) -> io::Result<MountFile> {
        let (path, dir) = match location {
            Location::Path(p) => (p, None),
            Location::Auto { file_name } => {
                let dir = private_dir()?;
                (dir.join(file_name), Some(dir))
            }
        };
        Ok(MountFile {
            path,
            dir,
            fifo: None,
        })
    }

    /// Create the file at `location` holding `bytes`. Errors come from the
    /// file system and never carry the content.
    pub fn create(location: Location, bytes: &[u8]) -> io::Result<MountFile> {
        // From here on, dropping `mounted` undoes whatever exists.
        let mut mounted = MountFile::at(location)?;
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

    /// A FIFO at `location` that hands `bytes` to `reads` readers, one
    /// whole copy each, then disappears.
    pub fn create_fifo(
        location: Location,
        bytes: Zeroizing<Vec<u8>>,
        reads: u32,
    ) -> io::Result<MountFile> {
        let mut mounted = MountFile::at(location)?;
        if let Err(e) = nix::unistd::mkfifo(
            &mounted.path,
            nix::sys::stat::Mode::from_bits_truncate(MODE),
        ) {
            mounted.path = PathBuf::new();
            return Err(e.into());
        }
        let ino = fs::symlink_metadata(&mounted.path)?.ino();
        let stop = Arc::new(AtomicBool::new(false));
        let removed = Arc::new(AtomicBool::new(false));
        let thread = {
            let (path, stop, removed) = (mounted.path.clone(), stop.clone(), removed.clone());
            std::thread::Builder::new()
                .name("hush-mount-fifo".into())
                .spawn(move || serve_fifo(&path, ino, &bytes, reads, &stop, &removed))?
        };
        mounted.fifo = Some(FifoServer {
            stop,
            removed,
            thread: Some(thread),
        });
        Ok(mounted)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Opens the FIFO for writing once a reader has it open; None when stopped.
/// The pipe opened must be the one hush made (same inode, still a FIFO).
fn open_for_reader(path: &Path, ino: u64, stop: &AtomicBool) -> Option<fs::File> {
    use std::os::unix::fs::FileTypeExt;
    while !stop.load(Ordering::SeqCst) {
        let opened = OpenOptions::new()
            .write(true)
            .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
            .open(path);
        match opened {
            Ok(f) => {
                let ours = f
                    .metadata()
                    .is_ok_and(|m| m.file_type().is_fifo() && m.ino() == ino);
                if !ours {
                    return None;
                }
                // Blocking writes from here: the reader takes its time.
                let flags = nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_GETFL).ok()?;
                let mut flags = nix::fcntl::OFlag::from_bits_truncate(flags);
                flags.remove(nix::fcntl::OFlag::O_NONBLOCK);
                nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_SETFL(flags)).ok()?;
                return Some(f);
            }
            // ENXIO: no reader yet.
            Err(e) if e.raw_os_error() == Some(nix::libc::ENXIO) => std::thread::sleep(FIFO_POLL),
            Err(_) => return None,
        }
    }
    None
}

/// A fresh FIFO moved over `path` (atomically: a reader finds the old one
/// or the new one, never nothing); the new inode.
fn replace_fifo(path: &Path) -> io::Result<u64> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let next = path.with_file_name(format!(".{name}.next"));
    nix::unistd::mkfifo(&next, nix::sys::stat::Mode::from_bits_truncate(MODE))?;
    if let Err(e) = fs::rename(&next, path) {
        let _ = fs::remove_file(&next);
        return Err(e);
    }
    Ok(fs::symlink_metadata(path)?.ino())
}

/// Serves `reads` copies. A reader keeps its pipe open until it has read
/// the end, so each copy goes through a pipe of its own: before a copy's
/// write end is closed, a fresh FIFO replaces it at the path (or, after the
/// last copy, the path is removed). The next reader can therefore never
/// open the pipe the previous one is still draining and get two copies.
fn serve_fifo(
    path: &Path,
    mut ino: u64,
    bytes: &[u8],
    reads: u32,
    stop: &AtomicBool,
    removed: &AtomicBool,
) {
    for n in 1..=reads {
        let Some(mut f) = open_for_reader(path, ino, stop) else {
            return;
        };
        // A reader that leaves early (EPIPE) still used its read.
        let _ = f.write_all(bytes);
        if n < reads {
            match replace_fifo(path) {
                Ok(next) => ino = next,
                // No next pipe: nothing more is served; Drop cleans up.
                Err(_) => return,
            }
        } else if fs::remove_file(path).is_ok() {
            removed.store(true, Ordering::SeqCst);
        }
        drop(f);
    }
}

impl Drop for MountFile {
    fn drop(&mut self) {
        if let Some(mut server) = self.fifo.take() {
            server.stop.store(true, Ordering::SeqCst);
            // A waiting server stops within one poll; one blocked writing to
            // a reader that holds the pipe open but never reads is left
            // behind (hush is exiting) rather than waited for.
            if let Some(t) = server.thread.take() {
                let deadline = std::time::Instant::now() + 10 * FIFO_POLL;
                while !t.is_finished() && std::time::Instant::now() < deadline {
                    std::thread::sleep(FIFO_POLL / 2);
                }
                if t.is_finished() {
                    let _ = t.join();
                }
            }
            if server.removed.load(Ordering::SeqCst) {
                self.path = PathBuf::new();
            }
        }
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
    fn fifo_serves_n_reads_then_is_gone() {
        use std::os::unix::fs::FileTypeExt;
        let m = MountFile::create_fifo(
            Location::Auto {
                file_name: "s.env".into(),
            },
            Zeroizing::new(b"A=1\n".to_vec()),
            2,
        )
        .unwrap();
        let path = m.path().to_path_buf();
        let meta = fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_fifo());
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(fs::read(&path).unwrap(), b"A=1\n");
        assert_eq!(fs::read(&path).unwrap(), b"A=1\n");
        // The server removes it after the second read.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while path.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!path.exists());
        let dir = path.parent().unwrap().to_path_buf();
        drop(m);
        assert!(!dir.exists());
    }

    #[test]
    fn an_unread_fifo_is_removed_on_drop_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        let m = MountFile::create_fifo(
            Location::Path(path.clone()),
            Zeroizing::new(b"x".to_vec()),
            3,
        )
        .unwrap();
        assert!(path.exists());
        drop(m);
        assert!(!path.exists());
        // An existing path is refused and left alone.
        fs::write(&path, "mine").unwrap();
        assert!(MountFile::create_fifo(
            Location::Path(path.clone()),
            Zeroizing::new(Vec::new()),
            1
        )
        .is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "mine");
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
