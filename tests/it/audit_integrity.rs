//! Issue 20: an audit log you can trust. Tampering as someone who can write
//! the database but does not hold the root key (rewrite, delete, cut off),
//! and as someone who can write the journal directory (forged lines, a
//! renamed file); the loss bound with the database held from outside; one
//! row per event.

use crate::harness::*;
use crate::pg::{on_both_backends, Backend};
use hush::store::audit_upgrade::legacy_link;
use hush::store::AuditRow;
use std::time::Duration;

on_both_backends!(
    a_rewrite_with_unkeyed_hashes_is_named,
    a_deleted_row_is_named,
    a_cut_off_log_fails_its_signed_checkpoint,
    retention_archives_and_archive_plus_live_verify_as_one_chain,
);

/// Every event, in chain order, through the API.
async fn chain(s: &TestServer) -> Vec<AuditRow> {
    let mut rows: Vec<AuditRow> = audit_events(&s.client(), &[("limit", "1000".into())])
        .await
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    rows.sort_by_key(|r| r.seq);
    rows
}

/// A byte string as an SQL literal of the backend.
fn bytes(b: &Backend, v: &[u8]) -> String {
    match b {
        Backend::Sqlite => format!("X'{}'", hex::encode(v)),
        Backend::Postgres(_) => format!("decode('{}', 'hex')", hex::encode(v)),
    }
}

async fn some_history(s: &TestServer) {
    let c = s.client();
    for i in 0..6 {
        set(&c, "AUD", &format!("value-{i}")).await.unwrap();
        get(&c, "AUD", None).await.unwrap();
    }
}

fn verify_cli(s: &TestServer, extra: &[&str]) -> (bool, String, String) {
    let home = tempfile::tempdir().unwrap();
    let mut args = vec!["audit", "verify", "--server", &s.url, "--token", &s.token];
    args.extend_from_slice(extra);
    let out = hush(home.path(), &args, None);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn a_rewrite_with_unkeyed_hashes_is_named(b: &Backend) {
    let s = b.start(&[]).await;
    some_history(&s).await;
    let rows = chain(&s).await;
    let target = rows
        .iter()
        .find(|r| r.event.action == "get-secret")
        .unwrap()
        .seq;
    // The attacker edits one event and recomputes every link after it the
    // way the old chain did (SHA-256): a consistent chain, without the key.
    let mut prev = rows
        .iter()
        .rev()
        .find(|r| r.seq < target)
        .unwrap()
        .hash
        .clone();
    let mut sql = String::new();
    for row in rows.iter().filter(|r| r.seq >= target) {
        let mut event = row.event.clone();
        if row.seq == target {
            event.actor_name = "mallory".into();
        }
        let hash = legacy_link(&prev, &event);
        sql += &format!(
            "UPDATE audit_events SET actor_name = '{}', prev_hash = {}, hash = {} WHERE seq = {};",
            event.actor_name,
            bytes(b, &prev),
            bytes(b, &hash),
            row.seq
        );
        prev = hash;
    }
    b.execute(&s, &sql).await;
    let (ok, _, err) = verify_cli(&s, &[]);
    assert!(!ok);
    assert!(err.contains(&format!("event #{target} ")), "{err}");
    assert!(err.contains("keyed link"), "{err}");
}

async fn a_deleted_row_is_named(b: &Backend) {
    let s = b.start(&[]).await;
    some_history(&s).await;
    let rows = chain(&s).await;
    let victim = rows[rows.len() / 2].seq;
    b.execute(
        &s,
        &format!("DELETE FROM audit_events WHERE seq = {victim}"),
    )
    .await;
    let (ok, _, err) = verify_cli(&s, &[]);
    assert!(!ok);
    // The event after the gap no longer links to the one before it.
    let next = rows.iter().find(|r| r.seq > victim).unwrap().seq;
    assert!(err.contains(&format!("event #{next} ")), "{err}");
}

async fn a_cut_off_log_fails_its_signed_checkpoint(b: &Backend) {
    let s = b.start(&[]).await;
    some_history(&s).await;
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("checkpoint.json");
    let out = hush(
        home.path(),
        &[
            "audit",
            "checkpoint",
            "--server",
            &s.url,
            "--token",
            &s.token,
            "--output",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checkpoint: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let at = checkpoint["seq"].as_i64().unwrap();
    let public_key = checkpoint["publicKey"].as_str().unwrap().to_owned();
    let path = file.to_str().unwrap();
    let (ok, stdout, err) = verify_cli(&s, &["--checkpoint", path, "--public-key", &public_key]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains(&format!("checkpoint at event #{at}")),
        "{stdout}"
    );
    // The newest 10 events are cut off (and, on PostgreSQL, the head row set
    // back, so even new events would link on): the chain left is valid...
    let cut = at - 9;
    b.execute(&s, &format!("DELETE FROM audit_events WHERE seq >= {cut}"))
        .await;
    if let Backend::Postgres(_) = b {
        let rows = chain(&s).await;
        let head = rows
            .iter()
            .rev()
            .find(|r| r.seq < cut)
            .unwrap()
            .hash
            .clone();
        b.execute(
            &s,
            &format!(
                "UPDATE audit_head SET hash = {} WHERE id = 1",
                bytes(b, &head)
            ),
        )
        .await;
    }
    // (Listing the log above appended events after the cut: take them out
    // too, so the log ends before the checkpoint.)
    b.execute(&s, &format!("DELETE FROM audit_events WHERE seq >= {cut}"))
        .await;
    let (plain_ok, _, _) = verify_cli(&s, &[]);
    assert!(
        plain_ok,
        "without the checkpoint a cut-off chain still verifies"
    );
    // ...but not against the checkpoint, which names the first missing event.
    let (ok, _, err) = verify_cli(&s, &["--checkpoint", path, "--public-key", &public_key]);
    assert!(!ok);
    assert!(err.contains(&format!("event #{cut} ")), "{err}");
    assert!(err.contains("cut off"), "{err}");
    // A checkpoint edited to match, or pinned to another key, is refused
    // before the server is asked.
    let mut forged = checkpoint.clone();
    forged["seq"] = serde_json::json!(cut - 1);
    std::fs::write(&file, forged.to_string()).unwrap();
    let (ok, _, err) = verify_cli(&s, &["--checkpoint", path]);
    assert!(!ok);
    assert!(err.contains("signature does not verify"), "{err}");
}

fn journal_dir(s: &TestServer) -> std::path::PathBuf {
    s.data_dir.join("hush.db.audit-journal")
}

#[tokio::test]
async fn sqlite_forged_and_renamed_journal_files_are_quarantined_and_reported() {
    let mut s = TestServer::start(&[]).await;
    some_history(&s).await;
    s.stop();
    let dir = journal_dir(&s);
    // A made-up read by someone else: a well-formed event as JSON (what an
    // unauthenticated journal would have taken), in a file named like the
    // journal's own.
    let forged = r#"{"id":"forged","time":1,"actorType":"user","actorId":"u","actorName":"victim@example.com","action":"get-secret","projectId":"default","environment":"prod","path":"/","keys":["DB_PASSWORD"],"result":"success"}"#;
    std::fs::write(
        dir.join(format!("{:020}.jsonl", 999)),
        format!("{forged}\n"),
    )
    .unwrap();
    // A file named with a huge generation number.
    std::fs::write(dir.join(format!("{}.jsonl", u64::MAX)), b"junk\n").unwrap();
    s.restart();
    let (ok, stdout, err) = verify_cli(&s, &[]);
    assert!(ok, "the chain itself is intact: {err}");
    assert!(stdout.contains("keyed chain intact"), "{stdout}");
    assert!(err.contains("quarantined"), "{err}");
    let rows = chain(&s).await;
    assert!(
        rows.iter().all(|r| r.event.id != "forged"),
        "a forged line was linked"
    );
    assert!(dir.join("quarantine").read_dir().unwrap().count() >= 2);
    assert!(s.log().contains("failed their MAC check"), "{}", s.log());
}

#[tokio::test]
async fn sqlite_reads_fail_closed_while_the_database_is_held() {
    let s = TestServer::start(&["--audit-loss-bound", "1s"]).await;
    let c = s.client();
    set(&c, "HELD", "v").await.unwrap();
    let blocker = rusqlite::Connection::open(s.db_path()).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let anon = reqwest::Client::new();
    let refused = eventually(Duration::from_secs(30), async || {
        status(get(&c, "HELD", None).await) == 503
    })
    .await;
    assert!(
        refused,
        "reads went on while the audit log could not keep up"
    );
    let ready = anon.get(format!("{}/readyz", s.url)).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let body = ready.text().await.unwrap();
    assert!(body.contains("audit log behind"), "{body}");
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    let resumed = eventually(Duration::from_secs(30), async || {
        status(get(&c, "HELD", None).await) == 200
    })
    .await;
    assert!(resumed, "reads did not resume");
    let ready = anon.get(format!("{}/readyz", s.url)).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    assert_audit_chain_ok(&c).await;
}

#[tokio::test]
async fn sqlite_one_row_per_event() {
    let mut s = TestServer::start(&[]).await;
    let c = s.client();
    set(&c, "ROWS", "v").await.unwrap();
    for _ in 0..25 {
        c.get("/api/v3/secrets/raw", &scope_q("dev", "/"))
            .await
            .unwrap();
    }
    s.stop();
    let (rows, last): (i64, i64) = rusqlite::Connection::open(s.db_path())
        .unwrap()
        .query_row("SELECT COUNT(*), MAX(seq) FROM audit_events", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(rows, last, "row count = event count");
    assert!(rows >= 27);
}

fn manifests(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().ends_with(".manifest.json"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

async fn retention_archives_and_archive_plus_live_verify_as_one_chain(b: &Backend) {
    let s = b.start(&["--audit-retention", "2s"]).await;
    let archive = s.data_dir.join("audit-archive");
    let c = s.client();
    // Two rounds of events, each archived by a pass of its own.
    for round in 0..2 {
        some_history(&s).await;
        let want = round + 1;
        let archived = eventually(Duration::from_secs(30), async || {
            manifests(&archive).len() >= want
        })
        .await;
        assert!(archived, "round {round}: nothing archived");
    }
    let live = b.query_i64(&s, "SELECT COUNT(*) FROM audit_events").await;
    let last = b.query_i64(&s, "SELECT MAX(seq) FROM audit_events").await;
    assert!(
        live < last,
        "archived events left the database ({live} of {last})"
    );
    // The live log alone verifies from the archive mark...
    let (ok, _, err) = verify_cli(&s, &[]);
    assert!(ok, "{err}");
    // ...and with the archive as one chain.
    let dir = archive.to_str().unwrap();
    let (ok, stdout, err) = verify_cli(&s, &["--archive", dir]);
    assert!(ok, "{err}");
    assert!(stdout.contains("audit archive verified"), "{stdout}");
    // A removed segment is detected, wherever it was.
    let segments = manifests(&archive);
    let first = &segments[0];
    let kept = std::fs::read(first).unwrap();
    std::fs::remove_file(first).unwrap();
    let (ok, _, err) = verify_cli(&s, &["--archive", dir]);
    assert!(!ok);
    assert!(err.contains("missing"), "{err}");
    std::fs::write(first, kept).unwrap();
    let newest = segments.last().unwrap();
    std::fs::remove_file(newest).unwrap();
    let (ok, _, err) = verify_cli(&s, &["--archive", dir]);
    assert!(!ok);
    assert!(err.contains("not one chain"), "{err}");
    // Moving the archive mark without the key is named.
    let mark_seq = b
        .query_i64(&s, "SELECT seq FROM audit_archive_mark WHERE id = 1")
        .await;
    b.execute(
        &s,
        &format!(
            "UPDATE audit_archive_mark SET seq = {} WHERE id = 1",
            mark_seq + 1
        ),
    )
    .await;
    let (ok, _, err) = verify_cli(&s, &[]);
    assert!(!ok);
    assert!(err.contains("archive mark"), "{err}");
    let _ = c;
}

#[tokio::test]
async fn follow_prints_new_events_and_its_idle_polls_log_nothing() {
    use std::io::BufRead;
    let s = TestServer::start(&[]).await;
    let c = s.client();
    set(&c, "FOLLOWED", "v1").await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(["audit", "--follow", "--json", "--limit", "5"])
        .args(["--server", &s.url, "--token", &s.token])
        .env("XDG_CONFIG_HOME", home.path())
        .env_remove("HUSH_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let wait_for = |want: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                if line.contains(want) {
                    return true;
                }
            }
        }
        false
    };
    assert!(wait_for("FOLLOWED"), "the recent events are printed first");
    // Idle: its polls are not events of their own.
    let reads_of_the_log = async || {
        let filter = [
            ("action", "query-audit-log".into()),
            ("limit", "1000".into()),
        ];
        audit_events(&c, &filter).await.len()
    };
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let before = reads_of_the_log().await;
    // At least two polls of the follower (one a second) in between.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let after = reads_of_the_log().await;
    assert_eq!(after, before + 1, "only this test's own query was added");
    set(&c, "FOLLOWED_LATER", "v2").await.unwrap();
    assert!(
        wait_for("FOLLOWED_LATER"),
        "a new event reaches the follower"
    );
    let _ = child.kill();
    let _ = child.wait();
}
