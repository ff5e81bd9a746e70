//! Delivery: one task per stream, started and stopped by a supervisor that
//! re-reads the set of streams.
//!
//! A step: if the stream has events past its cursor, take (or renew) its
//! lease, read the next batch by `seq`, send it, and only once the collector
//! acknowledged, move the cursor by compare-and-set under the lease. A
//! failure is recorded on the stream and retried after a backoff, from the
//! same cursor: nothing is skipped, and a batch the collector did not
//! acknowledge is sent again (at least once). An idle stream costs two reads
//! a poll and no write.

use super::backoff::Backoff;
use super::limits::{
    BACKOFF_CAP, BACKOFF_FIRST, BATCH_EVENTS, LEASE, MAX_ERROR_BYTES, POLL, RESCAN,
};
use super::sealed;
use super::sink::Sink;
use super::target::Target;
use crate::crypto::Key;
use crate::store::streams::StreamRow;
use crate::store::{Store, StoreError};
use crate::time_ids::now_ms;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Deliverer {
    pub store: Arc<dyn Store>,
    pub root: Key,
    /// This process's lease name: unique per start, so a restarted replica
    /// does not mistake its predecessor's lease for its own.
    pub owner: String,
}

enum Step {
    /// A batch went out; more may be waiting.
    Delivered,
    /// Nothing new, or another replica holds the stream.
    Idle,
    /// The stream was deleted.
    Gone,
    Failed,
}

/// Cuts an error to `MAX_ERROR_BYTES` on a character boundary.
fn bounded(text: String) -> String {
    crate::limits::cut_to(text, MAX_ERROR_BYTES)
}

impl Deliverer {
    fn sink_for(&self, row: &StreamRow) -> Result<Sink, String> {
        let target = Target::parse(&row.url)?;
        let headers = sealed::open(&self.root, &row.id, &row.key_wrapped, &row.headers_ct)
            .map_err(|_| {
                "the stream's headers do not open under this server's root key; delete the stream and add it again"
                    .to_owned()
            })?;
        Sink::new(&row.id, target, headers, row.ca_cert.as_deref())
    }

    /// `sink` is kept between steps with the `updated_at` of the settings
    /// it was built from, and rebuilt when the stream was changed.
    async fn step(&self, id: &str, sink: &mut Option<(i64, Sink)>) -> Result<Step, StoreError> {
        let streams = self.store.audit_streams();
        let Some(row) = streams.stream(id).await? else {
            return Ok(Step::Gone);
        };
        let now = now_ms();
        if row.lease_owner.as_deref().is_some_and(|o| o != self.owner) && row.lease_until > now {
            return Ok(Step::Idle);
        }
        if self.store.last_seq().await? <= row.cursor_seq {
            return Ok(Step::Idle);
        }
        let lease_ms = LEASE.as_millis() as i64;
        let row = match streams
            .lease_stream(id, &self.owner, now, now + lease_ms)
            .await
        {
            Ok(Some(row)) => row,
            Ok(None) => return Ok(Step::Idle),
            Err(StoreError::NotFound(_)) => return Ok(Step::Gone),
            Err(e) => return Err(e),
        };
        let events = streams.audit_after(row.cursor_seq, BATCH_EVENTS).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(Step::Idle);
        };
        if sink.as_ref().is_none_or(|(at, _)| *at != row.updated_at) {
            match self.sink_for(&row) {
                Ok(s) => *sink = Some((row.updated_at, s)),
                Err(e) => return self.failed(&row, e).await,
            }
        }
        let Some((_, s)) = sink.as_mut() else {
            return Ok(Step::Failed);
        };
        match s.send(&events).await {
            Ok(()) => {
                let moved = streams
                    .advance_stream(id, &self.owner, row.cursor_seq, last, now_ms())
                    .await?;
                if !moved {
                    // The lease lapsed while sending (a stalled process):
                    // another replica may have sent this batch too.
                    tracing::warn!(stream = id, "lost the stream's lease during a delivery");
                    return Ok(Step::Idle);
                }
                Ok(Step::Delivered)
            }
            Err(e) => self.failed(&row, e).await,
        }
    }

    async fn failed(&self, row: &StreamRow, error: String) -> Result<Step, StoreError> {
        let error = bounded(error);
        tracing::warn!(
            stream = row.id.as_str(),
            after_seq = row.cursor_seq,
            "audit stream delivery failed: {error}"
        );
        self.store
            .audit_streams()
            .stream_failed(&row.id, &self.owner, &error, now_ms())
            .await?;
        Ok(Step::Failed)
    }

    /// Delivers stream `id` until it is deleted or `stop` is set; `stop` is
    /// looked at between steps only, so a delivery and its cursor update are
    /// never cut apart by a shutdown.
    async fn run(self: Arc<Self>, id: String, mut stop: watch::Receiver<bool>) {
        let mut backoff = Backoff::new(BACKOFF_FIRST, BACKOFF_CAP);
        let mut changes = self.store.change_signal();
        let mut sink = None;
        loop {
            // Stopped, or the `Streams` handle is gone (then nobody can stop
            // this task any more: it ends too).
            if *stop.borrow() || stop.has_changed().is_err() {
                break;
            }
            let wait = match self.step(&id, &mut sink).await {
                Ok(Step::Delivered) => {
                    backoff.reset();
                    continue;
                }
                Ok(Step::Idle) => POLL,
                Ok(Step::Gone) => return,
                Ok(Step::Failed) => {
                    // A new connection (and a fresh read of the headers)
                    // for the next attempt.
                    sink = None;
                    backoff.next_wait()
                }
                Err(e) => {
                    tracing::warn!(stream = id.as_str(), "audit stream: database error: {e}");
                    backoff.next_wait()
                }
            };
            // A closed change signal (the store shutting down) must not
            // turn the wait into a busy loop: then only the timer counts.
            let changed = async {
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                _ = stop.changed() => {}
                _ = changed, if wait == POLL => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        // Hand the stream over at once instead of after the lease expires.
        let _ = self
            .store
            .audit_streams()
            .release_stream(&id, &self.owner)
            .await;
    }
}

/// Starts and stops per-stream tasks as streams are added and deleted.
pub async fn supervise(deliverer: Arc<Deliverer>, mut stop: watch::Receiver<bool>) {
    let mut workers: HashMap<String, JoinHandle<()>> = HashMap::new();
    loop {
        workers.retain(|_, task| !task.is_finished());
        match deliverer.store.audit_streams().streams().await {
            Ok(rows) => {
                for row in rows {
                    workers.entry(row.id.clone()).or_insert_with(|| {
                        tokio::spawn(deliverer.clone().run(row.id, stop.clone()))
                    });
                }
            }
            Err(e) => tracing::warn!("audit streams: cannot list streams: {e}"),
        }
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep(RESCAN) => {}
        }
    }
    for (_, task) in workers {
        let _ = task.await;
    }
}
