//! The lease expiry job: every `POLL`, revokes the leases that expired and
//! retries failed revocations whose time came
//! (`Service::revoke_due_leases`). Every replica runs one; a lease's claim
//! makes each revocation run on one replica at a time, and the row is
//! deleted by the revocation that succeeds, so a user is revoked once.

use super::periodic::{self, Periodic};
use crate::dynamic::limits::POLL;
use crate::service::Service;
use std::sync::Arc;

/// Expiry is judged by the service's clock.
pub fn spawn(service: Arc<Service>) -> Periodic {
    // Unique per start, so a restarted replica does not mistake its
    // predecessor's claim for its own.
    let owner = format!("lease-expiry-{}", crate::service::new_id());
    periodic::spawn(POLL, move || {
        let (service, owner) = (service.clone(), owner.clone());
        async move {
            match service.revoke_due_leases(&owner, service.now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("revoked {n} expired lease(s)"),
                Err(e) => tracing::warn!("lease expiry: {e}"),
            }
        }
    })
}
