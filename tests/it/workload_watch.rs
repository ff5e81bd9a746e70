//! `hush run --method … --watch` outlives its workload access token
//! (issue 23): the watcher logs in again with the same method before the
//! token expires, and at once when the server answers 401, so a change
//! made long after the first token died still reaches the command — and
//! the command is not restarted for the new token.

use crate::harness::*;
use crate::workload::{github_claims, identity, EcKey, Issuer};
use reqwest::Method;
use serde_json::json;
use std::io::BufRead;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The command: says which value it started with, then waits.
const CHILD: &str = r#"case "$APP_MODE" in first-value) echo saw-first;; second-value) echo saw-second;; *) echo saw-other;; esac; exec sleep 60"#;

struct Watching {
    child: std::process::Child,
    lines: Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Watching {
    /// Waits up to `within` for the command to print `line`; the lines
    /// seen meanwhile.
    fn expect(&self, line: &str, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(l) if l == line => return seen,
                Ok(l) => seen.push(l),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    panic!("the command never printed {line} (saw {seen:?})")
                }
            }
        }
    }

    /// TERM, which hush forwards to the command, so nothing of the run
    /// outlives the test (a command left behind would hold the pipes it
    /// inherited, and other tests would wait for them to close).
    fn stop(mut self) -> String {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr.join().unwrap()
    }
}

/// A server with APP_MODE=first-value and an identity logging in with
/// OIDC tokens of `ttl` seconds; `hush run --method oidc --watch` started
/// on it with a token file.
async fn start_watching(ttl: i64) -> (TestServer, Issuer, String, tempfile::TempDir, Watching) {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    set(&c, "APP_MODE", "first-value").await.unwrap();
    let key = EcKey::new("w1");
    let issuer = Issuer::start(vec![key.jwk()]).await;
    let id = identity(&c, "watcher").await;
    c.send(
        Method::POST,
        &format!("/api/v1/auth/oidc-auth/identities/{id}"),
        &json!({ "oidcDiscoveryUrl": issuer.url, "boundAudiences": "hush-ci",
            "accessTokenTTL": ttl, "accessTokenMaxTTL": ttl }),
    )
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let jwt_file = home.path().join("token.jwt");
    let jwt = key.sign(&github_claims(&issuer.url, "hush-ci", "refs/heads/main"));
    std::fs::write(&jwt_file, jwt).unwrap();
    let mut child = std::process::Command::new(BIN)
        .args([
            "run",
            "--server",
            &s.url,
            "--method",
            "oidc",
            "--identity-id",
            &id,
            "--jwt-file",
            jwt_file.to_str().unwrap(),
            "--project",
            "default",
            "--env",
            "dev",
            "--watch",
            "--watch-debounce",
            "100ms",
            "--watch-interval",
            "1s",
            "--",
            "sh",
            "-c",
            CHILD,
        ])
        .env("XDG_CONFIG_HOME", home.path())
        .env_remove("HUSH_TOKEN")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let watching = Watching {
        child,
        lines,
        stderr,
    };
    watching.expect("saw-first", Duration::from_secs(30));
    (s, issuer, id, home, watching)
}

/// The identity's successful logins so far.
async fn logins(s: &TestServer) -> usize {
    audit_events(
        &s.client(),
        &[
            ("action", "login-identity-oidc-auth".into()),
            ("limit", "200".into()),
        ],
    )
    .await
    .iter()
    .filter(|e| e["result"] == "success")
    .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_logs_in_again_before_the_token_expires() {
    // Three-second tokens: the watcher renews about every two seconds.
    let (s, _issuer, _id, _home, watching) = start_watching(3).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    set(&s.client(), "APP_MODE", "second-value").await.unwrap();
    let between = watching.expect("saw-second", Duration::from_secs(20));
    let stderr = watching.stop();
    // Restarted once, for the change: never for a new token.
    assert!(between.is_empty(), "{between:?}\n{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let n = logins(&s).await;
    assert!(n >= 3, "{n} logins: the token was not renewed\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_logs_in_again_on_a_401() {
    // Long-lived tokens: only the 401 makes the watcher log in again.
    let (s, _issuer, id, _home, watching) = start_watching(3600).await;
    // Past the pause between logins a 401 may trigger.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let c = s.client();
    let listed = c
        .get(&format!("/api/v1/hush/identities/{id}/tokens"), &[])
        .await
        .unwrap();
    for t in listed["tokens"].as_array().unwrap() {
        let token_id = t["id"].as_str().unwrap();
        let _ = c
            .send(
                Method::DELETE,
                &format!("/api/v1/hush/identities/{id}/tokens/{token_id}"),
                &json!({}),
            )
            .await;
    }
    set(&c, "APP_MODE", "second-value").await.unwrap();
    let between = watching.expect("saw-second", Duration::from_secs(40));
    let stderr = watching.stop();
    assert!(between.is_empty(), "{between:?}\n{stderr}");
    assert_eq!(logins(&s).await, 2, "{stderr}");
}
