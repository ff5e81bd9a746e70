//! Delivery: the audit streams' design (`streams::worker`) applied to
//! webhooks, one step at a time; the loop around the steps (a task per
//! webhook, backoff, polling) is `streams::driver`'s.
//!
//! A step: if the project has events past the webhook's cursor, take (or
//! renew) its lease, read the next events a webhook fires on, step the
//! cursor over those its environment and folder do not match, and send the
//! first that matches; only once the receiver answered 2xx does the cursor
//! move past it, by compare-and-set under the lease. A failure is recorded
//! and retried after a backoff from the same cursor: each change is
//! delivered at least once, in order, by one replica at a time.

use super::limits::{
    BACKOFF_CAP, BACKOFF_FIRST, BATCH_EVENTS, LEASE, MAX_ERROR_BYTES, POLL, RESCAN,
};
use super::payload::{Delivery, Project};
use super::target::PathGlob;
use super::{sealed, send};
use crate::crypto::Key;
use crate::store::webhooks::WebhookRow;
use crate::store::{Store, StoreError};
use crate::streams::driver::{Channel, Step, Timing};
use crate::time_ids::{now_ms, Clock};
use async_trait::async_trait;
use std::sync::Arc;

pub struct Deliverer {
    pub store: Arc<dyn Store>,
    pub root: Key,
    /// Stamps and signs deliveries (injected in tests).
    pub clock: Arc<dyn Clock>,
    pub allow_private: bool,
    /// This process's lease name, unique per start.
    pub owner: String,
    pub client: reqwest::Client,
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

impl Deliverer {
    /// Idle when nothing is new, the webhook is disabled, or another
    /// replica holds it.
    async fn next_step(&self, id: &str) -> Result<Step, StoreError> {
        let hooks = self.store.webhooks();
        let Some(row) = hooks.webhook(id).await? else {
            return Ok(Step::Gone);
        };
        let now = now_ms();
        if row.disabled
            || (row.lease_owner.as_deref().is_some_and(|o| o != self.owner)
                && row.lease_until > now)
            || self.store.last_seq().await? <= row.cursor_seq
        {
            return Ok(Step::Idle);
        }
        let row = match hooks
            .lease_webhook(id, &self.owner, now, now + LEASE.as_millis() as i64)
            .await
        {
            Ok(Some(row)) => row,
            Ok(None) => return Ok(Step::Idle),
            Err(StoreError::NotFound(_)) => return Ok(Step::Gone),
            Err(e) => return Err(e),
        };
        // Read before the events: everything up to it is committed, so
        // stepping the cursor up to it skips nothing.
        let head = self.store.last_seq().await?;
        let events = hooks
            .webhook_events_after(&row.project_id, row.cursor_seq, BATCH_EVENTS)
            .await?;
        let glob = match PathGlob::parse(&row.secret_path) {
            Ok(g) => g,
            Err(e) => return self.failed(&row, e).await,
        };
        let wanted = events.iter().find(|e| {
            e.event.environment.as_deref() == Some(row.environment.as_str())
                && glob.matches(e.event.path.as_deref().unwrap_or("/"))
        });
        let Some(event) = wanted else {
            // Nothing for this webhook up to here: step over it all (up to
            // the head when the page was not full, so idle polls stay cheap).
            let last = events.last().map_or(row.cursor_seq, |e| e.seq);
            let to = if (events.len() as i64) < BATCH_EVENTS {
                last.max(head)
            } else {
                last
            };
            if to > row.cursor_seq {
                hooks
                    .advance_webhook(id, &self.owner, row.cursor_seq, to, false, now_ms())
                    .await?;
            }
            return Ok(Step::Idle);
        };
        let secrets = match sealed::open(&self.root, &row.id, &row.key_wrapped, &row.sealed) {
            Ok(s) => s,
            Err(_) => {
                let e = "the webhook's URL and key do not open under this server's root key; delete the webhook and add it again";
                return self.failed(&row, e.into()).await;
            }
        };
        let Some(project) = self.store.project(&row.project_id).await? else {
            // Idle, not gone: the row is still there, and the supervisor
            // would only start this task again.
            return Ok(Step::Idle);
        };
        let project = Project {
            id: &project.id,
            name: &project.name,
        };
        let delivery = Delivery::from_event(event);
        let sent = send::post(
            &self.client,
            &secrets,
            &row.kind,
            &project,
            &delivery,
            self.allow_private,
            self.clock.now_ms(),
        )
        .await;
        match sent {
            Ok(()) => {
                let moved = hooks
                    .advance_webhook(id, &self.owner, row.cursor_seq, event.seq, true, now_ms())
                    .await?;
                if !moved {
                    tracing::warn!(webhook = id, "lost the webhook's lease during a delivery");
                    return Ok(Step::Idle);
                }
                Ok(Step::Delivered)
            }
            Err(e) => self.failed(&row, e).await,
        }
    }

    async fn failed(&self, row: &WebhookRow, error: String) -> Result<Step, StoreError> {
        let error = crate::limits::cut_to(error, MAX_ERROR_BYTES);
        tracing::warn!(
            webhook = row.id.as_str(),
            after_seq = row.cursor_seq,
            "webhook delivery failed: {error}"
        );
        self.store
            .webhooks()
            .webhook_attempted(&row.id, Some(&self.owner), Some(&error), now_ms())
            .await?;
        Ok(Step::Failed)
    }
}

#[async_trait]
impl Channel for Deliverer {
    type State = ();
    const NAME: &'static str = "webhook";

    fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn timing(&self) -> &Timing {
        &self.timing
    }

    async fn targets(&self) -> Result<Vec<String>, StoreError> {
        let rows = self.store.webhooks().webhooks(None).await?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    async fn step(&self, id: &str, _: &mut ()) -> Result<Step, StoreError> {
        self.next_step(id).await
    }

    async fn release(&self, id: &str) {
        let _ = self.store.webhooks().release_webhook(id, &self.owner).await;
    }
}
