//! The API when the store fails: a database error is a 500 with a generic
//! message (its text stays in the server log), an overloaded audit log a
//! 503 that says why; a failed write leaves nothing behind, and no answer
//! carries a secret value or the database's own words.

use super::faulty::FaultyStore;
use super::InProc;
use hush::store::{Store, StoreError};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

const VALUE: &str = "canary-value-7f3a9c";
/// Text a database error might carry (a row, a constraint name): it must
/// never reach a client.
const DB_WORDS: &str = "duplicate key row (proj-x) near 'db-detail-51be'";

async fn start() -> (InProc, Arc<FaultyStore>) {
    let mut faulty = None;
    let srv = InProc::start_wrapped(|store| {
        let f = FaultyStore::new(store);
        faulty = Some(f.clone());
        f as Arc<dyn Store>
    })
    .await;
    (srv, faulty.expect("wrapped"))
}

fn scope_with(extra: Value) -> Value {
    let mut body = json!({ "workspaceId": "default", "environment": "dev", "secretPath": "/" });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// A generic 5xx envelope: status, kind, and nothing from the database or
/// the request's values.
fn assert_clean(status: u16, body: &str, want: u16, kind: &str) {
    assert_eq!(status, want, "{body}");
    let v: Value = serde_json::from_str(body).expect("a JSON error envelope");
    assert_eq!(v["error"], kind, "{body}");
    assert_eq!(v["statusCode"], want, "{body}");
    assert!(!v["message"].as_str().unwrap_or("").is_empty(), "{body}");
    assert!(!body.contains(VALUE), "a value leaked: {body}");
    assert!(!body.contains("db-detail"), "database text leaked: {body}");
}

async fn status_of_get(srv: &InProc, key: &str) -> u16 {
    let q = "workspaceId=default&environment=dev&secretPath=/";
    srv.raw(Method::GET, &format!("/api/v3/secrets/raw/{key}?{q}"), None)
        .await
        .0
}

#[tokio::test]
async fn a_failed_write_is_a_500_and_writes_nothing() {
    let (srv, faulty) = start().await;
    faulty.fail("put_version", StoreError::Backend(DB_WORDS.into()));
    let (status, body) = srv
        .raw(
            Method::PUT,
            "/api/v1/hush/secrets/API_KEY",
            Some(scope_with(json!({ "secretValue": VALUE }))),
        )
        .await;
    assert_clean(status, &body, 500, "InternalServerError");
    faulty.heal();
    assert_eq!(status_of_get(&srv, "API_KEY").await, 404, "nothing written");
    // The store works again: the same write now succeeds.
    let (status, body) = srv
        .raw(
            Method::PUT,
            "/api/v1/hush/secrets/API_KEY",
            Some(scope_with(json!({ "secretValue": VALUE }))),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["secret"]["version"], 1,
        "the failed write used no version"
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_failed_batch_writes_none_of_its_items() {
    let (srv, faulty) = start().await;
    faulty.fail("put_versions", StoreError::Backend(DB_WORDS.into()));
    let items = json!({ "secrets": [
        { "secretKey": "ONE", "secretValue": VALUE },
        { "secretKey": "TWO", "secretValue": VALUE },
    ] });
    let (status, body) = srv
        .raw(
            Method::POST,
            "/api/v1/hush/secrets/batch",
            Some(scope_with(items)),
        )
        .await;
    assert_clean(status, &body, 500, "InternalServerError");
    faulty.heal();
    for key in ["ONE", "TWO"] {
        assert_eq!(status_of_get(&srv, key).await, 404, "{key} was not written");
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_failed_read_is_a_500_without_values() {
    let (srv, faulty) = start().await;
    srv.raw(
        Method::PUT,
        "/api/v1/hush/secrets/API_KEY",
        Some(scope_with(json!({ "secretValue": VALUE }))),
    )
    .await;
    faulty.fail("secrets", StoreError::Backend(DB_WORDS.into()));
    let q = "workspaceId=default&environment=dev&secretPath=/&viewSecretValue=true";
    let (status, body) = srv
        .raw(Method::GET, &format!("/api/v3/secrets/raw?{q}"), None)
        .await;
    assert_clean(status, &body, 500, "InternalServerError");
    faulty.heal();
    let (status, body) = srv
        .raw(Method::GET, &format!("/api/v3/secrets/raw?{q}"), None)
        .await;
    assert_eq!(status, 200);
    assert!(body.contains(VALUE), "the value is still there: {body}");
    srv.stop().await;
}

#[tokio::test]
async fn an_unavailable_store_is_a_503_that_says_why() {
    let (srv, faulty) = start().await;
    let why = "the audit log is behind its loss bound; retry shortly";
    faulty.fail("put_version", StoreError::Unavailable(why.into()));
    let (status, body) = srv
        .raw(
            Method::PUT,
            "/api/v1/hush/secrets/API_KEY",
            Some(scope_with(json!({ "secretValue": VALUE }))),
        )
        .await;
    assert_clean(status, &body, 503, "ServiceUnavailable");
    assert!(body.contains(why), "{body}");
    faulty.heal();
    assert_eq!(status_of_get(&srv, "API_KEY").await, 404, "nothing written");
    srv.stop().await;
}

#[tokio::test]
async fn readiness_follows_the_database() {
    let (srv, faulty) = start().await;
    assert_eq!(srv.raw(Method::GET, "/readyz", None).await.0, 200);
    faulty.fail("ping", StoreError::Backend(DB_WORDS.into()));
    let (status, body) = srv.raw(Method::GET, "/readyz", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("database unavailable"), "{body}");
    assert!(!body.contains("db-detail"), "{body}");
    // Liveness does not depend on the database.
    assert_eq!(srv.raw(Method::GET, "/healthz", None).await.0, 200);
    faulty.heal();
    assert_eq!(srv.raw(Method::GET, "/readyz", None).await.0, 200);
    srv.stop().await;
}
