//! The one-time move of an audit log from the unkeyed chain (SHA-256 of the
//! link before and the event, as every version before the keyed chain wrote
//! it) to the keyed chain (`audit::AuditKey::link`), on either backend.
//!
//! The old chain is verified while it is re-linked, in one transaction: a
//! log whose old chain is broken is not silently re-linked (that would make
//! tampered history verify), unless the operator says so explicitly
//! (`HUSH_AUDIT_UPGRADE_ACCEPT_BREAK=1`), and then the break goes on record
//! in the upgrade's own event. On SQLite the same pass turns the rows that
//! held a burst of repeated events into one row per event, drops the
//! `repeats` column, and moves events left in an old-format journal (a
//! crash before the upgrade) into the chain.

use super::{AuditEvent, AuditRow, StoreError, StoreResult};
use crate::audit::{canonical, AuditKey, GENESIS};
use sha2::{Digest, Sha256};

/// The chain scheme recorded in `audit_chain_meta` once a log is keyed.
pub const KEYED_SCHEME: &str = "hmac-sha256-v1";

/// The action of the event the upgrade appends.
pub const UPGRADE_ACTION: &str = "audit-chain-upgraded";

/// How many rows are re-linked per batch (bounds the memory the upgrade of
/// a large log takes).
const BATCH: i64 = 5_000;

/// The link of the old, unkeyed chain.
pub fn legacy_link(prev: &[u8], event: &AuditEvent) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(canonical(event));
    hasher.finalize().to_vec()
}

/// Whether the operator accepts re-linking a log whose old chain is broken.
fn accept_break() -> bool {
    std::env::var("HUSH_AUDIT_UPGRADE_ACCEPT_BREAK").is_ok_and(|v| v == "1")
}

/// Walks the old chain as the upgrade re-links it.
pub(crate) struct LegacyWalk {
    expected_prev: Vec<u8>,
    /// The first break found (when the operator accepted breaks).
    pub first_break: Option<(i64, String)>,
    pub events: u64,
}

impl LegacyWalk {
    pub fn new() -> LegacyWalk {
        LegacyWalk {
            expected_prev: GENESIS.to_vec(),
            first_break: None,
            events: 0,
        }
    }

    /// Checks one old row (an event with its stored links); an error names
    /// the event where the old chain breaks, unless breaks are accepted.
    pub fn check(&mut self, row: &AuditRow) -> StoreResult<()> {
        self.events += 1;
        let intact = row.prev_hash == self.expected_prev
            && legacy_link(&row.prev_hash, &row.event) == row.hash;
        self.expected_prev = row.hash.clone();
        if intact || self.first_break.is_some() {
            return Ok(());
        }
        if !accept_break() {
            return Err(StoreError::Backend(format!(
                "cannot move the audit log to the keyed chain: its hash chain is broken at event #{} ({}), so the log was changed; restore the database from a backup, or start once with HUSH_AUDIT_UPGRADE_ACCEPT_BREAK=1 to re-link it anyway with the break on record",
                row.seq, row.event.id
            )));
        }
        self.first_break = Some((row.seq, row.event.id.clone()));
        Ok(())
    }

    /// The event that records the upgrade (linked last, under the new key);
    /// none for an empty log (a new database has nothing to record).
    pub fn record(&self, now: i64) -> Option<AuditEvent> {
        if self.events == 0 {
            return None;
        }
        let mut keys = vec![format!(
            "{} events re-linked under the audit key",
            self.events
        )];
        if let Some((seq, id)) = &self.first_break {
            keys.push(format!(
                "the old chain was broken at event #{seq} ({id}); re-linked on the operator's word"
            ));
        }
        Some(AuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            time: now,
            actor_type: "system".into(),
            actor_id: "system".into(),
            actor_name: "hush".into(),
            action: UPGRADE_ACTION.into(),
            keys,
            result: if self.first_break.is_some() {
                "failure".into()
            } else {
                "success".into()
            },
            ..Default::default()
        })
    }
}

/// The SQLite side.
pub(super) mod sqlite {
    use super::*;
    use crate::store::sqlite::audit_chain::{from_row, COLS};
    use crate::store::sqlite::backend;
    use rusqlite::{params, Connection, OptionalExtension};
    use std::path::{Path, PathBuf};

    /// Re-links the log under `key` if it is not keyed yet; returns the
    /// legacy journal files whose events are now in the chain (to delete
    /// once the caller no longer needs them).
    pub fn upgrade(
        conn: &Connection,
        key: &AuditKey,
        journal_dir: &Path,
        now: i64,
    ) -> StoreResult<Vec<PathBuf>> {
        let scheme: Option<String> = conn
            .query_row(
                "SELECT scheme FROM audit_chain_meta WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)?;
        if scheme.as_deref() == Some(KEYED_SCHEME) {
            return Ok(Vec::new());
        }
        let has_repeats: bool = conn
            .query_row(
                "SELECT COUNT(*) > 0 FROM pragma_table_info('audit_events') WHERE name = 'repeats'",
                [],
                |r| r.get(0),
            )
            .map_err(backend)?;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
        let done = relink(conn, key, journal_dir, has_repeats, now);
        match done {
            Ok(files) => {
                conn.execute_batch("COMMIT").map_err(backend)?;
                Ok(files)
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn relink(
        conn: &Connection,
        key: &AuditKey,
        journal_dir: &Path,
        has_repeats: bool,
        now: i64,
    ) -> StoreResult<Vec<PathBuf>> {
        let mut walk = LegacyWalk::new();
        let mut prev = GENESIS.to_vec();
        let mut last_seq = 0i64;
        let repeats_col = if has_repeats { "repeats" } else { "NULL" };
        loop {
            let batch: Vec<(AuditRow, Option<String>)> = {
                let mut stmt = conn
                    .prepare(&format!(
                        "SELECT {COLS}, {repeats_col} FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT ?2"
                    ))
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(params![last_seq, BATCH], |r| {
                        Ok((from_row(r)?, r.get::<_, Option<String>>(19)?))
                    })
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<_>>().map_err(backend)?
            };
            let Some(end) = batch.last().map(|(row, _)| row.seq) else {
                break;
            };
            for (row, repeats) in batch {
                for event in expand_burst(row, repeats.as_deref()) {
                    walk.check(&event)?;
                    let hash = key.link_event(&prev, &event.event);
                    write_event(conn, &event, &prev, &hash)?;
                    prev = hash;
                    last_seq = last_seq.max(event.seq);
                }
            }
            last_seq = last_seq.max(end);
        }
        let (files, mut leftovers) = legacy_leftovers(conn, journal_dir)?;
        leftovers.extend(walk.record(now));
        for event in leftovers {
            last_seq += 1;
            let row = AuditRow {
                seq: last_seq,
                event,
                prev_hash: prev.clone(),
                hash: Vec::new(),
            };
            let hash = key.link_event(&prev, &row.event);
            write_event(conn, &row, &prev, &hash)?;
            prev = hash;
        }
        if has_repeats {
            conn.execute_batch("ALTER TABLE audit_events DROP COLUMN repeats")
                .map_err(backend)?;
        }
        conn.execute(
            "INSERT INTO audit_chain_meta (id, scheme) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET scheme = excluded.scheme",
            params![KEYED_SCHEME],
        )
        .map_err(backend)?;
        Ok(files)
    }

    /// Writes `row` with its new links: a row's own event is updated in
    /// place; the events of a burst after it take the free sequence numbers
    /// after it (a burst at s covered s .. s+n-1).
    fn write_event(conn: &Connection, row: &AuditRow, prev: &[u8], hash: &[u8]) -> StoreResult<()> {
        let e = &row.event;
        let keys = serde_json::to_string(&e.keys).map_err(backend)?;
        conn.prepare_cached(&format!(
            "INSERT INTO audit_events ({COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)
             ON CONFLICT (seq) DO UPDATE SET prev_hash = excluded.prev_hash, hash = excluded.hash"
        ))
        .and_then(|mut stmt| {
            stmt.execute(params![
                row.seq,
                e.id,
                e.time,
                e.actor_type,
                e.actor_id,
                e.actor_name,
                e.action,
                e.project_id,
                e.environment,
                e.path,
                keys,
                e.from_version,
                e.to_version,
                e.client_ip,
                e.user_agent,
                e.result,
                prev,
                hash,
                e.client,
            ])
        })
        .map(drop)
        .map_err(backend)
    }

    /// The events of an old row: itself, and for a burst (`repeats`, the
    /// `[id, time]` of each event after it) one event per repeat, with the
    /// sequence numbers after the row's and the old links recomputed inside
    /// the burst (its last is the stored one: an edited burst fails there).
    fn expand_burst(row: AuditRow, repeats: Option<&str>) -> Vec<AuditRow> {
        let Some(repeats) = repeats else {
            return vec![row];
        };
        let repeats: Vec<(String, i64)> = serde_json::from_str(repeats).unwrap_or_default();
        let count = 1 + repeats.len();
        let AuditRow {
            seq,
            event: first,
            prev_hash,
            hash: stored,
        } = row;
        let times = std::iter::once((first.id.clone(), first.time)).chain(repeats);
        let mut prev = prev_hash;
        let mut events = Vec::with_capacity(count);
        for (i, (id, time)) in times.enumerate() {
            let event = AuditEvent {
                id,
                time,
                ..first.clone()
            };
            let hash = if i + 1 == count {
                stored.clone()
            } else {
                legacy_link(&prev, &event)
            };
            events.push(AuditRow {
                seq: seq + i as i64,
                event,
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            });
        }
        events
    }

    /// Events an old server journaled and did not move into the chain (it
    /// was killed): old-format lines (whole events, or `{"of","id","time"}`
    /// repeats of an earlier line), in files after the recorded commit
    /// mark, less events already in the table. Trusted as the old version
    /// trusted them: its lines carried no MAC.
    fn legacy_leftovers(
        conn: &Connection,
        journal_dir: &Path,
    ) -> StoreResult<(Vec<PathBuf>, Vec<AuditEvent>)> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RepeatLine {
            of: usize,
            id: String,
            time: i64,
        }
        if !journal_dir.exists() {
            return Ok((Vec::new(), Vec::new()));
        }
        let committed = crate::store::sqlite_audit::committed_journal(conn).map_err(backend)?;
        let files = crate::store::audit_journal::leftovers(journal_dir)
            .map_err(|e| backend(format!("cannot read {}: {e}", journal_dir.display())))?;
        let mut events = Vec::new();
        let mut paths = Vec::new();
        for (generation, path) in files {
            paths.push(path.clone());
            if generation <= committed {
                continue;
            }
            let bytes = std::fs::read(&path)
                .map_err(|e| backend(format!("cannot read {}: {e}", path.display())))?;
            let mut lines: Vec<Option<AuditEvent>> = Vec::new();
            for line in bytes.split_inclusive(|b| *b == b'\n') {
                let Some(json) = line.strip_suffix(b"\n") else {
                    break;
                };
                let event = match serde_json::from_slice::<RepeatLine>(json) {
                    Ok(r) => match lines.get(r.of) {
                        Some(Some(whole)) => Some(AuditEvent {
                            id: r.id,
                            time: r.time,
                            ..whole.clone()
                        }),
                        _ => None,
                    },
                    Err(_) => serde_json::from_slice::<AuditEvent>(json).ok(),
                };
                lines.push(event);
            }
            for event in lines.into_iter().flatten() {
                let known: bool = conn
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM audit_events WHERE id = ?1)",
                        params![event.id],
                        |r| r.get(0),
                    )
                    .map_err(backend)?;
                if !known {
                    events.push(event);
                }
            }
        }
        Ok((paths, events))
    }
}
