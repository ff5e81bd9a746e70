//! Issue 22: the OpenAPI document. It is generated from `hush::api`; the
//! committed copy (`docs/openapi.json`) must match it, every route of the
//! router must be in it, and the server must serve it without a token.
//!
//! After an API change, regenerate the copy with
//! `UPDATE_OPENAPI=1 cargo test --test it openapi` and commit it.

use crate::authz_matrix::routed;
use crate::harness::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");

#[test]
fn the_committed_document_is_the_generated_one() {
    let generated = hush::api::openapi::document_json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, &generated).expect("write docs/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(Path::new(COMMITTED)).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json differs from the API's types: regenerate it with \
         `UPDATE_OPENAPI=1 cargo test --test it openapi` and commit it"
    );
}

/// (METHOD, path) of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[test]
fn every_route_is_documented_and_nothing_else() {
    let doc: Value = serde_json::from_str(&hush::api::openapi::document_json()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let routes = routed();
    let listed = documented(&doc);
    let missing: Vec<_> = routes.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the OpenAPI document (add them to api::openapi::document): {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&routes).collect();
    assert!(
        stale.is_empty(),
        "documented routes the router lacks: {stale:?}"
    );
    // Every operation names its answer (a 302 for the SSO callback's
    // redirect), the error envelope and, unless public, the bearer scheme.
    let public = [
        "/healthz",
        "/readyz",
        "/api/docs/openapi.json",
        "/api/v1/hush/bootstrap",
        "/api/v1/hush/auth/login",
        "/api/v1/auth/universal-auth/login",
        "/api/v1/auth/token/renew",
        "/api/v1/auth/token/revoke",
        "/api/v1/hush/users/accept-invite",
        "/api/v1/hush/users/accept-reset",
        "/api/v1/auth/oidc-auth/login",
        "/api/v1/auth/jwt-auth/login",
        "/api/v1/auth/kubernetes-auth/login",
        "/api/v1/hush/sso/providers",
        "/api/v1/hush/sso/{provider}/start",
        "/api/v1/hush/sso/callback",
        "/api/v1/hush/sso/token",
        "/api/v1/hush/sso/{provider}/device",
        "/api/v1/hush/sso/device/token",
    ];
    for (method, path) in &listed {
        let op = &doc["paths"][path][method.to_lowercase()];
        let answer = if path == "/api/v1/hush/sso/callback" {
            "302"
        } else {
            "200"
        };
        assert!(op["responses"][answer].is_object(), "{method} {path}");
        assert_eq!(
            op["responses"]["404"]["$ref"], "#/components/responses/NotFound",
            "{method} {path}"
        );
        let bearer = op["security"][0]["bearer"].is_array();
        assert_eq!(bearer, !public.contains(&path.as_str()), "{method} {path}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["components"]["responses"]["NotFound"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
}

#[tokio::test]
async fn the_server_serves_the_document_without_a_token() {
    let s = TestServer::start(&[]).await;
    let r = reqwest::get(format!("{}/api/docs/openapi.json", s.url))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let served: Value = r.json().await.unwrap();
    let generated: Value = serde_json::from_str(&hush::api::openapi::document_json()).unwrap();
    assert_eq!(served, generated);
}
