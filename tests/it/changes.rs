//! The change feed (`GET /api/v1/hush/changes`) that `hush run --watch` waits
//! on: answers a held long-poll when a change commits, never carries a value,
//! shows a caller only what it may read, and lets the server stop promptly.

use crate::harness::*;
use crate::pg::{Backend, PgDb};
use hush::client::ApiClient;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const CANARY: &str = "CHANGES-CANARY-6b1f03a9";

async fn cursor(c: &ApiClient) -> i64 {
    let page = c
        .get("/api/v1/hush/changes", &[("workspaceId", "default".into())])
        .await
        .unwrap();
    page["cursor"].as_i64().unwrap()
}

async fn changes_after(c: &ApiClient, after: i64, wait: u64) -> Value {
    c.get(
        "/api/v1/hush/changes",
        &[
            ("workspaceId", "default".into()),
            ("after", after.to_string()),
            ("wait", wait.to_string()),
        ],
    )
    .await
    .unwrap()
}

fn keys_of(page: &Value) -> Vec<String> {
    page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["keys"].as_array().unwrap().clone())
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

async fn set_in(c: &ApiClient, env: &str, key: &str, value: &str) {
    let mut body = scope(env, "/");
    body["secretValue"] = json!(value);
    c.send(Method::PUT, &format!("/api/v1/hush/secrets/{key}"), &body)
        .await
        .unwrap();
}

/// Runs on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL, where the wake-up
/// travels through LISTEN/NOTIFY.
async fn feed_scenario(b: &Backend) {
    let s = b.start(&[]).await;
    let c = s.client();
    set(&c, "API_KEY", "first").await.unwrap();
    let start = cursor(&c).await;

    // Reads are not changes: a list then a short wait answers nothing.
    c.get("/api/v3/secrets/raw", &scope_q("dev", "/"))
        .await
        .unwrap();
    let quiet = changes_after(&c, start, 1).await;
    assert_eq!(quiet["changes"], json!([]), "{quiet}");
    // The cursor moves past the read's audit event, so later waits do not
    // rescan it.
    assert!(quiet["cursor"].as_i64().unwrap() > start, "{quiet}");

    // A held long-poll answers when a write commits, well before its wait ends.
    let waiter = {
        let c = s.client();
        tokio::spawn(async move {
            let began = Instant::now();
            (changes_after(&c, start, 30).await, began.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    set(&c, "API_KEY", CANARY).await.unwrap();
    let (page, waited) = waiter.await.unwrap();
    assert!(waited < Duration::from_secs(25), "waited {waited:?}");
    assert_eq!(keys_of(&page), ["API_KEY"], "{page}");
    let change = &page["changes"][0];
    assert_eq!(change["action"], "update-secret");
    assert_eq!(change["environment"], "dev");
    assert_eq!(change["secretPath"], "/");
    assert_eq!(change["version"], 2);
    assert!(!page.to_string().contains(CANARY), "{page}");

    // Paging on from the returned cursor: nothing new.
    let next = changes_after(&c, page["cursor"].as_i64().unwrap(), 0).await;
    assert_eq!(next["changes"], json!([]), "{next}");

    // A delete and a restore are changes too.
    let del = c
        .send(
            Method::DELETE,
            "/api/v3/secrets/raw/API_KEY",
            &scope("dev", "/"),
        )
        .await;
    assert!(del.is_ok(), "{del:?}");
    let page2 = changes_after(&c, page["cursor"].as_i64().unwrap(), 5).await;
    assert_eq!(page2["changes"][0]["action"], "delete-secret", "{page2}");
}

#[tokio::test]
async fn feed_on_sqlite() {
    feed_scenario(&Backend::Sqlite).await
}

#[tokio::test]
async fn feed_on_postgres() {
    let Some(db) = PgDb::create("feed_on_postgres").await else {
        return;
    };
    feed_scenario(&Backend::Postgres(db)).await
}

#[tokio::test]
async fn feed_shows_a_scoped_token_only_what_it_may_read() {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    let (_, token) = read_token(&c, "dev", "/**").await;
    let scoped = ApiClient::new(&s.url, Some(token.into())).unwrap();
    let start = cursor(&scoped).await;
    set_in(&c, "prod", "PROD_ONLY", "p").await;
    set_in(&c, "dev", "DEV_KEY", "d").await;
    let page = changes_after(&scoped, start, 5).await;
    assert_eq!(keys_of(&page), ["DEV_KEY"], "{page}");
    // The admin sees both, in commit order.
    let all = changes_after(&c, start, 0).await;
    assert_eq!(keys_of(&all), ["PROD_ONLY", "DEV_KEY"], "{all}");
}

#[tokio::test]
async fn feed_rejects_bad_input() {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    let q = |extra: &[(&'static str, &str)]| {
        let mut q = vec![("workspaceId", "default".to_owned())];
        q.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        q
    };
    for (params, want) in [
        (q(&[("after", "0"), ("wait", "600")]), 422),
        (q(&[("after", "abc")]), 422),
        (q(&[("after", "-1")]), 422),
        (vec![("workspaceId", "nope".to_owned())], 404),
        (vec![], 400),
    ] {
        let got = status(c.get("/api/v1/hush/changes", &params).await);
        assert_eq!(got, want, "{params:?}");
    }
    let anon = ApiClient::new(&s.url, None).unwrap();
    assert_eq!(status(anon.get("/api/v1/hush/changes", &q(&[])).await), 401);
}

#[tokio::test]
async fn shutdown_answers_held_long_polls() {
    let mut s = TestServer::start(&[]).await;
    let c = s.client();
    let start = cursor(&c).await;
    let waiter = tokio::spawn(async move {
        c.get(
            "/api/v1/hush/changes",
            &[
                ("workspaceId", "default".into()),
                ("after", start.to_string()),
                ("wait", "50".into()),
            ],
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let began = Instant::now();
    let status = tokio::task::spawn_blocking(move || s.stop()).await.unwrap();
    // The graceful stop does not sit out the 50 s wait.
    assert!(
        began.elapsed() < Duration::from_secs(15),
        "{:?}",
        began.elapsed()
    );
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let answered = waiter.await.unwrap();
    assert!(answered.is_ok(), "{answered:?}");
}

/// Two stores on one database: a change committed through one wakes a waiter
/// on the other (LISTEN/NOTIFY), with no polling involved.
#[tokio::test]
async fn postgres_notifies_other_replicas() {
    use hush::store::{AuditEvent, Store};
    let Some(db) = PgDb::create("postgres_notifies_other_replicas").await else {
        return;
    };
    let key = hush::audit::AuditKey::from_root(&hush::crypto::Key::generate().unwrap());
    let a = hush::store::postgres::PostgresStore::connect(&db.url, 2, key.clone())
        .await
        .unwrap();
    let b = hush::store::postgres::PostgresStore::connect(&db.url, 2, key)
        .await
        .unwrap();
    // Both listeners are up once PostgreSQL shows their LISTEN.
    let admin = db.client().await;
    let listening = eventually(Duration::from_secs(10), async || {
        let row = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN hush_changes%'",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0) >= 2
    })
    .await;
    assert!(listening, "the stores' listeners never started");
    let mut signal = a.change_signal();
    // The tick each listener gives when it starts has come and gone.
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal.borrow_and_update();
    let event = |action: &str| AuditEvent {
        id: uuid::Uuid::new_v4().to_string(),
        action: action.into(),
        result: "success".into(),
        ..Default::default()
    };
    // A read's event is not a change: no tick.
    b.append_audit(event("get-secrets")).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), signal.changed())
            .await
            .is_err(),
        "a read woke the change signal"
    );
    b.append_audit(event("update-secret")).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), signal.changed())
        .await
        .expect("replica A hears replica B's change")
        .unwrap();
    a.close().await;
    b.close().await;
}
