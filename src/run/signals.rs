//! Signal reception, forwarding to the child's process group, reaping, and
//! the escalation timer.
//!
//! Reception: handlers for the forwarded signals and SIGCHLD write the signal
//! number into a self-pipe (see `pty::install_handlers` for why handlers rather
//! than sigwait); one dedicated thread reads the pipe. SIGCHLD is handled on
//! that thread directly: it reaps *every* exited child (hush is a subreaper,
//! so orphaned grandchildren end up here too) and reports only the direct
//! child's status. Every other signal becomes an `Event::Signal` for the
//! supervisor, which forwards it exactly once with kill(-pgid, sig).
//!
//! Escalation: the first SIGINT/SIGTERM is forwarded; a second one, while the
//! child is still alive, is forwarded too and starts the kill timer; if the
//! child is still alive when `kill_timeout` expires, its process group gets
//! SIGKILL.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::signal::{kill, pthread_sigmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::pty::{self, HandlerGuard};
use super::status;
use super::Restart;

/// What the supervisor waits for: a signal to forward, the direct child's
/// exit (from the reaper here), or a restart (`--watch`).
pub(super) enum Event {
    Signal(Signal),
    Exited {
        pid: Pid,
        code: i32,
    },
    Restart(Restart),
    /// Send this signal to the child's group (a restart policy of "signal").
    Nudge(Signal),
}

/// Signals hush receives on behalf of the child and forwards to its group.
pub const FORWARDED: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Signals that ask the child to stop and count towards escalation.
pub fn is_terminating(sig: Signal) -> bool {
    matches!(sig, Signal::SIGINT | Signal::SIGTERM)
}

/// The direct child, shared between the supervisor (which signals it) and the
/// signal thread (which reaps it). The lock serialises the two so that a
/// signal is never sent to a pid that has already been reaped (and could have
/// been recycled), and so that nothing calls waitpid(-1) while std's
/// `Command::spawn` is waiting for a child whose exec failed (std panics if
/// that child was reaped behind its back).
pub(super) struct ChildSlot {
    inner: Mutex<Option<Pid>>,
}

impl ChildSlot {
    pub fn new() -> ChildSlot {
        ChildSlot {
            inner: Mutex::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Pid>> {
        // A poisoned lock only means another thread panicked while holding it;
        // the pid inside is still the truth.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `start` (which spawns the child) with reaping suspended and record
    /// the new pid.
    pub fn spawn_with<T, E>(
        &self,
        start: impl FnOnce() -> Result<(Pid, T), E>,
    ) -> Result<(Pid, T), E> {
        let mut slot = self.lock();
        let (pid, value) = start()?;
        *slot = Some(pid);
        Ok((pid, value))
    }

    /// Send `sig` to the child's process group (the child is a session and
    /// group leader, so pgid == pid). Returns false if there is no live child.
    pub fn signal_group(&self, sig: Signal) -> bool {
        let slot = self.lock();
        match *slot {
            Some(pid) => {
                // ESRCH is possible if the group already emptied between the
                // child's death and our reaping it; nothing to do then.
                let _ = kill(Pid::from_raw(-pid.as_raw()), sig);
                true
            }
            None => false,
        }
    }

    /// Reap every exited child; report the direct child's final status.
    fn reap(&self, events: &Sender<Event>) {
        let mut slot = self.lock();
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(st) => {
                    let Some(pid) = st.pid() else { continue };
                    if Some(pid) != *slot {
                        // An orphan re-parented to us (subreaper): reaped, not reported.
                        continue;
                    }
                    if let Some(code) = status::exit_code(st) {
                        *slot = None;
                        let _ = events.send(Event::Exited { pid, code });
                    }
                }
                Err(Errno::EINTR) => continue,
                // ECHILD: nothing left to reap.
                Err(_) => break,
            }
        }
    }
}

/// Escalation state for one child.
pub(super) struct Escalation {
    kill_timeout: Duration,
    term_forwarded: bool,
    kill_at: Option<Instant>,
}

impl Escalation {
    pub fn new(kill_timeout: Duration) -> Escalation {
        Escalation {
            kill_timeout,
            term_forwarded: false,
            kill_at: None,
        }
    }

    /// Record that `sig` was forwarded: the second SIGINT/SIGTERM starts the
    /// kill timer (the first one gives the child a chance to stop cleanly).
    pub fn forwarded(&mut self, sig: Signal, now: Instant) {
        if !is_terminating(sig) {
            return;
        }
        if self.term_forwarded {
            self.start_timer(now);
        }
        self.term_forwarded = true;
    }

    /// Start the kill timer unless it is already running (used for restarts,
    /// where hush itself sent the stop signal).
    pub fn start_timer(&mut self, now: Instant) {
        if self.kill_at.is_none() {
            self.kill_at = Some(now + self.kill_timeout);
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.kill_at
    }

    /// True once when the timer has expired (then it is disarmed).
    pub fn take_expired(&mut self, now: Instant) -> bool {
        match self.kill_at {
            Some(t) if now >= t => {
                self.kill_at = None;
                true
            }
            _ => false,
        }
    }
}

/// Marker byte asking the signal thread to exit; no signal has number 0.
const STOP_BYTE: u8 = 0;

/// The signal thread and its handlers; `stop` (or drop) restores the previous
/// dispositions and ends the thread.
pub(super) struct SignalThread {
    handlers: Option<HandlerGuard>,
    /// The calling thread's mask before the handled signals were unblocked.
    old_mask: Option<SigSet>,
    wake_w: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

impl SignalThread {
    pub fn start(slot: Arc<ChildSlot>, events: Sender<Event>) -> io::Result<SignalThread> {
        let mut handled: Vec<Signal> = FORWARDED.to_vec();
        handled.push(Signal::SIGCHLD);
        // hush may have been started with some of these blocked (the mask is
        // inherited across exec). A blocked SIGCHLD would hide the child's
        // exit and a blocked SIGTERM would never be forwarded, so unblock them
        // in this thread before any helper thread (which inherits the mask)
        // is created.
        let mut unblock = SigSet::empty();
        for sig in &handled {
            unblock.add(*sig);
        }
        let mut old = SigSet::empty();
        pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&unblock), Some(&mut old))?;
        let (wake_r, wake_w) = match nix::unistd::pipe2(OFlag::O_CLOEXEC) {
            Ok(p) => p,
            Err(e) => {
                let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
                return Err(e.into());
            }
        };
        // From here on, Drop undoes whatever was set up.
        let mut me = SignalThread {
            handlers: None,
            old_mask: Some(old),
            wake_w,
            thread: None,
        };
        // Non-blocking write end: a handler must never block.
        fcntl(me.wake_w.as_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
        me.thread = Some(
            std::thread::Builder::new()
                .name("hush-signals".into())
                .spawn(move || signal_loop(wake_r, &slot, &events))?,
        );
        me.handlers = Some(pty::install_handlers(
            &handled,
            &[Signal::SIGPIPE],
            me.wake_w.as_fd(),
        )?);
        Ok(me)
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // Handlers first: after this nothing writes to the pipe any more.
        drop(self.handlers.take());
        if let Some(t) = self.thread.take() {
            let _ = nix::unistd::write(&self.wake_w, &[STOP_BYTE]);
            let _ = t.join();
        }
        if let Some(old) = self.old_mask.take() {
            let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
        }
    }
}

impl Drop for SignalThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn signal_loop(wake_r: OwnedFd, slot: &ChildSlot, events: &Sender<Event>) {
    let mut buf = [0u8; 64];
    loop {
        let n = match nix::unistd::read(&wake_r, &mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        };
        for &b in &buf[..n] {
            if b == STOP_BYTE {
                return;
            }
            match Signal::try_from(i32::from(b)) {
                Ok(Signal::SIGCHLD) => slot.reap(events),
                Ok(sig) => {
                    let _ = events.send(Event::Signal(sig));
                }
                Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_terminating_signal_starts_timer() {
        let t0 = Instant::now();
        let mut e = Escalation::new(Duration::from_millis(300));
        e.forwarded(Signal::SIGHUP, t0);
        e.forwarded(Signal::SIGTERM, t0);
        assert_eq!(e.deadline(), None);
        e.forwarded(Signal::SIGINT, t0);
        assert_eq!(e.deadline(), Some(t0 + Duration::from_millis(300)));
        assert!(!e.take_expired(t0));
        assert!(e.take_expired(t0 + Duration::from_millis(300)));
        assert_eq!(e.deadline(), None);
    }
}
