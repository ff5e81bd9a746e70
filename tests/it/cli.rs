//! Issue 4: the everyday CLI commands, through the real binary against a real
//! server: init, projects, envs, folders, create, diff, import, export, env pull,
//! completions, man.

use crate::harness::*;
use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// A user of the CLI: a config home, a working directory, and extra env vars.
struct User<'a> {
    server: &'a TestServer,
    home: tempfile::TempDir,
    pub cwd: tempfile::TempDir,
}

impl<'a> User<'a> {
    fn new(server: &'a TestServer) -> Self {
        User {
            server,
            home: tempfile::tempdir().unwrap(),
            cwd: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs hush with --server/--token appended.
    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, None, &[], None)
    }

    fn stdin(&self, args: &[&str], input: &[u8]) -> Output {
        self.run_with(args, Some(input), &[], None)
    }

    fn run_with(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
        env: &[(&str, &str)],
        cwd: Option<&Path>,
    ) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--server", &self.server.url, "--token", &self.server.token]);
        self.raw(&all, stdin, env, cwd)
    }

    /// Runs hush with exactly `args` (no server or token added).
    fn raw(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
        env: &[(&str, &str)],
        cwd: Option<&Path>,
    ) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(cwd.unwrap_or(self.cwd.path()))
            .env("XDG_CONFIG_HOME", self.home.path())
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ENV");
        for var in [
            "HUSH_TOKEN",
            "HUSH_SERVER",
            "HUSH_PROJECT",
            "HUSH_ENV",
            "HUSH_PATH",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied())
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
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

#[track_caller]
fn fails(o: &Output, code: i32, needle: &str) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
    assert!(stderr(o).contains(needle), "stderr: {}", stderr(o));
}

fn json_out(o: &Output) -> Value {
    serde_json::from_str(&ok(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

async fn value_in(s: &TestServer, env: &str, path: &str, key: &str) -> Option<String> {
    let r = s
        .client()
        .get(&format!("/api/v3/secrets/raw/{key}"), &scope_q(env, path))
        .await
        .ok()?;
    r["secret"]["secretValue"].as_str().map(str::to_owned)
}

fn tricky() -> Vec<(&'static str, &'static str)> {
    vec![
        ("PEM", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n"),
        ("DQUOTE", r#"say "hi""#),
        ("SQUOTE", "it's"),
        ("HASH", "a #b#c"),
        ("DOLLAR", "$HOME ${PATH} $"),
        ("LITERAL_BACKSLASH_N", r"one\ntwo"),
        ("REAL_NEWLINE", "one\ntwo"),
        ("EQUALS", "a=b=="),
        ("SPACES", "  both ends  "),
        ("UNICODE", "héllo ✓ 日本語"),
        ("EMPTY", ""),
        ("BACKSLASH_END", r"C:\path\"),
        ("MIXED", r#"'"\$`"#),
    ]
}

#[tokio::test]
async fn create_refuses_existing_keys_and_diff_shows_changes() {
    let s = TestServer::start(&[]).await;
    let u = User::new(&s);
    assert_eq!(
        ok(&u.run(&["create", "API_KEY=first", "--no-history-hint"])).trim(),
        "API_KEY created: version 1"
    );
    let out = u.run(&["create", "API_KEY=second"]);
    fails(&out, 5, "API_KEY already exists in / (version 1)");
    assert!(stderr(&out).contains("hint: use 'hush set"));
    assert_eq!(value_in(&s, "dev", "/", "API_KEY").await.unwrap(), "first");
    let created = json_out(&u.run(&["create", "api/OTHER=x", "--json"]));
    assert_eq!(created[0]["key"], "OTHER");
    assert!(created[0]["id"].is_string());

    ok(&u.run(&[
        "set",
        "API_KEY=second",
        "--description",
        "rotated",
        "--tag",
        "owner=ops",
    ]));
    ok(&u.run(&[
        "set",
        "API_KEY=second",
        "--description",
        "rotated",
        "--tag",
        "team=web",
    ]));
    let out = ok(&u.run(&["diff", "API_KEY", "--from", "1", "--to", "2"]));
    assert!(out.contains("version 1 -> 2"), "{out}");
    assert!(out.contains("value:       changed"), "{out}");
    assert!(out.contains(r#""" -> "rotated""#), "{out}");
    assert!(out.contains("+owner=ops"), "{out}");
    assert!(
        !out.contains("first") && !out.contains("second"),
        "no values without --reveal: {out}"
    );
    // Defaults: the current version against the one before it.
    let out = ok(&u.run(&["diff", "API_KEY"]));
    assert!(
        out.contains("version 2 -> 3") && out.contains("value:       unchanged"),
        "{out}"
    );
    assert!(out.contains("+team=web -owner=ops"), "{out}");
    let out = ok(&u.run(&["diff", "API_KEY", "--from", "1", "--to", "3", "--reveal"]));
    assert!(out.contains("- first") && out.contains("+ second"), "{out}");
    let j = json_out(&u.run(&["diff", "API_KEY", "--from", "1", "--to", "2", "--json"]));
    assert_eq!(j["valueChanged"], true);
    assert!(j.get("value").is_none());

    fails(
        &u.run(&["diff", "API_KEY", "--from", "9"]),
        4,
        "version 9 of API_KEY not found",
    );
    fails(&u.run(&["diff", "MISSING"]), 4, "Secret not found");
    fails(
        &u.raw(&["create", "K=v", "--server", &s.url], None, &[], None),
        3,
        "not logged in",
    );
}

#[tokio::test]
async fn project_settings_and_environment_names() {
    let s = TestServer::start(&[]).await;
    let u = User::new(&s);
    let shown = json_out(&u.run(&["projects", "settings", "--json"]));
    assert_eq!(shown["maxVersions"], 100);
    assert!(shown["recoveryWindowDays"].is_null());
    let text = ok(&u.run(&["projects", "settings"]));
    assert!(
        text.contains("versions kept per secret  100")
            && text.contains("30 days (the server's default)"),
        "{text}"
    );
    let changed = json_out(&u.run(&[
        "projects",
        "settings",
        "--max-versions",
        "20",
        "--recovery-window",
        "14d",
        "--json",
    ]));
    assert_eq!(changed["maxVersions"], 20);
    assert_eq!(changed["recoveryWindowDays"], 14);
    assert_eq!(changed["recoveryWindowSeconds"], 14 * 86_400);
    let back = json_out(&u.run(&[
        "projects",
        "settings",
        "--recovery-window",
        "default",
        "--json",
    ]));
    assert!(back["recoveryWindowDays"].is_null());
    assert_eq!(back["maxVersions"], 20);
    fails(
        &u.run(&["projects", "settings", "--recovery-window", "36h"]),
        2,
        "not a whole number of days",
    );
    fails(
        &u.run(&["projects", "settings", "--max-versions", "0"]),
        1,
        "maxVersions must be 1 to 1000",
    );

    let renamed = json_out(&u.run(&["envs", "rename", "prod", "Production EU", "--json"]));
    assert_eq!(
        (renamed["slug"].as_str(), renamed["name"].as_str()),
        (Some("prod"), Some("Production EU"))
    );
    assert!(ok(&u.run(&["envs", "rename", "dev", "Local"])).contains("now named \"Local\""));
    assert!(ok(&u.run(&["envs", "list"])).contains("Production EU"));
    fails(&u.run(&["envs", "rename", "nope", "Nope"]), 4, "not found");
    fails(
        &u.run(&["envs", "rename", "prod", ""]),
        1,
        "environment name",
    );
}

#[tokio::test]
async fn projects_envs_and_folders() {
    let s = TestServer::start(&[]).await;
    let u = User::new(&s);
    let list = json_out(&u.run(&["projects", "list", "--json"]));
    assert_eq!(list[0]["name"], "default");
    assert!(list[0]["id"].is_string());
    let p = json_out(&u.run(&["projects", "create", "Web App", "--json"]));
    assert_eq!(p["slug"], "web-app");
    assert_eq!(
        json_out(&u.run(&["projects", "list", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(ok(&u.run(&["projects", "list"])).contains("web-app"));

    let envs = json_out(&u.run(&["envs", "list", "--project", "web-app", "--json"]));
    let slugs: Vec<&str> = envs
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["dev", "staging", "prod"]);
    assert!(envs[0]["id"].is_string() && envs[0]["name"].is_string());
    let qa = json_out(&u.run(&[
        "envs",
        "create",
        "qa",
        "--protected",
        "--project",
        "web-app",
        "--json",
    ]));
    assert_eq!(
        (qa["slug"].as_str(), qa["protected"].as_bool()),
        (Some("qa"), Some(true))
    );
    fails(
        &u.run(&["envs", "create", "qa", "--project", "web-app"]),
        1,
        "already exists",
    );
    fails(
        &u.run(&["envs", "list", "--project", "nope"]),
        4,
        "project \"nope\" not found",
    );

    // Folders: explicit, implicit (from secret paths), nested, errors.
    let f = json_out(&u.run(&["folders", "create", "api", "--json"]));
    assert_eq!(
        (f["name"].as_str(), f["path"].as_str()),
        (Some("api"), Some("/api"))
    );
    fails(&u.run(&["folders", "create", "api"]), 1, "already exists");
    fails(
        &u.run(&["folders", "create", "x", "--path", "/nope"]),
        4,
        "not found",
    );
    fails(
        &u.run(&["folders", "list", "--env", "nope"]),
        4,
        "environment \"nope\" not found",
    );
    ok(&u.run(&[
        "set",
        "workers/queue/QUEUE_URL=amqp://q",
        "--no-history-hint",
    ]));
    let top = json_out(&u.run(&["folders", "list", "--json"]));
    let names: Vec<&str> = top
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "workers"]);
    assert!(top.as_array().unwrap().iter().all(|f| f["id"].is_string()));
    let all = json_out(&u.run(&["folders", "list", "--recursive", "--json"]));
    let paths: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/api", "/workers", "/workers/queue"]);
    let inside = json_out(&u.run(&["folders", "list", "--path", "/workers", "--json"]));
    assert_eq!(inside[0]["path"], "/workers/queue");

    // A folder holding secrets is kept unless --force; then they are soft-deleted.
    let out = u.run(&["folders", "delete", "workers"]);
    fails(&out, 1, "folder /workers is not empty");
    assert!(stderr(&out).contains("hint: pass --force"));
    assert!(value_in(&s, "dev", "/workers/queue", "QUEUE_URL")
        .await
        .is_some());
    let out = ok(&u.run(&["folders", "delete", "workers", "--force"]));
    assert!(out.contains("deleted with 1 secret(s)"), "{out}");
    assert!(value_in(&s, "dev", "/workers/queue", "QUEUE_URL")
        .await
        .is_none());
    ok(&u.run(&["restore", "workers/queue/QUEUE_URL"]));
    assert_eq!(
        value_in(&s, "dev", "/workers/queue", "QUEUE_URL")
            .await
            .unwrap(),
        "amqp://q"
    );
    assert!(ok(&u.run(&["folders", "delete", "api"])).contains("folder /api deleted"));
    fails(&u.run(&["folders", "delete", "api"]), 4, "not found");

    // Every folder change is audited.
    let audit = json_out(&u.run(&["audit", "--json", "--limit", "200"]));
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"create-folder") && actions.contains(&"delete-folder"),
        "{actions:?}"
    );

    fails(
        &u.raw(&["folders", "list", "--server", &s.url], None, &[], None),
        3,
        "not logged in",
    );
}

#[tokio::test]
async fn folder_routes_speak_infisicals_shape() {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    let r = c
        .send(
            Method::POST,
            "/api/v2/folders",
            &json!({ "projectId": "default", "environment": "dev", "name": "svc", "path": "/" }),
        )
        .await
        .unwrap();
    for field in [
        "id",
        "name",
        "envId",
        "path",
        "version",
        "parentId",
        "isReserved",
        "description",
        "createdAt",
        "updatedAt",
        "lastSecretModified",
    ] {
        assert!(
            r["folder"].get(field).is_some(),
            "folder lacks {field}: {r}"
        );
    }
    c.send(
        Method::POST,
        "/api/v1/folders",
        &json!({ "workspaceId": "default", "environment": "dev", "name": "inner", "path": "/svc" }),
    )
    .await
    .unwrap();
    let q = vec![
        ("workspaceId", "default".to_owned()),
        ("environment", "dev".to_owned()),
        ("path", "/".to_owned()),
        ("recursive", "True".to_owned()),
    ];
    let list = c.get("/api/v1/folders", &q).await.unwrap();
    let rel: Vec<&str> = list["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["relativePath"].as_str().unwrap())
        .collect();
    assert_eq!(rel, ["/svc", "/svc/inner"]);
    let del = c
        .send(Method::DELETE, "/api/v2/folders/svc", &json!({ "projectId": "default", "environment": "dev", "path": "/", "forceDelete": false }))
        .await
        .unwrap();
    assert_eq!(del["folder"]["path"], "/svc");
    let list = c.get("/api/v1/folders", &q).await.unwrap();
    assert_eq!(
        list["folders"].as_array().unwrap().len(),
        0,
        "subfolders go with it"
    );
}

#[tokio::test]
async fn export_formats_round_trip_tricky_values() {
    let s = TestServer::start(&[]).await;
    let u = User::new(&s);
    for (k, v) in tricky() {
        ok(&u.stdin(&["set", k, "-"], v.as_bytes()));
    }
    let want: BTreeMap<String, String> = tricky()
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();

    let out = u.run(&["export"]);
    let parsed: BTreeMap<String, String> = dotenvy::from_read_iter(out.stdout.as_slice())
        .map(|r| r.expect("dotenvy parses hush's dotenv"))
        .collect();
    assert_eq!(parsed, want);

    let out = json_out(&u.run(&["export", "--format", "json"]));
    let parsed: BTreeMap<String, String> = serde_json::from_value(out).unwrap();
    assert_eq!(parsed, want);

    let out = ok(&u.run(&["export", "--format", "yaml"]));
    let parsed: BTreeMap<String, String> = serde_norway::from_str(&out).unwrap();
    assert_eq!(parsed, want);

    let out = ok(&u.run(&[
        "export",
        "--format",
        "k8s-secret",
        "--name",
        "app-secrets",
        "--namespace",
        "web",
    ]));
    let doc: Value = serde_norway::from_str(&out).unwrap();
    assert_eq!(
        (
            doc["apiVersion"].as_str(),
            doc["kind"].as_str(),
            doc["type"].as_str()
        ),
        (Some("v1"), Some("Secret"), Some("Opaque"))
    );
    assert_eq!(
        doc["metadata"],
        json!({ "name": "app-secrets", "namespace": "web" })
    );
    let b64 = base64::engine::general_purpose::STANDARD;
    let decoded: BTreeMap<String, String> = doc["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                String::from_utf8(b64.decode(v.as_str().unwrap()).unwrap()).unwrap(),
            )
        })
        .collect();
    assert_eq!(decoded, want);
    fails(
        &u.run(&["export", "--format", "k8s-secret"]),
        2,
        "needs the Secret's name",
    );

    let csv = ok(&u.run(&["export", "--format", "csv"]));
    assert!(
        csv.starts_with("key,value\r\n") && csv.contains("DQUOTE,\"say \"\"hi\"\"\""),
        "{csv}"
    );
    let sh = ok(&u.run(&["export", "--format", "dotenv-export"]));
    assert!(sh.contains("export SQUOTE='it'\\''s'"), "{sh}");

    // --output: mode 0600, nothing on stdout.
    let file = u.cwd.path().join("out/prod.env");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let out = ok(&u.run(&["export", "--output", file.to_str().unwrap()]));
    assert!(out.is_empty());
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let parsed: BTreeMap<String, String> = dotenvy::from_path_iter(&file)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(parsed, want);

    // github-env: masks on stdout, heredoc blocks appended to $GITHUB_ENV.
    let gh = u.cwd.path().join("github_env");
    let out = u.run_with(
        &["export", "--format", "github-env"],
        None,
        &[("GITHUB_ENV", gh.to_str().unwrap())],
        None,
    );
    let masks = ok(&out);
    assert!(masks.contains("::add-mask::-----BEGIN PRIVATE KEY-----\n::add-mask::MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"), "{masks}");
    assert!(
        !masks.contains("<<"),
        "variables go to the file, not stdout"
    );
    let env_file = std::fs::read_to_string(&gh).unwrap();
    let block = env_file.split("REAL_NEWLINE<<").nth(1).unwrap();
    let (delim, rest) = block.split_once('\n').unwrap();
    assert_eq!(
        rest.split_once(&format!("\n{delim}\n")).unwrap().0,
        "one\ntwo"
    );

    fails(
        &u.run(&["export", "--env", "nope"]),
        4,
        "environment \"nope\" not found",
    );
    fails(
        &u.raw(&["export", "--server", &s.url], None, &[], None),
        3,
        "not logged in",
    );
    // A key dotenv cannot express is refused rather than mangled.
    ok(&u.run(&["set", "with-dash=x", "--no-history-hint"]));
    fails(&u.run(&["export"]), 1, "not valid dotenv names");
    assert!(stderr(&u.run(&["export"])).contains("with-dash"));
}

#[tokio::test]
async fn env_pull_writes_0600_and_refuses_to_clobber() {
    let s = TestServer::start(&[]).await;
    let u = User::new(&s);
    ok(&u.run(&["set", "A=1", "B=two words", "--no-history-hint"]));
    let git = Command::new("git")
        .arg("init")
        .arg("-q")
        .arg(u.cwd.path())
        .status()
        .is_ok_and(|s| s.success());

    let out = u.run(&["env", "pull"]);
    assert!(ok(&out).contains("wrote 2 secret(s) from dev / to .env"));
    if git {
        assert!(
            stderr(&out).contains(".env is not ignored by git"),
            "{}",
            stderr(&out)
        );
    }
    let env_path = u.cwd.path().join(".env");
    assert_eq!(
        std::fs::metadata(&env_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::read_to_string(&env_path).unwrap(),
        "A=1\nB=\"two words\"\n"
    );

    std::fs::write(u.cwd.path().join(".gitignore"), ".env\n").unwrap();
    let out = u.run(&["env", "pull"]);
    assert!(ok(&out).contains(".env is up to date"));
    assert!(!stderr(&out).contains("not ignored"), "{}", stderr(&out));

    ok(&u.run(&["set", "A=changed", "--no-history-hint"]));
    let out = u.run(&["env", "pull"]);
    fails(&out, 1, ".env exists and differs");
    assert!(stderr(&out).contains("hint: pass --force"));
    assert!(std::fs::read_to_string(&env_path).unwrap().contains("A=1"));
    ok(&u.run(&["env", "pull", "--force"]));
    assert!(std::fs::read_to_string(&env_path)
        .unwrap()
        .contains("A=changed"));

    // The CI form.
    ok(&u.run(&[
        "set",
        "S=staging-value",
        "--env",
        "staging",
        "--no-history-hint",
    ]));
    ok(&u.run(&["pull", "--workspace", "staging", "--output", "staging.env"]));
    assert_eq!(
        std::fs::read_to_string(u.cwd.path().join("staging.env")).unwrap(),
        "S=staging-value\n"
    );
    fails(
        &u.run(&["pull", "--workspace", "staging", "--env", "prod"]),
        2,
        "--workspace and --env",
    );
    fails(&u.run(&["pull", "--workspace", "nope"]), 4, "not found");
}

#[tokio::test]
async fn import_is_all_or_nothing() {
    let s = TestServer::start(&[]).await;
    let u = User::new(&s);
    ok(&u.run(&["set", "C=existing", "--no-history-hint"]));
    let file = u.cwd.path().join("in.env");
    std::fs::write(&file, "A=1\nB=\"multi\\nline\"\nC=new\n").unwrap();
    let f = file.to_str().unwrap();

    let out = u.run(&["import", f]);
    fails(&out, 5, "1 key(s) already exist in dev /: C");
    assert!(stderr(&out).contains("hint: pass --overwrite"));
    assert!(
        value_in(&s, "dev", "/", "A").await.is_none(),
        "nothing written"
    );

    let bad = u.cwd.path().join("bad.json");
    std::fs::write(&bad, r#"{"OK": "1", "9BAD": "x", "ALSO BAD": "y"}"#).unwrap();
    fails(
        &u.run(&["import", bad.to_str().unwrap()]),
        2,
        "invalid secret key",
    );
    assert!(value_in(&s, "dev", "/", "OK").await.is_none());
    let broken = u.cwd.path().join("broken.env");
    std::fs::write(&broken, "OK=\"unterminated\n").unwrap();
    fails(
        &u.run(&["import", broken.to_str().unwrap()]),
        2,
        "cannot parse",
    );

    let out = ok(&u.run(&["import", f, "--skip-existing"]));
    assert!(out.contains("2 created, 0 updated, 1 skipped"), "{out}");
    assert_eq!(value_in(&s, "dev", "/", "B").await.unwrap(), "multi\nline");
    assert_eq!(value_in(&s, "dev", "/", "C").await.unwrap(), "existing");
    let j = json_out(&u.run(&["import", f, "--overwrite", "--json"]));
    let actions: Vec<&str> = j
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["updated", "updated", "updated"]);
    assert!(j[0]["id"].is_string() && j[0]["key"] == "A");
    assert_eq!(value_in(&s, "dev", "/", "C").await.unwrap(), "new");

    let yaml = u.cwd.path().join("in.yaml");
    std::fs::write(&yaml, "Y1: one\nY2: |\n  two\n  lines\n").unwrap();
    assert!(
        ok(&u.run(&["import", yaml.to_str().unwrap(), "--path", "/cfg"])).contains("2 created")
    );
    assert_eq!(
        value_in(&s, "dev", "/cfg", "Y2").await.unwrap(),
        "two\nlines\n"
    );
    let js = u.cwd.path().join("in.json");
    std::fs::write(&js, r#"{"J1": "x", "PORT": 8080}"#).unwrap();
    ok(&u.run(&["import", js.to_str().unwrap(), "--env", "prod"]));
    assert_eq!(value_in(&s, "dev", "/", "PORT").await, None);
    assert_eq!(value_in(&s, "prod", "/", "PORT").await.unwrap(), "8080");
    ok(&u.stdin(
        &["import", "-", "--format", "dotenv", "--env", "staging"],
        b"FROM_STDIN=yes\n",
    ));
    assert_eq!(
        value_in(&s, "staging", "/", "FROM_STDIN").await.unwrap(),
        "yes"
    );

    // The server side: a batch whose 3rd item conflicts writes nothing at all.
    let c = s.client();
    let mut body = scope("dev", "/");
    body["secrets"] = json!([
        { "secretKey": "X1", "secretValue": "1", "ifVersion": 0 },
        { "secretKey": "X2", "secretValue": "2" },
        { "secretKey": "C", "secretValue": "3", "ifVersion": 0 },
    ]);
    let r = c
        .send(Method::POST, "/api/v1/hush/secrets/batch", &body)
        .await;
    assert_eq!(status(r), 409);
    assert!(value_in(&s, "dev", "/", "X1").await.is_none());
    assert!(value_in(&s, "dev", "/", "X2").await.is_none());
    assert_eq!(value_in(&s, "dev", "/", "C").await.unwrap(), "new");
    body["secrets"][2]["ifVersion"] = json!(2);
    let r = c
        .send(Method::POST, "/api/v1/hush/secrets/batch", &body)
        .await
        .unwrap();
    assert_eq!(
        (r["created"].as_i64(), r["updated"].as_i64()),
        (Some(2), Some(1))
    );

    fails(
        &u.raw(&["import", f, "--server", &s.url], None, &[], None),
        3,
        "not logged in",
    );
}

#[tokio::test]
async fn init_and_project_file_precedence() {
    let s = TestServer::start(&[]).await;
    let u = User::new(&s);
    let token = s.token.as_str();
    let init = |args: &[&str]| {
        let mut all = vec!["init"];
        all.extend_from_slice(args);
        u.run(&all)
    };
    fails(
        &init(&["--project", "nope"]),
        4,
        "project \"nope\" not found",
    );
    fails(
        &init(&["--project", "default", "--env", "qa"]),
        4,
        "environment \"qa\" not found",
    );
    fails(&init(&["--branch-env", "main"]), 2, "BRANCH=ENV");
    fails(&init(&[]), 2, "not on a terminal");
    let out = ok(&init(&[
        "--project",
        "default",
        "--env",
        "staging",
        "--branch-env",
        "main=prod",
    ]));
    assert!(out.contains("project default"), "{out}");
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(u.cwd.path().join(".hush.json")).unwrap())
            .unwrap();
    assert_eq!(file["defaultEnvironment"], "staging");
    assert_eq!(file["server"], s.url.as_str());
    assert_eq!(file["gitBranchToEnvironment"], json!({ "main": "prod" }));
    assert!(
        file["projectId"].as_str().unwrap().len() > 10,
        "the project's id, not its slug"
    );
    fails(&init(&["--project", "default"]), 1, "already exists");

    // From a subdirectory, with a token from the environment: the file's
    // server alone may not redirect it (issue 21) ...
    let sub = u.cwd.path().join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();
    let refused = u.raw(
        &["set", "WHERE=file", "--no-history-hint"],
        None,
        &[("HUSH_TOKEN", token)],
        Some(&sub),
    );
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("names the server {}", s.url))
            && err.contains("would otherwise go to http://127.0.0.1:8200"),
        "{err}"
    );
    // ... but once the server is confirmed, project and env come from the file.
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec![("HUSH_TOKEN", token), ("HUSH_SERVER", s.url.as_str())];
        all.extend_from_slice(env);
        u.raw(args, None, &all, Some(&sub))
    };
    ok(&run(&["set", "WHERE=file", "--no-history-hint"], &[]));
    assert_eq!(value_in(&s, "staging", "/", "WHERE").await.unwrap(), "file");
    ok(&run(
        &["set", "WHERE=env", "--no-history-hint"],
        &[("HUSH_ENV", "dev")],
    ));
    assert_eq!(value_in(&s, "dev", "/", "WHERE").await.unwrap(), "env");
    ok(&run(
        &["set", "WHERE=flag", "--env", "prod", "--no-history-hint"],
        &[("HUSH_ENV", "dev")],
    ));
    assert_eq!(value_in(&s, "prod", "/", "WHERE").await.unwrap(), "flag");

    // The git branch picks the environment after HUSH_ENV, before defaultEnvironment.
    std::fs::create_dir_all(u.cwd.path().join(".git")).unwrap();
    std::fs::write(u.cwd.path().join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    ok(&run(&["set", "BRANCH=main", "--no-history-hint"], &[]));
    assert_eq!(value_in(&s, "prod", "/", "BRANCH").await.unwrap(), "main");
    ok(&run(
        &["set", "BRANCH=env", "--no-history-hint"],
        &[("HUSH_ENV", "dev")],
    ));
    assert_eq!(value_in(&s, "dev", "/", "BRANCH").await.unwrap(), "env");
    std::fs::write(u.cwd.path().join(".git/HEAD"), "ref: refs/heads/feature\n").unwrap();
    ok(&run(&["set", "BRANCH=unmapped", "--no-history-hint"], &[]));
    assert_eq!(
        value_in(&s, "staging", "/", "BRANCH").await.unwrap(),
        "unmapped"
    );

    // A wrong project in the file is a clear not-found.
    std::fs::write(
        u.cwd.path().join(".hush.json"),
        format!(r#"{{"projectId": "gone", "server": "{}"}}"#, s.url),
    )
    .unwrap();
    fails(&run(&["list"], &[]), 4, "project \"gone\" not found");
    fails(
        &u.raw(
            &[
                "init",
                "--project",
                "default",
                "--force",
                "--server",
                &s.url,
            ],
            None,
            &[],
            None,
        ),
        3,
        "not logged in",
    );
}

#[tokio::test]
async fn completions_and_man_page() {
    let s = TestServer::start(&[]).await;
    let u = User::new(&s);
    for shell in ["bash", "zsh", "fish"] {
        let out = ok(&u.raw(&["completions", shell], None, &[], None));
        assert!(out.contains("hush") && out.contains("export"), "{shell}");
    }
    let man = ok(&u.raw(&["man"], None, &[], None));
    assert!(man.contains(".TH hush"), "{}", &man[..200.min(man.len())]);
    fails(
        &u.raw(&["completions", "tcsh"], None, &[], None),
        2,
        "invalid value",
    );
}

/// `hush init` without --project asks on a terminal (a pty the test opens).
#[tokio::test]
async fn init_asks_for_the_project_on_a_terminal() {
    use nix::pty::openpty;
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    let s = TestServer::start(&[]).await;
    s.client()
        .send(
            Method::POST,
            "/api/v2/workspace",
            &json!({ "projectName": "Other" }),
        )
        .await
        .unwrap();
    let u = User::new(&s);
    let pty = openpty(None, None).unwrap();
    let master = std::fs::File::from(pty.master);
    let seen = Arc::new(Mutex::new(Vec::new()));
    {
        let mut reader = master.try_clone().unwrap();
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
    }
    let io = || Stdio::from(pty.slave.try_clone().unwrap());
    let child = Command::new(BIN)
        .args(["init", "--server", &s.url, "--token", &s.token])
        .current_dir(u.cwd.path())
        .env("XDG_CONFIG_HOME", u.home.path())
        .env_remove("HUSH_PROJECT")
        .env_remove("HUSH_ENV")
        .stdin(io())
        .stdout(Stdio::piped())
        .stderr(io())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let prompt = loop {
        let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
        if text.contains("Number [1-2]") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let line = prompt
        .lines()
        .find(|l| l.contains("Other (other)"))
        .unwrap_or_else(|| panic!("no numbered list: {prompt}"));
    let number = line.trim().split(')').next().unwrap().to_owned();
    (&master)
        .write_all(format!("{number}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&seen.lock().unwrap())
    );
    assert!(stdout(&out).contains("project other"), "{}", stdout(&out));
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(u.cwd.path().join(".hush.json")).unwrap())
            .unwrap();
    assert_eq!(file["defaultEnvironment"], "dev");
}
