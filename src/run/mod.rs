//! The launcher behind `hush run -- CMD`: starts the child with exactly the
//! environment it is given, masks its output, forwards signals and returns
//! its exit status.
//!
//! Design, in short (details next to the code):
//! - The child runs in its own session and process group (`setsid` before
//!   exec). Without a pty it is started by posix_spawn (no fork of hush's
//!   memory: `posix_spawn.rs`), with one by fork + exec (`pty.rs`).
//!   Signals hush receives (INT, TERM, HUP, QUIT, USR1, USR2, WINCH)
//!   are forwarded once to the child's group with `kill(-pgid, sig)`; a
//!   second INT/TERM starts the `kill_timeout` timer, after which the group
//!   gets SIGKILL (`signals.rs`).
//! - Where hush's stdout/stderr is a terminal the child gets a pty for that
//!   stream — two ptys when both are, so the streams stay separate. stdout's
//!   pty is the child's controlling terminal and, when hush's stdin is a
//!   terminal too, its stdin, with hush's terminal in raw mode for the
//!   duration (`spawn.rs`). Non-terminal outputs are pipes when masking,
//!   inherited otherwise; any other stdin is inherited untouched.
//! - hush is a child subreaper and reaps everything; only the direct child's
//!   status is reported (`supervise.rs`).
//! - Exit code: the child's, or 128+N if it was killed by signal N
//!   (`status.rs`); 127/126 when the command is missing / not executable,
//!   125 for hush's own failures (`RunError::exit_code`).
//!
//! Constraints: one `run` at a time per process (it owns the process's
//! SIGCHLD handling and reaps with waitpid(-1), so nothing else in the
//! process should be waiting for children meanwhile).
#![deny(unsafe_code)]

pub mod cache;
pub mod dangerous;
pub mod environment;
mod exec_image;
pub mod mount;
mod posix_spawn;
mod pty;
pub mod pump;
mod signals;
mod spawn;
pub mod status;
mod supervise;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::mask::LazyMaskSet;
use pump::MaskHold;

pub use supervise::PUMP_GRACE;

/// A complete child environment, in order (later entries win).
pub type Env = Vec<(OsString, OsString)>;

/// A watch restart: the new environment and, when masking, the mask set
/// built from the secrets it carries (the old set would miss new values).
pub struct Restart {
    pub env: Env,
    pub mask: Option<Arc<LazyMaskSet>>,
    /// When Some, the running child's group gets this signal instead of
    /// being replaced (`env` and `mask` are then ignored): a supervisor's
    /// "reload" rather than a restart.
    pub signal_only: Option<Signal>,
}

/// Default for [`LaunchSpec::kill_timeout`].
pub const DEFAULT_KILL_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`LaunchSpec::stop_signal`].
pub const DEFAULT_STOP_SIGNAL: Signal = Signal::SIGTERM;

/// What to run and how.
pub struct LaunchSpec {
    /// Resolved via the PATH in `env` like execvp (execvp's default path if
    /// `env` has none); names containing '/' are used as given.
    pub program: OsString,
    pub args: Vec<OsString>,
    /// The COMPLETE child environment; nothing is inherited from hush.
    pub env: Env,
    /// None = no masking.
    pub mask: Option<(Arc<LazyMaskSet>, MaskHold)>,
    /// Grace between the stop request (second INT/TERM, or a restart) and SIGKILL.
    pub kill_timeout: Duration,
    /// Sent to the child when a restart replaces it.
    pub stop_signal: Signal,
    /// Print "hush: masked N occurrence(s) of KEY" on stderr at exit.
    pub mask_report: bool,
}

impl LaunchSpec {
    /// A spec with the documented defaults: no masking, 10 s kill timeout,
    /// SIGTERM as stop signal, no report.
    pub fn new(program: impl Into<OsString>, args: Vec<OsString>, env: Env) -> LaunchSpec {
        LaunchSpec {
            program: program.into(),
            args,
            env,
            mask: None,
            kill_timeout: DEFAULT_KILL_TIMEOUT,
            stop_signal: DEFAULT_STOP_SIGNAL,
            mask_report: false,
        }
    }
}

/// Why the command could not be run (or supervised). Messages are one line
/// and do not start with "hush:"; print them as `hush: {err}`.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot run '{0}': command not found (check the spelling and the PATH passed to the command, or give a full path)")]
    NotFound(String),
    #[error("cannot run '{0}': permission denied or not an executable file (check it is a regular file with the execute bit set, e.g. chmod +x)")]
    NotExecutable(String),
    /// The file exists but exec failed for another reason (bad #!
    /// interpreter, wrong format, busy, argument list too long...).
    #[error(
        "cannot run '{program}': {cause} (check the file's format and its #! interpreter line)"
    )]
    ExecFailed { program: String, cause: io::Error },
    /// hush's own plumbing failed (pty, pipe, thread, terminal settings...).
    #[error("{context}: {cause}")]
    Io { context: String, cause: io::Error },
    #[error("a command is already running in this process; hush runs one command at a time")]
    AlreadyRunning,
}

impl RunError {
    pub(crate) fn io(context: &str, cause: impl Into<io::Error>) -> RunError {
        RunError::Io {
            context: context.to_string(),
            cause: cause.into(),
        }
    }

    /// The exit code hush should use for this error: 127 not found, 126 not
    /// executable / exec failed, 125 hush's own failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::NotFound(_) => status::EXIT_NOT_FOUND,
            RunError::NotExecutable(_) | RunError::ExecFailed { .. } => status::EXIT_NOT_EXECUTABLE,
            RunError::Io { .. } | RunError::AlreadyRunning => status::EXIT_LAUNCHER_FAILURE,
        }
    }
}

/// Only one `run` per process: it owns SIGCHLD, the signal handlers and the
/// terminal mode.
static ACTIVE: AtomicBool = AtomicBool::new(false);

struct ActiveGuard;

impl ActiveGuard {
    fn acquire() -> Result<ActiveGuard, RunError> {
        ACTIVE
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .map(|_| ActiveGuard)
            .map_err(|_| RunError::AlreadyRunning)
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        ACTIVE.store(false, Ordering::SeqCst);
    }
}

/// Runs the child to completion and returns hush's exit code (the child's
/// code, or 128+N if it was killed by signal N).
///
/// `restarts`: when Some, each received environment replaces the running
/// child: stop_signal, wait up to kill_timeout, SIGKILL, wait until it is
/// reaped and its output drained, then start the new child with the new env
/// (never two children at once). If the child exits by itself, or hush gets
/// SIGINT/SIGTERM, the watch ends and its code is returned.
pub fn run(spec: LaunchSpec, restarts: Option<Receiver<Restart>>) -> Result<i32, RunError> {
    let _active = ActiveGuard::acquire()?;
    let outcome = supervise::run(&spec, restarts);
    // Printed after the terminal was restored (raw mode would mangle "\n").
    if spec.mask_report && spec.mask.is_some() {
        let mut err = io::stderr().lock();
        for line in report_lines(&outcome.counts) {
            // Best effort: a closed stderr must not turn into an error here.
            let _ = writeln!(err, "{line}");
        }
    }
    outcome.result
}

/// The --mask-report lines: key names and counts only, never values.
fn report_lines(counts: &BTreeMap<String, u64>) -> Vec<String> {
    counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(key, n)| format!("hush: masked {n} occurrence(s) of {key}"))
        .collect()
}

/// The --no-mask path: replace hush with the child (execvp semantics, with
/// exactly `env`, all signal dispositions at default and an empty signal
/// mask). Returns only on error; hush's signal state is then left as it was.
pub fn exec_replace(program: &OsStr, args: &[OsString], env: &[(OsString, OsString)]) -> RunError {
    let env_vec: Env = env.to_vec();
    let resolved = match spawn::resolve_program(program, &env_vec) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let image = match exec_image::ExecImage::new(&resolved, program, args, env) {
        Ok(image) => image,
        Err(e) => return e,
    };
    let saved = pty::reset_signals_for_exec();
    // execvpe with a path containing '/' does not search PATH again, but keeps
    // execvp's fallback of running a #!-less script with /bin/sh.
    let errno = match nix::unistd::execvpe(&image.path, &image.argv, &image.envp) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    pty::restore_signals(saved);
    spawn::exec_error(io::Error::from(errno), program, &resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with_path(path: &str) -> Env {
        vec![("PATH".into(), path.into())]
    }

    #[test]
    fn report_lines_skip_zero_counts_and_sort_by_key() {
        let mut c = BTreeMap::new();
        c.insert("TOKEN".to_string(), 2);
        c.insert("API_KEY".to_string(), 1);
        c.insert("UNUSED".to_string(), 0);
        assert_eq!(
            report_lines(&c),
            [
                "hush: masked 1 occurrence(s) of API_KEY",
                "hush: masked 2 occurrence(s) of TOKEN"
            ]
        );
    }

    #[test]
    fn lookup_uses_the_child_path() {
        let p = spawn::resolve_program(OsStr::new("sh"), &env_with_path("/nonexistent:/bin"))
            .expect("found");
        assert_eq!(p, std::path::Path::new("/bin/sh"));
        assert!(matches!(
            spawn::resolve_program(OsStr::new("sh"), &env_with_path("/nonexistent")),
            Err(RunError::NotFound(_))
        ));
        // No PATH at all: execvp's default.
        assert!(spawn::resolve_program(OsStr::new("sh"), &Vec::new()).is_ok());
        assert!(matches!(
            spawn::resolve_program(OsStr::new(""), &Vec::new()),
            Err(RunError::NotFound(_))
        ));
    }

    #[test]
    fn error_exit_codes() {
        assert_eq!(RunError::NotFound("x".into()).exit_code(), 127);
        assert_eq!(RunError::NotExecutable("x".into()).exit_code(), 126);
        assert_eq!(RunError::AlreadyRunning.exit_code(), 125);
        let msg = RunError::NotFound("foo".into()).to_string();
        assert!(
            msg.starts_with("cannot run 'foo': command not found"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
    }

    /// (caught, ignored) signal masks of this process, from /proc.
    fn dispositions() -> (String, String) {
        let status = std::fs::read_to_string("/proc/self/status").expect("status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .expect("field")
        };
        (field("SigCgt:"), field("SigIgn:"))
    }

    /// In-process use: sequential runs work and leave hush's own signal
    /// dispositions as they were.
    #[test]
    fn run_in_process_restores_signal_state() {
        let before = dispositions();
        for code in [0, 5] {
            let spec = LaunchSpec::new(
                "sh",
                vec!["-c".into(), format!("exit {code}").into()],
                env_with_path("/usr/bin:/bin"),
            );
            assert_eq!(run(spec, None).expect("run"), code);
        }
        assert_eq!(before, dispositions());
    }
}
