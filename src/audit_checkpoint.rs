//! Signed checkpoints of the audit chain: (sequence number, link, time),
//! signed with an Ed25519 key derived from the root key, with the public key
//! beside it.
//!
//! The keyed chain shows that no event up to its end was edited, inserted or
//! removed; it cannot show that the end is where it was (cutting off the
//! newest rows leaves a shorter, valid chain), nor protect against someone
//! who holds the root key. A checkpoint kept elsewhere (a ticket, an
//! append-only bucket, a colleague's laptop) pins the chain's end at a time:
//! `hush audit verify --checkpoint FILE` then proves that nothing up to it
//! was changed, removed or cut off. Its signature checks with the public key
//! alone, so a verifier without the root key can tell a genuine checkpoint
//! from a made-up one; pin the public key (`--public-key`) to be sure it is
//! this server's.

use crate::audit::ChainBreak;
use crate::crypto::Key;
use crate::store::AuditRow;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

/// The `format` of a checkpoint file.
pub const FORMAT: &str = "hush-audit-checkpoint-v1";
/// Domain separation of the signing key and of what is signed.
const SIGNING_LABEL: &[u8] = b"hush audit checkpoint signing v1";
const MESSAGE_PREFIX: &[u8] = b"hush audit checkpoint v1\n";

/// A signed checkpoint, as written to a file (JSON) and answered by the API.
pub use crate::api::audit::Checkpoint;

/// What a checkpoint says once its signature holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Pinned {
    pub seq: i64,
    pub head: Vec<u8>,
    pub time: i64,
}

fn message(seq: i64, head: &[u8], time: i64) -> Vec<u8> {
    let mut m = MESSAGE_PREFIX.to_vec();
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&time.to_be_bytes());
    m.extend_from_slice(head);
    m
}

/// The signing key of one root key.
pub struct Signer(Ed25519KeyPair);

impl Signer {
    pub fn from_root(root: &Key) -> Signer {
        let seed = root.derive(SIGNING_LABEL);
        // A 32-byte seed is all Ed25519 needs; it cannot be rejected.
        Signer(Ed25519KeyPair::from_seed_unchecked(seed.as_ref()).expect("an Ed25519 seed"))
    }

    /// The public key, hex.
    pub fn public_key(&self) -> String {
        hex::encode(self.0.public_key().as_ref())
    }

    /// An Ed25519 signature of `message` (an archive manifest's).
    pub fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        self.0.sign(message).as_ref().to_vec()
    }

    /// A checkpoint of the chain ending at `seq` with link `head`.
    pub fn sign(&self, seq: i64, head: &[u8], time: i64) -> Checkpoint {
        let signature = self.0.sign(&message(seq, head, time));
        Checkpoint {
            format: FORMAT.into(),
            seq,
            head: hex::encode(head),
            time,
            public_key: self.public_key(),
            signature: hex::encode(signature.as_ref()),
        }
    }
}

impl Checkpoint {
    /// Parses a checkpoint file's text; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Checkpoint, String> {
        let c: Checkpoint =
            serde_json::from_str(text).map_err(|e| format!("not a hush audit checkpoint: {e}"))?;
        if c.format != FORMAT {
            return Err(format!(
                "unknown checkpoint format {:?} (this hush reads {FORMAT})",
                c.format
            ));
        }
        Ok(c)
    }

    /// Checks the signature with the public key in the checkpoint, which
    /// must equal `expected` when one is given (a key pinned by the
    /// verifier). The error says what failed.
    pub fn verify(&self, expected: Option<&str>) -> Result<Pinned, String> {
        if let Some(expected) = expected {
            if !expected.trim().eq_ignore_ascii_case(&self.public_key) {
                return Err(
                    "the checkpoint was signed by another key than the one given with --public-key"
                        .into(),
                );
            }
        }
        let bad = |what: &str| format!("the checkpoint's {what} is not valid hex");
        let head = hex::decode(&self.head).map_err(|_| bad("head"))?;
        let public = hex::decode(&self.public_key).map_err(|_| bad("public key"))?;
        let signature = hex::decode(&self.signature).map_err(|_| bad("signature"))?;
        UnparsedPublicKey::new(&ED25519, &public)
            .verify(&message(self.seq, &head, self.time), &signature)
            .map_err(|_| {
                "the checkpoint's signature does not verify: it was altered or made up".to_owned()
            })?;
        Ok(Pinned {
            seq: self.seq,
            head,
            time: self.time,
        })
    }
}

/// Compares the verified chain `rows` (in order) with a checkpoint: the
/// event it names must be there with the link it pinned. The error names
/// the first event that fails.
pub fn check_against(rows: &[AuditRow], pinned: &Pinned) -> Result<(), ChainBreak> {
    let last = rows.last().map_or(0, |r| r.seq);
    let Some(row) = rows.iter().find(|r| r.seq >= pinned.seq) else {
        return Err(ChainBreak {
            seq: last + 1,
            event_id: String::new(),
            reason: format!(
                "the log was cut off: it ends at event #{last}, but the checkpoint covers events up to #{}",
                pinned.seq
            ),
        });
    };
    if row.seq != pinned.seq {
        return Err(ChainBreak {
            seq: pinned.seq,
            event_id: String::new(),
            reason: "the event the checkpoint ends at is missing".into(),
        });
    }
    if row.hash != pinned.head {
        return Err(ChainBreak {
            seq: row.seq,
            event_id: row.event.id.clone(),
            reason: "its link differs from the checkpoint's: the log up to this event was rewritten by someone holding the root key".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditKey;

    fn signer(byte: u8) -> Signer {
        Signer::from_root(&Key::from_bytes(&[byte; 32]).unwrap())
    }

    #[test]
    fn a_checkpoint_verifies_with_its_public_key_alone() {
        let c = signer(1).sign(42, &[9u8; 32], 1_700_000_000_000);
        let text = serde_json::to_string(&c).unwrap();
        let parsed = Checkpoint::parse(&text).unwrap();
        let pinned = parsed.verify(None).unwrap();
        assert_eq!(pinned.seq, 42);
        assert_eq!(pinned.head, vec![9u8; 32]);
        // The same root key always gives the same public key.
        assert!(parsed.verify(Some(&signer(1).public_key())).is_ok());
    }

    #[test]
    fn altered_or_foreign_checkpoints_fail() {
        let c = signer(1).sign(42, &[9u8; 32], 5);
        for altered in [
            Checkpoint {
                seq: 41,
                ..c.clone()
            },
            Checkpoint {
                time: 6,
                ..c.clone()
            },
            Checkpoint {
                head: hex::encode([8u8; 32]),
                ..c.clone()
            },
        ] {
            assert!(altered.verify(None).is_err());
        }
        // Re-signed by another key: valid on its own, not the pinned key.
        let other = signer(2).sign(42, &[9u8; 32], 5);
        assert!(other.verify(None).is_ok());
        assert!(other.verify(Some(&c.public_key)).is_err());
        assert!(Checkpoint::parse("{}").is_err());
    }

    #[test]
    fn a_cut_off_or_rewritten_log_fails_against_its_checkpoint() {
        let key = crate::audit::tests::test_keyring().epochs[0].clone();
        let rows = crate::audit::tests::chain(20, &key);
        let at = |seq: usize| Pinned {
            seq: seq as i64,
            head: rows[seq - 1].hash.clone(),
            time: 0,
        };
        assert!(check_against(&rows, &at(20)).is_ok());
        assert!(check_against(&rows, &at(12)).is_ok(), "the log grew since");
        let cut = check_against(&rows[..10], &at(20)).unwrap_err();
        assert_eq!(cut.seq, 11, "the first missing event");
        assert!(cut.reason.contains("cut off"), "{}", cut.reason);
        let other = crate::audit::tests::chain(
            20,
            &AuditKey::from_root(&Key::from_bytes(&[3; 32]).unwrap()),
        );
        assert_eq!(check_against(&other, &at(12)).unwrap_err().seq, 12);
    }
}
