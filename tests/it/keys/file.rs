//! `file` and `env`: today's root key, unchanged. Data written under one
//! reads under the other (same layout), and the key is never written to
//! the data dir or the log.

use super::*;

const KEY_HEX: &str = "5a1f0e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1";

#[tokio::test]
async fn file_then_env_same_data_and_no_key_on_disk() {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("root.key");
    private_file(&key_file, KEY_HEX);
    let key_path = key_file.to_str().unwrap();
    let mut s =
        TestServer::start(&["--root-key-provider", "file", "--root-key-file", key_path]).await;
    set(&s.client(), "KEPT", "across-providers").await.unwrap();
    s.stop();
    // The same key through HUSH_ROOT_KEY reads what the file key wrote.
    let mut again = TestServer::spawn_with(
        &s.data_dir,
        &["--root-key-provider", "env"],
        &[("HUSH_ROOT_KEY", KEY_HEX)],
    )
    .unwrap();
    again.token = s.token.clone();
    assert_eq!(
        get(&again.client(), "KEPT", None).await.unwrap()["secretValue"],
        "across-providers"
    );
    again.stop();
    never_on_disk(&[&s.data_dir], &[&hex::decode(KEY_HEX).unwrap()]);
}

#[test]
fn env_provider_without_the_key_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["server", "--data-dir"])
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0", "--root-key-provider", "env"])
        .env_remove("HUSH_ROOT_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("env needs the key in HUSH_ROOT_KEY"),
        "{stderr}"
    );
    let out = std::process::Command::new(BIN)
        .args(["server", "--data-dir"])
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0", "--root-key-provider", "vault"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown root key provider"));
}

/// The fixture's root key (hex).
const UPGRADE_KEY: &str = "8f4c2a7e91d35b06c1e8f2a94d7b3c5e0a6f1d2c8b9e4a7f3c5d6e1b2a9f8c7d";

async fn login(s: &TestServer) -> String {
    let anon = hush::client::ApiClient::new(&s.url, None).unwrap();
    anon.send_as::<hush::api::auth::LoginResponse>(
        reqwest::Method::POST,
        "/api/v1/hush/auth/login",
        &serde_json::json!({ "email": "admin@example.com", "password": PASSWORD }),
    )
    .await
    .unwrap()
    .access_token
}

/// Upgrade: a data dir written by hush before root key providers existed
/// reads unchanged after them, under `env` and under `file`. The fixture
/// (`fixtures/pre-providers-hush.db.gz`) was made by main's binary before
/// this change with HUSH_ROOT_KEY=UPGRADE_KEY: bootstrap admin@example.com
/// with the harness's password, then OLD_SECRET set in dev at `/`.
#[tokio::test]
async fn data_written_before_providers_reads_after() {
    use std::io::Read as _;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    let gz = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/pre-providers-hush.db.gz"),
    )
    .unwrap();
    let mut db = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut db)
        .unwrap();
    std::fs::write(dir.join("hush.db"), db).unwrap();

    let mut s = TestServer::spawn_with(
        &dir,
        &["--root-key-provider", "env"],
        &[("HUSH_ROOT_KEY", UPGRADE_KEY)],
    )
    .unwrap();
    s.token = login(&s).await;
    let old = get(&s.client(), "OLD_SECRET", None).await.unwrap();
    assert_eq!(old["secretValue"], "written-by-the-old-code");
    assert_audit_chain_ok(&s.client()).await;
    set(&s.client(), "OLD_SECRET", "written-after")
        .await
        .unwrap();
    s.stop();

    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("root.key");
    private_file(&key_file, UPGRADE_KEY);
    let mut again = TestServer::spawn_with(
        &dir,
        &[
            "--root-key-provider",
            "file",
            "--root-key-file",
            key_file.to_str().unwrap(),
        ],
        &[],
    )
    .unwrap();
    again.token = login(&again).await;
    let c = again.client();
    assert_eq!(
        get(&c, "OLD_SECRET", Some(1)).await.unwrap()["secretValue"],
        "written-by-the-old-code"
    );
    assert_eq!(
        get(&c, "OLD_SECRET", None).await.unwrap()["secretValue"],
        "written-after"
    );
    assert_audit_chain_ok(&c).await;
    again.stop();
}
