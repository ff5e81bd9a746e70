//! The launcher's unsafe boundary: pseudo-terminal ioctls, the code that runs
//! in the forked child before exec, signal handlers, and raw fd surgery.
//! Everything else in `run` is `#![deny(unsafe_code)]`; keep it that way by
//! adding small, safe wrappers here instead of `unsafe` elsewhere.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::libc;
use nix::pty::{openpty, Winsize};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::termios::Termios;

nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, libc::winsize);
nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, libc::winsize);

/// A freshly opened pseudo-terminal pair. Both ends are close-on-exec so that
/// neither leaks into the child (or into a later child after a restart) except
/// through the explicit stdio redirection, which clears the flag on the copy.
pub(super) struct Pty {
    pub master: File,
    pub slave: OwnedFd,
}

pub(super) fn open_pty(size: Option<Winsize>, termios: Option<&Termios>) -> io::Result<Pty> {
    let res = openpty(size.as_ref(), termios)?;
    // openpty(3) has no O_CLOEXEC option; set it right away.
    for fd in [res.master.as_fd(), res.slave.as_fd()] {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    }
    Ok(Pty {
        master: File::from(res.master),
        slave: res.slave,
    })
}

/// Terminal size of `fd`, or None when it is not a terminal.
pub(super) fn get_winsize<F: AsFd>(fd: F) -> Option<Winsize> {
    let mut ws = Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes exactly one `struct winsize` through the
    // pointer, which points to a live, properly aligned local; the fd is
    // borrowed for the duration of the call.
    let r = unsafe { tiocgwinsz(fd.as_fd().as_raw_fd(), &mut ws) };
    r.ok().map(|_| ws)
}

/// Set the terminal size of `fd` (a pty master). The kernel sends SIGWINCH to
/// the pty's foreground process group if, and only if, the size changed.
pub(super) fn set_winsize<F: AsFd>(fd: F, ws: &Winsize) -> io::Result<()> {
    // SAFETY: TIOCSWINSZ only reads one `struct winsize` from the pointer,
    // which refers to a live value for the duration of the call.
    unsafe { tiocswinsz(fd.as_fd().as_raw_fd(), ws) }?;
    Ok(())
}

/// Arrange for the child to start in a clean state (see `child_setup`).
/// `ctty`: the child-side fd number (1 or 2, after stdio redirection) of the
/// pty slave that becomes the controlling terminal of the child's new session.
pub(super) fn configure_child(cmd: &mut Command, ctty: Option<RawFd>) {
    // SAFETY: the closure runs between fork and exec in the child of a
    // possibly multi-threaded process. It only makes raw syscalls
    // (pthread_sigmask, rt_sigaction, setsid, ioctl), all async-signal-safe, performs
    // no allocation and touches no locks; errors are built from errno without
    // allocating.
    unsafe {
        cmd.pre_exec(move || child_setup(ctty));
    }
}

/// Runs in the forked child, after std has dup'ed the stdio fds and cleared
/// the signal mask, right before exec.
fn child_setup(ctty: Option<RawFd>) -> io::Result<()> {
    // SAFETY (whole block): plain syscalls on local, initialised values; see
    // `configure_child` for why they are allowed between fork and exec.
    unsafe {
        // Block everything while dispositions are reset, so no signal can run
        // one of hush's handlers inside the child in the meantime.
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());

        // Exec resets *caught* signals but keeps *ignored* ones (Rust ignores
        // SIGPIPE; a background job of a non-interactive shell ignores
        // SIGINT/SIGQUIT). The child must start with every disposition at
        // SIG_DFL. The raw syscall also covers the signals glibc reserves
        // (32, 33), which its sigaction() refuses to touch; errors (SIGKILL,
        // SIGSTOP, numbers past the kernel's limit) are irrelevant.
        for sig in 1..=MAX_SIGNAL {
            raw_set_default(sig);
        }

        // Own session and process group: terminal-generated signals aimed at
        // hush's group do not hit the child a second time, and hush can
        // signal the child's whole group with kill(-pgid).
        if libc::setsid() < 0 {
            return Err(io::Error::last_os_error());
        }
        if let Some(fd) = ctty {
            // Makes the pty the controlling terminal of the new session, so
            // ^C typed into it becomes SIGINT for the child's foreground group
            // and /dev/tty works in the child.
            if libc::ioctl(fd, libc::TIOCSCTTY as _, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
        }

        // The child starts with an empty signal mask whatever hush's threads
        // had blocked.
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Signal handlers feeding a self-pipe.
//
// Why handlers and not sigwait/signalfd: both of those only work if the
// signals are blocked in *every* thread of the process. hush's CLI may still
// have threads it does not control (e.g. a tokio runtime used to fetch the
// secrets); a process-directed SIGTERM would then be delivered to such a
// thread with the default action and kill hush without restoring the terminal
// or stopping the child. A handler is process-wide, so it catches the signal
// whichever thread the kernel picks; it only writes the signal number into a
// pipe that the launcher's signal thread reads.

static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
static OWNER_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    let saved = Errno::last_raw();
    // Between fork and exec the child still has this handler installed; a
    // signal landing there must not be reported as one hush received.
    if nix::unistd::getpid().as_raw() == OWNER_PID.load(Ordering::Relaxed) {
        let fd = WAKE_FD.load(Ordering::Relaxed);
        if fd >= 0 {
            let byte = [sig as u8];
            // SAFETY: write(2) is async-signal-safe; the fd stays open for as
            // long as the handler is installed (HandlerGuard restores the old
            // handlers before closing it); `byte` is a live local. The pipe is
            // non-blocking: if it is full the signal is dropped rather than
            // deadlocking inside the handler.
            unsafe {
                libc::write(fd, byte.as_ptr().cast(), 1);
            }
        }
    }
    Errno::set_raw(saved);
}

/// Installed handlers; dropping restores the previous dispositions.
pub(super) struct HandlerGuard {
    saved: Vec<(Signal, SigAction)>,
}

/// Install `on_signal` for `signals`, reporting each delivery as one byte
/// (the signal number) on `wake`, which must be a non-blocking pipe write end
/// that outlives the returned guard. SIGPIPE, if listed in `ignore`, is set to
/// SIG_IGN instead (hush must survive writing to a closed stdout).
pub(super) fn install_handlers(
    signals: &[Signal],
    ignore: &[Signal],
    wake: BorrowedFd<'_>,
) -> io::Result<HandlerGuard> {
    WAKE_FD.store(wake.as_raw_fd(), Ordering::SeqCst);
    OWNER_PID.store(nix::unistd::getpid().as_raw(), Ordering::SeqCst);
    let mut guard = HandlerGuard { saved: Vec::new() };
    let handler = SigAction::new(
        SigHandler::Handler(on_signal),
        // SA_RESTART: the handler can run on any thread; most interrupted
        // syscalls there should just continue.
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    let ign = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    for (sig, action) in signals
        .iter()
        .map(|s| (s, &handler))
        .chain(ignore.iter().map(|s| (s, &ign)))
    {
        // SAFETY: `on_signal` is async-signal-safe (atomics, getpid, write,
        // errno save/restore only); SIG_IGN is always sound.
        let old = unsafe { sigaction(*sig, action) }?;
        guard.saved.push((*sig, old));
    }
    Ok(guard)
}

impl Drop for HandlerGuard {
    fn drop(&mut self) {
        for (sig, old) in self.saved.drain(..).rev() {
            // SAFETY: re-installs exactly what sigaction returned earlier.
            let _ = unsafe { sigaction(sig, &old) };
        }
        WAKE_FD.store(-1, Ordering::SeqCst);
    }
}

/// Highest signal number to reset (the kernel's _NSIG on Linux).
const MAX_SIGNAL: libc::c_int = 64;

/// A kernel `struct sigaction` as rt_sigaction(2) sees it. All-zero means
/// SIG_DFL, no flags, empty mask on every Linux ABI (with or without the
/// sa_restorer field), so the same bytes work everywhere; saved values are
/// only ever handed back to the same kernel.
type KernelSigaction = [libc::c_ulong; 4];

/// rt_sigaction(2) without glibc's filtering of its reserved signals; async-
/// signal-safe. Returns whether it succeeded.
fn raw_sigaction(
    sig: libc::c_int,
    new: Option<&KernelSigaction>,
    old: Option<&mut KernelSigaction>,
) -> bool {
    let new_ptr = new.map_or(std::ptr::null(), |n| n as *const KernelSigaction);
    let old_ptr = old.map_or(std::ptr::null_mut(), |o| o as *mut KernelSigaction);
    // SAFETY: rt_sigaction reads one kernel sigaction from `new_ptr` and
    // writes one into `old_ptr` (each may be null); both buffers are 32
    // bytes, at least the size of the kernel struct on 64-bit Linux ABIs. The
    // last argument is the kernel's sigset size (8 bytes).
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            libc::c_long::from(sig),
            new_ptr,
            old_ptr,
            8 as libc::c_long,
        )
    };
    r == 0
}

/// Set `sig` to SIG_DFL (async-signal-safe).
fn raw_set_default(sig: libc::c_int) -> bool {
    raw_sigaction(sig, Some(&[0; 4]), None)
}

/// Signal state saved by `reset_signals_for_exec`, restored if exec fails.
pub(super) struct SavedSignalState {
    actions: Vec<(libc::c_int, KernelSigaction)>,
    mask: SigSet,
}

/// For exec-in-place: every disposition to SIG_DFL and an empty mask in the
/// calling thread (exec keeps ignored signals and the mask).
pub(super) fn reset_signals_for_exec() -> SavedSignalState {
    let mut mask = SigSet::empty();
    let _ = nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&SigSet::empty()),
        Some(&mut mask),
    );
    let mut actions = Vec::new();
    for sig in 1..=MAX_SIGNAL {
        let mut old: KernelSigaction = [0; 4];
        if !raw_sigaction(sig, None, Some(&mut old)) {
            continue;
        }
        // glibc's internal signals (32, 33) keep glibc's handlers in this
        // still multi-threaded process unless they were ignored; exec resets
        // handlers anyway.
        let glibc_internal = (32..libc::SIGRTMIN()).contains(&sig);
        if glibc_internal && old[0] != libc::SIG_IGN as libc::c_ulong {
            continue;
        }
        if raw_set_default(sig) {
            actions.push((sig, old));
        }
    }
    SavedSignalState { actions, mask }
}

pub(super) fn restore_signals(saved: SavedSignalState) {
    for (sig, old) in &saved.actions {
        // Hands back exactly what the kernel reported for this signal.
        raw_sigaction(*sig, Some(old), None);
    }
    let _ = nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&saved.mask),
        None,
    );
}

/// Identity of an open file, to make sure an fd number still refers to the
/// same file before operating on it by number.
pub(super) fn file_identity<F: AsFd>(fd: F) -> Option<(u64, u64)> {
    nix::sys::stat::fstat(fd)
        .ok()
        .map(|st| (st.st_dev, st.st_ino))
}

/// Make fd number `raw` (owned by someone else, e.g. the pump reading the
/// child's output) refer to an empty, writer-less pipe, which closes our
/// reference to the original file: reads on `raw` then return EOF and the
/// child writing into the original pipe gets EPIPE/SIGPIPE, just as if it had
/// been connected directly to the reader that went away. Does nothing unless
/// `raw` still refers to the file identified by `ident`.
pub(super) fn retire_fd(raw: RawFd, ident: (u64, u64)) -> bool {
    // SAFETY: the borrow only lives for the fstat call; an invalid fd number
    // just yields EBADF.
    let current = file_identity(unsafe { BorrowedFd::borrow_raw(raw) });
    if current != Some(ident) {
        return false;
    }
    let Ok((empty_r, empty_w)) = nix::unistd::pipe2(OFlag::O_CLOEXEC) else {
        return false;
    };
    drop(empty_w);
    // SAFETY: dup3 atomically replaces whatever `raw` referred to; its owner
    // (the pump's File) keeps owning the number and will close the new file.
    // The identity check above makes sure the number was not recycled.
    let r = unsafe { libc::dup3(empty_r.as_raw_fd(), raw, libc::O_CLOEXEC) };
    r >= 0
}
