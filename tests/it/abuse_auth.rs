//! Issue 19, authentication abuse: bounded auth input, lockout per client
//! address behind a trusted proxy, atomic lockout, invites that cost no
//! hashing, per-address rate limits and an audit log that a flood of
//! refused logins cannot bloat.

use crate::harness::*;
use crate::pg::{on_both_backends, Backend};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const LOGIN: &str = "/api/v1/hush/auth/login";
const UA_LOGIN: &str = "/api/v1/auth/universal-auth/login";

on_both_backends!(
    parallel_guesses_cannot_exceed_the_lockout_threshold,
    unknown_invites_and_resets_cost_no_hashing,
);

/// A POST of `body`, optionally claiming to come through a proxy for `xff`;
/// the status, the Retry-After header and the body.
async fn post(url: &str, path: &str, xff: Option<&str>, body: Value) -> (u16, Option<u64>, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .json(&body);
    if let Some(addr) = xff {
        req = req.header("X-Forwarded-For", addr);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (status, retry, r.json().await.unwrap_or(Value::Null))
}

async fn login(url: &str, xff: Option<&str>, email: &str, password: &str) -> u16 {
    post(
        url,
        LOGIN,
        xff,
        json!({ "email": email, "password": password }),
    )
    .await
    .0
}

/// Every stored audit event (settling the journal through the API first)
/// and the bytes its row takes in SQLite, summed over all columns.
async fn audit_table(s: &TestServer) -> (i64, i64) {
    audit_events(&s.client(), &[("limit", "1".into())]).await;
    let db = rusqlite::Connection::open_with_flags(
        s.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let columns: Vec<String> = db
        .prepare("SELECT name FROM pragma_table_info('audit_events')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let size = columns
        .iter()
        .map(|c| format!("IFNULL(LENGTH(CAST(\"{c}\" AS BLOB)), 0)"))
        .collect::<Vec<_>>()
        .join(" + ");
    db.query_row(
        &format!("SELECT COUNT(*), IFNULL(SUM({size}), 0) FROM audit_events"),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

async fn create_identity(s: &TestServer, name: &str) -> (String, String) {
    let made = s
        .client()
        .send(
            Method::POST,
            "/api/v1/hush/identities",
            &json!({ "name": name }),
        )
        .await
        .unwrap();
    (
        made["clientId"].as_str().unwrap().to_owned(),
        made["clientSecret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn behind_a_trusted_proxy_lockout_is_per_client_address() {
    let s = TestServer::start(&["--trusted-proxies", "127.0.0.1/32"]).await;
    let (client_id, client_secret) = create_identity(&s, "ci-bot").await;
    let attacker = Some("203.0.113.66");
    // The attacker forges a hop on the left; nginx appends the real address.
    let forged = Some("198.51.100.2, 203.0.113.66");
    for i in 0..20 {
        let email = format!("guess-{i}@example.com");
        let xff = if i % 2 == 0 { attacker } else { forged };
        assert_eq!(login(&s.url, xff, &email, "wrong password here").await, 401);
    }
    assert_eq!(
        login(&s.url, attacker, "other@example.com", "wrong password").await,
        429,
        "the attacker's address is locked out"
    );
    // Another client address, and the forged one, are not.
    assert_eq!(
        login(&s.url, Some("198.51.100.2"), "admin@example.com", PASSWORD).await,
        200
    );
    // Identity logins count in their own address bucket.
    let (status, _, _) = post(
        &s.url,
        UA_LOGIN,
        attacker,
        json!({ "clientId": client_id, "clientSecret": client_secret }),
    )
    .await;
    assert_eq!(
        status, 200,
        "user-login failures do not lock out identities"
    );

    let events = audit_events(
        &s.client(),
        &[("action", "login".into()), ("limit", "100".into())],
    )
    .await;
    let failures: Vec<&Value> = events.iter().filter(|e| e["result"] == "failure").collect();
    assert_eq!(failures.len(), 20);
    assert!(
        failures.iter().all(|e| e["clientIp"] == "203.0.113.66"),
        "audit clientIp is the proxied client: {failures:?}"
    );
    assert!(events
        .iter()
        .any(|e| e["result"] == "success" && e["clientIp"] == "198.51.100.2"));
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let s = TestServer::start(&[]).await;
    for i in 0..20 {
        let xff = format!("203.0.113.{i}");
        let email = format!("guess-{i}@example.com");
        assert_eq!(
            login(&s.url, Some(&xff), &email, "wrong password").await,
            401
        );
    }
    // Every request came from 127.0.0.1, whatever the header said.
    assert_eq!(
        login(&s.url, Some("198.51.100.9"), "admin@example.com", PASSWORD).await,
        429
    );
    let events = audit_events(
        &s.client(),
        &[("action", "login".into()), ("limit", "100".into())],
    )
    .await;
    assert!(
        events.iter().all(|e| e["clientIp"] == "127.0.0.1"),
        "{events:?}"
    );
}

#[tokio::test]
async fn identity_trusted_ips_use_the_proxied_client_address() {
    let s = TestServer::start(&["--trusted-proxies", "127.0.0.1"]).await;
    let made = s
        .client()
        .send(
            Method::POST,
            "/api/v1/hush/identities",
            &json!({ "name": "office-bot", "trustedIps": ["192.0.2.0/24"] }),
        )
        .await
        .unwrap();
    let body = json!({ "clientId": made["clientId"], "clientSecret": made["clientSecret"] });
    let (inside, _, _) = post(&s.url, UA_LOGIN, Some("192.0.2.10"), body.clone()).await;
    let (outside, _, _) = post(&s.url, UA_LOGIN, Some("198.51.100.1"), body.clone()).await;
    let (direct, _, _) = post(&s.url, UA_LOGIN, None, body).await;
    assert_eq!((inside, outside, direct), (200, 403, 403));
}

#[tokio::test]
async fn oversized_and_malformed_auth_input_is_refused_before_any_work() {
    let s = TestServer::start(&[]).await;
    let huge = "a".repeat(9 * 1024);
    let cases = [
        (LOGIN, json!({ "email": huge, "password": "x" }), 413),
        (
            LOGIN,
            json!({ "email": format!("{}@example.com", "a".repeat(250)), "password": "x" }),
            422,
        ),
        (
            LOGIN,
            json!({ "email": "admin@example.com", "password": "p".repeat(1025) }),
            422,
        ),
        (
            UA_LOGIN,
            json!({ "clientId": "ci-bot", "clientSecret": "hush_cs_x" }),
            422,
        ),
        (
            "/api/v1/hush/users/accept-invite",
            json!({ "inviteToken": "t".repeat(2000), "password": PASSWORD }),
            422,
        ),
        (
            "/api/v1/hush/bootstrap",
            json!({ "email": "a@example.com", "password": huge }),
            413,
        ),
    ];
    for (path, body, want) in cases {
        let (status, _, reply) = post(&s.url, path, None, body).await;
        assert_eq!(status, want, "{path}: {reply}");
        assert_eq!(reply["statusCode"], want, "the shared envelope: {reply}");
    }
    let (_, _, reply) = post(
        &s.url,
        LOGIN,
        None,
        json!({ "email": huge, "password": "x" }),
    )
    .await;
    assert!(
        reply["message"].as_str().unwrap().contains("8192"),
        "{reply}"
    );
    for action in ["login", "login-identity-universal-auth", "accept-invite"] {
        let events = audit_events(&s.client(), &[("action", action.into())]).await;
        assert!(events.is_empty(), "nothing audited: {events:?}");
    }
    // The body limit of the other routes is unchanged.
    let mut body = scope("dev", "/");
    body["secretValue"] = json!("v".repeat(64 * 1024));
    s.client()
        .send(Method::PUT, "/api/v1/hush/secrets/BIG", &body)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_thousand_refused_logins_leave_the_audit_log_small() {
    let mut s = TestServer::start(&["--auth-rate-limit", "off"]).await;
    let (count_before, bytes_before) = audit_table(&s).await;
    let long_email = format!("{}@example.com", "x".repeat(240));
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..1000 {
        let status = match i % 4 {
            // Over the email bound: refused while parsing.
            0 => login(&s.url, None, &"y".repeat(4000), "wrong password").await,
            // Not a UUID.
            1 => {
                post(
                    &s.url,
                    UA_LOGIN,
                    None,
                    json!({ "clientId": "z".repeat(3000), "clientSecret": "x" }),
                )
                .await
                .0
            }
            // The longest accepted email, failing and then locked out.
            _ => login(&s.url, None, &long_email, "wrong password").await,
        };
        *statuses.entry(status).or_default() += 1;
    }
    assert_eq!(statuses[&422], 500, "{statuses:?}");
    assert_eq!(statuses[&401], 5, "{statuses:?}");
    assert_eq!(statuses[&429], 495, "{statuses:?}");
    let (count, bytes) = audit_table(&s).await;
    eprintln!(
        "1000 refused logins: audit table +{} rows, +{} bytes",
        count - count_before,
        bytes - bytes_before
    );
    assert!(
        bytes - bytes_before < 1024 * 1024,
        "the audit table grew by {} bytes",
        bytes - bytes_before
    );
    assert!(count - count_before <= 10, "{} rows", count - count_before);

    // Every locked attempt stays on record as a count: the open window's
    // summary is written when the server stops.
    s.stop();
    s.restart();
    let events = audit_events(
        &s.client(),
        &[("action", "login".into()), ("limit", "100".into())],
    )
    .await;
    let locked: Vec<&Value> = events.iter().filter(|e| e["result"] == "locked").collect();
    let recorded: u64 = locked
        .iter()
        .map(|e| {
            let repeats = e["keys"]
                .as_array()
                .and_then(|k| k.first())
                .and_then(|k| k.as_str())
                .and_then(|k| k.strip_prefix("repeats="))
                .map_or(0, |n| n.parse::<u64>().unwrap());
            // A window's first event stands for itself, its summary for the rest.
            if repeats == 0 {
                1
            } else {
                repeats
            }
        })
        .sum();
    assert_eq!(recorded, 495, "{locked:?}");
    assert!(locked.iter().all(|e| e["actorName"] == long_email.as_str()));
    assert_audit_chain_ok(&s.client()).await;
}

/// On PostgreSQL the guesses are spread over two replicas.
async fn parallel_guesses_cannot_exceed_the_lockout_threshold(b: &Backend) {
    let s = b.start(&[]).await;
    let replica = match b {
        Backend::Postgres(db) => Some(db.replica(&s)),
        Backend::Sqlite => None,
    };
    let urls: Vec<String> = std::iter::once(s.url.clone())
        .chain(replica.as_ref().map(|r| r.url.clone()))
        .collect();
    let guesses = (0..30).map(|i| {
        let url = urls[i % urls.len()].clone();
        tokio::spawn(
            async move { login(&url, None, "admin@example.com", "wrong password here").await },
        )
    });
    let mut statuses = Vec::new();
    for g in guesses {
        statuses.push(g.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let locked = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + locked, 30, "{statuses:?}");
    assert!(
        (1..=5).contains(&checked),
        "at most 5 guesses checked, got {checked}: {statuses:?}"
    );
    assert_eq!(
        login(&s.url, None, "admin@example.com", PASSWORD).await,
        429
    );
}

async fn unknown_invites_and_resets_cost_no_hashing(b: &Backend) {
    let s = b.start(&[]).await;
    let invites = (0..50).map(|i| {
        let url = s.url.clone();
        tokio::spawn(async move {
            let path = if i % 2 == 0 {
                "/api/v1/hush/users/accept-invite"
            } else {
                "/api/v1/hush/users/accept-reset"
            };
            let body = json!({
                "inviteToken": format!("hush_iv_unknown{i}"),
                "resetToken": format!("hush_rs_unknown{i}"),
                "password": PASSWORD,
            });
            post(&url, path, None, body).await.0
        })
    });
    let invites: Vec<_> = invites.collect();
    let started = Instant::now();
    let health = reqwest::Client::new()
        .get(format!("{}/healthz", s.url))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());
    assert!(started.elapsed() < Duration::from_secs(10));
    for i in invites {
        assert_eq!(i.await.unwrap(), 401);
    }
    // A bootstrapped server refuses bootstrap (before hashing).
    let (status, _, reply) = post(
        &s.url,
        "/api/v1/hush/bootstrap",
        None,
        json!({ "email": "late@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, 400, "{reply}");
    // The refusals are on record, aggregated per address.
    for action in ["accept-invite", "reset-password"] {
        let events = audit_events(&s.client(), &[("action", action.into())]).await;
        assert_eq!(events.len(), 1, "{action}: {events:?}");
        assert_eq!(events[0]["result"], "failure");
    }
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let s =
        TestServer::start(&["--auth-rate-limit", "5/m", "--trusted-proxies", "127.0.0.1"]).await;
    // Bootstrap took one request of 127.0.0.1's bucket.
    for _ in 0..4 {
        assert_eq!(
            login(&s.url, None, "nobody@example.com", "wrong password").await,
            401
        );
    }
    let (status, retry, reply) = post(
        &s.url,
        LOGIN,
        None,
        json!({ "email": "nobody@example.com", "password": "wrong password" }),
    )
    .await;
    assert_eq!(status, 429, "{reply}");
    assert_eq!(reply["error"], "TooManyRequests");
    assert!(retry.is_some_and(|r| (1..=12).contains(&r)), "{retry:?}");
    // Another client address has its own bucket; authenticated routes and
    // health checks are not limited.
    assert_eq!(
        login(
            &s.url,
            Some("192.0.2.1"),
            "nobody@example.com",
            "wrong password"
        )
        .await,
        401
    );
    s.client()
        .get("/api/v1/hush/auth/whoami", &[])
        .await
        .unwrap();
    let health = reqwest::get(format!("{}/healthz", s.url)).await.unwrap();
    assert!(health.status().is_success());
}
