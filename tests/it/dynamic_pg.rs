//! Issue 24, dynamic PostgreSQL users, proven on the rotation tests' own
//! cluster with scram-sha-256 authentication: a lease's user logs in; after
//! a revocation, or after it expired and the expiry pass ran (the clock is
//! moved, not slept), it cannot. A failing revocation is shown and retried.
//! No password (the admin's or a lease's) reaches a log, an error or the
//! audit log.

use crate::dynamic::{pg_definition, replica_on};
use crate::harness::*;
use crate::pg::Backend;
use crate::rotation::{cli, start};
use crate::rotation_pg::{connects, Cluster, ADMIN_PASSWORD};
use hush::time_ids::{Clock, ManualClock};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn q() -> Vec<(&'static str, String)> {
    vec![
        ("projectSlug", "default".to_owned()),
        ("environmentSlug", "dev".to_owned()),
        ("path", "/".to_owned()),
    ]
}

pub(crate) async fn lease(c: &hush::client::ApiClient, name: &str, ttl: &str) -> Value {
    c.send(
        Method::POST,
        "/api/v1/dynamic-secrets/leases",
        &json!({"dynamicSecretName": name, "projectSlug": "default",
            "environmentSlug": "dev", "path": "/", "ttl": ttl}),
    )
    .await
    .unwrap()
}

fn credential(lease: &Value) -> (String, String) {
    (
        lease["data"]["DB_USERNAME"].as_str().unwrap().to_owned(),
        lease["data"]["DB_PASSWORD"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn postgres_leases_log_in_until_revoked_or_expired() {
    let Some(pg) = Cluster::start() else { return };
    // hush itself on PostgreSQL, so two replicas can race for an expired
    // lease for real.
    let Some(db) = crate::pg::PgDb::create("dynamic_pg").await else {
        return;
    };
    let backend = Backend::Postgres(db);
    let s = start(&backend).await;
    let c = s.client();
    let home = tempfile::tempdir().unwrap();
    let pw_file = home.path().join("admin-pw");
    std::fs::write(&pw_file, format!("{ADMIN_PASSWORD}\n")).unwrap();
    let port = pg.port.to_string();

    // Defined through the CLI, the admin password from a file.
    let (code, out, err) = cli(
        home.path(),
        &s,
        &[
            "dynamic", "create", "app-db", "--type", "postgres", "--host", "127.0.0.1",
            "--port", &port, "--database", "postgres", "--admin-user", "admin",
            "--admin-password-file", pw_file.to_str().unwrap(), "--ssl-mode", "disable",
            "--creation",
            "CREATE ROLE \"{{username}}\" LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'",
            "--revocation", "DROP ROLE IF EXISTS \"{{username}}\"",
            "--renew", "ALTER ROLE \"{{username}}\" VALID UNTIL '{{expiration}}'",
            "--default-ttl", "1h", "--max-ttl", "2h",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("defined app-db"), "{out}");
    let (code, out, _) = cli(home.path(), &s, &["dynamic", "show", "app-db", "--json"]);
    assert_eq!(code, 0);
    assert!(
        !out.contains(ADMIN_PASSWORD) && out.contains("DROP ROLE"),
        "{out}"
    );
    let (_, out, _) = cli(home.path(), &s, &["dynamic", "list"]);
    assert!(out.contains("app-db") && out.contains("postgres"), "{out}");

    // Changed through the CLI: only what is given changes, the admin
    // password (given again from its file) is never printed.
    let (code, out, err) = cli(
        home.path(),
        &s,
        &[
            "dynamic",
            "update",
            "app-db",
            "--default-ttl",
            "30m",
            "--admin-password-file",
            pw_file.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let changed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(changed["defaultTTL"], "30m", "{out}");
    assert_eq!(changed["maxTTL"], "2h", "{out}");
    assert!(!out.contains(ADMIN_PASSWORD) && !err.contains(ADMIN_PASSWORD));
    let (code, _, err) = cli(home.path(), &s, &["dynamic", "update", "app-db"]);
    assert_eq!(code, 2, "nothing to change is a usage error: {err}");
    assert!(err.contains("nothing to change"), "{err}");

    // A lease through the CLI: its user logs in with its password.
    let (code, out, err) = cli(
        home.path(),
        &s,
        &["dynamic", "lease", "create", "app-db", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let first: Value = serde_json::from_str(&out).unwrap();
    let (user1, pw1) = credential(&first);
    assert!(user1.starts_with("hush_"));
    assert!(
        connects(&pg, &user1, &pw1).await,
        "the lease's user logs in"
    );
    assert!(!connects(&pg, &user1, "wrong").await);
    let id1 = first["lease"]["id"].as_str().unwrap().to_owned();
    let (code, out, _) = cli(home.path(), &s, &["dynamic", "lease", "list", "app-db"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&id1) && out.contains(&user1) && out.contains("active"),
        "{out}"
    );
    assert!(!out.contains(&pw1));

    // Renewed up to the max TTL (2h from creation), then refused.
    let (code, out, err) = cli(
        home.path(),
        &s,
        &["dynamic", "lease", "renew", &id1, "--ttl", "2h"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = cli(
        home.path(),
        &s,
        &["dynamic", "lease", "renew", &id1, "--ttl", "2h"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("reached its max TTL"), "{err}");
    assert!(connects(&pg, &user1, &pw1).await);

    // Revoked: it can no longer log in, and the lease is gone.
    let (code, out, err) = cli(home.path(), &s, &["dynamic", "lease", "revoke", &id1]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !connects(&pg, &user1, &pw1).await,
        "a revoked user must not log in"
    );
    let r = c
        .get(&format!("/api/v1/dynamic-secrets/leases/{id1}"), &q())
        .await;
    assert_eq!(status(r), 404);

    // Expiry: a 1h lease; a replica's expiry pass before the hour revokes
    // nothing, after it revokes the user once (a second replica finds
    // nothing left to do).
    let second = lease(&c, "app-db", "1h").await;
    let (user2, pw2) = credential(&second);
    let id2 = second["lease"]["id"].as_str().unwrap().to_owned();
    assert!(connects(&pg, &user2, &pw2).await);
    let clock = ManualClock::new();
    let a = replica_on(&backend, &s, clock.clone()).await;
    let b = replica_on(&backend, &s, clock.clone()).await;
    clock.advance(Duration::from_secs(1800));
    assert_eq!(
        a.revoke_due_leases("replica-a", clock.now_ms())
            .await
            .unwrap(),
        0
    );
    assert!(connects(&pg, &user2, &pw2).await, "not expired yet");
    clock.advance(Duration::from_secs(1801));
    let (x, y) = tokio::join!(
        a.revoke_due_leases("replica-a", clock.now_ms()),
        b.revoke_due_leases("replica-b", clock.now_ms())
    );
    assert_eq!(x.unwrap() + y.unwrap(), 1, "revoked exactly once");
    assert!(
        !connects(&pg, &user2, &pw2).await,
        "an expired lease's user must not log in"
    );
    let r = c
        .get(&format!("/api/v1/dynamic-secrets/leases/{id2}"), &q())
        .await;
    assert_eq!(status(r), 404);
    let revocations = audit_events(&c, &[("action", "revoke-dynamic-lease".into())]).await;
    assert_eq!(revocations.len(), 2, "{revocations:?}");
    // Each names the definition and the database user, to match database logs.
    let named = |u: &str| {
        revocations
            .iter()
            .any(|e| e["keys"] == json!(["app-db", u]))
    };
    assert!(named(&user1) && named(&user2), "{revocations:?}");

    // A revocation that fails is recorded on the lease, shown with its
    // retry, audited, and retried with a backoff; a forced revoke forgets it.
    let mut bad = pg_definition("bad-revoke", pg.port, ADMIN_PASSWORD);
    bad["provider"]["inputs"]["revocationStatement"] =
        "DROP ROLE IF EXISTS \"{{username}}\"; SELECT 1/0".into();
    c.send(Method::POST, "/api/v1/dynamic-secrets", &bad)
        .await
        .unwrap();
    let third = lease(&c, "bad-revoke", "1h").await;
    let (user3, pw3) = credential(&third);
    let id3 = third["lease"]["id"].as_str().unwrap().to_owned();
    let (code, _, err) = cli(home.path(), &s, &["dynamic", "lease", "revoke", &id3]);
    assert_ne!(code, 0);
    assert!(
        err.contains("revoking the lease failed") && err.contains("division by zero"),
        "{err}"
    );
    let (_, out, _) = cli(home.path(), &s, &["dynamic", "lease", "list", "bad-revoke"]);
    assert!(
        out.contains("FailedDeletion") && out.contains("retry"),
        "{out}"
    );
    let shown = c
        .get(&format!("/api/v1/dynamic-secrets/leases/{id3}"), &q())
        .await
        .unwrap();
    assert_eq!(shown["lease"]["failures"], 1);
    assert_eq!(shown["lease"]["dynamicSecret"]["name"], "bad-revoke");
    // Not retried before its backoff, retried (and failing again) after it.
    let now = hush::time_ids::now_ms();
    clock.set(now + 5_000);
    assert_eq!(
        a.revoke_due_leases("replica-a", clock.now_ms())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        c.get(&format!("/api/v1/dynamic-secrets/leases/{id3}"), &q())
            .await
            .unwrap()["lease"]["failures"],
        1
    );
    clock.set(now + 31_000);
    a.revoke_due_leases("replica-a", clock.now_ms())
        .await
        .unwrap();
    assert_eq!(
        c.get(&format!("/api/v1/dynamic-secrets/leases/{id3}"), &q())
            .await
            .unwrap()["lease"]["failures"],
        2
    );
    assert!(
        connects(&pg, &user3, &pw3).await,
        "the failed revocation changed nothing"
    );
    let failures = audit_events(&c, &[("action", "revoke-dynamic-lease-failed".into())]).await;
    assert!(failures.len() >= 2, "{failures:?}");
    let (code, _, err) = cli(
        home.path(),
        &s,
        &["dynamic", "lease", "revoke", &id3, "--force"],
    );
    assert_eq!(code, 0, "{err}");
    let admin = tokio_postgres::connect(&pg.url("admin", ADMIN_PASSWORD), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(admin.1);
    admin
        .0
        .batch_execute(&format!("DROP ROLE \"{user3}\""))
        .await
        .unwrap();

    // A wrong admin password: the lease fails saying so, without either password.
    let mut wrong = pg_definition("wrong-admin", pg.port, "not-the-admin-pw");
    wrong["maxTTL"] = "1h".into();
    c.send(Method::POST, "/api/v1/dynamic-secrets", &wrong)
        .await
        .unwrap();
    let (code, _, err) = cli(
        home.path(),
        &s,
        &["dynamic", "lease", "create", "wrong-admin"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("cannot connect as the admin"), "{err}");
    assert!(!err.contains("not-the-admin-pw"), "{err}");

    // Deleting a definition revokes its leases first.
    let fourth = lease(&c, "app-db", "1h").await;
    let (user4, pw4) = credential(&fourth);
    assert!(connects(&pg, &user4, &pw4).await);
    let (code, _, err) = cli(home.path(), &s, &["dynamic", "delete", "app-db"]);
    assert_eq!(code, 0, "{err}");
    assert!(!connects(&pg, &user4, &pw4).await);

    // No password anywhere it should not be.
    let audit = c
        .get("/api/v1/hush/audit", &[("limit", "1000".into())])
        .await
        .unwrap()
        .to_string();
    assert!(audit.contains("create-dynamic-lease"));
    for secret in [ADMIN_PASSWORD, "not-the-admin-pw", &pw1, &pw2, &pw3, &pw4] {
        assert!(!audit.contains(secret), "a password in the audit log");
        assert!(!s.log().contains(secret), "a password in the server log");
    }
}
