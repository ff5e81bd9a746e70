//! Issue 24, rotation: policies through the real CLI and server, and the
//! scheduler run in this process with an injected clock (never a sleep), on
//! both backends; on PostgreSQL two "replicas" race for the same due
//! rotation and exactly one new version is written.

use crate::harness::*;
use crate::pg::{on_both_backends, Backend, ROOT_KEY};
use hush::audit::AuditKey;
use hush::crypto::Key;
use hush::service::{Keyring, Service, Settings};
use hush::store::audit_flush::AuditOptions;
use hush::store::postgres::PostgresStore;
use hush::store::sqlite::SqliteStore;
use hush::store::Store;
use hush::time_ids::{Clock, ManualClock};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

on_both_backends!(
    cli_policies_and_forced_rotation,
    scheduler_runs_due_rotations_once,
    reminders_mark_unchanged_secrets_overdue,
    deleted_secrets_orphan_their_policies,
);

const DAY_MS: i64 = 86_400_000;

pub(crate) async fn start(b: &Backend) -> TestServer {
    match b {
        Backend::Sqlite => TestServer::start_with(&[], &[("HUSH_ROOT_KEY", ROOT_KEY)]).await,
        Backend::Postgres(db) => db.start(&[]).await,
    }
}

/// Runs the CLI against `s`; (exit code, stdout, stderr without the
/// warning about `--token` on the command line).
pub(crate) fn cli(home: &Path, s: &TestServer, args: &[&str]) -> (i32, String, String) {
    let mut all = args.to_vec();
    all.extend_from_slice(&[
        "--server",
        &s.url,
        "--token",
        &s.token,
        "--project",
        "default",
    ]);
    let out = hush(home, &all, None);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| !l.starts_with("hush: warning: --token"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

async fn history(s: &TestServer, key: &str) -> Vec<Value> {
    let mut q = scope_q("dev", "/");
    q.push(("reveal", "true".into()));
    s.client()
        .get(&format!("/api/v1/hush/secrets/{key}/history"), &q)
        .await
        .unwrap()["versions"]
        .as_array()
        .unwrap()
        .clone()
}

async fn cli_policies_and_forced_rotation(b: &Backend) {
    let s = start(b).await;
    let home = tempfile::tempdir().unwrap();
    let c = s.client();
    let cursor = c
        .get("/api/v1/hush/changes", &[("workspaceId", "default".into())])
        .await
        .unwrap()["cursor"]
        .as_i64()
        .unwrap();

    // Refusals are one line, with a usage-style exit, before anything is stored.
    let (code, _, err) = cli(
        home.path(),
        &s,
        &[
            "rotation",
            "create",
            "API_KEY",
            "--every",
            "30d",
            "--generate",
            "hex:4",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("out of range"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (code, _, err) = cli(
        home.path(),
        &s,
        &["rotation", "create", "API_KEY", "--cron", "61 * * * *"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("minute"), "{err}");

    let (code, out, err) = cli(
        home.path(),
        &s,
        &[
            "rotation",
            "create",
            "API_KEY",
            "--every",
            "30d",
            "--generate",
            "hex:16",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("API_KEY") && out.contains("every 30d"),
        "{out}"
    );
    let (code, _, err) = cli(
        home.path(),
        &s,
        &["rotation", "create", "API_KEY", "--every", "1d"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");
    let (code, out, _) = cli(
        home.path(),
        &s,
        &[
            "rotation",
            "create",
            "api/DB_PASS",
            "--cron",
            "0 3 * * 1",
            "--length",
            "40",
            "--alphabet",
            "alnum+urlsafe",
        ],
    );
    assert_eq!(code, 0, "{out}");

    // Forced rotations: each writes one new version through the normal write.
    let (code, out, err) = cli(home.path(), &s, &["rotate", "API_KEY"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("version 1"), "{out}");
    let (code, out, _) = cli(home.path(), &s, &["rotate", "API_KEY"]);
    assert_eq!(code, 0);
    assert!(out.contains("version 2"), "{out}");
    let versions = history(&s, "API_KEY").await;
    assert_eq!(versions.len(), 2);
    let values: Vec<&str> = versions
        .iter()
        .map(|v| v["secretValue"].as_str().unwrap())
        .collect();
    for v in &values {
        assert!(
            v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()),
            "{v}"
        );
    }
    assert_ne!(values[0], values[1]);
    assert!(versions.iter().all(|v| v["action"] == "rotate-secret"));
    // ... which rollback can undo like any other write.
    let mut body = scope("dev", "/");
    body["version"] = serde_json::json!(1);
    c.send(
        reqwest::Method::POST,
        "/api/v1/hush/secrets/API_KEY/rollback",
        &body,
    )
    .await
    .unwrap();
    assert_eq!(
        get(&c, "API_KEY", None).await.unwrap()["secretValue"],
        values[0]
    );
    // The change feed (what `hush run --watch` follows) saw the rotations.
    let page = c
        .get(
            "/api/v1/hush/changes",
            &[
                ("workspaceId", "default".into()),
                ("after", cursor.to_string()),
            ],
        )
        .await
        .unwrap();
    let actions: Vec<&str> = page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["action"].as_str())
        .collect();
    assert!(
        actions.iter().filter(|a| **a == "rotate-secret").count() >= 2,
        "{page}"
    );
    // No value in the feed, the policy or the audit log's rotation events.
    let text = page.to_string();
    assert!(!text.contains(values[0]) && !text.contains(values[1]));

    let (code, out, _) = cli(home.path(), &s, &["rotation", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("API_KEY") && out.contains("DB_PASS") && out.contains("ok"),
        "{out}"
    );
    assert!(!out.contains(values[1]));
    let (code, out, _) = cli(
        home.path(),
        &s,
        &["rotation", "show", "api/DB_PASS", "--json"],
    );
    assert_eq!(code, 0);
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["schedule"], "cron 0 3 * * 1");
    assert_eq!(shown["generator"], "chars:40:alnum+urlsafe");
    assert!(shown["lastRotatedAt"].is_null());
    let (code, _, _) = cli(home.path(), &s, &["rotate", "api/DB_PASS"]);
    assert_eq!(code, 0);
    let pass = get_at(&c, "/api", "DB_PASS").await;
    assert_eq!(pass.len(), 40);
    // Deleted by a person: a rotation does not bring it back.
    c.call(
        reqwest::Method::DELETE,
        "/api/v3/secrets/raw/DB_PASS",
        &[],
        Some(&scope("dev", "/api")),
    )
    .await
    .unwrap();
    let (code, _, err) = cli(home.path(), &s, &["rotate", "api/DB_PASS"]);
    assert_ne!(code, 0);
    assert!(err.contains("DB_PASS no longer exists"), "{err}");
    assert_eq!(
        status(
            c.get("/api/v3/secrets/raw/DB_PASS", &scope_q("dev", "/api"))
                .await
        ),
        404
    );

    let (code, _, err) = cli(home.path(), &s, &["rotation", "delete", "API_KEY"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli(home.path(), &s, &["rotate", "API_KEY"]);
    assert_ne!(code, 0);
    assert!(err.contains("no rotation policy for API_KEY"), "{err}");
    // The secret and its versions stay.
    assert_eq!(history(&s, "API_KEY").await.len(), 3);

    // Policy changes and forced rotations are audited by name, without values.
    let audit = c
        .get("/api/v1/hush/audit", &[("project", "default".into())])
        .await
        .unwrap()
        .to_string();
    for action in ["create-rotation", "delete-rotation", "rotate-secret"] {
        assert!(audit.contains(action), "{action} missing");
    }
    for v in &values {
        assert!(!audit.contains(v));
    }
}

/// When a policy (`{rotation}` as the API answers it) is next due, in Unix ms.
pub(crate) fn due_of(answer: &Value) -> i64 {
    let next = answer["rotation"]["nextRotationAt"].as_str().unwrap();
    let f = time::format_description::well_known::Rfc3339;
    (time::OffsetDateTime::parse(next, &f)
        .unwrap()
        .unix_timestamp_nanos()
        / 1_000_000) as i64
}

async fn get_at(c: &hush::client::ApiClient, path: &str, key: &str) -> String {
    c.get(&format!("/api/v3/secrets/raw/{key}"), &scope_q("dev", path))
        .await
        .unwrap()["secret"]["secretValue"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A service on the server's database, in this process: what a replica's
/// scheduler runs, driven here by a manual clock.
pub(crate) async fn replica(b: &Backend, s: &TestServer) -> Arc<Service> {
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
        clock: Arc::new(hush::time_ids::SystemClock),
        workload: Default::default(),
        sso: Default::default(),
    })
}

async fn scheduler_runs_due_rotations_once(b: &Backend) {
    let mut s = start(b).await;
    let c = s.client();
    set(&c, "TOKEN", "the-first-value").await.unwrap();
    let mut body = scope("dev", "/");
    body["secretKey"] = "TOKEN".into();
    body["every"] = "30d".into();
    body["generator"] = "base64:24".into();
    let created = c
        .send(reqwest::Method::POST, "/api/v1/hush/rotations", &body)
        .await
        .unwrap();
    let due = due_of(&created);
    if matches!(b, Backend::Sqlite) {
        // One process opens a SQLite data dir: the server steps aside.
        s.stop();
    }
    let a = replica(b, &s).await;
    let clock = ManualClock::at(due - 60_000);
    assert_eq!(
        a.run_due_rotations("replica-a", clock.now_ms())
            .await
            .unwrap(),
        0
    );
    clock.set(due);
    let ran = match b {
        Backend::Sqlite => a
            .run_due_rotations("replica-a", clock.now_ms())
            .await
            .unwrap(),
        Backend::Postgres(_) => {
            let other = replica(b, &s).await;
            let now = clock.now_ms();
            let (x, y) = tokio::join!(
                a.run_due_rotations("replica-a", now),
                other.run_due_rotations("replica-b", now)
            );
            x.unwrap() + y.unwrap()
        }
    };
    assert_eq!(ran, 1, "exactly one replica ran the due rotation");
    // Not due again until one interval later.
    clock.advance(std::time::Duration::from_millis(DAY_MS as u64));
    assert_eq!(
        a.run_due_rotations("replica-a", clock.now_ms())
            .await
            .unwrap(),
        0
    );
    clock.set(due + 30 * DAY_MS);
    assert_eq!(
        a.run_due_rotations("replica-a", clock.now_ms())
            .await
            .unwrap(),
        1
    );

    // A crash after the plan was recorded but before the write: the next
    // pass resumes the plan and writes exactly one version.
    let sql = |base: i64| {
        format!(
            "UPDATE rotations SET state = 'planned', state_data = '{{\"base\":{base}}}', \
             lease_owner = 'crashed', lease_until = 0"
        )
    };
    b.execute(&s, &sql(3)).await;
    assert_eq!(
        a.run_due_rotations("replica-a", clock.now_ms())
            .await
            .unwrap(),
        1
    );
    // A crash after the write but before its end was recorded: the resumed
    // plan finds the secret already past its base and writes nothing.
    b.execute(&s, &sql(3)).await;
    assert_eq!(
        a.run_due_rotations("replica-a", clock.now_ms())
            .await
            .unwrap(),
        1
    );
    let last_result = match b {
        Backend::Sqlite => rusqlite::Connection::open(s.db_path())
            .unwrap()
            .query_row("SELECT last_result FROM rotations", [], |r| {
                r.get::<_, String>(0)
            })
            .unwrap(),
        Backend::Postgres(db) => db
            .client()
            .await
            .query_one("SELECT last_result FROM rotations", &[])
            .await
            .unwrap()
            .get(0),
    };
    assert_eq!(last_result, "superseded");
    a.store.close().await;
    if matches!(b, Backend::Sqlite) {
        s.restart();
    }
    let c = s.client();
    let versions = history(&s, "TOKEN").await;
    let actions: Vec<&str> = versions
        .iter()
        .map(|v| v["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "create-secret",
            "rotate-secret",
            "rotate-secret",
            "rotate-secret"
        ]
    );
    let values: std::collections::BTreeSet<&str> = versions
        .iter()
        .map(|v| v["secretValue"].as_str().unwrap())
        .collect();
    assert_eq!(values.len(), 4);
    let shown = c
        .get("/api/v1/hush/rotations/TOKEN", &scope_q("dev", "/"))
        .await
        .unwrap();
    assert_eq!(shown["rotation"]["failures"], 0);
    assert_eq!(shown["rotation"]["state"], "idle");
}

/// One column of the (only) rotation row, from the database itself.
async fn policy_text(b: &Backend, s: &TestServer, column: &str) -> String {
    let sql = format!("SELECT {column} FROM rotations");
    match b {
        Backend::Sqlite => rusqlite::Connection::open(s.db_path())
            .unwrap()
            .query_row(&sql, [], |r| r.get::<_, String>(0))
            .unwrap(),
        Backend::Postgres(db) => db.client().await.query_one(&sql, &[]).await.unwrap().get(0),
    }
}

async fn reminders_mark_unchanged_secrets_overdue(b: &Backend) {
    let mut s = start(b).await;
    let c = s.client();
    let home = tempfile::tempdir().unwrap();
    set(&c, "VENDOR_KEY", "set-by-a-person").await.unwrap();
    let (code, out, err) = cli(
        home.path(),
        &s,
        &[
            "rotation",
            "create",
            "VENDOR_KEY",
            "--every",
            "7d",
            "--remind",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("reminding of VENDOR_KEY"), "{out}");
    let (code, _, err) = cli(home.path(), &s, &["rotate", "VENDOR_KEY"]);
    assert_ne!(code, 0);
    assert!(err.contains("rotated by hand"), "{err}");
    let shown = c
        .get("/api/v1/hush/rotations/VENDOR_KEY", &scope_q("dev", "/"))
        .await
        .unwrap();
    assert_eq!(shown["rotation"]["generator"], "-");
    let due = due_of(&shown);
    if matches!(b, Backend::Sqlite) {
        s.stop();
    }
    let svc = replica(b, &s).await;
    let clock = ManualClock::at(due);
    // Not changed for a whole period: overdue, audited once, looked at
    // again every hour; nothing written.
    assert_eq!(svc.run_due_rotations("r", clock.now_ms()).await.unwrap(), 1);
    assert_eq!(policy_text(b, &s, "last_result").await, "overdue");
    clock.advance(std::time::Duration::from_secs(2 * 3600));
    assert_eq!(svc.run_due_rotations("r", clock.now_ms()).await.unwrap(), 1);
    assert_eq!(policy_text(b, &s, "last_result").await, "overdue");
    let overdue_events = b
        .query_i64(
            &s,
            "SELECT COUNT(*) FROM audit_events WHERE action = 'rotation-overdue'",
        )
        .await;
    assert_eq!(overdue_events, 1);
    // A person rotates it: the reminder moves one period on from the change.
    let ctx = hush::service::Ctx::system();
    let scope = svc
        .scope(&ctx, "default", "dev", "/", hush::service::Action::Write)
        .await
        .unwrap();
    let written = svc
        .write_secret(
            &ctx,
            &scope,
            hush::service::secrets::WriteInput {
                key: hush::secret::SecretKey::parse("VENDOR_KEY").unwrap(),
                value: Some(hush::secret::SecretValue::new("rotated-by-hand".into())),
                comment: None,
                tags: None,
                mode: hush::service::secrets::WriteMode::Update,
                if_version: None,
                event: "update-secret",
            },
        )
        .await
        .unwrap();
    b.execute(&s, "UPDATE rotations SET next_at = 0").await;
    let now = hush::time_ids::now_ms() + 3_600_000;
    // (On PostgreSQL the running server's own scheduler may take it first:
    // the outcome is the same.)
    svc.run_due_rotations("r", now).await.unwrap();
    assert_eq!(policy_text(b, &s, "last_result").await, "ok");
    let next_at = b.query_i64(&s, "SELECT next_at FROM rotations").await;
    assert_eq!(next_at, written.secret.updated_at + 7 * DAY_MS);
    svc.store.close().await;
    if matches!(b, Backend::Sqlite) {
        s.restart();
    }
    // Only the person's two versions: a reminder never writes.
    assert_eq!(history(&s, "VENDOR_KEY").await.len(), 2);
}

async fn delete_secret(s: &TestServer, key: &str) {
    s.client()
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v3/secrets/raw/{key}"),
            &scope("dev", "/"),
        )
        .await
        .unwrap();
}

/// Rotation leftovers: a policy whose secret was deleted (after it rotated
/// it; a reminder's at any time) is marked `orphaned` with the reason,
/// audited once, re-checked hourly instead of failing with backoff forever,
/// and says so in `hush rotation list` and `hush rotate`.
async fn deleted_secrets_orphan_their_policies(b: &Backend) {
    let mut s = start(b).await;
    let c = s.client();
    let home = tempfile::tempdir().unwrap();
    set(&c, "TOKEN", "first").await.unwrap();
    set(&c, "VENDOR_KEY", "by-hand").await.unwrap();
    for (key, extra) in [("TOKEN", "generate"), ("VENDOR_KEY", "remind")] {
        let mut body = scope("dev", "/");
        body["secretKey"] = key.into();
        body["every"] = "30d".into();
        if extra == "remind" {
            body["remind"] = true.into();
        } else {
            body["generator"] = "hex:16".into();
        }
        c.send(reqwest::Method::POST, "/api/v1/hush/rotations", &body)
            .await
            .unwrap();
    }
    let (code, _, err) = cli(home.path(), &s, &["rotate", "TOKEN"]);
    assert_eq!(code, 0, "{err}");
    delete_secret(&s, "TOKEN").await;
    delete_secret(&s, "VENDOR_KEY").await;
    if matches!(b, Backend::Sqlite) {
        s.stop();
    }
    let svc = replica(b, &s).await;
    let clock = ManualClock::at(hush::time_ids::now_ms() + 40 * DAY_MS);
    svc.run_due_rotations("r", clock.now_ms()).await.unwrap();
    let orphaned =
        |n| format!("SELECT COUNT(*) FROM rotations WHERE last_result = 'orphaned' AND {n}");
    assert_eq!(b.query_i64(&s, &orphaned("1 = 1")).await, 2);
    let events = "SELECT COUNT(*) FROM audit_events WHERE action = 'rotation-orphaned'";
    assert_eq!(b.query_i64(&s, events).await, 2);
    // Looked at again an hour on (not before): still orphaned, not audited
    // again, nothing written.
    clock.advance(std::time::Duration::from_secs(1800));
    assert_eq!(svc.run_due_rotations("r", clock.now_ms()).await.unwrap(), 0);
    clock.advance(std::time::Duration::from_secs(3600));
    assert_eq!(svc.run_due_rotations("r", clock.now_ms()).await.unwrap(), 2);
    assert_eq!(b.query_i64(&s, events).await, 2);
    assert_eq!(b.query_i64(&s, &orphaned("failures >= 0")).await, 2);
    svc.store.close().await;
    if matches!(b, Backend::Sqlite) {
        s.restart();
    }
    let (code, out, err) = cli(home.path(), &s, &["rotation", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("orphaned") && out.contains("no longer exists"),
        "{out}"
    );
    let (code, _, err) = cli(home.path(), &s, &["rotate", "TOKEN"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("no longer exists"), "{err}");
    // Deleting the policy is the way out.
    let (code, _, err) = cli(home.path(), &s, &["rotation", "delete", "TOKEN"]);
    assert_eq!(code, 0, "{err}");
}

async fn rotate(
    client: &hush::client::ApiClient,
    revoke: bool,
) -> Result<Value, hush::client::ClientError> {
    let mut body = scope("dev", "/");
    body["revokePrevious"] = revoke.into();
    client
        .send(
            reqwest::Method::POST,
            "/api/v1/hush/rotations/DB_PASSWORD/rotate",
            &body,
        )
        .await
}

/// `hush rotate --revoke-previous` of a database policy cuts off whoever
/// still uses the previous credential: it takes project admin, like
/// creating the policy; a plain forced cycle stays a writer's.
#[tokio::test]
async fn revoking_the_previous_credential_takes_project_admin() {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    set(&c, "PG_ADMIN", "postgres://rotator:pw@127.0.0.1:1/postgres")
        .await
        .unwrap();
    set(&c, "DB_PASSWORD", "old").await.unwrap();
    let mut body = scope("dev", "/");
    body["secretKey"] = "DB_PASSWORD".into();
    body["every"] = "30d".into();
    body["generator"] = "chars:32:alnum".into();
    body["postgres"] =
        serde_json::json!({ "adminSecret": "PG_ADMIN", "users": ["app_a", "app_b"] });
    c.send(reqwest::Method::POST, "/api/v1/hush/rotations", &body)
        .await
        .unwrap();
    let dev = user_session(&s, "dev@example.com", Some("developer"), &[]).await;
    let dc = hush::client::ApiClient::new(&s.url, Some(zeroize::Zeroizing::new(dev))).unwrap();
    let e = rotate(&dc, true).await.unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    // A writer's plain cycle is allowed (here it fails: no database there).
    let e = rotate(&dc, false).await.unwrap_err();
    assert_ne!(e.status(), Some(403), "{e}");
    let e = rotate(&c, true).await.unwrap_err();
    assert_ne!(e.status(), Some(403), "{e}");
    let denied = audit_events(&c, &[("action", "permission-denied".into())]).await;
    assert!(!denied.is_empty());
}
