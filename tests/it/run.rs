//! Issues 5 and 6 through the real binary: `hush run` fetches, builds the
//! environment, supervises the child and masks its output.

use crate::harness::*;
use reqwest::Method;
use serde_json::json;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Env {
    server: TestServer,
    home: tempfile::TempDir,
}

impl Env {
    async fn new(secrets: &[(&str, &str)]) -> Env {
        let server = TestServer::start(&[]).await;
        let c = server.client();
        for (k, v) in secrets {
            set(&c, k, v).await.unwrap();
        }
        Env {
            server,
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self, run_args: &[&str]) -> Command {
        self.cmd_via(&self.server.url, run_args)
    }

    /// `cmd`, reaching the server at `url` (a proxy in front of it).
    fn cmd_via(&self, url: &str, run_args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .args(["--server", url, "--token", &self.server.token])
            .args(run_args)
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_CACHE_HOME", self.home.path().join("cache"))
            .env_remove("HUSH_TOKEN")
            .env_remove("HUSH_SERVER")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn run(&self, run_args: &[&str]) -> (i32, String, String) {
        let out = self.cmd(run_args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn sh(script: &str) -> Vec<&str> {
    vec!["--", "sh", "-c", script]
}

#[tokio::test]
async fn exit_codes_are_the_childs() {
    let e = Env::new(&[("API_KEY", "sk_live_exitcodes_1234")]).await;
    for code in [0, 3, 42] {
        assert_eq!(e.run(&sh(&format!("exit {code}"))).0, code);
    }
    assert_eq!(e.run(&sh("kill -TERM $$")).0, 128 + 15);
    let (code, _, err) = e.run(&["--", "definitely-not-a-command-xyz"]);
    assert_eq!(code, 127);
    assert!(err.contains("command not found"), "{err}");
    let f = e.home.path().join("not-executable");
    std::fs::write(&f, "#!/bin/sh\n").unwrap();
    assert_eq!(e.run(&["--", f.to_str().unwrap()]).0, 126);
    // An executable script without a #! line runs under /bin/sh, as in a
    // shell (posix_spawn refuses it; hush falls back to execvp).
    let script = e.home.path().join("no-shebang");
    std::fs::write(&script, "echo \"key=$API_KEY\"\nexit 5\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (code, out, _) = e.run(&["--", script.to_str().unwrap()]);
    assert_eq!(code, 5);
    assert_eq!(
        out.trim(),
        "key=***",
        "masked, and the script saw the secret"
    );
    assert_eq!(e.run(&["--no-mask", "--", "sh", "-c", "exit 7"]).0, 7);
    assert_eq!(e.run(&["--command", "exit 9"]).0, 9);
    let (code, _, err) = e.run(&[]);
    assert_eq!(code, 2);
    assert!(err.contains("no command to run"));
}

#[tokio::test]
async fn environment_precedence_and_credentials() {
    let e = Env::new(&[
        ("API_KEY", "from-hush-value"),
        ("PATH", "/evil"),
        ("ONLY_HUSH", "only-hush-value"),
    ])
    .await;
    let script = "echo \"API_KEY=$API_KEY\"; echo \"ONLY=$ONLY_HUSH\"; echo \"PATH=$PATH\"; echo \"SHELLVAR=$SHELLVAR\"; echo \"TOKEN=${HUSH_TOKEN:-none}\"";
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend(["--no-mask", "--", "sh", "-c", script]);
        let out = e
            .cmd(&args)
            .env("API_KEY", "from-shell")
            .env("SHELLVAR", "kept")
            .env("HUSH_TOKEN", "hush_at_parent")
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (out, err) = run(&[]);
    assert!(out.contains("API_KEY=from-hush-value"), "{out}");
    assert!(out.contains("ONLY=only-hush-value"));
    assert!(!out.contains("PATH=/evil"));
    assert!(out.contains("SHELLVAR=kept"));
    assert!(
        out.contains("TOKEN=none"),
        "the child must not see hush's token: {out}"
    );
    assert!(err.contains("secret PATH not injected"), "{err}");
    let (out, _) = run(&["--preserve-env"]);
    assert!(out.contains("API_KEY=from-shell"));
    let (out, _) = run(&["--preserve-env=SHELLVAR"]);
    assert!(out.contains("API_KEY=from-hush-value"));
    let (out, _) = run(&["--no-inherit-env"]);
    assert!(
        out.contains("SHELLVAR=\n") && out.contains("ONLY=only-hush-value"),
        "{out}"
    );
    let (out, _) = run(&["--pass-token"]);
    assert!(out.contains("TOKEN=hush_at_parent"));
}

#[tokio::test]
async fn references_cycles_missing_and_require() {
    let e = Env::new(&[
        ("HOST", "db.internal"),
        ("URL", "postgres://${HOST}/app"),
        ("LIT", "$${NOT_A_REF}"),
    ])
    .await;
    let (code, out, _) = e.run(&["--no-mask", "--", "sh", "-c", "echo $URL; echo $LIT"]);
    assert_eq!(code, 0);
    assert_eq!(out, "postgres://db.internal/app\n${NOT_A_REF}\n");
    let (_, out, _) = e.run(&["--no-mask", "--no-expand", "--", "sh", "-c", "echo $URL"]);
    assert_eq!(out, "postgres://${HOST}/app\n");
    let c = e.server.client();
    set(&c, "A", "${B}").await.unwrap();
    set(&c, "B", "${A}").await.unwrap();
    let (code, _, err) = e.run(&sh("true"));
    assert_eq!(code, 1);
    assert!(err.contains("cycle: A -> B -> A"), "{err}");
    set(&c, "A", "x${MISSING_ONE}").await.unwrap();
    let (code, _, err) = e.run(&sh("true"));
    assert_eq!(code, 1);
    assert!(err.contains("MISSING_ONE"), "{err}");
    set(&c, "A", "fine").await.unwrap();
    set(&c, "B", "fine").await.unwrap();
    let (code, _, err) = e.run(&[
        "--require",
        "HOST,NOPE1,NOPE2",
        "--",
        "sh",
        "-c",
        "echo started",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("NOPE1, NOPE2"), "{err}");
}

#[tokio::test]
async fn output_is_masked_through_pipes() {
    let e = Env::new(&[("API_KEY", "sk_live_CANARY_5f2c9a71"), ("SHORT", "abc")]).await;
    let (code, out, err) = e.run(&sh(
        "echo \"key: $API_KEY\"; echo \"err: $API_KEY\" >&2; printf '%s' \"$API_KEY\" | base64",
    ));
    assert_eq!(code, 0);
    assert!(
        !out.contains("CANARY") && !err.contains("CANARY"),
        "{out} {err}"
    );
    assert!(out.contains("key: ***"), "{out}");
    assert!(err.contains("err: ***"), "{err}");
    assert!(err.contains("not masking SHORT"), "{err}");
    let (_, out, err) = e.run(&[
        "--mask-format",
        "[masked:{key}]",
        "--mask-report",
        "--",
        "sh",
        "-c",
        "echo $API_KEY $API_KEY",
    ]);
    assert_eq!(out, "[masked:API_KEY] [masked:API_KEY]\n");
    assert!(err.contains("API_KEY") && err.contains('2'), "{err}");
    let (_, out, _) = e.run(&["--no-mask", "--", "sh", "-c", "echo $API_KEY"]);
    assert_eq!(out, "sk_live_CANARY_5f2c9a71\n");
}

#[tokio::test]
// The child is killed and reaped at the end; an assertion failing first ends the test process anyway.
#[allow(clippy::zombie_processes)]
async fn a_line_arrives_without_waiting_for_the_child() {
    let e = Env::new(&[("API_KEY", "sk_live_latency_77aa11")]).await;
    let mut child = e.cmd(&sh("echo ready; sleep 10")).spawn().unwrap();
    let start = Instant::now();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the line was held back"
    );
    let _ = child.kill();
}

fn signal(child: &Child, sig: &str) {
    Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
}

fn wait_for_file(path: &std::path::Path, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::fs::read_to_string(path)
            .unwrap_or_default()
            .contains(needle)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} never contained {needle}", path.display());
}

const COUNTER: &str = r#"
import signal, sys, time, os
log = sys.argv[1]
def note(name):
    with open(log, "a") as f: f.write(name + "\n")
def on(sig, frame):
    note(signal.Signals(sig).name)
    if sig == signal.SIGTERM:
        time.sleep(0.3); sys.exit(0)
for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
    signal.signal(s, on)
note("ready")
while True: time.sleep(0.05)
"#;

#[tokio::test]
async fn signals_are_forwarded_exactly_once() {
    let e = Env::new(&[("API_KEY", "sk_live_signals_0099")]).await;
    let log = e.home.path().join("signals.log");
    let mut child = e
        .cmd(&["--", "python3", "-c", COUNTER, log.to_str().unwrap()])
        .spawn()
        .unwrap();
    wait_for_file(&log, "ready");
    signal(&child, "INT");
    wait_for_file(&log, "SIGINT");
    signal(&child, "HUP");
    wait_for_file(&log, "SIGHUP");
    signal(&child, "TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    for name in ["SIGINT", "SIGHUP", "SIGTERM"] {
        assert_eq!(text.matches(name).count(), 1, "{name} in {text}");
    }
}

#[tokio::test]
async fn second_signal_escalates_to_sigkill_after_kill_timeout() {
    let e = Env::new(&[("API_KEY", "sk_live_stubborn_4411")]).await;
    let log = e.home.path().join("stubborn.log");
    let script = format!(
        "trap 'echo TERM >> {0}' TERM; echo ready >> {0}; while true; do sleep 0.05; done",
        log.display()
    );
    let mut child = e
        .cmd(&["--kill-timeout", "300ms", "--", "sh", "-c", &script])
        .spawn()
        .unwrap();
    wait_for_file(&log, "ready");
    signal(&child, "TERM");
    wait_for_file(&log, "TERM");
    signal(&child, "TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(137));
}

#[tokio::test]
async fn offline_fallback_uses_the_encrypted_cache() {
    let mut e = Env::new(&[("API_KEY", "sk_live_offline_CANARY_31")]).await;
    let (code, out, _) = e.run(&sh("echo online"));
    assert_eq!((code, out.as_str()), (0, "online\n"));
    let cache_dir = e.home.path().join("cache/hush");
    for entry in std::fs::read_dir(&cache_dir).unwrap() {
        let path = entry.unwrap().path();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(!String::from_utf8_lossy(&std::fs::read(&path).unwrap()).contains("CANARY"));
    }
    // A bad token is refused by the server: no fallback.
    let bad = Command::new(BIN)
        .args([
            "run",
            "--server",
            &e.server.url,
            "--token",
            "hush_at_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "--",
            "true",
        ])
        .env("XDG_CACHE_HOME", e.home.path().join("cache"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(3));
    e.server.kill9();
    let (code, out, err) = e.run(&["--no-mask", "--", "sh", "-c", "echo $API_KEY"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "sk_live_offline_CANARY_31\n");
    assert!(err.contains("using cached secrets"), "{err}");
    std::thread::sleep(Duration::from_millis(20));
    let (code, _, err) = e.run(&["--fallback-max-age", "1ms", "--", "true"]);
    assert_eq!(code, 1);
    assert!(err.contains("older than --fallback-max-age"), "{err}");
    let (code, _, _) = e.run(&["--no-fallback", "--", "true"]);
    assert_eq!(code, 6);
}

/// `hush run` arguments that watch (`--watch`, with fallback polling far
/// beyond a test's patience: only the change feed, or the watcher's own
/// fetch, restarts the command in time) a command that appends
/// `start $API_KEY` to `log` when it starts and `stop` on SIGTERM.
pub(crate) fn watch_logging(log: &std::path::Path) -> Vec<String> {
    let script = format!(
        "echo \"start $API_KEY\" >> {0}; trap 'echo stop >> {0}; exit 0' TERM; while true; do sleep 0.05; done",
        log.display()
    );
    [
        "--watch",
        "--watch-interval",
        "60s",
        "--no-mask",
        "--",
        "sh",
        "-c",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([script])
    .collect()
}

#[tokio::test]
async fn watch_restarts_once_on_change_and_never_overlaps() {
    let e = Env::new(&[("API_KEY", "sk_live_watch_version_one")]).await;
    let log = e.home.path().join("watch.log");
    let args = watch_logging(&log);
    let mut child = e
        .cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .spawn()
        .unwrap();
    wait_for_file(&log, "start sk_live_watch_version_one");
    let c = e.server.client();
    // Same value again: a new version but the same environment, so no restart.
    set(&c, "API_KEY", "sk_live_watch_version_one")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    set(&c, "API_KEY", "sk_live_watch_version_two")
        .await
        .unwrap();
    wait_for_file(&log, "start sk_live_watch_version_two");
    signal(&child, "TERM");
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "start sk_live_watch_version_one",
            "stop",
            "start sk_live_watch_version_two",
            "stop"
        ],
        "{text}"
    );
}

/// A proxy in front of `upstream` that holds each request opening the change
/// feed (`/api/v1/hush/changes` without `after`): it signals `held`, then
/// waits for `release` before passing it on. Returns the proxy's URL.
async fn feed_opening_held(
    upstream: String,
    held: std::sync::Arc<tokio::sync::Notify>,
    release: std::sync::Arc<tokio::sync::Notify>,
) -> String {
    use axum::body::Body;
    use axum::extract::Request;
    let http = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |req: Request| {
        let (http, upstream) = (http.clone(), upstream.clone());
        let (held, release) = (held.clone(), release.clone());
        async move {
            let path = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            if req.uri().path() == "/api/v1/hush/changes" && !path.contains("after=") {
                held.notify_one();
                release.notified().await;
            }
            let method = req.method().clone();
            let mut headers = req.headers().clone();
            headers.remove("host");
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap();
            let answer = http
                .request(method, format!("{upstream}{path}"))
                .headers(headers)
                .body(body)
                .send()
                .await
                .unwrap();
            let mut out = axum::http::Response::builder().status(answer.status());
            for (k, v) in answer.headers() {
                if k != "transfer-encoding" && k != "connection" {
                    out = out.header(k, v);
                }
            }
            out.body(Body::from(answer.bytes().await.unwrap())).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A change committed after `hush run --watch` fetched but before its
/// watcher opened the change feed is in no page of the feed; the watcher
/// fetches once as soon as the feed is open, so the command still restarts
/// with it (the feed's opening is held by a proxy while the test writes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_catches_a_change_made_while_the_feed_opens() {
    let e = Env::new(&[("API_KEY", "sk_live_opening_one")]).await;
    let held = std::sync::Arc::new(tokio::sync::Notify::new());
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let proxy = feed_opening_held(e.server.url.clone(), held.clone(), release.clone()).await;
    let log = e.home.path().join("watch.log");
    let args = watch_logging(&log);
    let mut child = e
        .cmd_via(&proxy, &args.iter().map(String::as_str).collect::<Vec<_>>())
        .spawn()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), held.notified())
        .await
        .expect("the watcher opens the change feed");
    set(&e.server.client(), "API_KEY", "sk_live_opening_two")
        .await
        .unwrap();
    release.notify_one();
    tokio::task::spawn_blocking({
        let log = log.clone();
        move || wait_for_file(&log, "start sk_live_opening_two")
    })
    .await
    .unwrap();
    signal(&child, "TERM");
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("start sk_live_opening_one\n"), "{text}");
}

/// The user's terminal, played by a pty the test opens.
mod terminal {
    use super::*;
    use nix::pty::{openpty, Winsize};
    use nix::sys::termios::tcgetattr;
    use std::fs::File;
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn child_sees_a_terminal_and_output_is_still_masked() {
        let e = Env::new(&[("API_KEY", "sk_live_TTY_CANARY_8c1d")]).await;
        let ws = Winsize {
            ws_row: 33,
            ws_col: 101,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(Some(&ws), None).unwrap();
        let before = tcgetattr(pty.slave.as_fd()).unwrap();
        let master = File::from(pty.master);
        let out = Arc::new(Mutex::new(Vec::new()));
        {
            let mut reader = master.try_clone().unwrap();
            let out = out.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        let script = r#"
import os, sys, signal, time
n = {"int": 0}
def on(sig, frame): n["int"] += 1
signal.signal(signal.SIGINT, on)
sz = os.get_terminal_size()
print("TTY", os.isatty(0), os.isatty(1), os.isatty(2), sz.lines, sz.columns, flush=True)
print("\x1b[31mRED\x1b[0m", os.environ["API_KEY"], flush=True)
# Let stdout's masker flush a held tail (at most --mask-hold) before stderr
# writes to the same terminal, so the two streams' lines do not interleave.
time.sleep(0.5)
sys.stderr.write("ERR " + os.environ["API_KEY"] + "\n"); sys.stderr.flush()
time.sleep(0.5)
print("WAITING", flush=True)
deadline = time.time() + 10
while n["int"] == 0 and time.time() < deadline: time.sleep(0.02)
time.sleep(0.3)
print("SIGINTS", n["int"], flush=True)
"#;
        let io = || Stdio::from(pty.slave.try_clone().unwrap());
        let mut child = e
            .cmd(&["--", "python3", "-c", script])
            .stdin(io())
            .stdout(io())
            .stderr(io())
            .spawn()
            .unwrap();
        let seen = |needle: &str| {
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if String::from_utf8_lossy(&out.lock().unwrap()).contains(needle) {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        };
        assert!(
            seen("WAITING"),
            "{}",
            String::from_utf8_lossy(&out.lock().unwrap())
        );
        (&master).write_all(b"\x03").unwrap();
        assert!(seen("SIGINTS"));
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0));
        std::thread::sleep(Duration::from_millis(100));
        let text = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
        assert!(text.contains("TTY True True True 33 101"), "{text}");
        // stdout and stderr are separate streams on separate ptys: their lines may
        // interleave, so each is checked on its own.
        assert!(
            text.contains("\x1b[31mRED\x1b[0m "),
            "colours pass through: {text}"
        );
        assert!(text.contains("ERR "), "{text}");
        assert!(
            text.matches("***").count() >= 2,
            "both streams masked: {text}"
        );
        assert!(text.contains("SIGINTS 1"), "{text}");
        assert!(!text.contains("CANARY"), "{text}");
        let after = tcgetattr(pty.slave.as_fd()).unwrap();
        assert_eq!(
            format!("{:?}", before),
            format!("{:?}", after),
            "terminal mode not restored"
        );
    }
}

#[tokio::test]
async fn run_uses_project_file_and_env_selection() {
    let e = Env::new(&[]).await;
    let c = e.server.client();
    let mut body = scope("staging", "/api");
    body["secretValue"] = json!("staging-api-value");
    c.send(Method::PUT, "/api/v1/hush/secrets/SVC", &body)
        .await
        .unwrap();
    let (code, out, err) = e.run(&[
        "-e",
        "staging",
        "--path",
        "/api",
        "--no-mask",
        "--",
        "sh",
        "-c",
        "echo $SVC",
    ]);
    assert_eq!((code, out.as_str()), (0, "staging-api-value\n"), "{err}");
}

#[tokio::test]
async fn redact_filters_stdin_with_server_or_file_values() {
    let e = Env::new(&[("API_KEY", "sk_live_REDACT_CANARY_42")]).await;
    let input = b"line one sk_live_REDACT_CANARY_42 end\n\xff\xfe binary \x1b[31mred\x1b[0m\n";
    let out = hush(
        e.home.path(),
        &[
            "redact",
            "--server",
            &e.server.url,
            "--token",
            &e.server.token,
        ],
        Some(input),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.stdout,
        b"line one *** end\n\xff\xfe binary \x1b[31mred\x1b[0m\n"
    );
    let file = e.home.path().join("values.env");
    std::fs::write(&file, "TOKEN=\"file-value-CANARY-77\"\n").unwrap();
    let out = hush(
        e.home.path(),
        &[
            "redact",
            "--values-from",
            file.to_str().unwrap(),
            "--mask-format",
            "[{key}]",
        ],
        Some(b"x file-value-CANARY-77 y"),
    );
    assert_eq!(out.stdout, b"x [TOKEN] y");
}

#[tokio::test]
async fn orphaned_grandchildren_are_reaped() {
    let e = Env::new(&[("API_KEY", "sk_live_reaper_5512")]).await;
    // `( sleep 0.1 & )` orphans a short-lived grandchild: it is re-parented to
    // hush (a child subreaper), which must reap it, leaving no zombie behind.
    let script = "( sleep 0.1 & ); ( sleep 0.1 & ); sleep 1; \
                  echo \"adopted-zombies=$(ps -eo ppid=,stat= | awk -v p=$PPID '$1==p && $2 ~ /Z/' | wc -l)\"";
    let (code, out, err) = e.run(&sh(script));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("adopted-zombies=0"), "{out}");
}

fn wait_for_path(path: &std::path::Path) -> String {
    wait_for_file(path, "/");
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

/// Issue 26: `--mount` writes the secrets to a 0600 file named by
/// HUSH_SECRETS_PATH for the command's lifetime only.
#[tokio::test]
async fn mount_file_has_the_bytes_and_mode_and_is_removed_at_exit() {
    use std::os::unix::fs::PermissionsExt;
    let canary = "sk_live_MOUNT_CANARY_7e1f";
    let e = Env::new(&[("API_KEY", canary), ("OTHER", "two words")]).await;
    let out = e.home.path().join("seen");
    // The child copies what it sees: the file, its mode, its directory's mode.
    let script = format!(
        "cp \"$HUSH_SECRETS_PATH\" {0}.bytes; stat -c %a \"$HUSH_SECRETS_PATH\" > {0}.mode; \
         stat -c %a \"$(dirname \"$HUSH_SECRETS_PATH\")\" > {0}.dirmode; \
         echo \"$HUSH_SECRETS_PATH\" > {0}.path; exit 7",
        out.display()
    );
    let read = |ext: &str| {
        std::fs::read_to_string(format!("{}.{ext}", out.display()))
            .unwrap()
            .trim_end_matches('\n')
            .to_string()
    };

    // Automatic location: a private directory, dotenv by default.
    let (code, stdout, err) = e.run(&["--mount", "--", "sh", "-c", &script]);
    assert_eq!(code, 7, "{err}");
    assert!(!stdout.contains(canary) && !err.contains(canary));
    assert_eq!(
        read("bytes"),
        format!("API_KEY={canary}\nOTHER=\"two words\"")
    );
    assert_eq!(read("mode"), "600");
    assert_eq!(read("dirmode"), "700");
    let path = std::path::PathBuf::from(read("path"));
    assert!(!path.exists(), "{} left behind", path.display());
    assert!(
        !path.parent().unwrap().exists(),
        "private directory left behind"
    );

    // Explicit path, JSON, and --no-mask (hush must stay to clean up).
    let explicit = e.home.path().join("secrets.json");
    let arg = format!("--mount={}", explicit.display());
    let (code, _, err) = e.run(&[
        &arg,
        "--mount-format",
        "json",
        "--no-mask",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(code, 7, "{err}");
    let json: serde_json::Value = serde_json::from_str(&read("bytes")).unwrap();
    assert_eq!(json, json!({"API_KEY": canary, "OTHER": "two words"}));
    assert_eq!(read("mode"), "600");
    assert_eq!(read("path"), explicit.display().to_string());
    assert!(!explicit.exists(), "explicit mount left behind");

    // An existing file is never overwritten (nor removed); one-line error, no value.
    std::fs::write(&explicit, "mine").unwrap();
    std::fs::set_permissions(&explicit, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = e.run(&[&arg, "--", "sh", "-c", "exit 0"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("never overwrites"), "{err}");
    assert!(!err.contains(canary), "{err}");
    assert_eq!(std::fs::read_to_string(&explicit).unwrap(), "mine");

    // Formats that cannot carry a key fail before the command starts.
    let (code, _, err) = e.run(&["--mount-format", "json", "--", "true"]);
    assert_eq!(code, 2, "--mount-format needs --mount: {err}");
}

#[tokio::test]
async fn mount_file_is_removed_when_hush_gets_sigterm() {
    let e = Env::new(&[("API_KEY", "sk_live_mount_term_5511")]).await;
    let pathfile = e.home.path().join("mount-path");
    let script = format!(
        "echo \"$HUSH_SECRETS_PATH\" > {}; sleep 30",
        pathfile.display()
    );
    let mut child = e
        .cmd(&[
            "--mount",
            "--mount-format",
            "env",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .spawn()
        .unwrap();
    let path = std::path::PathBuf::from(wait_for_path(&pathfile));
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("export API_KEY='sk_live_mount_term_5511'"),
        "the env format while the command runs"
    );
    signal(&child, "TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15));
    assert!(
        !path.exists(),
        "{} left behind after SIGTERM",
        path.display()
    );
    assert!(!path.parent().unwrap().exists());
}

/// `--mount-template`: the agent's Go-template engine over the run's
/// secrets; the file takes the template's name and goes away at exit.
#[tokio::test]
async fn mount_template_renders_the_secrets_and_is_removed_at_exit() {
    let canary = "sk_live_MOUNT_TPL_4c0d";
    let e = Env::new(&[("API_KEY", canary), ("DB_HOST", "db.internal")]).await;
    let tpl = e.home.path().join("app.conf.tmpl");
    std::fs::write(
        &tpl,
        "[db]\nhost = {{ .DB_HOST }}\n{{- range $k, $v := . }}\n{{ $k | lower }} = {{ $v | quote }}{{ end }}\n",
    )
    .unwrap();
    let out = e.home.path().join("seen");
    let script = format!(
        "cp \"$HUSH_SECRETS_PATH\" {0}.bytes; basename \"$HUSH_SECRETS_PATH\" > {0}.name; \
         stat -c %a \"$HUSH_SECRETS_PATH\" > {0}.mode; echo \"$HUSH_SECRETS_PATH\" > {0}.path",
        out.display()
    );
    let tpl_arg = tpl.display().to_string();
    let (code, stdout, err) = e.run(&[
        "--mount",
        "--mount-template",
        &tpl_arg,
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!stdout.contains(canary) && !err.contains(canary));
    let read = |ext: &str| std::fs::read_to_string(format!("{}.{ext}", out.display())).unwrap();
    assert_eq!(
        read("bytes"),
        format!("[db]\nhost = db.internal\napi_key = \"{canary}\"\ndb_host = \"db.internal\"\n")
    );
    assert_eq!(read("name").trim(), "app.conf");
    assert_eq!(read("mode").trim(), "600");
    let path = std::path::PathBuf::from(read("path").trim());
    assert!(!path.exists() && !path.parent().unwrap().exists());

    // A broken template fails before anything runs, naming the template.
    std::fs::write(&tpl, "{{ if }}").unwrap();
    let (code, _, err) = e.run(&[
        "--mount",
        "--mount-template",
        &tpl_arg,
        "--",
        "sh",
        "-c",
        "echo ran",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--mount-template") && err.contains("app.conf.tmpl"),
        "{err}"
    );
    // Without --mount, or with a format as well, it is a usage error.
    let (code, _, _) = e.run(&["--mount-template", &tpl_arg, "--", "true"]);
    assert_eq!(code, 2);
    let (code, _, err) = e.run(&[
        "--mount",
        "--mount-format",
        "json",
        "--mount-template",
        &tpl_arg,
        "--",
        "true",
    ]);
    assert_eq!(code, 2, "{err}");
}

/// `--mount-max-reads N`: a 0600 FIFO that serves N whole reads, then is
/// gone; an unread one is gone after exit and after SIGTERM.
#[tokio::test]
async fn mount_fifo_serves_n_reads_then_disappears() {
    let canary = "sk_live_MOUNT_FIFO_91be";
    let e = Env::new(&[("API_KEY", canary)]).await;
    let out = e.home.path().join("seen");
    let script = format!(
        "P=\"$HUSH_SECRETS_PATH\"; stat -c '%a %F' \"$P\" > {0}.stat; cat \"$P\" > {0}.one; cat \"$P\" > {0}.two; \
         i=0; while [ -e \"$P\" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; \
         if [ -e \"$P\" ]; then echo present; else echo gone; fi > {0}.after",
        out.display()
    );
    let (code, _, err) = e.run(&[
        "--mount",
        "--mount-max-reads",
        "2",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(code, 0, "{err}");
    let read = |ext: &str| std::fs::read_to_string(format!("{}.{ext}", out.display())).unwrap();
    assert_eq!(read("stat").trim(), "600 fifo");
    assert_eq!(read("one"), format!("API_KEY={canary}\n"));
    assert_eq!(read("two"), format!("API_KEY={canary}\n"));
    assert_eq!(read("after").trim(), "gone");

    // Never read: removed when the command exits, without hanging.
    let pathfile = e.home.path().join("fifo-path");
    let script = format!("echo \"$HUSH_SECRETS_PATH\" > {}", pathfile.display());
    let (code, _, err) = e.run(&[
        "--mount",
        "--mount-max-reads",
        "1",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(code, 0, "{err}");
    let path = std::path::PathBuf::from(wait_for_path(&pathfile));
    assert!(!path.exists() && !path.parent().unwrap().exists());

    // And after SIGTERM.
    std::fs::remove_file(&pathfile).unwrap();
    let script = format!(
        "echo \"$HUSH_SECRETS_PATH\" > {}; sleep 30",
        pathfile.display()
    );
    let mut child = e
        .cmd(&[
            "--mount",
            "--mount-max-reads",
            "3",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .spawn()
        .unwrap();
    let path = std::path::PathBuf::from(wait_for_path(&pathfile));
    assert!(path.exists());
    signal(&child, "TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15));
    assert!(
        !path.exists(),
        "{} left behind after SIGTERM",
        path.display()
    );
    assert!(!path.parent().unwrap().exists());

    // Out of range.
    let (code, _, _) = e.run(&["--mount", "--mount-max-reads", "0", "--", "true"]);
    assert_eq!(code, 2);
}
