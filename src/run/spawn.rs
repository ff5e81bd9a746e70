//! Building and starting the child: program lookup, stdio wiring (ptys,
//! pipes or inherited fds), the output pumps, hush's terminal mode and the
//! stdin copier.
//!
//! Stdio layout (decided once per `run`, from what hush's own fds are):
//! - stdout is a terminal -> the child's stdout is a pty ("A"), which is also
//!   the controlling terminal of the child's new session;
//! - stderr is a terminal -> the child's stderr is a second, separate pty
//!   ("B"), so stdout and stderr stay separate streams (B is never a
//!   controlling terminal: it is only an output device that makes isatty(2)
//!   true);
//! - stdin is a terminal AND stdout is a terminal -> the child's stdin is A's
//!   slave; hush puts its terminal in raw mode and copies its stdin into A's
//!   master, so ^C/^D/^Z are interpreted by A's line discipline (^C becomes
//!   SIGINT for the child exactly once, sent by the kernel; hush never sees
//!   it as a signal);
//! - a terminal stdin that is not copied that way (stdout is a pipe or file)
//!   is given to the child *read-only* when masking: the terminal's fd 0 is
//!   usually open read-write, and a child writing to its stdin would reach
//!   the terminal around the masker (`stdin_read_only`);
//! - any other stdin is inherited untouched. In particular when stdout is not
//!   a terminal (`hush run -- cmd | less`, `> file`) hush leaves its
//!   terminal's mode and keyboard alone: a pager at the end of the pipe owns
//!   them, and the child reads the real terminal directly; ^C then reaches
//!   hush's process group and is forwarded once;
//! - a non-terminal stdout/stderr gets a pipe read by a pump when masking is
//!   on, or is inherited directly when masking is off.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::pty::Winsize;
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::unistd::{access, AccessFlags, Pid};

use super::exec_image::ExecImage;
use super::pty::{self, Pty};
use super::pump::{self, MaskHold, PumpReport};
use super::signals::ChildSlot;
use super::status;
use super::{Env, LaunchSpec, RunError};
use crate::mask::LazyMaskSet;

/// execvp's search path when the environment has no PATH.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

// ---------------------------------------------------------------------------
// Program lookup

enum Candidate {
    Found,
    Missing,
    Denied,
}

fn check_candidate(path: &Path) -> Candidate {
    match std::fs::metadata(path) {
        Err(_) => Candidate::Missing,
        // exec(2) of a directory fails with EACCES; execvp reports it so.
        Ok(m) if m.is_dir() => Candidate::Denied,
        Ok(_) => match access(path, AccessFlags::X_OK) {
            Ok(()) => Candidate::Found,
            Err(_) => Candidate::Denied,
        },
    }
}

/// Resolve `program` like execvp would in the child: names containing '/' are
/// used as they are, others are searched in the PATH of the child's
/// environment (`env`), falling back to execvp's default. Done before
/// spawning so that "not found" (127) and "not executable" (126) are reported
/// reliably and before hush touches the terminal.
pub(super) fn resolve_program(program: &OsStr, env: &Env) -> Result<PathBuf, RunError> {
    let name = program.to_string_lossy().into_owned();
    if program.is_empty() {
        return Err(RunError::NotFound(name));
    }
    if program.as_bytes().contains(&b'/') {
        let p = PathBuf::from(program);
        return match check_candidate(&p) {
            Candidate::Found => Ok(p),
            Candidate::Missing => Err(RunError::NotFound(name)),
            Candidate::Denied => Err(RunError::NotExecutable(name)),
        };
    }
    let path_var = env
        .iter()
        .rev()
        .find(|(k, _)| k.as_bytes() == b"PATH")
        .map(|(_, v)| v.as_os_str())
        .unwrap_or(OsStr::new(DEFAULT_PATH));
    let mut denied = false;
    for dir in path_var.as_bytes().split(|b| *b == b':') {
        // An empty PATH entry means the current directory.
        let dir = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(OsStr::from_bytes(dir))
        };
        let candidate = dir.join(program);
        match check_candidate(&candidate) {
            Candidate::Found => return Ok(candidate),
            Candidate::Missing => {}
            // Like execvp: remember, keep searching, report EACCES at the end.
            Candidate::Denied => denied = true,
        }
    }
    if denied {
        Err(RunError::NotExecutable(name))
    } else {
        Err(RunError::NotFound(name))
    }
}

/// Map an exec failure (from spawn or execvpe) to the error the user sees.
pub(super) fn exec_error(cause: io::Error, program: &OsStr, resolved: &Path) -> RunError {
    let name = program.to_string_lossy().into_owned();
    match cause.raw_os_error().map(Errno::from_raw) {
        Some(e) if status::is_not_found(e) => {
            if resolved.exists() {
                // The file is there, so ENOENT is about its #! interpreter.
                RunError::ExecFailed {
                    program: name,
                    cause,
                }
            } else {
                RunError::NotFound(name)
            }
        }
        Some(Errno::EACCES | Errno::EPERM | Errno::EISDIR) => RunError::NotExecutable(name),
        Some(
            Errno::ENOEXEC
            | Errno::ETXTBSY
            | Errno::E2BIG
            | Errno::ELOOP
            | Errno::ENAMETOOLONG
            | Errno::ENOTDIR
            | Errno::ELIBBAD,
        ) => RunError::ExecFailed {
            program: name,
            cause,
        },
        _ => RunError::Io {
            context: format!("could not start '{name}'"),
            cause,
        },
    }
}

// ---------------------------------------------------------------------------
// What hush's own stdio looks like

pub(super) struct IoPlan {
    pub stdin_tty: bool,
    pub stdout_tty: bool,
    pub stderr_tty: bool,
    pub masking: bool,
    /// The user's terminal settings (before raw mode), copied into every pty
    /// so the child sees the same erase/intr characters etc.
    pub termios: Option<Termios>,
}

fn is_tty<F: AsFd>(fd: F) -> bool {
    nix::unistd::isatty(fd).unwrap_or(false)
}

impl IoPlan {
    pub fn detect(masking: bool) -> IoPlan {
        let stdin_tty = is_tty(io::stdin());
        let stdout_tty = is_tty(io::stdout());
        let stderr_tty = is_tty(io::stderr());
        let termios = [
            (stdin_tty, io::stdin().as_fd()),
            (stdout_tty, io::stdout().as_fd()),
            (stderr_tty, io::stderr().as_fd()),
        ]
        .into_iter()
        .filter(|(tty, _)| *tty)
        .find_map(|(_, fd)| tcgetattr(fd).ok());
        IoPlan {
            stdin_tty,
            stdout_tty,
            stderr_tty,
            masking,
            termios,
        }
    }

    /// hush's stdin goes raw and is copied into the child's stdout pty.
    pub fn raw_stdin(&self) -> bool {
        self.stdin_tty && self.stdout_tty
    }

    /// The size of hush's terminal (stdout, then stderr, then stdin).
    pub fn user_winsize(&self) -> Option<Winsize> {
        [
            (self.stdout_tty, io::stdout().as_fd()),
            (self.stderr_tty, io::stderr().as_fd()),
            (self.stdin_tty, io::stdin().as_fd()),
        ]
        .into_iter()
        .filter(|(tty, _)| *tty)
        .find_map(|(_, fd)| pty::get_winsize(fd))
    }
}

// ---------------------------------------------------------------------------
// hush's terminal in raw mode

/// Raw mode on hush's stdin terminal; the saved settings are restored on drop,
/// which covers normal returns, `?` error paths and panics (unwinding).
pub(super) struct TerminalGuard {
    saved: Option<Termios>,
}

impl TerminalGuard {
    pub fn enter(plan: &IoPlan) -> Result<TerminalGuard, RunError> {
        if !plan.raw_stdin() {
            return Ok(TerminalGuard { saved: None });
        }
        let stdin = io::stdin();
        let saved = tcgetattr(stdin.as_fd())
            .map_err(|e| RunError::io("could not read the terminal settings of stdin", e))?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)
            .map_err(|e| RunError::io("could not switch the terminal to raw mode", e))?;
        Ok(TerminalGuard { saved: Some(saved) })
    }

    pub fn restore(mut self) {
        self.restore_now();
    }

    fn restore_now(&mut self) {
        if let Some(saved) = self.saved.take() {
            // TCSANOW, not TCSADRAIN: draining could block forever if nobody
            // reads the terminal, and restoring must always happen.
            let _ = tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, &saved);
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        self.restore_now();
    }
}

// ---------------------------------------------------------------------------
// stdin copier (raw terminal -> child's pty), shared by all children of a run

pub(super) type StdinTarget = Arc<Mutex<Option<Arc<File>>>>;

pub(super) struct StdinForwarder {
    stop_w: OwnedFd,
}

impl StdinForwarder {
    pub fn start(target: StdinTarget) -> io::Result<StdinForwarder> {
        let (stop_r, stop_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        std::thread::Builder::new()
            .name("hush-stdin".into())
            .spawn(move || copy_stdin(&stop_r, &target))?;
        Ok(StdinForwarder { stop_w })
    }
}

impl Drop for StdinForwarder {
    fn drop(&mut self) {
        // The thread is not joined: it may be blocked writing into a pty whose
        // child is gone. It checks the stop pipe before every read, so it
        // never consumes keystrokes meant for whatever runs after hush.
        let _ = nix::unistd::write(&self.stop_w, &[1]);
    }
}

fn copy_stdin(stop_r: &OwnedFd, target: &StdinTarget) {
    let stdin = io::stdin();
    let mut buf = [0u8; 4096];
    loop {
        let mut fds = [
            PollFd::new(stop_r.as_fd(), PollFlags::POLLIN),
            PollFd::new(stdin.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        }
        if fds[0].revents().is_some_and(|r| !r.is_empty()) {
            return;
        }
        if fds[1].revents().is_none_or(|r| r.is_empty()) {
            continue;
        }
        let n = match nix::unistd::read(stdin.as_fd(), &mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(Errno::EINTR | Errno::EAGAIN) => continue,
            Err(_) => return,
        };
        // Clone the target out of the lock: a write into a full pty may block
        // and must not block the supervisor swapping targets on restart.
        let dst = target.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(dst) = dst {
            // Keystrokes for a child that just went away are dropped.
            let _ = (&*dst).write_all(&buf[..n]);
        }
    }
}

// ---------------------------------------------------------------------------
// Output pumps

/// Progress of one pump's writes, used to tell "still draining" from "stuck
/// waiting for EOF that a grandchild is holding back".
#[derive(Default)]
pub(super) struct Activity {
    pub ticks: AtomicU64,
    pub in_write: AtomicBool,
}

/// hush's stdout/stderr as seen by a pump. On EPIPE it retires the pump's
/// source fd (so the child gets EPIPE/SIGPIPE on its next write, as with a
/// direct pipe) and swallows further output.
struct GuardedWriter {
    dst: File,
    src_fd: RawFd,
    src_ident: Option<(u64, u64)>,
    broken: bool,
    activity: Arc<Activity>,
}

impl GuardedWriter {
    fn write_once(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match (&self.dst).write(buf) {
                // hush's stdout may be a non-blocking file description shared
                // with other processes; wait instead of failing.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let mut fds = [PollFd::new(self.dst.as_fd(), PollFlags::POLLOUT)];
                    let _ = poll(&mut fds, PollTimeout::from(100u8));
                }
                other => return other,
            }
        }
    }
}

impl Write for GuardedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.broken {
            return Ok(buf.len());
        }
        self.activity.in_write.store(true, Ordering::SeqCst);
        self.activity.ticks.fetch_add(1, Ordering::SeqCst);
        let r = self.write_once(buf);
        self.activity.in_write.store(false, Ordering::SeqCst);
        self.activity.ticks.fetch_add(1, Ordering::SeqCst);
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.broken = true;
                if let Some(ident) = self.src_ident {
                    pty::retire_fd(self.src_fd, ident);
                }
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.broken {
            return Ok(());
        }
        self.dst.flush()
    }
}

pub(super) struct Pump {
    pub activity: Arc<Activity>,
}

pub(super) struct Pumps {
    pub pumps: Vec<Pump>,
    pub done: Receiver<io::Result<PumpReport>>,
}

fn start_pump(
    name: &str,
    src: File,
    hush_fd: std::os::fd::BorrowedFd<'_>,
    mask: Option<Arc<LazyMaskSet>>,
    hold: MaskHold,
    done: Sender<io::Result<PumpReport>>,
) -> io::Result<Pump> {
    // A private dup of hush's fd: unbuffered, and independent of std's
    // Stdout lock which other code might hold.
    let dst = File::from(nix::unistd::dup(hush_fd)?);
    let activity = Arc::new(Activity::default());
    let mut writer = GuardedWriter {
        dst,
        src_fd: src.as_raw_fd(),
        src_ident: pty::file_identity(&src),
        broken: false,
        activity: Arc::clone(&activity),
    };
    std::thread::Builder::new()
        .name(format!("hush-pump-{name}"))
        .spawn(move || {
            let r = pump::pump_lazy(src, &mut writer, mask, hold);
            let _ = done.send(r);
        })?;
    Ok(Pump { activity })
}

// ---------------------------------------------------------------------------
// Starting one child

/// One started child and everything wired to it.
pub(super) struct Incarnation {
    pub pid: Pid,
    pub pumps: Pumps,
    /// Masters of the child's ptys (dups), for window-size changes.
    pub pty_masters: Vec<File>,
    /// Whether `pty_masters[0]` is the child's controlling terminal.
    pub has_ctty: bool,
    /// Where hush's raw stdin goes, if it is copied at all.
    pub stdin_master: Option<Arc<File>>,
}

/// How one of the child's output streams is wired.
enum Sink {
    Pty(Pty),
    Pipe { read: File, write: OwnedFd },
    Inherit,
}

fn make_sink(is_tty: bool, plan: &IoPlan, ws: Option<Winsize>) -> Result<Sink, RunError> {
    if is_tty {
        let p = pty::open_pty(ws, plan.termios.as_ref()).map_err(|e| {
            RunError::io(
                "could not open a pseudo-terminal for the command (is /dev/pts available? redirecting hush's output avoids the pty)",
                e,
            )
        })?;
        Ok(Sink::Pty(p))
    } else if plan.masking {
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
            .map_err(|e| RunError::io("could not create a pipe for the command's output", e))?;
        Ok(Sink::Pipe {
            read: File::from(r),
            write: w,
        })
    } else {
        Ok(Sink::Inherit)
    }
}

fn dup_fd<F: AsFd>(fd: F) -> Result<OwnedFd, RunError> {
    nix::unistd::dup(fd).map_err(|e| RunError::io("could not duplicate a file descriptor", e))
}

impl Sink {
    /// The child's end, and (for ptys) whether it is a terminal.
    fn child_stdio(&self) -> Result<Stdio, RunError> {
        Ok(match self {
            Sink::Pty(p) => Stdio::from(dup_fd(&p.slave)?),
            Sink::Pipe { write, .. } => Stdio::from(dup_fd(write)?),
            Sink::Inherit => Stdio::inherit(),
        })
    }

    /// The child's end of a pipe sink (posix_spawn dup2s it onto 1 or 2).
    fn pipe_write_fd(&self) -> Option<RawFd> {
        match self {
            Sink::Pipe { write, .. } => Some(write.as_raw_fd()),
            _ => None,
        }
    }

    fn master(&self) -> Option<&File> {
        match self {
            Sink::Pty(p) => Some(&p.master),
            _ => None,
        }
    }

    /// hush's end, to be pumped.
    fn into_source(self) -> Option<File> {
        match self {
            // The slave (and the pipe's write end) are dropped here: only the
            // child must hold them, so that EOF/EIO arrives when it is gone.
            Sink::Pty(p) => Some(p.master),
            Sink::Pipe { read, .. } => Some(read),
            Sink::Inherit => None,
        }
    }
}

/// hush's terminal stdin opened anew, read-only, for a child whose output is
/// masked but whose stdin would otherwise be the terminal itself. Opening
/// `/proc/self/fd/0` makes a new open file description of the same terminal
/// with its own access mode, so a write to the child's fd 0 fails (EBADF)
/// instead of printing unmasked. None when it is not needed; if it cannot
/// be opened, hush warns and passes the terminal as before.
fn stdin_read_only(spec: &LaunchSpec, plan: &IoPlan) -> Option<OwnedFd> {
    if spec.mask.is_none() || !plan.stdin_tty || plan.raw_stdin() {
        return None;
    }
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOCTTY)
        .open("/proc/self/fd/0")
    {
        Ok(file) => Some(OwnedFd::from(file)),
        Err(e) => {
            eprintln!("hush: warning: could not reopen the terminal read-only for the command's stdin ({e}); a write to its stdin would reach the terminal unmasked");
            None
        }
    }
}

/// `mask`: this incarnation's mask set (a watch restart brings its own);
/// `spec.mask` gives the hold and whether masking is on at all.
pub(super) fn spawn(
    resolved: &Path,
    spec: &LaunchSpec,
    env: &Env,
    plan: &IoPlan,
    slot: &ChildSlot,
    mask: Option<Arc<LazyMaskSet>>,
) -> Result<Incarnation, RunError> {
    let ws = plan.user_winsize();
    let out = make_sink(plan.stdout_tty, plan, ws)?;
    let err = make_sink(plan.stderr_tty, plan, ws)?;
    let stdin_ro = stdin_read_only(spec, plan);

    if out.master().is_none() && err.master().is_none() {
        // No terminal to set up: spawn without a fork, unless the file needs
        // execvp's fallback (below).
        let image = ExecImage::new(resolved, &spec.program, &spec.args, env)?;
        let spawned = slot.spawn_with(|| {
            super::posix_spawn::spawn(
                &image,
                stdin_ro.as_ref().map(AsRawFd::as_raw_fd),
                out.pipe_write_fd(),
                err.pipe_write_fd(),
            )
            .map(|pid| (pid, ()))
        });
        match spawned {
            Ok((pid, ())) => {
                return start_pumps(pid, spec, mask, slot, out, err, TerminalParts::default())
            }
            // A file without #! line: execvp (the fork path) runs it with
            // /bin/sh, as a shell would; posix_spawn does not.
            Err(e) if e.raw_os_error() == Some(Errno::ENOEXEC as i32) => {}
            Err(e) => return Err(exec_error(e, &spec.program, resolved)),
        }
    }

    let mut cmd = Command::new(resolved);
    // argv[0] as the user wrote it, like execvp.
    cmd.arg0(&spec.program)
        .args(&spec.args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)));
    cmd.stdout(out.child_stdio()?);
    cmd.stderr(err.child_stdio()?);

    // stdout's pty is the controlling terminal and carries stdin when hush's
    // stdin is a terminal too.
    let primary = match &out {
        Sink::Pty(p) => Some(p),
        _ => None,
    };
    let ctty_fd = primary.map(|_| 1);
    let mut stdin_master = None;
    match primary {
        Some(p) if plan.raw_stdin() => {
            cmd.stdin(Stdio::from(dup_fd(&p.slave)?));
            let m = p
                .master
                .try_clone()
                .map_err(|e| RunError::io("could not duplicate the pty master", e))?;
            stdin_master = Some(Arc::new(m));
        }
        // Not a terminal (or no stdout pty): the child reads hush's stdin
        // directly, read-only when it is a terminal.
        _ => match &stdin_ro {
            Some(fd) => {
                cmd.stdin(Stdio::from(dup_fd(fd)?));
            }
            None => {
                cmd.stdin(Stdio::inherit());
            }
        },
    }
    pty::configure_child(&mut cmd, ctty_fd);

    let mut pty_masters = Vec::new();
    for m in [out.master(), err.master()].into_iter().flatten() {
        pty_masters.push(
            m.try_clone()
                .map_err(|e| RunError::io("could not duplicate the pty master", e))?,
        );
    }

    let spawned = slot.spawn_with(|| {
        let child = cmd.spawn()?;
        Ok::<_, io::Error>((Pid::from_raw(child.id() as i32), ()))
    });
    // Drop the child's ends (slaves, pipe write ends) held by the Command.
    drop(cmd);
    let (pid, ()) = spawned.map_err(|e| exec_error(e, &spec.program, resolved))?;
    let terminal = TerminalParts {
        pty_masters,
        has_ctty: ctty_fd.is_some(),
        stdin_master,
    };
    start_pumps(pid, spec, mask, slot, out, err, terminal)
}

/// What the fork path sets up around a terminal (none without a pty).
#[derive(Default)]
struct TerminalParts {
    pty_masters: Vec<File>,
    has_ctty: bool,
    stdin_master: Option<Arc<File>>,
}

/// The child is running: start masking its output.
fn start_pumps(
    pid: Pid,
    spec: &LaunchSpec,
    mask: Option<Arc<LazyMaskSet>>,
    slot: &ChildSlot,
    out: Sink,
    err: Sink,
    terminal: TerminalParts,
) -> Result<Incarnation, RunError> {
    // The mask set is built once the command prints or has run a moment
    // (`pump_lazy`), never while the launcher forked.
    let (done_tx, done_rx) = mpsc::channel();
    let mut pumps = Vec::new();
    let (set, hold) = match (&spec.mask, mask.as_ref()) {
        (Some((_, hold)), Some(set)) => (Some(set), *hold),
        _ => (None, MaskHold::Strict),
    };
    for (name, sink, hush_fd) in [
        ("stdout", out, io::stdout().as_fd()),
        ("stderr", err, io::stderr().as_fd()),
    ] {
        if let Some(src) = sink.into_source() {
            match start_pump(name, src, hush_fd, set.cloned(), hold, done_tx.clone()) {
                Ok(pump) => pumps.push(pump),
                Err(e) => {
                    // Never leave a child running that nobody supervises
                    // (or whose output nobody masks).
                    slot.signal_group(nix::sys::signal::Signal::SIGKILL);
                    return Err(RunError::io(
                        "could not start copying the command's output",
                        e,
                    ));
                }
            }
        }
    }

    Ok(Incarnation {
        pid,
        pumps: Pumps {
            pumps,
            done: done_rx,
        },
        pty_masters: terminal.pty_masters,
        has_ctty: terminal.has_ctty,
        stdin_master: terminal.stdin_master,
    })
}

/// Wait until every pump has reached EOF, but give up on a pump that has made
/// no progress for `grace` (a background grandchild can hold the write end
/// open forever). A pump that is still writing — e.g. into a slow consumer —
/// is waited for, so output the child produced is not cut off.
pub(super) fn drain(pumps: Pumps, grace: Duration) -> Vec<PumpReport> {
    let mut reports = Vec::new();
    let mut remaining = pumps.pumps.len();
    let mut last_ticks: Vec<u64> = pumps
        .pumps
        .iter()
        .map(|p| p.activity.ticks.load(Ordering::SeqCst))
        .collect();
    let mut last_progress = std::time::Instant::now();
    while remaining > 0 {
        match pumps.done.recv_timeout(Duration::from_millis(20)) {
            Ok(r) => {
                remaining -= 1;
                if let Ok(report) = r {
                    reports.push(report);
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        for (p, last) in pumps.pumps.iter().zip(last_ticks.iter_mut()) {
            let t = p.activity.ticks.load(Ordering::SeqCst);
            if t != *last || p.activity.in_write.load(Ordering::SeqCst) {
                *last = t;
                last_progress = std::time::Instant::now();
            }
        }
        if last_progress.elapsed() >= grace {
            break;
        }
    }
    reports
}
