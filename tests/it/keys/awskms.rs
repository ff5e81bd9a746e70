//! `awskms` against moto's KMS mock in server mode (PyPI `moto[server]`),
//! reached through a proxy the test cuts. moto does not check signatures;
//! the signer is checked against AWS's test vectors in `keys::sigv4`.

use super::*;
use serde_json::Value;
use std::process::{Child, Command, Stdio};

const ACCESS_KEY: &str = "AKIAHUSHTESTKEY00001";
const SECRET_KEY: &str = "hush/test+secret/access/key/0123456789ab";

pub struct Moto {
    child: Child,
    pub port: u16,
    http: reqwest::Client,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    pub async fn start(test: &str) -> Option<Moto> {
        let bin = require_tool(test, "moto_server", "pip install 'moto[server]'")?;
        let port = free_port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Moto {
            child,
            port,
            http: reqwest::Client::new(),
        };
        let up = eventually(Duration::from_secs(30), async || {
            moto.http
                .get(format!("http://127.0.0.1:{port}/moto-api/"))
                .send()
                .await
                .is_ok()
        })
        .await;
        assert!(up, "moto_server did not start");
        Some(moto)
    }

    /// A KMS call straight to moto (unsigned: moto does not check).
    pub async fn kms(&self, target: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("http://127.0.0.1:{}/", self.port))
            .header("X-Amz-Target", format!("TrentService.{target}"))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0",
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "moto {target}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_default()
    }
}

struct Setup {
    moto: Moto,
    proxy: Proxy,
    dir: tempfile::TempDir,
    key_id: String,
}

async fn setup(test: &str) -> Option<Setup> {
    let moto = Moto::start(test).await?;
    let proxy = Proxy::start(moto.port).await;
    let key = moto
        .kms("CreateKey", json!({ "Description": "hush root" }))
        .await;
    let key_id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    Some(Setup {
        moto,
        proxy,
        dir: tempfile::tempdir().unwrap(),
        key_id,
    })
}

impl Setup {
    /// A config for hush: the key through the proxy, `extra` lines added.
    fn config(&self, name: &str, extra: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(
            &path,
            format!(
                "[awskms]\nkey_id = \"{}\"\nendpoint = \"http://127.0.0.1:{}\"\ntimeout = \"1s\"\n{extra}",
                self.key_id, self.proxy.port
            ),
        )
        .unwrap();
        path
    }
}

fn env_credentials() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_REGION", "us-east-1"),
    ]
}

/// Credentials and region from a shared credentials/config file profile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awskms_start_write_restart_read_with_a_profile() {
    let Some(t) = setup("awskms_start_write_restart_read").await else {
        return;
    };
    let creds = t.dir.path().join("credentials");
    private_file(
        &creds,
        &format!("[default]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = other\n\n[hush]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"),
    );
    let aws_config = t.dir.path().join("config");
    std::fs::write(&aws_config, "[profile hush]\nregion = us-east-1\n").unwrap();
    let config = t.config("profile.toml", "profile = \"hush\"\n");
    let envs = [
        ("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap()),
        ("AWS_CONFIG_FILE", aws_config.to_str().unwrap()),
    ];
    let mut s = TestServer::start_with(&provider_args("awskms", &config), &envs).await;
    start_write_restart_read(&mut s).await;
    assert!(
        s.log().contains("credentials from profile \"hush\""),
        "{}",
        s.log()
    );
    let wrapped = std::fs::read_to_string(s.data_dir.join("root-key.wrapped")).unwrap();
    assert!(
        wrapped.starts_with("hush-wrapped-root-key v1 awskms "),
        "{wrapped}"
    );
    s.stop();
    never_on_disk(&[&s.data_dir], &[SECRET_KEY.as_bytes()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awskms_down_while_running() {
    let Some(t) = setup("awskms_down_while_running").await else {
        return;
    };
    let config = t.config("hush.toml", "");
    let mut s = TestServer::start_with(&provider_args("awskms", &config), &env_credentials()).await;
    down_while_running(&mut s, &t.proxy).await;
}

/// A key KMS does not know stops the start with KMS's reason. (moto
/// does not enforce a disabled key's state, so the kill switch by
/// DisableKey is covered by the proxy outage instead.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awskms_unknown_key_at_start() {
    let Some(t) = setup("awskms_unknown_key_at_start").await else {
        return;
    };
    let path = t.dir.path().join("unknown.toml");
    std::fs::write(
        &path,
        format!(
            "[awskms]\nkey_id = \"7f0c6a2e-0000-4000-8000-000000000000\"\nendpoint = \"http://127.0.0.1:{}\"\n",
            t.proxy.port
        ),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["server", "--data-dir"])
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .args(provider_args("awskms", &path))
        .envs(env_credentials())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("hush: "))
        .unwrap_or_default();
    assert!(
        line.contains("root key provider awskms") && line.contains("NotFoundException"),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET_KEY));
    let _ = &t.moto;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awskms_down_at_start_and_missing_credentials() {
    let Some(t) = setup("awskms_down_at_start").await else {
        return;
    };
    let config = t.config("hush.toml", "");
    let dir = tempfile::tempdir().unwrap();
    t.proxy.down();
    down_at_start(
        dir.path(),
        &provider_args("awskms", &config),
        &env_credentials(),
        "awskms",
    );
    t.proxy.up();
    // No credentials anywhere: one line saying where hush looked.
    let out = std::process::Command::new(BIN)
        .args(["server", "--data-dir"])
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .args(provider_args("awskms", &config))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("HOME", dir.path())
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
        .env("AWS_CONFIG_FILE", dir.path().join("none"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no AWS credentials"), "{stderr}");
}
