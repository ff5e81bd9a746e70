//! The rotation scheduler: every `POLL`, runs the rotations that fell due
//! (`Service::run_due_rotations`). Every replica runs one; the policy's
//! lease and version check make each rotation happen once.

use crate::rotation::clock::Clock;
use crate::rotation::limits::POLL;
use crate::service::Service;
use std::sync::Arc;

pub fn spawn(service: Arc<Service>, clock: Arc<dyn Clock>) -> tokio::task::JoinHandle<()> {
    // Unique per start, so a restarted replica does not mistake its
    // predecessor's lease for its own.
    let owner = format!("scheduler-{}", crate::service::new_id());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match service.run_due_rotations(&owner, clock.now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("ran {n} due rotation(s)"),
                Err(e) => tracing::warn!("rotation scheduler: {e}"),
            }
        }
    })
}
