//! The bounds of the audit flush policy (`store::audit_flush`): the longest
//! flush interval and the default loss bound. A leaf, read by `config` when it
//! validates settings and by the store when it applies them.

use std::time::Duration;

/// Ten flush intervals, and never under a second: one slow commit (an fsync
/// on a busy disk) must not stop reads.
pub fn default_loss_bound(interval: Duration) -> Duration {
    (interval * 10).max(Duration::from_secs(1))
}

/// The longest allowed interval: beyond it the window of audit events a power
/// loss can take grows past what an operator would accept by accident.
pub const MAX_INTERVAL: Duration = Duration::from_secs(10);

/// `interval`, at most `MAX_INTERVAL`.
pub fn bounded(interval: Duration) -> Duration {
    interval.min(MAX_INTERVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_is_capped() {
        assert_eq!(bounded(Duration::from_secs(3600)), MAX_INTERVAL);
        assert_eq!(
            bounded(Duration::from_millis(50)),
            Duration::from_millis(50)
        );
    }
}
