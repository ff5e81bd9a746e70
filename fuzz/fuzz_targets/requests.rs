//! Request bodies and query strings of every route, sent in process to
//! `hush::server::router` on a SQLite store in a temporary directory (built
//! and bootstrapped once per process, rebuilt only if an input logs the
//! admin out or otherwise takes its token away).
//!
//! Input: byte 0 picks the route (method + path template), byte 1 the values
//! of its path parameters, the rest is the JSON body (or the query string of
//! routes that read one; for routes that read both, the query runs to the
//! first newline). `@P`, `@U` and `@I` in it become the bootstrap project's
//! id, a second user's id and a machine identity's id. Every request carries
//! the admin's token.
//!
//! Properties:
//! - no 5xx, except 503 from `/readyz` (the documented "database
//!   unavailable"); a 500 includes a handler panic caught by the
//!   catch-panic layer;
//! - every 4xx is JSON with the error envelope
//!   `{reqId, statusCode, message, error}` and `statusCode` matching;
//! - every 2xx body that is not empty is JSON.
#![no_main]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use hush::crypto::Key;
use hush::server::bootstrap_code::{BootstrapCode, Prepared};
use hush::server::client_addr::TrustedProxies;
use hush::server::rate_limit::RateLimiter;
use hush::server::{router, AppState, Shared};
use hush::service::{Keyring, Service, Settings};
use hush::store::sqlite::SqliteStore;
use hush::store::Store;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tower::ServiceExt;

/// How a route reads its input.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reads {
    Body,
    Query,
    /// Query up to the first newline, body after it.
    Both,
}
use Reads::*;

/// Every route of `hush::server::router`, in its order. The index is the
/// first input byte, so append new routes at the end (the seeds use it).
const ROUTES: &[(&str, &str, Reads)] = &[
    ("GET", "/healthz", Query),
    ("GET", "/readyz", Query),
    ("POST", "/api/v1/hush/bootstrap", Body),
    ("POST", "/api/v1/hush/auth/login", Body),
    ("POST", "/api/v1/hush/auth/logout", Body),
    ("GET", "/api/v1/hush/auth/whoami", Query),
    ("POST", "/api/v1/auth/universal-auth/login", Body),
    ("POST", "/api/v1/auth/token/renew", Body),
    ("POST", "/api/v1/auth/token/revoke", Body),
    ("POST", "/api/v1/hush/auth/password", Body),
    ("GET", "/api/v1/hush/users", Query),
    ("POST", "/api/v1/hush/users", Body),
    ("POST", "/api/v1/hush/users/accept-invite", Body),
    ("POST", "/api/v1/hush/users/accept-reset", Body),
    ("PATCH", "/api/v1/hush/users/{user}", Body),
    ("DELETE", "/api/v1/hush/users/{user}", Body),
    ("POST", "/api/v1/hush/users/{user}/disable", Body),
    ("POST", "/api/v1/hush/users/{user}/enable", Body),
    ("POST", "/api/v1/hush/users/{user}/reset-password", Body),
    ("GET", "/api/v1/hush/sessions", Query),
    ("DELETE", "/api/v1/hush/sessions/{id}", Query),
    ("GET", "/api/v1/hush/identities", Query),
    ("POST", "/api/v1/hush/identities", Body),
    ("DELETE", "/api/v1/hush/identities/{id}", Body),
    ("DELETE", "/api/v1/identities/{id}", Body),
    ("GET", "/api/v1/hush/identities/{id}/tokens", Query),
    (
        "DELETE",
        "/api/v1/hush/identities/{id}/tokens/{token_id}",
        Body,
    ),
    ("GET", "/api/v1/hush/identities/{id}/client-secrets", Query),
    ("POST", "/api/v1/hush/identities/{id}/client-secrets", Body),
    (
        "DELETE",
        "/api/v1/hush/identities/{id}/client-secrets/{secret_id}",
        Body,
    ),
    ("GET", "/api/v1/hush/tokens", Query),
    ("POST", "/api/v1/hush/tokens", Body),
    ("DELETE", "/api/v1/hush/tokens/{id}", Query),
    ("GET", "/api/v1/hush/members", Query),
    ("POST", "/api/v1/hush/members", Body),
    ("DELETE", "/api/v1/hush/members", Body),
    ("GET", "/api/v3/secrets/raw", Query),
    ("GET", "/api/v4/secrets", Query),
    ("GET", "/api/v1/secret-imports", Query),
    ("POST", "/api/v1/secret-imports", Body),
    ("DELETE", "/api/v1/secret-imports/{id}", Body),
    ("GET", "/api/v3/secrets/raw/{name}", Query),
    ("POST", "/api/v3/secrets/raw/{name}", Body),
    ("PATCH", "/api/v3/secrets/raw/{name}", Body),
    ("DELETE", "/api/v3/secrets/raw/{name}", Both),
    ("POST", "/api/v1/hush/secrets/batch", Body),
    ("PUT", "/api/v1/hush/secrets/{name}", Body),
    ("GET", "/api/v1/hush/secrets/{name}/history", Query),
    ("POST", "/api/v1/hush/secrets/{name}/rollback", Body),
    ("POST", "/api/v1/hush/secrets/{name}/restore", Body),
    ("POST", "/api/v1/hush/secrets/{name}/purge", Body),
    ("GET", "/api/v1/hush/deleted", Query),
    ("GET", "/api/v1/hush/changes", Query),
    ("GET", "/api/v1/hush/audit", Query),
    ("GET", "/api/v1/hush/audit/verify", Query),
    ("GET", "/api/v1/hush/projects", Query),
    ("POST", "/api/v2/workspace", Body),
    ("GET", "/api/v1/workspace/{project}/environments", Query),
    ("POST", "/api/v1/workspace/{project}/environments", Body),
    ("GET", "/api/v2/folders", Query),
    ("POST", "/api/v2/folders", Body),
    ("DELETE", "/api/v2/folders/{id_or_name}", Both),
    ("GET", "/api/v1/folders", Query),
    ("POST", "/api/v1/folders", Body),
    ("DELETE", "/api/v1/folders/{id_or_name}", Both),
    ("GET", "/api/docs/openapi.json", Query),
];

/// Routes after which the admin's token may be gone (logged out, revoked,
/// password changed, sessions revoked): checked with `whoami` afterwards.
const MAY_END_SESSION: &[&str] = &[
    "/api/v1/hush/auth/logout",
    "/api/v1/auth/token/revoke",
    "/api/v1/hush/auth/password",
    "/api/v1/hush/sessions/{id}",
    "/api/v1/hush/members",
    "/api/v1/hush/users/{user}",
    "/api/v1/hush/users/{user}/disable",
    "/api/v1/hush/users/{user}/reset-password",
    "/api/v1/auth/token/renew",
];

const PASSWORD: &str = "correct horse battery staple";

struct World {
    app: Router,
    token: String,
    project: String,
    user: String,
    identity: String,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

struct Fuzz {
    rt: tokio::runtime::Runtime,
    world: Option<World>,
}

fn peer() -> ConnectInfo<SocketAddr> {
    ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000)))
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, "hush-fuzz");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let mut req = req.body(Body::from(body)).expect("request");
    req.extensions_mut().insert(peer());
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, bytes.to_vec())
}

async fn call_json(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Value,
) -> Value {
    let (status, bytes) = call(app, method, uri, token, body.to_string().into_bytes()).await;
    let v: Value = serde_json::from_slice(&bytes).expect("setup answer is JSON");
    assert!(status.is_success(), "setup {method} {uri}: {status} {v}");
    v
}

/// A fresh server: SQLite in a temp dir (on tmpfs when there is one, since
/// the store fsyncs each commit), bootstrapped, with a second user and a
/// machine identity to aim path parameters at.
async fn build() -> World {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    remove_stale_dirs(&base);
    let dir = tempfile::Builder::new()
        .prefix(&format!("hush-fuzz-{}-", std::process::id()))
        .tempdir_in(&base)
        .expect("tempdir");
    let root = Key::generate().expect("root key");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(
            &dir.path().join("hush.db"),
            hush::store::audit_flush::AuditOptions::new(
                hush::audit::AuditKey::from_root(&root),
                Duration::ZERO,
            ),
        )
        .expect("open store"),
    );
    let (bootstrap_code, prepared) = BootstrapCode::prepare(&store, &root, dir.path())
        .await
        .expect("bootstrap code");
    let Prepared::Fresh(code) = prepared else {
        panic!("a fresh store is not bootstrapped");
    };
    let service = Arc::new(Service {
        store: store.clone(),
        keys: Keyring::new(root),
        settings: Settings::default(),
        write_locks: Default::default(),
        refusals: Default::default(),
    });
    let state = AppState::new(Shared {
        service,
        body_limit: 64 * 1024,
        stopping: Arc::new(tokio::sync::watch::Sender::new(false)),
        lists: Default::default(),
        trusted_proxies: TrustedProxies::new(Vec::new()),
        // Off: one fuzzing process makes every request from one address.
        auth_rate: RateLimiter::new("off".parse().expect("rate")),
        limits: Default::default(),
        allowed_hosts: Arc::from(Vec::new()),
        bootstrap_code: Arc::new(bootstrap_code),
    });
    let app = router(state);
    let boot = call_json(
        &app,
        "POST",
        "/api/v1/hush/bootstrap",
        None,
        json!({ "email": "admin@example.com", "password": PASSWORD, "bootstrapCode": code.as_str() }),
    )
    .await;
    let token = boot["accessToken"].as_str().expect("token").to_owned();
    let project = boot["project"]["id"].as_str().expect("project").to_owned();
    let user = call_json(
        &app,
        "POST",
        "/api/v1/hush/users",
        Some(&token),
        json!({ "email": "second@example.com" }),
    )
    .await["user"]["id"]
        .as_str()
        .expect("user id")
        .to_owned();
    let identity = call_json(
        &app,
        "POST",
        "/api/v1/hush/identities",
        Some(&token),
        json!({ "name": "fuzz-machine" }),
    )
    .await["identity"]["id"]
        .as_str()
        .expect("identity id")
        .to_owned();
    call_json(
        &app,
        "PUT",
        "/api/v1/hush/secrets/FUZZ_KEY",
        Some(&token),
        json!({ "workspaceId": project, "environment": "dev", "secretPath": "/", "secretValue": "v1" }),
    )
    .await;
    World {
        app,
        token,
        project,
        user,
        identity,
        store,
        _dir: dir,
    }
}

/// libFuzzer ends the process with `exit`, so the last world's directory is
/// never dropped: remove those of processes that are gone.
fn remove_stale_dirs(base: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("hush-fuzz-"))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn fuzz() -> &'static Mutex<Fuzz> {
    static FUZZ: OnceLock<Mutex<Fuzz>> = OnceLock::new();
    FUZZ.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Mutex::new(Fuzz { rt, world: None })
    })
}

/// `HUSH_FUZZ_VERBOSE=1`: print each request and its status (to check the
/// seeds reach the handlers).
fn verbose() -> bool {
    static VERBOSE: OnceLock<bool> = OnceLock::new();
    *VERBOSE.get_or_init(|| std::env::var_os("HUSH_FUZZ_VERBOSE").is_some())
}

fn substitute(bytes: &[u8], w: &World) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let marker = match bytes.get(i..i + 2) {
            Some(b"@P") => Some(w.project.as_str()),
            Some(b"@U") => Some(w.user.as_str()),
            Some(b"@I") => Some(w.identity.as_str()),
            _ => None,
        };
        match marker {
            Some(m) => {
                out.extend_from_slice(m.as_bytes());
                i += 2;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// Bytes as a query string: `=`, `&`, `%` and unreserved characters as
/// they are (so malformed escapes reach the parser), the rest escaped.
fn query(bytes: &[u8]) -> String {
    let mut q = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~=&%+/".contains(&b) {
            q.push(b as char);
        } else {
            q.push_str(&format!("%{b:02X}"));
        }
    }
    q
}

fn path(template: &str, choice: u8, w: &World) -> String {
    let candidates: [&str; 12] = [
        &w.user,
        &w.identity,
        &w.project,
        "FUZZ_KEY",
        "nope",
        "00000000-0000-0000-0000-000000000000",
        "%2E%2E",
        "%00",
        "a%2Fb",
        "%C3%A9",
        "%FF",
        "dev",
    ];
    let mut out = String::new();
    let mut rest = template;
    let mut n = 0usize;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').expect("template") + open;
        out.push_str(&rest[..open]);
        out.push_str(candidates[(choice as usize + n * 5) % candidates.len()]);
        n += 1;
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

fuzz_target!(|data: &[u8]| {
    let [route, choice, rest @ ..] = data else {
        return;
    };
    let (method, template, reads) = ROUTES[*route as usize % ROUTES.len()];
    let mut guard = fuzz().lock().unwrap_or_else(|e| e.into_inner());
    let Fuzz { rt, world } = &mut *guard;
    rt.block_on(async {
        if world.is_none() {
            *world = Some(build().await);
        }
        let w = world.as_ref().expect("world");
        let input = substitute(rest, w);
        let (q, body) = match reads {
            Body => (String::new(), input),
            Query => (query(&input), Vec::new()),
            Both => match input.iter().position(|&b| b == b'\n') {
                Some(nl) => (query(&input[..nl]), input[nl + 1..].to_vec()),
                None => (query(&input), Vec::new()),
            },
        };
        let mut uri = path(template, *choice, w);
        if !q.is_empty() {
            uri.push('?');
            uri.push_str(&q);
        }
        let (status, answer) = call(&w.app, method, &uri, Some(&w.token), body).await;
        if verbose() {
            eprintln!("{method} {uri} -> {status}");
        }
        check(method, template, &uri, status, &answer);

        if MAY_END_SESSION.contains(&template) {
            let (who, _) = call(
                &w.app,
                "GET",
                "/api/v1/hush/auth/whoami",
                Some(&w.token),
                Vec::new(),
            )
            .await;
            if who != StatusCode::OK {
                let old = world.take().expect("world");
                old.store.close().await;
                drop(old);
                *world = Some(build().await);
            }
        }
    });
});

fn check(method: &str, template: &str, uri: &str, status: StatusCode, answer: &[u8]) {
    let text = String::from_utf8_lossy(answer);
    if status.is_server_error() {
        let documented = status == StatusCode::SERVICE_UNAVAILABLE && template == "/readyz";
        assert!(documented, "{method} {uri}: {status} {text}");
    }
    if status.is_client_error() {
        let v: Value = serde_json::from_slice(answer).unwrap_or_else(|e| {
            panic!("{method} {uri}: {status} answer is not JSON ({e}): {text}")
        });
        assert!(v["reqId"].is_string(), "{method} {uri}: no reqId: {text}");
        assert_eq!(
            v["statusCode"],
            json!(status.as_u16()),
            "{method} {uri}: {text}"
        );
        assert!(v["error"].is_string(), "{method} {uri}: no error: {text}");
        assert!(
            !v["message"].is_null(),
            "{method} {uri}: no message: {text}"
        );
    }
    if status.is_success() && !answer.is_empty() {
        serde_json::from_slice::<Value>(answer).unwrap_or_else(|e| {
            panic!("{method} {uri}: {status} answer is not JSON ({e}): {text}")
        });
    }
}
