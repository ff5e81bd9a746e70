//! The audit log's keyed chain: each event's link is an HMAC-SHA256, under a
//! key derived from the root key, of the link before it and the event's
//! canonical JSON. An edited, inserted or deleted row breaks the chain at a
//! nameable place, and whoever can write the database but does not hold the
//! root key cannot compute the links a rewrite would need. (Cutting off the
//! newest rows leaves a valid shorter chain: signed checkpoints catch that,
//! see `audit_checkpoint`.)
//!
//! Root-key rotation ends one key's stretch of the chain with a hand-over
//! event, linked under the old key; every event after it is linked under the
//! new key. A verifier therefore walks the chain with the keys of every epoch
//! in order, switching at each hand-over.

pub mod event;
pub mod flush_policy;

pub use event::{AuditEvent, AuditRow};

use crate::crypto::Key;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The `prev_hash` of the first event.
pub const GENESIS: [u8; 32] = [0u8; 32];

/// The action of the event that ends one root key's stretch of the chain:
/// `hush server rotate-root-key` appends it, linked under the old key.
pub const HANDOVER_ACTION: &str = "rotate-root-key";

/// The action of the event that records a quarantined journal file.
pub const QUARANTINE_ACTION: &str = "audit-journal-quarantined";

/// Domain-separation labels of the keys derived from the root key.
const CHAIN_LABEL: &[u8] = b"hush audit chain link v1";
const JOURNAL_LABEL: &[u8] = b"hush audit journal line v1";

/// The audit keys of one root key: the chain's link key and the key that
/// authenticates journal lines. Debug never prints them; zeroed on drop.
#[derive(Clone)]
pub struct AuditKey {
    chain: Zeroizing<[u8; 32]>,
    journal: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(***)")
    }
}

fn epoch_aad(epoch: i64) -> Vec<u8> {
    format!("hush audit key epoch {epoch}").into_bytes()
}

fn hmac(key: &[u8; 32]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a 32-byte key")
}

impl AuditKey {
    /// The audit keys derived from `root` (domain-separated: they open
    /// nothing else, and reveal nothing of the root key).
    pub fn from_root(root: &Key) -> AuditKey {
        AuditKey {
            chain: root.derive(CHAIN_LABEL),
            journal: root.derive(JOURNAL_LABEL),
        }
    }

    /// This key sealed under `root` (stored so the events linked under it
    /// can still be verified once `root` has replaced it).
    pub fn seal(&self, root: &Key, epoch: i64) -> Result<Vec<u8>, crate::crypto::CryptoError> {
        let mut both = Zeroizing::new([0u8; 64]);
        both[..32].copy_from_slice(self.chain.as_ref());
        both[32..].copy_from_slice(self.journal.as_ref());
        root.seal(&epoch_aad(epoch), both.as_ref())
    }

    /// `seal`'s inverse; fails if `sealed` was not sealed under `root` for
    /// `epoch`.
    pub fn open(
        root: &Key,
        epoch: i64,
        sealed: &[u8],
    ) -> Result<AuditKey, crate::crypto::CryptoError> {
        let both = root.open(&epoch_aad(epoch), sealed)?;
        if both.len() != 64 {
            return Err(crate::crypto::CryptoError::Integrity);
        }
        let mut chain = Zeroizing::new([0u8; 32]);
        let mut journal = Zeroizing::new([0u8; 32]);
        chain.copy_from_slice(&both[..32]);
        journal.copy_from_slice(&both[32..]);
        Ok(AuditKey { chain, journal })
    }

    /// The link of an event given its `canonical` bytes and the link before it.
    pub fn link(&self, prev: &[u8], canonical: &[u8]) -> Vec<u8> {
        let mut mac = hmac(&self.chain);
        mac.update(&(prev.len() as u64).to_be_bytes());
        mac.update(prev);
        mac.update(canonical);
        mac.finalize().into_bytes().to_vec()
    }

    /// `link` of `event`.
    pub fn link_event(&self, prev: &[u8], event: &AuditEvent) -> Vec<u8> {
        self.link(prev, &canonical(event))
    }

    /// The MAC of an archive mark: the live log starts after event `seq`,
    /// whose link is `hash`, in key epoch `epoch`.
    pub fn mark_mac(&self, seq: i64, hash: &[u8], epoch: i64) -> Vec<u8> {
        let mut mac = hmac(&self.chain);
        mac.update(b"hush audit archive mark v1");
        mac.update(&seq.to_be_bytes());
        mac.update(&epoch.to_be_bytes());
        mac.update(hash);
        mac.finalize().into_bytes().to_vec()
    }

    /// The MAC of a journal line: the event's canonical bytes bound to the
    /// file (`generation`) and position (`index`) it was written at, so a
    /// line cannot be forged, nor copied to another file or place.
    pub fn journal_mac(&self, generation: u64, index: u64, canonical: &[u8]) -> [u8; 32] {
        let mut mac = hmac(&self.journal);
        mac.update(&generation.to_be_bytes());
        mac.update(&index.to_be_bytes());
        mac.update(canonical);
        mac.finalize().into_bytes().into()
    }

    /// Whether `tag` is `journal_mac` of the line (compared in constant time).
    pub fn journal_mac_matches(
        &self,
        generation: u64,
        index: u64,
        canonical: &[u8],
        tag: &[u8],
    ) -> bool {
        let mut mac = hmac(&self.journal);
        mac.update(&generation.to_be_bytes());
        mac.update(&index.to_be_bytes());
        mac.update(canonical);
        mac.verify_slice(tag).is_ok()
    }
}

/// The keys a verifier needs: one per root key the chain was linked under,
/// oldest first (the last is the current root key's).
#[derive(Clone, Debug)]
pub struct AuditKeyring {
    pub epochs: Vec<AuditKey>,
}

impl AuditKeyring {
    pub fn single(key: AuditKey) -> AuditKeyring {
        AuditKeyring { epochs: vec![key] }
    }

    /// The keyring of the current `root` key: the stored keys of earlier
    /// root keys (`(epoch, sealed)` as the store keeps them), then its own.
    pub fn open(
        root: &Key,
        sealed: &[(i64, Vec<u8>)],
    ) -> Result<AuditKeyring, crate::crypto::CryptoError> {
        let mut sorted: Vec<&(i64, Vec<u8>)> = sealed.iter().collect();
        sorted.sort_by_key(|(epoch, _)| *epoch);
        let mut epochs = Vec::with_capacity(sorted.len() + 1);
        for (epoch, bytes) in sorted {
            epochs.push(AuditKey::open(root, *epoch, bytes)?);
        }
        epochs.push(AuditKey::from_root(root));
        Ok(AuditKeyring { epochs })
    }
}

/// The bytes of `event` the chain links: its JSON with the struct's field
/// order, so it is stable.
pub fn canonical(event: &AuditEvent) -> Vec<u8> {
    // Serialising a plain struct of strings and integers cannot fail.
    serde_json::to_vec(event).unwrap_or_default()
}

/// Where and why the chain breaks (a type of the API contract).
pub use crate::api::audit::ChainBreak;

/// Walks a stretch of the chain in order, starting after `start` (the link
/// before the first row: `GENESIS` for the whole log) under epoch
/// `start_epoch` of `keys`. `Ok` holds where it ends (last link and epoch),
/// or the first row where it breaks.
pub fn verify_from(
    rows: &[AuditRow],
    keys: &AuditKeyring,
    start: &[u8],
    start_epoch: usize,
) -> Result<(Vec<u8>, usize), ChainBreak> {
    let mut expected_prev: Vec<u8> = start.to_vec();
    let mut epoch = start_epoch;
    for row in rows {
        let broken = |reason: &str| ChainBreak {
            seq: row.seq,
            event_id: row.event.id.clone(),
            reason: reason.into(),
        };
        if row.prev_hash != expected_prev {
            return Err(broken(
                "its link to the event before it does not match (a row was deleted, inserted or edited)",
            ));
        }
        let Some(key) = keys.epochs.get(epoch) else {
            return Err(broken(
                "it follows a root-key hand-over this server holds no key for",
            ));
        };
        if key.link_event(&row.prev_hash, &row.event) != row.hash {
            return Err(broken(
                "its content does not match its keyed link (the row was edited or forged)",
            ));
        }
        if row.event.action == HANDOVER_ACTION {
            epoch += 1;
        }
        expected_prev = row.hash.clone();
    }
    Ok((expected_prev, epoch))
}

/// Verifies the whole chain from its first event; `Ok(n)` with the number of
/// events checked.
pub fn verify_chain(rows: &[AuditRow], keys: &AuditKeyring) -> Result<usize, ChainBreak> {
    verify_from(rows, keys, &GENESIS, 0).map(|_| rows.len())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn test_keyring() -> AuditKeyring {
        AuditKeyring::single(AuditKey::from_root(&Key::from_bytes(&[7u8; 32]).unwrap()))
    }

    pub(crate) fn chain(n: usize, key: &AuditKey) -> Vec<AuditRow> {
        let mut prev = GENESIS.to_vec();
        (0..n)
            .map(|i| {
                let event = AuditEvent {
                    id: format!("e{i}"),
                    action: "read".into(),
                    ..Default::default()
                };
                let hash = key.link_event(&prev, &event);
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
    fn detects_edit_delete_and_a_rewrite_without_the_key() {
        let keys = test_keyring();
        let rows = chain(5, &keys.epochs[0]);
        assert_eq!(verify_chain(&rows, &keys), Ok(5));
        let mut edited = rows.clone();
        edited[2].event.action = "write".into();
        assert_eq!(verify_chain(&edited, &keys).unwrap_err().seq, 3);
        let mut deleted = rows.clone();
        deleted.remove(1);
        assert_eq!(verify_chain(&deleted, &keys).unwrap_err().seq, 3);
        // Someone with the database but another key rewrites everything.
        let forger = AuditKey::from_root(&Key::from_bytes(&[8u8; 32]).unwrap());
        let forged = chain(5, &forger);
        assert_eq!(verify_chain(&forged, &keys).unwrap_err().seq, 1);
        // And an unkeyed SHA-256 chain (the old scheme) is no chain at all.
        let mut unkeyed = rows.clone();
        // (`store::audit_upgrade::legacy_link`, written out: audit imports no store.)
        unkeyed[0].hash = {
            use sha2::Digest;
            let mut hasher = Sha256::new();
            hasher.update(GENESIS);
            hasher.update(canonical(&unkeyed[0].event));
            hasher.finalize().to_vec()
        };
        assert_eq!(verify_chain(&unkeyed, &keys).unwrap_err().seq, 1);
    }

    #[test]
    fn a_hand_over_switches_to_the_next_key() {
        let old = AuditKey::from_root(&Key::from_bytes(&[1u8; 32]).unwrap());
        let new = AuditKey::from_root(&Key::from_bytes(&[2u8; 32]).unwrap());
        let mut rows = chain(2, &old);
        let mut prev = rows[1].hash.clone();
        for (i, (action, key)) in [(HANDOVER_ACTION, &old), ("read", &new), ("read", &new)]
            .into_iter()
            .enumerate()
        {
            let event = AuditEvent {
                id: format!("h{i}"),
                action: action.into(),
                ..Default::default()
            };
            let hash = key.link_event(&prev, &event);
            rows.push(AuditRow {
                seq: i as i64 + 3,
                event,
                prev_hash: prev.clone(),
                hash: hash.clone(),
            });
            prev = hash;
        }
        let both = AuditKeyring {
            epochs: vec![old.clone(), new.clone()],
        };
        assert_eq!(verify_chain(&rows, &both), Ok(5));
        let only_old = AuditKeyring::single(old);
        assert_eq!(verify_chain(&rows, &only_old).unwrap_err().seq, 4);
        let only_new = AuditKeyring::single(new);
        assert_eq!(verify_chain(&rows, &only_new).unwrap_err().seq, 1);
    }

    #[test]
    fn journal_macs_bind_file_and_place() {
        let key = &test_keyring().epochs[0];
        let tag = key.journal_mac(3, 0, b"line");
        assert!(key.journal_mac_matches(3, 0, b"line", &tag));
        assert!(!key.journal_mac_matches(4, 0, b"line", &tag));
        assert!(!key.journal_mac_matches(3, 1, b"line", &tag));
        assert!(!key.journal_mac_matches(3, 0, b"lime", &tag));
    }
}
