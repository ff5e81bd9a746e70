//! Answers a list that was just answered, unchanged, from memory: the same
//! caller (token), the same folder and the same options, while no write has
//! committed since and for at most the memo TTL (1 s). Services, pods and
//! SDK clients re-read the same folder many times a second; decrypting and
//! serialising 50 secrets anew each time was most of a list's CPU.
//!
//! What still happens for every request, hit or not: authentication, the
//! access check of the folder, and the audit event, committed before the
//! answer (fail-closed). Only lists whose whole computation wrote exactly one
//! audit event (no references into other folders, no imports) are kept, so a
//! hit writes exactly the event the computation would have written.
//!
//! Only on a store that sees every write (SQLite); never on PostgreSQL, where
//! another replica may have written. The bodies hold secret values: they live
//! only in this process (which holds the keys to every value anyway) and their
//! memory is zeroed when the last reference to them is dropped.

use crate::store::memo::Memo;
use crate::store::AuditTemplate;
use axum::body::Bytes;
use std::sync::Arc;
use zeroize::Zeroizing;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ListKey {
    pub token_id: String,
    pub env_id: String,
    pub path: String,
    /// recursive, view value, include imports, expand references, only
    /// keys and values
    pub flags: [bool; 5],
    pub tags: Option<String>,
}

pub struct CachedList {
    pub body: Bytes,
    /// The list's audit event, repeated (with a new id and time) by each hit.
    pub audit: Arc<AuditTemplate>,
}

#[derive(Default)]
pub struct ListCache(Memo<ListKey, Arc<CachedList>>);

impl ListCache {
    pub fn get(&self, key: &ListKey, generation: u64) -> Option<Arc<CachedList>> {
        self.0.get(key, generation)
    }

    pub fn put(&self, key: ListKey, generation: u64, list: CachedList) {
        self.0.put(key, generation, Arc::new(list));
    }
}

/// A response body whose memory is zeroed when its last reference drops.
pub fn secret_body(bytes: Vec<u8>) -> Bytes {
    Bytes::from_owner(SecretBytes(Zeroizing::new(bytes)))
}

struct SecretBytes(Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for SecretBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
