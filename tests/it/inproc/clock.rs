//! Expiry, measured against the service's clock, which these tests move by
//! hand: token lifetimes and their renewal cap, sessions, the login lockout
//! window, and the soft-delete recovery window.

use super::{InProc, PASSWORD};
use crate::harness::{eventually, scope, scope_q, set};
use crate::pg::{on_both_backends, Backend};
use hush::client::ApiClient;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);

on_both_backends!(
    identity_tokens_expire_and_renewal_stops_at_the_max_ttl,
    sessions_expire_after_the_session_ttl,
    a_locked_account_opens_again_after_the_window,
    a_deleted_secret_is_purged_once_its_recovery_window_passes,
);

async fn renew(anon: &ApiClient, token: &str) -> Result<Value, hush::client::ClientError> {
    anon.send(
        Method::POST,
        "/api/v1/auth/token/renew",
        &json!({ "accessToken": token }),
    )
    .await
}

async fn whoami_status(c: &ApiClient) -> u16 {
    match c.get("/api/v1/hush/auth/whoami", &[]).await {
        Ok(_) => 200,
        Err(e) => e.status().unwrap_or(0),
    }
}

/// Moved here from `access::universal_auth_ttl_max_ttl_ips_and_secret_revocation`,
/// which slept past a real two-second lifetime.
async fn identity_tokens_expire_and_renewal_stops_at_the_max_ttl(b: &Backend) {
    let srv = InProc::on(b, |_| {}).await;
    let admin = srv.client();
    let created = admin
        .send(
            Method::POST,
            "/api/v1/hush/identities",
            &json!({ "name": "ci-bot", "accessTokenTTL": 60, "accessTokenMaxTTL": 100 }),
        )
        .await
        .unwrap();
    let anon = srv.anonymous();
    let login = anon
        .send(
            Method::POST,
            "/api/v1/auth/universal-auth/login",
            &json!({ "clientId": created["clientId"], "clientSecret": created["clientSecret"] }),
        )
        .await
        .unwrap();
    assert_eq!(login["expiresIn"], 60, "{login}");
    let token = login["accessToken"].as_str().unwrap().to_owned();
    let bot = srv.client_with(&token);

    srv.clock.advance(Duration::from_secs(30));
    assert_eq!(whoami_status(&bot).await, 200);
    // Renewed for its full TTL while that stays under the max TTL...
    assert_eq!(renew(&anon, &token).await.unwrap()["expiresIn"], 60);
    srv.clock.advance(Duration::from_secs(50));
    // ...then only up to the max TTL (100 s after the login).
    assert_eq!(renew(&anon, &token).await.unwrap()["expiresIn"], 20);
    srv.clock.advance(Duration::from_secs(19));
    assert_eq!(whoami_status(&bot).await, 200, "still inside its lifetime");
    srv.clock.advance(Duration::from_secs(2));
    assert_eq!(whoami_status(&bot).await, 403, "expired");
    assert_eq!(renew(&anon, &token).await.unwrap_err().status(), Some(401));
    srv.stop().await;
}

async fn sessions_expire_after_the_session_ttl(b: &Backend) {
    let srv = InProc::on(b, |a| a.session_ttl = Some("1h".into())).await;
    let admin = srv.client();
    srv.clock.advance(59 * MINUTE);
    assert_eq!(whoami_status(&admin).await, 200);
    srv.clock.advance(2 * MINUTE);
    assert_eq!(whoami_status(&admin).await, 403, "the session expired");
    srv.stop().await;
}

async fn a_locked_account_opens_again_after_the_window(b: &Backend) {
    let srv = InProc::on(b, |_| {}).await;
    let anon = srv.anonymous();
    let login = async |password: &str| match anon
        .send(
            Method::POST,
            "/api/v1/hush/auth/login",
            &json!({ "email": "admin@example.com", "password": password }),
        )
        .await
    {
        Ok(_) => 200,
        Err(e) => e.status().unwrap_or(0),
    };
    for _ in 0..hush::service::lockout::MAX_FAILURES_PER_ACCOUNT {
        assert_eq!(login("wrong password").await, 401);
    }
    assert_eq!(login("wrong password").await, 429, "locked");
    assert_eq!(login(PASSWORD).await, 429, "locked, even for the right one");
    srv.clock.advance(14 * MINUTE);
    assert_eq!(login(PASSWORD).await, 429, "still inside the window");
    srv.clock.advance(2 * MINUTE);
    assert_eq!(login(PASSWORD).await, 200, "the failures left the window");
    srv.stop().await;
}

/// Moved here from `store_conformance::purge_after_recovery_window`, which
/// waited out a real one-second window.
async fn a_deleted_secret_is_purged_once_its_recovery_window_passes(b: &Backend) {
    let srv = InProc::on(b, |a| {
        a.recovery_window = Some("7d".into());
        a.purge_interval = Some("50ms".into());
        // The admin's session outlives the window.
        a.session_ttl = Some("30d".into());
    })
    .await;
    let c = srv.client();
    set(&c, "TEMP", "x").await.unwrap();
    c.send(
        Method::DELETE,
        "/api/v3/secrets/raw/TEMP",
        &scope("dev", "/"),
    )
    .await
    .unwrap();
    let deleted = async || {
        c.get("/api/v1/hush/deleted", &scope_q("dev", "/"))
            .await
            .unwrap()["secrets"]
            .as_array()
            .unwrap()
            .len()
    };
    srv.clock.advance(Duration::from_secs(6 * 24 * 3600));
    // Several runs of the purge job, none of them past the window yet.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(deleted().await, 1, "still recoverable inside its window");
    srv.clock.advance(Duration::from_secs(24 * 3600 + 1));
    let purged = eventually(Duration::from_secs(10), async || deleted().await == 0).await;
    assert!(purged, "purged after its window");
    let audit = c
        .get(
            "/api/v1/hush/audit",
            &[("action", "purge-expired-secret".into())],
        )
        .await
        .unwrap();
    assert_eq!(audit["events"].as_array().unwrap().len(), 1, "{audit}");
    srv.stop().await;
}
