//! A read-through memo for a backend that sees every write to its database
//! (the embedded SQLite store: one server process owns the file and all its
//! writes pass through the store's one writer).
//!
//! Entries are rows exactly as the database holds them (ciphertext, never a
//! decrypted value), stamped with the store's write generation. The writer
//! bumps the generation after every commit that changed data and *before* it
//! answers that write, so once a write (a revocation, say) is acknowledged no
//! request can be answered from an entry older than it. The generation is read
//! before the database is, so an entry stored by a read that raced a write is
//! already stale. The TTL bounds what nothing else catches: an edit of the
//! database file behind the server's back is seen within `TTL`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const TTL: Duration = Duration::from_secs(1);
/// Entries per memo; past it the memo starts over (a burst of distinct keys
/// costs re-reads, never unbounded memory).
const CAPACITY: usize = 4096;

pub struct Memo<K, V> {
    entries: Mutex<HashMap<K, (u64, Instant, V)>>,
}

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    /// The value stored for `key` at `generation`, if still fresh.
    pub fn get(&self, key: &K, generation: u64) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        let (g, at, v) = entries.get(key)?;
        (*g == generation && at.elapsed() < TTL).then(|| v.clone())
    }

    pub fn put(&self, key: K, generation: u64, value: V) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.retain(|_, (g, at, _)| *g == generation && at.elapsed() < TTL);
                if entries.len() >= CAPACITY {
                    entries.clear();
                }
            }
            entries.insert(key, (generation, Instant::now(), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_makes_every_entry_stale() {
        let memo: Memo<&str, i32> = Memo::default();
        memo.put("k", 7, 1);
        assert_eq!(memo.get(&"k", 7), Some(1));
        // The writer committed a change: generation 8.
        assert_eq!(memo.get(&"k", 8), None);
    }

    #[test]
    fn entries_expire() {
        let memo: Memo<&str, i32> = Memo::default();
        memo.put("k", 0, 1);
        std::thread::sleep(TTL + Duration::from_millis(20));
        assert_eq!(memo.get(&"k", 0), None);
    }

    #[test]
    fn capacity_is_bounded() {
        let memo: Memo<usize, usize> = Memo::default();
        for i in 0..CAPACITY * 3 {
            memo.put(i, 0, i);
        }
        assert!(memo.entries.lock().unwrap().len() <= CAPACITY);
    }
}
