//! Online re-keying (issue 25): `hush keys rotate-root` and `rotate-data`
//! with the server running, on SQLite and across two PostgreSQL replicas
//! under load, and the rotation policy. Canary values must never show in
//! the audit log or the server's log.

use crate::harness::*;
use crate::pg::PgDb;
use hush::crypto::{secret_aad, Field, Key};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CANARY: &str = "rekey-canary-7f3a9c";

fn keys_cli(s: &TestServer, args: &[&str]) -> (bool, String, String) {
    let home = tempfile::tempdir().unwrap();
    let mut all = vec!["keys"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--server", &s.url, "--token", &s.token]);
    let out = hush(home.path(), &all, None);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn key_status(s: &TestServer) -> Value {
    s.client()
        .get("/api/v1/hush/keys/status", &[])
        .await
        .unwrap()
}

async fn history(c: &hush::client::ApiClient, key: &str) -> Vec<(i64, String)> {
    let mut q = scope_q("dev", "/");
    q.push(("reveal", "true".into()));
    let h = c
        .get(&format!("/api/v1/hush/secrets/{key}/history"), &q)
        .await
        .unwrap();
    h["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["secretValue"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn kms_key(c: &hush::client::ApiClient) -> String {
    c.send(
        Method::POST,
        "/api/v1/kms/keys",
        &json!({ "projectId": "default", "name": "rekey-app" }),
    )
    .await
    .unwrap()["key"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn kms(c: &hush::client::ApiClient, id: &str, op: &str, body: Value) -> Value {
    c.send(Method::POST, &format!("/api/v1/kms/keys/{id}/{op}"), &body)
        .await
        .unwrap()
}

/// Copies the live SQLite database (consistent, while the server runs).
fn snapshot(db: &Path, to: &Path) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.execute("VACUUM INTO ?1", [to.to_str().unwrap()]).unwrap();
}

/// The data keys in a database copy, unwrapped with `root` (they are
/// generation 0 there: wrapped by the root key itself).
fn data_keys_of_copy(copy: &Path, root: &Key) -> Vec<(i64, Key)> {
    let c = rusqlite::Connection::open(copy).unwrap();
    let mut stmt = c
        .prepare("SELECT project_id, key_id, wrapped, generation FROM data_keys")
        .unwrap();
    let rows: Vec<(String, i64, Vec<u8>, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.into_iter()
        .map(|(p, id, wrapped, generation)| {
            assert_eq!(generation, 0, "the copy predates the rotation");
            (id, root.unwrap_key(&p, id, &wrapped).unwrap())
        })
        .collect()
}

/// `(project, env, key_id, value ciphertext)` of version `version` of `key`.
fn version_ct(db: &Path, key: &str, version: i64) -> (String, String, i64, Vec<u8>) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(
        "SELECT s.project_id, s.env_id, v.key_id, v.value_ct FROM secret_versions v
         JOIN secrets s ON s.id = v.secret_id WHERE s.key = ?1 AND v.version = ?2",
        rusqlite::params![key, version],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .unwrap()
}

#[tokio::test]
async fn rotate_root_and_data_online_rekeys_everything() {
    let mut s = TestServer::start(&[]).await;
    let c = s.client();
    for v in ["first", "second", CANARY] {
        set(&c, "API_KEY", v).await.unwrap();
    }
    let mut b = scope("dev", "/");
    b["type"] = json!("personal");
    b["secretValue"] = json!("my-own-override");
    c.send(Method::PATCH, "/api/v3/secrets/raw/API_KEY", &b)
        .await
        .unwrap();
    let kms_id = kms_key(&c).await;
    let sealed = kms(&c, &kms_id, "encrypt", json!({ "plaintext": "aGVsbG8=" })).await;
    let before = s.data_dir.join("before.db");
    snapshot(&s.db_path(), &before);

    let (ok, out, err) = keys_cli(&s, &["rotate-root"]);
    assert!(ok, "{err}");
    assert!(out.contains("root key generation 1"), "{out}");
    let st = key_status(&s).await;
    assert_eq!(st["generation"], 1, "{st}");
    // Writes go on under the new generation, and a new project's key too.
    set(&c, "AFTER_ROOT", "x").await.unwrap();
    c.send(
        Method::POST,
        "/api/v2/workspace",
        &json!({ "projectName": "second" }),
    )
    .await
    .unwrap();

    let (ok, _, err) = keys_cli(&s, &["rotate-data", "--wait"]);
    assert!(ok, "{err}");
    assert!(err.contains("re-encryption finished"), "{err}");
    let st = key_status(&s).await;
    assert_eq!(st["retiredDataKeys"], 0, "{st}");
    assert_eq!(st["dataKeys"], 2, "one live key per project: {st}");
    for job in st["jobs"].as_array().unwrap() {
        assert!(job["finishedAt"].is_string(), "{st}");
        assert_eq!(job["done"], job["total"], "{st}");
    }
    set(&c, "API_KEY", "written-after").await.unwrap();

    // Everything reads back, through a restart too.
    for round in 0..2 {
        let c = s.client();
        let h = history(&c, "API_KEY").await;
        let values: Vec<&str> = h.iter().map(|(_, v)| v.as_str()).collect();
        for want in ["first", "second", CANARY, "written-after"] {
            assert!(values.contains(&want), "round {round}: {values:?}");
        }
        let mut q = scope_q("dev", "/");
        q.push(("type", "personal".into()));
        let personal = c.get("/api/v3/secrets/raw/API_KEY", &q).await.unwrap();
        assert_eq!(personal["secret"]["secretValue"], "my-own-override");
        let plain = kms(
            &c,
            &kms_id,
            "decrypt",
            json!({ "ciphertext": sealed["ciphertext"] }),
        )
        .await;
        assert_eq!(plain["plaintext"], "aGVsbG8=", "round {round}");
        s.restart();
    }

    // Nothing is sealed under a retired key, and the retired keys are gone.
    let live = rusqlite::Connection::open(s.db_path()).unwrap();
    let old: i64 = live
        .query_row(
            "SELECT COUNT(*) FROM secret_versions WHERE key_id = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old, 0);
    let generations: i64 = live
        .query_row("SELECT COUNT(*) FROM root_generations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(generations, 1, "only the current generation's key is kept");

    // The copy from before, with the root key, opens what was written then
    // (the method works) but nothing written after the rotation.
    let root = Key::read_file(&s.data_dir.join("root.key")).unwrap();
    let old_keys = data_keys_of_copy(&before, &root);
    let (p, e, key_id, ct) = version_ct(&before, "API_KEY", 1);
    let aad = secret_aad(&p, &e, "/", "API_KEY", 1, Field::Value);
    let key = &old_keys.iter().find(|(id, _)| *id == key_id).unwrap().1;
    assert_eq!(key.open(&aad, &ct).unwrap().as_slice(), b"first");
    let (p, e, _, ct) = version_ct(&s.db_path(), "API_KEY", 4);
    let aad = secret_aad(&p, &e, "/", "API_KEY", 4, Field::Value);
    for (_, k) in &old_keys {
        assert!(
            k.open(&aad, &ct).is_err(),
            "an old data key opens a new version"
        );
    }

    // Audited, without values.
    let c = s.client();
    assert_audit_chain_ok(&c).await;
    let events = audit_events(&c, &[]).await;
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    for a in [
        "rotate-root-key-generation",
        "rotate-data-key",
        "destroy-data-keys",
    ] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains(CANARY));
    assert!(!s.log().contains(CANARY));
}

#[tokio::test]
async fn keys_commands_need_a_server_admin_and_say_so() {
    let s = TestServer::start(&[]).await;
    let dev = user_session(&s, "dev@example.com", Some("admin"), &[]).await;
    let home = tempfile::tempdir().unwrap();
    for cmd in [&["status"][..], &["rotate-root"], &["rotate-data"]] {
        let mut args = vec!["keys"];
        args.extend_from_slice(cmd);
        args.extend_from_slice(&["--server", &s.url, "--token", &dev]);
        let out = hush(home.path(), &args, None);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("only server admins"), "{cmd:?}: {err}");
    }
    assert_eq!(key_status(&s).await["generation"], 0);
}

#[tokio::test]
async fn rotation_policy_rotates_root_and_data_keys_on_schedule() {
    let s = TestServer::start(&["--root-key-rotation", "2s"]).await;
    let c = s.client();
    set(&c, "API_KEY", CANARY).await.unwrap();
    let (ok, out, _) = keys_cli(&s, &["status"]);
    assert!(ok && out.contains("next rotation"), "{out}");
    let rotated = eventually(Duration::from_secs(30), async || {
        let st = key_status(&s).await;
        st["generation"].as_i64().unwrap_or(0) >= 1
            && st["retiredDataKeys"] == 0
            && st["jobs"]
                .as_array()
                .is_some_and(|j| !j.is_empty() && j.iter().all(|j| j["finishedAt"].is_string()))
    })
    .await;
    assert!(rotated, "{}", key_status(&s).await);
    assert_eq!(
        get(&c, "API_KEY", None).await.unwrap()["secretValue"],
        CANARY
    );
}

/// Writers and readers on both replicas while one rotates the root key
/// generation and the other the data keys: no request fails, every version
/// reads back after, and the old data keys are gone.
#[tokio::test]
async fn replicas_rekey_under_load_without_a_failed_request() {
    let Some(db) = PgDb::create("replicas_rekey_under_load").await else {
        return;
    };
    let a = db
        .start(&["--rekey-batch", "20", "--rekey-pause", "20ms"])
        .await;
    let b = db.replica(&a);
    // History to re-encrypt.
    for i in 0..60 {
        set(
            &a.client(),
            &format!("SEED_{}", i % 10),
            &format!("seed-{i}"),
        )
        .await
        .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..4 {
        let clients = [a.client(), b.client()];
        let (stop, failures) = (stop.clone(), failures.clone());
        tasks.push(tokio::spawn(async move {
            let mut written = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let c = &clients[i % 2];
                let value = format!("load-{w}-{i}");
                match set(c, &format!("LOAD_{w}"), &value).await {
                    Ok(v) => written.push((v, value)),
                    Err(e) => {
                        eprintln!("write failed: {e}");
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let reader = &clients[(i + 1) % 2];
                if let Err(e) = get(reader, &format!("SEED_{}", i % 10), None).await {
                    eprintln!("read failed: {e}");
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
            written
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (ok, _, err) = keys_cli(&a, &["rotate-root"]);
    assert!(ok, "{err}");
    let (ok, _, err) = keys_cli(&b, &["rotate-data", "--wait"]);
    assert!(ok, "{err}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut written = Vec::new();
    for t in tasks {
        written.push(t.await.unwrap());
    }
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "requests failed during the rotation"
    );
    for (w, versions) in written.iter().enumerate() {
        assert!(!versions.is_empty());
        for s in [&a, &b] {
            let h = history(&s.client(), &format!("LOAD_{w}")).await;
            for (v, value) in versions.iter().rev().take(50) {
                assert!(h.contains(&(*v, value.clone())), "LOAD_{w} v{v} missing");
            }
        }
    }
    for s in [&a, &b] {
        let st = key_status(s).await;
        assert_eq!(st["generation"], 1, "{st}");
        assert_eq!(st["retiredDataKeys"], 0, "{st}");
        assert_eq!(st["dataKeys"], 1, "{st}");
        let h = history(&s.client(), "SEED_3").await;
        assert!(h.iter().any(|(_, v)| v == "seed-3"), "{h:?}");
    }
    assert_audit_chain_ok(&a.client()).await;
}

/// A server killed in the middle of a re-encryption: the next start takes
/// the job over once the dead claim expires and finishes it where the
/// committed batches stopped; nothing is lost or re-encrypted twice.
#[tokio::test]
async fn reencryption_resumes_after_the_server_is_killed() {
    let mut s = TestServer::start(&["--rekey-batch", "1", "--rekey-pause", "250ms"]).await;
    for i in 0..24 {
        set(&s.client(), "MANY", &format!("value-{i}"))
            .await
            .unwrap();
    }
    let (ok, _, err) = keys_cli(&s, &["rotate-data"]);
    assert!(ok, "{err}");
    let started = eventually(Duration::from_secs(20), async || {
        key_status(&s).await["jobs"][0]["done"]
            .as_i64()
            .unwrap_or(0)
            >= 2
    })
    .await;
    assert!(started, "{}", key_status(&s).await);
    s.kill9();
    s.restart();
    let before = key_status(&s).await["jobs"][0].clone();
    assert!(before["finishedAt"].is_null(), "{before}");
    let finished = eventually(Duration::from_secs(60), async || {
        key_status(&s).await["jobs"][0]["finishedAt"].is_string()
    })
    .await;
    let st = key_status(&s).await;
    assert!(finished, "{st}");
    assert_eq!(st["jobs"][0]["done"], st["jobs"][0]["total"], "{st}");
    assert_eq!(st["retiredDataKeys"], 0, "{st}");
    let h = history(&s.client(), "MANY").await;
    assert_eq!(h.len(), 24);
    for i in 0..24 {
        assert!(h.contains(&(i + 1, format!("value-{i}"))), "{h:?}");
    }
}
