//! Audit log streams (issue 20): shipping every audit event, in chain order,
//! to collectors (an HTTP(S) endpoint or a syslog server), at least once,
//! from a cursor kept in the database.
//!
//! - `target`: the URL and headers of a stream, checked (kinds, SSRF rules);
//! - `sealed`: header values under envelope encryption;
//! - `payload`: what collectors receive (JSON batches, RFC 5424 frames);
//! - `sink`: one delivery to one collector;
//! - `tls`: which certificates a stream trusts;
//! - `worker`: one step of a stream's delivery, leases and cursors;
//! - `driver`: the loop around steps (shared with webhooks);
//! - `limits`: every bound, in one place.

pub mod backoff;
pub mod driver;
pub mod limits;
pub mod payload;
pub mod sealed;
pub mod sink;
pub mod target;
pub mod tls;
pub mod worker;

use crate::crypto::Key;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The running delivery of every stream of this server.
pub struct Streams {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Streams {
    pub fn spawn(store: Arc<dyn Store>, root: Key) -> Streams {
        let deliverer = Arc::new(worker::Deliverer {
            store,
            root,
            owner: format!("{}-{}", payload::hostname(), uuid::Uuid::new_v4().simple()),
            timing: worker::timing(),
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(driver::supervise(deliverer, stopped));
        Streams { stop, task }
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

/// Re-wraps every stream's header key under `new` (root-key rotation). Run
/// before the project keys are re-wrapped: a key that already opens under
/// `new` (a rotation that stopped half-way and is run again) is left as it
/// is. Returns how many keys were re-wrapped.
pub async fn rewrap_keys(store: &Arc<dyn Store>, old: &Key, new: &Key) -> anyhow::Result<usize> {
    let streams = store.audit_streams();
    let mut rewrapped = Vec::new();
    for row in streams.streams().await? {
        match sealed::rewrap(old, new, &row.id, &row.key_wrapped) {
            Ok(wrapped) => rewrapped.push((row.id, wrapped)),
            Err(_) if sealed::rewrap(new, new, &row.id, &row.key_wrapped).is_ok() => {}
            Err(_) => anyhow::bail!(
                "the header key of audit stream {} opens under neither root key",
                row.id
            ),
        }
    }
    let count = rewrapped.len();
    streams.rewrap_stream_keys(rewrapped).await?;
    Ok(count)
}
