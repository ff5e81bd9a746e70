//! A template's on-change command (`config.execute.command`), run through
//! `sh -c` with a timeout after the file was rewritten. Each template has one
//! runner task fed through a channel of one slot: writes while the command
//! runs coalesce into one more run, so a burst of changes runs it once after
//! the last write, never concurrently with itself.
//!
//! The command inherits the agent's environment minus the credentials the
//! agent itself may have been given; its output goes to the agent's.

use std::process::Stdio;
use std::time::Duration;
use tokio::sync::mpsc;

/// Variables holding credentials of the agent, not meant for the command
/// (nor for the supervised one).
pub(super) const SCRUBBED: &[&str] = &[
    "HUSH_TOKEN",
    "HUSH_CLIENT_ID",
    "HUSH_CLIENT_SECRET",
    "HUSH_JWT",
    "INFISICAL_TOKEN",
    "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID",
    "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
    "INFISICAL_UNIVERSAL_CLIENT_SECRET",
    "INFISICAL_JWT",
    "INFISICAL_OIDC_AUTH_JWT",
];

/// The sending side: `trigger` asks for one more run.
pub struct CommandRunner {
    tx: mpsc::Sender<()>,
}

/// What a run did, reported back for the status file.
#[derive(Debug)]
pub struct Ran {
    pub label: String,
    pub error: Option<String>,
}

impl CommandRunner {
    pub fn spawn(
        label: String,
        command: String,
        timeout: Duration,
        done: mpsc::UnboundedSender<Ran>,
    ) -> CommandRunner {
        let (tx, mut rx) = mpsc::channel::<()>(1);
        tokio::spawn(async move {
            while rx.recv().await.is_some() {
                let error = run_once(&command, timeout).await.err();
                if let Some(e) = &error {
                    eprintln!("hush agent: {label}: on-change command failed: {e}");
                }
                let _ = done.send(Ran {
                    label: label.clone(),
                    error,
                });
            }
        });
        CommandRunner { tx }
    }

    /// Queues a run; one already queued absorbs this one.
    pub fn trigger(&self) {
        let _ = self.tx.try_send(());
    }
}

/// `sh -c command` in its own process group, without the agent's credentials.
fn shell(command: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .process_group(0)
        .kill_on_drop(true);
    for name in SCRUBBED {
        cmd.env_remove(name);
    }
    cmd
}

async fn run_once(command: &str, timeout: Duration) -> Result<(), String> {
    let mut cmd = shell(command);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start /bin/sh: {e}"))?;
    let pid = child.id();
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("it exited with {status}")),
        Ok(Err(e)) => Err(format!("waiting for it failed: {e}")),
        Err(_) => {
            // The whole group: `sh -c` may have started children of its own.
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = child.wait().await;
            Err(format!(
                "it ran longer than {}s and was killed",
                timeout.as_secs()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_command_past_its_timeout_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("late");
        let cmd = format!("(sleep 2; touch {}) & sleep 5", marker.display());
        let started = std::time::Instant::now();
        let e = run_once(&cmd, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(e.contains("killed"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(
            !marker.exists(),
            "a child of the command outlived the timeout"
        );
        assert!(run_once("exit 3", Duration::from_secs(5))
            .await
            .unwrap_err()
            .contains("exit"));
        assert!(run_once("true", Duration::from_secs(5)).await.is_ok());
    }

    #[test]
    fn the_command_does_not_see_the_agents_credentials() {
        let cmd = shell("true");
        let removed: Vec<_> = cmd
            .as_std()
            .get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        for name in SCRUBBED {
            assert!(
                removed.iter().any(|r| r == name),
                "{name} reaches the command"
            );
        }
    }
}
