//! The re-keying job: every `POLL` each replica applies the root key
//! rotation policy, notices data keys other replicas made, and works on a
//! re-encryption job if it can claim one (`Service::rekey_step`). A job's
//! claim keeps two replicas from working on one project at once; each
//! batch commits only while its claim holds, so a replica stopped midway
//! leaves a job the next claimant resumes where the batches stopped.

use crate::service::Service;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const POLL: Duration = Duration::from_secs(1);
/// How long one pass works on a job before it looks at the stop signal
/// and the policy again.
const BUDGET: Duration = Duration::from_secs(5);

pub struct RekeyJob {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

pub fn spawn(service: Arc<Service>, batch: i64, pause: Duration) -> RekeyJob {
    // Unique per start: a restarted replica does not take its
    // predecessor's claim for its own.
    let owner = format!("rekey-{}", crate::service::new_id());
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                _ = tick.tick() => {}
            }
            if let Err(e) = service.apply_rotation_policy().await {
                tracing::warn!("root key rotation policy: {e}");
            }
            if let Err(e) = service.follow_data_key_rotations().await {
                tracing::warn!("re-keying: {e}");
            }
            match service.rekey_step(&owner, batch, pause, BUDGET).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("re-encrypted {n} ciphertext(s) under new data keys"),
                Err(e) => tracing::warn!("re-encryption: {e}"),
            }
        }
    });
    RekeyJob { stop, task }
}

impl RekeyJob {
    /// Lets a batch in progress commit (up to `grace`); one cut off is
    /// redone by the next claimant.
    pub async fn stop(self, grace: Duration) {
        self.stop.send_replace(true);
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
        }
    }
}
