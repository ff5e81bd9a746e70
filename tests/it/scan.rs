//! Issue 28: `hush scan` through the real binary, on git repositories built
//! here, with a real server for known-values mode. Every test checks that
//! no secret value appears in any output (the canary).

use crate::harness::*;
use base64::Engine as _;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// A value that must never be printed: it marks a leak wherever it appears.
const CANARY: &str = "Zx9/canary+q7T2@mW4pLr";

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["config", "commit.gpgsign", "false"]);
    dir
}

fn commit_file(dir: &Path, name: &str, text: &str, message: &str) {
    std::fs::write(dir.join(name), text).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
}

/// Runs hush in `dir`, logged in to `server` when given (HUSH_* variables,
/// which a git hook started by the same process inherits).
fn scan_cmd(server: Option<&TestServer>, dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let home = dir.join(".hush-test-home");
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", &home)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env_remove("HUSH_TOKEN")
        .env_remove("HUSH_SERVER")
        .env_remove("HUSH_PROJECT")
        .env_remove("HUSH_ENV")
        .env_remove("HUSH_PATH")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(s) = server {
        cmd.env("HUSH_SERVER", &s.url).env("HUSH_TOKEN", &s.token);
    }
    let mut child = cmd.spawn().expect("run hush");
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_no_canary(&out);
    out
}

fn assert_no_canary(out: &Output) {
    let all = [&out.stdout[..], &out.stderr[..]].concat();
    let text = String::from_utf8_lossy(&all);
    let b64 = base64::engine::general_purpose::STANDARD.encode(CANARY);
    for form in [CANARY, &b64, &percent(CANARY), "canary+q7T2"] {
        assert!(
            !text.contains(form),
            "a secret value leaked into the output:\n{text}"
        );
    }
}

fn percent(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

async fn server_with_canary() -> TestServer {
    let s = TestServer::start(&[]).await;
    set(&s.client(), "DB_PASSWORD", CANARY).await.unwrap();
    set(&s.client(), "PORT", "8080").await.unwrap();
    s
}

#[tokio::test]
async fn history_finds_a_value_removed_three_commits_ago() {
    let s = server_with_canary().await;
    let dir = repo();
    let d = dir.path();
    commit_file(
        d,
        "config.yml",
        &format!("db:\n  password: {CANARY}\n"),
        "add config",
    );
    commit_file(
        d,
        "config.yml",
        "db:\n  password: from-env\n",
        "remove the password",
    );
    commit_file(d, "README", "hello\n", "docs");
    commit_file(d, "main.rs", "fn main() {}\n", "code");

    // The working tree is clean...
    let tree = scan_cmd(Some(&s), d, &["scan"], b"");
    assert_eq!(code(&tree), 0, "{}", stdout(&tree));
    // ...but the history is not, and the finding names the key and commit.
    let hist = scan_cmd(Some(&s), d, &["scan", "--git", "--json"], b"");
    assert_eq!(code(&hist), 1, "{}", String::from_utf8_lossy(&hist.stderr));
    let report: Value = serde_json::from_slice(&hist.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    let f = &findings[0];
    assert_eq!(f["path"], "config.yml");
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(2), Some(13))
    );
    assert_eq!(f["secret"]["key"], "DB_PASSWORD");
    assert_eq!(f["secret"]["env"], "dev");
    let first = Command::new("git")
        .args(["rev-list", "--max-parents=0", "HEAD"])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(f["commit"], String::from_utf8_lossy(&first.stdout).trim());
    assert!(f["excerpt"].as_str().unwrap().contains("password: ***"));

    // --since the second commit leaves the first one out.
    let since = scan_cmd(Some(&s), d, &["scan", "--git", "--since", "HEAD~2"], b"");
    assert_eq!(code(&since), 0, "{}", stdout(&since));
}

#[tokio::test]
async fn encoded_forms_are_found_by_key() {
    let s = server_with_canary().await;
    let dir = tempfile::tempdir().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(CANARY);
    let text = format!(
        "auth: Basic {b64}\nurl: postgres://app:{}@db/app\nport: 8080\n",
        percent(CANARY)
    );
    std::fs::write(dir.path().join("notes.txt"), &text).unwrap();
    let out = scan_cmd(Some(&s), dir.path(), &["scan"], b"");
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(
        text.contains("notes.txt:1:13  secret DB_PASSWORD (dev:/)"),
        "{text}"
    );
    assert!(text.contains("notes.txt:2:"), "{text}");
    // PORT's value is too common to look for, and is not reported.
    assert!(!text.contains("PORT"), "{text}");

    // stdin too.
    let piped = scan_cmd(Some(&s), dir.path(), &["scan", "-"], text.as_bytes());
    assert_eq!(code(&piped), 0, "the report itself holds no secret");
    let raw = scan_cmd(
        Some(&s),
        dir.path(),
        &["scan", "-"],
        format!("x={b64}").as_bytes(),
    );
    assert_eq!(code(&raw), 1);
}

#[tokio::test]
async fn ignore_file_allow_comments_and_env_files() {
    let dir = repo();
    let d = dir.path();
    let key = "AKIAQWERTYUIOPASDFGH";
    std::fs::create_dir(d.join("fixtures")).unwrap();
    std::fs::write(d.join("fixtures/keys.txt"), format!("{key}\n")).unwrap();
    std::fs::write(d.join("ok.py"), format!("KEY = \"{key}\"  # hush:allow\n")).unwrap();
    std::fs::write(d.join(".hushscanignore"), "fixtures/\n").unwrap();
    std::fs::write(d.join("ignored.txt"), format!("{key}\n")).unwrap();
    std::fs::write(d.join(".gitignore"), "ignored.txt\n").unwrap();
    let clean = scan_cmd(None, d, &["scan"], b"");
    assert_eq!(code(&clean), 0, "{}", stdout(&clean));

    // A .env file that .gitignore does not cover, and one git tracks.
    std::fs::write(d.join(".env"), "MODE=dev\n").unwrap();
    std::fs::write(d.join("prod.env"), "MODE=prod\n").unwrap();
    git(d, &["add", "prod.env"]);
    let out = scan_cmd(None, d, &["scan"], b"");
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(text.contains(".env:1:1  env-file-not-ignored"), "{text}");
    assert!(text.contains("prod.env:1:1  env-file-tracked"), "{text}");
    assert!(
        !text.contains("fixtures") && !text.contains("ok.py"),
        "{text}"
    );
}

#[tokio::test]
async fn sarif_names_the_rule_and_rules_files_extend() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let token = format!("ghp_{}", "Ab3D".repeat(9));
    std::fs::write(
        d.join("ci.sh"),
        format!("export GH={token}\nacme_12345678\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("rules.toml"),
        "[[rule]]\nid = \"acme-key\"\ndescription = \"Acme key\"\nregex = 'acme_[0-9]{8}'\n",
    )
    .unwrap();
    let out = scan_cmd(
        None,
        d,
        &["scan", "--sarif", "--rules", "rules.toml", "ci.sh"],
        b"",
    );
    assert_eq!(code(&out), 1);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    let rule_ids: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(rule_ids, vec!["acme-key", "github-token"]);
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let result = results
        .iter()
        .find(|r| r["ruleId"] == "github-token")
        .unwrap();
    let region = &result["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(1), Some(11))
    );
    assert!(!stdout(&out).contains(&token));

    // A broken rules file is an error (exit 2), one line and a hint.
    std::fs::write(d.join("bad.toml"), "[[rule]]\nid = \"x\"\nregex = '('\n").unwrap();
    let bad = scan_cmd(None, d, &["scan", "--rules", "bad.toml"], b"");
    assert_eq!(code(&bad), 2);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad rules file"));
}

#[tokio::test]
async fn the_hook_blocks_a_commit_that_adds_a_secret() {
    let s = server_with_canary().await;
    let dir = repo();
    let d = dir.path();
    commit_file(d, "README", "hi\n", "first");
    // A hook hush did not write is kept unless --force.
    let hooks = d.join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::write(hooks.join("pre-commit"), "#!/bin/sh\nexit 0\n").unwrap();
    let refused = scan_cmd(Some(&s), d, &["scan", "install-hook"], b"");
    assert_eq!(code(&refused), 2);
    let installed = scan_cmd(Some(&s), d, &["scan", "install-hook", "--force"], b"");
    assert_eq!(
        code(&installed),
        0,
        "{}",
        String::from_utf8_lossy(&installed.stderr)
    );

    let commit = |name: &str, text: &str| {
        std::fs::write(d.join(name), text).unwrap();
        let mut cmd = Command::new("git");
        cmd.args(["add", name]).current_dir(d);
        assert!(cmd.status().unwrap().success());
        let out = Command::new("git")
            .args(["commit", "-q", "-m", name])
            .current_dir(d)
            .env("HUSH_SERVER", &s.url)
            .env("HUSH_TOKEN", &s.token)
            .env("XDG_CONFIG_HOME", d.join(".hush-test-home"))
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert_no_canary(&out);
        out
    };
    let blocked = commit("app.env.txt", &format!("DB_PASSWORD={CANARY}\n"));
    assert!(!blocked.status.success(), "the hook let a secret through");
    // Git sends a hook's output to stderr.
    let said = [&blocked.stdout[..], &blocked.stderr[..]].concat();
    assert!(String::from_utf8_lossy(&said).contains("DB_PASSWORD"));
    git(d, &["reset", "-q", "app.env.txt"]);
    std::fs::remove_file(d.join("app.env.txt")).unwrap();
    let allowed = commit("notes.md", "nothing secret here\n");
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
}

#[tokio::test]
async fn binary_and_oversized_files_are_skipped_and_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = "AKIAQWERTYUIOPASDFGH";
    std::fs::write(
        d.join("blob.bin"),
        [b"\0\x01".as_slice(), key.as_bytes()].concat(),
    )
    .unwrap();
    std::fs::write(d.join("big.txt"), format!("{key}\n{}", "x".repeat(4000))).unwrap();
    let out = scan_cmd(None, d, &["scan", "--json", "--max-file-size", "1000"], b"");
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["skipped"]["binary"], 1);
    assert_eq!(report["skipped"]["too_large"], 1);
    let capped = scan_cmd(None, d, &["scan", "--json", "--max-total-size", "100"], b"");
    let report: Value = serde_json::from_slice(&capped.stdout).unwrap();
    assert!(
        report["skipped"]["over_total"].as_u64() >= Some(1),
        "{report}"
    );

    // Not a repository: one line saying what failed, one saying what to do.
    let err = scan_cmd(None, d, &["scan", "--staged"], b"");
    assert_eq!(code(&err), 2);
    let text = String::from_utf8_lossy(&err.stderr);
    assert!(text.contains("not in a git work tree"), "{text}");
    assert!(text.contains("hint:"), "{text}");
}

/// A value rotated away (the secret's current value is another) is still a
/// leak where it was committed: `--versions` finds it and names its version;
/// without it, only current values are looked for.
#[tokio::test]
async fn versions_find_a_rotated_away_value() {
    const OLD: &str = "Old9/rotated+Kq3v@Lm8xT";
    let s = TestServer::start(&[]).await;
    let c = s.client();
    assert_eq!(set(&c, "API_TOKEN", OLD).await.unwrap(), 1);
    assert_eq!(set(&c, "API_TOKEN", CANARY).await.unwrap(), 2);
    set(&c, "UNCHANGED", "same-value-Qw3rT9zX").await.unwrap();
    let dir = repo();
    let d = dir.path();
    let b64 = base64::engine::general_purpose::STANDARD.encode(OLD);
    commit_file(
        d,
        "deploy.sh",
        &format!("export API_TOKEN='{OLD}'\ncurl -H 'Authorization: Basic {b64}'\n"),
        "deploy script",
    );
    let no_leak = |o: &Output| {
        let all = String::from_utf8_lossy(&[&o.stdout[..], &o.stderr[..]].concat()).into_owned();
        assert!(!all.contains(OLD) && !all.contains(&b64), "leak:\n{all}");
    };

    let current_only = scan_cmd(Some(&s), d, &["scan", "--git"], b"");
    no_leak(&current_only);
    assert_eq!(code(&current_only), 0, "{}", stdout(&current_only));

    let with_versions = scan_cmd(Some(&s), d, &["scan", "--git", "--versions", "--json"], b"");
    no_leak(&with_versions);
    assert_eq!(
        code(&with_versions),
        1,
        "{}",
        String::from_utf8_lossy(&with_versions.stderr)
    );
    let report: Value = serde_json::from_slice(&with_versions.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{report}");
    for (f, line, column) in [(&findings[0], 1, 19), (&findings[1], 2, 31)] {
        assert_eq!(f["path"], "deploy.sh");
        assert_eq!(f["secret"]["key"], "API_TOKEN");
        assert_eq!(f["secret"]["env"], "dev");
        assert_eq!(f["secret"]["path"], "/");
        assert_eq!(f["secret"]["version"], 1);
        assert_eq!(
            (f["line"].as_u64(), f["column"].as_u64()),
            (Some(line), Some(column))
        );
    }
    // The working tree too, in the human report.
    let tree = scan_cmd(Some(&s), d, &["scan", "--versions"], b"");
    no_leak(&tree);
    assert_eq!(code(&tree), 1);
    assert!(
        stdout(&tree)
            .contains("deploy.sh:1:19  secret API_TOKEN (dev:/) version 1  export API_TOKEN='***'"),
        "{}",
        stdout(&tree)
    );
    // The current value is still found once, not as a version too.
    std::fs::write(d.join("now.txt"), format!("t={CANARY}\n")).unwrap();
    let now = scan_cmd(
        Some(&s),
        d,
        &["scan", "--versions", "--json", "now.txt"],
        b"",
    );
    let report: Value = serde_json::from_slice(&now.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    assert!(findings[0]["secret"].get("version").is_none(), "{report}");

    // --versions needs a login.
    let offline = scan_cmd(None, d, &["scan", "--versions"], b"");
    assert_eq!(code(&offline), 2);
    assert!(String::from_utf8_lossy(&offline.stderr).contains("need a login"));
}
