//! The rotation scheduler: every `POLL`, runs the rotations that fell due
//! (`Service::run_due_rotations`). Every replica runs one; the policy's
//! lease and version check make each rotation happen once.

use super::periodic::{self, Periodic};
use crate::rotation::limits::POLL;
use crate::service::Service;
use std::sync::Arc;

/// Due rotations are judged by the service's clock.
pub fn spawn(service: Arc<Service>) -> Periodic {
    // Unique per start, so a restarted replica does not mistake its
    // predecessor's lease for its own.
    let owner = format!("scheduler-{}", crate::service::new_id());
    periodic::spawn(POLL, move || {
        let (service, owner) = (service.clone(), owner.clone());
        async move {
            match service.run_due_rotations(&owner, service.now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("ran {n} due rotation(s)"),
                Err(e) => tracing::warn!("rotation scheduler: {e}"),
            }
        }
    })
}
