//! The change feed behind `hush run --watch`: "what changed in this project
//! since cursor N", answered at once when something did and otherwise held open
//! (long-poll) until a write commits or the wait runs out.
//!
//! The audit log is the feed: every change already writes an event in the same
//! transaction, ordered by `seq`, on every backend and across replicas. A
//! waiter sleeps on the store's change signal (the SQLite writer's commits, or
//! PostgreSQL LISTEN/NOTIFY from any replica) and re-reads the log when it
//! ticks, so a missed tick costs at most one `RECHECK` of delay, never a change.
//!
//! Events carry key names, never values; the caller sees only the events of
//! environments and folders it may read. A feed read is not itself audited: it
//! reveals no value, and the fetch a watcher makes after a change is audited.

use super::access::readable_keys;
use super::{iso, Ctx, Service, ServiceResult};
use crate::store::AuditRow;
use std::time::Duration;
use tokio::time::Instant;

/// Re-read the log at least this often while waiting, signal or not.
const RECHECK: Duration = Duration::from_secs(5);
/// Most events in one answer; the cursor lets the caller page on.
const PAGE: i64 = 500;

pub use crate::api::secrets::{Change, ChangePage};

impl Service {
    /// Changes in `project` after `after` that the caller may read. Without
    /// `after`, the current cursor (where a new watcher starts). Waits up to
    /// `wait` for a first change; `stop` ends the wait early (server shutdown).
    pub async fn changes(
        &self,
        ctx: &Ctx,
        project: &str,
        after: Option<i64>,
        wait: Duration,
        stop: impl std::future::Future<Output = ()>,
    ) -> ServiceResult<ChangePage> {
        let (project, grant) = self.visible_project(ctx, project).await?;
        let Some(mut cursor) = after else {
            return Ok(ChangePage {
                cursor: self.store.last_seq().await?,
                changes: Vec::new(),
            });
        };
        let envs = self.store.environments(&project.id).await?;
        let visible = |row: &AuditRow| {
            let event = &row.event;
            if event.action.ends_with("-personal-secret") && event.actor_id != ctx.actor.id {
                return None;
            }
            readable_keys(&grant, &envs, event).map(|keys| change(row, keys))
        };
        let deadline = Instant::now() + wait;
        let mut signal = self.store.change_signal();
        tokio::pin!(stop);
        loop {
            // Marked seen before reading, so a commit after the read ticks again.
            signal.borrow_and_update();
            // Read before the changes: everything up to it is committed, so a
            // cursor moved up to it skips nothing, and later waits do not
            // rescan the (read) events between.
            let head = self.store.last_seq().await?;
            let rows = self.store.changes_after(&project.id, cursor, PAGE).await?;
            let full_page = rows.len() as i64 == PAGE;
            if let Some(last) = rows.last() {
                cursor = last.seq;
            }
            if !full_page {
                cursor = cursor.max(head);
            }
            let changes: Vec<Change> = rows.iter().filter_map(visible).collect();
            if !changes.is_empty() || full_page {
                return Ok(ChangePage { cursor, changes });
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(ChangePage { cursor, changes });
            }
            let nap = (deadline - now).min(RECHECK);
            tokio::select! {
                ticked = signal.changed() => {
                    if ticked.is_err() {
                        // The store is closing; no more ticks will come.
                        tokio::time::sleep(nap).await;
                    }
                }
                _ = tokio::time::sleep(nap) => {}
                _ = &mut stop => return Ok(ChangePage { cursor, changes }),
            }
        }
    }
}

fn change(row: &AuditRow, keys: Vec<String>) -> Change {
    let e = &row.event;
    Change {
        seq: row.seq,
        time: iso(e.time),
        action: e.action.clone(),
        environment: e.environment.clone(),
        secret_path: e.path.clone(),
        keys,
        version: e.to_version,
    }
}
