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
