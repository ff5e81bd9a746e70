//! Webhooks (issue 24): a POST to a project admin's URL for each change of
//! secrets in an environment and folder, and for each rotation reminder
//! that falls due, in Infisical's shape and with its signature, so existing
//! receivers work unchanged.
//!
//! - `target`: the URL, the address rules (SSRF) and the folder glob;
//! - `sealed`: the URL and signing key under envelope encryption;
//! - `payload`: the bodies receivers get;
//! - `sign`: `x-infisical-signature`;
//! - `send`: one POST;
//! - `worker`: delivery from the audit log, leases and cursors (the audit
//!   streams' design: at least once, one replica at a time);
//! - `limits`: every bound.

pub mod limits;
pub mod payload;
pub mod sealed;
pub mod send;
pub mod sign;
pub mod target;
pub mod worker;

use crate::crypto::Key;
use crate::store::Store;
use crate::time_ids::Clock;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The running delivery of every webhook of this server.
pub struct Webhooks {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Webhooks {
    pub fn spawn(
        store: Arc<dyn Store>,
        root: Key,
        clock: Arc<dyn Clock>,
        allow_private: bool,
    ) -> anyhow::Result<Webhooks> {
        let client = send::client(allow_private).map_err(anyhow::Error::msg)?;
        let deliverer = Arc::new(worker::Deliverer {
            store,
            root,
            clock,
            allow_private,
            owner: format!(
                "{}-{}",
                crate::streams::payload::hostname(),
                uuid::Uuid::new_v4().simple()
            ),
            client,
            timing: worker::timing(),
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(crate::streams::driver::supervise(deliverer, stopped));
        Ok(Webhooks { stop, task })
    }

    /// Lets deliveries in progress finish and record their cursors (up to
    /// `grace`), then releases the leases.
    pub async fn stop(self, grace: Duration) {
        self.stop.send_replace(true);
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// Re-wraps every webhook's data key under `new` (root-key rotation); a
/// key that already opens under `new` is left as it is.
pub async fn rewrap_keys(store: &Arc<dyn Store>, old: &Key, new: &Key) -> anyhow::Result<usize> {
    let hooks = store.webhooks();
    let mut rewrapped = Vec::new();
    for row in hooks.webhooks(None).await? {
        match sealed::rewrap(old, new, &row.id, &row.key_wrapped) {
            Ok(wrapped) => rewrapped.push((row.id, wrapped)),
            Err(_) if sealed::rewrap(new, new, &row.id, &row.key_wrapped).is_ok() => {}
            Err(_) => anyhow::bail!("the key of webhook {} opens under neither root key", row.id),
        }
    }
    let count = rewrapped.len();
    hooks.rewrap_webhook_keys(rewrapped).await?;
    Ok(count)
}
