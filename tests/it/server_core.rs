//! Issue 2: versions, concurrency, soft delete, encryption at rest, tamper
//! detection, durability, audit, bad input.

use crate::harness::*;
use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

// Versions, rollback, max_versions, ifVersion races, soft delete, the purge
// window and purge-now run on SQLite (and PostgreSQL) in store_conformance.rs.

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn canary_forms(canary: &str) -> Vec<Vec<u8>> {
    let b = canary.as_bytes();
    vec![
        b.to_vec(),
        hex::encode(b).into_bytes(),
        hex::encode_upper(b).into_bytes(),
        base64::engine::general_purpose::STANDARD
            .encode(b)
            .into_bytes(),
        base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(b)
            .into_bytes(),
    ]
}

/// The audit journal's files (they hold read events), sorted.
fn journal_files(s: &TestServer) -> Vec<std::path::PathBuf> {
    let dir = format!("{}.audit-journal", s.db_path().display());
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// The database files and the audit journal's.
fn data_files(s: &TestServer) -> Vec<String> {
    let db = s.db_path().display().to_string();
    let mut files: Vec<String> = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| format!("{db}{suffix}"))
        .collect();
    files.extend(journal_files(s).iter().map(|f| f.display().to_string()));
    files
}

fn scan_data_files(s: &TestServer, canaries: &[&str]) -> Vec<String> {
    let mut hits = Vec::new();
    for path in data_files(s) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for canary in canaries {
            for form in canary_forms(canary) {
                if contains(&bytes, &form) {
                    hits.push(format!("{path}: {canary}"));
                }
            }
        }
    }
    hits
}

#[tokio::test]
async fn nothing_in_plaintext_at_rest() {
    let mut s = TestServer::start(&[]).await;
    let c = s.client();
    let canaries = [
        "CANARY-value-7f3a9c1e",
        "CANARY-comment-51b2",
        "CANARY-tag-88d0e",
    ];
    let mut body = scope("dev", "/");
    body["secretValue"] = json!(canaries[0]);
    body["secretComment"] = json!(canaries[1]);
    body["tags"] = json!([format!("owner={}", canaries[2])]);
    c.send(Method::PUT, "/api/v1/hush/secrets/AT_REST", &body)
        .await
        .unwrap();
    get(&c, "AT_REST", None).await.unwrap();
    assert_eq!(scan_data_files(&s, &canaries), Vec::<String>::new());
    s.stop();
    assert_eq!(scan_data_files(&s, &canaries), Vec::<String>::new());
    assert!(!s.log().contains("CANARY"), "canary in server log");
}

fn db(s: &TestServer) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(s.db_path()).unwrap();
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    c
}

#[tokio::test]
async fn swapped_or_replayed_ciphertext_is_an_integrity_error() {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    set(&c, "A", "value-of-a-CANARY").await.unwrap();
    set(&c, "B", "value-of-b-CANARY").await.unwrap();
    set(&c, "C", "old-c-CANARY").await.unwrap();
    set(&c, "C", "new-c-CANARY").await.unwrap();
    {
        let conn = db(&s);
        let ct = |key: &str, version: i64| -> Vec<u8> {
            conn.query_row(
                "SELECT v.value_ct FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.key = ?1 AND v.version = ?2",
                rusqlite::params![key, version],
                |r| r.get(0),
            )
            .unwrap()
        };
        let put = |key: &str, version: i64, ct: &[u8]| {
            conn.execute(
                "UPDATE secret_versions SET value_ct = ?3 WHERE version = ?2 AND secret_id = (SELECT id FROM secrets WHERE key = ?1)",
                rusqlite::params![key, version, ct],
            )
            .unwrap();
        };
        let (a, b) = (ct("A", 1), ct("B", 1));
        put("A", 1, &b);
        put("B", 1, &a);
        let old_c = ct("C", 1);
        put("C", 2, &old_c);
    }
    for key in ["A", "B", "C"] {
        let err = get(&c, key, None).await.unwrap_err();
        assert_eq!(err.status(), Some(500), "{key}");
        assert!(!err.to_string().contains("CANARY"));
        assert!(err.to_string().contains("integrity"), "{err}");
    }
    let list = c
        .get("/api/v3/secrets/raw", &scope_q("dev", "/"))
        .await
        .unwrap_err();
    assert_eq!(list.status(), Some(500));
    assert!(s.log().contains("ciphertext failed authentication"));
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let mut s = TestServer::start(&[]).await;
    let c = s.client();
    let (url, token) = (s.url.clone(), s.token.clone());
    let writer = tokio::spawn(async move {
        let c = hush::client::ApiClient::new(&url, Some(zeroize::Zeroizing::new(token))).unwrap();
        let mut acked = Vec::new();
        for i in 0..100_000 {
            let key = format!("K{}", i % 20);
            match set(&c, &key, &format!("value-{i}")).await {
                Ok(v) => acked.push((key, v, format!("value-{i}"))),
                Err(_) => break,
            }
        }
        acked
    });
    // Let some writes through, then kill mid-stream.
    let _ = eventually(Duration::from_secs(20), async || {
        c.get("/api/v1/hush/audit", &[("limit", "60".into())])
            .await
            .map(|r| r["events"].as_array().unwrap().len() >= 60)
            .unwrap_or(false)
    })
    .await;
    s.kill9();
    let acked = writer.await.unwrap();
    assert!(
        acked.len() >= 50,
        "only {} writes before the kill",
        acked.len()
    );
    s.restart();
    let c = s.client();
    for (key, version, value) in &acked {
        let got = get(&c, key, Some(*version)).await.unwrap();
        assert_eq!(
            got["secretValue"].as_str(),
            Some(value.as_str()),
            "{key} v{version}"
        );
    }
    assert_audit_chain_ok(&c).await;
}

/// Reads' audit events are journaled and moved into the chain once per
/// audit_flush_interval, but each is written before its read is answered: a
/// killed server loses none, and the restart replays the journal.
#[tokio::test]
async fn answered_reads_are_audited_even_after_kill_9() {
    let mut s = TestServer::start(&["--audit-flush-interval", "10s"]).await;
    let c = s.client();
    set(&c, "READ_ME", "value").await.unwrap();
    let mut readers = Vec::new();
    for _ in 0..8 {
        let c = s.client();
        readers.push(tokio::spawn(async move {
            for _ in 0..25 {
                c.get("/api/v3/secrets/raw", &scope_q("dev", "/"))
                    .await
                    .unwrap();
            }
        }));
    }
    for r in readers {
        r.await.unwrap();
    }
    // Straight after the last answer: well inside the 10 s window, so the
    // events are only in the journal.
    s.kill9();
    // The events are in the journal's files, not yet in the chain. What a
    // file holds, line by line, is `store::sqlite::audit_journal`'s to test
    // (its unit tests); here only that the killed server left them there,
    // and that every answered read is in the log after the restart.
    let left = journal_files(&s);
    assert!(
        left.iter()
            .any(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > 0)),
        "the killed server left its events in the journal"
    );
    s.restart();
    let after = journal_files(&s);
    assert!(
        left.iter().all(|f| !after.contains(f)),
        "the restart replayed and deleted the old journal files"
    );
    let c = s.client();
    let events = audit_events(
        &c,
        &[("action", "get-secrets".into()), ("limit", "1000".into())],
    )
    .await;
    assert_eq!(events.len(), 200);
    assert_audit_chain_ok(&c).await;
}

#[tokio::test]
async fn every_operation_is_audited_without_values_and_tampering_is_named() {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    let canary = "AUDIT-CANARY-93e1";
    set(&c, "AUD", canary).await.unwrap();
    set(&c, "AUD", &format!("{canary}-2")).await.unwrap();
    get(&c, "AUD", None).await.unwrap();
    c.get("/api/v3/secrets/raw", &scope_q("dev", "/"))
        .await
        .unwrap();
    let mut rb = scope("dev", "/");
    rb["version"] = json!(1);
    c.send(Method::POST, "/api/v1/hush/secrets/AUD/rollback", &rb)
        .await
        .unwrap();
    c.send(
        Method::DELETE,
        "/api/v3/secrets/raw/AUD",
        &scope("dev", "/"),
    )
    .await
    .unwrap();
    c.send(
        Method::POST,
        "/api/v1/hush/secrets/AUD/restore",
        &scope("dev", "/"),
    )
    .await
    .unwrap();
    let audit = c
        .get("/api/v1/hush/audit", &[("limit", "100".into())])
        .await
        .unwrap();
    let text = audit.to_string();
    assert!(!text.contains(canary), "a value reached the audit log");
    let actions: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "create-project",
        "create-secret",
        "update-secret",
        "get-secret",
        "get-secrets",
        "rollback-secret",
        "delete-secret",
        "restore-secret",
    ] {
        assert!(
            actions.contains(&expected),
            "missing {expected} in {actions:?}"
        );
    }
    let first_secret_event = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "create-secret")
        .unwrap();
    assert_eq!(first_secret_event["actorName"], "admin@example.com");
    assert_eq!(first_secret_event["keys"], json!(["AUD"]));
    assert_eq!(first_secret_event["toVersion"], 1);

    // Through the CLI: verify passes, then an edited row is named.
    let home = tempfile::tempdir().unwrap();
    let ok = hush(
        home.path(),
        &["audit", "verify", "--server", &s.url, "--token", &s.token],
        None,
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let seq: i64 = db(&s)
        .query_row(
            "SELECT seq FROM audit_events WHERE action = 'get-secret'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    db(&s)
        .execute(
            "UPDATE audit_events SET actor_name = 'mallory' WHERE seq = ?1",
            [seq],
        )
        .unwrap();
    let bad = hush(
        home.path(),
        &["audit", "verify", "--server", &s.url, "--token", &s.token],
        None,
    );
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains(&format!("event #{seq}")), "{err}");
}

#[tokio::test]
async fn bad_input_gets_clear_4xx() {
    let s = TestServer::start(&["--max-body-bytes", "65536"]).await;
    let http = reqwest::Client::new();
    let auth = format!("Bearer {}", s.token);
    let put = |body: String| {
        http.put(format!("{}/api/v1/hush/secrets/K", s.url))
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let big = put(format!("{{\"secretValue\":\"{}\"}}", "x".repeat(100_000)))
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    let r = put("{not json".into()).await.unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "ValidationFailure");
    assert!(body["message"][0]["message"]
        .as_str()
        .unwrap()
        .contains("invalid JSON"));
    let c = s.client();
    let mut b = scope("dev", "/");
    b["secretValue"] = json!("x");
    let e = c
        .send(Method::PUT, "/api/v1/hush/secrets/9bad", &b)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(422));
    assert!(e.to_string().contains("invalid secret key"));
    let mut b2 = scope("dev", "/a/../b");
    b2["secretValue"] = json!("x");
    let e = c
        .send(Method::PUT, "/api/v1/hush/secrets/K", &b2)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(422));
    assert!(e.to_string().contains("invalid folder path"));
    let unknown = http
        .get(format!("{}/api/v9/nothing", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let no_token = http
        .get(format!("{}/api/v3/secrets/raw", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    let bad_token = http
        .get(format!("{}/api/v3/secrets/raw", s.url))
        .header("Authorization", "Bearer hush_at_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_token.status(), 401);
    let env = c
        .get("/api/v3/secrets/raw", &scope_q("nope", "/"))
        .await
        .unwrap_err();
    assert_eq!(env.status(), Some(404));
    let project = c
        .get(
            "/api/v3/secrets/raw",
            &[
                ("workspaceId", "ghost".into()),
                ("environment", "dev".into()),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(project.status(), Some(404));
    assert!(!s.log().contains("panicked"));
}

#[tokio::test]
async fn second_bootstrap_is_refused() {
    let s = TestServer::start(&[]).await;
    let c = hush::client::ApiClient::new(&s.url, None).unwrap();
    let e = c
        .send(
            Method::POST,
            "/api/v1/hush/bootstrap",
            &json!({ "email": "eve@example.com", "password": PASSWORD }),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains("already bootstrapped"), "{e}");
}

/// A fresh random root key in a 0600 file under `dir`.
fn new_root_key_file(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    let key = hush::crypto::Key::generate().unwrap().to_base64();
    std::io::Write::write_all(&mut f, key.as_bytes()).unwrap();
    path
}

#[tokio::test]
async fn wrong_root_key_refuses_to_start() {
    let mut s = TestServer::start(&[]).await;
    s.stop();
    let other = new_root_key_file(&s.data_dir, "other.key");
    let err = TestServer::spawn(&s.data_dir, &["--root-key-file", other.to_str().unwrap()])
        .err()
        .expect("must refuse");
    assert!(err.contains("root key does not match"), "{err}");
}

/// `hush server rotate-root-key` on a stopped server's data dir; `current`
/// says where its key is when it is not the generated one.
fn rotate_root_key(data_dir: &std::path::Path, current: &[&str], new_key: &std::path::Path) {
    let home = tempfile::tempdir().unwrap();
    let mut args = vec!["server", "--data-dir", data_dir.to_str().unwrap()];
    args.extend_from_slice(current);
    args.extend([
        "rotate-root-key",
        "--new-root-key-file",
        new_key.to_str().unwrap(),
    ]);
    let out = hush(home.path(), &args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn root_key_rotation_rewraps_and_old_key_stops_working() {
    let mut s = TestServer::start(&[]).await;
    set(&s.client(), "ROT", "before-rotation").await.unwrap();
    s.stop();
    let new_key = new_root_key_file(&s.data_dir, "new.key");
    rotate_root_key(&s.data_dir, &[], &new_key);
    // The old (generated) key no longer opens the database.
    let old = TestServer::spawn(&s.data_dir, &[])
        .err()
        .expect("old key refused");
    assert!(old.contains("root key does not match"));
    let mut again =
        TestServer::spawn(&s.data_dir, &["--root-key-file", new_key.to_str().unwrap()]).unwrap();
    again.token = s.token.clone();
    assert_eq!(
        get(&again.client(), "ROT", None).await.unwrap()["secretValue"],
        "before-rotation"
    );
    // The audit chain goes on under the new key from the hand-over event:
    // the events before it still verify, with the old key's audit key kept
    // sealed under the new root key; a second rotation keeps both.
    set(&again.client(), "ROT", "after-rotation").await.unwrap();
    assert_audit_chain_ok(&again.client()).await;
    again.stop();
    let newer_key = new_root_key_file(&s.data_dir, "newer.key");
    rotate_root_key(
        &s.data_dir,
        &["--root-key-file", new_key.to_str().unwrap()],
        &newer_key,
    );
    let mut third = TestServer::spawn(
        &s.data_dir,
        &["--root-key-file", newer_key.to_str().unwrap()],
    )
    .unwrap();
    third.token = s.token.clone();
    set(&third.client(), "ROT", "after-second").await.unwrap();
    assert_audit_chain_ok(&third.client()).await;
    let handovers = audit_events(
        &third.client(),
        &[("action", "rotate-root-key".into()), ("limit", "10".into())],
    )
    .await;
    assert_eq!(handovers.len(), 2);
}

#[tokio::test]
async fn tls_self_signed_serves_https() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::spawn(tmp.path(), &["--tls-self-signed"]).unwrap();
    assert!(s.url.starts_with("https://"));
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let r = http.get(format!("{}/healthz", s.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(s.data_dir.join("tls/cert.pem").exists());
}

#[tokio::test]
async fn health_and_readiness() {
    let s = TestServer::start(&[]).await;
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{}/healthz", s.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(format!("{}/readyz", s.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly() {
    let mut s = TestServer::start(&[]).await;
    set(&s.client(), "K", "v").await.unwrap();
    let status = s.stop().unwrap();
    assert!(status.success(), "{status:?}");
    // The WAL was folded back into the database on a clean close.
    let wal = std::fs::metadata(format!("{}-wal", s.db_path().display()))
        .map(|m| m.len())
        .unwrap_or(0);
    assert_eq!(wal, 0);
}

#[tokio::test]
async fn cli_set_get_list_through_the_binary() {
    let s = TestServer::start(&[]).await;
    let home = tempfile::tempdir().unwrap();
    let base = ["--server", s.url.as_str(), "--token", s.token.as_str()];
    let run = |args: &[&str], stdin: Option<&[u8]>| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&base);
        hush(home.path(), &all, stdin)
    };
    let out = run(&["set", "API_KEY=first", "--no-history-hint"], None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "API_KEY created: version 1"
    );
    let out = run(&["set", "API_KEY=second"], None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "API_KEY updated: version 1 -> 2"
    );
    let big: String = (0..1024 * 1024)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let out = run(&["set", "BIG", "-"], Some(big.as_bytes()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["get", "BIG"], None);
    assert_eq!(out.stdout.len(), big.len());
    assert!(out.stdout == big.as_bytes());
    let out = run(&["get", "API_KEY"], None);
    assert_eq!(out.stdout, b"second");
    let out = run(&["list", "--json"], None);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(
        list[0].get("value").is_none(),
        "list without --reveal must not carry values"
    );
    let out = run(&["get", "MISSING"], None);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Secret not found"));
    let out = hush(home.path(), &["list", "--server", &s.url], None);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hush login"));
    let out = hush(
        home.path(),
        &[
            "list",
            "--server",
            "http://127.0.0.1:1",
            "--token",
            &s.token,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("cannot reach the hush server at http://127.0.0.1:1"));
}

/// Repeated identical lists may be answered from memory (SQLite): each one is
/// still audited, a write is seen by the very next list, and a revoked token
/// is refused at once.
#[tokio::test]
async fn repeated_lists_are_each_audited_and_see_every_write() {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    set(&c, "API_KEY", "list-cache-one").await.unwrap();
    let list = async |c: &hush::client::ApiClient| {
        c.get("/api/v3/secrets/raw", &scope_q("dev", "/")).await
    };
    let value = |v: &Value| v["secrets"][0]["secretValue"].as_str().unwrap().to_owned();
    let audited = async || {
        c.get(
            "/api/v1/hush/audit",
            &[("action", "get-secrets".into()), ("limit", "1000".into())],
        )
        .await
        .unwrap()["events"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = audited().await;
    for _ in 0..5 {
        assert_eq!(value(&list(&c).await.unwrap()), "list-cache-one");
    }
    assert_eq!(audited().await, before + 5, "every list is audited");
    // The same list from another client (user agent) on the same token: its
    // event names that client, not the one whose list was cached.
    let raw = reqwest::Client::new()
        .get(format!("{}/api/v3/secrets/raw", s.url))
        .query(&scope_q("dev", "/"))
        .bearer_auth(&s.token)
        .header("user-agent", "InfisicalPythonSDK/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    let events = c
        .get(
            "/api/v1/hush/audit",
            &[("action", "get-secrets".into()), ("limit", "6".into())],
        )
        .await
        .unwrap()["events"]
        .as_array()
        .unwrap()
        .clone();
    // Newest first: the other client's, then the five repeats, each whole
    // and with its own id.
    assert_eq!(events[0]["userAgent"], "InfisicalPythonSDK/1.0");
    assert_eq!(events[0]["client"], "python-sdk");
    let ids: std::collections::HashSet<&str> =
        events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 6);
    for e in &events[1..] {
        assert_eq!(e["keys"], json!(["API_KEY"]), "{e}");
        assert_eq!(
            (&e["environment"], &e["path"]),
            (&json!("dev"), &json!("/"))
        );
        assert_eq!(
            (&e["actorName"], &e["client"]),
            (&events[1]["actorName"], &json!("hush-cli"))
        );
        assert!(e["time"].as_i64().unwrap() > 0);
    }
    let verified = c.get("/api/v1/hush/audit/verify", &[]).await.unwrap();
    assert_eq!(verified["ok"], true, "{verified}");
    set(&c, "API_KEY", "list-cache-two").await.unwrap();
    assert_eq!(value(&list(&c).await.unwrap()), "list-cache-two");

    // A second caller with its own token, then revoked: refused at once even
    // though its list was answered a moment ago.
    let (id, token) = read_token(&c, "dev", "/").await;
    let other = hush::client::ApiClient::new(&s.url, Some(token.into())).unwrap();
    assert_eq!(value(&list(&other).await.unwrap()), "list-cache-two");
    c.call(
        Method::DELETE,
        &format!("/api/v1/hush/tokens/{id}"),
        &[("projectId", "default".into())],
        None,
    )
    .await
    .unwrap();
    assert_eq!(list(&other).await.unwrap_err().status(), Some(401));
}
