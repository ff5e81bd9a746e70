//! Issue 18's reproductions, each as the user met it: a narrow token or a
//! member with a `none` override must not read, list, delete or learn about
//! what lies outside their grant.

use crate::harness::*;
use reqwest::Method;
use serde_json::{json, Value};

const DENIED_VALUE: &str = "legacy-canary-5b8e21";
const GRANTED_VALUE: &str = "root-canary-9a04c7";

/// A server with `ROOT_KEY` at `/` and `DB_PW` at `/legacy` in dev.
async fn seeded() -> TestServer {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    for (folder, key, value) in [
        ("/", "ROOT_KEY", GRANTED_VALUE),
        ("/legacy", "DB_PW", DENIED_VALUE),
    ] {
        let mut b = scope("dev", folder);
        b["secretValue"] = json!(value);
        c.send(Method::PUT, &format!("/api/v1/hush/secrets/{key}"), &b)
            .await
            .unwrap();
    }
    s
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `hush` with the server and `token`, from a fresh config home.
fn cli(s: &TestServer, token: &str, args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    // Right after the command: `run` passes everything after `--` on.
    let mut all = args[..1].to_vec();
    all.extend_from_slice(&["--server", s.url.as_str(), "--token", token]);
    all.extend_from_slice(&args[1..]);
    hush(home.path(), &all, None)
}

fn as_user(s: &TestServer, token: &str) -> hush::client::ApiClient {
    hush::client::ApiClient::new(&s.url, Some(zeroize::Zeroizing::new(token.to_owned()))).unwrap()
}

/// Every folder of dev that `token` sees, listed recursively from the root.
async fn every_folder(s: &TestServer, token: &str) -> Vec<Value> {
    let list = as_user(s, token)
        .get(
            "/api/v2/folders",
            &[
                ("projectId", "default".into()),
                ("environment", "dev".into()),
                ("path", "/".into()),
                ("recursive", "true".into()),
            ],
        )
        .await
        .unwrap();
    list["folders"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_root_token_and_a_none_override_do_not_read_subfolders_recursively() {
    let s = seeded().await;
    let admin = cli(
        &s,
        &s.token,
        &[
            "tokens", "create", "--name", "t", "--scope", "dev:/", "--read", "--ttl", "1h",
        ],
    );
    assert!(admin.status.success(), "{}", text(&admin));
    let token = String::from_utf8_lossy(&admin.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("hush_"))
        .expect("the token is printed")
        .to_owned();
    let developer = user_session(
        &s,
        "dev@example.com",
        Some("developer"),
        &["/legacy/**:none"],
    )
    .await;
    for who in [&token, &developer] {
        let got = cli(&s, who, &["get", "legacy/DB_PW"]);
        assert!(!got.status.success(), "{}", text(&got));
        assert!(!text(&got).contains(DENIED_VALUE));

        let list = cli(&s, who, &["list", "--recursive", "--reveal", "--json"]);
        assert!(list.status.success(), "{}", text(&list));
        let out = text(&list);
        assert!(out.contains(GRANTED_VALUE), "{out}");
        assert!(
            !out.contains(DENIED_VALUE) && !out.contains("DB_PW"),
            "{out}"
        );

        let run = cli(
            &s,
            who,
            &["run", "--recursive", "--no-mask", "--", "sh", "-c", "env"],
        );
        let out = text(&run);
        assert!(run.status.success(), "{out}");
        assert!(out.contains(GRANTED_VALUE), "{out}");
        assert!(
            !out.contains(DENIED_VALUE) && !out.contains("DB_PW"),
            "{out}"
        );

        let raw = as_user(&s, who)
            .get(
                "/api/v3/secrets/raw",
                &[
                    ("workspaceId", "default".into()),
                    ("environment", "dev".into()),
                    ("secretPath", "/".into()),
                    ("recursive", "true".into()),
                ],
            )
            .await
            .unwrap();
        let keys: Vec<&str> = raw["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["secretKey"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["ROOT_KEY"]);
    }
    // The list's audit event names only what it returned.
    let events = audit_events(
        &s.client(),
        &[
            ("action", "get-secrets".into()),
            ("actor", "dev@example.com".into()),
        ],
    )
    .await;
    assert!(!events.is_empty());
    for e in &events {
        assert!(!e.to_string().contains("DB_PW"), "{e}");
    }
}

#[tokio::test]
async fn a_forced_folder_delete_needs_write_on_the_whole_subtree() {
    let s = seeded().await;
    let c = s.client();
    let mut b = scope("dev", "/app/locked");
    b["secretValue"] = json!(DENIED_VALUE);
    c.send(Method::PUT, "/api/v1/hush/secrets/INNER", &b)
        .await
        .unwrap();
    let dev = user_session(
        &s,
        "dev@example.com",
        Some("developer"),
        &["dev:/app/locked/**:none"],
    )
    .await;
    let body =
        json!({ "projectId": "default", "environment": "dev", "path": "/", "forceDelete": true });
    let err = as_user(&s, &dev)
        .send(Method::DELETE, "/api/v2/folders/app", &body)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("/app/locked"),
        "names the denied path: {message}"
    );
    assert!(!message.contains("INNER") && !message.contains(DENIED_VALUE));
    // Nothing was deleted.
    let still = c
        .get("/api/v3/secrets/raw/INNER", &scope_q("dev", "/app/locked"))
        .await
        .unwrap();
    assert_eq!(still["secret"]["secretValue"], DENIED_VALUE);
    // The denial is audited, and the admin may delete it all.
    let denied = audit_events(&c, &[("action", "permission-denied".into())]).await;
    assert!(
        denied.iter().any(|e| e["path"] == "/app/locked"),
        "{denied:?}"
    );
    let done = c
        .send(Method::DELETE, "/api/v2/folders/app", &body)
        .await
        .unwrap();
    assert_eq!(done["deletedSecrets"], json!(["/app/locked/INNER"]));
}

#[tokio::test]
async fn folder_listings_hide_denied_subtrees() {
    let s = seeded().await;
    let c = s.client();
    for folder in ["/legacy/deep", "/open"] {
        let mut b = scope("dev", folder);
        b["secretValue"] = json!("v");
        c.send(Method::PUT, "/api/v1/hush/secrets/K", &b)
            .await
            .unwrap();
    }
    let dev = user_session(
        &s,
        "dev@example.com",
        Some("developer"),
        &["/legacy/**:none"],
    )
    .await;
    let folders = every_folder(&s, &dev).await;
    let paths: Vec<&str> = folders
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/open"]);
    // A grant on one deep folder shows the folders on its way, without
    // their modification times.
    let deep = user_session(
        &s,
        "deep@example.com",
        Some("developer"),
        &["/legacy/**:none", "/legacy/deep/**:read"],
    )
    .await;
    let folders = every_folder(&s, &deep).await;
    let by_path = |p: &str| folders.iter().find(|f| f["path"] == p).cloned();
    assert_eq!(
        by_path("/legacy").unwrap()["lastSecretModified"],
        Value::Null
    );
    assert!(by_path("/legacy/deep").unwrap()["lastSecretModified"].is_string());
    assert!(by_path("/open").is_some());
}

#[tokio::test]
async fn answers_reveal_nothing_extra() {
    let s = seeded().await;
    let c = s.client();
    // A comment-only update and a delete answer without the value.
    let mut b = scope("dev", "/");
    b["secretComment"] = json!("rotated soon");
    let updated = c
        .send(Method::PATCH, "/api/v3/secrets/raw/ROOT_KEY", &b)
        .await
        .unwrap();
    assert_eq!(updated["secret"]["secretValue"], "");
    assert_eq!(updated["secret"]["secretValueHidden"], true);
    let deleted = c
        .send(
            Method::DELETE,
            "/api/v3/secrets/raw/ROOT_KEY",
            &scope("dev", "/"),
        )
        .await
        .unwrap();
    assert!(!deleted.to_string().contains(GRANTED_VALUE), "{deleted}");
    // A value the caller sent is echoed (it knows it).
    b["secretValue"] = json!("sent-by-caller");
    let created = c
        .send(Method::POST, "/api/v3/secrets/raw/NEW_KEY", &b)
        .await
        .unwrap();
    assert_eq!(created["secret"]["secretValue"], "sent-by-caller");

    // Member lists are for project admins, and audited.
    let viewer = user_session(&s, "viewer@example.com", Some("viewer"), &[]).await;
    let err = as_user(&s, &viewer)
        .get("/api/v1/hush/members", &[("projectId", "default".into())])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    let members = c
        .get("/api/v1/hush/members", &[("projectId", "default".into())])
        .await
        .unwrap();
    assert!(members["members"].as_array().unwrap().len() >= 2);
    assert!(!audit_events(&c, &[("action", "list-members".into())])
        .await
        .is_empty());

    // A taken slug: the same kind of answer whoever asks.
    let outsider = user_session(&s, "out@example.com", Some("viewer"), &[]).await;
    c.send(
        Method::POST,
        "/api/v2/workspace",
        &json!({ "projectName": "Secret Plans" }),
    )
    .await
    .unwrap();
    let again = as_user(&s, &outsider)
        .send(
            Method::POST,
            "/api/v2/workspace",
            &json!({ "projectName": "secret plans" }),
        )
        .await
        .unwrap();
    let slug = again["project"]["slug"].as_str().unwrap();
    assert!(
        slug.starts_with("secret-plans-") && slug.len() == "secret-plans-".len() + 4,
        "{slug}"
    );

    // A name that reads as a project id is refused; lookups by id win.
    let default_id = c.get("/api/v1/hush/projects", &[]).await.unwrap()["projects"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let err = c
        .send(
            Method::POST,
            "/api/v2/workspace",
            &json!({ "projectName": default_id }),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(err.to_string().contains("reads as a project id"), "{err}");

    // Listings of folders, imports and the audit log are themselves audited.
    c.get(
        "/api/v2/folders",
        &[
            ("projectId", "default".into()),
            ("environment", "dev".into()),
        ],
    )
    .await
    .unwrap();
    c.get("/api/v1/secret-imports", &scope_q("dev", "/"))
        .await
        .unwrap();
    let log = audit_events(&c, &[("limit", "1000".into())]).await;
    let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["list-folders", "list-secret-imports", "query-audit-log"] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
}

#[tokio::test]
async fn imports_need_read_on_their_source_and_feed_hides_denied_keys() {
    let s = seeded().await;
    let c = s.client();
    let dev = user_session(
        &s,
        "dev@example.com",
        Some("developer"),
        &["/legacy/**:none"],
    )
    .await;
    let as_dev = as_user(&s, &dev);
    let err = as_dev
        .send(
            Method::POST,
            "/api/v1/secret-imports",
            &json!({ "workspaceId": "default", "environment": "dev", "path": "/", "import": { "environment": "dev", "path": "/legacy" } }),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");

    // An admin's forced delete of a folder holding a denied subfolder: the
    // feed shows the developer only the keys it may read.
    for (folder, key) in [("/mixed", "VISIBLE"), ("/mixed/legacy", "HIDDEN")] {
        let mut b = scope("dev", folder);
        b["secretValue"] = json!("v");
        c.send(Method::PUT, &format!("/api/v1/hush/secrets/{key}"), &b)
            .await
            .unwrap();
    }
    let dev2 = user_session(
        &s,
        "dev2@example.com",
        Some("developer"),
        &["/mixed/legacy/**:none"],
    )
    .await;
    let cursor = as_user(&s, &dev2)
        .get("/api/v1/hush/changes", &[("workspaceId", "default".into())])
        .await
        .unwrap()["cursor"]
        .clone();
    c.send(
        Method::DELETE,
        "/api/v2/folders/mixed",
        &json!({ "projectId": "default", "environment": "dev", "path": "/", "forceDelete": true }),
    )
    .await
    .unwrap();
    let feed = as_user(&s, &dev2)
        .get(
            "/api/v1/hush/changes",
            &[
                ("workspaceId", "default".into()),
                ("after", cursor.to_string()),
            ],
        )
        .await
        .unwrap();
    let delete: Vec<&Value> = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "delete-folder")
        .collect();
    assert_eq!(delete.len(), 1, "{feed}");
    assert_eq!(delete[0]["keys"], json!(["/mixed/VISIBLE"]));
}
