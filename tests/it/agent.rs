//! `hush agent` through the real binary against a real server: renders,
//! freshness from the change feed, on-change commands, re-login, reload,
//! exit-after-render, a server that goes away, and Infisical's own example.

use crate::harness::{eventually, set, TestServer, BIN};
use crate::pg::PgDb;
use reqwest::Method;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running agent; stopped with SIGTERM and reaped on drop.
struct Agent {
    child: Option<Child>,
    log: PathBuf,
}

impl Agent {
    fn start(config: &Path, extra: &[&str]) -> Agent {
        Agent::start_with_env(config, extra, &[])
    }

    fn start_with_env(config: &Path, extra: &[&str], envs: &[(&str, &str)]) -> Agent {
        let log = config.with_extension("agent.log");
        let stderr = std::fs::File::create(&log).unwrap();
        let child = Command::new(BIN)
            .args(["agent", "--config"])
            .arg(config)
            .args(["--debounce", "100ms"])
            .args(extra)
            .env_remove("HUSH_TOKEN")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("agent starts");
        Agent {
            child: Some(child),
            log,
        }
    }

    fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            Command::new("kill")
                .args([&format!("-{sig}"), &c.id().to_string()])
                .status()
                .unwrap();
        }
    }

    /// SIGTERM and wait for the exit status.
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        c.wait().ok()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A machine identity with viewer access to `default`; its client id and
/// secret written to files in `dir`.
async fn identity_files(s: &TestServer, dir: &Path, ttl: Option<i64>) -> (PathBuf, PathBuf) {
    let mut body = json!({ "name": "agent" });
    if let Some(ttl) = ttl {
        body["accessTokenTTL"] = json!(ttl);
    }
    let made: Value = s
        .client()
        .send(Method::POST, "/api/v1/hush/identities", &body)
        .await
        .unwrap();
    s.client()
        .send(
            Method::POST,
            "/api/v1/hush/members",
            &json!({ "projectId": "default", "subject": "agent", "role": "viewer" }),
        )
        .await
        .unwrap();
    let id = dir.join("client-id");
    let secret = dir.join("client-secret");
    std::fs::write(&id, made["clientId"].as_str().unwrap()).unwrap();
    std::fs::write(&secret, made["clientSecret"].as_str().unwrap()).unwrap();
    (id, secret)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn lines(p: &Path) -> usize {
    read(p).lines().count()
}

fn status(dir: &Path) -> Value {
    serde_json::from_str(&read(&dir.join("status.json"))).unwrap_or(Value::Null)
}

/// Whether the agent's status file reports `freshness` `want` (push: the
/// feed is open; polling: it is down) within `secs` seconds.
async fn freshness_becomes(dir: &Path, want: &str, secs: u64) -> bool {
    eventually(Duration::from_secs(secs), async || {
        status(dir)["freshness"] == want
    })
    .await
}

fn ua_config(url: &str, id: &Path, secret: &Path, dir: &Path, templates: &str) -> PathBuf {
    let cfg = dir.join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            r#"infisical:
  address: "{url}"
auth:
  type: "universal-auth"
  config:
    client-id: "{}"
    client-secret: "{}"
sinks:
  - type: "file"
    config:
      path: "{}"
status-file: "{}"
templates:
{templates}"#,
            id.display(),
            secret.display(),
            dir.join("token").display(),
            dir.join("status.json").display(),
        ),
    )
    .unwrap();
    cfg
}

/// A template item's first lines: `KEY=value` lines of dev:/ (a YAML block
/// scalar, so the template's quotes need no escaping).
const KV: &str = "  - template-content: |-\n      {{ range listSecrets \"default\" \"dev\" \"/\" }}{{ .Key }}={{ .Value }}\n      {{ end }}\n";

#[tokio::test]
async fn renders_then_follows_changes_once_each_and_ignores_no_ops() {
    follows_changes(TestServer::start(&[]).await).await
}

/// The same on PostgreSQL, whose feed is woken by LISTEN/NOTIFY.
#[tokio::test]
async fn follows_changes_on_postgres() {
    let Some(db) = PgDb::create("agent_follows_changes").await else {
        return;
    };
    follows_changes(db.start(&[]).await).await
}

async fn follows_changes(s: TestServer) {
    let c = s.client();
    set(&c, "A_FIRST", "canary-first-3f9d").await.unwrap();
    set(&c, "B_SECOND", "canary-second-77c1").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (id, secret) = identity_files(&s, dir.path(), None).await;
    let out = dir.path().join("app.env");
    let runs = dir.path().join("runs.txt");
    let cfg = ua_config(
        &s.url,
        &id,
        &secret,
        dir.path(),
        &format!(
            "{KV}    destination-path: \"{}\"\n    config:\n      execute:\n        command: \"echo ran >> {}\"\n        timeout: 10\n",
            out.display(),
            runs.display()
        ),
    );
    let mut agent = Agent::start(&cfg, &[]);
    let first = "A_FIRST=canary-first-3f9d\nB_SECOND=canary-second-77c1\n";
    assert!(
        eventually(Duration::from_secs(15), async || read(&out) == first).await,
        "first render: {:?}\n{}",
        read(&out),
        agent.log()
    );
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let sink_mode = std::fs::metadata(dir.path().join("token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(sink_mode & 0o777, 0o600);
    assert!(eventually(Duration::from_secs(5), async || lines(&runs) == 1).await);
    // The feed is open once the status says so.
    assert!(
        freshness_becomes(dir.path(), "push", 5).await,
        "{}",
        agent.log()
    );

    // Only the second secret changes: the file follows within a second.
    set(&c, "B_SECOND", "canary-second-changed").await.unwrap();
    let started = Instant::now();
    let second = "A_FIRST=canary-first-3f9d\nB_SECOND=canary-second-changed\n";
    assert!(
        eventually(Duration::from_secs(5), async || read(&out) == second).await,
        "{}",
        agent.log()
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "re-rendered after {:?}",
        started.elapsed()
    );
    assert!(eventually(Duration::from_secs(5), async || lines(&runs) == 2).await);

    // The same value again: nothing is written and the command does not run.
    let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&out).unwrap());
    let writes = status(dir.path())["templates"][0]["writes"].clone();
    set(&c, "B_SECOND", "canary-second-changed").await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&out).unwrap()),
        ino
    );
    assert_eq!(status(dir.path())["templates"][0]["writes"], writes);
    assert_eq!(lines(&runs), 2, "the command ran again");

    assert_eq!(agent.stop().map(|s| s.code()), Some(Some(0)));
    let log = agent.log();
    let status_text = read(&dir.path().join("status.json"));
    for canary in ["canary-first-3f9d", "canary-second", "hush_cs_"] {
        assert!(!log.contains(canary), "{canary} in the agent's log:\n{log}");
        assert!(!status_text.contains(canary), "{canary} in the status file");
    }
}

#[tokio::test]
async fn relogin_with_unchanged_values_renders_and_runs_nothing() {
    let s = TestServer::start(&[]).await;
    set(&s.client(), "ONLY", "v1").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A 4 s token: renewed after 3 s.
    let (id, secret) = identity_files(&s, dir.path(), Some(4)).await;
    let out = dir.path().join("app.env");
    let runs = dir.path().join("runs.txt");
    let cfg = ua_config(
        &s.url,
        &id,
        &secret,
        dir.path(),
        &format!(
            "{KV}    destination-path: \"{}\"\n    config:\n      execute:\n        command: \"echo ran >> {}\"\n",
            out.display(),
            runs.display()
        ),
    );
    // The secret is read once, its file removed, and the re-logins use the
    // copy kept in memory.
    let text = read(&cfg).replace(
        "    client-secret:",
        "    remove_client_secret_on_read: true\n    client-secret:",
    );
    std::fs::write(&cfg, text).unwrap();
    let agent = Agent::start(&cfg, &[]);
    assert!(eventually(Duration::from_secs(15), async || read(&out) == "ONLY=v1\n").await);
    assert!(!secret.exists(), "the client secret file is still there");
    assert!(eventually(Duration::from_secs(5), async || lines(&runs) == 1).await);
    let token = read(&dir.path().join("token"));
    let login = status(dir.path())["lastLoginAt"].clone();
    // Two renewals later.
    assert!(
        eventually(Duration::from_secs(10), async || {
            read(&dir.path().join("token")) != token && status(dir.path())["lastLoginAt"] != login
        })
        .await,
        "{}",
        agent.log()
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let st = status(dir.path());
    assert_eq!(st["templates"][0]["writes"], 1, "{st}");
    assert_eq!(lines(&runs), 1);
    // And it still follows changes with the new token.
    set(&s.client(), "ONLY", "v2").await.unwrap();
    assert!(
        eventually(Duration::from_secs(5), async || read(&out) == "ONLY=v2\n").await,
        "{}",
        agent.log()
    );
}

#[tokio::test]
async fn infisical_docs_config_and_template_render_with_exit_after_render() {
    let s = TestServer::start(&[]).await;
    set(&s.client(), "API_KEY", "k-123").await.unwrap();
    set(&s.client(), "DB_URL", "postgres://db").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (id, secret) = identity_files(&s, dir.path(), None).await;
    // Infisical's quick-start template, verbatim but for the project id.
    let template = dir.path().join("my-dot-ev-secret-template");
    std::fs::write(
        &template,
        "{{- with secret \"default\" \"dev\" \"/\" }}\n{{- range . }}\n{{ .Key }}={{ .Value }}\n{{- end }}\n{{- end }}\n",
    )
    .unwrap();
    let out = dir.path().join(".env");
    // Infisical's example config, with the paths of this test.
    let cfg = dir.path().join("example-agent-config-file.yaml");
    std::fs::write(
        &cfg,
        format!(
            r#"infisical:
  address: "{}"
auth:
  type: "universal-auth"
  config:
    client-id: "{}"
    client-secret: "{}"
    remove_client_secret_on_read: false
sinks:
  - type: "file"
    config:
      path: "{}"
templates:
  - source-path: {}
    destination-path: {}
    config:
      polling-interval: 60s
      execute:
        timeout: 30
        command: ./reload-app.sh
"#,
            s.url,
            id.display(),
            secret.display(),
            dir.path().join("access-token").display(),
            template.display(),
            out.display()
        ),
    )
    .unwrap();
    let mut agent = Agent::start(&cfg, &["--exit-after-render"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(st) = agent.child.as_mut().unwrap().try_wait().unwrap() {
            break st.code();
        }
        assert!(Instant::now() < deadline, "still running:\n{}", agent.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(code, Some(0), "{}", agent.log());
    agent.child = None;
    // What Go's text/template makes of it: the newline before each line is kept.
    assert_eq!(read(&out), "\nAPI_KEY=k-123\nDB_URL=postgres://db\n");
    assert!(!read(&dir.path().join("access-token")).is_empty());
}

#[tokio::test]
async fn sighup_reload_adds_a_template_and_a_bad_config_is_refused() {
    let s = TestServer::start(&[]).await;
    set(&s.client(), "K", "v").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("tok");
    std::fs::write(&token_file, &s.token).unwrap();
    let one = dir.path().join("one.env");
    let two = dir.path().join("two.env");
    let cfg = dir.path().join("agent.yaml");
    let write_cfg = |templates: &str| {
        std::fs::write(
            &cfg,
            format!(
                "infisical: {{address: \"{}\"}}\nauth: {{type: token, config: {{path: \"{}\"}}}}\nstatus-file: \"{}\"\ntemplates:\n{templates}",
                s.url,
                token_file.display(),
                dir.path().join("status.json").display()
            ),
        )
        .unwrap()
    };
    let t = |dest: &Path, mode: &str| {
        format!(
            "{KV}    destination-path: \"{}\"\n    mode: \"{mode}\"\n",
            dest.display()
        )
    };
    write_cfg(&t(&one, "0600"));
    let agent = Agent::start(&cfg, &[]);
    assert!(eventually(Duration::from_secs(15), async || read(&one) == "K=v\n").await);

    // A broken config is reported and the running one kept.
    std::fs::write(&cfg, "auth: [").unwrap();
    agent.signal("HUP");
    assert!(
        eventually(Duration::from_secs(5), async || agent
            .log()
            .contains("reload failed"))
        .await
    );
    write_cfg(&(t(&one, "0600") + &t(&two, "0640")));
    agent.signal("HUP");
    assert!(
        eventually(Duration::from_secs(10), async || read(&two) == "K=v\n").await,
        "{}",
        agent.log()
    );
    let mode = std::fs::metadata(&two).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    // `hush agent status` reads the same file.
    let out = Command::new(BIN)
        .args(["agent", "status", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("two.env"), "{text}");
}

#[tokio::test]
async fn server_down_keeps_the_file_and_the_agent_recovers() {
    let mut s = TestServer::start(&[]).await;
    set(&s.client(), "K", "canary-offline-before-7d1")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("tok");
    std::fs::write(&token_file, &s.token).unwrap();
    let out = dir.path().join("app.env");
    let cache_dir = dir.path().join("cache");
    let cfg = dir.path().join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "infisical: {{address: \"{}\"}}\nauth: {{type: token, config: {{path: \"{}\"}}}}\nstatus-file: \"{}\"\noffline-cache: {{path: \"{}\", max-age: 1h}}\ntemplates:\n{KV}    destination-path: \"{}\"\n    config: {{polling-interval: 1s}}\n",
            s.url,
            token_file.display(),
            dir.path().join("status.json").display(),
            cache_dir.display(),
            out.display()
        ),
    )
    .unwrap();
    let before = "K=canary-offline-before-7d1\n";
    let mut agent = Agent::start(&cfg, &[]);
    assert!(eventually(Duration::from_secs(15), async || read(&out) == before).await);
    let port = s.url.rsplit(':').next().unwrap().to_owned();
    s.kill9();
    // The feed notices, then polls; the file is left alone.
    assert!(
        freshness_becomes(dir.path(), "polling", 10).await,
        "{}",
        agent.log()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(read(&out), before);
    let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&out).unwrap());

    // The offline cache holds the render, encrypted.
    let cached: Vec<PathBuf> = std::fs::read_dir(&cache_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    let raw = std::fs::read(&cached[0]).unwrap();
    assert!(!raw.windows(14).any(|w| w == b"canary-offline"));
    assert_eq!(
        std::fs::metadata(&cached[0]).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Polling renders from the cache meanwhile: the same bytes, no write.
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&out).unwrap()),
        ino
    );

    // Restarted while the server is down (the file lost, as in a new pod
    // with a fresh emptyDir): it renders from the offline cache.
    assert_eq!(agent.stop().and_then(|st| st.code()), Some(0));
    std::fs::remove_file(&out).unwrap();
    let agent = Agent::start(&cfg, &[]);
    assert!(
        eventually(Duration::from_secs(15), async || read(&out) == before).await,
        "{}",
        agent.log()
    );
    assert!(
        eventually(Duration::from_secs(5), async || status(dir.path())
            ["templates"][0]["offlineSince"]
            .is_string())
        .await
    );
    let st = status(dir.path());
    assert!(
        st["templates"][0]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("offline cache")),
        "{st}"
    );
    assert!(!agent.log().contains("canary-offline"), "{}", agent.log());
    // `hush agent status` says so, and is not healthy while it lasts.
    let shown = Command::new(BIN)
        .args(["agent", "status", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("from the offline cache since"), "{text}");
    assert_eq!(shown.status.code(), Some(1));

    // The server comes back on the same address with a new value.
    let mut server = Command::new(BIN)
        .args(["server", "--data-dir"])
        .arg(&s.data_dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env_remove("HUSH_ROOT_KEY")
        .env_remove("HUSH_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let c = s.client();
    assert!(
        eventually(Duration::from_secs(15), async || set(&c, "K", "after")
            .await
            .is_ok())
        .await
    );
    assert!(
        eventually(Duration::from_secs(30), async || read(&out) == "K=after\n").await,
        "{}",
        agent.log()
    );
    // The status follows the write.
    assert!(
        eventually(Duration::from_secs(5), async || status(dir.path())
            ["templates"][0]["offlineSince"]
            .is_null())
        .await,
        "{}",
        status(dir.path())
    );
    drop(agent);
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
}

/// Without `offline-cache`, a restart while the server is down writes nothing.
#[tokio::test]
async fn without_offline_cache_a_restart_while_down_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("tok");
    std::fs::write(&token_file, "hush_at_not-checked").unwrap();
    let out = dir.path().join("app.env");
    let cfg = dir.path().join("agent.yaml");
    // Nothing listens on port 9 of localhost (discard, not served here).
    std::fs::write(
        &cfg,
        format!(
            "infisical: {{address: \"http://127.0.0.1:9\"}}\nauth: {{type: token, config: {{path: \"{}\"}}}}\nstatus-file: \"{}\"\ntemplates:\n{KV}    destination-path: \"{}\"\n",
            token_file.display(),
            dir.path().join("status.json").display(),
            out.display()
        ),
    )
    .unwrap();
    let agent = Agent::start(&cfg, &[]);
    assert!(
        eventually(Duration::from_secs(10), async || agent
            .log()
            .contains("retrying"))
        .await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!out.exists());
}

/// `examples/kubernetes/agent-sidecar.yaml`: the agent config in its
/// ConfigMap loads, the first render is an init container, the sidecar keeps
/// it fresh, and the rendered file lives in memory, read-only for the app.
#[test]
fn kubernetes_sidecar_example_is_consistent() {
    use serde::Deserialize;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes/agent-sidecar.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let docs: Vec<serde_norway::Value> = serde_norway::Deserializer::from_str(&text)
        .map(|d| serde_norway::Value::deserialize(d).unwrap())
        .collect();
    let kind = |k: &str| docs.iter().find(|d| d["kind"].as_str() == Some(k)).unwrap();
    let agent_yaml = kind("ConfigMap")["data"]["agent.yaml"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("agent.yaml");
    std::fs::write(&cfg_path, agent_yaml).unwrap();
    let cfg = hush::agent::config::load(&cfg_path).expect("the example's agent config loads");
    assert_eq!(cfg.templates[0].destination, Path::new("/secrets/.env"));
    let pod = &kind("Deployment")["spec"]["template"]["spec"];
    let words = |c: &serde_norway::Value| {
        c["command"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(words(&pod["initContainers"][0]).ends_with("--exit-after-render"));
    let containers = pod["containers"].as_sequence().unwrap();
    let sidecar = containers
        .iter()
        .find(|c| c["name"] == "hush-agent")
        .unwrap();
    assert!(!words(sidecar).contains("exit-after-render"));
    let secrets = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "secrets")
        .unwrap();
    assert_eq!(secrets["emptyDir"]["medium"].as_str(), Some("Memory"));
    let app = containers.iter().find(|c| c["name"] == "app").unwrap();
    let mount = &app["volumeMounts"][0];
    assert_eq!(mount["name"].as_str(), Some("secrets"));
    assert_eq!(mount["readOnly"].as_bool(), Some(true));
}

/// Supervisor mode: `hush agent --exec -- CMD` with stdout captured in `out`.
fn start_exec(config: &Path, out: &Path, cmd: &[&str]) -> Agent {
    let log = config.with_extension("agent.log");
    let child = Command::new(BIN)
        .args(["agent", "--config"])
        .arg(config)
        .args(["--debounce", "100ms", "--exec", "--"])
        .args(cmd)
        .env_remove("HUSH_TOKEN")
        // A credential variable of the agent's (unused by these configs):
        // it must not reach the supervised command.
        .env("INFISICAL_JWT", "canary-agent-credential-6d")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("agent starts");
    Agent {
        child: Some(child),
        log,
    }
}

/// Waits (bounded) for the agent to exit by itself; its exit code.
fn exit_code(agent: &mut Agent) -> Option<i32> {
    let c = agent.child.as_mut()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = c.try_wait() {
            agent.child = None;
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// An env template (`env: true`) of dev:/ written to `dir/app.env`, plus
/// extra top-level YAML.
async fn exec_setup(extra: &str) -> (TestServer, tempfile::TempDir, PathBuf) {
    let s = TestServer::start(&[]).await;
    set(&s.client(), "A_FIRST", "canary-exec-first-51a2")
        .await
        .unwrap();
    set(&s.client(), "B_SECOND", "canary-exec-second-0b9e")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (id, secret) = identity_files(&s, dir.path(), None).await;
    let cfg = ua_config(
        &s.url,
        &id,
        &secret,
        dir.path(),
        &format!(
            "{KV}    destination-path: \"{}\"\n    env: true\n{extra}",
            dir.path().join("app.env").display()
        ),
    );
    (s, dir, cfg)
}

#[tokio::test]
async fn supervisor_passes_exit_codes_signals_and_masks_output() {
    let (_s, dir, cfg) = exec_setup("").await;
    let out = dir.path().join("out.txt");
    for (script, want) in [
        ("exit 3", 3),
        ("kill -TERM $$", 128 + 15),
        // The env template's variables are in the command's environment.
        ("test \"$B_SECOND\" = canary-exec-second-0b9e && exit 4", 4),
        // The agent's own credential variables are not.
        ("test -z \"$INFISICAL_JWT\" && exit 5", 5),
    ] {
        let mut agent = start_exec(&cfg, &out, &["sh", "-c", script]);
        assert_eq!(
            exit_code(&mut agent),
            Some(want),
            "{script}: {}",
            agent.log()
        );
    }
    // Output of a rendered value is masked, as with `hush run`.
    let mut agent = start_exec(&cfg, &out, &["sh", "-c", "echo \"first=$A_FIRST\""]);
    assert_eq!(exit_code(&mut agent), Some(0), "{}", agent.log());
    assert_eq!(read(&out).trim(), "first=***");
    assert!(!agent.log().contains("canary-exec"), "{}", agent.log());
    // A missing command is 127, like `hush run`.
    let mut agent = start_exec(&cfg, &out, &["definitely-not-a-command-xyz"]);
    assert_eq!(exit_code(&mut agent), Some(127), "{}", agent.log());
}

#[tokio::test]
async fn supervisor_restarts_once_per_change_and_stops_on_sigterm() {
    let (s, dir, cfg) = exec_setup("").await;
    let starts = dir.path().join("starts.txt");
    let script = format!("echo \"$B_SECOND\" >> {}; exec sleep 30", starts.display());
    let mut agent = start_exec(&cfg, &dir.path().join("out.txt"), &["sh", "-c", &script]);
    assert!(
        eventually(Duration::from_secs(15), async || lines(&starts) == 1).await,
        "{}",
        agent.log()
    );
    assert!(freshness_becomes(dir.path(), "push", 5).await);
    set(&s.client(), "B_SECOND", "canary-exec-second-new")
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), async || lines(&starts) == 2).await,
        "{}",
        agent.log()
    );
    assert_eq!(read(&starts).lines().nth(1), Some("canary-exec-second-new"));
    // A no-op write restarts nothing.
    set(&s.client(), "B_SECOND", "canary-exec-second-new")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(lines(&starts), 2, "restarted more than once");
    // SIGTERM goes to the command; its status is the agent's.
    assert_eq!(agent.stop().and_then(|st| st.code()), Some(128 + 15));
}

#[tokio::test]
async fn supervisor_signal_policy_signals_instead_of_restarting() {
    let (s, dir, cfg) = exec_setup("exec:\n  restart: signal\n  signal: USR1\n").await;
    let starts = dir.path().join("starts.txt");
    let sigs = dir.path().join("sigs.txt");
    // On the signal the command prints the rendered file: the new value,
    // which its mask set did not have when it started.
    let script = format!(
        "trap 'echo usr1 >> {1}; cat {2}' USR1; echo start >> {0}; while true; do sleep 0.05; done",
        starts.display(),
        sigs.display(),
        dir.path().join("app.env").display()
    );
    let out = dir.path().join("out.txt");
    let mut agent = start_exec(&cfg, &out, &["sh", "-c", &script]);
    assert!(
        eventually(Duration::from_secs(15), async || lines(&starts) == 1).await,
        "{}",
        agent.log()
    );
    assert!(freshness_becomes(dir.path(), "push", 5).await);
    set(&s.client(), "A_FIRST", "canary-exec-first-new")
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), async || lines(&sigs) == 1).await,
        "{}",
        agent.log()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(lines(&sigs), 1);
    assert_eq!(lines(&starts), 1, "restarted instead of signalled");
    // The running command's mask set took the new value before the signal.
    assert!(
        eventually(Duration::from_secs(5), async || read(&out)
            .contains("A_FIRST=***"))
        .await,
        "{}",
        read(&out)
    );
    let printed = read(&out);
    assert!(!printed.contains("canary-exec"), "{printed}");
    assert!(
        !agent.log().contains("canary-exec-first-new"),
        "{}",
        agent.log()
    );
    assert_eq!(agent.stop().and_then(|st| st.code()), Some(128 + 15));
}

/// A process that writes its pid to `pid_file` and a line to `hups` for each
/// SIGHUP; killed on drop.
struct HupCounter(Child);

impl HupCounter {
    fn start(pid_file: &Path, hups: &Path) -> HupCounter {
        // Python sets its handler whatever the test inherited: a shell's
        // `trap` cannot catch a SIGHUP ignored on entry (a test run under
        // nohup). The pid goes in by rename: the agent never reads half a pid.
        let script = r#"
import os, signal, sys, time
hups, pid = sys.argv[1], sys.argv[2]
def on_hup(*_):
    with open(hups, "a") as f:
        f.write("hup\n")
signal.signal(signal.SIGHUP, on_hup)
with open(pid + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(pid + ".tmp", pid)
while True:
    time.sleep(0.05)
"#;
        HupCounter(
            Command::new("python3")
                .args(["-c", script])
                .arg(hups)
                .arg(pid_file)
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for HupCounter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn on_change_signal_reaches_the_pid_file_once_per_effective_change_and_owner_applies() {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    set(&c, "A_FIRST", "one").await.unwrap();
    set(&c, "B_SECOND", "two").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("app.pid");
    let hups = dir.path().join("hups.txt");
    let _app = HupCounter::start(&pid_file, &hups);
    // The file is given away before it replaces the destination: to nobody
    // when the test runs as root, else to ourselves.
    let (uid, gid) = if nix::unistd::geteuid().is_root() {
        (65534, 65534)
    } else {
        (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    };
    let owner = format!("{uid}:{gid}");
    assert!(eventually(Duration::from_secs(5), async || pid_file.exists()).await);
    let (id, secret) = identity_files(&s, dir.path(), None).await;
    let out = dir.path().join("app.env");
    let cfg = ua_config(
        &s.url,
        &id,
        &secret,
        dir.path(),
        &format!(
            "{KV}    destination-path: \"{}\"\n    owner: \"{owner}\"\n    on_change:\n      signal: SIGHUP\n      pid_file: \"{}\"\n",
            out.display(),
            pid_file.display()
        ),
    );
    let agent = Agent::start(&cfg, &[]);
    assert!(
        eventually(Duration::from_secs(15), async || read(&out)
            == "A_FIRST=one\nB_SECOND=two\n")
        .await,
        "{}",
        agent.log()
    );
    let meta = std::fs::metadata(&out).unwrap();
    assert_eq!(
        (
            std::os::unix::fs::MetadataExt::uid(&meta),
            std::os::unix::fs::MetadataExt::gid(&meta)
        ),
        (uid, gid)
    );
    // The first write is a change too: one SIGHUP.
    assert!(
        eventually(Duration::from_secs(5), async || lines(&hups) == 1).await,
        "{}",
        agent.log()
    );
    assert!(freshness_becomes(dir.path(), "push", 5).await);
    // A burst of two writes inside the debounce window: one render, one signal.
    let (a, b) = tokio::join!(set(&c, "A_FIRST", "one-b"), set(&c, "B_SECOND", "two-b"));
    a.unwrap();
    b.unwrap();
    assert!(
        eventually(Duration::from_secs(5), async || read(&out)
            == "A_FIRST=one-b\nB_SECOND=two-b\n")
        .await,
        "{}",
        agent.log()
    );
    assert!(eventually(Duration::from_secs(5), async || lines(&hups) >= 2).await);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(lines(&hups), 2, "{}", agent.log());
    // A no-op write: no signal.
    set(&c, "B_SECOND", "two-b").await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(lines(&hups), 2, "signalled without a change");
    let st = status(dir.path());
    assert_eq!(st["templates"][0]["signalsSent"], 2, "{st}");
    assert_eq!(st["templates"][0]["lastError"], Value::Null, "{st}");
}

/// Supervisor mode masks every value a template read, not only the env
/// templates': a file-only template's secret printed by the command is `***`.
#[tokio::test]
async fn supervisor_masks_values_of_file_templates_too() {
    let dir_probe = tempfile::tempdir().unwrap();
    let file_tpl = dir_probe.path().join("db.conf");
    let extra = format!(
        "  - template-content: '{{{{ with getSecretByName \"default\" \"dev\" \"/\" \"C_THIRD\" }}}}password={{{{ .Value }}}}{{{{ end }}}}'\n    destination-path: \"{}\"\n",
        file_tpl.display()
    );
    let (s, dir, cfg) = exec_setup(&extra).await;
    set(&s.client(), "C_THIRD", "canary-file-only-3e8a")
        .await
        .unwrap();
    let out = dir.path().join("out.txt");
    let script = format!("cat {}; echo; echo \"$A_FIRST\"", file_tpl.display());
    let mut agent = start_exec(&cfg, &out, &["sh", "-c", &script]);
    assert_eq!(exit_code(&mut agent), Some(0), "{}", agent.log());
    assert_eq!(read(&file_tpl), "password=canary-file-only-3e8a");
    let printed = read(&out);
    assert_eq!(printed, "password=***\n***\n", "{}", agent.log());
}

/// Infisical Agent's environment overrides win over the files, as in
/// Infisical: a wrong client secret in the file, the right one in
/// INFISICAL_UNIVERSAL_CLIENT_SECRET (the agent's name), and the id from
/// INFISICAL_UNIVERSAL_AUTH_CLIENT_ID with no file at all.
#[tokio::test]
async fn universal_auth_environment_overrides_win_over_files() {
    let s = TestServer::start(&[]).await;
    set(&s.client(), "K", "env-override").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (id, secret) = identity_files(&s, dir.path(), None).await;
    let (id_text, secret_text) = (read(&id), read(&secret));
    std::fs::write(&secret, "hush_cs_wrong-secret").unwrap();
    let out = dir.path().join("app.env");
    let cfg = dir.path().join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "infisical: {{address: \"{}\"}}\nauth:\n  type: universal-auth\n  config:\n    client-secret: \"{}\"\nstatus-file: \"{}\"\ntemplates:\n{KV}    destination-path: \"{}\"\n",
            s.url,
            secret.display(),
            dir.path().join("status.json").display(),
            out.display()
        ),
    )
    .unwrap();
    // Without the overrides the config is incomplete: one clear line.
    let bad = Command::new(BIN)
        .args(["agent", "--config"])
        .arg(&cfg)
        .env_remove("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID"), "{err}");
    for secret_var in [
        "INFISICAL_UNIVERSAL_CLIENT_SECRET",
        "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
    ] {
        let _ = std::fs::remove_file(&out);
        let mut agent = Agent::start_with_env(
            &cfg,
            &["--exit-after-render"],
            &[
                ("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", &id_text),
                (secret_var, &secret_text),
            ],
        );
        assert_eq!(
            exit_code(&mut agent),
            Some(0),
            "{secret_var}: {}",
            agent.log()
        );
        assert_eq!(read(&out), "K=env-override\n");
        assert!(!agent.log().contains(&secret_text));
    }
}

const WORKLOAD_RSA_PRIVATE: &str = include_str!("fixtures/workload-test-rsa.pem");
const WORKLOAD_RSA_PUBLIC: &str = include_str!("fixtures/workload-test-rsa.pub.pem");

/// `auth.type: jwt-auth` with Infisical's names (`identity-id` and `jwt`
/// are files), through the CLI's platform-token login; and the same with
/// INFISICAL_MACHINE_IDENTITY_ID and INFISICAL_JWT instead of files.
#[tokio::test]
async fn jwt_auth_logs_in_from_files_or_environment() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let s = TestServer::start(&[]).await;
    let c = s.client();
    set(&c, "K", "jwt-agent").await.unwrap();
    let id = crate::workload::identity(&c, "agent-jwt").await;
    c.send(
        Method::POST,
        &format!("/api/v1/auth/jwt-auth/identities/{id}"),
        &json!({
            "configurationType": "static", "publicKeys": [WORKLOAD_RSA_PUBLIC],
            "boundIssuer": "https://ci.example.com", "boundAudiences": "hush",
        }),
    )
    .await
    .unwrap();
    let now = crate::workload::now();
    let claims = json!({ "iss": "https://ci.example.com", "aud": ["hush"], "sub": "agent",
        "exp": now + 300, "iat": now });
    let jwt = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims,
        &EncodingKey::from_rsa_pem(WORKLOAD_RSA_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (id_file, jwt_file) = (dir.path().join("identity-id"), dir.path().join("jwt"));
    std::fs::write(&id_file, &id).unwrap();
    std::fs::write(&jwt_file, &jwt).unwrap();
    let out = dir.path().join("app.env");
    let cfg = dir.path().join("agent.yaml");
    let write_cfg = |auth_config: &str| {
        std::fs::write(
            &cfg,
            format!(
                "infisical: {{address: \"{}\"}}\nauth:\n  type: jwt-auth\n  config: {auth_config}\nstatus-file: \"{}\"\ntemplates:\n{KV}    destination-path: \"{}\"\n",
                s.url,
                dir.path().join("status.json").display(),
                out.display()
            ),
        )
        .unwrap()
    };
    write_cfg(&format!(
        "{{identity-id: \"{}\", jwt: \"{}\"}}",
        id_file.display(),
        jwt_file.display()
    ));
    let mut agent = Agent::start(&cfg, &["--exit-after-render"]);
    assert_eq!(exit_code(&mut agent), Some(0), "{}", agent.log());
    assert_eq!(read(&out), "K=jwt-agent\n");

    std::fs::remove_file(&out).unwrap();
    write_cfg("{}");
    let mut agent = Agent::start_with_env(
        &cfg,
        &["--exit-after-render"],
        &[
            ("INFISICAL_MACHINE_IDENTITY_ID", &id),
            ("INFISICAL_JWT", &jwt),
        ],
    );
    assert_eq!(exit_code(&mut agent), Some(0), "{}", agent.log());
    assert_eq!(read(&out), "K=jwt-agent\n");
    assert!(!agent.log().contains(&jwt));

    // A token the server refuses: a clear error, retried, nothing written.
    std::fs::remove_file(&out).unwrap();
    let agent = Agent::start_with_env(
        &cfg,
        &[],
        &[
            ("INFISICAL_MACHINE_IDENTITY_ID", &id),
            ("INFISICAL_JWT", "not.a.jwt"),
        ],
    );
    assert!(
        eventually(Duration::from_secs(10), async || agent
            .log()
            .contains("login failed"))
        .await,
        "{}",
        agent.log()
    );
    assert!(!out.exists());
}

/// Infisical Agent's `dynamicSecret` (and `dynamic_secret`) against a real
/// Redis dynamic secret: the lease's credentials work, and a re-render for
/// a static secret's change keeps the same lease instead of making a new
/// database user.
#[tokio::test]
async fn dynamic_secret_template_function_leases_once_and_reuses() {
    let Some(addr) = crate::dynamic_redis::redis_addr().await else {
        return;
    };
    let (host, port) = addr.rsplit_once(':').unwrap();
    let s = crate::rotation::start(&crate::pg::Backend::Sqlite).await;
    let c = s.client();
    c.send(
        Method::POST,
        "/api/v1/dynamic-secrets",
        &crate::dynamic_redis::redis_definition("cache", host, port.parse().unwrap()),
    )
    .await
    .unwrap();
    set(&c, "K", "static-1").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("tok");
    std::fs::write(&token_file, &s.token).unwrap();
    let out = dir.path().join("redis.conf");
    let cfg = dir.path().join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "infisical: {{address: \"{}\"}}\nauth: {{type: token, config: {{path: \"{}\"}}}}\nstatus-file: \"{}\"\ntemplates:\n  - template-content: |-\n      {{{{ with dynamicSecret \"default\" \"dev\" \"/\" \"cache\" \"10m\" }}}}user={{{{ .DB_USERNAME }}}}\n      pass={{{{ .DB_PASSWORD }}}}{{{{ end }}}}\n      {{{{ with getSecretByName \"default\" \"dev\" \"/\" \"K\" }}}}k={{{{ .Value }}}}{{{{ end }}}}\n      {{{{ (dynamic_secret \"default\" \"dev\" \"/\" \"cache\" \"10m\").DB_USERNAME }}}}\n    destination-path: \"{}\"\n",
            s.url,
            token_file.display(),
            dir.path().join("status.json").display(),
            out.display()
        ),
    )
    .unwrap();
    let agent = Agent::start(&cfg, &[]);
    assert!(
        eventually(Duration::from_secs(15), async || read(&out)
            .contains("k=static-1"))
        .await,
        "{}",
        agent.log()
    );
    let text = read(&out);
    let lines: Vec<&str> = text.lines().collect();
    let user = lines[0].strip_prefix("user=").unwrap().to_owned();
    let pw = lines[1].strip_prefix("pass=").unwrap().to_owned();
    // Both names answer from the same lease (one call, memoized).
    assert_eq!(lines[3], user);
    assert!(crate::dynamic_redis::authenticates(&addr, &user, &pw).await);
    assert!(!agent.log().contains(&pw));
    assert!(freshness_becomes(dir.path(), "push", 5).await);
    // A static change re-renders with the same lease.
    set(&c, "K", "static-2").await.unwrap();
    assert!(
        eventually(Duration::from_secs(10), async || read(&out)
            .contains("k=static-2"))
        .await,
        "{}",
        agent.log()
    );
    assert!(read(&out).starts_with(&format!("user={user}\npass={pw}\n")));
    let q = [
        ("projectSlug", "default".to_owned()),
        ("environmentSlug", "dev".to_owned()),
        ("path", "/".to_owned()),
    ];
    let leases = c
        .get("/api/v1/dynamic-secrets/cache/leases", &q)
        .await
        .unwrap();
    assert_eq!(leases["leases"].as_array().unwrap().len(), 1, "{leases}");
}

/// Universal auth cannot even log in while the server is down: an init
/// container (`--exit-after-render`) still renders from the offline cache
/// and exits 0; without the cache it would fail.
#[tokio::test]
async fn exit_after_render_uses_the_offline_cache_when_login_is_impossible() {
    let mut s = TestServer::start(&[]).await;
    set(&s.client(), "K", "canary-init-offline-2b7")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (id, secret) = identity_files(&s, dir.path(), None).await;
    let out = dir.path().join("app.env");
    let cfg = ua_config(
        &s.url,
        &id,
        &secret,
        dir.path(),
        &format!("{KV}    destination-path: \"{}\"\n", out.display()),
    );
    let with_cache = format!(
        "{}offline-cache: {{path: \"{}\"}}\n",
        read(&cfg),
        dir.path().join("cache").display()
    );
    std::fs::write(&cfg, &with_cache).unwrap();
    let mut agent = Agent::start(&cfg, &["--exit-after-render"]);
    assert_eq!(exit_code(&mut agent), Some(0), "{}", agent.log());
    let rendered = read(&out);
    assert_eq!(rendered, "K=canary-init-offline-2b7\n");
    s.kill9();
    std::fs::remove_file(&out).unwrap();
    let mut agent = Agent::start(&cfg, &["--exit-after-render"]);
    assert_eq!(exit_code(&mut agent), Some(0), "{}", agent.log());
    assert_eq!(read(&out), rendered);
    assert!(agent.log().contains("offline cache"), "{}", agent.log());
    assert!(!agent.log().contains("canary-init"), "{}", agent.log());
}

/// `auth.type: kubernetes` with Infisical's names: the service-account
/// token from `service-account-token`, reviewed by a TokenReview endpoint;
/// INFISICAL_KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH wins over the config.
// Multi-threaded: the fake TokenReview endpoint must answer while the test
// waits for the agent with blocking sleeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_auth_uses_the_service_account_token_and_its_override() {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    set(&c, "K", "k8s-agent").await.unwrap();
    let issuer = crate::workload::Issuer::start(vec![]).await;
    let id = crate::workload::identity(&c, "agent-k8s").await;
    c.send(
        Method::POST,
        &format!("/api/v1/auth/kubernetes-auth/identities/{id}"),
        &json!({ "kubernetesHost": issuer.url, "tokenReviewerJwt": "reviewer",
            "allowedNamespaces": "prod", "allowedNames": "web", "allowedAudience": "hush" }),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let id_file = dir.path().join("identity-id");
    std::fs::write(&id_file, &id).unwrap();
    // The fake TokenReview accepts "sa:NAMESPACE:NAME".
    let good = dir.path().join("sa-token");
    std::fs::write(&good, "sa:prod:web").unwrap();
    let wrong = dir.path().join("other-sa-token");
    std::fs::write(&wrong, "sa:kube-system:web").unwrap();
    let out = dir.path().join("app.env");
    let cfg = dir.path().join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "infisical: {{address: \"{}\"}}\nauth:\n  type: kubernetes\n  config:\n    identity-id: \"{}\"\n    service-account-token: \"{}\"\nstatus-file: \"{}\"\ntemplates:\n{KV}    destination-path: \"{}\"\n",
            s.url,
            id_file.display(),
            good.display(),
            dir.path().join("status.json").display(),
            out.display()
        ),
    )
    .unwrap();
    let mut agent = Agent::start(&cfg, &["--exit-after-render"]);
    assert_eq!(exit_code(&mut agent), Some(0), "{}", agent.log());
    assert_eq!(read(&out), "K=k8s-agent\n");
    let reviewed = issuer.state.reviews.lock().unwrap().len();
    assert!(reviewed >= 1);

    // The override names the other token, which the review refuses.
    std::fs::remove_file(&out).unwrap();
    let wrong_path = wrong.display().to_string();
    let agent = Agent::start_with_env(
        &cfg,
        &[],
        &[(
            "INFISICAL_KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH",
            &wrong_path,
        )],
    );
    assert!(
        eventually(Duration::from_secs(10), async || agent
            .log()
            .contains("login failed"))
        .await,
        "{}",
        agent.log()
    );
    assert!(!out.exists());
    let last = issuer
        .state
        .reviews
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .1
        .clone();
    assert_eq!(last["spec"]["token"], "sa:kube-system:web");
}
