//! One long-poll of the change feed per project the templates read, each on
//! its own task, reporting to the runner. A feed that is absent (an
//! Infisical server) or failing reports `Down`, and the runner polls the
//! templates of that project instead; when it opens or comes back it reports
//! `Up` and the runner re-renders them once to catch what was missed.

use super::backoff::Backoff;
use crate::api::secrets::Change;
use crate::client::changes::{is_project_missing, page};
use crate::client::ApiClient;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// How long one long-poll is held open (the server allows up to 55 s).
const LONG_POLL_SECS: u64 = 25;

#[derive(Debug)]
pub enum FeedEvent {
    Changes(String, Vec<Change>),
    Down(String),
    Up(String),
}

/// Follows `project`'s feed until the runner goes away.
pub async fn follow(
    project: String,
    mut client: watch::Receiver<Arc<ApiClient>>,
    events: mpsc::Sender<FeedEvent>,
) {
    let mut backoff = Backoff::new();
    let mut cursor: Option<i64> = None;
    let mut down = false;
    loop {
        let c = client.borrow().clone();
        let wait = if cursor.is_some() { LONG_POLL_SECS } else { 0 };
        // A new token (re-login) interrupts a poll made with the old one.
        let result = tokio::select! {
            r = page(&c, &project, cursor, wait) => r,
            changed = client.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
        };
        let event = match result {
            Ok(p) => {
                backoff.reset();
                let first = cursor.is_none();
                cursor = Some(p.cursor);
                // Opening the feed counts as coming back: a change made
                // between the render that started it and its first cursor
                // would otherwise be missed.
                if down || first {
                    down = false;
                    Some(FeedEvent::Up(project.clone()))
                } else if !p.changes.is_empty() {
                    Some(FeedEvent::Changes(project.clone(), p.changes))
                } else {
                    None
                }
            }
            Err(e) => {
                // 404 without naming the project: this server has no feed.
                let absent = e.status() == Some(404) && !is_project_missing(&e);
                tracing::debug!("change feed for project {project}: {e}");
                let report = !down;
                down = true;
                if report {
                    let _ = events.send(FeedEvent::Down(project.clone())).await;
                }
                if absent {
                    return;
                }
                // The cursor is kept: `Up` re-renders everything this
                // project feeds anyway.
                let wait = backoff.next_delay();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    changed = client.changed() => if changed.is_err() { return; },
                }
                None
            }
        };
        if let Some(ev) = event {
            if events.send(ev).await.is_err() {
                return;
            }
        }
    }
}
