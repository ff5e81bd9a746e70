//! Spawns real servers and runs the real binary.

use hush::api::audit::Verification;
use hush::api::auth::{BootstrapResponse, LoginResponse};
use hush::api::identities::ServiceTokenCreated;
use hush::api::secrets::Written;
use hush::api::users::UserInvited;
use hush::client::{ApiClient, ClientError};
use reqwest::Method;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

pub const BIN: &str = env!("CARGO_BIN_EXE_hush");
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestServer {
    child: Option<Child>,
    pub url: String,
    pub data_dir: PathBuf,
    pub stderr_log: PathBuf,
    pub token: String,
    extra: Vec<String>,
    envs: Vec<(String, String)>,
    _tmp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A fresh server on a new data dir, bootstrapped.
    pub async fn start(extra: &[&str]) -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_owned();
        let mut s = TestServer::spawn(&dir, extra).expect("server starts");
        s._tmp = Some(tmp);
        s.token = s.bootstrap().await;
        s
    }

    /// Like `start`, with extra environment variables (e.g. `HUSH_ROOT_KEY`).
    pub async fn start_with(extra: &[&str], envs: &[(&str, &str)]) -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_owned();
        let mut s = TestServer::spawn_with(&dir, extra, envs).expect("server starts");
        s._tmp = Some(tmp);
        s.token = s.bootstrap().await;
        s
    }

    /// Starts a server on `dir`; Err with its stderr if it exits before listening.
    pub fn spawn(dir: &Path, extra: &[&str]) -> Result<TestServer, String> {
        TestServer::spawn_with(dir, extra, &[])
    }

    /// `spawn` with environment variables set for the server (after
    /// `HUSH_ROOT_KEY` is cleared, so a test's key is the only one it sees).
    pub fn spawn_with(
        dir: &Path,
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> Result<TestServer, String> {
        let log = dir.join(format!("server-{}.log", std::process::id()));
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| e.to_string())?;
        let mut child = Command::new(BIN)
            .args(["server", "--data-dir"])
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("HUSH_ROOT_KEY")
            .env_remove("HUSH_DATABASE_URL")
            .envs(envs.iter().copied())
            .env("HUSH_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("hush server listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(std::fs::read_to_string(&log).unwrap_or_default());
            }
        };
        Ok(TestServer {
            child: Some(child),
            url,
            data_dir: dir.to_owned(),
            stderr_log: log,
            token: String::new(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            envs: envs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            _tmp: None,
        })
    }

    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The one-time code a new server wrote to its data dir.
    pub fn bootstrap_code(&self) -> String {
        bootstrap_code(&self.data_dir)
    }

    pub async fn bootstrap(&self) -> String {
        let c = ApiClient::new(&self.url, None).unwrap();
        let r: BootstrapResponse = c
            .send_as(
                Method::POST,
                "/api/v1/hush/bootstrap",
                &json!({ "email": "admin@example.com", "password": PASSWORD,
                         "bootstrapCode": self.bootstrap_code() }),
            )
            .await
            .expect("bootstrap");
        r.access_token
    }

    pub fn client(&self) -> ApiClient {
        ApiClient::new(&self.url, Some(Zeroizing::new(self.token.clone()))).unwrap()
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("hush.db")
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        c.wait().ok()
    }

    /// Starts again on the same data dir (same generated root key).
    pub fn restart(&mut self) {
        self.kill9();
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let envs: Vec<(&str, &str)> = self
            .envs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let again = TestServer::spawn_with(&self.data_dir, &extra, &envs).expect("restart");
        self.url = again.url.clone();
        self.child = again.into_child();
    }

    fn into_child(mut self) -> Option<Child> {
        self.child.take()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The bootstrap code in a server's data dir (empty once spent).
pub fn bootstrap_code(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("bootstrap-code"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

pub fn scope(env: &str, path: &str) -> Value {
    json!({ "workspaceId": "default", "environment": env, "secretPath": path })
}

pub fn scope_q(env: &str, path: &str) -> Vec<(&'static str, String)> {
    vec![
        ("workspaceId", "default".into()),
        ("environment", env.into()),
        ("secretPath", path.into()),
    ]
}

/// Upsert through hush's own route; returns the new version.
pub async fn set(c: &ApiClient, key: &str, value: &str) -> Result<i64, ClientError> {
    let mut body = scope("dev", "/");
    body["secretValue"] = json!(value);
    let r: Written = c
        .send_as(Method::PUT, &format!("/api/v1/hush/secrets/{key}"), &body)
        .await?;
    Ok(r.secret.version)
}

/// A read-only service token on project `default` scoped to `env`/`path`
/// (an hour); returns its id and the token.
pub async fn read_token(c: &ApiClient, env: &str, path: &str) -> (String, String) {
    let r: ServiceTokenCreated = c
        .send_as(
            Method::POST,
            "/api/v1/hush/tokens",
            &json!({ "projectId": "default", "name": "read-only",
                     "scopes": [{ "environment": env, "secretPath": path }], "ttl": 3600 }),
        )
        .await
        .unwrap();
    (r.view.id, r.token)
}

/// The audit events matching `filters` (the audit API's query), newest first.
pub async fn audit_events(c: &ApiClient, filters: &[(&str, String)]) -> Vec<Value> {
    let page = c.get("/api/v1/hush/audit", filters).await.unwrap();
    page["events"].as_array().unwrap().clone()
}

/// The server verifies its whole audit chain.
pub async fn assert_audit_chain_ok(c: &ApiClient) {
    let v: Verification = c.get_as("/api/v1/hush/audit/verify", &[]).await.unwrap();
    assert!(v.ok, "{v:?}");
}

pub async fn get(c: &ApiClient, key: &str, version: Option<i64>) -> Result<Value, ClientError> {
    let mut q = scope_q("dev", "/");
    if let Some(v) = version {
        q.push(("version", v.to_string()));
    }
    Ok(c.get(&format!("/api/v3/secrets/raw/{key}"), &q).await?["secret"].clone())
}

pub fn status(r: Result<Value, ClientError>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.status().unwrap_or(0),
    }
}

/// Runs the `hush` binary with a clean config dir.
pub fn hush(config_home: &Path, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("XDG_CONFIG_HOME", config_home)
        .env_remove("HUSH_TOKEN")
        .env_remove("HUSH_SERVER")
        .env_remove("HUSH_PROJECT")
        .env_remove("HUSH_ENV")
        .env_remove("HUSH_PATH")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run hush");
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        if let Some(bytes) = stdin {
            input.write_all(bytes).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

/// A new user `email` (password `PASSWORD`), with `role` and `overrides` in
/// project `default` unless `role` is None; returns a session of theirs.
pub async fn user_session(
    s: &TestServer,
    email: &str,
    role: Option<&str>,
    overrides: &[&str],
) -> String {
    let admin = s.client();
    let invite: UserInvited = admin
        .send_as(
            Method::POST,
            "/api/v1/hush/users",
            &json!({ "email": email }),
        )
        .await
        .unwrap();
    let anon = ApiClient::new(&s.url, None).unwrap();
    anon.send(
        Method::POST,
        "/api/v1/hush/users/accept-invite",
        &json!({ "inviteToken": invite.invite_token, "password": PASSWORD }),
    )
    .await
    .unwrap();
    if let Some(role) = role {
        admin
            .send(
                Method::POST,
                "/api/v1/hush/members",
                &json!({ "projectId": "default", "subject": email, "role": role, "overrides": overrides }),
            )
            .await
            .unwrap();
    }
    anon.send_as::<LoginResponse>(
        Method::POST,
        "/api/v1/hush/auth/login",
        &json!({ "email": email, "password": PASSWORD }),
    )
    .await
    .unwrap()
    .access_token
}

/// Polls `check` until it returns true or `timeout` passes.
pub async fn eventually(timeout: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
