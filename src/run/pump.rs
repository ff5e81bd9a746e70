//! Blocking copy loop connecting a child's output fd to hush's own stdout or
//! stderr through a `Masker`. One thread per stream.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::mask::{LazyMaskSet, Masker};
use std::sync::Arc;

/// Large reads amortise syscalls and give the matcher long runs to scan.
const READ_BUF: usize = 64 * 1024;

/// How long a possible secret prefix may be held back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskHold {
    /// Hold until resolved or EOF (never leaks a prefix, may stall a prompt).
    Strict,
    /// Hold at most this long without new input, then emit the prefix.
    For(Duration),
}

/// Totals for one stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PumpReport {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub counts: Vec<(String, u64)>,
}

/// Copy `src` to `dst` until EOF on src, masking through `masker` when Some
/// (pass-through copy when None). See the module docs of `mask` for the
/// masking rules.
///
/// Error policy: the child must never block on a full pipe because of us,
/// so write failures stop the writing but not the draining. A broken pipe
/// (reader went away, e.g. `hush run ... | head`) is normal and returns Ok;
/// any other write error is returned after src reaches EOF. Read errors
/// other than EINTR/EIO/EAGAIN end the pump with the error (after writing
/// out whatever the masker still holds).
pub fn pump(
    src: File,
    dst: &mut dyn Write,
    masker: Option<Masker>,
    hold: MaskHold,
) -> io::Result<PumpReport> {
    pump_live(src, dst, masker, hold, None)
}

/// `pump`, taking `live`'s new set whenever it is replaced (a command that
/// keeps running while its secrets change): the check runs after each read
/// and before it is masked, so output written after the replacement is
/// masked with the new set. Bytes the old masker held back (a possible
/// prefix of a secret) go through the new one.
fn pump_live(
    src: File,
    dst: &mut dyn Write,
    mut masker: Option<Masker>,
    hold: MaskHold,
    live: Option<&LazyMaskSet>,
) -> io::Result<PumpReport> {
    // None: the first read takes the set as it is then, however it was built.
    let mut seen = None;
    let mut carried: Vec<(String, u64)> = Vec::new();
    let mut inbuf = vec![0u8; READ_BUF];
    let mut out: Vec<u8> = Vec::with_capacity(READ_BUF);
    let mut sink = Sink {
        dst,
        stopped: false,
        error: None,
        written: 0,
    };
    let mut bytes_in: u64 = 0;
    let mut read_error = None;

    loop {
        if let (Some(m), MaskHold::For(limit)) = (masker.as_mut(), hold) {
            // Bytes are held: wait for more input only as long as allowed.
            if m.pending_len() > 0 && !wait_readable(&src, limit)? {
                out.clear();
                m.flush_pending(&mut out);
                sink.write(&out);
                continue;
            }
        }
        let n = match read_chunk(&src, &mut inbuf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                // Still write out what the masker holds before failing.
                read_error = Some(e);
                break;
            }
        };
        bytes_in += n as u64;
        if let (Some(l), Some(m)) = (live, masker.as_mut()) {
            if seen != Some(l.generation()) {
                seen = Some(l.generation());
                let mut held = Vec::new();
                m.flush_pending(&mut held);
                carried.extend(m.counts());
                *m = Masker::new(l.get());
                out.clear();
                m.push(&held, &mut out);
                sink.write(&out);
            }
        }
        match masker.as_mut() {
            Some(m) => {
                out.clear();
                m.push(&inbuf[..n], &mut out);
                sink.write(&out);
            }
            None => sink.write(&inbuf[..n]),
        }
    }

    let counts = match masker.as_mut() {
        Some(m) => {
            out.clear();
            m.finish(&mut out);
            sink.write(&out);
            merge_counts(carried, m.counts())
        }
        None => Vec::new(),
    };
    if let Some(err) = read_error.or(sink.error) {
        return Err(err);
    }
    Ok(PumpReport {
        bytes_in,
        bytes_out: sink.written,
        counts,
    })
}

/// How long a command may run silently before its mask set is built anyway.
/// A command that ends sooner without output never pays for the build (for
/// `hush run -- true` it was most of hush's CPU); one that runs longer has it
/// ready long before most programs print their first line.
const BUILD_GRACE: Duration = Duration::from_millis(10);

/// Like [`pump`], with a mask set that may not be built yet: the build starts
/// at the command's first output or once it has run `BUILD_GRACE` without
/// any, whichever comes first. Output waits for the set, so nothing is ever
/// emitted unmasked, and a command that prints nothing never waits for it.
pub fn pump_lazy(
    src: File,
    dst: &mut dyn Write,
    set: Option<Arc<LazyMaskSet>>,
    hold: MaskHold,
) -> io::Result<PumpReport> {
    let Some(lazy) = set else {
        return pump(src, dst, None, hold);
    };
    let mut fds = [PollFd::new(src.as_fd(), PollFlags::POLLIN)];
    let mut timeout = PollTimeout::try_from(BUILD_GRACE).unwrap_or(PollTimeout::ZERO);
    let has_data = loop {
        match poll(&mut fds, timeout) {
            Ok(0) => {
                // Silent so far: build in the background from now on.
                lazy.start();
                timeout = PollTimeout::NONE;
            }
            // Anything but a bare hang-up may carry data: mask it.
            Ok(_) => break fds[0].revents() != Some(PollFlags::POLLHUP),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    // Only end of output and no data: there is nothing to mask.
    let masker = has_data.then(|| Masker::new(lazy.get()));
    pump_live(src, dst, masker, hold, Some(&lazy))
}

/// Per-secret counts of the maskers a stream went through, summed.
fn merge_counts(a: Vec<(String, u64)>, b: Vec<(String, u64)>) -> Vec<(String, u64)> {
    let mut sum = std::collections::BTreeMap::new();
    for (k, n) in a.into_iter().chain(b) {
        *sum.entry(k).or_insert(0) += n;
    }
    sum.into_iter().collect()
}

/// Read once, retrying EINTR. EIO is how a pty master reports that the
/// slave side has been closed by the child, i.e. EOF. A non-blocking fd is
/// tolerated by waiting for it instead of failing on EAGAIN.
fn read_chunk(mut src: &File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match src.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                while !wait_readable(src, Duration::from_secs(3600))? {}
            }
            Err(e) if e.raw_os_error() == Some(Errno::EIO as i32) => return Ok(0),
            Err(e) => return Err(e),
        }
    }
}

/// Wait up to `limit` for `src` to become readable (data, EOF or error all
/// count: the following read will not block). Returns false on timeout.
fn wait_readable(src: &File, limit: Duration) -> io::Result<bool> {
    let deadline = Instant::now() + limit;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        // Round up so a sub-millisecond remainder does not become a busy 0.
        let millis = remaining.as_micros().div_ceil(1000);
        let timeout = i32::try_from(millis)
            .ok()
            .and_then(|ms| PollTimeout::try_from(ms).ok())
            .unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(src.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Destination wrapper implementing the write-error policy.
struct Sink<'a> {
    dst: &'a mut dyn Write,
    stopped: bool,
    error: Option<io::Error>,
    written: u64,
}

impl Sink<'_> {
    fn write(&mut self, bytes: &[u8]) {
        if self.stopped || bytes.is_empty() {
            return;
        }
        // write_all retries EINTR itself. Flush every batch: dst may be
        // buffered, and output must not wait for more input.
        let result = self.dst.write_all(bytes).and_then(|()| self.dst.flush());
        match result {
            Ok(()) => self.written += bytes.len() as u64,
            Err(e) => {
                self.stopped = true;
                if e.kind() != io::ErrorKind::BrokenPipe {
                    self.error = Some(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::{MaskOptions, MaskSet};
    use std::io::Read;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::thread;

    const SECRET: &[u8] = b"tok-9f8e7d6c5b4a";

    fn masker() -> Masker {
        let set = MaskSet::new(
            &[("API_TOKEN".into(), SECRET.to_vec())],
            &MaskOptions::default(),
        );
        Masker::new(Arc::new(set))
    }

    /// Child-side writer, pump thread, and the reading end of its output.
    fn start(
        masker: Option<Masker>,
        hold: MaskHold,
    ) -> (
        UnixStream,
        UnixStream,
        thread::JoinHandle<io::Result<PumpReport>>,
    ) {
        let (child_w, src) = UnixStream::pair().unwrap();
        let (mut dst, reader) = UnixStream::pair().unwrap();
        let src = File::from(OwnedFd::from(src));
        let handle = thread::spawn(move || pump(src, &mut dst, masker, hold));
        (child_w, reader, handle)
    }

    /// Read exactly `n` bytes or fail after `timeout`.
    fn read_n(reader: &mut UnixStream, n: usize, timeout: Duration) -> Vec<u8> {
        reader.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = vec![0; n];
        reader.read_exact(&mut buf).unwrap();
        buf
    }

    #[test]
    fn secret_split_across_slow_writes_is_masked() {
        let (mut w, mut r, h) = start(Some(masker()), MaskHold::For(Duration::from_millis(250)));
        w.write_all(b"token: tok-9f8e").unwrap();
        thread::sleep(Duration::from_millis(100));
        w.write_all(b"7d6c5b4a\n").unwrap();
        drop(w);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"token: ***\n");
        let report = h.join().unwrap().unwrap();
        assert_eq!(report.bytes_in, 24);
        assert_eq!(report.bytes_out, 11);
        assert_eq!(report.counts, vec![("API_TOKEN".to_string(), 1)]);
    }

    #[test]
    fn output_without_newline_is_not_delayed() {
        let (mut w, mut r, h) = start(Some(masker()), MaskHold::Strict);
        // The writer keeps the pipe open: the text must arrive within
        // 100 ms without a newline or EOF.
        w.write_all(b"Password: ").unwrap();
        assert_eq!(
            read_n(&mut r, 10, Duration::from_millis(100)),
            b"Password: "
        );
        // A complete secret at the end of a write goes out at once too.
        w.write_all(b"tok-9f8e7d6c5b4a").unwrap();
        assert_eq!(read_n(&mut r, 3, Duration::from_millis(100)), b"***");
        drop(w);
        h.join().unwrap().unwrap();
    }

    #[test]
    fn held_prefix_is_flushed_after_the_hold() {
        let (mut w, mut r, h) = start(Some(masker()), MaskHold::For(Duration::from_millis(50)));
        let started = Instant::now();
        w.write_all(b"prompt tok-9").unwrap();
        assert_eq!(read_n(&mut r, 7, Duration::from_millis(100)), b"prompt ");
        assert_eq!(read_n(&mut r, 5, Duration::from_millis(1000)), b"tok-9");
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(45), "{waited:?}");
        // The rest of the secret arriving afterwards is still masked.
        w.write_all(b"f8e7d6c5b4a!\n").unwrap();
        drop(w);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"***!\n");
        h.join().unwrap().unwrap();
    }

    #[test]
    fn strict_hold_waits_for_eof_which_flushes() {
        let (mut w, mut r, h) = start(Some(masker()), MaskHold::Strict);
        w.write_all(b"ends with tok-9f8").unwrap();
        assert_eq!(
            read_n(&mut r, 10, Duration::from_millis(100)),
            b"ends with "
        );
        r.set_read_timeout(Some(Duration::from_millis(150)))
            .unwrap();
        let mut byte = [0u8; 1];
        assert!(r.read(&mut byte).is_err(), "prefix must be held until EOF");
        drop(w);
        let mut out = Vec::new();
        r.set_read_timeout(None).unwrap();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"tok-9f8");
        h.join().unwrap().unwrap();
    }

    #[test]
    fn pass_through_without_masker() {
        let (mut w, mut r, h) = start(None, MaskHold::Strict);
        let data: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
        let writer = thread::spawn(move || {
            w.write_all(&data).unwrap();
            data
        });
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, writer.join().unwrap());
        let report = h.join().unwrap().unwrap();
        assert_eq!((report.bytes_in, report.bytes_out), (300_000, 300_000));
    }

    #[test]
    fn broken_pipe_keeps_draining() {
        let (mut w, r, h) = start(Some(masker()), MaskHold::Strict);
        drop(r);
        // Far more than any socket buffer: would block forever if the pump
        // stopped reading.
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..64 {
            w.write_all(&chunk).unwrap();
        }
        drop(w);
        let report = h.join().unwrap().unwrap();
        assert_eq!(report.bytes_in, 64 * 64 * 1024);
    }

    #[test]
    fn non_blocking_source_is_waited_for() {
        let (mut w, src) = UnixStream::pair().unwrap();
        src.set_nonblocking(true).unwrap();
        let src = File::from(OwnedFd::from(src));
        let h = thread::spawn(move || {
            let mut out = Vec::new();
            pump(src, &mut out, Some(masker()), MaskHold::Strict).map(|_| out)
        });
        thread::sleep(Duration::from_millis(50));
        w.write_all(b"late tok-9f8e7d6c5b4a\n").unwrap();
        drop(w);
        assert_eq!(h.join().unwrap().unwrap(), b"late ***\n");
    }

    #[test]
    fn eio_is_end_of_stream() {
        // A pty master reports EIO once the child side is closed. Without a
        // pty dependency, reading our own memory at address 0 (never mapped)
        // is a portable-enough way to get a read() that fails with EIO.
        let Ok(src) = File::open("/proc/self/mem") else {
            return;
        };
        let mut sink = Vec::new();
        let report = pump(src, &mut sink, Some(masker()), MaskHold::Strict).unwrap();
        assert_eq!(report.bytes_in, 0);
    }

    #[test]
    fn read_errors_other_than_eio_are_reported() {
        // A directory opens fine but read() fails with EISDIR.
        let src = File::open("/").unwrap();
        let mut sink = Vec::new();
        assert!(pump(src, &mut sink, None, MaskHold::Strict).is_err());
    }

    #[test]
    fn a_replaced_set_masks_what_is_read_after_it_and_keeps_held_bytes() {
        let old = b"old-canary-5e6f7a8b".to_vec();
        let new = b"new-canary-1a2b3c4d".to_vec();
        let lazy = LazyMaskSet::ready(MaskSet::new(
            &[("K".into(), old.clone())],
            &MaskOptions::default(),
        ));
        let (r, mut w) = pipe_files();
        let pumped = Arc::clone(&lazy);
        let h = thread::spawn(move || {
            let mut out = Vec::new();
            pump_lazy(r, &mut out, Some(pumped), MaskHold::Strict).map(|rep| (out, rep))
        });
        // A prefix of an old value is held back across the replacement. (A
        // new value cannot come before it: the command learns it after.)
        w.write_all(b"before old-canary-5e6f7a8b old-canary-")
            .unwrap();
        thread::sleep(Duration::from_millis(100));
        lazy.replace(MaskSet::new(
            &[("K".into(), old), ("K".into(), new)],
            &MaskOptions::default(),
        ));
        w.write_all(b"5e6f7a8b after new-canary-1a2b3c4d old-canary-5e6f7a8b\n")
            .unwrap();
        drop(w);
        let (out, report) = h.join().unwrap().unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("canary"), "{text}");
        assert_eq!(text, "before *** *** after *** ***\n");
        assert_eq!(report.counts, vec![("K".to_string(), 4)], "{text}");
    }

    /// A mask set whose `built` flag turns true once it has been built.
    fn watched_set() -> (Arc<LazyMaskSet>, Arc<AtomicBool>) {
        let built = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&built);
        let lazy = LazyMaskSet::deferred(
            vec![("K".into(), b"grace-canary-31337".to_vec())],
            MaskOptions::default(),
            move |_| flag.store(true, Ordering::SeqCst),
        );
        (lazy, built)
    }

    fn pipe_files() -> (File, File) {
        let (r, w) = nix::unistd::pipe().unwrap();
        (File::from(r), File::from(w))
    }

    #[test]
    fn a_silent_command_gets_its_set_built_after_the_grace_and_still_masked() {
        let (lazy, built) = watched_set();
        let (r, mut w) = pipe_files();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(BUILD_GRACE * 20);
            let built_before_output = built.load(Ordering::SeqCst);
            w.write_all(b"x grace-canary-31337 y\n").unwrap();
            built_before_output
        });
        let mut out = Vec::new();
        pump_lazy(r, &mut out, Some(lazy), MaskHold::Strict).unwrap();
        assert!(
            writer.join().unwrap(),
            "not built while the command was silent"
        );
        assert_eq!(String::from_utf8(out).unwrap(), "x *** y\n");
    }

    #[test]
    fn a_command_that_ends_without_output_never_builds_the_set() {
        let (lazy, built) = watched_set();
        let (r, w) = pipe_files();
        drop(w);
        let mut out = Vec::new();
        pump_lazy(r, &mut out, Some(lazy), MaskHold::Strict).unwrap();
        std::thread::sleep(BUILD_GRACE * 3);
        assert!(out.is_empty());
        assert!(
            !built.load(Ordering::SeqCst),
            "built for a command that printed nothing"
        );
    }
}
