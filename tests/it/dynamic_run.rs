//! Issue 24: `hush run --dynamic NAME=PREFIX` against Redis ACL users (the
//! quickest provider to check a login on; see `dynamic_redis` for when it
//! is required). The child gets the lease's user and password under the
//! prefixed output keys, masked in its output; the user is revoked when
//! the child exits, and when hush itself is sent SIGTERM.

use crate::dynamic_redis::{authenticates, redis_addr};
use crate::harness::*;
use crate::pg::Backend;
use crate::rotation::start;
use reqwest::Method;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn hush_run(home: &Path, s: &TestServer, script: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hush"));
    cmd.args([
        "run",
        "--server",
        &s.url,
        "--token",
        &s.token,
        "--project",
        "default",
        "--dynamic",
        "cache=APP_",
        "--",
        "sh",
        "-c",
        script,
    ])
    .current_dir(home)
    .env("XDG_CONFIG_HOME", home)
    .env_remove("HUSH_TOKEN")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

async fn leases(c: &hush::client::ApiClient) -> usize {
    let q = [
        ("projectSlug", "default".to_owned()),
        ("environmentSlug", "dev".to_owned()),
        ("path", "/".to_owned()),
    ];
    c.get("/api/v1/dynamic-secrets/cache/leases", &q)
        .await
        .unwrap()["leases"]
        .as_array()
        .unwrap()
        .len()
}

/// The user and password the child wrote to files in `dir`, once there.
async fn written(dir: &Path) -> (String, String) {
    for _ in 0..200 {
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        let (user, pw) = (read("user"), read("pw"));
        if !user.is_empty() && pw.len() == 32 {
            return (user, pw);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the child did not write its credential");
}

#[tokio::test]
async fn run_dynamic_injects_masks_and_revokes() {
    let Some(addr) = redis_addr().await else {
        return;
    };
    let (host, port) = addr.rsplit_once(':').unwrap();
    let s = start(&Backend::Sqlite).await;
    let c = s.client();
    c.send(
        Method::POST,
        "/api/v1/dynamic-secrets",
        &crate::dynamic_redis::redis_definition("cache", host, port.parse().unwrap()),
    )
    .await
    .unwrap();

    // The child exits on its own: its status is hush's, its output masked,
    // and the user is gone once hush returns.
    let home = tempfile::tempdir().unwrap();
    let script = "printf %s \"$APP_DB_USERNAME\" > user; printf %s \"$APP_DB_PASSWORD\" > pw; \
                  echo \"password=$APP_DB_PASSWORD\"; exit 3";
    let out = hush_run(home.path(), &s, script).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    let (user, pw) = written(home.path()).await;
    // The variable carries the prefix, the user name does not.
    assert!(user.starts_with("hush_"), "{user}");
    assert!(
        stdout.contains("password=***") && !stdout.contains(&pw),
        "{stdout}"
    );
    assert!(!stderr.contains(&pw) && !s.log().contains(&pw), "{stderr}");
    assert!(
        !authenticates(&addr, &user, &pw).await,
        "revoked when the child exited"
    );
    assert_eq!(leases(&c).await, 0);

    // SIGTERM to hush: forwarded to the child, which exits; hush revokes.
    let home = tempfile::tempdir().unwrap();
    let script = "printf %s \"$APP_DB_USERNAME\" > user; printf %s \"$APP_DB_PASSWORD\" > pw; \
                  sleep 30";
    let child = hush_run(home.path(), &s, script).spawn().unwrap();
    let (user, pw) = written(home.path()).await;
    assert!(
        authenticates(&addr, &user, &pw).await,
        "the lease works while the child runs"
    );
    assert_eq!(leases(&c).await, 1);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        !authenticates(&addr, &user, &pw).await,
        "revoked after SIGTERM of hush"
    );
    assert_eq!(leases(&c).await, 0);
}
