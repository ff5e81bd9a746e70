//! `awskms` with temporary credentials from the instance metadata service
//! (IMDSv2) and the container credentials endpoint, the last steps of the
//! AWS credential chain.
//!
//! Two metadata services: moto's own emulation (moto_server answers the
//! IMDS paths; it hands out any token and does not check it), for the whole
//! way — hush asks moto's IMDS for credentials and uses them against moto's
//! KMS; and a strict one written here (`FakeImds`) that holds hush to
//! IMDSv2's contract: a token by PUT with its TTL header, no GET without a
//! valid token, no proxied token request; it also serves credentials that
//! expire soon, to see hush renew them before they do.

use super::awskms::Moto;
use super::*;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, put};
use std::sync::{Arc, Mutex};

const REGION: &str = "us-east-1";

/// What the fake service saw and how it answers.
#[derive(Default)]
struct Seen {
    tokens: Vec<String>,
    ttl_headers: Vec<String>,
    /// GETs without a valid token (IMDSv1-style) or with a bad one.
    unauthorized: usize,
    credential_gets: usize,
    role_gets: usize,
    authorization: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    NoRole,
    HugeCredentials,
}

struct Issued {
    id: &'static str,
    secret: &'static str,
    session: &'static str,
    /// Seconds from now.
    lifetime: i64,
}

/// The first credentials enter hush's renewal window (5 minutes before
/// expiry) 15 seconds after they are issued; the second ones last an hour.
const ISSUED: [Issued; 2] = [
    Issued {
        id: "ASIAHUSHIMDSFIRST001",
        secret: "imds/first+secret/key/0123456789abcdefgh",
        session: "imds-session-token-first-9f8e7d6c5b4a",
        lifetime: 5 * 60 + 15,
    },
    Issued {
        id: "ASIAHUSHIMDSSECOND02",
        secret: "imds/second+secret/key/0123456789abcdefg",
        session: "imds-session-token-second-1a2b3c4d5e6f",
        lifetime: 3600,
    },
];

#[derive(Clone)]
struct Fake {
    seen: Arc<Mutex<Seen>>,
    mode: Mode,
    /// For the container endpoint: the Authorization value it wants.
    authorization: Option<String>,
}

fn credentials_json(n: usize) -> String {
    let issued = &ISSUED[n.min(ISSUED.len() - 1)];
    let expires = time::OffsetDateTime::now_utc() + time::Duration::seconds(issued.lifetime);
    let expires = expires
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    json!({
        "Code": "Success",
        "LastUpdated": "2026-12-05T00:00:00Z",
        "Type": "AWS-HMAC",
        "AccessKeyId": issued.id,
        "SecretAccessKey": issued.secret,
        "Token": issued.session,
        "Expiration": expires,
    })
    .to_string()
}

async fn token(State(f): State<Fake>, headers: HeaderMap) -> (StatusCode, String) {
    // Real IMDS refuses a token request that came through a proxy.
    if headers.contains_key("x-forwarded-for") {
        return (StatusCode::FORBIDDEN, String::new());
    }
    let ttl = headers
        .get("x-aws-ec2-metadata-token-ttl-seconds")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut seen = f.seen.lock().unwrap();
    let Some(ttl) = ttl.filter(|t| t.parse::<u32>().is_ok_and(|n| (1..=21600).contains(&n))) else {
        return (StatusCode::BAD_REQUEST, String::new());
    };
    seen.ttl_headers.push(ttl);
    let token = format!("imds-v2-token-{}", uuid::Uuid::new_v4().simple());
    seen.tokens.push(token.clone());
    (StatusCode::OK, token)
}

fn authorized(f: &Fake, headers: &HeaderMap) -> bool {
    let mut seen = f.seen.lock().unwrap();
    let ok = headers
        .get("x-aws-ec2-metadata-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| seen.tokens.iter().any(|k| k == t));
    if !ok {
        seen.unauthorized += 1;
    }
    ok
}

async fn roles(State(f): State<Fake>, headers: HeaderMap) -> (StatusCode, String) {
    if !authorized(&f, &headers) {
        return (StatusCode::UNAUTHORIZED, String::new());
    }
    f.seen.lock().unwrap().role_gets += 1;
    match f.mode {
        Mode::NoRole => (StatusCode::NOT_FOUND, String::new()),
        _ => (StatusCode::OK, "hush-server-role\n".into()),
    }
}

async fn role_credentials(
    State(f): State<Fake>,
    UrlPath(role): UrlPath<String>,
    headers: HeaderMap,
) -> (StatusCode, String) {
    if !authorized(&f, &headers) {
        return (StatusCode::UNAUTHORIZED, String::new());
    }
    if role != "hush-server-role" {
        return (StatusCode::NOT_FOUND, String::new());
    }
    let n = {
        let mut seen = f.seen.lock().unwrap();
        seen.credential_gets += 1;
        seen.credential_gets - 1
    };
    match f.mode {
        Mode::HugeCredentials => (StatusCode::OK, "x".repeat(64 * 1024)),
        _ => (StatusCode::OK, credentials_json(n)),
    }
}

async fn container(State(f): State<Fake>, headers: HeaderMap) -> (StatusCode, String) {
    let got = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    {
        let mut seen = f.seen.lock().unwrap();
        seen.authorization.push(got.clone());
        seen.credential_gets += 1;
    }
    if f.authorization.as_deref() != Some(got.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            json!({ "code": "AccessDenied", "message": "bad token" }).to_string(),
        );
    }
    // The container endpoint sends only the four fields.
    let issued = &ISSUED[1];
    (
        StatusCode::OK,
        json!({
            "AccessKeyId": issued.id,
            "SecretAccessKey": issued.secret,
            "Token": issued.session,
            "Expiration": "2099-01-01T00:00:00Z",
        })
        .to_string(),
    )
}

struct FakeImds {
    port: u16,
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeImds {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeImds {
    async fn start(mode: Mode, authorization: Option<&str>) -> FakeImds {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let state = Fake {
            seen: seen.clone(),
            mode,
            authorization: authorization.map(str::to_owned),
        };
        let app = axum::Router::new()
            .route("/latest/api/token", put(token))
            .route("/latest/meta-data/iam/security-credentials/", get(roles))
            .route(
                "/latest/meta-data/iam/security-credentials/{role}",
                get(role_credentials),
            )
            .route("/container/credentials", get(container))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeImds { port, seen, task }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

struct Kms {
    moto: Moto,
    dir: tempfile::TempDir,
    config: PathBuf,
}

/// moto's KMS with a key, and a hush config for it (no profile).
async fn kms(test: &str) -> Option<Kms> {
    let moto = Moto::start(test).await?;
    let key = moto
        .kms("CreateKey", json!({ "Description": "hush root" }))
        .await;
    let key_id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hush.toml");
    std::fs::write(
        &config,
        format!(
            "[awskms]\nkey_id = \"{key_id}\"\nendpoint = \"http://127.0.0.1:{}\"\ntimeout = \"2s\"\n",
            moto.port
        ),
    )
    .unwrap();
    Some(Kms { moto, dir, config })
}

impl Kms {
    /// The environment of a host with no static keys: empty key variables
    /// (the chain treats them as unset), no shared files, the metadata
    /// service at `imds`.
    fn envs<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let home = self.dir.path().to_str().unwrap();
        let mut envs = vec![
            ("AWS_ACCESS_KEY_ID", ""),
            ("AWS_SECRET_ACCESS_KEY", ""),
            ("AWS_SESSION_TOKEN", ""),
            ("AWS_PROFILE", ""),
            ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", ""),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", ""),
            ("AWS_EC2_METADATA_DISABLED", ""),
            ("AWS_REGION", REGION),
            ("HOME", home),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
            ("AWS_CONFIG_FILE", "/nonexistent/config"),
        ];
        for (k, v) in extra {
            envs.retain(|(name, _)| name != k);
            envs.push((*k, *v));
        }
        envs
    }

    /// Starts hush with `envs`; it must exit 1. Returns its stderr.
    fn start_fails(&self, envs: &[(&str, &str)]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(BIN)
            .args(["server", "--data-dir"])
            .arg(dir.path())
            .args(["--listen", "127.0.0.1:0"])
            .args(provider_args("awskms", &self.config))
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        stderr
    }
}

/// The whole way through moto: hush, given no keys, takes the instance
/// role's credentials from moto's metadata service and uses them with
/// moto's KMS; start, write, restart, read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awskms_credentials_from_moto_instance_metadata() {
    let Some(k) = kms("awskms_credentials_from_moto_instance_metadata").await else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", k.moto.port);
    let envs = k.envs(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint.as_str())]);
    let mut s = TestServer::start_with(&provider_args("awskms", &k.config), &envs).await;
    start_write_restart_read(&mut s).await;
    assert!(
        s.log()
            .contains("credentials from instance metadata (role \"default-role\")"),
        "{}",
        s.log()
    );
    s.stop();
    // moto's fixed credentials: neither the secret key nor the session
    // token is written anywhere.
    never_on_disk(
        &[&s.data_dir],
        &[
            b"test-secret-key".as_slice(),
            b"test-session-token".as_slice(),
        ],
    );
}

/// IMDSv2's contract, held by the strict fake: a token by PUT with a TTL,
/// every GET with it, never an unauthenticated GET; credentials renewed
/// before they expire, while the server runs; none of them on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awskms_imdsv2_token_flow_and_renewal_before_expiry() {
    let Some(k) = kms("awskms_imdsv2_token_flow_and_renewal").await else {
        return;
    };
    let imds = FakeImds::start(Mode::Normal, None).await;
    let url = imds.url();
    let envs = k.envs(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", url.as_str())]);
    let s = TestServer::start_with(&provider_args("awskms", &k.config), &envs).await;
    set(&s.client(), "FROM_IMDS", "works").await.unwrap();
    {
        let seen = imds.seen.lock().unwrap();
        assert_eq!(seen.unauthorized, 0, "a GET without a valid token");
        assert_eq!(seen.credential_gets, 1);
        assert_eq!(seen.role_gets, 1);
        assert_eq!(seen.ttl_headers, vec!["21600".to_owned()]);
    }
    assert!(
        s.log()
            .contains("credentials from instance metadata (role \"hush-server-role\")"),
        "{}",
        s.log()
    );
    // The first credentials enter the renewal window 15 s after they were
    // issued: the next KMS call (a new project wraps a data key) renews them.
    let renewed = eventually(Duration::from_secs(45), async || {
        let name = format!("p{}", uuid::Uuid::new_v4().simple());
        assert_eq!(create_project(&s, &name).await, 200);
        imds.seen.lock().unwrap().credential_gets >= 2
    })
    .await;
    assert!(renewed, "the credentials were not renewed before expiry");
    assert!(s
        .log()
        .contains("credentials renewed from instance metadata"));
    // The second ones last an hour: no more lookups.
    for _ in 0..3 {
        set(&s.client(), "FROM_IMDS", "still works").await.unwrap();
        let name = format!("q{}", uuid::Uuid::new_v4().simple());
        assert_eq!(create_project(&s, &name).await, 200);
    }
    {
        let seen = imds.seen.lock().unwrap();
        assert_eq!(seen.credential_gets, 2);
        assert_eq!(seen.unauthorized, 0);
    }
    let mut s = s;
    s.stop();
    let mut needles: Vec<&[u8]> = Vec::new();
    for i in &ISSUED {
        needles.push(i.secret.as_bytes());
        needles.push(i.session.as_bytes());
    }
    never_on_disk(&[&s.data_dir], &needles);
}

/// Where the chain ends: metadata turned off, no role, an oversized
/// answer, nothing listening — each a one-line error at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awskms_instance_metadata_failures_at_start() {
    let Some(k) = kms("awskms_instance_metadata_failures_at_start").await else {
        return;
    };
    let off = k.start_fails(&k.envs(&[("AWS_EC2_METADATA_DISABLED", "true")]));
    assert!(
        off.contains("no AWS credentials") && off.contains("AWS_EC2_METADATA_DISABLED=true"),
        "{off}"
    );

    let no_role = FakeImds::start(Mode::NoRole, None).await;
    let url = no_role.url();
    let err = k.start_fails(&k.envs(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", url.as_str())]));
    assert!(err.contains("no IAM role is attached"), "{err}");

    let huge = FakeImds::start(Mode::HugeCredentials, None).await;
    let url = huge.url();
    let err = k.start_fails(&k.envs(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", url.as_str())]));
    assert!(err.contains("answer larger than"), "{err}");

    let closed = format!("http://127.0.0.1:{}", free_port());
    let err = k.start_fails(&k.envs(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", closed.as_str())]));
    assert!(
        err.contains(&format!("instance metadata at {closed}")),
        "{err}"
    );

    let bad = k.start_fails(&k.envs(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "ftp://x")]));
    assert!(bad.contains("is not an http(s) URL"), "{bad}");

    // A profile named explicitly with no keys does not fall through to the
    // instance's role.
    let err = k.start_fails(&k.envs(&[
        ("AWS_PROFILE", "ops"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", url.as_str()),
    ]));
    assert!(err.contains("profile \"ops\" has no"), "{err}");
}

/// The container endpoint (ECS task role, EKS Pod Identity): the full URI
/// with the authorization token from its file; a wrong token is refused
/// with the endpoint's status; plain HTTP elsewhere is not used at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awskms_container_credentials_endpoint() {
    let Some(k) = kms("awskms_container_credentials_endpoint").await else {
        return;
    };
    const AUTH: &str = "container-auth-token-7c1e2f";
    let fake = FakeImds::start(Mode::Normal, Some(AUTH)).await;
    let full = format!("{}/container/credentials", fake.url());
    let token_file = k.dir.path().join("token");
    private_file(&token_file, &format!("{AUTH}\n"));
    let token_path = token_file.to_str().unwrap().to_owned();
    let envs = k.envs(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", full.as_str()),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_path.as_str(),
        ),
        // Not reached: the container endpoint comes first.
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9"),
    ]);
    let mut s = TestServer::start_with(&provider_args("awskms", &k.config), &envs).await;
    start_write_restart_read(&mut s).await;
    let expected = format!(
        "credentials from the container credentials endpoint http://127.0.0.1:{}",
        fake.port
    );
    assert!(s.log().contains(&expected), "{}", s.log());
    assert!(fake
        .seen
        .lock()
        .unwrap()
        .authorization
        .iter()
        .all(|a| a == AUTH));
    s.stop();
    never_on_disk(
        &[&s.data_dir],
        &[AUTH.as_bytes(), ISSUED[1].secret.as_bytes()],
    );

    private_file(&token_file, "wrong-token");
    let err = k.start_fails(&envs);
    assert!(
        err.contains("container credentials endpoint") && err.contains("401"),
        "{err}"
    );
    assert!(!err.contains("wrong-token"), "{err}");

    let elsewhere = k.start_fails(&k.envs(&[(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "http://10.1.2.3/creds",
    )]));
    assert!(elsewhere.contains("use https://"), "{elsewhere}");
}

/// The token never goes through an `HTTP_PROXY`: the endpoint, reached by a
/// name (`localhost`, which the proxy settings do not exempt), is asked
/// directly, at the addresses its check resolved; the proxy sees nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awskms_container_credentials_bypass_the_proxy() {
    let Some(k) = kms("awskms_container_credentials_bypass_the_proxy").await else {
        return;
    };
    const AUTH: &str = "container-auth-token-proxy-93d4";
    let fake = FakeImds::start(Mode::Normal, Some(AUTH)).await;
    let full = format!("http://localhost:{}/container/credentials", fake.port);
    // A "proxy" that only counts who connects.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://127.0.0.1:{}", proxy.local_addr().unwrap().port());
    let connected = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tokio::spawn({
        let connected = connected.clone();
        async move {
            while let Ok((conn, _)) = proxy.accept().await {
                connected.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(conn);
            }
        }
    });
    let envs = k.envs(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", full.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", AUTH),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9"),
        ("HTTP_PROXY", proxy_url.as_str()),
        ("http_proxy", proxy_url.as_str()),
        // moto's KMS (at 127.0.0.1) is not what this test is about.
        ("NO_PROXY", "127.0.0.1"),
        ("no_proxy", "127.0.0.1"),
    ]);
    let mut s = TestServer::start_with(&provider_args("awskms", &k.config), &envs).await;
    start_write_restart_read(&mut s).await;
    assert!(
        s.log()
            .contains("credentials from the container credentials endpoint http://localhost"),
        "{}",
        s.log()
    );
    assert!(!fake.seen.lock().unwrap().authorization.is_empty());
    assert_eq!(
        connected.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the proxy was used"
    );
}
