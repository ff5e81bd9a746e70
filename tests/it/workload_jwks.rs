//! The issuers' key cache under concurrency (issue 23): logins that need
//! a source's keys at the same time share one JWKS fetch and all get its
//! result, whether the cache is cold or a token names a `kid` the cached
//! set lacks; a made-up `kid` within the refresh interval fetches nothing;
//! an issuer that is down is asked once per backoff, not once per login.

use crate::harness::*;
use crate::workload::{identity, now, post_json, EcKey, Issuer};
use reqwest::Method;
use serde_json::json;
use std::sync::atomic::Ordering;

/// `n` logins at once with `jwt`; their statuses.
async fn logins_at_once(s: &TestServer, id: &str, jwt: &str, n: usize) -> Vec<u16> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (url, body) = (s.url.clone(), json!({ "identityId": id, "jwt": jwt }));
        set.spawn(async move {
            post_json(&url, "/api/v1/auth/jwt-auth/login", &body)
                .await
                .0
        });
    }
    set.join_all().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logins_share_one_jwks_fetch() {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    let k1 = EcKey::new("k1");
    let issuer = Issuer::start(vec![k1.jwk()]).await;
    // Slow enough that every login below arrives while the fetch is out.
    issuer.state.jwks_delay_ms.store(500, Ordering::SeqCst);
    let id = identity(&c, "jwks-flight").await;
    c.send(
        Method::POST,
        &format!("/api/v1/auth/jwt-auth/identities/{id}"),
        &json!({ "configurationType": "jwks", "jwksUrl": format!("{}/jwks", issuer.url),
            "boundAudiences": "hush" }),
    )
    .await
    .unwrap();
    let signed = |key: &EcKey| {
        key.sign(&json!({ "aud": "hush", "sub": "job", "iat": now(), "exp": now() + 300 }))
    };

    // A cold cache: one fetch for all.
    let statuses = logins_at_once(&s, &id, &signed(&k1), 8).await;
    assert_eq!(statuses, vec![200; 8], "{}", s.log());
    assert_eq!(issuer.fetches(), 1);

    // The issuer rotates in k2: the logins naming it share one refetch,
    // and each gets the refetched keys (none is refused for arriving
    // while the refetch was out).
    let k2 = EcKey::new("k2");
    *issuer.state.keys.lock().unwrap() = vec![k1.jwk(), k2.jwk()];
    let statuses = logins_at_once(&s, &id, &signed(&k2), 8).await;
    assert_eq!(statuses, vec![200; 8], "{}", s.log());
    assert_eq!(issuer.fetches(), 2);

    // Made-up key ids within the interval: refused, no further fetch.
    let statuses = logins_at_once(&s, &id, &signed(&EcKey::new("k3")), 4).await;
    assert_eq!(statuses, vec![401; 4]);
    assert_eq!(issuer.fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_that_is_down_is_asked_once_per_backoff() {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    let key = EcKey::new("d1");
    let issuer = Issuer::start(vec![key.jwk()]).await;
    issuer.state.jwks_down.store(true, Ordering::SeqCst);
    let id = identity(&c, "jwks-down").await;
    c.send(
        Method::POST,
        &format!("/api/v1/auth/jwt-auth/identities/{id}"),
        &json!({ "configurationType": "jwks", "jwksUrl": format!("{}/jwks", issuer.url),
            "boundAudiences": "hush" }),
    )
    .await
    .unwrap();
    let jwt = key.sign(&json!({ "aud": "hush", "sub": "job", "iat": now(), "exp": now() + 300 }));
    let body = json!({ "identityId": id, "jwt": jwt });
    let login = || post_json(&s.url, "/api/v1/auth/jwt-auth/login", &body);
    for _ in 0..5 {
        let (status, body) = login().await;
        assert_eq!(status, 503, "{body}");
        assert!(body.to_string().contains("HTTP 500"), "{body}");
    }
    assert_eq!(issuer.fetches(), 1);
    // Back up: after the backoff the next login asks again, and works.
    issuer.state.jwks_down.store(false, Ordering::SeqCst);
    tokio::time::sleep(hush::service::workload::jwks::FAILURE_BACKOFF).await;
    assert_eq!(login().await.0, 200);
    assert_eq!(issuer.fetches(), 2);
}
