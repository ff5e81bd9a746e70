//! The lease expiry job: every `POLL`, revokes the leases that expired and
//! retries failed revocations whose time came
//! (`Service::revoke_due_leases`). Every replica runs one; a lease's claim
//! makes each revocation run on one replica at a time, and the row is
//! deleted by the revocation that succeeds, so a user is revoked once.

use crate::dynamic::limits::POLL;
use crate::service::Service;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub struct LeaseExpiryJob {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Expiry is judged by the service's clock.
pub fn spawn(service: Arc<Service>) -> LeaseExpiryJob {
    // Unique per start, so a restarted replica does not mistake its
    // predecessor's claim for its own.
    let owner = format!("lease-expiry-{}", crate::service::new_id());
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                _ = tick.tick() => {}
            }
            match service.revoke_due_leases(&owner, service.now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("revoked {n} expired lease(s)"),
                Err(e) => tracing::warn!("lease expiry: {e}"),
            }
        }
    });
    LeaseExpiryJob { stop, task }
}

impl LeaseExpiryJob {
    /// Lets a pass in progress finish (up to `grace`): a revocation cut
    /// off is retried by the next holder once its claim expires.
    pub async fn stop(self, grace: Duration) {
        self.stop.send_replace(true);
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
        }
    }
}
