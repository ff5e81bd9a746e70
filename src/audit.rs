//! The audit log's hash chain: each event stores the hash of the one before, so an
//! edited, inserted or deleted row breaks the chain at a nameable place.

use crate::store::{AuditEvent, AuditRow};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS: [u8; 32] = [0u8; 32];

/// SHA-256 over the previous hash and the event's canonical JSON (field order is
/// the struct's, so it is stable).
pub fn chain_hash(prev_hash: &[u8], event: &AuditEvent) -> Vec<u8> {
    link_hash(prev_hash, &canonical(event))
}

/// The bytes of `event` the chain hashes: computed apart from the link so a
/// store's single writer only has to do the hashing.
pub fn canonical(event: &AuditEvent) -> Vec<u8> {
    // Serialising a plain struct of strings and integers cannot fail.
    serde_json::to_vec(event).unwrap_or_default()
}

/// `chain_hash` of an event given its `canonical` bytes.
pub fn link_hash(prev_hash: &[u8], canonical: &[u8]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(canonical);
    hasher.finalize().to_vec()
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainBreak {
    pub seq: i64,
    pub event_id: String,
    pub reason: String,
}

/// Walks the chain in order; `Ok(n)` with the number of events checked, or the
/// first row where it breaks.
pub fn verify_chain(rows: &[AuditRow]) -> Result<usize, ChainBreak> {
    let mut expected_prev: Vec<u8> = GENESIS.to_vec();
    for row in rows {
        if row.prev_hash != expected_prev {
            return Err(ChainBreak {
                seq: row.seq,
                event_id: row.event.id.clone(),
                reason: "previous-hash link does not match the event before it (a row was deleted, inserted or edited)".into(),
            });
        }
        let computed = chain_hash(&row.prev_hash, &row.event);
        if computed != row.hash {
            return Err(ChainBreak {
                seq: row.seq,
                event_id: row.event.id.clone(),
                reason: "event content does not match its hash (the row was edited)".into(),
            });
        }
        expected_prev = row.hash.clone();
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<AuditRow> {
        let mut prev = GENESIS.to_vec();
        (0..n)
            .map(|i| {
                let event = AuditEvent {
                    id: format!("e{i}"),
                    action: "read".into(),
                    ..Default::default()
                };
                let hash = chain_hash(&prev, &event);
                let row = AuditRow {
                    seq: i as i64 + 1,
                    event,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                row
            })
            .collect()
    }

    #[test]
    fn detects_edit_and_delete() {
        let rows = chain(5);
        assert_eq!(verify_chain(&rows), Ok(5));
        let mut edited = rows.clone();
        edited[2].event.action = "write".into();
        assert_eq!(verify_chain(&edited).unwrap_err().seq, 3);
        let mut deleted = rows.clone();
        deleted.remove(1);
        assert_eq!(verify_chain(&deleted).unwrap_err().seq, 3);
    }
}
