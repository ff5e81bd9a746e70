//! Delivery of one stream, a step at a time; the loop around the steps (a
//! task per stream, backoff, polling) is `driver`'s, shared with webhooks.
//!
//! A step: if the stream has events past its cursor, take (or renew) its
//! lease, read the next batch by `seq`, send it, and only once the collector
//! acknowledged, move the cursor by compare-and-set under the lease. A
//! failure is recorded on the stream and retried after a backoff, from the
//! same cursor: nothing is skipped, and a batch the collector did not
//! acknowledge is sent again (at least once). An idle stream costs two reads
//! a poll and no write.

use super::driver::{Channel, Step, Timing};
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
use async_trait::async_trait;
use std::sync::Arc;

pub struct Deliverer {
    pub store: Arc<dyn Store>,
    pub root: Key,
    /// This process's lease name: unique per start, so a restarted replica
    /// does not mistake its predecessor's lease for its own.
    pub owner: String,
    pub timing: Timing,
}

pub fn timing() -> Timing {
    Timing {
        poll: POLL,
        rescan: RESCAN,
        backoff_first: BACKOFF_FIRST,
        backoff_cap: BACKOFF_CAP,
    }
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
    async fn next_step(
        &self,
        id: &str,
        sink: &mut Option<(i64, Sink)>,
    ) -> Result<Step, StoreError> {
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
}

/// The driver's view of streams. The state kept between steps is the sink,
/// with the `updated_at` of the settings it was built from (rebuilt when
/// the stream changed; dropped after a failure, for a new connection and a
/// fresh read of the headers).
#[async_trait]
impl Channel for Deliverer {
    type State = Option<(i64, Sink)>;
    const NAME: &'static str = "audit stream";

    fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn timing(&self) -> &Timing {
        &self.timing
    }

    async fn targets(&self) -> Result<Vec<String>, StoreError> {
        let rows = self.store.audit_streams().streams().await?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    async fn step(&self, id: &str, sink: &mut Self::State) -> Result<Step, StoreError> {
        self.next_step(id, sink).await
    }

    async fn release(&self, id: &str) {
        let _ = self
            .store
            .audit_streams()
            .release_stream(id, &self.owner)
            .await;
    }
}
