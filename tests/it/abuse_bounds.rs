//! Issue 19: what one writer may store cannot take the server (or `hush run`)
//! down: reference expansion is bounded, and so are comments, tags and the
//! number of secrets.

use crate::harness::*;
use reqwest::Method;
use serde_json::json;

async fn put(c: &hush::client::ApiClient, project: &str, key: &str, value: &str) {
    let mut b = scope("dev", "/");
    b["workspaceId"] = json!(project);
    b["secretValue"] = json!(value);
    c.send(Method::PUT, &format!("/api/v1/hush/secrets/{key}"), &b)
        .await
        .unwrap_or_else(|e| panic!("{key}: {e}"));
}

#[tokio::test]
async fn a_reference_bomb_is_refused_and_the_server_stays_up() {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    let other = c
        .send(
            Method::POST,
            "/api/v2/workspace",
            &json!({ "projectName": "bystander" }),
        )
        .await
        .unwrap()["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    put(&c, &other, "INNOCENT", "still-here").await;
    // B is 1 MiB; A names it 170,000 times (170 GB expanded).
    put(&c, "default", "B", &"x".repeat(1024 * 1024 - 1)).await;
    put(&c, "default", "A", &"${B}".repeat(170_000)).await;
    for _ in 0..3 {
        let err = c
            .get("/api/v3/secrets/raw", &scope_q("dev", "/"))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(422), "{err}");
        let message = err.to_string();
        assert!(
            message.contains('A') && message.contains("value limit"),
            "{message}"
        );
        assert!(message.len() < 1000, "no value in the message: {message}");
    }
    // The same project without expansion, and another project, still answer.
    let raw = c
        .get(
            "/api/v3/secrets/raw",
            &[
                ("workspaceId", "default".into()),
                ("environment", "dev".into()),
                ("expandSecretReferences", "false".into()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(raw["secrets"].as_array().unwrap().len(), 2);
    let bystander = c
        .get(
            "/api/v3/secrets/raw",
            &[
                ("workspaceId", other.clone()),
                ("environment", "dev".into()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(bystander["secrets"][0]["secretValue"], "still-here");

    // hush run refuses the same folder with one line, and does not die.
    let home = tempfile::tempdir().unwrap();
    let out = hush(
        home.path(),
        &["run", "--server", &s.url, "--token", &s.token, "--", "true"],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("value limit"), "{stderr}");
    assert!(stderr.len() < 1000, "{stderr}");
}

#[tokio::test]
async fn descriptions_tags_and_secret_counts_are_bounded() {
    let s = TestServer::start(&[
        "--max-secrets-per-folder",
        "3",
        "--max-secrets-per-project",
        "5",
        "--max-comment-bytes",
        "100",
        "--max-tags",
        "2",
    ])
    .await;
    let c = s.client();
    let write = |folder: &str, key: &str, extra: serde_json::Value| {
        let mut b = scope("dev", folder);
        b["secretValue"] = json!("v");
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        let url = format!("/api/v1/hush/secrets/{key}");
        let c = &c;
        async move { c.send(Method::PUT, &url, &b).await }
    };
    let err = write("/", "LONG", json!({ "secretComment": "c".repeat(101) }))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(err.to_string().contains("description"), "{err}");
    let err = write("/", "TAGGED", json!({ "tags": ["a=1", "b=2", "c=3"] }))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");

    for key in ["K1", "K2", "K3"] {
        write("/", key, json!({})).await.unwrap();
    }
    let err = write("/", "K4", json!({})).await.unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
    assert!(err.to_string().contains("limit is 3"), "{err}");
    // Updating a secret that exists is not a new one.
    write("/", "K1", json!({ "secretComment": "fine" }))
        .await
        .unwrap();
    // A batch that would pass the folder's bound is refused whole.
    let mut batch = scope("dev", "/other");
    batch["secrets"] = json!([
        { "secretKey": "B1", "secretValue": "v" },
        { "secretKey": "B2", "secretValue": "v" },
        { "secretKey": "B3", "secretValue": "v" },
    ]);
    let err = c
        .send(Method::POST, "/api/v1/hush/secrets/batch", &batch)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "project bound: {err}");
    assert!(err.to_string().contains("project"), "{err}");
    let listed = c
        .get("/api/v3/secrets/raw", &scope_q("dev", "/other"))
        .await
        .unwrap();
    assert!(listed["secrets"].as_array().unwrap().is_empty());
    // A deleted secret frees its place; restoring it needs the place back.
    c.send(Method::DELETE, "/api/v3/secrets/raw/K3", &scope("dev", "/"))
        .await
        .unwrap();
    write("/", "K4", json!({})).await.unwrap();
    let err = c
        .send(
            Method::POST,
            "/api/v1/hush/secrets/K3/restore",
            &scope("dev", "/"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422), "{err}");
}
