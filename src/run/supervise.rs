//! The supervision loop: one thread consumes events (signals, the child's
//! exit, restart requests, the escalation timer) and drives the child.
//!
//! Exit detection: SIGCHLD wakes the signal thread, which reaps and sends
//! `Event::Exited` for the direct child. After the child exits, its output
//! pumps are drained (see `spawn::drain`) before anything else happens, so all
//! of its output is written before hush returns or starts the next child.
//!
//! Restarts (watch): a new environment stops the running child with
//! `stop_signal`, starts the kill timer, and only when the old child has been
//! reaped and its output drained is the new one started — never two children
//! at once. Several environments arriving meanwhile collapse into the newest.
//! A SIGINT/SIGTERM received by hush ends the watch: no further restarts, and
//! hush returns the exit code of the child it was running.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::prctl;
use nix::sys::signal::Signal;

use super::pty;
use super::signals::{is_terminating, ChildSlot, Escalation, Event, SignalThread};
use super::spawn::{self, Incarnation, IoPlan, StdinForwarder, StdinTarget, TerminalGuard};
use super::{Env, LaunchSpec, Restart, RunError};
use crate::mask::LazyMaskSet;

/// How long to keep waiting for a child's output after it exited, counted
/// from the last time any output moved.
pub const PUMP_GRACE: Duration = Duration::from_secs(1);

/// PR_SET_CHILD_SUBREAPER for the duration of the run, so orphaned
/// grandchildren are re-parented to hush (and reaped by the signal thread)
/// instead of escaping to init — essential when hush is PID 1 in a container,
/// harmless elsewhere.
struct Subreaper {
    previous: Option<bool>,
}

impl Subreaper {
    fn enable() -> Subreaper {
        let previous = prctl::get_child_subreaper().ok();
        // Failure (very old kernel, seccomp) only loses orphan reaping; not
        // worth refusing to run the command.
        let _ = prctl::set_child_subreaper(true);
        Subreaper { previous }
    }
}

impl Drop for Subreaper {
    fn drop(&mut self) {
        if self.previous == Some(false) {
            let _ = prctl::set_child_subreaper(false);
        }
    }
}

/// Outcome of a run: hush's exit code plus the masking counts to report.
pub(super) struct Outcome {
    pub result: Result<i32, RunError>,
    pub counts: BTreeMap<String, u64>,
}

pub(super) fn run(spec: &LaunchSpec, restarts: Option<Receiver<Restart>>) -> Outcome {
    let mut counts = BTreeMap::new();
    let result = run_inner(spec, restarts, &mut counts);
    Outcome { result, counts }
}

fn run_inner(
    spec: &LaunchSpec,
    restarts: Option<Receiver<Restart>>,
    counts: &mut BTreeMap<String, u64>,
) -> Result<i32, RunError> {
    // Resolve first: a typo gives 127 before anything is touched.
    let program = spawn::resolve_program(&spec.program, &spec.env)?;
    let plan = IoPlan::detect(spec.mask.is_some());

    let subreaper = Subreaper::enable();
    let (tx, rx) = mpsc::channel();
    let slot = Arc::new(ChildSlot::new());
    let signals = SignalThread::start(Arc::clone(&slot), tx.clone())
        .map_err(|e| RunError::io("could not set up signal handling", e))?;
    let terminal = TerminalGuard::enter(&plan)?;
    let stdin_target: StdinTarget = Arc::new(Mutex::new(None));
    let stdin_fwd = if plan.raw_stdin() {
        Some(
            StdinForwarder::start(Arc::clone(&stdin_target))
                .map_err(|e| RunError::io("could not start forwarding stdin", e))?,
        )
    } else {
        None
    };
    if let Some(restarts) = restarts {
        forward_restarts(restarts, tx.clone())
            .map_err(|e| RunError::io("could not start watching for restarts", e))?;
    }

    let mut sup = Supervisor {
        spec,
        plan: &plan,
        slot: &slot,
        events: rx,
        _events_tx: tx,
        stdin_target,
        counts,
        mask: spec.mask.as_ref().map(|(set, _)| Arc::clone(set)),
    };
    let result = sup.run_loop(program);

    // Teardown, in this order: stop reading the user's keystrokes, give the
    // terminal back (before anything else is printed), then drop the signal
    // handlers (the child is gone by now).
    drop(stdin_fwd);
    terminal.restore();
    signals.stop();
    drop(subreaper);
    result
}

/// The restart channel is a plain Receiver; a small thread turns it into
/// events so the loop waits on one channel only. It ends when either side
/// hangs up.
fn forward_restarts(restarts: Receiver<Restart>, tx: Sender<Event>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("hush-restarts".into())
        .spawn(move || {
            for restart in restarts {
                let event = match restart.signal_only {
                    Some(sig) => Event::Nudge(sig),
                    None => Event::Restart(restart),
                };
                if tx.send(event).is_err() {
                    break;
                }
            }
        })?;
    Ok(())
}

struct Supervisor<'a> {
    spec: &'a LaunchSpec,
    plan: &'a IoPlan,
    slot: &'a ChildSlot,
    events: Receiver<Event>,
    // Keeps the channel connected even if the signal thread dies, so the
    // loop never spins on Disconnected.
    _events_tx: Sender<Event>,
    stdin_target: StdinTarget,
    counts: &'a mut BTreeMap<String, u64>,
    /// The mask set of the current environment: a restart with changed
    /// secrets brings its own, so new values are masked too.
    mask: Option<Arc<LazyMaskSet>>,
}

impl Supervisor<'_> {
    fn start(&mut self, program: &std::path::Path, env: &Env) -> Result<Incarnation, RunError> {
        let mask = self.mask.clone();
        let inc = spawn::spawn(program, self.spec, env, self.plan, self.slot, mask)?;
        *self.stdin_target.lock().unwrap_or_else(|e| e.into_inner()) = inc.stdin_master.clone();
        Ok(inc)
    }

    /// The child has been reaped: stop feeding it input and collect its
    /// output.
    fn finish(&mut self, inc: Incarnation) {
        *self.stdin_target.lock().unwrap_or_else(|e| e.into_inner()) = None;
        for report in spawn::drain(inc.pumps, PUMP_GRACE) {
            for (key, n) in report.counts {
                *self.counts.entry(key).or_insert(0) += n;
            }
        }
    }

    /// hush's window changed: propagate it to the ptys. Setting the size on
    /// the child's controlling pty makes the kernel send SIGWINCH to the
    /// child's foreground group — but only if the size actually changed — so
    /// hush sends SIGWINCH itself only when the kernel will not (no
    /// controlling pty, or same size). Either way the child gets it once.
    fn resize(&self, inc: &Incarnation) {
        let ws = self.plan.user_winsize();
        let before = inc
            .pty_masters
            .first()
            .filter(|_| inc.has_ctty)
            .and_then(pty::get_winsize);
        if let Some(ws) = &ws {
            for m in &inc.pty_masters {
                let _ = pty::set_winsize(m, ws);
            }
        }
        let kernel_signals = match (before, ws) {
            (Some(b), Some(ws)) => {
                (b.ws_row, b.ws_col, b.ws_xpixel, b.ws_ypixel)
                    != (ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel)
            }
            _ => false,
        };
        if !kernel_signals {
            self.slot.signal_group(Signal::SIGWINCH);
        }
    }

    fn run_loop(&mut self, program: PathBuf) -> Result<i32, RunError> {
        let mut current = self.start(&program, &self.spec.env)?;
        let mut escalation = Escalation::new(self.spec.kill_timeout);
        let mut pending: Option<Restart> = None;
        // A SIGINT/SIGTERM reached hush: the user wants out, no more restarts.
        let mut quitting = false;
        loop {
            let wait = escalation
                .deadline()
                .map(|t| t.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(3600));
            match self.events.recv_timeout(wait) {
                Ok(Event::Signal(Signal::SIGWINCH)) => self.resize(&current),
                Ok(Event::Signal(sig)) => {
                    self.slot.signal_group(sig);
                    if is_terminating(sig) {
                        quitting = true;
                    }
                    escalation.forwarded(sig, Instant::now());
                }
                Ok(Event::Nudge(sig)) => {
                    if !quitting {
                        self.slot.signal_group(sig);
                    }
                }
                Ok(Event::Restart(restart)) => {
                    if quitting {
                        continue;
                    }
                    if pending.replace(restart).is_none() {
                        self.slot.signal_group(self.spec.stop_signal);
                        escalation.start_timer(Instant::now());
                    }
                }
                Ok(Event::Exited { pid, code }) => {
                    if pid != current.pid {
                        continue;
                    }
                    self.finish(current);
                    // Events that queued up while draining: no child to
                    // forward signals to, but they still decide what's next.
                    while let Ok(ev) = self.events.try_recv() {
                        match ev {
                            Event::Signal(sig) if is_terminating(sig) => quitting = true,
                            Event::Restart(restart) if !quitting => pending = Some(restart),
                            _ => {}
                        }
                    }
                    match pending.take() {
                        Some(Restart { env, mask, .. }) if !quitting => {
                            if mask.is_some() {
                                self.mask = mask;
                            }
                            let program = spawn::resolve_program(&self.spec.program, &env)?;
                            current = self.start(&program, &env)?;
                            escalation = Escalation::new(self.spec.kill_timeout);
                        }
                        _ => return Ok(code),
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if escalation.take_expired(Instant::now()) {
                        self.slot.signal_group(Signal::SIGKILL);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // Unreachable while `_events_tx` lives; fail loudly rather
                    // than spin.
                    return Err(RunError::io(
                        "lost track of the command",
                        std::io::Error::other("event channel closed"),
                    ));
                }
            }
        }
    }
}
