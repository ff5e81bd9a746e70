//! Issue 27: what a project admin changes after creating a project (the
//! versions kept per secret, the recovery window, environment names),
//! through hush's route and Infisical's, on both backends.

use crate::harness::*;
use crate::pg::{on_both_backends, Backend};
use reqwest::Method;
use serde_json::{json, Value};

/// A client signed in as a new user `email` with `role` in `default` (none:
/// not a member).
async fn member_client(s: &TestServer, email: &str, role: Option<&str>) -> hush::client::ApiClient {
    let session = user_session(s, email, role, &[]).await;
    hush::client::ApiClient::new(&s.url, Some(session.into())).unwrap()
}

on_both_backends!(
    limits_change_and_apply_from_the_next_event,
    environments_are_renamed_and_never_reslugged,
);

const SETTINGS: &str = "/api/v1/hush/projects/default/settings";
const DAY_SECS: i64 = 86_400;

fn versions_of(h: &Value) -> Vec<i64> {
    h["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect()
}

async fn history(c: &hush::client::ApiClient, key: &str) -> Vec<i64> {
    versions_of(
        &c.get(
            &format!("/api/v1/hush/secrets/{key}/history"),
            &scope_q("dev", "/"),
        )
        .await
        .unwrap(),
    )
}

/// Seconds from now until an ISO time the server answered.
fn secs_until(iso: &Value) -> i64 {
    let at = time::OffsetDateTime::parse(
        iso.as_str().expect("a time"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    at.unix_timestamp() - time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The `recoverableUntil` of a deleted secret in the deleted list of `path`.
async fn recoverable_until(c: &hush::client::ApiClient, path: &str, key: &str) -> i64 {
    let deleted = c
        .get("/api/v1/hush/deleted", &scope_q("dev", path))
        .await
        .unwrap();
    let found = deleted["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["secretKey"] == key)
        .unwrap_or_else(|| panic!("{key} not in the deleted list: {deleted}"))
        .clone();
    secs_until(&found["recoverableUntil"])
}

async fn delete(c: &hush::client::ApiClient, key: &str) {
    c.send(
        Method::DELETE,
        &format!("/api/v3/secrets/raw/{key}"),
        &scope("dev", "/"),
    )
    .await
    .unwrap();
}

/// Status and message of a call expected to fail.
async fn refused(
    c: &hush::client::ApiClient,
    method: Method,
    url: &str,
    body: Value,
) -> (u16, String) {
    let err = c.send(method, url, &body).await.unwrap_err();
    (err.status().unwrap_or(0), err.to_string())
}

async fn limits_change_and_apply_from_the_next_event(b: &Backend) {
    let s = b.start(&["--max-versions", "5"]).await;
    let c = s.client();
    let shown = c.get(SETTINGS, &[]).await.unwrap()["settings"].clone();
    assert_eq!(shown["maxVersions"], 5);
    assert!(shown["recoveryWindowDays"].is_null());
    assert_eq!(shown["recoveryWindowSeconds"], 30 * DAY_SECS);
    assert_eq!(shown["defaultRecoveryWindowSeconds"], 30 * DAY_SECS);
    for i in 1..=5 {
        set(&c, "KEPT", &format!("kept-value-{i}")).await.unwrap();
    }
    set(&c, "EARLY", "early-value").await.unwrap();
    delete(&c, "EARLY").await;

    let changed = c
        .send(
            Method::PATCH,
            SETTINGS,
            &json!({ "maxVersions": 2, "recoveryWindowDays": 2 }),
        )
        .await
        .unwrap()["settings"]
        .clone();
    assert_eq!(changed["maxVersions"], 2);
    assert_eq!(changed["recoveryWindowDays"], 2);
    assert_eq!(changed["recoveryWindowSeconds"], 2 * DAY_SECS);
    assert_eq!(c.get(SETTINGS, &[]).await.unwrap()["settings"], changed);

    // The lower limit prunes at the key's next write, not before.
    assert_eq!(history(&c, "KEPT").await, [1, 2, 3, 4, 5]);
    set(&c, "KEPT", "kept-value-6").await.unwrap();
    assert_eq!(history(&c, "KEPT").await, [5, 6]);

    // A delete made before the change keeps its window; one after gets the new one.
    let early = recoverable_until(&c, "/", "EARLY").await;
    assert!(early > 29 * DAY_SECS, "{early}");
    set(&c, "LATE", "late-value").await.unwrap();
    delete(&c, "LATE").await;
    let late = recoverable_until(&c, "/", "LATE").await;
    assert!(
        (2 * DAY_SECS - 120..=2 * DAY_SECS).contains(&late),
        "{late}"
    );
    // So does a secret deleted with its folder.
    let mut body = scope("dev", "/inner");
    body["secretValue"] = json!("inner-value");
    c.send(Method::PUT, "/api/v1/hush/secrets/INNER", &body)
        .await
        .unwrap();
    c.send(
        Method::DELETE,
        "/api/v2/folders/inner",
        &json!({ "projectId": "default", "environment": "dev", "path": "/", "forceDelete": true }),
    )
    .await
    .unwrap();
    let inner = recoverable_until(&c, "/inner", "INNER").await;
    assert!(
        (2 * DAY_SECS - 120..=2 * DAY_SECS).contains(&inner),
        "{inner}"
    );

    // Back to the server's window; only the version limit changes here.
    let reset = c
        .send(
            Method::PATCH,
            SETTINGS,
            &json!({ "recoveryWindowDays": null }),
        )
        .await
        .unwrap()["settings"]
        .clone();
    assert!(reset["recoveryWindowDays"].is_null());
    assert_eq!(reset["recoveryWindowSeconds"], 30 * DAY_SECS);
    assert_eq!(reset["maxVersions"], 2);

    // Bounds and empty changes are refused with 400, changing nothing.
    for body in [
        json!({ "maxVersions": 0 }),
        json!({ "maxVersions": 1001 }),
        json!({ "recoveryWindowDays": 0 }),
        json!({ "recoveryWindowDays": 366 }),
        json!({ "maxVersions": 3, "recoveryWindowDays": 400 }),
        json!({}),
    ] {
        let (code, message) = refused(&c, Method::PATCH, SETTINGS, body.clone()).await;
        assert_eq!(code, 400, "{body}: {message}");
    }
    let (_, message) = refused(&c, Method::PATCH, SETTINGS, json!({ "maxVersions": 1001 })).await;
    assert!(message.contains("1 to 1000"), "{message}");
    assert_eq!(
        c.get(SETTINGS, &[]).await.unwrap()["settings"]["maxVersions"],
        2
    );

    // Infisical's version limit route and project shape.
    let r = c
        .send(
            Method::PUT,
            "/api/v1/workspace/default/version-limit",
            &json!({ "pitVersionLimit": 10 }),
        )
        .await
        .unwrap();
    assert_eq!(r["message"], "Successfully changed workspace version limit");
    for field in ["workspace", "project"] {
        assert_eq!(r[field]["pitVersionLimit"], 10, "{r}");
        assert_eq!(r[field]["slug"], "default");
        assert!(r[field]["id"].is_string() && r[field]["_id"].is_string());
    }
    let (code, _) = refused(
        &c,
        Method::PUT,
        "/api/v1/workspace/default/version-limit",
        json!({ "pitVersionLimit": 0 }),
    )
    .await;
    assert_eq!(code, 400);
    let listed = c.get("/api/v1/hush/projects", &[]).await.unwrap();
    assert_eq!(listed["projects"][0]["maxVersions"], 10);

    // Who may: members read, only project admins change.
    let viewer = member_client(&s, "viewer@example.com", Some("viewer")).await;
    let developer = member_client(&s, "dev@example.com", Some("developer")).await;
    let outsider = member_client(&s, "outsider@example.com", None).await;
    assert_eq!(
        viewer.get(SETTINGS, &[]).await.unwrap()["settings"]["maxVersions"],
        10
    );
    for who in [&viewer, &developer] {
        let (code, _) = refused(who, Method::PATCH, SETTINGS, json!({ "maxVersions": 1 })).await;
        assert_eq!(code, 403);
        let (code, _) = refused(
            who,
            Method::PUT,
            "/api/v1/workspace/default/version-limit",
            json!({ "pitVersionLimit": 1 }),
        )
        .await;
        assert_eq!(code, 403);
    }
    assert_eq!(status(outsider.get(SETTINGS, &[]).await), 404);
    let (code, _) = refused(
        &outsider,
        Method::PATCH,
        SETTINGS,
        json!({ "maxVersions": 1 }),
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(
        c.get(SETTINGS, &[]).await.unwrap()["settings"]["maxVersions"],
        10
    );

    // Every change is audited with its old and new limits, never a value.
    let events = audit_events(&c, &[("action", "update-project-settings".into())]).await;
    let keys: Vec<Vec<String>> = events
        .iter()
        .map(|e| serde_json::from_value(e["keys"].clone()).unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            vec!["maxVersions: 2 -> 10".to_owned()],
            vec!["recoveryWindow: 2d -> 30d (server default)".to_owned()],
            vec![
                "maxVersions: 5 -> 2".to_owned(),
                "recoveryWindow: 30d (server default) -> 2d".to_owned()
            ],
        ]
    );
    for e in &events {
        assert_eq!(e["result"], "success");
        assert!(e["projectId"].is_string());
        assert!(!e.to_string().contains("-value"), "{e}");
    }
    assert_audit_chain_ok(&c).await;
}

async fn environments_are_renamed_and_never_reslugged(b: &Backend) {
    let s = b.start(&[]).await;
    let c = s.client();
    let base = "/api/v1/workspace/default/environments";
    let envs = c.get(base, &[]).await.unwrap();
    let prod = envs["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["slug"] == "prod")
        .unwrap()
        .clone();
    let id = prod["id"].as_str().unwrap();

    // By id, with Infisical's body (the unchanged slug and position are fine).
    let r = c
        .send(
            Method::PATCH,
            &format!("{base}/{id}"),
            &json!({ "name": "  Production EU ", "slug": "prod", "position": prod["position"] }),
        )
        .await
        .unwrap();
    assert_eq!(r["message"], "Successfully updated environment");
    assert_eq!(r["workspace"], prod["projectId"]);
    assert_eq!(r["projectId"], prod["projectId"]);
    let env = &r["environment"];
    for field in ["id", "slug", "position", "projectId", "createdAt"] {
        assert_eq!(env[field], prod[field], "{field}");
    }
    assert_eq!(env["name"], "Production EU");
    assert!(env["updatedAt"].is_string());
    // By slug too; the lists show the new name.
    c.send(
        Method::PATCH,
        &format!("{base}/dev"),
        &json!({ "name": "Local development" }),
    )
    .await
    .unwrap();
    let names: Vec<(String, String)> = c.get(base, &[]).await.unwrap()["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["slug"].as_str().unwrap().to_owned(),
                e["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("dev".to_owned(), "Local development".to_owned()),
            ("staging".to_owned(), "Staging".to_owned()),
            ("prod".to_owned(), "Production EU".to_owned()),
        ]
    );
    // Secrets and grants still find the environment by its slug.
    let mut body = scope("prod", "/");
    body["secretValue"] = json!("prod-after-rename");
    c.send(Method::PUT, "/api/v1/hush/secrets/AFTER", &body)
        .await
        .unwrap();

    // A new slug is refused, saying why and what to do; so is a move.
    let (code, message) = refused(
        &c,
        Method::PATCH,
        &format!("{base}/{id}"),
        json!({ "name": "Production", "slug": "production" }),
    )
    .await;
    assert_eq!(code, 400);
    assert!(
        message.contains("slug cannot change") && message.contains("create a new environment"),
        "{message}"
    );
    let (code, message) = refused(
        &c,
        Method::PATCH,
        &format!("{base}/prod"),
        json!({ "name": "Production", "position": 1 }),
    )
    .await;
    assert_eq!(code, 400);
    assert!(message.contains("position"), "{message}");
    for bad in [
        json!({}),
        json!({ "name": "  " }),
        json!({ "name": "x".repeat(65) }),
    ] {
        let (code, _) = refused(&c, Method::PATCH, &format!("{base}/prod"), bad.clone()).await;
        assert_eq!(code, 400, "{bad}");
    }
    let (code, _) = refused(
        &c,
        Method::PATCH,
        &format!("{base}/nowhere"),
        json!({ "name": "Nowhere" }),
    )
    .await;
    assert_eq!(code, 404);
    let after = c.get(base, &[]).await.unwrap();
    assert!(after.to_string().contains("Production EU"));
    assert!(!after.to_string().contains("\"production\""));

    // Only project admins rename; outsiders do not learn the project exists.
    let viewer = member_client(&s, "viewer@example.com", Some("viewer")).await;
    let outsider = member_client(&s, "outsider@example.com", None).await;
    let rename = json!({ "name": "Taken over" });
    let (code, _) = refused(
        &viewer,
        Method::PATCH,
        &format!("{base}/prod"),
        rename.clone(),
    )
    .await;
    assert_eq!(code, 403);
    let (code, _) = refused(&outsider, Method::PATCH, &format!("{base}/prod"), rename).await;
    assert_eq!(code, 404);

    // Audited: the slug and the old and new names.
    let events = audit_events(&c, &[("action", "rename-environment".into())]).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["environment"], "prod");
    assert_eq!(
        events[1]["keys"],
        json!(["name: \"Production\" -> \"Production EU\""])
    );
    assert_eq!(events[0]["environment"], "dev");
    for e in &events {
        assert!(!e.to_string().contains("prod-after-rename"));
    }
}
