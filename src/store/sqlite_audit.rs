//! How the SQLite store keeps the audit chain in `audit_events`.
//!
//! An event is a row, except in a burst: consecutive events of the journal
//! that repeat one template (the same caller answered from the list cache, see
//! `audit_template`) share one row. The row holds the first event's columns;
//! its `repeats` column lists the `[id, time]` of each event after it. Every
//! event keeps its own sequence number (a burst of n events at `seq` s covers
//! s .. s+n-1, and the next row starts at s+n), its own id and time, and its
//! own link in the hash chain: `prev_hash` is the hash before the burst's
//! first event and `hash` the chain's hash after its last, so the chain is
//! byte for byte the one separate rows would have made. Reading expands a
//! burst back into its events, recomputing the links inside it; an edited
//! burst then fails verification at its last event, a deleted one at the row
//! after it.
//!
//! Why: the writer's cost was per row (three B-trees and a WAL frame share
//! for each read's event, about a tenth of a cached list's CPU), and a client
//! polling one folder writes the same row again and again.

use super::audit_template::AuditTemplate;
use super::group_commit::ChainHead;
use super::sqlite::backend;
use super::{AuditEvent, AuditFilter, AuditRow, StoreResult};
use crate::audit::{canonical, link_hash, GENESIS};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::sync::Arc;

/// The most events one row holds: a burst's `repeats` stays a few pages.
const MAX_BURST: usize = 256;

/// The longest a burst spans, first event to last (milliseconds). A query
/// by time can then narrow bursts by their first event's time, which the
/// `audit_time` index holds.
const BURST_SPAN_MS: i64 = 1_000;

/// Rows per INSERT statement when the writer moves the journal into the
/// chain: one statement execution for this many rows, not one each.
pub(super) const ROWS_PER_INSERT: usize = 32;

/// The columns of an inserted audit row, in the order every insert binds them.
const INSERT_COLS: &str = "seq, id, time, actor_type, actor_id, actor_name, action, project_id, \
     environment, path, keys, from_version, to_version, client_ip, user_agent, result, prev_hash, \
     hash, client, repeats";
const INSERT_COLUMNS: usize = 20;

/// The columns `stored_from_row` reads.
const COLS: &str = "seq, id, time, actor_type, actor_id, actor_name, action, project_id, environment, \
     path, keys, from_version, to_version, client_ip, user_agent, result, prev_hash, hash, client, repeats";

/// An audit event with the parts of its row that do not depend on the chain,
/// computed by the caller so the writer thread only links and inserts it.
pub(super) struct PreparedAudit {
    fields: EventFields,
}

/// Where an event's columns come from.
enum EventFields {
    /// Boxed: the journal holds thousands of these, mostly repeats.
    Own {
        event: Box<AuditEvent>,
        /// The `keys` column.
        keys: String,
        /// What the chain hashes (`audit::canonical`) and a newline: the line
        /// the audit journal stores.
        line: Vec<u8>,
    },
    /// A repeat of a template (a list answered from the list cache): only the
    /// id and time are its own. Its canonical JSON is formatted where it is
    /// needed (the journal's first line of the template, the writer's hash),
    /// not carried from the request to the writer.
    Repeat {
        template: Arc<AuditTemplate>,
        id: String,
        time: i64,
    },
}

/// How the audit journal stores an event.
pub(super) enum JournalForm<'a> {
    /// As this whole line.
    Line(&'a [u8]),
    /// As a repeat of `template`: a whole line the first time a file holds
    /// the template, a reference to that line after it.
    Repeat {
        template: &'a Arc<AuditTemplate>,
        id: &'a str,
        time: i64,
    },
}

impl PreparedAudit {
    pub(super) fn new(event: AuditEvent) -> StoreResult<PreparedAudit> {
        let (mut line, keys) = row_parts(&event)?;
        // serde_json escapes control characters inside strings, so this is
        // the line's only newline.
        line.push(b'\n');
        Ok(PreparedAudit {
            fields: EventFields::Own {
                event: Box::new(event),
                keys,
                line,
            },
        })
    }

    pub(super) fn repeat(template: &Arc<AuditTemplate>, id: String, time: i64) -> PreparedAudit {
        PreparedAudit {
            fields: EventFields::Repeat {
                template: template.clone(),
                id,
                time,
            },
        }
    }

    pub(super) fn journal_form(&self) -> JournalForm<'_> {
        match &self.fields {
            EventFields::Own { line, .. } => JournalForm::Line(line),
            EventFields::Repeat { template, id, time } => JournalForm::Repeat {
                template,
                id,
                time: *time,
            },
        }
    }

    /// What the chain hashes; a repeat's is formatted into `buf`.
    fn canonical<'a>(&'a self, buf: &'a mut Vec<u8>) -> &'a [u8] {
        match &self.fields {
            EventFields::Own { line, .. } => &line[..line.len() - 1],
            EventFields::Repeat { template, id, time } => {
                buf.clear();
                template.write_canonical(buf, id, *time);
                buf
            }
        }
    }

    pub(super) fn insert(&self, conn: &Connection, head: &mut ChainHead) -> StoreResult<()> {
        let events = std::slice::from_ref(self);
        insert_rows(conn, head, &[self.columns(Links::Events(events))])
    }

    fn columns<'a>(&'a self, links: Links<'a>) -> Columns<'a> {
        match &self.fields {
            EventFields::Own { event, keys, .. } => Columns {
                id: &event.id,
                time: &event.time,
                fields: event,
                keys,
                links,
            },
            EventFields::Repeat { template, id, time } => Columns {
                id,
                time,
                fields: template.fields(),
                keys: template.keys_json(),
                links,
            },
        }
    }

    /// The template and time of a repeat.
    fn repeat_of(&self) -> Option<(&Arc<AuditTemplate>, i64)> {
        match &self.fields {
            EventFields::Repeat { template, time, .. } => Some((template, *time)),
            EventFields::Own { .. } => None,
        }
    }

    fn id_and_time(&self) -> (&str, i64) {
        match &self.fields {
            EventFields::Own { event, .. } => (&event.id, event.time),
            EventFields::Repeat { id, time, .. } => (id, *time),
        }
    }
}

/// What an event's row is made of, wherever each part is kept.
struct Columns<'a> {
    id: &'a str,
    time: &'a i64,
    /// Every other column but the keys, the hashes and the repeats.
    fields: &'a AuditEvent,
    keys: &'a str,
    links: Links<'a>,
}

/// What the chain hashes for a row.
enum Links<'a> {
    /// One event's canonical JSON.
    One(&'a [u8]),
    /// Journaled events: one, or a burst whose first is the row's own.
    Events(&'a [PreparedAudit]),
}

/// How many of `events`, from the first, one row can hold: a run of repeats
/// of one template with times that never go back and span at most
/// `BURST_SPAN_MS`, up to `MAX_BURST`; at least 1.
fn burst_len(events: &[PreparedAudit]) -> usize {
    let Some((template, first_time)) = events.first().and_then(PreparedAudit::repeat_of) else {
        return 1;
    };
    let mut last_time = first_time;
    let mut len = 1;
    for event in &events[1..events.len().min(MAX_BURST)] {
        match event.repeat_of() {
            Some((t, time))
                if Arc::ptr_eq(t, template)
                    && time >= last_time
                    && time - first_time <= BURST_SPAN_MS =>
            {
                last_time = time;
                len += 1;
            }
            _ => break,
        }
    }
    len
}

/// Links and inserts `events` in order (a drain of the audit journal), a
/// burst of repeats as one row.
pub(super) fn insert_all(
    conn: &Connection,
    head: &mut ChainHead,
    events: &[PreparedAudit],
) -> StoreResult<()> {
    let mut rows = Vec::new();
    let mut rest = events;
    while !rest.is_empty() {
        let (row, after) = rest.split_at(burst_len(rest));
        rows.push(row[0].columns(Links::Events(row)));
        rest = after;
    }
    let mut chunks = rows.chunks_exact(ROWS_PER_INSERT);
    for chunk in &mut chunks {
        insert_rows(conn, head, chunk)?;
    }
    chunks
        .remainder()
        .iter()
        .try_for_each(|row| insert_rows(conn, head, std::slice::from_ref(row)))
}

/// An event of a write's own transaction, prepared in place.
pub(super) fn insert_audit(
    conn: &Connection,
    head: &mut ChainHead,
    event: &AuditEvent,
) -> StoreResult<()> {
    let (canonical, keys) = row_parts(event)?;
    let row = Columns {
        id: &event.id,
        time: &event.time,
        fields: event,
        keys: &keys,
        links: Links::One(&canonical),
    };
    insert_rows(conn, head, &[row])
}

/// The chain-independent parts of an event's row: what the chain hashes and
/// the `keys` column.
fn row_parts(event: &AuditEvent) -> StoreResult<(Vec<u8>, String)> {
    let keys = serde_json::to_string(&event.keys).map_err(backend)?;
    Ok((canonical(event), keys))
}

/// The sequence numbers, links and repeats of a row, computed on the chain.
struct Linked {
    seq: i64,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
    repeats: Option<String>,
}

/// Links `rows` onto the chain in order and inserts them with one statement
/// (`rows` holds one row, or `ROWS_PER_INSERT`: the two statements kept).
fn insert_rows(conn: &Connection, head: &mut ChainHead, rows: &[Columns]) -> StoreResult<()> {
    static ONE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static MANY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = |count: usize| {
        let row = format!("({})", vec!["?"; INSERT_COLUMNS].join(","));
        format!(
            "INSERT INTO audit_events ({INSERT_COLS}) VALUES {}",
            vec![row; count].join(",")
        )
    };
    let sql = match rows.len() {
        1 => ONE.get_or_init(|| sql(1)),
        ROWS_PER_INSERT => MANY.get_or_init(|| sql(ROWS_PER_INSERT)),
        n => return Err(backend(format!("{n} audit rows in one insert"))),
    };
    let mut hash = head.hash.clone();
    let mut seq = head.last_seq;
    let mut buf = Vec::new();
    let linked: Vec<Linked> = rows
        .iter()
        .map(|row| {
            let prev_hash = hash.clone();
            let first = seq + 1;
            let repeats = match row.links {
                Links::One(canonical) => {
                    hash = link_hash(&hash, canonical);
                    seq += 1;
                    None
                }
                Links::Events(events) => {
                    for event in events {
                        hash = link_hash(&hash, event.canonical(&mut buf));
                    }
                    seq += events.len() as i64;
                    (events.len() > 1).then(|| repeats_json(&events[1..]))
                }
            };
            Linked {
                seq: first,
                prev_hash,
                hash: hash.clone(),
                repeats,
            }
        })
        .collect();
    let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(rows.len() * INSERT_COLUMNS);
    for (c, l) in rows.iter().zip(&linked) {
        let f = c.fields;
        values.extend([
            &l.seq as &dyn rusqlite::ToSql,
            &c.id,
            c.time,
            &f.actor_type,
            &f.actor_id,
            &f.actor_name,
            &f.action,
            &f.project_id,
            &f.environment,
            &f.path,
            &c.keys,
            &f.from_version,
            &f.to_version,
            &f.client_ip,
            &f.user_agent,
            &f.result,
            &l.prev_hash,
            &l.hash,
            &f.client,
            &l.repeats,
        ]);
    }
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(values.as_slice()))
        .map_err(backend)?;
    head.hash = hash;
    head.last_seq = seq;
    Ok(())
}

/// The `repeats` column of a burst: `[[id, time], ...]` of every event after
/// the row's own.
fn repeats_json(events: &[PreparedAudit]) -> String {
    let pairs: Vec<(&str, i64)> = events.iter().map(PreparedAudit::id_and_time).collect();
    // A list of strings and integers always serialises.
    serde_json::to_string(&pairs).unwrap_or_default()
}

/// The `[id, time]` pairs of a `repeats` column; `None` when it does not
/// parse (an edited row: its events will not verify).
fn parse_repeats(repeats: &str) -> Option<Vec<(String, i64)>> {
    serde_json::from_str(repeats).ok()
}

/// The end of the chain in the table: its last hash and sequence number.
pub(super) fn chain_end(conn: &Connection) -> rusqlite::Result<ChainHead> {
    let last = conn
        .query_row(
            "SELECT seq, hash, repeats FROM audit_events ORDER BY seq DESC LIMIT 1",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            },
        )
        .optional()?;
    Ok(match last {
        Some((seq, hash, repeats)) => ChainHead {
            hash,
            last_seq: seq + repeat_count(repeats.as_deref()),
        },
        None => ChainHead {
            hash: GENESIS.to_vec(),
            last_seq: 0,
        },
    })
}

fn repeat_count(repeats: Option<&str>) -> i64 {
    repeats
        .and_then(parse_repeats)
        .map_or(0, |r| r.len() as i64)
}

/// A row as stored: its first event and the `repeats` after it.
type StoredRow = (AuditRow, Option<String>);

fn stored_from_row(r: &Row) -> rusqlite::Result<StoredRow> {
    let keys: String = r.get(10)?;
    let row = AuditRow {
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
    };
    Ok((row, r.get(19)?))
}

/// The events of a stored row, in chain order.
fn expand((row, repeats): StoredRow) -> Vec<AuditRow> {
    let Some(repeats) = repeats else {
        return vec![row];
    };
    // An unparsable burst stays one event, whose stored hash (the chain's
    // after the whole burst) then fails verification.
    let repeats = parse_repeats(&repeats).unwrap_or_default();
    let AuditRow {
        seq,
        event: first,
        prev_hash,
        hash: stored_hash,
    } = row;
    let count = 1 + repeats.len();
    let times = std::iter::once((first.id.clone(), first.time)).chain(repeats);
    let mut prev = prev_hash;
    let mut events = Vec::with_capacity(count);
    for (i, (id, time)) in times.enumerate() {
        let event = AuditEvent {
            id,
            time,
            ..first.clone()
        };
        // Links inside the burst are recomputed; the last is the stored one,
        // which is what an edit of the row cannot match.
        let hash = if i + 1 == count {
            stored_hash.clone()
        } else {
            link_hash(&prev, &canonical(&event))
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

/// Every event of the chain, in order.
pub(super) fn chain(conn: &Connection) -> rusqlite::Result<Vec<AuditRow>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLS} FROM audit_events ORDER BY seq"))?;
    let rows = stmt.query_map([], stored_from_row)?;
    let mut events = Vec::new();
    for row in rows {
        events.extend(expand(row?));
    }
    Ok(events)
}

/// The events `filter` selects, newest first, at most `filter.limit`.
pub(super) fn query(conn: &Connection, filter: &AuditFilter) -> rusqlite::Result<Vec<AuditRow>> {
    let limit = usize::try_from(filter.limit).unwrap_or(0);
    let mut found = Vec::new();
    if limit == 0 {
        return Ok(found);
    }
    let key_pattern = filter
        .key
        .as_ref()
        .map(|k| format!("%{}%", serde_json::to_string(k).unwrap_or_default()));
    // Rows are narrowed in SQL, a burst's events here: a burst starts at most
    // BURST_SPAN_MS before its last event and at or before every other.
    let first_since = filter.since.map(|s| s.saturating_sub(BURST_SPAN_MS));
    let wanted = |e: &AuditRow| {
        filter.since.is_none_or(|s| e.event.time >= s)
            && filter.until.is_none_or(|u| e.event.time <= u)
            && filter.before_seq.is_none_or(|b| e.seq < b)
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM audit_events
         WHERE (?1 IS NULL OR project_id = ?1) AND (?2 IS NULL OR environment = ?2)
           AND (?3 IS NULL OR actor_id = ?3 OR actor_name = ?3) AND (?4 IS NULL OR action = ?4)
           AND (?5 IS NULL OR keys LIKE ?5) AND (?6 IS NULL OR time >= ?6) AND (?7 IS NULL OR time <= ?7)
           AND (?8 IS NULL OR seq < ?8)
         ORDER BY seq DESC LIMIT ?9"
    ))?;
    // A page of `limit` rows holds at least `limit` events, unless events of
    // a burst fall outside the filter: then the next page continues below.
    let mut before_row = filter.before_seq;
    loop {
        let rows = stmt
            .query_map(
                params![
                    filter.project_id,
                    filter.environment,
                    filter.actor,
                    filter.action,
                    key_pattern,
                    first_since,
                    filter.until,
                    before_row,
                    filter.limit
                ],
                stored_from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let page_len = rows.len();
        for row in rows {
            before_row = Some(row.0.seq);
            for event in expand(row).into_iter().rev().filter(wanted) {
                found.push(event);
                if found.len() == limit {
                    return Ok(found);
                }
            }
        }
        if page_len < limit {
            return Ok(found);
        }
    }
}

/// Successful changes of `project_id` after `after_seq`, oldest first.
pub(super) fn changes_after(
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
    let rows = stmt.query_map(params![after_seq, project_id, limit], stored_from_row)?;
    let mut events = Vec::new();
    for row in rows {
        events.extend(expand(row?));
    }
    events.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(events)
}

/// The generation of the newest journal file whose events are committed.
pub(super) fn committed_journal(conn: &Connection) -> rusqlite::Result<u64> {
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
pub(super) fn mark_journal_committed(conn: &Connection, generation: u64) -> StoreResult<()> {
    let generation = i64::try_from(generation).map_err(backend)?;
    conn.prepare_cached(
        "INSERT INTO audit_journal_mark (id, generation) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET generation = excluded.generation",
    )
    .and_then(|mut stmt| stmt.execute(params![generation]))
    .map(drop)
    .map_err(backend)
}
