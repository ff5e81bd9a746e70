//! Two real server processes on one PostgreSQL database (skipped, with a note,
//! without `TEST_DATABASE_URL`).

use crate::harness::*;
use crate::pg::PgDb;
use crate::store_conformance::race_round;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

async fn two_replicas(test: &str) -> Option<(PgDb, TestServer, TestServer)> {
    let db = PgDb::create(test).await?;
    let a = db.start(&[]).await;
    let b = db.replica(&a);
    Some((db, a, b))
}

#[tokio::test]
async fn replicas_one_winner_per_version_and_one_audit_chain() {
    let Some((_db, a, b)) = two_replicas("replicas_one_winner_per_version").await else {
        return;
    };
    let urls = vec![a.url.clone(), b.url.clone()];
    let mut wins_total = 0;
    for round in 0..6i64 {
        let codes = race_round(&urls, &a.token, "CONTENDED", round).await;
        let wins = codes.iter().filter(|c| **c == 200).count();
        let conflicts = codes.iter().filter(|c| **c == 409).count();
        assert_eq!((wins, conflicts), (1, 15), "round {round}: {codes:?}");
        wins_total += wins as i64;
    }
    for s in [&a, &b] {
        assert_eq!(
            get(&s.client(), "CONTENDED", None).await.unwrap()["version"],
            wins_total
        );
    }
    // Unconditional writes and audited reads through both at once.
    let mut tasks = Vec::new();
    for i in 0..32 {
        let c = if i % 2 == 0 { a.client() } else { b.client() };
        tasks.push(tokio::spawn(async move {
            set(&c, &format!("K{}", i % 4), &format!("v{i}"))
                .await
                .unwrap();
            get(&c, "CONTENDED", None).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for s in [&a, &b] {
        let v = s
            .client()
            .get("/api/v1/hush/audit/verify", &[])
            .await
            .unwrap();
        assert_eq!(v["ok"], true, "{v}");
    }
    let home = tempfile::tempdir().unwrap();
    let out = hush(
        home.path(),
        &["audit", "verify", "--server", &b.url, "--token", &b.token],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn replicas_see_each_others_writes() {
    let Some((_db, a, b)) = two_replicas("replicas_see_each_others_writes").await else {
        return;
    };
    let (ca, cb) = (a.client(), b.client());
    for i in 1..=5 {
        let (w, r) = if i % 2 == 0 { (&ca, &cb) } else { (&cb, &ca) };
        assert_eq!(set(w, "SHARED", &format!("value-{i}")).await.unwrap(), i);
        let seen = get(r, "SHARED", None).await.unwrap();
        assert_eq!(seen["secretValue"], format!("value-{i}"));
        assert_eq!(seen["version"], i);
    }
    // Delete on one, restore on the other.
    cb.send(
        Method::DELETE,
        "/api/v3/secrets/raw/SHARED",
        &scope("dev", "/"),
    )
    .await
    .unwrap();
    assert_eq!(status(get(&ca, "SHARED", None).await), 404);
    ca.send(
        Method::POST,
        "/api/v1/hush/secrets/SHARED/restore",
        &scope("dev", "/"),
    )
    .await
    .unwrap();
    assert_eq!(get(&cb, "SHARED", None).await.unwrap()["version"], 5);
}

#[tokio::test]
async fn replica_killed_mid_stream_loses_no_acknowledged_write() {
    let Some((_db, mut a, b)) = two_replicas("replica_killed_mid_stream").await else {
        return;
    };
    let cb = b.client();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (ca, cb) = (a.client(), b.client());
        tasks.push(tokio::spawn(async move {
            // (key, value) pairs whose write was acknowledged.
            let mut acked = Vec::new();
            let mut failed_on_b = 0;
            for i in 0..60 {
                let key = format!("W{w}_{i}");
                let value = format!("value-{w}-{i}");
                let on_a = i % 2 == 0;
                let c = if on_a { &ca } else { &cb };
                match set(c, &key, &value).await {
                    Ok(_) => acked.push((key, value)),
                    Err(_) if !on_a => failed_on_b += 1,
                    Err(_) => {}
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (acked, failed_on_b)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.kill9();
    let mut acked = Vec::new();
    for t in tasks {
        let (mut a_list, failed_on_b) = t.await.unwrap();
        assert_eq!(failed_on_b, 0, "the surviving replica failed writes");
        acked.append(&mut a_list);
    }
    // Every write to B succeeded; some to A were cut off by the kill.
    assert!(
        (120..240).contains(&acked.len()),
        "{} writes acknowledged",
        acked.len()
    );
    for (key, value) in &acked {
        assert_eq!(
            get(&cb, key, None).await.unwrap()["secretValue"],
            value.as_str(),
            "{key}"
        );
    }
    assert_audit_chain_ok(&cb).await;
    let ready = reqwest::get(format!("{}/readyz", b.url)).await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn token_revoked_on_one_replica_is_refused_by_the_other() {
    let Some((_db, a, b)) = two_replicas("token_revoked_on_one_replica").await else {
        return;
    };
    let anon = hush::client::ApiClient::new(&a.url, None).unwrap();
    let login = anon
        .send(
            Method::POST,
            "/api/v1/hush/auth/login",
            &json!({ "email": "admin@example.com", "password": PASSWORD }),
        )
        .await
        .unwrap();
    let token = zeroize::Zeroizing::new(login["accessToken"].as_str().unwrap().to_owned());
    let on_a = hush::client::ApiClient::new(&a.url, Some(token.clone())).unwrap();
    let on_b = hush::client::ApiClient::new(&b.url, Some(token)).unwrap();
    on_b.get("/api/v1/hush/auth/whoami", &[]).await.unwrap();
    on_a.send(Method::POST, "/api/v1/hush/auth/logout", &json!({}))
        .await
        .unwrap();
    assert_eq!(status(on_b.get("/api/v1/hush/auth/whoami", &[]).await), 401);
}

#[tokio::test]
async fn replicas_need_the_shared_root_key() {
    let Some(db) = PgDb::create("replicas_need_the_shared_root_key").await else {
        return;
    };
    let a = db.start(&[]).await;
    // No key at all: refused before touching the database.
    let err = match TestServer::spawn(&a.data_dir, &["--database", &db.url]) {
        Err(log) => log,
        Ok(_) => panic!("a PostgreSQL server started without a root key"),
    };
    assert!(err.contains("HUSH_ROOT_KEY"), "{err}");
    // A different key: the key check refuses it.
    let other = "11".repeat(32);
    let err = match TestServer::spawn_with(
        &a.data_dir,
        &["--database", &db.url],
        &[("HUSH_ROOT_KEY", other.as_str())],
    ) {
        Err(log) => log,
        Ok(_) => panic!("a replica started with a different root key"),
    };
    assert!(err.contains("root key does not match"), "{err}");
    // An unreachable database: a clear error without the password.
    let err = match TestServer::spawn_with(
        &a.data_dir,
        &["--database", "postgres://hush:hunter2@127.0.0.1:1/hush"],
        &[("HUSH_ROOT_KEY", crate::pg::ROOT_KEY)],
    ) {
        Err(log) => log,
        Ok(_) => panic!("started on an unreachable database"),
    };
    assert!(err.contains("cannot open database"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test]
async fn replicas_starting_together_migrate_once_and_bootstrap_once() {
    let Some(db) = PgDb::create("replicas_starting_together").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let (path, url) = (dir.path().to_owned(), db.url.clone());
            std::thread::spawn(move || {
                TestServer::spawn_with(
                    &path,
                    &["--database", &url],
                    &[("HUSH_ROOT_KEY", crate::pg::ROOT_KEY)],
                )
            })
        })
        .collect();
    let servers: Vec<TestServer> = starts
        .into_iter()
        .map(|t| t.join().unwrap().expect("replica starts"))
        .collect();
    // Every migration ran exactly once, whichever replica ran it.
    let versions: Vec<i64> = db
        .client()
        .await
        .query("SELECT version FROM hush_schema ORDER BY version", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    // Every replica printed the same code (sealed once in the database);
    // bootstrapping through every replica at once: exactly one succeeds.
    let code = crate::harness::bootstrap_code(dir.path());
    assert!(!code.is_empty());
    let log = servers[0].log(); // one file: they share the data dir
    let printed: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("One-time bootstrap code"))
        .collect();
    assert_eq!(printed.len(), 3, "{log}");
    assert!(printed.iter().all(|l| l.contains(&code)), "{log}");
    let mut tasks = Vec::new();
    for (i, s) in servers.iter().enumerate() {
        let (url, code) = (s.url.clone(), code.clone());
        tasks.push(tokio::spawn(async move {
            let c = hush::client::ApiClient::new(&url, None).unwrap();
            status(
                c.send(
                    Method::POST,
                    "/api/v1/hush/bootstrap",
                    &json!({ "email": format!("admin{i}@example.com"), "password": PASSWORD,
                             "bootstrapCode": code }),
                )
                .await,
            )
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes.sort();
    assert_eq!(codes, [200, 400, 400]);
}

#[tokio::test]
async fn watch_through_one_replica_sees_a_change_written_through_the_other() {
    let Some((_db, a, b)) = two_replicas("watch_through_b").await else {
        return;
    };
    set(&a.client(), "API_KEY", "watch-replica-one")
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("watch.log");
    let mut child = std::process::Command::new(BIN)
        .args(["run", "--server", &b.url, "--token", &b.token])
        .args(crate::run::watch_logging(&log))
        .env("XDG_CONFIG_HOME", home.path())
        .env("XDG_CACHE_HOME", home.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let seen = |needle: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains(needle)
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    };
    assert!(seen("start watch-replica-one"));
    // Written through A; the command watching through B restarts with it.
    set(&a.client(), "API_KEY", "watch-replica-two")
        .await
        .unwrap();
    let restarted = seen("start watch-replica-two");
    // SIGTERM (not SIGKILL) so hush forwards it and the command ends too.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert!(
        restarted,
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
