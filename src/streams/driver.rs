//! The delivery loop shared by audit streams and webhooks: one task per
//! target (a stream, a webhook), started and stopped by a supervisor that
//! re-reads the set of targets, each task stepping until its target is
//! deleted or the server stops.
//!
//! A `Channel` says how to list targets and how one step goes (take the
//! lease, read what is next, send it, move the cursor); this module owns the
//! timing: right away after a delivery, a backoff after a failure or a
//! database error (reset by a delivery), and otherwise a poll interval cut
//! short by the store's change signal. `stop` is looked at between steps
//! only, so a delivery and its cursor update are never cut apart by a
//! shutdown; a stopping task gives its lease up at once.

use super::backoff::Backoff;
use crate::store::{Store, StoreError};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How one step went.
pub enum Step {
    /// Something went out; more may be waiting.
    Delivered,
    /// Nothing new, or another replica holds the target.
    Idle,
    /// The target was deleted.
    Gone,
    Failed,
}

/// The timing of a channel's loop.
pub struct Timing {
    pub poll: Duration,
    pub rescan: Duration,
    pub backoff_first: Duration,
    pub backoff_cap: Duration,
}

#[async_trait]
pub trait Channel: Send + Sync + 'static {
    /// What a target's task keeps between steps (a connection, say);
    /// dropped after a failure, so the next attempt starts afresh.
    type State: Default + Send;
    /// For log lines: "audit stream", "webhook".
    const NAME: &'static str;
    fn store(&self) -> &Arc<dyn Store>;
    fn timing(&self) -> &Timing;
    /// The ids of every target.
    async fn targets(&self) -> Result<Vec<String>, StoreError>;
    async fn step(&self, id: &str, state: &mut Self::State) -> Result<Step, StoreError>;
    /// Gives the target's lease up (best effort).
    async fn release(&self, id: &str);
}

/// Steps target `id` until it is gone or `stop` is set (or its sender is
/// dropped: then nobody could stop this task any more).
async fn run<C: Channel>(channel: Arc<C>, id: String, mut stop: watch::Receiver<bool>) {
    let t = channel.timing();
    let mut backoff = Backoff::new(t.backoff_first, t.backoff_cap);
    let mut changes = channel.store().change_signal();
    let mut state = C::State::default();
    loop {
        if *stop.borrow() || stop.has_changed().is_err() {
            break;
        }
        let wait = match channel.step(&id, &mut state).await {
            Ok(Step::Delivered) => {
                backoff.reset();
                continue;
            }
            Ok(Step::Idle) => t.poll,
            Ok(Step::Gone) => return,
            Ok(Step::Failed) => {
                state = C::State::default();
                backoff.next_wait()
            }
            Err(e) => {
                tracing::warn!(target_id = id.as_str(), "{}: database error: {e}", C::NAME);
                backoff.next_wait()
            }
        };
        // A closed change signal (the store shutting down) must not turn
        // the wait into a busy loop: then only the timer counts.
        let changed = async {
            if changes.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = stop.changed() => {}
            _ = changed, if wait == t.poll => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    channel.release(&id).await;
}

/// Starts and stops per-target tasks as targets are added and deleted;
/// once `stop` is set, waits for them to finish.
pub async fn supervise<C: Channel>(channel: Arc<C>, mut stop: watch::Receiver<bool>) {
    let mut workers: HashMap<String, JoinHandle<()>> = HashMap::new();
    loop {
        workers.retain(|_, task| !task.is_finished());
        match channel.targets().await {
            Ok(ids) => {
                for id in ids {
                    workers
                        .entry(id.clone())
                        .or_insert_with(|| tokio::spawn(run(channel.clone(), id, stop.clone())));
                }
            }
            Err(e) => tracing::warn!("{}: cannot list them: {e}", C::NAME),
        }
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep(channel.timing().rescan) => {}
        }
    }
    for (_, task) in workers {
        let _ = task.await;
    }
}
