//! `hush server migrate`: a SQLite deployment copied into PostgreSQL serves the
//! same secrets, and its audit chain still verifies.

use crate::harness::*;
use crate::pg::PgDb;
use reqwest::Method;
use std::process::Command;

#[tokio::test]
async fn sqlite_to_postgres_round_trip() {
    let Some(db) = PgDb::create("sqlite_to_postgres_round_trip").await else {
        return;
    };
    let mut s = TestServer::start(&[]).await;
    let c = s.client();
    for v in ["one", "two", "three"] {
        set(&c, "API_KEY", v).await.unwrap();
    }
    set(&c, "DELETED", "gone").await.unwrap();
    c.send(
        Method::DELETE,
        "/api/v3/secrets/raw/DELETED",
        &scope("dev", "/"),
    )
    .await
    .unwrap();
    get(&c, "API_KEY", None).await.unwrap();
    s.stop();

    let from = format!("sqlite://{}", s.db_path().display());
    let out = Command::new(BIN)
        .args(["server", "migrate", "--from", &from, "--to", &db.url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("audit event(s) verify"), "{stdout}");

    // A second run refuses the now non-empty target.
    let again = Command::new(BIN)
        .args(["server", "migrate", "--from", &from, "--to", &db.url])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // The SQLite deployment's key and token work on PostgreSQL.
    let key_file = s.data_dir.join("root.key");
    let dir = tempfile::tempdir().unwrap();
    let mut p = TestServer::spawn_with(
        dir.path(),
        &["--database", &db.url],
        &[("HUSH_ROOT_KEY_FILE", key_file.to_str().unwrap())],
    )
    .expect("server on the migrated database");
    p.token = s.token.clone();
    let pc = p.client();
    let now = get(&pc, "API_KEY", None).await.unwrap();
    assert_eq!(
        (now["secretValue"].as_str(), now["version"].as_i64()),
        (Some("three"), Some(3))
    );
    assert_eq!(
        get(&pc, "API_KEY", Some(1)).await.unwrap()["secretValue"],
        "one"
    );
    let deleted = pc
        .get("/api/v1/hush/deleted", &scope_q("dev", "/"))
        .await
        .unwrap();
    assert_eq!(deleted["secrets"][0]["secretKey"], "DELETED");
    // New writes continue the version sequence and the audit chain.
    assert_eq!(set(&pc, "API_KEY", "four").await.unwrap(), 4);
    let home = tempfile::tempdir().unwrap();
    let verify = hush(
        home.path(),
        &["audit", "verify", "--server", &p.url, "--token", &p.token],
        None,
    );
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    p.stop();
}
