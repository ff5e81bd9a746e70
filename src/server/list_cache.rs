//! Answers a list that was just answered, unchanged, from memory: the same
//! caller (token), the same folder and the same options, while no write has
//! committed since and for at most the memo TTL (1 s). Services, pods and
//! SDK clients re-read the same folder many times a second, and decrypting
//! and serialising every secret anew is the bulk of a list's work.
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

use crate::store::memo::TTL;
use crate::store::AuditEvent;
use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use zeroize::Zeroizing;

/// Body bytes kept at once: what the cache may pin, whatever callers ask.
const MAX_BYTES: usize = 64 * 1024 * 1024;
/// A larger body is answered but not kept.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Lists kept at once.
const MAX_ENTRIES: usize = 4096;
/// A longer `tagSlugs` filter is answered but not kept (it is part of the key).
const MAX_TAG_FILTER: usize = 1024;

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
    pub audit: Arc<AuditEvent>,
}

/// Kept lists, bounded by count and by body bytes. An entry is valid for the
/// write generation it was built at and for `TTL`; a stale one found by a
/// lookup is dropped there, and a full cache first drops every stale entry.
#[derive(Default)]
pub struct ListCache(Mutex<Entries>);

#[derive(Default)]
struct Entries {
    lists: HashMap<ListKey, (u64, Instant, Arc<CachedList>)>,
    bytes: usize,
}

impl Entries {
    fn remove(&mut self, key: &ListKey) {
        if let Some((_, _, list)) = self.lists.remove(key) {
            self.bytes -= list.body.len();
        }
    }

    fn drop_stale(&mut self, generation: u64) {
        self.lists
            .retain(|_, (g, at, _)| *g == generation && at.elapsed() < TTL);
        self.bytes = self.lists.values().map(|(_, _, l)| l.body.len()).sum();
    }
}

impl ListCache {
    pub fn get(&self, key: &ListKey, generation: u64) -> Option<Arc<CachedList>> {
        let mut entries = self.0.lock().ok()?;
        let (g, at, list) = entries.lists.get(key)?;
        if *g == generation && at.elapsed() < TTL {
            return Some(list.clone());
        }
        entries.remove(key);
        None
    }

    pub fn put(&self, key: ListKey, generation: u64, list: CachedList) {
        let len = list.body.len();
        let long_filter = key.tags.as_ref().is_some_and(|t| t.len() > MAX_TAG_FILTER);
        if len > MAX_BODY_BYTES || long_filter {
            return;
        }
        let Ok(mut entries) = self.0.lock() else {
            return;
        };
        entries.remove(&key);
        if entries.bytes + len > MAX_BYTES || entries.lists.len() >= MAX_ENTRIES {
            entries.drop_stale(generation);
            if entries.bytes + len > MAX_BYTES || entries.lists.len() >= MAX_ENTRIES {
                entries.lists.clear();
                entries.bytes = 0;
            }
        }
        entries.bytes += len;
        entries
            .lists
            .insert(key, (generation, Instant::now(), Arc::new(list)));
    }

    /// Body bytes kept now.
    pub fn bytes(&self) -> usize {
        self.0.lock().map_or(0, |e| e.bytes)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize) -> ListKey {
        ListKey {
            token_id: format!("t{n}"),
            env_id: "e".into(),
            path: "/".into(),
            flags: [false; 5],
            tags: None,
        }
    }

    fn list(len: usize) -> CachedList {
        CachedList {
            body: secret_body(vec![b'x'; len]),
            audit: Arc::new(AuditEvent::default()),
        }
    }

    #[test]
    fn bytes_stay_bounded_and_large_bodies_are_not_kept() {
        let cache = ListCache::default();
        for n in 0..100 {
            cache.put(key(n), 0, list(MAX_BODY_BYTES));
            assert!(cache.bytes() <= MAX_BYTES);
        }
        cache.put(key(1000), 0, list(MAX_BODY_BYTES + 1));
        assert!(cache.get(&key(1000), 0).is_none());
        let mut long = key(1001);
        long.tags = Some("t".repeat(MAX_TAG_FILTER + 1));
        cache.put(long.clone(), 0, list(10));
        assert!(cache.get(&long, 0).is_none());
    }

    #[test]
    fn a_stale_entry_is_dropped_when_looked_up() {
        let cache = ListCache::default();
        cache.put(key(1), 0, list(100));
        assert!(cache.get(&key(1), 0).is_some());
        assert!(cache.get(&key(1), 1).is_none(), "a write came in between");
        assert_eq!(cache.bytes(), 0);
    }
}
