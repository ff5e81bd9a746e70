//! Issue 24, dynamic Redis ACL users against the Redis at
//! `TEST_REDIS_ADDR` (default `127.0.0.1:6379`, its default user without a
//! password). Without a Redis there the test is skipped with a note, unless
//! `HUSH_REQUIRE_REDIS_TESTS=1` makes that a failure. A lease's user can
//! `AUTH` until it is revoked, or until it expired and the expiry pass ran
//! (the clock moved, not slept).

use crate::dynamic::replica_on;
use crate::dynamic_pg::lease;
use crate::pg::Backend;
use crate::rotation::start;
use hush::dynamic::redis::{Reply, Resp};
use hush::time_ids::{Clock, ManualClock};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

/// The Redis address, or None (after saying so) when none answers.
pub(crate) async fn redis_addr() -> Option<String> {
    let addr = std::env::var("TEST_REDIS_ADDR")
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "127.0.0.1:6379".into());
    let reachable = match tokio::net::TcpStream::connect(&addr).await {
        Ok(stream) => Resp::new(stream).command(&["PING"]).await.is_ok(),
        Err(_) => false,
    };
    if reachable {
        return Some(addr);
    }
    assert!(
        std::env::var("HUSH_REQUIRE_REDIS_TESTS").as_deref() != Ok("1"),
        "no Redis answers at {addr} but HUSH_REQUIRE_REDIS_TESTS=1"
    );
    eprintln!("SKIPPED dynamic_redis: no Redis at {addr} (set TEST_REDIS_ADDR)");
    None
}

/// Whether `user` can AUTH with `password`.
pub(crate) async fn authenticates(addr: &str, user: &str, password: &str) -> bool {
    let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    Resp::new(stream)
        .command(&["AUTH", user, password])
        .await
        .is_ok()
}

#[tokio::test]
async fn redis_leases_authenticate_until_revoked_or_expired() {
    let Some(addr) = redis_addr().await else {
        return;
    };
    let (host, port) = addr.rsplit_once(':').unwrap();
    let backend = Backend::Sqlite;
    let mut s = start(&backend).await;
    let c = s.client();
    let body = json!({
        "name": "cache",
        "projectSlug": "default", "environmentSlug": "dev", "path": "/",
        "defaultTTL": "1h", "maxTTL": "1h",
        "provider": { "type": "redis", "inputs": {
            "host": host, "port": port.parse::<u16>().unwrap(),
            "creationStatement": "ACL SETUSER {{username}} on #{{password_sha256}} ~cache:* +get +set",
            "revocationStatement": "ACL DELUSER {{username}}"
        }}
    });
    let created = c
        .send(Method::POST, "/api/v1/dynamic-secrets", &body)
        .await
        .unwrap();
    assert_eq!(created["dynamicSecret"]["type"], "redis");

    let first = lease(&c, "cache", "1h").await;
    let user = first["data"]["DB_USERNAME"].as_str().unwrap().to_owned();
    let pw = first["data"]["DB_PASSWORD"].as_str().unwrap().to_owned();
    assert!(
        authenticates(&addr, &user, &pw).await,
        "the lease's user can AUTH"
    );
    assert!(!authenticates(&addr, &user, "wrong").await);
    let id = first["lease"]["id"].as_str().unwrap();
    c.call(
        Method::DELETE,
        &format!("/api/v1/dynamic-secrets/leases/{id}"),
        &[],
        Some(&json!({"projectSlug": "default", "environmentSlug": "dev", "path": "/"})),
    )
    .await
    .unwrap();
    assert!(
        !authenticates(&addr, &user, &pw).await,
        "a revoked user must not AUTH"
    );

    let second = lease(&c, "cache", "1h").await;
    let user2 = second["data"]["DB_USERNAME"].as_str().unwrap().to_owned();
    let pw2 = second["data"]["DB_PASSWORD"].as_str().unwrap().to_owned();
    assert!(authenticates(&addr, &user2, &pw2).await);
    s.stop();
    let clock = ManualClock::new();
    let replica = replica_on(&backend, &s, clock.clone()).await;
    clock.advance(Duration::from_secs(3601));
    assert_eq!(
        replica
            .revoke_due_leases("replica", clock.now_ms())
            .await
            .unwrap(),
        1
    );
    assert!(
        !authenticates(&addr, &user2, &pw2).await,
        "an expired lease's user must not AUTH"
    );
    // No lease password in the server log.
    assert!(!s.log().contains(&pw2));
}

/// A `POST /api/v1/dynamic-secrets` body: Redis definition `name` in
/// `default`/`dev` at `host`:`port`, whose users may PING.
pub(crate) fn redis_definition(name: &str, host: &str, port: u16) -> serde_json::Value {
    json!({
        "name": name,
        "projectSlug": "default", "environmentSlug": "dev", "path": "/",
        "defaultTTL": "1h",
        "provider": { "type": "redis", "inputs": {
            "host": host, "port": port,
            "creationStatement": "ACL SETUSER {{username}} on #{{password_sha256}} ~* +ping",
            "revocationStatement": "ACL DELUSER {{username}}"
        }}
    })
}

/// The users the Redis at `addr` has.
async fn acl_users(addr: &str) -> Vec<String> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let answer = Resp::new(stream).command(&["ACL", "USERS"]).await.unwrap();
    let Reply::Array(items) = answer else {
        panic!("ACL USERS: {answer:?}")
    };
    items
        .into_iter()
        .filter_map(|item| match item {
            Reply::Bulk(Some(name)) => Some(String::from_utf8_lossy(&name).into_owned()),
            _ => None,
        })
        .collect()
}

/// `--database-targets`: the metadata service is refused without any rule;
/// with `10.0.0.0/8` a definition at 127.0.0.1 is refused when saved, and
/// one saved before the rule makes no connection when leasing (the Redis
/// gains no user).
#[tokio::test]
async fn database_connections_stay_inside_the_targets() {
    let Some(addr) = redis_addr().await else {
        return;
    };
    let (host, port) = addr.rsplit_once(':').unwrap();
    let port: u16 = port.parse().unwrap();
    let mut s = start(&Backend::Sqlite).await;
    let c = s.client();
    for metadata in ["169.254.169.254", "0.0.0.0"] {
        let r = c
            .send(
                Method::POST,
                "/api/v1/dynamic-secrets",
                &redis_definition("meta", metadata, port),
            )
            .await;
        let e = r.unwrap_err();
        assert_eq!(e.status(), Some(422), "{e}");
        assert!(e.to_string().contains("link-local"), "{e}");
    }
    c.send(
        Method::POST,
        "/api/v1/dynamic-secrets",
        &redis_definition("cache", host, port),
    )
    .await
    .unwrap();

    s.stop();
    let token = s.token.clone();
    let mut narrow = hush_server_on(&s, &["--database-targets", "10.0.0.0/8"]);
    narrow.token = token;
    let c = narrow.client();
    let before = acl_users(&addr).await;
    assert!(before.iter().any(|u| u == "default"), "{before:?}");
    let refused = c
        .send(
            Method::POST,
            "/api/v1/dynamic-secrets/leases",
            &json!({"dynamicSecretName": "cache", "projectSlug": "default",
                "environmentSlug": "dev", "path": "/", "ttl": "1h"}),
        )
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("outside the server's --database-targets"),
        "{refused}"
    );
    assert_eq!(acl_users(&addr).await, before, "no user was made");
    let refused = c
        .send(
            Method::POST,
            "/api/v1/dynamic-secrets",
            &redis_definition("cache2", host, port),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(422), "{refused}");
    assert!(
        refused.to_string().contains("--database-targets"),
        "{refused}"
    );
}

/// A server on `s`'s data dir and root key, with `extra` flags.
fn hush_server_on(s: &crate::harness::TestServer, extra: &[&str]) -> crate::harness::TestServer {
    crate::harness::TestServer::spawn_with(
        &s.data_dir,
        extra,
        &[("HUSH_ROOT_KEY", crate::pg::ROOT_KEY)],
    )
    .expect("the server starts again")
}

/// The rule of `redis_addr`, checked on the Redis test run in a child
/// process of this test binary against an address where nothing listens:
/// required, it fails; not required, it passes with a skip note.
#[test]
fn a_required_redis_test_fails_without_redis() {
    let test = "dynamic_redis::redis_leases_authenticate_until_revoked_or_expired";
    let run = |required: bool| {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env("TEST_REDIS_ADDR", "127.0.0.1:9")
            .env_remove("HUSH_REQUIRE_REDIS_TESTS");
        if required {
            cmd.env("HUSH_REQUIRE_REDIS_TESTS", "1");
        }
        let out = cmd.output().expect("run the test binary");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("1 passed") || text.contains("1 failed"),
            "the test ran: {text}"
        );
        (out.status.success(), text)
    };
    let (passed, text) = run(true);
    assert!(
        !passed,
        "HUSH_REQUIRE_REDIS_TESTS=1 without Redis must fail: {text}"
    );
    assert!(text.contains("HUSH_REQUIRE_REDIS_TESTS=1"), "{text}");
    let (passed, text) = run(false);
    assert!(passed, "not required: skipped, not failed: {text}");
    assert!(text.contains("SKIPPED"), "{text}");
}
