//! Issue 25: encryption as a service, Infisical's KMS API. Keys are made and
//! kept by the server: a round trip works, a tampered ciphertext or one of
//! another key is the same 400 without detail, a disabled key refuses, a
//! deleted key is gone, another project's member cannot use a key, and no
//! plaintext or ciphertext ever reaches the audit log.

use crate::harness::*;
use crate::pg::{on_both_backends, Backend};
use base64::Engine as _;
use hush::client::ApiClient;
use reqwest::Method;
use serde_json::{json, Value};
use zeroize::Zeroizing;

const PLAIN_CANARY: &str = "canary-kms-plaintext-5e0c1a";

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

async fn create(c: &ApiClient, project: &str, name: &str) -> Value {
    c.send(
        Method::POST,
        "/api/v1/kms/keys",
        &json!({ "projectId": project, "name": name, "description": "test key",
                 "encryptionAlgorithm": "aes-256-gcm" }),
    )
    .await
    .expect("create key")["key"]
        .clone()
}

async fn encrypt(
    c: &ApiClient,
    id: &str,
    plain: &[u8],
) -> Result<Value, hush::client::ClientError> {
    c.send(
        Method::POST,
        &format!("/api/v1/kms/keys/{id}/encrypt"),
        &json!({ "plaintext": b64(plain) }),
    )
    .await
}

async fn decrypt(c: &ApiClient, id: &str, ct: &str) -> Result<Value, hush::client::ClientError> {
    c.send(
        Method::POST,
        &format!("/api/v1/kms/keys/{id}/decrypt"),
        &json!({ "ciphertext": ct }),
    )
    .await
}

fn client(s: &TestServer, token: String) -> ApiClient {
    ApiClient::new(&s.url, Some(Zeroizing::new(token))).unwrap()
}

async fn round_trip_tamper_disable_delete(b: &Backend) {
    let s = b.start(&[]).await;
    let c = s.client();
    let key = create(&c, "default", "app-key").await;
    for field in [
        "id",
        "description",
        "isDisabled",
        "orgId",
        "name",
        "createdAt",
        "updatedAt",
        "projectId",
        "version",
        "encryptionAlgorithm",
    ] {
        assert!(key.get(field).is_some(), "{field} missing: {key}");
    }
    assert_eq!(key["encryptionAlgorithm"], "aes-256-gcm");
    let id = key["id"].as_str().unwrap().to_owned();

    // Round trip, and two encryptions of one plaintext differ.
    let ct = encrypt(&c, &id, PLAIN_CANARY.as_bytes()).await.unwrap()["ciphertext"]
        .as_str()
        .unwrap()
        .to_owned();
    let again = encrypt(&c, &id, PLAIN_CANARY.as_bytes()).await.unwrap();
    assert_ne!(again["ciphertext"].as_str(), Some(ct.as_str()));
    let plain = decrypt(&c, &id, &ct).await.unwrap();
    assert_eq!(plain["plaintext"], b64(PLAIN_CANARY.as_bytes()));
    // Binary and empty plaintexts.
    let binary: Vec<u8> = (0..=255u8).collect();
    let ct_bin = encrypt(&c, &id, &binary).await.unwrap()["ciphertext"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        decrypt(&c, &id, &ct_bin).await.unwrap()["plaintext"],
        b64(&binary)
    );
    let ct_empty = encrypt(&c, &id, b"").await.unwrap()["ciphertext"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(decrypt(&c, &id, &ct_empty).await.unwrap()["plaintext"], "");

    // Bounds: 4096 bytes pass, 4097 do not; not base64 is refused.
    assert!(encrypt(&c, &id, &[7u8; 4096]).await.is_ok());
    assert_eq!(status(encrypt(&c, &id, &[7u8; 4097]).await), 422);
    let not_b64 = c
        .send(
            Method::POST,
            &format!("/api/v1/kms/keys/{id}/encrypt"),
            &json!({ "plaintext": "%%% not base64" }),
        )
        .await;
    assert_eq!(status(not_b64), 422);

    // A tampered ciphertext, a truncated one, garbage and one of another key
    // are all the same 400, saying nothing more.
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(&ct)
        .unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    let other = create(&c, "default", "other-key").await;
    let other_id = other["id"].as_str().unwrap();
    let other_ct = encrypt(&c, other_id, b"x").await.unwrap()["ciphertext"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut messages = std::collections::BTreeSet::new();
    for bad in [
        b64(&raw),
        ct[..ct.len() - 8].to_owned(),
        "AAAA".into(),
        other_ct,
    ] {
        let err = decrypt(&c, &id, &bad).await.unwrap_err();
        assert_eq!(err.status(), Some(400), "{err}");
        messages.insert(err.to_string());
    }
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = messages.into_iter().next().unwrap();
    assert!(!message.contains(PLAIN_CANARY), "{message}");

    // Names: unique per project, bounded, by name lookup.
    let dup = c
        .send(
            Method::POST,
            "/api/v1/kms/keys",
            &json!({ "projectId": "default", "name": "app-key" }),
        )
        .await;
    assert_eq!(status(dup), 400);
    let long = c
        .send(
            Method::POST,
            "/api/v1/kms/keys",
            &json!({ "projectId": "default", "name": "k".repeat(65) }),
        )
        .await;
    assert_eq!(status(long), 422);
    let by_name = c
        .get(
            "/api/v1/kms/keys/key-name/app-key",
            &[("projectId", "default".into())],
        )
        .await
        .unwrap();
    assert_eq!(by_name["key"]["id"], id.as_str());
    let list = c
        .get(
            "/api/v1/kms/keys",
            &[("projectId", "default".into()), ("search", "APP".into())],
        )
        .await
        .unwrap();
    assert_eq!(list["totalCount"], 1, "{list}");
    assert_eq!(list["keys"][0]["name"], "app-key");

    // Disabled keys refuse both ways; enabled again they work.
    let disabled = c
        .send(
            Method::PATCH,
            &format!("/api/v1/kms/keys/{id}"),
            &json!({ "isDisabled": true, "name": null, "description": null }),
        )
        .await
        .unwrap();
    assert_eq!(disabled["key"]["isDisabled"], true);
    assert_eq!(status(encrypt(&c, &id, b"x").await), 400);
    assert_eq!(status(decrypt(&c, &id, &ct).await), 400);
    c.send(
        Method::PATCH,
        &format!("/api/v1/kms/keys/{id}"),
        &json!({ "isDisabled": false }),
    )
    .await
    .unwrap();
    assert!(decrypt(&c, &id, &ct).await.is_ok());

    // Deleted keys are gone.
    let deleted = c
        .send(
            Method::DELETE,
            &format!("/api/v1/kms/keys/{id}"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(deleted["key"]["id"], id.as_str());
    assert_eq!(status(decrypt(&c, &id, &ct).await), 404);
    assert_eq!(
        status(c.get(&format!("/api/v1/kms/keys/{id}"), &[]).await),
        404
    );

    // The audit log names each use and never holds a plaintext or a
    // ciphertext.
    let events = audit_events(&c, &[("limit", "1000".into())]).await;
    let text = serde_json::to_string(&events).unwrap();
    for needle in [PLAIN_CANARY, &b64(PLAIN_CANARY.as_bytes()), &ct, &ct[..24]] {
        assert!(!text.contains(needle), "the audit log holds {needle}");
    }
    for action in [
        "kms-create-key",
        "kms-encrypt",
        "kms-decrypt",
        "kms-disable-key",
        "kms-delete-key",
    ] {
        assert!(
            events
                .iter()
                .any(|e| e["action"] == action && e.to_string().contains("app-key")),
            "no {action} event naming the key"
        );
    }
    assert_audit_chain_ok(&c).await;
    // The server's log does not hold them either.
    let log = s.log();
    assert!(!log.contains(PLAIN_CANARY) && !log.contains(&ct));
}

async fn roles_and_other_projects(b: &Backend) {
    let s = b.start(&[]).await;
    let admin = s.client();
    let key = create(&admin, "default", "shared-key").await;
    let id = key["id"].as_str().unwrap().to_owned();
    let ct = encrypt(&admin, &id, b"hello").await.unwrap()["ciphertext"]
        .as_str()
        .unwrap()
        .to_owned();

    // A developer uses keys but does not manage them.
    let dev = client(
        &s,
        user_session(&s, "dev@example.com", Some("developer"), &[]).await,
    );
    assert!(decrypt(&dev, &id, &ct).await.is_ok());
    assert!(encrypt(&dev, &id, b"x").await.is_ok());
    let made = dev
        .send(
            Method::POST,
            "/api/v1/kms/keys",
            &json!({ "projectId": "default", "name": "dev-key" }),
        )
        .await;
    assert_eq!(status(made), 403);
    let disabled = dev
        .send(
            Method::PATCH,
            &format!("/api/v1/kms/keys/{id}"),
            &json!({ "isDisabled": true }),
        )
        .await;
    assert_eq!(status(disabled), 403);

    // A viewer sees keys but cannot use them.
    let viewer = client(
        &s,
        user_session(&s, "view@example.com", Some("viewer"), &[]).await,
    );
    assert!(viewer
        .get("/api/v1/kms/keys", &[("projectId", "default".into())])
        .await
        .is_ok());
    assert_eq!(status(decrypt(&viewer, &id, &ct).await), 403);
    assert_eq!(status(encrypt(&viewer, &id, b"x").await), 403);

    // A project the developer is not a member of: its key is not found.
    let other = admin
        .send(
            Method::POST,
            "/api/v2/workspace",
            &json!({ "projectName": "elsewhere" }),
        )
        .await
        .unwrap();
    let other_project = other["project"]["id"].as_str().unwrap().to_owned();
    let foreign = create(&admin, &other_project, "foreign-key").await;
    let foreign_id = foreign["id"].as_str().unwrap();
    let foreign_ct = encrypt(&admin, foreign_id, b"secret").await.unwrap()["ciphertext"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(status(decrypt(&dev, foreign_id, &foreign_ct).await), 404);
    assert_eq!(status(encrypt(&dev, foreign_id, b"x").await), 404);
    assert_eq!(
        status(
            dev.get(&format!("/api/v1/kms/keys/{foreign_id}"), &[])
                .await
        ),
        404
    );
    assert_eq!(
        status(
            dev.get("/api/v1/kms/keys", &[("projectId", other_project.clone())])
                .await
        ),
        404
    );
    // A ciphertext of the other project's key does not open with this one.
    assert_eq!(status(decrypt(&dev, &id, &foreign_ct).await), 400);
}

on_both_backends!(round_trip_tamper_disable_delete, roles_and_other_projects);

/// `hush kms` end to end: create, encrypt from stdin, decrypt, disable,
/// delete.
#[tokio::test]
async fn cli_round_trip() {
    let s = TestServer::start(&[]).await;
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: Option<&[u8]>| {
        let mut all = args.to_vec();
        all.extend(["--server", &s.url, "--token", &s.token]);
        hush(home.path(), &all, stdin)
    };
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "stdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(run(
        &["kms", "create", "cli-key", "--description", "from the CLI"],
        None,
    ));
    let listed = ok(run(&["kms", "list"], None));
    assert!(listed.contains("cli-key"), "{listed}");
    let ct = ok(run(
        &["kms", "encrypt", "cli-key"],
        Some(PLAIN_CANARY.as_bytes()),
    ));
    let ct = ct.trim();
    assert!(!ct.contains(PLAIN_CANARY));
    let plain = ok(run(&["kms", "decrypt", "cli-key", "--data", ct], None));
    assert_eq!(plain, PLAIN_CANARY);
    let plain = ok(run(&["kms", "decrypt", "cli-key"], Some(ct.as_bytes())));
    assert_eq!(plain, PLAIN_CANARY);
    let shown = ok(run(&["kms", "show", "cli-key"], None));
    assert!(
        shown.contains("from the CLI") && shown.contains("enabled"),
        "{shown}"
    );
    ok(run(&["kms", "update", "cli-key", "--disable"], None));
    let refused = run(&["kms", "encrypt", "cli-key", "--data", "x"], None);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("disabled"), "{err}");
    ok(run(&["kms", "delete", "cli-key"], None));
    let gone = run(&["kms", "show", "cli-key"], None);
    assert!(!gone.status.success());
}

/// A project holds at most 100 keys; a deleted one frees its place.
#[tokio::test]
async fn keys_per_project_are_capped() {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    let mut last = Value::Null;
    for i in 0..100 {
        last = create(&c, "default", &format!("k{i}")).await;
    }
    let over = c
        .send(
            Method::POST,
            "/api/v1/kms/keys",
            &json!({ "projectId": "default", "name": "one-too-many" }),
        )
        .await
        .unwrap_err();
    assert_eq!(over.status(), Some(400));
    assert!(over.to_string().contains("limit is 100"), "{over}");
    let page = c
        .get(
            "/api/v1/kms/keys",
            &[
                ("projectId", "default".into()),
                ("offset", "90".into()),
                ("limit", "50".into()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(page["totalCount"], 100);
    assert_eq!(page["keys"].as_array().unwrap().len(), 10);
    let id = last["id"].as_str().unwrap();
    c.send(
        Method::DELETE,
        &format!("/api/v1/kms/keys/{id}"),
        &json!({}),
    )
    .await
    .unwrap();
    create(&c, "default", "one-more").await;
}
