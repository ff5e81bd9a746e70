//! When audit events of reads (and logins, denials) must reach the disk.
//!
//! Every audit event is on record before its request is answered (fail-closed):
//! a process that dies after the answer, even by `kill -9`, leaves the event
//! behind. What this policy relaxes is only the fsync of those events: with a
//! non-zero `interval` they are journaled (`audit_journal`, copied into a shared
//! mapping of the journal file, i.e. the page cache)
//! and the writer moves them into the chain in one fsynced commit at least
//! every `interval`, so after a power loss the audit chain is still a
//! verifiable prefix, shorter by at most `interval` of reads. Writes of data
//! are always fsynced before they are acknowledged. An interval of zero turns
//! the journal off: every such event is a commit of its own group, fsynced.
//! So every commit of the database is fsynced (`synchronous=FULL`); only the
//! journal's lines wait, in the page cache, for the writer's next move.
//!
//! This is what the file audit device of Vault/OpenBao gives (the entry in
//! the page cache before the answer, no fsync per entry), with a bound on the
//! window.

use std::time::Duration;

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
