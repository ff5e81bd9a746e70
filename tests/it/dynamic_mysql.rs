//! Issue 24, dynamic MariaDB users against the MariaDB named by
//! `TEST_MARIADB_URL` (skipped with a note without it, a failure under
//! `HUSH_REQUIRE_MARIADB_TESTS=1`, like `rotation_mysql`): a lease's user
//! logs in until it is revoked, or until it expired and the expiry pass ran
//! (the clock moved, not slept).

use crate::dynamic::replica_on;
use crate::dynamic_pg::lease;
use crate::pg::Backend;
use crate::rotation::start;
use crate::rotation_mysql::{admin, connects};
use hush::time_ids::{Clock, ManualClock};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn mariadb_leases_log_in_until_revoked_or_expired() {
    let Some((url, _root)) = admin().await else {
        return;
    };
    let opts = mysql_async::Opts::from_url(&url).unwrap();
    let backend = Backend::Sqlite;
    let mut s = start(&backend).await;
    let c = s.client();
    let body = json!({
        "name": "maria",
        "projectSlug": "default", "environmentSlug": "dev", "path": "/",
        "defaultTTL": "1h", "maxTTL": "1h",
        "provider": { "type": "sql-database", "inputs": {
            "client": "mysql", "host": opts.ip_or_hostname(), "port": opts.tcp_port(),
            "username": opts.user().unwrap_or("root"), "password": opts.pass().unwrap_or(""),
            "creationStatement": "CREATE USER '{{username}}'@'%' IDENTIFIED BY PASSWORD '{{password_hash}}'; GRANT USAGE ON *.* TO '{{username}}'@'%'",
            "revocationStatement": "DROP USER IF EXISTS '{{username}}'@'%'"
        }}
    });
    c.send(Method::POST, "/api/v1/dynamic-secrets", &body)
        .await
        .unwrap();

    let first = lease(&c, "maria", "1h").await;
    let user = first["data"]["DB_USERNAME"].as_str().unwrap().to_owned();
    let pw = first["data"]["DB_PASSWORD"].as_str().unwrap().to_owned();
    assert!(connects(&url, &user, &pw).await, "the lease's user logs in");
    assert!(!connects(&url, &user, "wrong").await);
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
        !connects(&url, &user, &pw).await,
        "a revoked user must not log in"
    );

    let second = lease(&c, "maria", "1h").await;
    let user2 = second["data"]["DB_USERNAME"].as_str().unwrap().to_owned();
    let pw2 = second["data"]["DB_PASSWORD"].as_str().unwrap().to_owned();
    assert!(connects(&url, &user2, &pw2).await);
    // One process opens a SQLite data dir: the server steps aside for the
    // replica whose clock is moved past the lease's end.
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
        !connects(&url, &user2, &pw2).await,
        "an expired lease's user must not log in"
    );
    assert_eq!(
        replica
            .revoke_due_leases("replica", clock.now_ms())
            .await
            .unwrap(),
        0,
        "revoked once"
    );
}
