//! The re-keying job: every `POLL` each replica applies the root key
//! rotation policy, notices data keys other replicas made, and works on a
//! re-encryption job if it can claim one (`Service::rekey_step`). A job's
//! claim keeps two replicas from working on one project at once; each
//! batch commits only while its claim holds, so a replica stopped midway
//! leaves a job the next claimant resumes where the batches stopped.

use super::periodic::{self, Periodic};
use crate::service::Service;
use std::sync::Arc;
use std::time::Duration;

const POLL: Duration = Duration::from_secs(1);
/// How long one pass works on a job before it looks at the stop signal
/// and the policy again.
const BUDGET: Duration = Duration::from_secs(5);

pub fn spawn(service: Arc<Service>, batch: i64, pause: Duration) -> Periodic {
    // Unique per start: a restarted replica does not take its
    // predecessor's claim for its own.
    let owner = format!("rekey-{}", crate::service::new_id());
    periodic::spawn(POLL, move || {
        let (service, owner) = (service.clone(), owner.clone());
        async move {
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
    })
}
