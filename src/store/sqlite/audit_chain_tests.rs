//! The SQLite store's audit chain end to end: the journal, its drain, its
//! replay after a crash, tampering with the journal, the loss bound, and the
//! upgrade of an old (unkeyed, burst-row) log.

use super::audit_chain as sqlite_audit;
use super::audit_journal::{self, AuditJournal};
use super::tests::test_options;
use super::SqliteStore;
use crate::audit::{canonical, tests::test_keyring, verify_chain, QUARANTINE_ACTION};
use crate::store::audit_upgrade::legacy_link;
use crate::store::{AuditCursor, AuditEvent, AuditFilter, Store, StoreError};
use std::path::Path;
use std::time::Duration;

fn event(id: &str, time: i64) -> AuditEvent {
    AuditEvent {
        id: id.to_owned(),
        time,
        action: "get-secrets".into(),
        keys: vec!["A".into()],
        result: "success".into(),
        ..Default::default()
    }
}

fn open(db: &Path, interval: Duration) -> SqliteStore {
    SqliteStore::open(db, test_options(interval)).unwrap()
}

async fn table_rows(store: &SqliteStore) -> i64 {
    store
        .read(|c| c.query_row("SELECT COUNT(*) FROM audit_events", [], |r| r.get(0)))
        .await
        .unwrap()
}

/// A journal line as the journal writes it, for a file of `generation`.
fn journal_line(generation: u64, index: u64, event: &AuditEvent) -> Vec<u8> {
    let key = &test_keyring().epochs[0];
    let canonical = canonical(event);
    let mut line = format!(
        "{} ",
        hex::encode(key.journal_mac(generation, index, &canonical))
    )
    .into_bytes();
    line.extend_from_slice(&canonical);
    line.push(b'\n');
    line
}

fn journal_file(db: &Path, generation: u64) -> std::path::PathBuf {
    AuditJournal::dir_for(db).join(format!("{generation:020}.jsonl"))
}

#[tokio::test]
async fn an_idle_writer_moves_journaled_events_into_the_chain_within_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("t.db"), Duration::from_millis(20));
    store.append_audit(event("ev-read", 1)).await.unwrap();
    // Journaled, not yet in the table; with nothing else to do, the writer
    // moves it (one fsynced commit) once the interval is up.
    let mut count = 0;
    for _ in 0..200 {
        count = table_rows(&store).await;
        if count == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(count, 1, "the journaled event did not reach the chain");
    let chain = store.audit_chain().await.unwrap();
    assert_eq!(verify_chain(&chain, &test_keyring()).ok(), Some(1));
    store.close().await;
}

#[tokio::test]
async fn a_steady_stream_of_reads_is_drained_once_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let interval = Duration::from_millis(40);
    let store = open(&db, interval);
    let start = std::time::Instant::now();
    let mut appended = 0;
    while start.elapsed() < Duration::from_millis(400) {
        store
            .append_audit(event(&format!("ev-{appended}"), appended))
            .await
            .unwrap();
        appended += 1;
    }
    let elapsed = start.elapsed();
    // Each drain seals the active file once; events appended while it
    // commits wait for the next drain.
    let (active, _) = audit_journal::leftovers(&AuditJournal::dir_for(&db))
        .unwrap()
        .pop()
        .unwrap();
    let seals = active - 1;
    let most = elapsed.as_millis() / interval.as_millis() + 2;
    assert!(
        u128::from(seals) <= most,
        "{seals} seals in {elapsed:?} ({appended} events), at most {most} expected"
    );
    let chain = store.audit_chain().await.unwrap();
    assert_eq!(chain.len() as i64, appended);
    // One row per event.
    assert_eq!(table_rows(&store).await, appended);
    assert_eq!(
        verify_chain(&chain, &test_keyring()).ok(),
        Some(appended as usize)
    );
    store.close().await;
}

#[tokio::test]
async fn a_query_sees_every_journaled_event_in_time_order_and_pages_stably() {
    let dir = tempfile::tempdir().unwrap();
    // A long interval: only the query's settling can have moved them.
    let store = open(&dir.path().join("t.db"), Duration::from_secs(10));
    // Linked in this order, but listed by time: newest first.
    for (id, time) in [("b", 20), ("a", 10), ("d", 40), ("c", 30), ("c2", 30)] {
        store.append_audit(event(id, time)).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut before: Option<AuditCursor> = None;
    loop {
        let page = store
            .query_audit(AuditFilter {
                limit: 2,
                before,
                ..Default::default()
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        before = Some(AuditCursor::of(last));
        seen.extend(page.iter().map(|r| r.event.id.clone()));
    }
    assert_eq!(seen, ["d", "c2", "c", "b", "a"]);
    store.close().await;
}

#[tokio::test]
async fn journaled_events_of_a_crashed_run_are_replayed_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let committed;
    {
        let store = open(&db, Duration::from_secs(10));
        store.append_audit(event("ev-1", 1)).await.unwrap();
        store.audit_chain().await.unwrap();
        committed = store.read(sqlite_audit::committed_journal).await.unwrap();
        store.close().await;
    }
    // As a crash after the move but before the file's deletion: a file the
    // database records as committed is deleted, not replayed again.
    // (Plus a forged line: checked there too, and quarantined.)
    let kept = journal_file(&db, committed);
    let mut lines = journal_line(committed, 0, &event("ev-1", 1));
    lines.extend(journal_line(committed + 1, 1, &event("forged", 1)));
    std::fs::write(&kept, lines).unwrap();
    // And a newer file, never moved: replayed.
    let newer = journal_file(&db, committed + 5);
    let mut lines = journal_line(committed + 5, 0, &event("ev-2", 2));
    lines.extend(journal_line(committed + 5, 1, &event("ev-3", 3)));
    std::fs::write(&newer, lines).unwrap();
    let store = open(&db, Duration::from_secs(10));
    assert!(
        !kept.exists() && !newer.exists(),
        "replayed files are deleted"
    );
    let chain = store.audit_chain().await.unwrap();
    let ids: Vec<&str> = chain
        .iter()
        .filter(|r| r.event.action != QUARANTINE_ACTION)
        .map(|r| r.event.id.as_str())
        .collect();
    assert_eq!(ids, ["ev-1", "ev-2", "ev-3"]);
    assert_eq!(chain[1].event.action, QUARANTINE_ACTION);
    assert_eq!(verify_chain(&chain, &test_keyring()).ok(), Some(4));
    // The new run journals after the replayed generation.
    let (active, _) = audit_journal::leftovers(&AuditJournal::dir_for(&db))
        .unwrap()
        .pop()
        .unwrap();
    assert!(active > committed + 5);
    store.close().await;
}

#[tokio::test]
async fn forged_and_renamed_journal_files_are_quarantined_never_linked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    open(&db, Duration::from_secs(10)).close().await;
    let journal_dir = AuditJournal::dir_for(&db);
    // A well-formed event someone else "read", with no valid MAC.
    let forged = journal_dir.join(format!("{:020}.jsonl", 50));
    let mut bytes = format!("{} ", "00".repeat(32)).into_bytes();
    bytes.extend(canonical(&event("forged-read", 5)));
    bytes.push(b'\n');
    std::fs::write(&forged, bytes).unwrap();
    // A genuine file renamed to a huge generation: its MACs no longer hold.
    let genuine = journal_line(60, 0, &event("moved", 6));
    std::fs::write(journal_dir.join(format!("{}.jsonl", u64::MAX)), &genuine).unwrap();
    // The server still starts.
    let store = open(&db, Duration::from_secs(10));
    let chain = store.audit_chain().await.unwrap();
    assert!(
        chain
            .iter()
            .all(|r| r.event.id != "forged-read" && r.event.id != "moved"),
        "a forged or moved line was linked"
    );
    let quarantined: Vec<&AuditEvent> = chain
        .iter()
        .map(|r| &r.event)
        .filter(|e| e.action == QUARANTINE_ACTION)
        .collect();
    assert_eq!(quarantined.len(), 2, "each file is on record");
    assert_eq!(verify_chain(&chain, &test_keyring()).ok(), Some(2));
    let kept = std::fs::read_dir(journal_dir.join("quarantine"))
        .unwrap()
        .count();
    assert_eq!(kept, 2, "the files are kept for an investigator");
    // Appends go on in a sane generation.
    store.append_audit(event("after", 7)).await.unwrap();
    assert_eq!(store.audit_chain().await.unwrap().len(), 3);
    store.close().await;
}

#[tokio::test]
async fn reads_stop_while_journaled_events_wait_past_the_loss_bound() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let mut options = test_options(Duration::from_millis(20));
    options.loss_bound = Duration::from_millis(300);
    let store = SqliteStore::open(&db, options).unwrap();
    store.append_audit(event("before", 1)).await.unwrap();
    // Someone else holds the database's write lock: drains fail.
    let blocker = rusqlite::Connection::open(&db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    store.append_audit(event("held", 2)).await.unwrap();
    let mut refused = None;
    for i in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Err(e) = store.append_audit(event(&format!("r{i}"), 3)).await {
            refused = Some(e);
            break;
        }
    }
    assert!(
        matches!(refused, Some(StoreError::Unavailable(_))),
        "{refused:?}"
    );
    assert!(store.audit_behind().is_some());
    blocker.execute_batch("ROLLBACK").unwrap();
    let mut resumed = false;
    for _ in 0..400 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if store.append_audit(event("resumed", 4)).await.is_ok() {
            resumed = true;
            break;
        }
    }
    assert!(resumed, "reads did not resume once the database was free");
    assert!(store.audit_behind().is_none());
    let chain = store.audit_chain().await.unwrap();
    assert!(verify_chain(&chain, &test_keyring()).is_ok());
    assert!(
        chain.iter().any(|r| r.event.id == "held"),
        "nothing is lost"
    );
    store.close().await;
}

/// Builds a database as the version before the keyed chain left it: schema
/// v5, an unkeyed chain with a burst row, and an old-format journal file.
fn legacy_database(db: &Path, tamper: bool) {
    let conn = rusqlite::Connection::open(db).unwrap();
    for sql in &super::MIGRATIONS[..5] {
        conn.execute_batch(sql).unwrap();
    }
    conn.execute_batch("PRAGMA user_version = 5").unwrap();
    let insert = |seq: i64, e: &AuditEvent, prev: &[u8], hash: &[u8], repeats: Option<&str>| {
        conn.execute(
            "INSERT INTO audit_events (seq, id, time, actor_type, actor_id, actor_name, action, keys, result, prev_hash, hash, repeats)
             VALUES (?1, ?2, ?3, '', '', '', ?4, '[\"A\"]', 'success', ?5, ?6, ?7)",
            rusqlite::params![seq, e.id, e.time, e.action, prev, hash, repeats],
        )
        .unwrap();
    };
    let genesis = crate::audit::GENESIS.to_vec();
    let h1 = legacy_link(&genesis, &event("old-1", 1));
    insert(1, &event("old-1", 1), &genesis, &h1, None);
    // A burst of three at seq 2 (old-2, old-3, old-4): one row, the chain's
    // link after its last event.
    let mut burst = h1.clone();
    for e in [event("old-2", 2), event("old-3", 3), event("old-4", 4)] {
        burst = legacy_link(&burst, &e);
    }
    let repeats = r#"[["old-3",3],["old-4",4]]"#;
    insert(2, &event("old-2", 2), &h1, &burst, Some(repeats));
    let h5 = legacy_link(&burst, &event("old-5", 5));
    insert(5, &event("old-5", 5), &burst, &h5, None);
    if tamper {
        conn.execute(
            "UPDATE audit_events SET action = 'edited' WHERE seq = 5",
            [],
        )
        .unwrap();
    }
    drop(conn);
    // An old journal line (no MAC), left by a killed server.
    let journal_dir = AuditJournal::dir_for(db);
    std::fs::create_dir_all(&journal_dir).unwrap();
    let mut line = canonical(&event("old-journaled", 6));
    line.push(b'\n');
    line.extend_from_slice(br#"{"of":0,"id":"old-repeat","time":7}"#);
    line.push(b'\n');
    std::fs::write(journal_dir.join(format!("{:020}.jsonl", 3)), line).unwrap();
}

#[tokio::test]
async fn an_old_log_is_verified_expanded_and_relinked_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    legacy_database(&db, false);
    let store = open(&db, Duration::from_secs(10));
    let chain = store.audit_chain().await.unwrap();
    let ids: Vec<&str> = chain.iter().map(|r| r.event.id.as_str()).collect();
    assert_eq!(
        &ids[..7],
        [
            "old-1",
            "old-2",
            "old-3",
            "old-4",
            "old-5",
            "old-journaled",
            "old-repeat"
        ]
    );
    assert_eq!(
        chain[7].event.action,
        crate::store::audit_upgrade::UPGRADE_ACTION
    );
    assert_eq!(chain[7].event.result, "success");
    let seqs: Vec<i64> = chain.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(verify_chain(&chain, &test_keyring()).ok(), Some(8));
    assert_eq!(table_rows(&store).await, 8, "one row per event");
    store.close().await;
    // Opening again changes nothing.
    let store = open(&db, Duration::from_secs(10));
    assert_eq!(store.audit_chain().await.unwrap(), chain);
    store.close().await;
}

#[tokio::test]
async fn an_old_log_with_a_broken_chain_is_not_relinked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    legacy_database(&db, true);
    let err = SqliteStore::open(&db, test_options(Duration::from_secs(10)))
        .err()
        .expect("a broken old chain must stop the upgrade");
    let text = err.to_string();
    assert!(text.contains("event #5 (old-5)"), "{text}");
    assert!(text.contains("HUSH_AUDIT_UPGRADE_ACCEPT_BREAK"), "{text}");
}
