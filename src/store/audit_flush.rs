//! When audit events of reads (and logins, denials) must reach the disk.
//!
//! Every audit event is on record before its request is answered (fail-closed):
//! a process that dies after the answer, even by `kill -9`, leaves the event
//! behind. What this policy relaxes is only the fsync of those events: with a
//! non-zero `interval` they are journaled (`audit_journal`, one write(2) each)
//! and the writer moves them into the chain in one fsynced commit at least
//! every `interval`, so after a power loss the audit chain is still a
//! verifiable prefix, shorter by at most `interval` of reads. Writes of data
//! are always fsynced before they are acknowledged. An interval of zero turns
//! the journal off: every such event is a commit of its own group, fsynced.
//!
//! The deadline below is the safety net for a commit that was not fsynced
//! (`must_sync` false): the writer then fsyncs on its own once the interval is
//! up. With the journal no such commit is made today; the net stays so a
//! future audit-only commit cannot silently stay off the disk.
//!
//! This is what the file audit device of Vault/OpenBao gives (a write(2)
//! before the answer, no fsync per entry), with a bound on the window.

use std::time::{Duration, Instant};

/// The longest allowed interval: beyond it the window of audit events a power
/// loss can take grows past what an operator would accept by accident.
pub const MAX_INTERVAL: Duration = Duration::from_secs(10);

pub struct AuditFlush {
    interval: Duration,
    /// The first commit that has not been fsynced yet.
    unsynced_since: Option<Instant>,
}

impl AuditFlush {
    pub fn new(interval: Duration) -> AuditFlush {
        AuditFlush {
            interval: interval.min(MAX_INTERVAL),
            unsynced_since: None,
        }
    }

    /// The bound on how long an audit event may stay off the disk.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Whether the next commit must be fsynced: it writes data, every commit
    /// is (interval zero), or an unsynced commit has waited its interval.
    pub fn must_sync(&self, writes_data: bool, now: Instant) -> bool {
        writes_data
            || self.interval.is_zero()
            || self
                .unsynced_since
                .is_some_and(|t| now.duration_since(t) >= self.interval)
    }

    /// Records a successful commit.
    pub fn committed(&mut self, synced: bool, now: Instant) {
        if synced {
            self.unsynced_since = None;
        } else {
            self.unsynced_since.get_or_insert(now);
        }
    }

    /// After a failed fsync: try again one interval from `now`, not at once
    /// (a full disk would otherwise make the writer spin).
    pub fn postpone(&mut self, now: Instant) {
        if self.unsynced_since.is_some() {
            self.unsynced_since = Some(now);
        }
    }

    /// When the writer, idle until then, must fsync on its own; `None` when
    /// every commit is on disk.
    pub fn deadline(&self) -> Option<Instant> {
        self.unsynced_since.map(|t| t + self.interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_writes_always_sync() {
        let flush = AuditFlush::new(Duration::from_secs(1));
        assert!(flush.must_sync(true, Instant::now()));
    }

    #[test]
    fn audit_only_commits_sync_once_per_interval() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut flush = AuditFlush::new(ms(50));
        assert!(!flush.must_sync(false, t0));
        assert_eq!(flush.deadline(), None);
        flush.committed(false, t0);
        flush.committed(false, t0 + ms(10));
        // The window runs from the oldest unsynced commit, not the newest.
        assert_eq!(flush.deadline(), Some(t0 + ms(50)));
        assert!(!flush.must_sync(false, t0 + ms(49)));
        assert!(flush.must_sync(false, t0 + ms(50)));
        flush.committed(true, t0 + ms(50));
        assert_eq!(flush.deadline(), None);
        assert!(!flush.must_sync(false, t0 + ms(51)));
    }

    #[test]
    fn a_failed_fsync_is_retried_an_interval_later() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut flush = AuditFlush::new(ms(50));
        flush.postpone(t0);
        assert_eq!(flush.deadline(), None, "nothing pending, nothing to retry");
        flush.committed(false, t0);
        flush.postpone(t0 + ms(60));
        assert_eq!(flush.deadline(), Some(t0 + ms(110)));
    }

    #[test]
    fn zero_interval_syncs_every_commit() {
        let flush = AuditFlush::new(Duration::ZERO);
        assert!(flush.must_sync(false, Instant::now()));
    }

    #[test]
    fn interval_is_capped() {
        let t0 = Instant::now();
        let mut flush = AuditFlush::new(Duration::from_secs(3600));
        flush.committed(false, t0);
        assert_eq!(flush.deadline(), Some(t0 + MAX_INTERVAL));
    }
}
