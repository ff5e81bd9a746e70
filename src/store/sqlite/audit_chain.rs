//! How the SQLite store keeps the audit chain in `audit_events`: one row per
//! event, linked under the audit key by the single writer.

use super::chain::PreparedAudit;
use super::chain::{backend, ChainHead};
use crate::audit::{AuditKey, GENESIS};
use crate::store::{ArchiveMark, AuditEvent, AuditFilter, AuditRow, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::sync::Arc;

/// Rows per INSERT statement when the writer moves the journal into the
/// chain: one statement execution for this many rows, not one each.
const ROWS_PER_INSERT: usize = 32;

/// The columns of an audit row, in the order every statement uses them.
pub(in crate::store) const COLS: &str =
    "seq, id, time, actor_type, actor_id, actor_name, action, project_id, \
     environment, path, keys, from_version, to_version, client_ip, user_agent, result, prev_hash, \
     hash, client";
const COLUMNS: usize = 19;

impl PreparedAudit {
    pub(in crate::store) fn insert(
        &self,
        conn: &Connection,
        head: &mut ChainHead,
    ) -> StoreResult<()> {
        insert_rows(conn, head, std::slice::from_ref(self))
    }
}

/// Links and inserts `events` in order (a drain of the audit journal).
pub(in crate::store) fn insert_all(
    conn: &Connection,
    head: &mut ChainHead,
    events: &[PreparedAudit],
) -> StoreResult<()> {
    let mut chunks = events.chunks_exact(ROWS_PER_INSERT);
    for chunk in &mut chunks {
        insert_rows(conn, head, chunk)?;
    }
    chunks
        .remainder()
        .iter()
        .try_for_each(|event| event.insert(conn, head))
}

/// An event of a write's own transaction.
pub(in crate::store) fn insert_audit(
    conn: &Connection,
    head: &mut ChainHead,
    event: &AuditEvent,
) -> StoreResult<()> {
    PreparedAudit::new(event.clone())?.insert(conn, head)
}

/// Links `events` onto the chain in order and inserts them with one
/// statement (`events` holds one, or `ROWS_PER_INSERT`: the two statements
/// kept). The head moves only once the insert succeeded.
fn insert_rows(
    conn: &Connection,
    head: &mut ChainHead,
    events: &[PreparedAudit],
) -> StoreResult<()> {
    static ONE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static MANY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = |count: usize| {
        let row = format!("({})", vec!["?"; COLUMNS].join(","));
        format!(
            "INSERT INTO audit_events ({COLS}) VALUES {}",
            vec![row; count].join(",")
        )
    };
    let sql = match events.len() {
        1 => ONE.get_or_init(|| sql(1)),
        ROWS_PER_INSERT => MANY.get_or_init(|| sql(ROWS_PER_INSERT)),
        n => return Err(backend(format!("{n} audit rows in one insert"))),
    };
    let mut links: Vec<(i64, Vec<u8>, Vec<u8>)> = Vec::with_capacity(events.len());
    let mut prev = head.hash.clone();
    let mut seq = head.last_seq;
    for event in events {
        let hash = head.key.link(&prev, &event.canonical);
        seq += 1;
        links.push((seq, std::mem::replace(&mut prev, hash.clone()), hash));
    }
    let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(events.len() * COLUMNS);
    for (p, (seq, prev_hash, hash)) in events.iter().zip(&links) {
        let e = &p.event;
        values.extend([
            seq as &dyn rusqlite::ToSql,
            &e.id,
            &e.time,
            &e.actor_type,
            &e.actor_id,
            &e.actor_name,
            &e.action,
            &e.project_id,
            &e.environment,
            &e.path,
            &p.keys,
            &e.from_version,
            &e.to_version,
            &e.client_ip,
            &e.user_agent,
            &e.result,
            prev_hash,
            hash,
            &e.client,
        ]);
    }
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(values.as_slice()))
        .map_err(backend)?;
    head.hash = prev;
    head.last_seq = seq;
    Ok(())
}

/// The end of the chain in the table (its last link and sequence number),
/// extended under `key`.
pub(in crate::store) fn chain_end(
    conn: &Connection,
    key: Arc<AuditKey>,
) -> rusqlite::Result<ChainHead> {
    let last = conn
        .query_row(
            "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .optional()?;
    Ok(match last {
        Some((last_seq, hash)) => ChainHead {
            hash,
            last_seq,
            key,
        },
        None => ChainHead {
            hash: GENESIS.to_vec(),
            last_seq: 0,
            key,
        },
    })
}

pub(in crate::store) fn from_row(r: &Row) -> rusqlite::Result<AuditRow> {
    let keys: String = r.get(10)?;
    Ok(AuditRow {
        seq: r.get(0)?,
        event: AuditEvent {
            id: r.get(1)?,
            time: r.get(2)?,
            actor_type: r.get(3)?,
            actor_id: r.get(4)?,
            actor_name: r.get(5)?,
            action: r.get(6)?,
            project_id: r.get(7)?,
            environment: r.get(8)?,
            path: r.get(9)?,
            // An unparsable list is kept visible (and will fail verification).
            keys: serde_json::from_str(&keys).unwrap_or_else(|_| vec![keys.clone()]),
            from_version: r.get(11)?,
            to_version: r.get(12)?,
            client_ip: r.get(13)?,
            user_agent: r.get(14)?,
            result: r.get(15)?,
            client: r.get(18)?,
        },
        prev_hash: r.get(16)?,
        hash: r.get(17)?,
    })
}

/// Every event of the chain, in order.
pub(in crate::store) fn chain(conn: &Connection) -> rusqlite::Result<Vec<AuditRow>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLS} FROM audit_events ORDER BY seq"))?;
    let rows = stmt.query_map([], from_row)?;
    rows.collect()
}

/// Up to `limit` events after `after_seq`, in chain order.
pub(in crate::store) fn range(
    conn: &Connection,
    after_seq: i64,
    limit: i64,
) -> rusqlite::Result<Vec<AuditRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![after_seq, limit], from_row)?;
    rows.collect()
}

/// The events `filter` selects, newest first (by time, then by sequence
/// number: a read journaled before a write but linked after it is still
/// listed before it), at most `filter.limit`.
pub(in crate::store) fn query(
    conn: &Connection,
    filter: &AuditFilter,
) -> rusqlite::Result<Vec<AuditRow>> {
    let key_pattern = filter
        .key
        .as_ref()
        .map(|k| format!("%{}%", serde_json::to_string(k).unwrap_or_default()));
    let (before_time, before_seq) = filter.before.map(|c| (c.time, c.seq)).unzip();
    // Newest first by time, or (following the log) oldest first by seq.
    let place = if filter.after_seq.is_some() {
        "(?8 IS NULL OR time < ?8 OR (time = ?8 AND seq < ?9)) AND seq > ?11 ORDER BY seq"
    } else {
        "(?8 IS NULL OR time < ?8 OR (time = ?8 AND seq < ?9)) AND ?11 IS NULL ORDER BY time DESC, seq DESC"
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM audit_events
         WHERE (?1 IS NULL OR project_id = ?1) AND (?2 IS NULL OR environment = ?2)
           AND (?3 IS NULL OR actor_id = ?3 OR actor_name = ?3) AND (?4 IS NULL OR action = ?4)
           AND (?5 IS NULL OR keys LIKE ?5) AND (?6 IS NULL OR time >= ?6) AND (?7 IS NULL OR time <= ?7)
           AND {place}
         LIMIT ?10"
    ))?;
    let rows = stmt.query_map(
        params![
            filter.project_id,
            filter.environment,
            filter.actor,
            filter.action,
            key_pattern,
            filter.since,
            filter.until,
            before_time,
            before_seq,
            filter.limit,
            filter.after_seq
        ],
        from_row,
    )?;
    rows.collect()
}

/// Successful changes of `project_id` after `after_seq`, oldest first.
pub(in crate::store) fn changes_after(
    conn: &Connection,
    project_id: &str,
    after_seq: i64,
    limit: i64,
    actions_sql: &str,
) -> rusqlite::Result<Vec<AuditRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM audit_events
         WHERE seq > ?1 AND project_id = ?2 AND result = 'success' AND action IN ({actions_sql})
         ORDER BY seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![after_seq, project_id, limit], from_row)?;
    rows.collect()
}

/// The generation of the newest journal file whose events are committed.
pub(in crate::store) fn committed_journal(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row(
        "SELECT generation FROM audit_journal_mark WHERE id = 1",
        [],
        |r| r.get::<_, i64>(0),
    )
    .optional()
    .map(|g| g.map_or(0, |g| u64::try_from(g).unwrap_or(0)))
}

/// Records, in the transaction that commits its events, that the journal
/// file `generation` is in the chain: a replay after a crash then skips it.
pub(in crate::store) fn mark_journal_committed(
    conn: &Connection,
    generation: u64,
) -> StoreResult<()> {
    let generation = i64::try_from(generation).map_err(backend)?;
    conn.prepare_cached(
        "INSERT INTO audit_journal_mark (id, generation) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET generation = excluded.generation",
    )
    .and_then(|mut stmt| stmt.execute(params![generation]))
    .map(drop)
    .map_err(backend)
}

/// Where the live log starts, once events were archived.
pub(super) fn archive_mark(c: &Connection) -> rusqlite::Result<Option<ArchiveMark>> {
    c.query_row(
        "SELECT seq, hash, epoch, mac FROM audit_archive_mark WHERE id = 1",
        [],
        |r| {
            Ok(ArchiveMark {
                seq: r.get(0)?,
                hash: r.get(1)?,
                epoch: r.get(2)?,
                mac: r.get(3)?,
            })
        },
    )
    .optional()
}

/// Removes the archived events (up to `mark.seq`) and records `mark`.
pub(super) fn remove_archived(c: &Connection, mark: &ArchiveMark) -> StoreResult<()> {
    c.execute(
        "DELETE FROM audit_events WHERE seq <= ?1",
        params![mark.seq],
    )
    .map_err(backend)?;
    c.execute(
        "INSERT INTO audit_archive_mark (id, seq, hash, epoch, mac) VALUES (1, ?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,
           epoch = excluded.epoch, mac = excluded.mac",
        params![mark.seq, mark.hash, mark.epoch, mark.mac],
    )
    .map_err(backend)?;
    Ok(())
}
