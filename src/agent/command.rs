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

/// Variables holding credentials of the agent, not meant for the command.
const SCRUBBED: &[&str] = &[
    "HUSH_TOKEN",
    "HUSH_CLIENT_ID",
    "HUSH_CLIENT_SECRET",
    "HUSH_JWT",
    "INFISICAL_TOKEN",
    "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID",
    "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
    "INFISICAL_UNIVERSAL_CLIENT_SECRET",
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

async fn run_once(command: &str, timeout: Duration) -> Result<(), String> {
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
