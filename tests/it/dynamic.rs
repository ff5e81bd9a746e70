//! Issue 24, dynamic secrets: what holds without a database to make users
//! in — bounds and validation through the API, the admin password never
//! read back, and a lease's claim taken by exactly one replica on both
//! backends. Providers are proven in `dynamic_pg`, `dynamic_mysql` and
//! `dynamic_redis`; `hush run --dynamic` in `dynamic_run`.

use crate::harness::*;
use crate::pg::{on_both_backends, Backend, ROOT_KEY};
use crate::rotation::start;
use hush::audit::AuditKey;
use hush::crypto::Key;
use hush::service::{Keyring, Service, Settings};
use hush::store::audit_flush::AuditOptions;
use hush::store::dynamic::{DynamicRow, LeaseRow, ACTIVE};
use hush::store::postgres::PostgresStore;
use hush::store::sqlite::SqliteStore;
use hush::store::Store;
use hush::time_ids::Clock;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

on_both_backends!(a_lease_is_claimed_by_one_replica, definitions_are_bounded);

/// A service on the server's database, in this process, on `clock`: what
/// another replica's expiry job runs.
pub(crate) async fn replica_on(b: &Backend, s: &TestServer, clock: Arc<dyn Clock>) -> Arc<Service> {
    let root = Key::parse_text(ROOT_KEY).unwrap();
    let audit_key = AuditKey::from_root(&root);
    let store: Arc<dyn Store> = match b {
        Backend::Sqlite => Arc::new(
            SqliteStore::open(
                &s.db_path(),
                AuditOptions::new(audit_key, Duration::from_millis(5)),
            )
            .unwrap(),
        ),
        Backend::Postgres(db) => {
            Arc::new(PostgresStore::connect(&db.url, 4, audit_key).await.unwrap())
        }
    };
    Arc::new(Service {
        store,
        keys: Keyring::new(root),
        settings: Settings::default(),
        write_locks: Default::default(),
        refusals: Default::default(),
        clock,
        workload: Default::default(),
        sso: Default::default(),
    })
}

/// A `POST /api/v1/dynamic-secrets` body for a PostgreSQL definition.
pub(crate) fn pg_definition(name: &str, port: u16, password: &str) -> Value {
    json!({
        "name": name,
        "projectSlug": "default",
        "environmentSlug": "dev",
        "path": "/",
        "defaultTTL": "1h",
        "maxTTL": "2h",
        "provider": { "type": "sql-database", "inputs": {
            "client": "postgres", "host": "127.0.0.1", "port": port,
            "database": "postgres", "username": "admin", "password": password,
            "sslMode": "disable",
            "creationStatement": "CREATE ROLE \"{{username}}\" LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
            "revocationStatement": "DROP ROLE IF EXISTS \"{{username}}\";",
            "renewStatement": "ALTER ROLE \"{{username}}\" VALID UNTIL '{{expiration}}';"
        }}
    })
}

async fn definitions_are_bounded(b: &Backend) {
    let s = start(b).await;
    let c = s.client();
    let canary = "canary-admin-pw-51b7e2";
    let created = c
        .send(
            Method::POST,
            "/api/v1/dynamic-secrets",
            &pg_definition("app-db", 5, canary),
        )
        .await
        .unwrap();
    assert_eq!(created["dynamicSecret"]["type"], "sql-database");
    assert_eq!(created["dynamicSecret"]["defaultTTL"], "1h");
    assert_eq!(
        created["dynamicSecret"]["outputKeys"]["username"],
        "DB_USERNAME"
    );
    let q = [
        ("projectSlug", "default".to_owned()),
        ("environmentSlug", "dev".to_owned()),
        ("path", "/".to_owned()),
    ];
    let shown = c.get("/api/v1/dynamic-secrets/app-db", &q).await.unwrap();
    let listed = c.get("/api/v1/dynamic-secrets", &q).await.unwrap();
    assert_eq!(listed["dynamicSecrets"].as_array().unwrap().len(), 1);
    let audit = c.get("/api/v1/hush/audit", &[]).await.unwrap();
    for text in [
        created.to_string(),
        shown.to_string(),
        listed.to_string(),
        audit.to_string(),
        s.log(),
    ] {
        assert!(!text.contains(canary), "the admin password leaked: {text}");
    }
    assert!(audit.to_string().contains("create-dynamic-secret"));

    // Duplicates, bad names, TTLs, statements and placeholders are refused
    // with a status and a sentence, never a 500.
    let refused = |mut body: Value, edit: &dyn Fn(&mut Value)| {
        edit(&mut body);
        body
    };
    let cases: Vec<(Value, u16, &str)> = vec![
        (pg_definition("app-db", 5, "x"), 400, "already exists"),
        (
            pg_definition("bad name", 5, "x"),
            422,
            "invalid dynamic secret name",
        ),
        (
            refused(pg_definition("t1", 5, "x"), &|b| {
                b["defaultTTL"] = "10s".into()
            }),
            422,
            "out of bounds",
        ),
        (
            refused(pg_definition("t2", 5, "x"), &|b| b["maxTTL"] = "30m".into()),
            422,
            "longer than maxTTL",
        ),
        (
            refused(pg_definition("t3", 5, "x"), &|b| {
                b["provider"]["inputs"]["creationStatement"] = "CREATE ROLE {{user}}".into()
            }),
            422,
            "unknown placeholder",
        ),
        (
            refused(pg_definition("t4", 5, "x"), &|b| {
                b["provider"]["inputs"]["creationStatement"] = "x{{username}}".repeat(500).into()
            }),
            422,
            "longer than 4096",
        ),
        (
            refused(pg_definition("t5", 5, "x"), &|b| {
                b["provider"]["type"] = "aws-iam".into()
            }),
            422,
            "unsupported provider type",
        ),
        (
            refused(pg_definition("t6", 5, "x"), &|b| {
                b["provider"]["inputs"]["host"] = "db;drop".into()
            }),
            422,
            "invalid host",
        ),
        (
            refused(pg_definition("t7", 5, "x"), &|b| {
                b["provider"]["inputs"]["ca"] = "-----BEGIN CERTIFICATE-----".into()
            }),
            422,
            "not supported yet",
        ),
    ];
    for (body, code, says) in cases {
        let r = c.send(Method::POST, "/api/v1/dynamic-secrets", &body).await;
        let err = r.as_ref().err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(status(r), code, "{body}: {err}");
        assert!(err.contains(says), "{err}");
    }

    // A lease asked for longer than the max TTL, of a missing definition,
    // or a lease id that is not there.
    let lease = |name: &str, ttl: &str| {
        json!({"dynamicSecretName": name, "projectSlug": "default",
            "environmentSlug": "dev", "path": "/", "ttl": ttl})
    };
    let r = c
        .send(
            Method::POST,
            "/api/v1/dynamic-secrets/leases",
            &lease("app-db", "3h"),
        )
        .await;
    assert_eq!(status(r), 400);
    let r = c
        .send(
            Method::POST,
            "/api/v1/dynamic-secrets/leases",
            &lease("nope", "1h"),
        )
        .await;
    assert_eq!(status(r), 404);
    let r = c.get("/api/v1/dynamic-secrets/leases/nope", &q).await;
    assert_eq!(status(r), 404);
    // No database there: the lease fails with a 503 saying what to check,
    // no password in it, and no lease is left behind.
    let r = c
        .send(
            Method::POST,
            "/api/v1/dynamic-secrets/leases",
            &lease("app-db", "1h"),
        )
        .await;
    let err = r.as_ref().err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(status(r), 503, "{err}");
    assert!(err.contains("creating a lease of app-db failed"), "{err}");
    assert!(!err.contains(canary));
    let leases = c
        .get("/api/v1/dynamic-secrets/app-db/leases", &q)
        .await
        .unwrap();
    assert_eq!(leases["leases"], json!([]), "{leases}");

    // Changed (Infisical's PATCH with `data`): TTLs and name; a taken name,
    // a bad TTL pair or a usernameTemplate are refused.
    let patch = |data: Value| {
        json!({"projectSlug": "default", "environmentSlug": "dev",
        "path": "/", "data": data})
    };
    c.send(
        Method::POST,
        "/api/v1/dynamic-secrets",
        &pg_definition("other", 5, "x"),
    )
    .await
    .unwrap();
    for (data, code) in [
        (json!({"newName": "other"}), 400),
        (json!({"defaultTTL": "3h"}), 422),
        (json!({"usernameTemplate": "{{random}}"}), 422),
    ] {
        let r = c
            .send(
                Method::PATCH,
                "/api/v1/dynamic-secrets/app-db",
                &patch(data.clone()),
            )
            .await;
        assert_eq!(status(r), code, "{data}");
    }
    let changed = c
        .send(
            Method::PATCH,
            "/api/v1/dynamic-secrets/app-db",
            &patch(json!({"defaultTTL": "30m", "newName": "app-db2",
                "inputs": {"host": "localhost"}})),
        )
        .await
        .unwrap();
    assert_eq!(changed["dynamicSecret"]["defaultTTL"], "30m");
    assert_eq!(changed["dynamicSecret"]["name"], "app-db2");
    assert_eq!(changed["dynamicSecret"]["inputs"]["host"], "localhost");
    assert_eq!(
        changed["dynamicSecret"]["inputs"]["creationStatement"],
        pg_definition("x", 5, "x")["provider"]["inputs"]["creationStatement"]
    );
    assert!(!changed.to_string().contains(canary));

    // Deleting it (no leases) and it is gone.
    c.call(
        Method::DELETE,
        "/api/v1/dynamic-secrets/app-db2",
        &[],
        Some(&json!({
        "projectSlug": "default", "environmentSlug": "dev", "path": "/"})),
    )
    .await
    .unwrap();
    assert_eq!(
        status(c.get("/api/v1/dynamic-secrets/app-db2", &q).await),
        404
    );
}

async fn a_lease_is_claimed_by_one_replica(b: &Backend) {
    let mut s = start(b).await;
    let clock = hush::time_ids::ManualClock::new();
    let a = replica_on(b, &s, clock.clone()).await;
    // One process opens a SQLite data dir: the server steps aside, and the
    // two "replicas" share the one store (its writer serialises them).
    let z = match b {
        Backend::Sqlite => {
            s.stop();
            a.clone()
        }
        Backend::Postgres(_) => replica_on(b, &s, clock.clone()).await,
    };
    let project = a.store.project("default").await.unwrap().unwrap();
    let env = a
        .store
        .environments(&project.id)
        .await
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    let def = DynamicRow {
        id: "dyn-1".into(),
        project_id: project.id.clone(),
        env_id: env.id.clone(),
        path: "/".into(),
        name: "claims".into(),
        provider: "redis".into(),
        config: "{}".into(),
        key_id: 1,
        secret_ct: vec![1, 2, 3],
        default_ttl: 3600,
        max_ttl: 3600,
        created_at: 0,
        updated_at: 0,
        created_by: "test".into(),
    };
    let event = |action: &str| hush::service::Ctx::system().event(action);
    a.store
        .dynamic()
        .create_dynamic(def, event("create-dynamic-secret"))
        .await
        .unwrap();
    let now = clock.now_ms();
    let lease = LeaseRow {
        id: "lease-1".into(),
        dynamic_id: "dyn-1".into(),
        project_id: project.id.clone(),
        username: "hush_aaaaaaaaaaaaaaaaaaaa".into(),
        expire_at: now + 1000,
        status: ACTIVE.into(),
        status_details: None,
        failures: 0,
        next_attempt_at: 0,
        claim_owner: None,
        claim_until: 0,
        version: 1,
        created_at: now,
        updated_at: now,
        created_by: "test".into(),
    };
    a.store
        .dynamic()
        .create_lease(lease, event("create-dynamic-lease"))
        .await
        .unwrap();
    // Not due yet: nobody may claim it (but a forced claim could).
    assert!(a
        .store
        .dynamic()
        .due_leases(now, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(a
        .store
        .dynamic()
        .claim_lease("lease-1", "a", now, now + 60_000, false)
        .await
        .unwrap()
        .is_none());
    // Expired: two replicas race, one wins.
    let later = now + 2000;
    assert_eq!(
        a.store.dynamic().due_leases(later, 10).await.unwrap(),
        ["lease-1"]
    );
    let (x, y) = tokio::join!(
        a.store
            .dynamic()
            .claim_lease("lease-1", "a", later, later + 60_000, false),
        z.store
            .dynamic()
            .claim_lease("lease-1", "z", later, later + 60_000, false),
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert!(x.is_some() != y.is_some(), "exactly one replica claims it");
    let (winner, loser) = if x.is_some() { ("a", "z") } else { ("z", "a") };
    assert_eq!(x.or(y).unwrap().status, "revoking");
    // The loser can neither finish nor fail it; the winner records a failure.
    assert!(!a
        .store
        .dynamic()
        .lease_revoked("lease-1", loser, event("revoke-dynamic-lease"))
        .await
        .unwrap());
    assert!(a
        .store
        .dynamic()
        .lease_revoke_failed(
            "lease-1",
            winner,
            "refused",
            later + 30_000,
            later,
            event("revoke-dynamic-lease-failed")
        )
        .await
        .unwrap());
    let row = a.store.dynamic().lease("lease-1").await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.failures), ("revoke-failed", 1));
    assert_eq!(row.status_details.as_deref(), Some("refused"));
    // Retried only once its backoff passed; renewal of a failing lease is refused.
    assert!(a
        .store
        .dynamic()
        .due_leases(later + 1000, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(!a
        .store
        .dynamic()
        .renew_lease(
            "lease-1",
            later + 99_000,
            later,
            event("renew-dynamic-lease")
        )
        .await
        .unwrap());
    let retry = later + 30_000;
    let claimed = z
        .store
        .dynamic()
        .claim_lease("lease-1", "z", retry, retry + 60_000, false)
        .await
        .unwrap();
    assert!(claimed.is_some());
    assert!(z
        .store
        .dynamic()
        .lease_revoked("lease-1", "z", event("revoke-dynamic-lease"))
        .await
        .unwrap());
    assert!(a.store.dynamic().lease("lease-1").await.unwrap().is_none());
    assert!(a
        .store
        .dynamic()
        .due_leases(retry + 999_999, 10)
        .await
        .unwrap()
        .is_empty());
}
