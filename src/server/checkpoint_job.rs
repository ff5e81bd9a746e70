//! The server's periodic signed audit checkpoints: every interval, when the
//! chain grew since the last one, a checkpoint file is written to the
//! configured directory (by default inside the data dir; an operator who
//! wants them out of an intruder's reach points it at another disk or an
//! append-only mount, or ships the files elsewhere).

use crate::audit_checkpoint::Checkpoint;
use crate::service::Service;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub fn spawn(service: Arc<Service>, dir: PathBuf, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_seq = None;
        loop {
            tick.tick().await;
            let checkpoint = match service.checkpoint_now().await {
                Ok(Some(c)) if Some(c.seq) != last_seq => c,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!("audit checkpoint failed: {e}");
                    continue;
                }
            };
            match write(&dir, &checkpoint) {
                Ok(path) => {
                    last_seq = Some(checkpoint.seq);
                    tracing::info!(
                        "audit checkpoint at event #{} written to {}",
                        checkpoint.seq,
                        path.display()
                    );
                }
                Err(e) => {
                    tracing::warn!("cannot write an audit checkpoint to {}: {e}", dir.display())
                }
            }
        }
    })
}

/// Writes `checkpoint` as `<seq>-<time>.json` in `dir`, whole or not at all
/// (a temporary file, fsynced, then renamed).
pub fn write(dir: &Path, checkpoint: &Checkpoint) -> std::io::Result<PathBuf> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)?;
    let name = format!("{:020}-{}.json", checkpoint.seq, checkpoint.time);
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)?;
    let mut text = serde_json::to_vec_pretty(checkpoint).map_err(std::io::Error::other)?;
    text.push(b'\n');
    file.write_all(&text)?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
