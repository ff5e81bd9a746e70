//! The audit of refusals that an attacker can repeat at will (logins while
//! locked out, unknown invite and reset tokens), aggregated so that a flood
//! is still on record, as a count, without one row per request.
//!
//! Per key — the action, the result and the account or address refused —
//! the first refusal of a window is written at once, as its own event. The
//! ones after it in the same window are only counted; when the window
//! closes (the flush job, or the next refusal after it) one summary event is
//! written: a copy of the first with `keys: ["repeats=N"]`, N the refusals
//! after the first. A flood therefore costs at most two rows per key per
//! window. Keys are bounded too: past `MAX_KEYS` open windows, new keys share
//! one overflow window (key `*`), whose first event stands for all of them.
//!
//! Counts live in memory until written: a graceful stop writes them, a crash
//! loses at most one window's counts (never the first event of a window).

use crate::store::AuditEvent;
use std::collections::HashMap;
use std::sync::Mutex;

/// How long one aggregate lasts.
pub const WINDOW_MS: i64 = 60_000;
const MAX_KEYS: usize = 4096;
const OVERFLOW: &str = "*";

struct Window {
    opened: i64,
    first: AuditEvent,
    repeats: u64,
}

#[derive(Default)]
pub struct RefusalLog {
    open: Mutex<HashMap<String, Window>>,
}

/// The summary event of a closed window, if anything was counted in it.
fn summary(w: Window, now: i64) -> Option<AuditEvent> {
    (w.repeats > 0).then(|| {
        let mut event = w.first;
        event.id = super::new_event_id(now);
        event.time = now;
        event.keys = vec![format!("repeats={}", w.repeats)];
        event
    })
}

impl RefusalLog {
    /// The events to write for one refusal of `key` at `now`: the refusal
    /// itself when it opens a window (after the summary of the window it
    /// replaces), nothing when it is counted into an open window.
    pub fn admit(&self, key: String, event: AuditEvent, now: i64) -> Vec<AuditEvent> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let key = if open.contains_key(&key) || open.len() < MAX_KEYS {
            key
        } else {
            OVERFLOW.to_owned()
        };
        let mut out = Vec::new();
        if let Some(w) = open.get_mut(&key) {
            if now - w.opened < WINDOW_MS {
                w.repeats += 1;
                return out;
            }
        }
        if let Some(closed) = open.remove(&key) {
            out.extend(summary(closed, now));
        }
        open.insert(
            key,
            Window {
                opened: now,
                first: event.clone(),
                repeats: 0,
            },
        );
        out.push(event);
        out
    }

    /// Summaries of the windows closed at `now` (of every window when
    /// `all`, at shutdown); closed windows are forgotten.
    pub fn drain(&self, now: i64, all: bool) -> Vec<AuditEvent> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let closed: Vec<String> = open
            .iter()
            .filter(|(_, w)| all || now - w.opened >= WINDOW_MS)
            .map(|(k, _)| k.clone())
            .collect();
        closed
            .into_iter()
            .filter_map(|k| open.remove(&k))
            .filter_map(|w| summary(w, now))
            .collect()
    }
}

impl super::Service {
    /// Audits a repeatable refusal through the aggregate of `key`.
    pub(super) async fn audit_refusal(
        &self,
        key: String,
        event: AuditEvent,
    ) -> super::ServiceResult<()> {
        let now = event.time;
        for e in self.refusals.admit(key, event, now) {
            self.store.append_audit(e).await?;
        }
        Ok(())
    }

    /// Writes the summaries of closed windows (all of them when `all`);
    /// returns how many.
    pub async fn flush_refusals(&self, all: bool) -> super::ServiceResult<usize> {
        let events = self.refusals.drain(super::now_ms(), all);
        let n = events.len();
        for e in events {
            self.store.append_audit(e).await?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str) -> AuditEvent {
        AuditEvent {
            actor_name: name.into(),
            result: "locked".into(),
            ..Default::default()
        }
    }

    #[test]
    fn first_event_then_one_summary_per_window() {
        let log = RefusalLog::default();
        assert_eq!(log.admit("a".into(), event("a"), 0).len(), 1);
        for t in 1..1000 {
            assert!(log.admit("a".into(), event("a"), t).is_empty());
        }
        assert_eq!(log.admit("b".into(), event("b"), 5).len(), 1);
        assert!(log.drain(WINDOW_MS - 1, false).is_empty());
        let out = log.drain(WINDOW_MS, false);
        assert_eq!(out.len(), 1, "b had no repeats");
        assert_eq!(out[0].keys, vec!["repeats=999"]);
        assert_eq!(out[0].actor_name, "a");
        // The next refusal opens a new window.
        assert_eq!(log.admit("a".into(), event("a"), WINDOW_MS + 1).len(), 1);
    }

    #[test]
    fn a_refusal_after_the_window_writes_its_summary() {
        let log = RefusalLog::default();
        log.admit("a".into(), event("a"), 0);
        log.admit("a".into(), event("a"), 1);
        let out = log.admit("a".into(), event("a"), WINDOW_MS);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].keys, vec!["repeats=1"]);
        assert!(out[1].keys.is_empty());
        assert_eq!(log.drain(WINDOW_MS + 1, true).len(), 0);
    }

    #[test]
    fn keys_are_bounded() {
        let log = RefusalLog::default();
        let written: usize = (0..MAX_KEYS + 500)
            .map(|i| log.admit(format!("k{i}"), event("x"), 0).len())
            .sum();
        assert_eq!(written, MAX_KEYS + 1, "the overflow window's first only");
        let summaries = log.drain(0, true);
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].keys, vec!["repeats=499"]);
    }
}
