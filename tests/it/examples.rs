//! Issue 5's examples (`examples/`), exercised: the Node.js app and the Django
//! project run under the real `hush run` against a real server; every YAML file
//! parses and says what the docs say it does.
//!
//! A test whose toolchain is missing (node/npm, python3, or PyPI for Django)
//! prints a note and passes: the examples are documentation first.

use crate::harness::*;
use serde::Deserialize;
use serde_norway::Value;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// A note on the real stderr (not swallowed by the test harness's capture).
fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "note: examples::{test} skipped: {why}");
}

fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to completion, killing it (and failing the test) after `limit`.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Finished {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Finished {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// A hush server holding `secrets` in dev:/, and a clean config/cache home.
struct Hush {
    server: TestServer,
    home: tempfile::TempDir,
}

impl Hush {
    async fn with(secrets: &[(&str, &str)]) -> Hush {
        let server = TestServer::start(&[]).await;
        let c = server.client();
        for (k, v) in secrets {
            set(&c, k, v).await.unwrap();
        }
        Hush {
            server,
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// `hush run --server URL --token TOKEN -- CMD...` in `dir`, with none of
    /// the example's variables inherited from the test's own environment.
    fn run(&self, dir: &Path, command: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .args(["--server", &self.server.url, "--token", &self.server.token])
            .arg("--")
            .args(command)
            .current_dir(dir)
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_CACHE_HOME", self.home.path().join("cache"));
        for name in [
            "HUSH_TOKEN",
            "HUSH_SERVER",
            "HUSH_PROJECT",
            "HUSH_ENV",
            "HUSH_PATH",
            "API_KEY",
            "API_URL",
            "DATABASE_URL",
            "DJANGO_SECRET_KEY",
            "DJANGO_SETTINGS_MODULE",
        ] {
            cmd.env_remove(name);
        }
        cmd
    }
}

/// A value no file in the repository contains, so finding it in output can
/// only mean it leaked from the server.
fn canary(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

// ---------------------------------------------------------------------------
// Node.js

/// A one-route HTTP server: 200 when `Authorization: Bearer <key>`, else 401.
struct ApiStub {
    url: String,
    authorized: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl ApiStub {
    fn start(key: &str) -> ApiStub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let expected = format!("Bearer {key}");
        let authorized = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (ok, no, halt) = (authorized.clone(), refused.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                ApiStub::answer(stream, &expected, &ok, &no);
            }
        });
        ApiStub {
            url: format!("http://{addr}/v1/ping"),
            authorized,
            refused,
            stop,
            addr,
        }
    }

    /// Reads the request head, counts it, then answers: the count is final
    /// before the client can see the response.
    fn answer(
        stream: TcpStream,
        expected: &str,
        ok: &AtomicUsize,
        refused: &AtomicUsize,
    ) -> Option<()> {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        let mut reader = BufReader::new(stream.try_clone().ok()?);
        let mut good = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.trim().eq_ignore_ascii_case("authorization") && value.trim() == expected {
                    good = true;
                }
            }
        }
        if good { ok } else { refused }.fetch_add(1, Ordering::SeqCst);
        let (status, body) = if good {
            ("200 OK", "{\"ok\":true}")
        } else {
            ("401 Unauthorized", "{\"ok\":false}")
        };
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        Some(())
    }
}

impl Drop for ApiStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so the thread sees the flag and ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

#[tokio::test]
async fn node_app_gets_its_secrets_and_its_output_is_masked() {
    if !on_path("node") || !on_path("npm") {
        skip(
            "node_app_gets_its_secrets_and_its_output_is_masked",
            "node and npm are not on PATH",
        );
        return;
    }
    let api_key = canary("sk_example_node");
    let database_url = format!("postgres://app:{}@db.internal:5432/app", canary("pw"));
    let h = Hush::with(&[("API_KEY", &api_key), ("DATABASE_URL", &database_url)]).await;
    let api = ApiStub::start(&api_key);
    let npm_home = tempfile::tempdir().unwrap();

    let out = run_bounded(
        h.run(&examples_dir().join("node"), &["npm", "start"])
            .env("API_URL", &api.url)
            .env("npm_config_cache", npm_home.path().join("cache"))
            .env("npm_config_update_notifier", "false")
            .env("npm_config_fund", "false"),
        Duration::from_secs(120),
    );
    let both = format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, Some(0), "{both}");
    assert!(out.stdout.contains("API_KEY: set"), "{both}");
    assert!(out.stdout.contains("DATABASE_URL: set"), "{both}");
    assert!(out.stdout.contains("API responded: 200"), "{both}");
    // The real key reached the app (the stub only says 200 to it) ...
    assert_eq!(api.authorized.load(Ordering::SeqCst), 1, "{both}");
    assert_eq!(api.refused.load(Ordering::SeqCst), 0, "{both}");
    // ... and the line that prints it shows *** instead.
    assert!(out.stdout.contains("using key: ***\n"), "{both}");
    for value in [&api_key, &database_url] {
        assert!(!out.stdout.contains(value.as_str()), "{both}");
        assert!(!out.stderr.contains(value.as_str()), "{both}");
    }
}

#[tokio::test]
async fn node_app_without_hush_reports_what_is_missing() {
    if !on_path("node") {
        skip(
            "node_app_without_hush_reports_what_is_missing",
            "node is not on PATH",
        );
        return;
    }
    let out = run_bounded(
        Command::new("node")
            .arg("index.js")
            .current_dir(examples_dir().join("node"))
            .env_remove("API_KEY")
            .env_remove("DATABASE_URL"),
        Duration::from_secs(60),
    );
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("API_KEY: missing"), "{}", out.stdout);
    assert!(
        out.stdout.contains("DATABASE_URL: missing"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("run me under `hush run`"),
        "{}",
        out.stderr
    );
}

// ---------------------------------------------------------------------------
// Django

fn target_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => manifest.join(dir),
        None => manifest.join("target"),
    }
}

/// A virtualenv with `requirements.txt` installed, cached under the target dir
/// and keyed by the requirements and the Python version. Err: why not (no
/// python3, no venv module, no network), for the skip note.
fn django_venv(requirements: &Path) -> Result<PathBuf, String> {
    let version = run_bounded(
        Command::new("python3").arg("--version"),
        Duration::from_secs(30),
    );
    if version.code != Some(0) {
        return Err(format!("python3 --version failed: {}", version.stderr));
    }
    let mut hash = Sha256::new();
    hash.update(std::fs::read(requirements).map_err(|e| e.to_string())?);
    hash.update(version.stdout.as_bytes());
    hash.update(version.stderr.as_bytes());
    let key = hex::encode(&hash.finalize()[..8]);
    let root = target_dir().join("example-venvs");
    let venv = root.join(format!("django-{key}"));
    let complete = |dir: &Path| dir.join("hush-complete").is_file();
    if complete(&venv) {
        return Ok(venv);
    }
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    // Built beside the final place and renamed into it when complete, so a
    // concurrent or interrupted run never sees half a virtualenv. Only
    // bin/python is used, which does not depend on the directory's name.
    let building = tempfile::Builder::new()
        .prefix(&format!(".django-{key}-"))
        .tempdir_in(&root)
        .map_err(|e| e.to_string())?;
    let made = run_bounded(
        Command::new("python3")
            .args(["-m", "venv"])
            .arg(building.path()),
        Duration::from_secs(180),
    );
    if made.code != Some(0) {
        return Err(format!("python3 -m venv failed: {}", made.stderr.trim()));
    }
    let pip = run_bounded(
        Command::new(building.path().join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                "-r",
            ])
            .arg(requirements)
            .env("PIP_DEFAULT_TIMEOUT", "30"),
        Duration::from_secs(600),
    );
    if pip.code != Some(0) {
        let tail: Vec<&str> = pip.stderr.lines().rev().take(5).collect();
        return Err(format!(
            "pip install -r requirements.txt failed (no network?): {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ));
    }
    std::fs::write(building.path().join("hush-complete"), b"").map_err(|e| e.to_string())?;
    let building = building.keep();
    if std::fs::rename(&building, &venv).is_err() {
        // Another run got there first; use its copy.
        let _ = std::fs::remove_dir_all(&building);
    }
    if complete(&venv) {
        Ok(venv)
    } else {
        Err(format!("{} is incomplete", venv.display()))
    }
}

#[tokio::test]
async fn django_settings_require_their_secrets_from_hush() {
    const TEST: &str = "django_settings_require_their_secrets_from_hush";
    if !on_path("python3") {
        skip(TEST, "python3 is not on PATH");
        return;
    }
    let project = examples_dir().join("django");
    let venv = match django_venv(&project.join("requirements.txt")) {
        Ok(venv) => venv,
        Err(why) => {
            skip(TEST, &why);
            return;
        }
    };
    let python = venv.join("bin/python");
    let python = python.to_str().unwrap();
    let db_dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite:///{}", db_dir.path().join("db.sqlite3").display());
    let secret_key = canary("django_insecure_example");

    let manage_check = |h: &Hush| {
        run_bounded(
            h.run(&project, &[python, "manage.py", "check"])
                .env("PYTHONDONTWRITEBYTECODE", "1"),
            Duration::from_secs(120),
        )
    };

    let h = Hush::with(&[
        ("DJANGO_SECRET_KEY", &secret_key),
        ("DATABASE_URL", &database_url),
    ])
    .await;
    let out = manage_check(&h);
    let both = format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, Some(0), "{both}");
    assert!(
        out.stdout.contains("System check identified no issues"),
        "{both}"
    );
    assert!(!both.contains(&secret_key), "{both}");

    // Without DJANGO_SECRET_KEY on the server, Django refuses to start and says
    // which variable is missing.
    let h = Hush::with(&[("DATABASE_URL", &database_url)]).await;
    let out = manage_check(&h);
    let both = format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert_ne!(out.code, Some(0), "{both}");
    assert!(out.stderr.contains("ImproperlyConfigured"), "{both}");
    assert!(
        out.stderr
            .contains("The DJANGO_SECRET_KEY environment variable is not set"),
        "{both}"
    );
    assert!(!out.stdout.contains("System check identified"), "{both}");
}

// ---------------------------------------------------------------------------
// YAML: CI and Kubernetes

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "node_modules" | "__pycache__" | ".venv") {
                files_under(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

fn parse_all(text: &str, origin: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| {
            Value::deserialize(doc).unwrap_or_else(|e| panic!("{origin} is not valid YAML: {e}"))
        })
        .collect()
}

fn load(relative: &str) -> Vec<Value> {
    let path = examples_dir().join(relative);
    let text = std::fs::read_to_string(&path).unwrap();
    parse_all(&text, relative)
}

/// ```yaml blocks of a Markdown file.
fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match current.as_mut() {
            None if line.trim_start().starts_with("```yaml") => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_start().starts_with("```") => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    blocks
}

fn string(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The words of a container's command (+ args), joined by spaces.
fn command_line(container: &Value) -> String {
    let mut words = Vec::new();
    for field in ["command", "args"] {
        if let Some(seq) = container[field].as_sequence() {
            words.extend(seq.iter().map(|w| string(w).to_owned()));
        }
    }
    words.join(" ")
}

#[test]
fn every_yaml_file_parses_and_markdown_yaml_too() {
    let mut files = Vec::new();
    files_under(&examples_dir(), &mut files);
    let mut parsed = 0;
    for path in &files {
        let name = path.to_string_lossy();
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if name.ends_with(".yml") || name.ends_with(".yaml") {
            let docs = parse_all(&text, &name);
            assert!(!docs.is_empty(), "{name} holds no document");
            parsed += 1;
        } else if name.ends_with(".md") {
            for (i, block) in yaml_blocks(&text).iter().enumerate() {
                parse_all(block, &format!("{name}, yaml block {}", i + 1));
            }
        }
    }
    assert!(parsed >= 3, "found only {parsed} YAML files in {files:?}");
}

#[test]
fn examples_hold_no_real_looking_secrets() {
    let mut files = Vec::new();
    files_under(&examples_dir(), &mut files);
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for prefix in [
            "hush_at_", "hush_st_", "sk_live_", "sk_test_", "ghp_", "AKIA",
        ] {
            for (at, _) in text.match_indices(prefix) {
                let rest = &text[at + prefix.len()..];
                let run = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .count();
                assert!(
                    run < 8,
                    "{} holds something that looks like a credential ({prefix}...)",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn github_workflow_runs_the_deploy_under_hush() {
    let docs = load("ci/github-actions.yml");
    assert_eq!(docs.len(), 1);
    let jobs = docs[0]["jobs"].as_mapping().expect("a `jobs` mapping");
    assert!(!jobs.is_empty());
    let steps: Vec<&Value> = jobs
        .values()
        .flat_map(|job| job["steps"].as_sequence().expect("every job has steps"))
        .collect();
    let runs = |needle: &str| -> Vec<&Value> {
        steps
            .iter()
            .copied()
            .filter(|s| string(&s["run"]).contains(needle))
            .collect()
    };
    let hush_run = runs("hush run");
    assert!(!hush_run.is_empty(), "no step uses `hush run`");
    for step in hush_run {
        let run = string(&step["run"]);
        assert!(run.contains(" -e prod "), "{run}");
        assert!(run.trim_end().ends_with("-- make deploy"), "{run}");
        // Issue 23: the job's OIDC token, no stored hush credential.
        assert!(run.contains("--method github-oidc"), "{run}");
        assert!(step["env"]["HUSH_TOKEN"].is_null());
    }
    assert_eq!(string(&docs[0]["permissions"]["id-token"]), "write");
    let export = runs("hush export");
    assert!(!export.is_empty(), "no step uses `hush export`");
    for step in export {
        let run = string(&step["run"]);
        assert!(run.contains("--format github-env"), "{run}");
        assert!(run.contains(">> \"$GITHUB_ENV\""), "{run}");
    }
    // The token is never pasted into a script's text.
    for step in &steps {
        assert!(!string(&step["run"]).contains("${{ secrets."), "{step:?}");
    }
}

#[test]
fn gitlab_job_runs_the_deploy_under_hush() {
    let docs = load("ci/gitlab-ci.yml");
    assert_eq!(docs.len(), 1);
    let jobs: Vec<&Value> = docs[0]
        .as_mapping()
        .expect("a mapping of jobs")
        .values()
        .filter(|v| v["script"].is_sequence())
        .collect();
    assert!(!jobs.is_empty(), "no job with a script");
    let deploys = jobs
        .iter()
        .filter(|job| {
            job["script"].as_sequence().unwrap().iter().any(|line| {
                string(line).contains("hush run") && string(line).contains("-- make deploy")
            })
        })
        .count();
    assert_eq!(deploys, 1, "one job runs `hush run -- make deploy`");
    // Issue 23: the job logs in with its OIDC ID token (id_tokens).
    for job in &jobs {
        if job["script"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|l| string(l).contains("hush run"))
        {
            assert_eq!(string(&job["id_tokens"]["HUSH_JWT"]["aud"]), "hush");
            assert!(job["script"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|l| string(l).contains("--method oidc")));
        }
    }
    // HUSH_TOKEN comes from the project's masked CI/CD variables, not from the file.
    for job in jobs {
        assert!(job["variables"]["HUSH_TOKEN"].is_null());
    }
    assert!(docs[0]["variables"]["HUSH_TOKEN"].is_null());
}

#[test]
fn kubernetes_init_container_exports_into_memory() {
    let docs = load("kubernetes/init-container.yaml");
    assert!(!docs.is_empty());
    for doc in &docs {
        assert!(!string(&doc["apiVersion"]).is_empty(), "{doc:?}");
        assert!(!string(&doc["kind"]).is_empty(), "{doc:?}");
    }
    let workload = docs
        .iter()
        .find(|d| matches!(string(&d["kind"]), "Deployment" | "Pod"))
        .expect("a Deployment or Pod");
    let pod = if string(&workload["kind"]) == "Pod" {
        &workload["spec"]
    } else {
        &workload["spec"]["template"]["spec"]
    };
    let init = pod["initContainers"].as_sequence().expect("initContainers");
    let fetch = init
        .iter()
        .find(|c| command_line(c).contains("hush export"))
        .expect("an init container running `hush export`");
    let cmd = command_line(fetch);
    assert!(cmd.contains("--format dotenv"), "{cmd}");
    assert!(cmd.contains("--output /secrets/.env"), "{cmd}");
    let token = fetch["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| string(&e["name"]) == "HUSH_TOKEN")
        .expect("HUSH_TOKEN in the init container's env");
    assert!(
        token["value"].is_null() && token["valueFrom"]["secretKeyRef"].is_mapping(),
        "HUSH_TOKEN must come from a Kubernetes Secret: {token:?}"
    );
    // The shared volume lives in memory, and the app reads it.
    let mount = fetch["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| string(&m["mountPath"]) == "/secrets")
        .expect("the init container mounts /secrets");
    let volume_name = string(&mount["name"]);
    let volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| string(&v["name"]) == volume_name)
        .expect("the mounted volume is declared");
    assert_eq!(string(&volume["emptyDir"]["medium"]), "Memory");
    let app = &pod["containers"].as_sequence().expect("containers")[0];
    assert!(app["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|m| string(&m["name"]) == volume_name && m["readOnly"].as_bool() == Some(true)));
    assert!(
        command_line(app).contains("/secrets/.env"),
        "the app loads the file"
    );

    let readme = std::fs::read_to_string(examples_dir().join("kubernetes/README.md")).unwrap();
    assert!(readme.contains(
        "hush export -e prod --format k8s-secret --name app-secrets --namespace prod | kubectl apply -f -"
    ));
}

#[test]
fn node_package_starts_index_js_without_dependencies() {
    let text = std::fs::read_to_string(examples_dir().join("node/package.json")).unwrap();
    let package: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(package["scripts"]["start"], "node index.js");
    assert!(package.get("dependencies").is_none());
}
