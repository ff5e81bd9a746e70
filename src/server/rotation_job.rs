//! The rotation scheduler: every `POLL`, runs the rotations that fell due
//! (`Service::run_due_rotations`). Every replica runs one; the policy's
//! lease and version check make each rotation happen once.

use crate::rotation::limits::POLL;
use crate::service::Service;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub struct RotationJob {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Due rotations are judged by the service's clock.
pub fn spawn(service: Arc<Service>) -> RotationJob {
    // Unique per start, so a restarted replica does not mistake its
    // predecessor's lease for its own.
    let owner = format!("scheduler-{}", crate::service::new_id());
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                _ = tick.tick() => {}
            }
            match service.run_due_rotations(&owner, service.now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("ran {n} due rotation(s)"),
                Err(e) => tracing::warn!("rotation scheduler: {e}"),
            }
        }
    });
    RotationJob { stop, task }
}

impl RotationJob {
    /// Lets a pass in progress finish (up to `grace`): a rotation cut off
    /// mid-way is safe (resumed by the next holder of its lease) but waits
    /// for the lease to expire.
    pub async fn stop(self, grace: Duration) {
        self.stop.send_replace(true);
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
        }
    }
}
