//! Root key providers (issue 25): each provider runs the same scenarios
//! against the real thing — OpenBao's Transit engine, SoftHSM2, a KMS mock —
//! reached through a proxy the test can cut. A provider's tool missing is a
//! skip with a note, unless `HUSH_REQUIRE_KMS_TESTS=1` (CI) makes it a
//! failure.

#[cfg(feature = "awskms")]
mod awskms;
mod file;
#[cfg(feature = "awskms")]
mod imds;
pub mod memory;
#[cfg(feature = "pkcs11")]
mod pkcs11;
mod proxy;
mod transit;

use crate::harness::*;
use base64::Engine as _;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use proxy::Proxy;

/// A way to take a provider away and bring it back.
pub trait Outage {
    fn down(&self);
    fn up(&self);
}

impl Outage for Proxy {
    fn down(&self) {
        Proxy::down(self)
    }
    fn up(&self) {
        Proxy::up(self)
    }
}

/// How long cached data keys serve through an outage in these tests.
pub const GRACE: &str = "6s";

/// The path of `tool`, or None (with a note) when it is not installed;
/// under `HUSH_REQUIRE_KMS_TESTS=1` a missing tool fails the test.
pub fn require_tool(test: &str, tool: &str, install: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("HUSH_REQUIRE_KMS_TESTS").as_deref() == Ok("1") {
            panic!("{test}: {tool} is not installed but HUSH_REQUIRE_KMS_TESTS=1 ({install})");
        }
        eprintln!("SKIPPED {test}: {tool} is not installed ({install})");
    }
    found
}

/// A free TCP port on 127.0.0.1 (bound, then released for a child process).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A file with mode 0600 (credentials and keys).
pub fn private_file(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The server flags of a provider configured in `config`.
pub fn provider_args<'a>(provider: &'a str, config: &'a Path) -> Vec<&'a str> {
    vec![
        "--config",
        config.to_str().unwrap(),
        "--root-key-provider",
        provider,
        "--root-key-cache-grace",
        GRACE,
    ]
}

pub async fn readyz(s: &TestServer) -> (u16, serde_json::Value) {
    let r = reqwest::get(format!("{}/readyz", s.url)).await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

async fn create_project(s: &TestServer, name: &str) -> u16 {
    status(
        s.client()
            .send(
                reqwest::Method::POST,
                "/api/v2/workspace",
                &json!({ "projectName": name }),
            )
            .await,
    )
}

/// Start, write, restart, read: what a provider wrapped survives a restart
/// (the cache is gone, so the read unwraps through the provider again).
/// Then the online rotations with this provider: a new root key generation
/// (its key wrapped by the provider) and new data keys, and a restart.
pub async fn start_write_restart_read(s: &mut TestServer) {
    set(&s.client(), "DB_PASSWORD", "hunter2-provider")
        .await
        .unwrap();
    s.restart();
    let got = get(&s.client(), "DB_PASSWORD", None).await.unwrap();
    assert_eq!(got["secretValue"], "hunter2-provider");
    assert_eq!(create_project(s, "second").await, 200);

    let c = s.client();
    for path in [
        "/api/v1/hush/keys/rotate-root",
        "/api/v1/hush/keys/rotate-data",
    ] {
        c.send(reqwest::Method::POST, path, &json!({}))
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let done = eventually(Duration::from_secs(30), async || {
        let st = c.get("/api/v1/hush/keys/status", &[]).await.unwrap();
        st["retiredDataKeys"] == 0
            && st["jobs"]
                .as_array()
                .is_some_and(|j| j.iter().all(|j| j["finishedAt"].is_string()))
    })
    .await;
    assert!(done, "re-encryption did not finish");
    s.restart();
    let got = get(&s.client(), "DB_PASSWORD", None).await.unwrap();
    assert_eq!(got["secretValue"], "hunter2-provider");
    assert_audit_chain_ok(&s.client()).await;
}

/// The provider goes away while the server runs: `/readyz` says so, reads
/// of keys already unwrapped go on for the grace time, a new project (a new
/// wrap) is refused with 503, then everything needing a key is 503 until
/// the provider is back.
pub async fn down_while_running(s: &mut TestServer, proxy: &dyn Outage) {
    set(&s.client(), "CACHED", "still-readable").await.unwrap();
    // A fresh process: the key is unwrapped through the provider, then cached.
    s.restart();
    assert_eq!(
        get(&s.client(), "CACHED", None).await.unwrap()["secretValue"],
        "still-readable"
    );
    assert_eq!(readyz(s).await.0, 200);

    proxy.down();
    let seen = eventually(Duration::from_secs(10), async || readyz(s).await.0 == 503).await;
    assert!(seen, "readyz never reported the provider down");
    let (_, body) = readyz(s).await;
    assert_eq!(body["status"], "root key provider unavailable", "{body}");
    assert!(
        body["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{body}"
    );
    // Within the grace time: cached keys serve reads and writes.
    assert_eq!(
        get(&s.client(), "CACHED", None).await.unwrap()["secretValue"],
        "still-readable"
    );
    set(&s.client(), "CACHED", "written-in-outage")
        .await
        .unwrap();
    // A new data key needs the provider.
    assert_eq!(create_project(s, "in-outage").await, 503);
    // Past the grace time the cache is gone: 503, not stale service.
    let refused = eventually(Duration::from_secs(20), async || {
        status(get(&s.client(), "CACHED", None).await) == 503
    })
    .await;
    assert!(refused, "cached keys kept serving past the grace time");

    proxy.up();
    let back = eventually(Duration::from_secs(15), async || readyz(s).await.0 == 200).await;
    assert!(back, "readyz did not recover with the provider");
    assert_eq!(
        get(&s.client(), "CACHED", None).await.unwrap()["secretValue"],
        "written-in-outage"
    );
    assert!(
        s.log().contains("root key provider unavailable"),
        "no log line of the outage"
    );
}

/// The provider is unreachable when the server starts: it exits non-zero
/// with one line naming the provider and what to do.
pub fn down_at_start(dir: &Path, args: &[&str], envs: &[(&str, &str)], provider: &str) {
    let out = std::process::Command::new(BIN)
        .args(["server", "--data-dir"])
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("HUSH_ROOT_KEY")
        .envs(envs.iter().copied())
        .env("HUSH_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("hush: "))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(
        line.contains(&format!("root key provider {provider}"))
            && line.contains("start hush again"),
        "{line}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
}

/// None of `needles` (raw key bytes, tokens, PINs) appears in any file of
/// the data dir or in the server's log, raw, hex or base64.
pub fn never_on_disk(dirs: &[&Path], needles: &[&[u8]]) {
    let mut forms: Vec<Vec<u8>> = Vec::new();
    for n in needles {
        forms.push(n.to_vec());
        forms.push(hex::encode(n).into_bytes());
        forms.push(
            base64::engine::general_purpose::STANDARD
                .encode(n)
                .into_bytes(),
        );
        forms.push(
            base64::engine::general_purpose::STANDARD_NO_PAD
                .encode(n)
                .into_bytes(),
        );
    }
    let mut checked = 0;
    for dir in dirs {
        for file in walk(dir) {
            let bytes = std::fs::read(&file).unwrap_or_default();
            for form in &forms {
                assert!(
                    !bytes.windows(form.len()).any(|w| w == form.as_slice()),
                    "key material found in {}",
                    file.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 0);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
