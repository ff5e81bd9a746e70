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
