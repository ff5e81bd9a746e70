//! Issue 19, transport part: slow clients, browsers, bootstrap codes and process
//! hygiene, each tried against a real server as an attacker would.

use crate::harness::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(url: &str) -> String {
    url.trim_start_matches("http://").to_owned()
}

/// Sends `request` on a new connection and returns the whole answer (the
/// request should say `Connection: close`).
async fn raw(url: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr(url)).await.unwrap();
    // A refused connection may be reset before the write: that is an answer too.
    let _ = s.write_all(request.as_bytes()).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A connection that trickles one header line every 300 ms (or, if `silent`,
/// sends nothing) until the server closes it; returns how long it stayed open.
async fn slow_connection(url: String, silent: bool) -> Duration {
    let began = Instant::now();
    let Ok(mut s) = TcpStream::connect(addr(&url)).await else {
        return Duration::ZERO;
    };
    if !silent {
        let _ = s
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            .await;
    }
    let mut buf = [0u8; 512];
    loop {
        tokio::select! {
            r = s.read(&mut buf) => match r {
                Ok(0) | Err(_) => return began.elapsed(),
                Ok(_) => {}
            },
            _ = tokio::time::sleep(Duration::from_millis(300)) => {
                if !silent && s.write_all(b"X-Slow: a\r\n").await.is_err() {
                    return began.elapsed();
                }
            }
        }
        if began.elapsed() > Duration::from_secs(30) {
            return began.elapsed();
        }
    }
}

#[tokio::test]
async fn slow_clients_do_not_starve_honest_ones_and_are_closed() {
    let s = TestServer::start(&["--header-read-timeout", "2s", "--idle-timeout", "1s"]).await;
    set(&s.client(), "API_KEY", "v1").await.unwrap();
    let slow: Vec<_> = (0..64)
        .map(|_| tokio::spawn(slow_connection(s.url.clone(), false)))
        .collect();
    let silent = tokio::spawn(slow_connection(s.url.clone(), true));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let c = s.client();
    let began = Instant::now();
    c.get("/healthz", &[]).await.unwrap();
    let healthz = began.elapsed();
    let began = Instant::now();
    let list = c
        .get("/api/v3/secrets/raw", &scope_q("dev", "/"))
        .await
        .unwrap();
    let listed = began.elapsed();
    assert_eq!(list["secrets"].as_array().unwrap().len(), 1, "{list}");
    assert!(
        healthz < Duration::from_secs(1),
        "/healthz took {healthz:?}"
    );
    assert!(listed < Duration::from_secs(1), "the list took {listed:?}");

    // The header timer (2s) closes the tricklers; the idle timer (1s) the
    // connection that never said anything.
    for t in slow {
        let open = t.await.unwrap();
        assert!(
            open >= Duration::from_millis(1500) && open < Duration::from_secs(6),
            "a trickling connection stayed open {open:?}"
        );
    }
    let open = silent.await.unwrap();
    assert!(
        open >= Duration::from_millis(800) && open < Duration::from_millis(1900),
        "a silent connection stayed open {open:?}"
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_until_slots_free() {
    let s = TestServer::start(&[
        "--max-connections",
        "4",
        "--header-read-timeout",
        "2s",
        "--idle-timeout",
        "1s",
    ])
    .await;
    // Let the server see the harness's bootstrap connection close: a slot it
    // frees later would let the connection below in.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(addr(&s.url)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The kernel completes the handshake; hush closes it without an answer.
    let answer = raw(
        &s.url,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(answer, "", "a connection beyond the cap was served");
    // The idle timeout frees the silent connections' slots.
    let c = s.client();
    assert!(
        eventually(Duration::from_secs(5), async || c
            .get("/healthz", &[])
            .await
            .is_ok())
        .await,
        "no slot came free"
    );
    drop(held);
}

#[tokio::test]
async fn slow_body_is_408_and_slow_handler_is_503_but_long_poll_works() {
    // The body timeout well inside the request timeout: with both at 1 s the
    // two timers raced on a loaded machine and the 503 sometimes won.
    let s = TestServer::start(&["--body-read-timeout", "300ms", "--request-timeout", "1s"]).await;
    // A body that never finishes arriving.
    let mut conn = TcpStream::connect(addr(&s.url)).await.unwrap();
    conn.write_all(
        b"POST /api/v1/hush/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
    )
    .await
    .unwrap();
    let began = Instant::now();
    let mut out = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut out))
        .await
        .expect("an answer to the slow body")
        .unwrap();
    let answer = String::from_utf8_lossy(&out[..n]);
    assert_eq!(status_of(&answer), 408, "{answer}");
    assert!(answer.contains("\"RequestTimeout\""), "{answer}");
    assert!(began.elapsed() < Duration::from_secs(5));

    // The change feed's long-poll may hold a request past the request timeout.
    let c = s.client();
    let cursor = c
        .get("/api/v1/hush/changes", &[("workspaceId", "default".into())])
        .await
        .unwrap()["cursor"]
        .as_i64()
        .unwrap();
    let began = Instant::now();
    let page = c
        .get(
            "/api/v1/hush/changes",
            &[
                ("workspaceId", "default".into()),
                ("after", cursor.to_string()),
                ("wait", "2".into()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(page["changes"], json!([]), "{page}");
    assert!(began.elapsed() >= Duration::from_millis(1900));

    // A handler slower than the request timeout (password hashing, 1 ms).
    let dir = tempfile::tempdir().unwrap();
    let fresh = TestServer::spawn(dir.path(), &["--request-timeout", "1ms"]).unwrap();
    let anon = hush::client::ApiClient::new(&fresh.url, None).unwrap();
    let e = anon
        .send(
            Method::POST,
            "/api/v1/hush/bootstrap",
            &json!({ "email": "a@example.com", "password": PASSWORD,
                     "bootstrapCode": fresh.bootstrap_code() }),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(503), "{e}");
    assert!(!fresh.log().contains("panicked"));
}

#[tokio::test]
async fn state_changing_requests_must_be_json() {
    let s = TestServer::start(&[]).await;
    let http = reqwest::Client::new();
    for path in ["/api/v1/hush/bootstrap", "/api/v1/hush/auth/login"] {
        let r = http
            .post(format!("{}{path}", s.url))
            .header("Content-Type", "text/plain")
            .body(r#"{"email":"admin@example.com","password":"correct horse battery staple"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 415, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["statusCode"], 415, "{body}");
        assert_eq!(body["error"], "UnsupportedMediaType", "{body}");
        // A form post is refused alike, and so is a body with no content type.
        let r = http
            .post(format!("{}{path}", s.url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("email=a")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 415, "{path}");
        let r = http
            .post(format!("{}{path}", s.url))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 415, "{path}");
    }
    // JSON with a charset is fine, as the Python SDK's DELETE with a JSON body is.
    set(&s.client(), "GONE", "v").await.unwrap();
    let r = http
        .delete(format!("{}/api/v3/secrets/raw/GONE", s.url))
        .bearer_auth(&s.token)
        .header("Content-Type", "application/json; charset=utf-8")
        .body(r#"{"workspaceId":"default","environment":"dev","secretPath":"/"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // A bodiless POST needs no content type (logout).
    let r = http
        .post(format!("{}/api/v1/hush/auth/logout", s.url))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

async fn attempt(
    anon: &hush::client::ApiClient,
    code: Option<String>,
) -> Result<Value, hush::client::ClientError> {
    let mut body = json!({ "email": "admin@example.com", "password": PASSWORD });
    if let Some(code) = code {
        body["bootstrapCode"] = json!(code);
    }
    anon.send(Method::POST, "/api/v1/hush/bootstrap", &body)
        .await
}

#[tokio::test]
async fn bootstrap_needs_the_one_time_code() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestServer::spawn(dir.path(), &[]).unwrap();
    let file = dir.path().join("bootstrap-code");
    let code = s.bootstrap_code();
    assert_eq!(code.len(), 29, "{code}");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(s.log().contains(&code), "the code is printed on start");
    let anon = hush::client::ApiClient::new(&s.url, None).unwrap();
    let missing = attempt(&anon, None).await.unwrap_err();
    assert_eq!(missing.status(), Some(403), "{missing}");
    assert!(missing.to_string().contains("--code"), "{missing}");
    let wrong = attempt(&anon, Some("0000-0000-0000-0000-0000-0000".into()))
        .await
        .unwrap_err();
    assert_eq!(wrong.status(), Some(403), "{wrong}");
    // The right one works once, however it is typed; then the file is gone.
    attempt(&anon, Some(code.to_uppercase())).await.unwrap();
    assert!(!file.exists());
    let again = attempt(&anon, Some(code.clone())).await.unwrap_err();
    assert_eq!(again.status(), Some(400), "{again}");
    // A bootstrapped server prints no code when it starts again.
    s.restart();
    assert!(!file.exists());
    assert_eq!(s.log().matches("One-time bootstrap code").count(), 1);
}

#[tokio::test]
async fn cli_bootstrap_reads_the_local_servers_code() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::spawn(dir.path(), &[]).unwrap();
    let home = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &Path)]| {
        let mut child = Command::new(BIN)
            .args(["bootstrap", "--server", &s.url])
            .args(["--email", "admin@example.com", "--password-stdin"])
            .env("XDG_CONFIG_HOME", home.path())
            .env_remove("HUSH_BOOTSTRAP_CODE")
            .env_remove("HUSH_DATA_DIR")
            .envs(envs.iter().copied())
            .current_dir(home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(PASSWORD.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    // No code anywhere: the server's refusal says what to do.
    let out = run(&[]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bootstrap code"), "{err}");
    // The server runs on this host: its data dir's file is read.
    let out = run(&[("HUSH_DATA_DIR", dir.path())]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn allowed_hosts_refuse_other_host_names() {
    let s = TestServer::start(&["--allowed-hosts", "127.0.0.1,hush.test"]).await;
    let get = |host: &str, path: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    };
    let refused = raw(&s.url, &get("evil.example", "/api/v1/hush/projects")).await;
    assert_eq!(status_of(&refused), 421, "{refused}");
    assert!(refused.contains("\"MisdirectedRequest\""), "{refused}");
    let rebound = raw(&s.url, &get("evil.example:8200", "/api/v1/hush/projects")).await;
    assert_eq!(status_of(&rebound), 421, "{rebound}");
    // Allowed names reach the route (401: no token); probes answer anyone.
    let allowed = raw(&s.url, &get("hush.test:8200", "/api/v1/hush/projects")).await;
    assert_eq!(status_of(&allowed), 401, "{allowed}");
    let probe = raw(&s.url, &get("evil.example", "/healthz")).await;
    assert_eq!(status_of(&probe), 200, "{probe}");
    s.client().get("/api/v1/hush/projects", &[]).await.unwrap();
}

/// The server started through `sh` with core dumps allowed (as a careless
/// service manager might), in `cwd`, with the root key inline.
fn spawn_with_core_dumps_allowed(cwd: &Path, root_key: &str) -> (std::process::Child, String) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -c unlimited 2>/dev/null; exec "$0" "$@""#)
        .arg(BIN)
        .args(["server", "--data-dir", "data", "--listen", "127.0.0.1:0"])
        .current_dir(cwd)
        .env("HUSH_ROOT_KEY", root_key)
        .env_remove("HUSH_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let url = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("hush server listening on ")
                .map(str::to_owned)
        })
        .expect("server listens");
    (child, url)
}

#[tokio::test]
async fn a_crash_leaves_no_core_file_and_no_key_in_the_environment() {
    let cwd = tempfile::tempdir().unwrap();
    let root_key = hush::crypto::Key::generate().unwrap().to_base64();
    let (mut child, _url) = spawn_with_core_dumps_allowed(cwd.path(), &root_key);
    let pid = child.id();

    // What the process itself controls: no core size, no key in environ.
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], ["0", "0"], "{core}");
    // Root may read a non-dumpable process's environ; others get EACCES,
    // which hides the key as well.
    match std::fs::read(format!("/proc/{pid}/environ")) {
        Ok(environ) => {
            let text = String::from_utf8_lossy(&environ);
            assert!(
                !text.contains(root_key.as_str()),
                "the root key is still in environ"
            );
        }
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}"),
    }

    // Rust's runtime catches the first SIGSEGV (its stack-overflow check),
    // restores the default action and returns: a real fault then faults again
    // and kills the process; a signal sent by `kill` must be sent again.
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let _ = Command::new("kill")
            .args(["-SEGV", &pid.to_string()])
            .status();
        std::thread::sleep(Duration::from_millis(200));
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server survived SIGSEGV");
    };
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(11), "{status:?}");
    assert!(!status.core_dumped(), "the kernel reports a core dump");
    // With core_pattern `core` (the default) the file would be here; with a
    // pipe to a crash handler (`|...`) none is written here either way, and
    // the limit and the flag above are what keep the handler away.
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    let leftovers: Vec<_> = std::fs::read_dir(cwd.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("core"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "core files {leftovers:?} (core_pattern {pattern:?})"
    );
}

#[tokio::test]
async fn non_ascii_since_is_a_422_not_a_panic() {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    for since in ["5é", "é", "9999999999999999d", "-"] {
        let e = c
            .get("/api/v1/hush/audit", &[("since", since.into())])
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(422), "since={since}: {e}");
    }
    c.get("/api/v1/hush/audit", &[("since", "24h".into())])
        .await
        .unwrap();
    assert!(!s.log().contains("panicked"), "{}", s.log());
}
