//! Whether an external root key provider answers, and for how long cached
//! data keys keep serving while it does not.
//!
//! A provider outage must not take reads down at once (data keys already
//! unwrapped are in memory), but it must not last for ever either: revoking
//! hush's access at the provider is how an operator cuts a compromised
//! server off, so after `grace` without the provider the cache is dropped
//! and every request that needs a key is refused (503) until it is back.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Availability {
    grace: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// When the provider first failed in the current outage.
    down_since: Option<Instant>,
    /// The last failure, as shown by `/readyz` (secret-free).
    reason: Option<String>,
}

/// What cached keys may do now.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The provider answers: serve from the cache, unwrap on a miss.
    Up,
    /// Down for less than the grace time: serve from the cache only.
    Degraded,
    /// Down for longer: drop the cache, refuse.
    Expired,
}

impl Availability {
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            state: Mutex::new(State::default()),
        }
    }

    pub fn grace(&self) -> Duration {
        self.grace
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is two plain fields: a panic elsewhere cannot leave it
        // half-written, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn mark_up(&self) {
        let mut s = self.state();
        if s.down_since.take().is_some() {
            tracing::info!("root key provider reachable again");
        }
        s.reason = None;
    }

    pub fn mark_down(&self, reason: &str) {
        let mut s = self.state();
        if s.down_since.is_none() {
            tracing::warn!(
                "root key provider unavailable: {reason}; cached data keys serve for {:?}",
                self.grace
            );
            s.down_since = Some(Instant::now());
        }
        s.reason = Some(reason.to_owned());
    }

    pub fn verdict(&self) -> Verdict {
        self.verdict_at(Instant::now())
    }

    fn verdict_at(&self, now: Instant) -> Verdict {
        match self.state().down_since {
            None => Verdict::Up,
            Some(since) if now.saturating_duration_since(since) < self.grace => Verdict::Degraded,
            Some(_) => Verdict::Expired,
        }
    }

    /// Why the provider is down, if it is.
    pub fn reason(&self) -> Option<String> {
        self.state().reason.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_then_expiry_then_recovery() {
        let a = Availability::new(Duration::from_secs(60));
        assert_eq!(a.verdict(), Verdict::Up);
        a.mark_down("connection refused");
        let t0 = Instant::now();
        assert_eq!(a.verdict_at(t0), Verdict::Degraded);
        assert_eq!(a.reason().as_deref(), Some("connection refused"));
        assert_eq!(a.verdict_at(t0 + Duration::from_secs(61)), Verdict::Expired);
        a.mark_up();
        assert_eq!(a.verdict(), Verdict::Up);
        assert_eq!(a.reason(), None);
    }
}
