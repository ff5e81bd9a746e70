//! Store behaviours that must hold on every backend. Each scenario runs once on
//! SQLite and once on PostgreSQL (skipped, with a note, without
//! `TEST_DATABASE_URL`).

use crate::harness::*;
use crate::pg::{on_both_backends, Backend};
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    versions_history_rollback,
    max_versions_purges_oldest,
    concurrent_if_version_writers,
    conflict_names_current_version,
    soft_delete_restore,
    explicit_purge,
    audit_chain_verifies_and_names_tampering,
    bootstrap_once_and_token_revocation,
    restart_keeps_everything,
    identities_tokens_overrides_and_lockout,
    imports_personal_rename_batch_folders,
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
    let events = audit_events(&c, &[("key", "aud".into()), ("limit", "100".into())]).await;
    // The key filter matches case-insensitively on both backends.
    assert_eq!(events.len(), 3, "{events:?}");
    assert_audit_chain_ok(&c).await;
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
    assert_audit_chain_ok(&c).await;
}

// ---- identities, tokens, memberships, lockout (schema v2) ----

fn api(url: &str, token: &str) -> hush::client::ApiClient {
    hush::client::ApiClient::new(url, Some(zeroize::Zeroizing::new(token.to_owned()))).unwrap()
}

fn anon(url: &str) -> hush::client::ApiClient {
    hush::client::ApiClient::new(url, None).unwrap()
}

async fn put_at(c: &hush::client::ApiClient, env: &str, path: &str, key: &str, value: &str) {
    let mut body = scope(env, path);
    body["secretValue"] = json!(value);
    c.send(Method::PUT, &format!("/api/v1/hush/secrets/{key}"), &body)
        .await
        .unwrap_or_else(|e| panic!("put {env}:{path}/{key}: {e}"));
}

async fn read_at(
    c: &hush::client::ApiClient,
    env: &str,
    path: &str,
    key: &str,
) -> Result<serde_json::Value, hush::client::ClientError> {
    c.get(&format!("/api/v3/secrets/raw/{key}"), &scope_q(env, path))
        .await
        .map(|r| r["secret"].clone())
}

async fn ua_login(url: &str, id: &str, secret: &str) -> Result<String, u16> {
    anon(url)
        .send(
            Method::POST,
            "/api/v1/auth/universal-auth/login",
            &json!({ "clientId": id, "clientSecret": secret }),
        )
        .await
        .map(|r| r["accessToken"].as_str().unwrap().to_owned())
        .map_err(|e| e.status().unwrap_or(0))
}

async fn password_login(url: &str, email: &str, password: &str) -> Result<String, u16> {
    anon(url)
        .send(
            Method::POST,
            "/api/v1/hush/auth/login",
            &json!({ "email": email, "password": password }),
        )
        .await
        .map(|r| r["accessToken"].as_str().unwrap().to_owned())
        .map_err(|e| e.status().unwrap_or(0))
}

async fn identities_tokens_overrides_and_lockout(b: &Backend) {
    let s = b.start(&[]).await;
    let admin = s.client();
    put_at(&admin, "dev", "/api", "KEY", "dev-api").await;
    put_at(&admin, "dev", "/db", "KEY", "dev-db").await;
    put_at(&admin, "prod", "/api", "KEY", "prod-api").await;

    // An identity, a viewer with two overrides: writes in dev /api, nothing in prod.
    let made = admin
        .send(
            Method::POST,
            "/api/v1/hush/identities",
            &json!({ "name": "ci-bot", "accessTokenTTL": 600, "accessTokenMaxTTL": 3600 }),
        )
        .await
        .unwrap();
    let (id, first_secret) = (
        made["clientId"].as_str().unwrap().to_owned(),
        made["clientSecret"].as_str().unwrap().to_owned(),
    );
    let dup = admin
        .send(
            Method::POST,
            "/api/v1/hush/identities",
            &json!({ "name": "ci-bot" }),
        )
        .await;
    assert_eq!(status(dup), 400, "identity names are unique");
    let listed = admin.get("/api/v1/hush/identities", &[]).await.unwrap();
    assert!(listed.to_string().contains("ci-bot"), "{listed}");
    admin
        .send(
            Method::POST,
            "/api/v1/hush/members",
            &json!({ "projectId": "default", "subject": "ci-bot", "role": "viewer",
                     "overrides": ["dev:/api/**:write", "prod:none"] }),
        )
        .await
        .unwrap();
    let members = admin
        .get("/api/v1/hush/members", &[("projectId", "default".into())])
        .await
        .unwrap();
    let bot = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "ci-bot")
        .unwrap_or_else(|| panic!("ci-bot is a member: {members}"))
        .clone();
    assert_eq!(bot["role"], "viewer");
    assert_eq!(bot["overrides"].as_array().unwrap().len(), 2, "{bot}");

    let token = ua_login(&s.url, &id, &first_secret).await.unwrap();
    let bot = api(&s.url, &token);
    let me = bot.get("/api/v1/hush/auth/whoami", &[]).await.unwrap();
    assert_eq!(me["name"], "ci-bot", "{me}");
    assert_eq!(
        read_at(&bot, "dev", "/db", "KEY").await.unwrap()["secretValue"],
        "dev-db"
    );
    let mut w = scope("dev", "/api");
    w["secretValue"] = json!("written-by-bot");
    bot.send(Method::PUT, "/api/v1/hush/secrets/KEY", &w)
        .await
        .expect("the override grants writes in dev /api");
    let mut w = scope("dev", "/db");
    w["secretValue"] = json!("nope");
    assert_eq!(
        status(bot.send(Method::PUT, "/api/v1/hush/secrets/KEY", &w).await),
        403,
        "a viewer elsewhere"
    );
    assert_eq!(
        status(read_at(&bot, "prod", "/api", "KEY").await),
        403,
        "prod:none"
    );

    // A second client secret; the first one revoked.
    let second = admin
        .send(
            Method::POST,
            &format!("/api/v1/hush/identities/{id}/client-secrets"),
            &json!({}),
        )
        .await
        .unwrap();
    let second_secret = second["clientSecret"].as_str().unwrap().to_owned();
    let secrets = admin
        .get(&format!("/api/v1/hush/identities/{id}/client-secrets"), &[])
        .await
        .unwrap();
    let list = secrets["clientSecretData"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "{secrets}");
    let first_id = list
        .iter()
        .find(|x| first_secret.starts_with(x["prefix"].as_str().unwrap()))
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("{secrets}"));
    admin
        .send(
            Method::DELETE,
            &format!("/api/v1/hush/identities/{id}/client-secrets/{first_id}"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(ua_login(&s.url, &id, &first_secret).await, Err(401));
    // The access token the revoked secret issued is revoked with it.
    assert_eq!(status(bot.get("/api/v1/hush/auth/whoami", &[]).await), 401);
    let bot = api(
        &s.url,
        &ua_login(&s.url, &id, &second_secret).await.unwrap(),
    );

    // Removing the membership takes the project away from the identity.
    admin
        .send(
            Method::DELETE,
            "/api/v1/hush/members",
            &json!({ "projectId": "default", "subject": "ci-bot" }),
        )
        .await
        .unwrap();
    // (A non-member is not told the project exists.)
    assert_eq!(status(read_at(&bot, "dev", "/db", "KEY").await), 404);

    // A token with a uses limit admits exactly that many requests, even concurrently.
    let limited = admin
        .send(
            Method::POST,
            "/api/v1/hush/identities",
            &json!({ "name": "limited", "accessTokenNumUsesLimit": 4 }),
        )
        .await
        .unwrap();
    let limited_token = ua_login(
        &s.url,
        limited["clientId"].as_str().unwrap(),
        limited["clientSecret"].as_str().unwrap(),
    )
    .await
    .unwrap();
    let tries: Vec<_> = (0..10)
        .map(|_| {
            let c = api(&s.url, &limited_token);
            tokio::spawn(async move { status(c.get("/api/v1/hush/auth/whoami", &[]).await) })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tries {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|st| **st == 200).count(),
        4,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|st| *st == 200 || *st == 401),
        "{statuses:?}"
    );

    // A service token: read-only, dev /api/** only; listed; then revoked.
    let t = admin
        .send(
            Method::POST,
            "/api/v1/hush/tokens",
            &json!({ "projectId": "default", "name": "deploy",
                     "scopes": [{ "environment": "dev", "secretPath": "/api/**" }],
                     "write": false, "ttl": 3600 }),
        )
        .await
        .unwrap();
    let service = api(&s.url, t["token"].as_str().unwrap());
    assert_eq!(
        read_at(&service, "dev", "/api", "KEY").await.unwrap()["secretValue"],
        "written-by-bot"
    );
    assert_eq!(status(read_at(&service, "dev", "/db", "KEY").await), 403);
    assert_eq!(status(read_at(&service, "prod", "/api", "KEY").await), 403);
    let mut w = scope("dev", "/api");
    w["secretValue"] = json!("nope");
    assert_eq!(
        status(
            service
                .send(Method::PUT, "/api/v1/hush/secrets/KEY", &w)
                .await
        ),
        403
    );
    let tokens = admin
        .get("/api/v1/hush/tokens", &[("projectId", "default".into())])
        .await
        .unwrap();
    let deploy = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "deploy")
        .unwrap_or_else(|| panic!("{tokens}"))
        .clone();
    let token_id = deploy["id"].as_str().unwrap();
    admin
        .send(
            Method::DELETE,
            &format!("/api/v1/hush/tokens/{token_id}?projectId=default"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(status(read_at(&service, "dev", "/api", "KEY").await), 401);

    // An invited user logs in; five failures lock the account, even with the
    // right password, and (on PostgreSQL) on every replica.
    let invite = admin
        .send(
            Method::POST,
            "/api/v1/hush/users",
            &json!({ "email": "dev@example.com" }),
        )
        .await
        .unwrap();
    anon(&s.url)
        .send(
            Method::POST,
            "/api/v1/hush/users/accept-invite",
            &json!({ "inviteToken": invite["inviteToken"], "password": PASSWORD }),
        )
        .await
        .unwrap();
    let reuse = anon(&s.url)
        .send(
            Method::POST,
            "/api/v1/hush/users/accept-invite",
            &json!({ "inviteToken": invite["inviteToken"], "password": "another password 123" }),
        )
        .await;
    assert!(status(reuse) >= 400, "an invite works once");
    let users = admin.get("/api/v1/hush/users", &[]).await.unwrap();
    assert!(users.to_string().contains("dev@example.com"), "{users}");
    assert!(password_login(&s.url, "dev@example.com", PASSWORD)
        .await
        .is_ok());
    for _ in 0..5 {
        assert_eq!(
            password_login(&s.url, "dev@example.com", "wrong password here").await,
            Err(401)
        );
    }
    assert_eq!(
        password_login(&s.url, "dev@example.com", PASSWORD).await,
        Err(429)
    );
    if let Backend::Postgres(db) = b {
        let replica = db.replica(&s);
        assert_eq!(
            password_login(&replica.url, "dev@example.com", PASSWORD).await,
            Err(429),
            "the lockout is shared by the replicas"
        );
    }
    let audit = admin
        .get(
            "/api/v1/hush/audit",
            &[("action", "login".into()), ("limit", "100".into())],
        )
        .await
        .unwrap();
    assert!(audit.to_string().contains("\"locked\""), "{audit}");
    assert!(!audit.to_string().contains("wrong password here"));
    assert_audit_chain_ok(&admin).await;
}

// ---- imports, personal overrides, rename, batch, folders (schema v3) ----

async fn imports_personal_rename_batch_folders(b: &Backend) {
    let s = b.start(&[]).await;
    let admin = s.client();
    put_at(&admin, "staging", "/shared", "SHARED", "from-staging").await;
    put_at(&admin, "staging", "/shared", "LOCAL", "staging-loses").await;
    put_at(&admin, "prod", "/", "PROD_ONLY", "from-prod").await;
    put_at(&admin, "dev", "/", "LOCAL", "local-wins").await;
    put_at(&admin, "dev", "/", "DB_PASSWORD", "shared-1").await;
    put_at(&admin, "dev", "/", "DB_PASSWORD", "shared-2").await;

    // Imports: created in order, listed, visible in the folder's list, deletable.
    let mut ids = Vec::new();
    for (env, path) in [("staging", "/shared"), ("prod", "/")] {
        let r = admin
            .send(
                Method::POST,
                "/api/v1/secret-imports",
                &json!({ "workspaceId": "default", "environment": "dev", "path": "/",
                         "import": { "environment": env, "path": path } }),
            )
            .await
            .unwrap();
        ids.push(r["secretImport"]["id"].as_str().unwrap().to_owned());
    }
    let again = admin
        .send(
            Method::POST,
            "/api/v1/secret-imports",
            &json!({ "workspaceId": "default", "environment": "dev", "path": "/",
                     "import": { "environment": "prod", "path": "/" } }),
        )
        .await;
    assert_eq!(status(again), 400, "the same import twice");
    let mut q = scope_q("dev", "/");
    q.push(("path", "/".into()));
    let listed = admin.get("/api/v1/secret-imports", &q).await.unwrap();
    let positions: Vec<i64> = listed["secretImports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, [1, 2], "{listed}");
    let mut q = scope_q("dev", "/");
    q.push(("include_imports", "true".into()));
    let list = admin.get("/api/v3/secrets/raw", &q).await.unwrap();
    let text = list["imports"].to_string();
    assert!(
        text.contains("from-staging") && text.contains("from-prod"),
        "{list}"
    );
    let local = list["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["secretKey"] == "LOCAL")
        .unwrap()
        .clone();
    assert_eq!(local["secretValue"], "local-wins");
    // hush's `fields=key,value`: the same list, each secret only its key and
    // value (what `hush run` asks for), imports included.
    let mut pairs_q = q.clone();
    pairs_q.push(("fields", "key,value".into()));
    let pairs = admin.get("/api/v3/secrets/raw", &pairs_q).await.unwrap();
    let shape = |list: &serde_json::Value| -> Vec<(String, String)> {
        let mut all: Vec<&serde_json::Value> = list["secrets"].as_array().unwrap().iter().collect();
        for import in list["imports"].as_array().unwrap() {
            all.extend(import["secrets"].as_array().unwrap());
        }
        all.iter()
            .map(|x| {
                (
                    x["secretKey"].as_str().unwrap().to_owned(),
                    x["secretValue"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(shape(&pairs), shape(&list), "{pairs}");
    for secret in pairs["secrets"].as_array().unwrap() {
        assert_eq!(secret.as_object().unwrap().len(), 2, "{secret}");
    }
    let mut bad_q = q.clone();
    bad_q.push(("fields", "key".into()));
    let bad = admin.get("/api/v3/secrets/raw", &bad_q).await;
    assert_eq!(status(bad), 422);
    admin
        .send(
            Method::DELETE,
            &format!("/api/v1/secret-imports/{}", ids[1]),
            &json!({ "workspaceId": "default", "environment": "dev", "path": "/" }),
        )
        .await
        .unwrap();
    let gone = admin
        .send(
            Method::DELETE,
            &format!("/api/v1/secret-imports/{}", ids[1]),
            &json!({ "workspaceId": "default", "environment": "dev", "path": "/" }),
        )
        .await;
    assert_eq!(status(gone), 404);
    let list = admin.get("/api/v3/secrets/raw", &q).await.unwrap();
    assert!(!list["imports"].to_string().contains("from-prod"), "{list}");

    // A personal override: its owner sees it, others see the shared value.
    let reader = admin
        .send(
            Method::POST,
            "/api/v1/hush/tokens",
            &json!({ "projectId": "default", "name": "reader",
                     "scopes": [{ "environment": "dev", "secretPath": "/**" }],
                     "write": false, "ttl": 3600 }),
        )
        .await
        .unwrap();
    let reader = api(&s.url, reader["token"].as_str().unwrap());
    let personal = async |value: &str| {
        let mut body = scope("dev", "/");
        body["type"] = json!("personal");
        body["secretValue"] = json!(value);
        admin
            .send(Method::PATCH, "/api/v3/secrets/raw/DB_PASSWORD", &body)
            .await
    };
    let mine = personal("mine-1").await.unwrap();
    assert_eq!(mine["secret"]["type"], "personal");
    personal("mine-2").await.unwrap();
    let mut q = scope_q("dev", "/");
    q.push(("type", "personal".into()));
    let seen = admin
        .get("/api/v3/secrets/raw/DB_PASSWORD", &q)
        .await
        .unwrap();
    assert_eq!(seen["secret"]["secretValue"], "mine-2", "{seen}");
    assert_eq!(seen["secret"]["version"], 2, "the override's own version");
    let listed = admin
        .get("/api/v3/secrets/raw", &scope_q("dev", "/"))
        .await
        .unwrap();
    assert!(listed.to_string().contains("mine-2"), "{listed}");
    assert_eq!(
        read_at(&reader, "dev", "/", "DB_PASSWORD").await.unwrap()["secretValue"],
        "shared-2"
    );
    let mut del = scope("dev", "/");
    del["type"] = json!("personal");
    admin
        .send(Method::DELETE, "/api/v3/secrets/raw/DB_PASSWORD", &del)
        .await
        .unwrap();
    assert_eq!(
        status(
            admin
                .send(Method::DELETE, "/api/v3/secrets/raw/DB_PASSWORD", &del)
                .await
        ),
        404
    );
    assert_eq!(
        read_at(&admin, "dev", "/", "DB_PASSWORD").await.unwrap()["secretValue"],
        "shared-2"
    );

    // Rename: history follows (re-sealed), the personal override does not.
    personal("mine-3").await.unwrap();
    let mut body = scope("dev", "/");
    body["newSecretName"] = json!("DB_PASS");
    let renamed = admin
        .send(Method::PATCH, "/api/v3/secrets/raw/DB_PASSWORD", &body)
        .await
        .unwrap();
    assert_eq!(renamed["secret"]["secretKey"], "DB_PASS", "{renamed}");
    assert_eq!(renamed["secret"]["version"], 3, "{renamed}");
    assert_eq!(
        status(read_at(&admin, "dev", "/", "DB_PASSWORD").await),
        404
    );
    let listed = admin
        .get("/api/v3/secrets/raw", &scope_q("dev", "/"))
        .await
        .unwrap();
    assert!(
        !listed.to_string().contains("mine-3"),
        "the override was dropped: {listed}"
    );
    let mut q = scope_q("dev", "/");
    q.push(("type", "personal".into()));
    assert_eq!(
        status(admin.get("/api/v3/secrets/raw/DB_PASS", &q).await),
        404,
        "the override was dropped"
    );
    let mut hq = scope_q("dev", "/");
    hq.push(("reveal", "true".into()));
    let h = admin
        .get("/api/v1/hush/secrets/DB_PASS/history", &hq)
        .await
        .unwrap();
    let values: Vec<&str> = h["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["secretValue"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["shared-1", "shared-2", "shared-2"]);
    let mut body = scope("dev", "/");
    body["newSecretName"] = json!("LOCAL");
    let clash = admin
        .send(Method::PATCH, "/api/v3/secrets/raw/DB_PASS", &body)
        .await;
    assert_eq!(status(clash), 400, "renaming onto an existing key");
    assert_eq!(
        read_at(&admin, "dev", "/", "LOCAL").await.unwrap()["secretValue"],
        "local-wins"
    );

    // Batch: one stale item writes nothing; a good batch writes everything.
    let batch = |items: serde_json::Value| {
        let mut body = scope("dev", "/");
        body["secrets"] = items;
        body
    };
    let stale = batch(json!([
        { "secretKey": "NEW_A", "secretValue": "a" },
        { "secretKey": "NEW_B", "secretValue": "b" },
        { "secretKey": "DB_PASS", "secretValue": "x", "ifVersion": 1 },
    ]));
    assert_eq!(
        status(
            admin
                .send(Method::POST, "/api/v1/hush/secrets/batch", &stale)
                .await
        ),
        409
    );
    assert_eq!(status(read_at(&admin, "dev", "/", "NEW_A").await), 404);
    let good = batch(json!([
        { "secretKey": "NEW_B", "secretValue": "b" },
        { "secretKey": "NEW_A", "secretValue": "a" },
        { "secretKey": "DB_PASS", "secretValue": "x", "ifVersion": 3 },
    ]));
    let r = admin
        .send(Method::POST, "/api/v1/hush/secrets/batch", &good)
        .await
        .unwrap();
    assert_eq!(
        (r["created"].as_i64(), r["updated"].as_i64()),
        (Some(2), Some(1)),
        "{r}"
    );
    assert_eq!(
        read_at(&admin, "dev", "/", "DB_PASS").await.unwrap()["version"],
        4
    );

    // Folders: a non-empty folder is kept unless forced; forcing soft-deletes.
    for name in ["work", "inner"] {
        let parent = if name == "work" { "/" } else { "/work" };
        admin
            .send(
                Method::POST,
                "/api/v2/folders",
                &json!({ "workspaceId": "default", "environment": "dev", "path": parent, "name": name }),
            )
            .await
            .unwrap();
    }
    put_at(&admin, "dev", "/work/inner", "DEEP", "deep").await;
    // A personal override on a secret that then goes away with its folder.
    let mut body = scope("dev", "/work/inner");
    body["type"] = json!("personal");
    body["secretValue"] = json!("my-deep");
    admin
        .send(Method::PATCH, "/api/v3/secrets/raw/DEEP", &body)
        .await
        .unwrap();
    let folder_del = |force: bool| json!({ "workspaceId": "default", "environment": "dev", "path": "/", "forceDelete": force });
    assert_eq!(
        status(
            admin
                .send(Method::DELETE, "/api/v2/folders/work", &folder_del(false))
                .await
        ),
        400
    );
    let r = admin
        .send(Method::DELETE, "/api/v2/folders/work", &folder_del(true))
        .await
        .unwrap();
    assert_eq!(r["deletedSecrets"], json!(["/work/inner/DEEP"]), "{r}");
    let deleted = admin
        .get("/api/v1/hush/deleted", &scope_q("dev", "/work/inner"))
        .await
        .unwrap();
    assert!(deleted.to_string().contains("DEEP"), "{deleted}");
    // Purging it takes its personal override along.
    admin
        .send(
            Method::POST,
            "/api/v1/hush/secrets/DEEP/purge",
            &scope("dev", "/work/inner"),
        )
        .await
        .unwrap();
    assert_eq!(
        b.query_i64(&s, "SELECT COUNT(*) FROM personal_secrets")
            .await,
        0
    );
    assert_audit_chain_ok(&admin).await;
}
