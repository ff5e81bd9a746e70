//! Mapping of child wait statuses and launch errors to hush's exit code.

use nix::errno::Errno;
use nix::sys::wait::WaitStatus;

/// Shell convention for a child killed by signal N.
pub const SIGNAL_EXIT_BASE: i32 = 128;
/// The command was found but could not be executed.
pub const EXIT_NOT_EXECUTABLE: i32 = 126;
/// The command was not found.
pub const EXIT_NOT_FOUND: i32 = 127;
/// hush itself failed before or while supervising the child (same convention
/// as env(1), timeout(1), chroot(1): distinct from anything the child returns
/// via 126/127 and from the common 1).
pub const EXIT_LAUNCHER_FAILURE: i32 = 125;

/// The exit code hush reports for a terminal wait status, or None for states
/// that are not terminal (stopped, continued, ...).
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(SIGNAL_EXIT_BASE + sig as i32),
        _ => None,
    }
}

/// Whether an exec failure means "not found" (127) rather than "found but not
/// runnable" (126).
pub(super) fn is_not_found(errno: Errno) -> bool {
    errno == Errno::ENOENT
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;

    #[test]
    fn maps_exit_and_signal() {
        let p = Pid::from_raw(1);
        assert_eq!(exit_code(WaitStatus::Exited(p, 0)), Some(0));
        assert_eq!(exit_code(WaitStatus::Exited(p, 42)), Some(42));
        assert_eq!(
            exit_code(WaitStatus::Signaled(p, Signal::SIGTERM, false)),
            Some(143)
        );
        assert_eq!(
            exit_code(WaitStatus::Signaled(p, Signal::SIGKILL, true)),
            Some(137)
        );
        assert_eq!(exit_code(WaitStatus::Stopped(p, Signal::SIGTSTP)), None);
    }
}
