//! Issue 23's single sign-on rows at the store seam, on both backends: a
//! just-in-time user and its project membership are one write (a failure
//! between them leaves neither), and the stored provider credentials of
//! dead sessions are pruned, a bounded batch at a time.

use crate::inproc::faulty::FaultyStore;
use crate::inproc::InProc;
use crate::pg::PgDb;
use crate::store_guards::{event, new_project};
use hush::store::audit_flush::AuditOptions;
use hush::store::identity_auth::SSO_GRANT_PRUNE_BATCH;
use hush::store::postgres::PostgresStore;
use hush::store::sqlite::SqliteStore;
use hush::store::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A fresh audit event id for each write.
fn next_event() -> AuditEvent {
    static N: AtomicU32 = AtomicU32::new(100);
    event(&N.fetch_add(1, Ordering::Relaxed).to_string())
}

fn user(id: &str, email: &str) -> UserRow {
    UserRow {
        id: id.into(),
        email: email.into(),
        password_hash: String::new(),
        is_admin: false,
        created_at: 1,
        disabled_at: None,
    }
}

fn member(project: &str, subject: &str) -> MembershipRow {
    MembershipRow {
        project_id: project.into(),
        subject_id: subject.into(),
        role: "developer".into(),
        overrides: "[]".into(),
    }
}

async fn jit_user_and_membership_are_one_write(store: &dyn Store) {
    store.create_project(new_project()).await.unwrap();
    // The membership's write fails after the user's row is in (the
    // project vanished): the user is not left behind without it.
    let err = store
        .create_user_with_membership(
            user("u-jit", "jit@example.com"),
            member("deleted-project", "u-jit"),
            next_event(),
            next_event(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound("project")), "{err:?}");
    assert!(store
        .user_by_email("jit@example.com")
        .await
        .unwrap()
        .is_none());
    store
        .create_user_with_membership(
            user("u-jit", "jit@example.com"),
            member("p", "u-jit"),
            next_event(),
            next_event(),
        )
        .await
        .unwrap();
    assert!(store.user_by_id("u-jit").await.unwrap().is_some());
    let m = store.membership("p", "u-jit").await.unwrap().unwrap();
    assert_eq!(m.role, "developer");
    // A second first login (another replica raced this one) changes nothing.
    let err = store
        .create_user_with_membership(
            user("u-jit-2", "jit@example.com"),
            member("p", "u-jit-2"),
            next_event(),
            next_event(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)), "{err:?}");
    assert!(store.membership("p", "u-jit-2").await.unwrap().is_none());
}

const T0: i64 = 1_800_000_000_000;
const MINUTE: i64 = 60_000;

fn session(id: &str, expires_at: i64, revoked_at: Option<i64>) -> TokenRow {
    TokenRow {
        id: id.into(),
        token_hash: id.as_bytes().to_vec(),
        kind: "session".into(),
        subject_id: "u".into(),
        name: "u@example.com".into(),
        project_id: None,
        scope: "null".into(),
        expires_at: Some(expires_at),
        revoked_at,
        created_at: T0,
        uses: 0,
        uses_limit: None,
        max_expires_at: None,
        client_secret_id: None,
    }
}

/// Whether sign-in `id`'s credential is still stored (linking it to a
/// probe session finds it only if it is).
async fn grant_kept(ia: &dyn IdentityAuthStore, id: &str) -> bool {
    let probe = format!("probe-{id}");
    ia.link_sso_grant(id, &probe).await.unwrap();
    ia.sso_grant(&probe).await.unwrap().is_some()
}

async fn dead_sso_grants_are_pruned_in_batches(store: &dyn Store) {
    let ia = store.identity_auth_methods();
    let month = 30 * 24 * 60 * MINUTE;
    for token in [
        session("t-live", T0 + month, None),
        session("t-revoked", T0 + month, Some(T0 + MINUTE)),
        session("t-expired", T0 + MINUTE, None),
        session("t-revoked-late", T0 + month, Some(T0 + 5 * MINUTE)),
    ] {
        store.insert_token(token, next_event()).await.unwrap();
    }
    let grant = |id: &'static str, at: i64| async move {
        ia.put_sso_grant(id, "acme", b"sealed".to_vec(), at)
            .await
            .unwrap()
    };
    for (id, token) in [
        ("g-live", Some("t-live")),
        ("g-revoked", Some("t-revoked")),
        ("g-expired", Some("t-expired")),
        ("g-token-gone", Some("t-never-stored")),
        ("g-never-redeemed", None),
    ] {
        assert_eq!(grant(id, T0).await, 0);
        if let Some(token) = token {
            ia.link_sso_grant(id, token).await.unwrap();
        }
    }
    // Younger than the grace: kept, whatever its session.
    grant("g-recent", T0 + 5 * MINUTE).await;
    ia.link_sso_grant("g-recent", "t-revoked-late")
        .await
        .unwrap();

    // Eleven minutes on, the next sign-in prunes the four dead ones.
    assert_eq!(grant("g-next", T0 + 11 * MINUTE).await, 4);
    assert!(ia.sso_grant("t-live").await.unwrap().is_some());
    assert!(ia.sso_grant("t-revoked-late").await.unwrap().is_some());
    for gone in ["t-revoked", "t-expired", "t-never-stored"] {
        assert!(ia.sso_grant(gone).await.unwrap().is_none(), "{gone}");
    }
    assert!(!grant_kept(ia, "g-never-redeemed").await);

    // A backlog is worked off a batch per sign-in, never all at once.
    let t1 = T0 + 24 * 60 * MINUTE;
    let backlog: u64 = 150;
    for i in 0..backlog {
        let id: &'static str = Box::leak(format!("g-backlog-{i}").into_boxed_str());
        let pruned = grant(id, t1).await;
        assert_eq!(pruned, if i == 0 { 2 } else { 0 });
    }
    let later = t1 + 11 * MINUTE;
    let first = grant("g-later-1", later).await;
    assert_eq!(first, SSO_GRANT_PRUNE_BATCH as u64);
    // (g-recent and g-next, dead by now, went with the backlog's first
    // sign-in.) The rest of the backlog goes with the next one.
    assert_eq!(grant("g-later-2", later).await, backlog - first);
    assert_eq!(grant("g-later-3", later).await, 0);
    // The live session's credential survived every prune.
    assert!(ia.sso_grant("t-live").await.unwrap().is_some());
}

async fn sqlite_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(
        &dir.path().join("t.db"),
        AuditOptions::new(audit_key(), Duration::ZERO),
    )
    .unwrap();
    (store, dir)
}

async fn postgres_store(test: &str) -> Option<(PostgresStore, PgDb)> {
    let db = PgDb::create(test).await?;
    let store = PostgresStore::connect(&db.url, 2, audit_key())
        .await
        .unwrap();
    Some((store, db))
}

fn audit_key() -> hush::audit::AuditKey {
    hush::audit::AuditKey::from_root(&hush::crypto::Key::generate().unwrap())
}

#[tokio::test]
async fn sqlite_jit_user_and_membership_are_one_write() {
    let (store, _dir) = sqlite_store().await;
    jit_user_and_membership_are_one_write(&store).await;
}

#[tokio::test]
async fn postgres_jit_user_and_membership_are_one_write() {
    let Some((store, _db)) = postgres_store("postgres_jit_user_and_membership_are_one_write").await
    else {
        return;
    };
    jit_user_and_membership_are_one_write(&store).await;
}

#[tokio::test]
async fn sqlite_dead_sso_grants_are_pruned_in_batches() {
    let (store, _dir) = sqlite_store().await;
    dead_sso_grants_are_pruned_in_batches(&store).await;
}

#[tokio::test]
async fn postgres_dead_sso_grants_are_pruned_in_batches() {
    let Some((store, _db)) = postgres_store("postgres_dead_sso_grants_are_pruned_in_batches").await
    else {
        return;
    };
    dead_sso_grants_are_pruned_in_batches(&store).await;
}

/// Through the API on a store that fails on demand: a JIT login never
/// goes through the separate user and membership writes (failing both
/// changes nothing), and when its one write fails the login is a 500 and
/// leaves no user; healed, the same person gets the account and the role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jit_login_is_one_store_write() {
    let mock = crate::sso::provider::start().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("sso-secret");
    std::fs::write(&secret, crate::sso::provider::CLIENT_SECRET).unwrap();
    let config = dir.path().join("hush.toml");
    std::fs::write(
        &config,
        format!(
            "[[sso_providers]]\nname = \"acme\"\nissuer = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"{}\"\njit = true\ndefault_role = \"developer\"\n",
            mock.url,
            crate::sso::provider::CLIENT_ID,
            secret.display()
        ),
    )
    .unwrap();
    let mut faulty = None;
    let srv = InProc::start_custom(
        |args| args.config = Some(config.clone()),
        |store| {
            let f = FaultyStore::new(store);
            faulty = Some(f.clone());
            f as Arc<dyn Store>
        },
    )
    .await;
    let faulty = faulty.unwrap();

    faulty.fail("put_membership", StoreError::Backend("db-detail".into()));
    assert_eq!(sign_in(&srv, &mock, "alice@acme.example").await, 302);
    assert_eq!(
        role_of(&srv, "alice@acme.example").await.as_deref(),
        Some("developer")
    );

    faulty.fail(
        "create_user_with_membership",
        StoreError::Backend("db-detail".into()),
    );
    assert_eq!(sign_in(&srv, &mock, "bob@acme.example").await, 500);
    faulty.heal();
    let users = srv.client().get("/api/v1/hush/users", &[]).await.unwrap();
    assert!(!users.to_string().contains("bob@acme.example"), "{users}");
    assert_eq!(sign_in(&srv, &mock, "bob@acme.example").await, 302);
    assert_eq!(
        role_of(&srv, "bob@acme.example").await.as_deref(),
        Some("developer")
    );

    // Several first sign-ins of one person at once: every one gets in,
    // as the one account (whichever write won created it, with its role).
    let mut callbacks = Vec::new();
    for _ in 0..6 {
        callbacks.push(to_callback(&srv, &mock, "carol@acme.example").await);
    }
    let mut set = tokio::task::JoinSet::new();
    for callback in callbacks {
        set.spawn(async move {
            let r = no_redirects().get(&callback).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        });
    }
    for (status, body) in set.join_all().await {
        assert_eq!(status, 302, "{body}");
    }
    let users = srv.client().get("/api/v1/hush/users", &[]).await.unwrap();
    assert_eq!(users.to_string().matches("carol@acme.example").count(), 1);
    assert_eq!(
        role_of(&srv, "carol@acme.example").await.as_deref(),
        Some("developer")
    );
}

/// Plays the CLI and the browser through `start`, the provider and the
/// server's callback for `email`; the callback's status.
async fn sign_in(srv: &InProc, mock: &crate::sso::provider::Mock, email: &str) -> u16 {
    let callback = to_callback(srv, mock, email).await;
    no_redirects()
        .get(&callback)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Through `start` and the provider: the server's callback URL for `email`.
async fn to_callback(srv: &InProc, mock: &crate::sso::provider::Mock, email: &str) -> String {
    *mock.next_email.lock().unwrap() = email.into();
    let http = no_redirects();
    let started: Value = http
        .post(format!("{}/api/v1/hush/sso/acme/start", srv.url))
        .json(&json!({ "redirectUri": "http://127.0.0.1:9/callback",
            "codeChallenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "state": "cli-state-0123456789" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at_idp = http
        .get(
            started["authorizationUrl"]
                .as_str()
                .expect("authorizationUrl"),
        )
        .send()
        .await
        .unwrap();
    at_idp.headers()["location"].to_str().unwrap().to_owned()
}

/// `email`'s role in the default project, if a member.
async fn role_of(srv: &InProc, email: &str) -> Option<String> {
    let members = srv
        .client()
        .get("/api/v1/hush/members", &[("projectId", "default".into())])
        .await
        .unwrap();
    members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == email)
        .map(|m| m["role"].as_str().unwrap().to_owned())
}
