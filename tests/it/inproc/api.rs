//! API behaviour checked in-process (no server process to spawn): a
//! secret's versions, soft delete and restore, and the audit chain they
//! leave.

use super::InProc;
use crate::harness::{assert_audit_chain_ok, get, scope, scope_q, set, status};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn versions_soft_delete_and_restore() {
    let srv = InProc::start().await;
    let c = srv.client();
    assert_eq!(set(&c, "DB_URL", "v1").await.unwrap(), 1);
    assert_eq!(set(&c, "DB_URL", "v2").await.unwrap(), 2);
    // A stale check-and-set is a conflict naming the current version.
    let mut body = scope("dev", "/");
    body["secretValue"] = json!("v3");
    body["ifVersion"] = json!(1);
    let e = c
        .send(Method::PUT, "/api/v1/hush/secrets/DB_URL", &body)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409), "{e}");
    assert!(e.to_string().contains("current version is 2"), "{e}");
    assert_eq!(
        get(&c, "DB_URL", Some(1)).await.unwrap()["secretValue"],
        "v1"
    );

    c.send(
        Method::DELETE,
        "/api/v3/secrets/raw/DB_URL",
        &scope("dev", "/"),
    )
    .await
    .unwrap();
    assert_eq!(status(get(&c, "DB_URL", None).await), 404);
    let deleted = c
        .get("/api/v1/hush/deleted", &scope_q("dev", "/"))
        .await
        .unwrap();
    assert!(deleted.to_string().contains("DB_URL"), "{deleted}");

    c.send(
        Method::POST,
        "/api/v1/hush/secrets/DB_URL/restore",
        &scope("dev", "/"),
    )
    .await
    .unwrap();
    let back = get(&c, "DB_URL", None).await.unwrap();
    assert_eq!(
        (back["secretValue"].as_str(), back["version"].as_i64()),
        (Some("v2"), Some(2))
    );
    assert_audit_chain_ok(&c).await;
    srv.stop().await;
}
