//! Audit archive segments: events older than the retention period leave the
//! database as compressed NDJSON files, each with a signed manifest.
//!
//! A segment is `<first>-<last>.ndjson.gz` (one event per line, with its
//! sequence number and links in hex) beside `<first>-<last>.manifest.json`:
//! the first and last sequence numbers, the link before the first event and
//! the last event's link, the event count, the SHA-256 of the `.gz` file,
//! and an Ed25519 signature over all of it (the checkpoint key, see
//! `audit_checkpoint`). Segments link like events do: each starts from the
//! link the one before ended on, the first from the chain's genesis, and the
//! live log in the database starts from the last one's end (its archive
//! mark). So `hush audit verify --archive DIR` checks archive and live log as
//! one chain: an edited segment fails its hash or signature, a removed one
//! leaves a gap in the links, and one that does not reach the live log is
//! reported as such. The events' own keyed links were verified by the server
//! before it archived them; without the root key a verifier checks the
//! signed structure.

use crate::audit::GENESIS;
use crate::audit_checkpoint::Signer;
use crate::store::{AuditEvent, AuditRow};
use ring::signature::{UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, Write as _};
use std::path::{Path, PathBuf};

pub const FORMAT: &str = "hush-audit-archive-v1";
const MESSAGE_PREFIX: &[u8] = b"hush audit archive segment v1\n";

/// One archived event: the row as the database held it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchivedEvent {
    pub seq: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
    pub prev_hash: String,
    pub hash: String,
}

/// A segment's signed manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub first_seq: i64,
    pub last_seq: i64,
    pub events: u64,
    /// The link before the first event (hex).
    pub prev_hash: String,
    /// The last event's link (hex).
    pub last_hash: String,
    /// SHA-256 of the segment's `.gz` file (hex).
    pub sha256: String,
    /// The oldest and newest event times, Unix milliseconds.
    pub first_time: i64,
    pub last_time: i64,
    pub public_key: String,
    pub signature: String,
}

impl Manifest {
    fn message(&self) -> Vec<u8> {
        let mut m = MESSAGE_PREFIX.to_vec();
        for part in [
            &self.first_seq.to_string(),
            &self.last_seq.to_string(),
            &self.events.to_string(),
            &self.prev_hash,
            &self.last_hash,
            &self.sha256,
            &self.first_time.to_string(),
            &self.last_time.to_string(),
        ] {
            m.extend_from_slice(part.as_bytes());
            m.push(b'\n');
        }
        m
    }
}

fn segment_name(first: i64, last: i64) -> String {
    format!("{first:020}-{last:020}")
}

/// Writes `rows` (consecutive events of the chain, oldest first, at least
/// one) as a segment in `dir`, fsynced, the manifest last: a segment without
/// its manifest is an interrupted write and is written again. Returns the
/// manifest.
pub fn write_segment(dir: &Path, rows: &[AuditRow], signer: &Signer) -> std::io::Result<Manifest> {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Err(std::io::Error::other("an empty archive segment"));
    };
    std::fs::create_dir_all(dir)?;
    let name = segment_name(first.seq, last.seq);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for row in rows {
        let line = ArchivedEvent {
            seq: row.seq,
            event: row.event.clone(),
            prev_hash: hex::encode(&row.prev_hash),
            hash: hex::encode(&row.hash),
        };
        serde_json::to_writer(&mut gz, &line).map_err(std::io::Error::other)?;
        gz.write_all(b"\n")?;
    }
    let bytes = gz.finish()?;
    write_synced(&dir.join(format!("{name}.ndjson.gz")), &bytes)?;
    let mut manifest = Manifest {
        format: FORMAT.into(),
        first_seq: first.seq,
        last_seq: last.seq,
        events: rows.len() as u64,
        prev_hash: hex::encode(&first.prev_hash),
        last_hash: hex::encode(&last.hash),
        sha256: hex::encode(Sha256::digest(&bytes)),
        first_time: rows.iter().map(|r| r.event.time).min().unwrap_or(0),
        last_time: rows.iter().map(|r| r.event.time).max().unwrap_or(0),
        public_key: signer.public_key(),
        signature: String::new(),
    };
    manifest.signature = hex::encode(signer.sign_bytes(&manifest.message()));
    let mut text = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    text.push(b'\n');
    write_synced(&dir.join(format!("{name}.manifest.json")), &text)?;
    Ok(manifest)
}

/// Removes the segments that start after `seq` (written by a pass that was
/// interrupted before it removed their events from the database).
pub fn remove_segments_after(dir: &Path, seq: i64) -> std::io::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let first = name.split('-').next().and_then(|n| n.parse::<i64>().ok());
        if first.is_some_and(|first| first > seq) {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Writes a file whole (temporary name, fsync, rename, fsync of the folder).
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// What checking an archive directory found.
#[derive(Debug, PartialEq)]
pub struct ArchiveReport {
    pub segments: usize,
    pub events: u64,
    /// The last archived event's sequence number and link (where the live
    /// log must start); `None` for an empty archive.
    pub end: Option<(i64, Vec<u8>)>,
}

/// Checks every segment in `dir`, in order: manifest signature (under
/// `public_key` when given), file hash, the events against the manifest, and
/// the links from the genesis through each segment to the next. The error
/// names the segment and what is wrong.
pub fn verify_dir(dir: &Path, public_key: Option<&str>) -> Result<ArchiveReport, String> {
    let mut manifests: Vec<(PathBuf, Manifest)> = Vec::new();
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if !path.to_string_lossy().ends_with(".manifest.json") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not an archive manifest: {e}", path.display()))?;
        manifests.push((path, manifest));
    }
    manifests.sort_by_key(|(_, m)| m.first_seq);
    let mut expected_prev = hex::encode(GENESIS);
    let mut report = ArchiveReport {
        segments: 0,
        events: 0,
        end: None,
    };
    for (path, m) in &manifests {
        let name = path.display();
        check_signature(m, public_key).map_err(|e| format!("{name}: {e}"))?;
        if m.prev_hash != expected_prev {
            return Err(format!(
                "{name}: does not continue the segment before it (a segment before event #{} is missing or was replaced)",
                m.first_seq
            ));
        }
        let data = path.with_file_name(format!(
            "{}.ndjson.gz",
            segment_name(m.first_seq, m.last_seq)
        ));
        let bytes =
            std::fs::read(&data).map_err(|e| format!("cannot read {}: {e}", data.display()))?;
        if hex::encode(Sha256::digest(&bytes)) != m.sha256 {
            return Err(format!(
                "{}: its content does not match its signed manifest (edited)",
                data.display()
            ));
        }
        check_events(&bytes, m).map_err(|e| format!("{}: {e}", data.display()))?;
        expected_prev = m.last_hash.clone();
        report.segments += 1;
        report.events += m.events;
        let last = hex::decode(&m.last_hash).map_err(|_| format!("{name}: bad lastHash"))?;
        report.end = Some((m.last_seq, last));
    }
    Ok(report)
}

fn check_signature(m: &Manifest, public_key: Option<&str>) -> Result<(), String> {
    if m.format != FORMAT {
        return Err(format!("unknown archive format {:?}", m.format));
    }
    if let Some(expected) = public_key {
        if !expected.trim().eq_ignore_ascii_case(&m.public_key) {
            return Err("signed by another key than the one given with --public-key".into());
        }
    }
    let public = hex::decode(&m.public_key).map_err(|_| "bad public key hex".to_owned())?;
    let signature = hex::decode(&m.signature).map_err(|_| "bad signature hex".to_owned())?;
    UnparsedPublicKey::new(&ED25519, &public)
        .verify(&m.message(), &signature)
        .map_err(|_| "the manifest's signature does not verify (altered or made up)".to_owned())
}

/// The events of a segment agree with its manifest and link one to the next.
fn check_events(gz: &[u8], m: &Manifest) -> Result<(), String> {
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(gz));
    let mut prev = m.prev_hash.clone();
    let mut count = 0u64;
    let mut last_seq = None;
    for line in reader.lines() {
        let line = line.map_err(|e| format!("cannot decompress: {e}"))?;
        let e: ArchivedEvent = serde_json::from_str(&line)
            .map_err(|_| format!("line {} is not an event", count + 1))?;
        if e.prev_hash != prev {
            return Err(format!(
                "event #{} does not link to the one before it",
                e.seq
            ));
        }
        if count == 0 && e.seq != m.first_seq {
            return Err("its first event is not the manifest's".into());
        }
        prev = e.hash;
        last_seq = Some(e.seq);
        count += 1;
    }
    if count != m.events || last_seq != Some(m.last_seq) || prev != m.last_hash {
        return Err("its events do not match its manifest".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Key;

    fn signer() -> Signer {
        Signer::from_root(&Key::from_bytes(&[4; 32]).unwrap())
    }

    #[test]
    fn segments_verify_as_one_chain_and_a_removed_or_edited_one_is_named() {
        let key = crate::audit::tests::test_keyring().epochs[0].clone();
        let rows = crate::audit::tests::chain(30, &key);
        let dir = tempfile::tempdir().unwrap();
        for part in rows.chunks(10) {
            write_segment(dir.path(), part, &signer()).unwrap();
        }
        let report = verify_dir(dir.path(), Some(&signer().public_key())).unwrap();
        assert_eq!(report.segments, 3);
        assert_eq!(report.events, 30);
        assert_eq!(report.end, Some((30, rows[29].hash.clone())));
        assert!(verify_dir(dir.path(), Some(&"00".repeat(32))).is_err());

        // Remove the middle segment.
        let name = segment_name(11, 20);
        let gone = dir.path().join(format!("{name}.manifest.json"));
        let kept = std::fs::read(&gone).unwrap();
        std::fs::remove_file(&gone).unwrap();
        let err = verify_dir(dir.path(), None).unwrap_err();
        assert!(err.contains("missing"), "{err}");
        std::fs::write(&gone, kept).unwrap();

        // Replace a segment's content.
        let data = dir.path().join(format!("{name}.ndjson.gz"));
        let mut other = std::fs::read(&data).unwrap();
        other.push(0);
        std::fs::write(&data, other).unwrap();
        let err = verify_dir(dir.path(), None).unwrap_err();
        assert!(err.contains("does not match its signed manifest"), "{err}");
    }
}
