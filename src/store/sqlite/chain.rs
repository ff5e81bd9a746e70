//! The types the SQLite writer, its audit chain and its journal share: the
//! end of the chain (`ChainHead`) and an event prepared for it
//! (`PreparedAudit`). A leaf of `store::sqlite`: `group_commit`,
//! `audit_chain` and `audit_journal` import from it, never the reverse.

use crate::audit::{canonical, AuditKey};
use crate::store::{AuditEvent, StoreError, StoreResult};
use std::sync::Arc;

/// A database error as a store error (the text is for the server log only).
pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// What the writer knows about the end of the audit chain, and the key it
/// links new events under.
#[derive(Clone)]
pub(in crate::store) struct ChainHead {
    pub hash: Vec<u8>,
    /// The sequence number of the chain's last event.
    pub last_seq: i64,
    pub key: Arc<AuditKey>,
}

/// An audit event with the parts of its row that do not depend on the chain,
/// computed by the caller so the writer thread only links and inserts it.
pub(in crate::store) struct PreparedAudit {
    pub(super) event: Box<AuditEvent>,
    /// The `keys` column.
    pub(super) keys: String,
    /// What the chain links (`audit::canonical`).
    pub(super) canonical: Vec<u8>,
}

impl PreparedAudit {
    pub(in crate::store) fn new(event: AuditEvent) -> StoreResult<PreparedAudit> {
        let keys = serde_json::to_string(&event.keys).map_err(backend)?;
        Ok(PreparedAudit {
            canonical: canonical(&event),
            event: Box::new(event),
            keys,
        })
    }

    pub(in crate::store) fn canonical(&self) -> &[u8] {
        &self.canonical
    }
}
