//! Store behaviours that must hold on every backend. Each scenario runs once on
//! SQLite and once on PostgreSQL (skipped, with a note, without
//! `TEST_DATABASE_URL`).

use crate::harness::*;
use crate::pg::{Backend, PgDb};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&super::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = super::PgDb::create(concat!("postgres::", stringify!($name))).await else {
                        return;
                    };
                    super::$name(&super::Backend::Postgres(db)).await
                }
            )*
        }
    };
}

conformance!(
    versions_history_rollback,
    max_versions_purges_oldest,
    concurrent_if_version_writers,
    conflict_names_current_version,
    soft_delete_restore,
    purge_after_recovery_window,
    explicit_purge,
    audit_chain_verifies_and_names_tampering,
    bootstrap_once_and_token_revocation,
    restart_keeps_everything,
);

fn versions_of(h: &serde_json::Value) -> Vec<i64> {
    h["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect()
}

async fn versions_history_rollback(b: &Backend) {
    let s = b.start(&[]).await;
    let c = s.client();
    for (i, v) in ["one", "two", "three"].iter().enumerate() {
        assert_eq!(set(&c, "API_KEY", v).await.unwrap(), i as i64 + 1);
    }
    for (i, v) in ["one", "two", "three"].iter().enumerate() {
        let secret = get(&c, "API_KEY", Some(i as i64 + 1)).await.unwrap();
        assert_eq!(secret["secretValue"], *v);
    }
    let mut body = scope("dev", "/");
    body["version"] = json!(1);
    let r = c
        .send(Method::POST, "/api/v1/hush/secrets/API_KEY/rollback", &body)
        .await
        .unwrap();
    assert_eq!(r["secret"]["version"], 4);
    let now = get(&c, "API_KEY", None).await.unwrap();
    assert_eq!(
        (now["secretValue"].as_str(), now["version"].as_i64()),
        (Some("one"), Some(4))
    );
    let mut q = scope_q("dev", "/");
    q.push(("reveal", "true".into()));
    let h = c
        .get("/api/v1/hush/secrets/API_KEY/history", &q)
        .await
        .unwrap();
    let values: Vec<&str> = h["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["secretValue"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["one", "two", "three", "one"]);
    assert_eq!(status(get(&c, "API_KEY", Some(9)).await), 404);
    // Listing order is byte order on every backend.
    for k in ["b_key", "B_KEY", "a_KEY", "A_key"] {
        set(&c, k, "x").await.unwrap();
    }
    let list = c
        .get("/api/v3/secrets/raw", &scope_q("dev", "/"))
        .await
        .unwrap();
    let keys: Vec<&str> = list["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["secretKey"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["API_KEY", "A_key", "B_KEY", "a_KEY", "b_key"]);
}

async fn max_versions_purges_oldest(b: &Backend) {
    let s = b.start(&["--max-versions", "3"]).await;
    let c = s.client();
    for i in 1..=5 {
        set(&c, "K", &format!("value-{i}")).await.unwrap();
    }
    let h = c
        .get("/api/v1/hush/secrets/K/history", &scope_q("dev", "/"))
        .await
        .unwrap();
    assert_eq!(versions_of(&h), [3, 4, 5]);
    assert_eq!(status(get(&c, "K", Some(1)).await), 404);
    assert_eq!(
        get(&c, "K", Some(3)).await.unwrap()["secretValue"],
        "value-3"
    );
}

/// 16 writers race with the same `ifVersion`: exactly one wins each round.
pub async fn race_round(urls: &[String], token: &str, key: &str, round: i64) -> Vec<u16> {
    let mut tasks = Vec::new();
    for w in 0..16 {
        let url = urls[w % urls.len()].clone();
        let token = token.to_owned();
        let key = key.to_owned();
        tasks.push(tokio::spawn(async move {
            let c =
                hush::client::ApiClient::new(&url, Some(zeroize::Zeroizing::new(token))).unwrap();
            let mut body = scope("dev", "/");
            body["secretValue"] = json!(format!("round-{round}-writer-{w}"));
            body["ifVersion"] = json!(round);
            status(
                c.send(Method::PUT, &format!("/api/v1/hush/secrets/{key}"), &body)
                    .await,
            )
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes
}

async fn concurrent_if_version_writers(b: &Backend) {
    let s = b.start(&[]).await;
    let urls = vec![s.url.clone()];
    for round in 0..5i64 {
        let codes = race_round(&urls, &s.token, "CONTENDED", round).await;
        let wins = codes.iter().filter(|c| **c == 200).count();
        let conflicts = codes.iter().filter(|c| **c == 409).count();
        assert_eq!((wins, conflicts), (1, 15), "round {round}: {codes:?}");
    }
    assert_eq!(
        get(&s.client(), "CONTENDED", None).await.unwrap()["version"],
        5
    );
    // Unconditional writers all succeed (lost races are retried).
    let mut tasks = Vec::new();
    for w in 0..8 {
        let c = s.client();
        tasks.push(tokio::spawn(async move {
            set(&c, "FREE", &format!("w{w}")).await.unwrap()
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap());
    }
    versions.sort();
    assert_eq!(versions, (1..=8).collect::<Vec<i64>>());
}

async fn conflict_names_current_version(b: &Backend) {
    let s = b.start(&[]).await;
    let c = s.client();
    set(&c, "K", "a").await.unwrap();
    let mut body = scope("dev", "/");
    body["secretValue"] = json!("b");
    body["ifVersion"] = json!(0);
    let err = c
        .send(Method::PUT, "/api/v1/hush/secrets/K", &body)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert!(err.to_string().contains("current version is 1"), "{err}");
}

async fn soft_delete_restore(b: &Backend) {
    let s = b.start(&[]).await;
    let c = s.client();
    set(&c, "GONE", "v1").await.unwrap();
    set(&c, "GONE", "v2").await.unwrap();
    set(&c, "STAYS", "x").await.unwrap();
    let r = c
        .send(
            Method::DELETE,
            "/api/v3/secrets/raw/GONE",
            &scope("dev", "/"),
        )
        .await
        .unwrap();
    assert!(r["secret"]["recoverableUntil"].is_string());
    assert_eq!(status(get(&c, "GONE", None).await), 404);
    let deleted = c
        .get("/api/v1/hush/deleted", &scope_q("dev", "/"))
        .await
        .unwrap();
    assert_eq!(deleted["secrets"][0]["secretKey"], "GONE");
    c.send(
        Method::POST,
        "/api/v1/hush/secrets/GONE/restore",
        &scope("dev", "/"),
    )
    .await
    .unwrap();
    let back = get(&c, "GONE", None).await.unwrap();
    assert_eq!(
        (back["secretValue"].as_str(), back["version"].as_i64()),
        (Some("v2"), Some(2))
    );
    assert_eq!(get(&c, "GONE", Some(1)).await.unwrap()["secretValue"], "v1");
    // Writing over a deleted secret revives it with the next version.
    c.send(
        Method::DELETE,
        "/api/v3/secrets/raw/GONE",
        &scope("dev", "/"),
    )
    .await
    .unwrap();
    assert_eq!(set(&c, "GONE", "v3").await.unwrap(), 3);
}

async fn purge_after_recovery_window(b: &Backend) {
    let s = b
        .start(&["--recovery-window", "1s", "--purge-interval", "200ms"])
        .await;
    let c = s.client();
    set(&c, "TEMP", "x").await.unwrap();
    c.send(
        Method::DELETE,
        "/api/v3/secrets/raw/TEMP",
        &scope("dev", "/"),
    )
    .await
    .unwrap();
    let purged = eventually(Duration::from_secs(10), async || {
        let d = c
            .get("/api/v1/hush/deleted", &scope_q("dev", "/"))
            .await
            .unwrap();
        d["secrets"].as_array().unwrap().is_empty()
    })
    .await;
    assert!(purged, "secret not purged after its window");
    let audit = c
        .get(
            "/api/v1/hush/audit",
            &[("action", "purge-expired-secret".into())],
        )
        .await
        .unwrap();
    assert_eq!(audit["events"].as_array().unwrap().len(), 1);
}

async fn explicit_purge(b: &Backend) {
    let s = b.start(&[]).await;
    let c = s.client();
    set(&c, "P", "x").await.unwrap();
    c.send(
        Method::POST,
        "/api/v1/hush/secrets/P/purge",
        &scope("dev", "/"),
    )
    .await
    .unwrap();
    assert_eq!(status(get(&c, "P", None).await), 404);
    let restore = c
        .send(
            Method::POST,
            "/api/v1/hush/secrets/P/restore",
            &scope("dev", "/"),
        )
        .await;
    assert_eq!(status(restore), 404);
    assert_eq!(
        b.query_i64(&s, "SELECT COUNT(*) FROM secret_versions")
            .await,
        0
    );
}

async fn audit_chain_verifies_and_names_tampering(b: &Backend) {
    let s = b.start(&[]).await;
    let c = s.client();
    set(&c, "AUD", "value-1").await.unwrap();
    set(&c, "AUD", "value-2").await.unwrap();
    get(&c, "AUD", None).await.unwrap();
    let audit = c
        .get(
            "/api/v1/hush/audit",
            &[("key", "aud".into()), ("limit", "100".into())],
        )
        .await
        .unwrap();
    // The key filter matches case-insensitively on both backends.
    assert_eq!(audit["events"].as_array().unwrap().len(), 3, "{audit}");
    let v = c.get("/api/v1/hush/audit/verify", &[]).await.unwrap();
    assert_eq!(v["ok"], true, "{v}");
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
    let seq = b
        .query_i64(
            &s,
            "SELECT seq FROM audit_events WHERE action = 'get-secret'",
        )
        .await;
    b.execute(
        &s,
        &format!("UPDATE audit_events SET actor_name = 'mallory' WHERE seq = {seq}"),
    )
    .await;
    let bad = hush(
        home.path(),
        &["audit", "verify", "--server", &s.url, "--token", &s.token],
        None,
    );
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains(&format!("event #{seq}")), "{err}");
}

async fn bootstrap_once_and_token_revocation(b: &Backend) {
    let s = b.start(&[]).await;
    let anon = hush::client::ApiClient::new(&s.url, None).unwrap();
    let again = anon
        .send(
            Method::POST,
            "/api/v1/hush/bootstrap",
            &json!({ "email": "x@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status(again), 400);
    let login = anon
        .send(
            Method::POST,
            "/api/v1/hush/auth/login",
            &json!({ "email": "admin@example.com", "password": PASSWORD }),
        )
        .await
        .unwrap();
    let token = login["accessToken"].as_str().unwrap().to_owned();
    let c = hush::client::ApiClient::new(&s.url, Some(zeroize::Zeroizing::new(token))).unwrap();
    c.get("/api/v1/hush/auth/whoami", &[]).await.unwrap();
    c.send(Method::POST, "/api/v1/hush/auth/logout", &json!({}))
        .await
        .unwrap();
    assert_eq!(status(c.get("/api/v1/hush/auth/whoami", &[]).await), 401);
}

async fn restart_keeps_everything(b: &Backend) {
    let mut s = b.start(&[]).await;
    let c = s.client();
    set(&c, "KEEP", "kept-value").await.unwrap();
    s.restart();
    let c = s.client();
    assert_eq!(
        get(&c, "KEEP", None).await.unwrap()["secretValue"],
        "kept-value"
    );
    let v = c.get("/api/v1/hush/audit/verify", &[]).await.unwrap();
    assert_eq!(v["ok"], true, "{v}");
}
