//! A template's on-change signal (`on_change: {signal: SIGHUP, pid_file:
//! /run/app.pid}` or `pid: 1234`): sent once each time the template's file is
//! rewritten, i.e. after the debounce window and only when the rendered bytes
//! changed, so a burst of secret writes or a no-op write sends nothing extra.
//!
//! The pid file is read at each send (the application may have restarted
//! with a new pid), bounded, and must hold one positive pid: 0 and negative
//! numbers would address process groups or every process, and are refused,
//! as is a world-writable pid file (its writer would choose the target).

use super::config::read_bounded;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::PathBuf;

/// A pid file holds a number and a newline; anything bigger is not one.
const MAX_PID_FILE_BYTES: u64 = 64;

/// Where the process to signal is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidSource {
    Pid(i32),
    File(PathBuf),
}

/// The signal and its target, checked when the config is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalTarget {
    pub signal: Signal,
    pub target: PidSource,
}

/// Why a signal could not be sent; never carries file content beyond a pid.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotifyError {
    #[error("the pid file {0} does not exist yet (is the application running?)")]
    NoPidFile(String),
    #[error("{0}")]
    BadPidFile(String),
    #[error("cannot send {signal} to pid {pid}: {cause}")]
    Kill {
        signal: &'static str,
        pid: i32,
        cause: String,
    },
}

/// Parses a pid file's content: one positive number, surrounding blanks allowed.
pub fn parse_pid(text: &str) -> Option<i32> {
    let n: i32 = text.trim().parse().ok()?;
    (n > 0).then_some(n)
}

impl SignalTarget {
    fn pid(&self) -> Result<i32, NotifyError> {
        match &self.target {
            PidSource::Pid(p) => Ok(*p),
            PidSource::File(path) => {
                let meta = match std::fs::metadata(path) {
                    Ok(m) => m,
                    Err(_) => return Err(NotifyError::NoPidFile(path.display().to_string())),
                };
                // Anyone who can write the pid file chooses what the agent
                // signals: a world-writable one is refused.
                if std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o002 != 0 {
                    return Err(NotifyError::BadPidFile(format!(
                        "the pid file {} is writable by every user; refusing to trust it",
                        path.display()
                    )));
                }
                let bytes = read_bounded(path, MAX_PID_FILE_BYTES, "pid file")
                    .map_err(|e| NotifyError::BadPidFile(e.0))?;
                std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(parse_pid)
                    .ok_or_else(|| {
                        NotifyError::BadPidFile(format!(
                            "the pid file {} does not hold a positive process id",
                            path.display()
                        ))
                    })
            }
        }
    }

    /// Sends the signal once; the pid it went to.
    pub fn send(&self) -> Result<i32, NotifyError> {
        let pid = self.pid()?;
        kill(Pid::from_raw(pid), self.signal).map_err(|e| NotifyError::Kill {
            signal: self.signal.as_str(),
            pid,
            cause: e.desc().to_owned(),
        })?;
        Ok(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_files_hold_one_positive_pid() {
        assert_eq!(parse_pid("1234\n"), Some(1234));
        assert_eq!(parse_pid(" 7 "), Some(7));
        for bad in ["0", "-1", "", "12 34", "abc", "99999999999"] {
            assert_eq!(parse_pid(bad), None, "{bad:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.pid");
        let t = SignalTarget {
            signal: Signal::SIGHUP,
            target: PidSource::File(file.clone()),
        };
        assert!(matches!(t.send(), Err(NotifyError::NoPidFile(_))));
        std::fs::write(&file, "-1\n").unwrap();
        assert!(matches!(t.send(), Err(NotifyError::BadPidFile(_))));
        std::fs::write(&file, "1".repeat(100)).unwrap();
        assert!(matches!(t.send(), Err(NotifyError::BadPidFile(_))));
        std::fs::write(&file, format!("{}\n", std::process::id())).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .unwrap();
        assert!(matches!(t.send(), Err(NotifyError::BadPidFile(e)) if e.contains("every user")));
    }

    #[test]
    fn a_real_process_gets_the_signal() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let t = SignalTarget {
            signal: Signal::SIGTERM,
            target: PidSource::Pid(child.id() as i32),
        };
        assert_eq!(t.send().unwrap(), child.id() as i32);
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(15));
        // Reaped: no such process now.
        assert!(matches!(t.send(), Err(NotifyError::Kill { .. })));
    }
}
