//! Issue 24: webhooks. A local receiver (127.0.0.1, port 0, so the servers
//! here run with `--webhook-allow-private`) verifies the signature of each
//! delivery the way a receiver written for Infisical does; one that fails
//! its first requests and is down for a while still gets each change once;
//! two replicas deliver each change once between them; a reminder that
//! falls due fires `secrets.reminder-expired`; no secret value, signing key
//! or URL path ever leaves the server except towards the receiver.

use crate::harness::*;
use crate::pg::{on_both_backends, Backend, PgDb};
use crate::streams::HttpCollector;
use hush::webhooks::sign;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

const KEY_CANARY: &str = "canary-signing-key-2b8e41";
const SECRET_CANARY: &str = "canary-secret-value-93fd0a";
const URL_CANARY: &str = "canary-url-token-6c1d";
const ALLOW: &str = "--webhook-allow-private";

/// What the receiver got: each delivery's body, after checking its
/// signature as an Infisical receiver would (HMAC-SHA256 of the raw body
/// under the key, `t=<ms>;<hex>`, `t` equal to the body's `timestamp`).
fn verified(collector: &HttpCollector) -> Vec<Value> {
    collector
        .acked
        .lock()
        .unwrap()
        .iter()
        .map(|r| {
            let header = r
                .head
                .lines()
                .find_map(|l| l.strip_prefix("x-infisical-signature: "))
                .unwrap_or_else(|| panic!("an unsigned delivery: {}", r.head));
            let t = sign::verify(KEY_CANARY.as_bytes(), header.trim(), &r.body)
                .unwrap_or_else(|| panic!("a bad signature: {header}"));
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body["timestamp"].as_i64(), Some(t));
            assert!(
                r.head.contains("content-type: application/json"),
                "{}",
                r.head
            );
            body
        })
        .collect()
}

fn seqs(bodies: &[Value]) -> Vec<i64> {
    bodies
        .iter()
        .filter_map(|b| b["hush"]["seq"].as_i64())
        .collect()
}

async fn add_webhook(s: &TestServer, url: &str, env: &str, path: &str) -> Value {
    s.client()
        .send(
            Method::POST,
            "/api/v1/webhooks",
            &json!({ "workspaceId": "default", "environment": env, "secretPath": path,
                     "webhookUrl": url, "webhookSecretKey": KEY_CANARY }),
        )
        .await
        .expect("add webhook")["webhook"]
        .clone()
}

async fn put(s: &TestServer, env: &str, path: &str, key: &str, value: &str) {
    let mut body = scope(env, path);
    body["secretValue"] = json!(value);
    s.client()
        .send(Method::PUT, &format!("/api/v1/hush/secrets/{key}"), &body)
        .await
        .unwrap();
}

/// The seqs of the change events a webhook on dev `/` should deliver.
async fn matching_changes(s: &TestServer, after: i64) -> Vec<i64> {
    let mut out: Vec<i64> = audit_events(&s.client(), &[("limit", "1000".into())])
        .await
        .iter()
        .filter(|e| {
            e["seq"].as_i64() > Some(after)
                && e["environment"] == "dev"
                && e["path"] == "/"
                && e["result"] == "success"
                && ["create-secret", "update-secret"].contains(&e["action"].as_str().unwrap_or(""))
        })
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    out.sort();
    out
}

async fn wait_for(collector: &HttpCollector, s: &TestServer, want: usize) {
    assert!(
        eventually(Duration::from_secs(60), async || verified(collector).len()
            >= want)
        .await,
        "{} deliveries, want {want}; log:\n{}",
        verified(collector).len(),
        s.log()
    );
}

/// The issue's proof: a receiver that refuses its first requests, then is
/// down for a while, gets each change of its environment and folder once,
/// in order, signed; nothing else; and nothing secret anywhere.
async fn deliveries_are_signed_and_survive_a_failing_receiver(b: &Backend) {
    let mut s = b.start(&[ALLOW]).await;
    let mut receiver = HttpCollector::start(3).await;
    put(&s, "dev", "/", "CANARY", SECRET_CANARY).await;
    let url = format!("{}/{URL_CANARY}", receiver.url());
    let hook = add_webhook(&s, &url, "dev", "/").await;
    let id = hook["id"].as_str().unwrap().to_owned();
    let after = hook_cursor(b, &s).await;
    assert_eq!(
        hook["url"],
        format!("http://127.0.0.1:{}/...", receiver.port)
    );
    assert_eq!(hook["hasSecretKey"], true);
    for i in 0..3 {
        put(
            &s,
            "dev",
            "/",
            &format!("K{i}"),
            &format!("{SECRET_CANARY}-{i}"),
        )
        .await;
    }
    // Neither another environment nor another folder fires it.
    put(&s, "prod", "/", "OTHER_ENV", SECRET_CANARY).await;
    put(&s, "dev", "/other", "OTHER_PATH", SECRET_CANARY).await;
    wait_for(&receiver, &s, 3).await;
    assert_eq!(receiver.refused.load(Ordering::SeqCst), 3);

    // Down: the webhook shows why; changes wait.
    receiver.down();
    put(&s, "dev", "/", "K3", SECRET_CANARY).await;
    let c = s.client();
    assert!(
        eventually(Duration::from_secs(30), async || {
            let v = c
                .get("/api/v1/webhooks", &[("workspaceId", "default".into())])
                .await
                .unwrap();
            v["webhooks"][0]["lastStatus"] == "failed"
                && v["webhooks"][0]["lastRunErrorMessage"].is_string()
        })
        .await,
        "no failure shown; log:\n{}",
        s.log()
    );
    receiver.up().await;
    // A restart in between loses nothing.
    s.stop();
    s.restart();
    put(&s, "dev", "/", "K4", SECRET_CANARY).await;
    let want = matching_changes(&s, after).await;
    assert_eq!(want.len(), 5, "{want:?}");
    wait_for(&receiver, &s, want.len()).await;
    // Settled: nothing more arrives.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bodies = verified(&receiver);
    assert_eq!(seqs(&bodies), want, "each change once, in order");
    for body in &bodies {
        assert_eq!(body["event"], "secrets.modified");
        assert_eq!(body["project"]["environment"], "dev");
        assert_eq!(body["project"]["secretPath"], "/");
        assert!(body["project"]["workspaceId"].is_string());
    }
    let listed = s
        .client()
        .get("/api/v1/webhooks", &[("workspaceId", "default".into())])
        .await
        .unwrap();
    assert_eq!(listed["webhooks"][0]["id"], id.as_str());
    assert!(
        eventually(Duration::from_secs(10), async || {
            let v = s
                .client()
                .get("/api/v1/webhooks", &[("workspaceId", "default".into())])
                .await
                .unwrap();
            v["webhooks"][0]["lastStatus"] == "success" && v["webhooks"][0]["failures"] == 0
        })
        .await
    );

    // The secret value never reached the receiver; the key and the URL's
    // path never came back from the API or reached the log.
    let raw: String = receiver
        .acked
        .lock()
        .unwrap()
        .iter()
        .map(|r| format!("{}{}", r.head, String::from_utf8_lossy(&r.body)))
        .collect();
    assert!(
        !raw.contains(SECRET_CANARY) && !raw.contains(KEY_CANARY),
        "{raw}"
    );
    let answers = listed.to_string() + &hook.to_string();
    for canary in [SECRET_CANARY, KEY_CANARY, URL_CANARY] {
        assert!(!answers.contains(canary), "{answers}");
        assert!(!s.log().contains(canary), "{canary} in the server log");
    }
    for e in audit_events(&s.client(), &[("limit", "1000".into())]).await {
        let text = e.to_string();
        assert!(
            !text.contains(KEY_CANARY) && !text.contains(URL_CANARY),
            "{text}"
        );
    }
    assert_eq!(
        audit_events(&s.client(), &[("action", "create-webhook".into())])
            .await
            .len(),
        1
    );
    assert_audit_chain_ok(&s.client()).await;
}

async fn hook_cursor(b: &Backend, s: &TestServer) -> i64 {
    b.query_i64(s, "SELECT MAX(cursor_seq) FROM webhooks").await
}

/// A rotation reminder that falls due fires `secrets.reminder-expired` once,
/// naming the secret, never its value; `test` sends `event: "test"`.
async fn reminders_and_tests_fire(b: &Backend) {
    let s = b.start(&[ALLOW]).await;
    let receiver = HttpCollector::start(0).await;
    put(&s, "dev", "/", "VENDOR_KEY", SECRET_CANARY).await;
    let hook = add_webhook(&s, &receiver.url(), "dev", "/**").await;
    let id = hook["id"].as_str().unwrap();
    let tested = s
        .client()
        .send(
            Method::POST,
            &format!("/api/v1/webhooks/{id}/test"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(tested["webhook"]["lastStatus"], "success");
    let mut body = scope("dev", "/");
    body["secretKey"] = json!("VENDOR_KEY");
    body["every"] = json!("30d");
    body["remind"] = json!(true);
    body["nextRotationAt"] = json!("2020-01-01T00:00:00Z");
    s.client()
        .send(Method::POST, "/api/v1/hush/rotations", &body)
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(60), async || verified(&receiver)
            .iter()
            .any(|b| b["event"] == "secrets.reminder-expired"))
        .await,
        "no reminder delivered; log:\n{}",
        s.log()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let bodies = verified(&receiver);
    assert_eq!(bodies[0]["event"], "test");
    let reminders: Vec<&Value> = bodies
        .iter()
        .filter(|b| b["event"] == "secrets.reminder-expired")
        .collect();
    assert_eq!(reminders.len(), 1, "{bodies:?}");
    assert_eq!(reminders[0]["project"]["secretName"], "VENDOR_KEY");
    assert!(!bodies.iter().any(|b| b.to_string().contains(SECRET_CANARY)));
    // `hush list` marks it too (`hush rotation list` did already).
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = crate::rotation::cli(home.path(), &s, &["list", "--env", "dev"]);
    assert_eq!(code, 0, "{err}");
    let row = out.lines().find(|l| l.contains("VENDOR_KEY")).unwrap_or("");
    assert!(row.contains("OVERDUE"), "{out}");
    let (_, json_out, _) = crate::rotation::cli(home.path(), &s, &["list", "--json"]);
    let listed: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(listed[0]["rotation"], "OVERDUE", "{listed}");
}

on_both_backends!(
    deliveries_are_signed_and_survive_a_failing_receiver,
    reminders_and_tests_fire,
    leases_and_cursors_are_compare_and_set,
);

/// Two replicas on one PostgreSQL database deliver each change once between
/// them, whichever replica the write went through.
#[tokio::test]
async fn replicas_deliver_each_change_once() {
    let Some(db) = PgDb::create("webhooks::replicas_deliver_each_change_once").await else {
        return;
    };
    let first = db.start(&[ALLOW]).await;
    let mut second = TestServer::spawn_with(
        &first.data_dir,
        &["--database", db.url.as_str(), ALLOW],
        &[("HUSH_ROOT_KEY", crate::pg::ROOT_KEY)],
    )
    .expect("replica starts");
    second.token = first.token.clone();
    let receiver = HttpCollector::start(0).await;
    add_webhook(&first, &receiver.url(), "dev", "/").await;
    for i in 0..6 {
        let s = if i % 2 == 0 { &first } else { &second };
        put(s, "dev", "/", &format!("R{i}"), "v").await;
    }
    wait_for(&receiver, &first, 6).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = seqs(&verified(&receiver));
    let unique: BTreeSet<i64> = got.iter().copied().collect();
    assert_eq!(got.len(), 6, "a change delivered twice: {got:?}");
    assert_eq!(unique.len(), 6);
}

/// SSRF defaults and bounds: without the setting no loopback or private
/// target; never a metadata service; project admins only; errors never
/// repeat the URL's path.
#[tokio::test]
async fn targets_and_inputs_are_checked() {
    let s = TestServer::start(&[]).await;
    let c = s.client();
    let add = |body: Value| {
        let c = &c;
        async move {
            let mut full = json!({ "workspaceId": "default", "environment": "dev" });
            for (k, v) in body.as_object().unwrap() {
                full[k] = v.clone();
            }
            c.send(Method::POST, "/api/v1/webhooks", &full).await
        }
    };
    for url in [
        format!("http://127.0.0.1:9/{URL_CANARY}"),
        format!("http://localhost/{URL_CANARY}"),
        format!("http://10.0.0.8/{URL_CANARY}"),
        format!("http://[::1]/{URL_CANARY}"),
        format!("http://169.254.169.254/{URL_CANARY}"),
        format!("ftp://hooks.example/{URL_CANARY}"),
        format!("https://hooks.example/{}", "a".repeat(3000)),
    ] {
        let e = add(json!({ "webhookUrl": url })).await.unwrap_err();
        assert!(matches!(e.status(), Some(400 | 422)), "{url}: {e}");
        assert!(!e.to_string().contains(URL_CANARY), "{e}");
    }
    for bad in [
        json!({ "webhookUrl": "https://hooks.example/x", "secretPath": "api" }),
        json!({ "webhookUrl": "https://hooks.example/x", "type": "teams" }),
        json!({ "webhookUrl": "https://hooks.example/x", "webhookSecretKey": "k".repeat(600) }),
        json!({ "webhookUrl": "https://hooks.example/x", "environment": "nope" }),
    ] {
        let e = add(bad.clone()).await.unwrap_err();
        assert!(matches!(e.status(), Some(400 | 404 | 422)), "{bad}: {e}");
    }
    // Loopback is allowed with the setting, the metadata service never.
    let allowed = TestServer::start(&[ALLOW]).await;
    let c2 = allowed.client();
    let ok = c2
        .send(
            Method::POST,
            "/api/v1/webhooks",
            &json!({ "workspaceId": "default", "environment": "dev", "webhookUrl": "http://127.0.0.1:9/x" }),
        )
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    let never = c2
        .send(
            Method::POST,
            "/api/v1/webhooks",
            &json!({ "workspaceId": "default", "environment": "dev", "webhookUrl": "http://169.254.169.254/x" }),
        )
        .await;
    assert!(never.is_err());

    // A receiver that redirects is a failure: redirects are not followed.
    let redirector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = redirector.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = redirector.accept().await {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let hook = c2
        .send(
            Method::POST,
            "/api/v1/webhooks",
            &json!({ "workspaceId": "default", "environment": "dev",
                     "webhookUrl": format!("http://127.0.0.1:{port}/{URL_CANARY}") }),
        )
        .await
        .unwrap();
    let id = hook["webhook"]["id"].as_str().unwrap();
    let tested = c2
        .send(
            Method::POST,
            &format!("/api/v1/webhooks/{id}/test"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(tested["webhook"]["lastStatus"], "failed");
    let error = tested["webhook"]["lastRunErrorMessage"].as_str().unwrap();
    assert!(
        error.contains("302") && error.contains("redirects are not followed"),
        "{error}"
    );
    assert!(!tested.to_string().contains(URL_CANARY));

    // A developer (writer, not admin) may neither add nor list.
    let dev = user_session(&s, "dev@example.com", Some("developer"), &[]).await;
    let dc = hush::client::ApiClient::new(&s.url, Some(zeroize::Zeroizing::new(dev))).unwrap();
    let e = dc
        .send(
            Method::POST,
            "/api/v1/webhooks",
            &json!({ "workspaceId": "default", "environment": "dev", "webhookUrl": "https://hooks.example/x" }),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    let e = dc
        .get("/api/v1/webhooks", &[("workspaceId", "default".into())])
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    // At most MAX_PER_PROJECT webhooks a project.
    for i in 0..hush::webhooks::limits::MAX_PER_PROJECT {
        c.send(
            Method::POST,
            "/api/v1/webhooks",
            &json!({ "workspaceId": "default", "environment": "dev",
                     "webhookUrl": format!("https://hooks{i}.invalid/x") }),
        )
        .await
        .unwrap();
    }
    let e = add(json!({ "webhookUrl": "https://one-more.invalid/x" }))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400), "{e}");
}

/// The commands of the brief through the real binary: add (key from the
/// environment), list with the last status, test, disable, enable, delete.
/// (Multi-threaded: the receiver answers while a command blocks this test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_manages_webhooks() {
    let s = TestServer::start(&[ALLOW]).await;
    let receiver = HttpCollector::start(0).await;
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--server", s.url.as_str(), "--token", s.token.as_str()]);
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(&all)
            .env("XDG_CONFIG_HOME", home.path())
            .env("HOOK_KEY", KEY_CANARY)
            .env_remove("HUSH_TOKEN")
            .env_remove("HUSH_SERVER");
        let o = cmd.output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(!out.contains(KEY_CANARY) && !err.contains(KEY_CANARY));
        (o.status.code(), out, err)
    };
    let url = format!("{}/{URL_CANARY}", receiver.url());
    let (code, out, err) = run(&[
        "webhooks",
        "add",
        "--url",
        &url,
        "--env",
        "dev",
        "--path",
        "/",
        "--secret-key-env",
        "HOOK_KEY",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let id = serde_json::from_str::<Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, out, err) = run(&["webhooks", "test", &id]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("success"), "{out}");
    assert_eq!(verified(&receiver)[0]["event"], "test");
    let (_, listed, _) = run(&["webhooks", "list"]);
    assert!(
        listed.contains(&id) && listed.contains("success"),
        "{listed}"
    );
    assert!(!listed.contains(URL_CANARY), "{listed}");
    let (code, out, _) = run(&["webhooks", "disable", &id]);
    assert_eq!(code, Some(0));
    assert!(out.contains("disabled"), "{out}");
    put(&s, "dev", "/", "WHILE_OFF", "v").await;
    let (code, _, _) = run(&["webhooks", "enable", &id]);
    assert_eq!(code, Some(0));
    put(&s, "dev", "/", "AFTER_ON", "v").await;
    wait_for(&receiver, &s, 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        verified(&receiver).len(),
        2,
        "a change made while disabled was sent"
    );
    let (code, out, _) = run(&["webhooks", "delete", &id]);
    assert_eq!(code, Some(0));
    assert!(out.contains(&id));
    let (code, _, err) = run(&["webhooks", "test", &id]);
    assert_eq!(code, Some(4), "{err}");
}

/// A Python receiver of `examples/webhooks/`, started on port 0; returns it
/// and its port (from its "listening on" line). None without python3.
fn start_example(
    script: &str,
    args: &[&str],
) -> Option<(
    std::process::Child,
    u16,
    std::io::BufReader<std::process::ChildStdout>,
)> {
    use std::io::BufRead;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/webhooks");
    let mut child = std::process::Command::new("python3")
        .arg(dir.join(script))
        .args(["--port", "0"])
        .args(args)
        .current_dir(&dir)
        .env("WEBHOOK_SECRET", KEY_CANARY)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| eprintln!("note: webhooks example skipped: python3: {e}"))
        .ok()?;
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    Some((child, port, out))
}

/// The examples work with hush's deliveries unchanged: the redeploy hook
/// verifies each, runs its command once per change and refuses a forged
/// one; the Slack formatter turns a test delivery into a message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_verify_and_act_on_deliveries() {
    use std::io::BufRead;
    let s = TestServer::start(&[ALLOW]).await;
    let log = tempfile::NamedTempFile::new().unwrap();
    let log_path = log.path().to_str().unwrap().to_owned();
    let command = format!("echo \"$HUSH_CHANGED_ENV $HUSH_CHANGED_PATH\" >> {log_path}");
    let Some((mut hook, port, _)) =
        start_example("redeploy.py", &["--env", "dev", "--", "sh", "-c", &command])
    else {
        return;
    };
    add_webhook(&s, &format!("http://127.0.0.1:{port}/"), "dev", "/**").await;
    put(&s, "dev", "/", "A", "1").await;
    put(&s, "prod", "/", "B", "1").await;
    put(&s, "dev", "/", "A", "2").await;
    let lines = || std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        eventually(Duration::from_secs(30), async || lines().lines().count()
            >= 2)
        .await,
        "the hook ran {:?}; log:\n{}",
        lines(),
        s.log()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(lines(), "dev /\ndev /\n");
    // A forged delivery (wrong key) is refused.
    let body = r#"{"event":"secrets.modified","project":{"environment":"dev"},"timestamp":1}"#;
    let forged = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/"))
        .header(
            "x-infisical-signature",
            sign::signature(b"wrong", 1, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let _ = hook.kill();
    let _ = hook.wait();

    let Some((mut relay, port, mut out)) = start_example("slack_formatter.py", &["--print"]) else {
        return;
    };
    let added = add_webhook(&s, &format!("http://127.0.0.1:{port}/"), "dev", "/").await;
    let id = added["id"].as_str().unwrap();
    let tested = s
        .client()
        .send(
            Method::POST,
            &format!("/api/v1/webhooks/{id}/test"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(tested["webhook"]["lastStatus"], "success");
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let msg: Value = serde_json::from_str(&line).unwrap();
    assert!(
        msg["text"].as_str().unwrap().contains("Test delivery"),
        "{msg}"
    );
    assert!(msg["blocks"][1]["text"]["text"]
        .as_str()
        .unwrap()
        .contains("`dev`"));
    let _ = relay.kill();
    let _ = relay.wait();
}

/// The store's side of "one replica at a time": the lease goes to one owner
/// until released or expired, and only its holder moves the cursor, only
/// from where it was.
async fn leases_and_cursors_are_compare_and_set(b: &Backend) {
    let mut s = b.start(&[ALLOW]).await;
    let hook = add_webhook(&s, "http://127.0.0.1:9/x", "dev", "/").await;
    let id = hook["id"].as_str().unwrap().to_owned();
    // Disabled: the server's own deliverer leaves it alone.
    s.client()
        .send(
            Method::PATCH,
            &format!("/api/v1/webhooks/{id}"),
            &json!({ "isDisabled": true }),
        )
        .await
        .unwrap();
    if matches!(b, Backend::Sqlite) {
        s.stop();
    }
    let svc = crate::rotation::replica(b, &s).await;
    let hooks = svc.store.webhooks();
    let now = hush::time_ids::now_ms();
    let until = now + 30_000;
    let a = hooks.lease_webhook(&id, "a", now, until).await.unwrap();
    let from = a.expect("a free lease is taken").cursor_seq;
    assert!(hooks
        .lease_webhook(&id, "b", now, until)
        .await
        .unwrap()
        .is_none());
    assert!(!hooks
        .advance_webhook(&id, "b", from, from + 5, true, now)
        .await
        .unwrap());
    assert!(!hooks
        .advance_webhook(&id, "a", from + 1, from + 5, true, now)
        .await
        .unwrap());
    assert!(hooks
        .advance_webhook(&id, "a", from, from + 5, true, now)
        .await
        .unwrap());
    // Only the holder records failures.
    hooks
        .webhook_attempted(&id, Some("b"), Some("boom"), now)
        .await
        .unwrap();
    let row = hooks.webhook(&id).await.unwrap().unwrap();
    assert_eq!(
        (row.cursor_seq, row.last_status.as_deref()),
        (from + 5, Some("success"))
    );
    hooks.release_webhook(&id, "a").await.unwrap();
    assert!(hooks
        .lease_webhook(&id, "b", now, until)
        .await
        .unwrap()
        .is_some());
    assert!(hooks
        .lease_webhook(&id, "a", now, until)
        .await
        .unwrap()
        .is_none());
    svc.store.close().await;
    if matches!(b, Backend::Sqlite) {
        s.restart();
    }
}

/// Deliveries are stamped and signed with the service's clock (injected
/// here): `t=` and the body's `timestamp` are the manual clock's time.
#[tokio::test]
async fn deliveries_are_stamped_by_the_injected_clock() {
    let srv = crate::inproc::InProc::start_custom(
        |a| a.webhook_allow_private = Some(true),
        |store| store,
    )
    .await;
    // An odd time a minute ahead (within the admin session's lifetime).
    use hush::time_ids::Clock;
    let at = srv.clock.now_ms() + 61_234;
    srv.clock.set(at);
    let receiver = HttpCollector::start(0).await;
    let c = srv.client();
    c.send(
        Method::POST,
        "/api/v1/webhooks",
        &json!({ "workspaceId": "default", "environment": "dev", "secretPath": "/",
                 "webhookUrl": receiver.url(), "webhookSecretKey": KEY_CANARY }),
    )
    .await
    .unwrap();
    let mut body = scope("dev", "/");
    body["secretValue"] = json!("v");
    c.send(Method::PUT, "/api/v1/hush/secrets/STAMPED", &body)
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(30), async || !verified(&receiver)
            .is_empty())
        .await,
        "nothing delivered"
    );
    let got = verified(&receiver);
    assert_eq!(got[0]["timestamp"], at);
    let head = receiver.acked.lock().unwrap()[0].head.clone();
    assert!(
        head.contains(&format!("x-infisical-signature: t={at};")),
        "{head}"
    );
}

/// `hush server rotate-root-key` re-wraps each webhook's key: afterwards
/// its URL and signing key still open, and deliveries still verify.
#[tokio::test]
async fn root_key_rotation_rewraps_webhook_keys() {
    let mut s = TestServer::start(&[ALLOW]).await;
    let receiver = HttpCollector::start(0).await;
    let hook = add_webhook(&s, &receiver.url(), "dev", "/").await;
    let id = hook["id"].as_str().unwrap().to_owned();
    s.stop();
    let new_key = s.data_dir.join("new.key");
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&new_key)
            .unwrap();
        let key = hush::crypto::Key::generate().unwrap().to_base64();
        std::io::Write::write_all(&mut f, key.as_bytes()).unwrap();
    }
    let home = tempfile::tempdir().unwrap();
    let data_dir = s.data_dir.to_str().unwrap().to_owned();
    let o = hush(
        home.path(),
        &[
            "server",
            "--data-dir",
            &data_dir,
            "rotate-root-key",
            "--new-root-key-file",
            new_key.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 webhook key(s)"));
    let mut again = TestServer::spawn(
        &s.data_dir,
        &["--root-key-file", new_key.to_str().unwrap(), ALLOW],
    )
    .unwrap();
    again.token = s.token.clone();
    let tested = again
        .client()
        .send(
            Method::POST,
            &format!("/api/v1/webhooks/{id}/test"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(tested["webhook"]["lastStatus"], "success", "{tested}");
    assert_eq!(verified(&receiver)[0]["event"], "test");
}
