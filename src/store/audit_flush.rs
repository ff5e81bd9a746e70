//! When audit events of reads (and logins, denials) must reach the disk.
//!
//! Every audit event is on record before its request is answered (fail-closed):
//! a process that dies after the answer, even by `kill -9`, leaves the event
//! behind. What this policy relaxes is only the fsync of those events: with a
//! non-zero `interval` they are journaled (`audit_journal`: written to the
//! journal file, i.e. the page cache) and the writer moves them into the chain in one fsynced commit at least
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

pub use crate::audit::flush_policy::{bounded, default_loss_bound, MAX_INTERVAL};
use crate::audit::AuditKey;
use std::time::Duration;

/// How a store keeps its audit chain: the key it links events under, how
/// often journaled events are moved into the chain, and how long one may wait
/// outside it before reads stop (`audit_journal`'s loss bound).
#[derive(Clone, Debug)]
pub struct AuditOptions {
    pub key: AuditKey,
    pub flush_interval: Duration,
    pub loss_bound: Duration,
}

impl AuditOptions {
    /// `key` with `flush_interval` (at most `MAX_INTERVAL`) and the default
    /// loss bound.
    pub fn new(key: AuditKey, flush_interval: Duration) -> AuditOptions {
        let flush_interval = bounded(flush_interval);
        AuditOptions {
            key,
            flush_interval,
            loss_bound: default_loss_bound(flush_interval),
        }
    }
}
