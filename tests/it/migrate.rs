//! `hush server migrate`: a SQLite deployment copied into PostgreSQL serves the
//! same secrets, and its audit chain still verifies.

use crate::harness::*;
use crate::pg::PgDb;
use reqwest::Method;
use serde_json::json;
use std::process::Command;

async fn ua_login(url: &str, id: &str, secret: &str) -> bool {
    hush::client::ApiClient::new(url, None)
        .unwrap()
        .send(
            Method::POST,
            "/api/v1/auth/universal-auth/login",
            &json!({ "clientId": id, "clientSecret": secret }),
        )
        .await
        .is_ok()
}

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
    // Schema v2 and v3 rows: an identity in a membership with overrides, an
    // open invite, login failures, an import, a personal override.
    let made = c
        .send(
            Method::POST,
            "/api/v1/hush/identities",
            &json!({ "name": "ci-bot" }),
        )
        .await
        .unwrap();
    let (client_id, client_secret) = (
        made["clientId"].as_str().unwrap().to_owned(),
        made["clientSecret"].as_str().unwrap().to_owned(),
    );
    c.send(
        Method::POST,
        "/api/v1/hush/members",
        &json!({ "projectId": "default", "subject": "ci-bot", "role": "viewer", "overrides": ["prod:none"] }),
    )
    .await
    .unwrap();
    let invite = c
        .send(
            Method::POST,
            "/api/v1/hush/users",
            &json!({ "email": "later@example.com" }),
        )
        .await
        .unwrap();
    let anon = hush::client::ApiClient::new(&s.url, None).unwrap();
    for _ in 0..2 {
        anon.send(
            Method::POST,
            "/api/v1/hush/auth/login",
            &json!({ "email": "admin@example.com", "password": "wrong password here" }),
        )
        .await
        .unwrap_err();
    }
    let mut b = scope("staging", "/");
    b["secretValue"] = json!("from-staging");
    c.send(Method::PUT, "/api/v1/hush/secrets/IMPORTED", &b)
        .await
        .unwrap();
    c.send(
        Method::POST,
        "/api/v1/secret-imports",
        &json!({ "workspaceId": "default", "environment": "dev", "path": "/",
                 "import": { "environment": "staging", "path": "/" } }),
    )
    .await
    .unwrap();
    let mut b = scope("dev", "/");
    b["type"] = json!("personal");
    b["secretValue"] = json!("my-own");
    c.send(Method::PATCH, "/api/v3/secrets/raw/API_KEY", &b)
        .await
        .unwrap();
    // A webhook (issue 24): its sealed URL and key, and its flags.
    let hook = c
        .send(
            Method::POST,
            "/api/v1/webhooks",
            &json!({ "workspaceId": "default", "environment": "prod",
                     "webhookUrl": "https://hooks.invalid/migrated", "webhookSecretKey": "k" }),
        )
        .await
        .unwrap();
    let hook_id = hook["webhook"]["id"].as_str().unwrap().to_owned();
    // A KMS key and a ciphertext of it (issue 25): it must still decrypt.
    let kms_key = c
        .send(
            Method::POST,
            "/api/v1/kms/keys",
            &json!({ "projectId": "default", "name": "migrated-key" }),
        )
        .await
        .unwrap()["key"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let kms_ct = c
        .send(
            Method::POST,
            &format!("/api/v1/kms/keys/{kms_key}/encrypt"),
            &json!({ "plaintext": "bWlncmF0ZWQ=" }),
        )
        .await
        .unwrap()["ciphertext"]
        .as_str()
        .unwrap()
        .to_owned();
    c.send(
        Method::PATCH,
        &format!("/api/v1/webhooks/{hook_id}"),
        &json!({ "isDisabled": true }),
    )
    .await
    .unwrap();
    // Lists answered from the list cache: one row per event on both.
    for _ in 0..10 {
        c.get("/api/v3/secrets/raw", &scope_q("dev", "/"))
            .await
            .unwrap();
    }
    s.stop();
    let (sqlite_rows, sqlite_events): (i64, i64) = rusqlite::Connection::open(s.db_path())
        .unwrap()
        .query_row("SELECT COUNT(*), MAX(seq) FROM audit_events", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(sqlite_rows, sqlite_events, "one row per event");

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
    let copied: i64 = db
        .client()
        .await
        .query_one("SELECT COUNT(*) FROM audit_events", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(copied, sqlite_events, "every event is copied");

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
    // The schema v2/v3 rows came along.
    assert!(ua_login(&p.url, &client_id, &client_secret).await);
    let members = pc
        .get("/api/v1/hush/members", &[("projectId", "default".into())])
        .await
        .unwrap();
    let bot = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "ci-bot")
        .unwrap_or_else(|| panic!("{members}"))
        .clone();
    assert_eq!(bot["overrides"][0]["env"], "prod", "{members}");
    assert_eq!(bot["overrides"][0]["level"], "none", "{members}");
    let anon = hush::client::ApiClient::new(&p.url, None).unwrap();
    anon.send(
        Method::POST,
        "/api/v1/hush/users/accept-invite",
        &json!({ "inviteToken": invite["inviteToken"], "password": PASSWORD }),
    )
    .await
    .unwrap();
    let pg = db.client().await;
    let failures: i64 = pg
        .query_one("SELECT COUNT(*) FROM login_failures", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(failures, 2);
    let clients: i64 = pg
        .query_one(
            "SELECT COUNT(*) FROM audit_events WHERE client IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(clients > 0, "the audit events' client kind is copied");
    let mut q = scope_q("dev", "/");
    q.push(("include_imports", "true".into()));
    let list = pc.get("/api/v3/secrets/raw", &q).await.unwrap();
    assert!(
        list["imports"].to_string().contains("from-staging"),
        "{list}"
    );
    let mut q = scope_q("dev", "/");
    q.push(("type", "personal".into()));
    assert_eq!(
        pc.get("/api/v3/secrets/raw/API_KEY", &q).await.unwrap()["secret"]["secretValue"],
        "my-own"
    );
    let hooks = pc
        .get("/api/v1/webhooks", &[("workspaceId", "default".into())])
        .await
        .unwrap();
    let copied_hook = &hooks["webhooks"][0];
    assert_eq!(copied_hook["id"], hook_id.as_str(), "{hooks}");
    assert_eq!(copied_hook["isDisabled"], true);
    assert_eq!(copied_hook["hasSecretKey"], true);
    // Its sealed URL still opens under the migrated root key.
    let tested = pc
        .send(
            Method::POST,
            &format!("/api/v1/webhooks/{hook_id}/test"),
            &json!({}),
        )
        .await
        .unwrap();
    let error = tested["webhook"]["lastRunErrorMessage"]
        .as_str()
        .unwrap_or("");
    assert!(!error.contains("root key"), "{error}");
    let opened = pc
        .send(
            Method::POST,
            &format!("/api/v1/kms/keys/{kms_key}/decrypt"),
            &json!({ "ciphertext": kms_ct }),
        )
        .await
        .unwrap();
    assert_eq!(opened["plaintext"], "bWlncmF0ZWQ=", "{opened}");
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
