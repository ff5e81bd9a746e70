//! Issue 18 part 3: offboarding and credential lifecycle. Disabled and
//! deleted users, password changes and resets, server-admin demotion,
//! identity deletion, session and token revocation, renewal re-checks, and
//! the audit of every change and refusal (without a credential in it).
//! Scenarios marked so run on SQLite and on PostgreSQL (with
//! `TEST_DATABASE_URL`), and two PostgreSQL replicas refuse a disabled user
//! on the very next request.

use crate::harness::*;
use crate::pg::{on_both_backends, Backend, PgDb};
use hush::client::ApiClient;
use reqwest::Method;
use serde_json::{json, Value};
use zeroize::Zeroizing;

/// Passwords nobody else uses: the audit log must never contain them.
const OLD_PW: &str = "CANARY-old-password-7c1e";
const NEW_PW: &str = "CANARY-new-password-93ab";
const RESET_PW: &str = "CANARY-reset-password-51d0";

on_both_backends!(
    disabled_user_is_refused_at_once,
    last_admin_protections,
    passwd_and_reset_tokens,
    identity_deletion_and_token_revocation,
    renewal_rechecks_uses_ips_and_subject,
);

fn client(url: &str, token: &str) -> ApiClient {
    ApiClient::new(url, Some(Zeroizing::new(token.to_owned()))).unwrap()
}

fn anon(url: &str) -> ApiClient {
    ApiClient::new(url, None).unwrap()
}

/// (exit code, stdout, stderr) of the real binary with a fresh config dir.
fn run(args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let out = hush(home.path(), args, stdin);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `args` plus `--server URL --token TOKEN`.
fn cli(s: &TestServer, token: &str, args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--server", &s.url, "--token", token]);
    run(&all, stdin)
}

async fn login(url: &str, email: &str, password: &str) -> Result<String, (u16, String)> {
    anon(url)
        .send(
            Method::POST,
            "/api/v1/hush/auth/login",
            &json!({ "email": email, "password": password }),
        )
        .await
        .map(|r| r["accessToken"].as_str().unwrap().to_owned())
        .map_err(|e| (e.status().unwrap_or(0), e.to_string()))
}

/// A user with `password`, a developer in `default` unless `admin`.
async fn user(s: &TestServer, email: &str, password: &str, admin: bool) {
    let c = s.client();
    let invite = c
        .send(
            Method::POST,
            "/api/v1/hush/users",
            &json!({ "email": email, "admin": admin }),
        )
        .await
        .unwrap();
    anon(&s.url)
        .send(
            Method::POST,
            "/api/v1/hush/users/accept-invite",
            &json!({ "inviteToken": invite["inviteToken"], "password": password }),
        )
        .await
        .unwrap();
    c.send(
        Method::POST,
        "/api/v1/hush/members",
        &json!({ "projectId": "default", "subject": email, "role": "developer" }),
    )
    .await
    .unwrap();
}

async fn whoami(url: &str, token: &str) -> Result<Value, (u16, String)> {
    client(url, token)
        .get("/api/v1/hush/auth/whoami", &[])
        .await
        .map_err(|e| (e.status().unwrap_or(0), e.to_string()))
}

async fn identity(s: &TestServer, name: &str, extra: Value) -> (String, String) {
    let mut body = json!({ "name": name });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = s
        .client()
        .send(Method::POST, "/api/v1/hush/identities", &body)
        .await
        .unwrap();
    s.client()
        .send(
            Method::POST,
            "/api/v1/hush/members",
            &json!({ "projectId": "default", "subject": name, "role": "viewer" }),
        )
        .await
        .unwrap();
    (
        r["clientId"].as_str().unwrap().to_owned(),
        r["clientSecret"].as_str().unwrap().to_owned(),
    )
}

async fn ua_login(url: &str, id: &str, secret: &str) -> Result<String, u16> {
    anon(url)
        .send(
            Method::POST,
            "/api/v1/auth/universal-auth/login",
            &json!({ "clientId": id, "clientSecret": secret }),
        )
        .await
        .map(|r| r["accessToken"].as_str().unwrap().to_owned())
        .map_err(|e| e.status().unwrap_or(0))
}

async fn renew(url: &str, token: &str) -> Result<Value, (u16, String)> {
    anon(url)
        .send(
            Method::POST,
            "/api/v1/auth/token/renew",
            &json!({ "accessToken": token }),
        )
        .await
        .map_err(|e| (e.status().unwrap_or(0), e.to_string()))
}

/// The whole audit log as text, and its events.
async fn audit(s: &TestServer) -> (String, Vec<Value>) {
    let events = audit_events(&s.client(), &[("limit", "1000".into())]).await;
    (serde_json::to_string(&events).unwrap(), events)
}

/// A `permission-denied` event of an attempted `action` on `target`.
fn has_denial(events: &[Value], action: &str, target: &str) -> bool {
    events.iter().any(|e| {
        e["action"] == "permission-denied"
            && e["result"] == "denied"
            && e["keys"] == json!([action, target])
    })
}

fn has_event(events: &[Value], action: &str, result: &str, key: &str) -> bool {
    events.iter().any(|e| {
        e["action"] == action
            && e["result"] == result
            && e["keys"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == key))
    })
}

async fn members(s: &TestServer) -> String {
    s.client()
        .get(
            "/api/v1/hush/members",
            &[("projectId", "default".to_owned())],
        )
        .await
        .unwrap()
        .to_string()
}

async fn disabled_user_is_refused_at_once(b: &Backend) {
    let s = b.start(&[]).await;
    user(&s, "bob@example.com", OLD_PW, false).await;
    let bob = login(&s.url, "bob@example.com", OLD_PW).await.unwrap();
    whoami(&s.url, &bob).await.unwrap();

    let (code, out, err) = cli(&s, &s.token, &["users", "disable", "bob@example.com"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Disabled bob@example.com (disabled"), "{out}");
    let (status, message) = whoami(&s.url, &bob).await.unwrap_err();
    assert_eq!(status, 401, "refused on the very next request");
    assert!(message.contains("disabled"), "{message}");
    let (status, message) = login(&s.url, "bob@example.com", OLD_PW).await.unwrap_err();
    assert_eq!(
        (status, message.contains("disabled")),
        (401, true),
        "{message}"
    );
    let (_, out, _) = cli(&s, &s.token, &["users", "list", "--json"], None);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["name"] == "bob@example.com" && u["disabled"] == true));

    // Enabled again: a new login works, the old session stays revoked.
    let (code, _, err) = cli(&s, &s.token, &["users", "enable", "bob@example.com"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(whoami(&s.url, &bob).await.unwrap_err().0, 401);
    let bob = login(&s.url, "bob@example.com", OLD_PW).await.unwrap();

    // Only server admins; unknown users are a clear 404 and exit code 4.
    let e = client(&s.url, &bob)
        .send(
            Method::POST,
            "/api/v1/hush/users/admin@example.com/disable",
            &json!({}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    let (code, _, err) = cli(
        &s,
        &s.token,
        &["users", "disable", "nobody@example.com"],
        None,
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("no user \"nobody@example.com\""), "{err}");

    // Deleted: sessions revoked, membership gone, login refused.
    assert!(members(&s).await.contains("bob@example.com"));
    let (code, _, _) = cli(&s, &s.token, &["users", "delete", "bob@example.com"], None);
    assert_eq!(code, 2, "a delete off a terminal needs --yes");
    let (code, _, err) = cli(
        &s,
        &s.token,
        &["users", "delete", "bob@example.com", "--yes"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(whoami(&s.url, &bob).await.unwrap_err().0, 401);
    assert_eq!(
        login(&s.url, "bob@example.com", OLD_PW)
            .await
            .unwrap_err()
            .0,
        401
    );
    assert!(!members(&s).await.contains("bob@example.com"));

    let (text, events) = audit(&s).await;
    for action in ["disable-user", "enable-user", "delete-user"] {
        assert!(
            has_event(&events, action, "success", "bob@example.com"),
            "{action}"
        );
    }
    assert!(has_denial(&events, "disable-user", "admin@example.com"));
    assert!(has_event(
        &events,
        "disable-user",
        "failure",
        "nobody@example.com"
    ));
    assert!(events
        .iter()
        .any(|e| e["action"] == "login" && e["result"] == "denied"));
    assert!(!text.contains(OLD_PW) && !text.contains(&bob));
    assert_audit_chain_ok(&s.client()).await;
}

async fn last_admin_protections(b: &Backend) {
    let s = b.start(&[]).await;
    let c = s.client();
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/hush/users/admin@example.com/disable",
            json!({}),
        ),
        (
            Method::PATCH,
            "/api/v1/hush/users/admin@example.com",
            json!({ "serverAdmin": false }),
        ),
        (
            Method::DELETE,
            "/api/v1/hush/users/admin@example.com",
            json!({}),
        ),
    ] {
        let e = c.send(method, path, &body).await.unwrap_err();
        assert_eq!(e.status(), Some(400), "{path}");
        assert!(e.to_string().contains("last enabled server admin"), "{e}");
    }
    let (code, _, err) = cli(
        &s,
        &s.token,
        &["users", "set-admin", "admin@example.com", "--off"],
        None,
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("last enabled server admin"), "{err}");
    whoami(&s.url, &s.token).await.unwrap();

    // With a second admin, the first may step down; then the second is the last.
    user(&s, "carol@example.com", OLD_PW, true).await;
    let carol = login(&s.url, "carol@example.com", OLD_PW).await.unwrap();
    let (code, out, err) = cli(
        &s,
        &s.token,
        &["users", "set-admin", "admin@example.com", "--off"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("admin@example.com (enabled)"), "{out}");
    let e = c
        .send(
            Method::POST,
            "/api/v1/hush/users/carol@example.com/disable",
            &json!({}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403), "no longer a server admin");
    let e = client(&s.url, &carol)
        .send(
            Method::POST,
            "/api/v1/hush/users/carol@example.com/disable",
            &json!({}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    // A disabled admin does not count: disable the other one, then promote.
    let (code, _, err) = cli(
        &s,
        &carol,
        &["users", "set-admin", "admin@example.com"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    client(&s.url, &carol)
        .send(
            Method::POST,
            "/api/v1/hush/users/admin@example.com/disable",
            &json!({}),
        )
        .await
        .unwrap();
    let e = client(&s.url, &carol)
        .send(
            Method::PATCH,
            "/api/v1/hush/users/carol@example.com",
            &json!({ "serverAdmin": false }),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400), "the only enabled admin left");

    let events = audit_events(&client(&s.url, &carol), &[("limit", "1000".into())]).await;
    assert!(has_event(
        &events,
        "set-server-admin",
        "failure",
        "admin@example.com"
    ));
    assert!(has_event(
        &events,
        "disable-user",
        "failure",
        "carol@example.com"
    ));
    assert!(has_event(&events, "set-server-admin", "success", "off"));
}

async fn passwd_and_reset_tokens(b: &Backend) {
    let s = b.start(&[]).await;
    user(&s, "dave@example.com", OLD_PW, false).await;
    let first = login(&s.url, "dave@example.com", OLD_PW).await.unwrap();
    let second = login(&s.url, "dave@example.com", OLD_PW).await.unwrap();

    // Listing shows ids and times, never a token.
    let (code, out, err) = cli(&s, &first, &["sessions", "list", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let sessions: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 2, "{out}");
    assert!(!out.contains(&first) && !out.contains(&second));

    // The old password is required; a wrong one is refused and audited.
    let e = client(&s.url, &first)
        .send(
            Method::POST,
            "/api/v1/hush/auth/password",
            &json!({ "oldPassword": "not the password", "newPassword": NEW_PW }),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    let input = format!("{OLD_PW}\n{NEW_PW}\n");
    let (code, out, err) = cli(
        &s,
        &first,
        &["passwd", "--password-stdin"],
        Some(input.as_bytes()),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Password changed"), "{out}");
    whoami(&s.url, &first)
        .await
        .expect("the session that changed it stays");
    assert_eq!(whoami(&s.url, &second).await.unwrap_err().0, 401);
    assert_eq!(
        login(&s.url, "dave@example.com", OLD_PW)
            .await
            .unwrap_err()
            .0,
        401
    );
    let third = login(&s.url, "dave@example.com", NEW_PW).await.unwrap();

    // Revoke one of your own sessions through the CLI.
    let (_, out, _) = cli(&s, &first, &["sessions", "list", "--json"], None);
    let sessions: Value = serde_json::from_str(&out).unwrap();
    let third_id = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, _, err) = cli(&s, &first, &["sessions", "revoke", &third_id], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(whoami(&s.url, &third).await.unwrap_err().0, 401);
    let (code, _, _) = cli(
        &s,
        &first,
        &["sessions", "list", "--user", "admin@example.com"],
        None,
    );
    assert_eq!(code, 3, "another user's sessions: server admins only");
    let (code, out, err) = cli(
        &s,
        &s.token,
        &["sessions", "list", "--user", "dave@example.com", "--json"],
        None,
    );
    assert_eq!(
        (
            code,
            serde_json::from_str::<Value>(&out)
                .unwrap()
                .as_array()
                .unwrap()
                .len()
        ),
        (0, 1),
        "{err}"
    );

    // An admin-issued reset: works once, before a newer one replaces it, and
    // revokes every session.
    let (code, out, err) = cli(
        &s,
        &s.token,
        &["users", "reset-password", "dave@example.com", "--json"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let stale: Value = serde_json::from_str(&out).unwrap();
    let (_, out, _) = cli(
        &s,
        &s.token,
        &["users", "reset-password", "dave@example.com", "--json"],
        None,
    );
    let reset: Value = serde_json::from_str(&out).unwrap();
    let reset_token = reset["resetToken"].as_str().unwrap().to_owned();
    assert!(reset_token.starts_with("hush_rs_"));
    let stale_input = format!("{}\n{RESET_PW}\n", stale["resetToken"].as_str().unwrap());
    let (code, _, _) = run(
        &["users", "accept-reset", "--server", &s.url],
        Some(stale_input.as_bytes()),
    );
    assert_eq!(code, 3, "a reset replaced by a newer one no longer works");
    let input = format!("{reset_token}\n{RESET_PW}\n");
    let (code, out, err) = run(
        &["users", "accept-reset", "--server", &s.url],
        Some(input.as_bytes()),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("New password set for dave@example.com"),
        "{out}"
    );
    assert_eq!(
        whoami(&s.url, &first).await.unwrap_err().0,
        401,
        "every session revoked"
    );
    let (code, _, err) = run(
        &["users", "accept-reset", "--server", &s.url],
        Some(input.as_bytes()),
    );
    assert_eq!(code, 3, "a reset works once: {err}");
    login(&s.url, "dave@example.com", RESET_PW).await.unwrap();
    assert_eq!(
        login(&s.url, "dave@example.com", NEW_PW)
            .await
            .unwrap_err()
            .0,
        401
    );

    let (text, events) = audit(&s).await;
    assert!(has_event(
        &events,
        "change-password",
        "success",
        "dave@example.com"
    ));
    assert!(has_event(
        &events,
        "issue-password-reset",
        "success",
        "dave@example.com"
    ));
    assert!(has_event(&events, "revoke-session", "success", &third_id));
    assert!(events
        .iter()
        .any(|e| e["action"] == "change-password" && e["result"] == "failure"));
    assert!(events
        .iter()
        .any(|e| e["action"] == "reset-password" && e["result"] == "failure"));
    assert!(events.iter().any(|e| e["action"] == "reset-password"
        && e["result"] == "success"
        && e["actorName"] == "dave@example.com"));
    for canary in [
        OLD_PW,
        NEW_PW,
        RESET_PW,
        &reset_token,
        &first,
        &second,
        &third,
    ] {
        assert!(!text.contains(canary), "a credential reached the audit log");
    }
    assert_audit_chain_ok(&s.client()).await;
}

async fn identity_deletion_and_token_revocation(b: &Backend) {
    let s = b.start(&[]).await;
    let (id, secret_a) = identity(&s, "ci-bot", json!({})).await;
    let token_a = ua_login(&s.url, &id, &secret_a).await.unwrap();
    let (code, out, err) = cli(
        &s,
        &s.token,
        &["identities", "add-secret", "ci-bot", "--json"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let secret_b = serde_json::from_str::<Value>(&out).unwrap()["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    let token_b = ua_login(&s.url, &id, &secret_b).await.unwrap();

    let (code, out, err) = cli(
        &s,
        &s.token,
        &["identities", "tokens", "ci-bot", "--json"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let tokens: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(tokens.as_array().unwrap().len(), 2, "{out}");
    assert!(!out.contains(&token_a) && !out.contains(&token_b));
    let (_, out, _) = cli(
        &s,
        &s.token,
        &["identities", "secrets", "ci-bot", "--json"],
        None,
    );
    let secrets: Value = serde_json::from_str(&out).unwrap();
    let secret_a_id = secrets[0]["id"].as_str().unwrap().to_owned();

    // Revoking a client secret revokes the tokens it issued, and only those.
    let (code, _, err) = cli(
        &s,
        &s.token,
        &["identities", "revoke-secret", "ci-bot", &secret_a_id],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(whoami(&s.url, &token_a).await.unwrap_err().0, 401);
    whoami(&s.url, &token_b).await.unwrap();
    let (_, out, _) = cli(
        &s,
        &s.token,
        &["identities", "tokens", "ci-bot", "--json"],
        None,
    );
    let tokens: Value = serde_json::from_str(&out).unwrap();
    let token_b_id = tokens[0]["id"].as_str().unwrap().to_owned();
    let (code, _, err) = cli(
        &s,
        &s.token,
        &["identities", "revoke-token", "ci-bot", &token_b_id],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(whoami(&s.url, &token_b).await.unwrap_err().0, 401);

    // Infisical's revoke-by-text.
    let token_c = ua_login(&s.url, &id, &secret_b).await.unwrap();
    let r = anon(&s.url)
        .send(
            Method::POST,
            "/api/v1/auth/token/revoke",
            &json!({ "accessToken": token_c }),
        )
        .await
        .unwrap();
    assert_eq!(r["message"], "Successfully revoked access token");
    assert_eq!(whoami(&s.url, &token_c).await.unwrap_err().0, 401);

    // Delete: secrets and tokens stop working, membership goes.
    let token_d = ua_login(&s.url, &id, &secret_b).await.unwrap();
    assert!(members(&s).await.contains("ci-bot"));
    let (code, _, err) = cli(
        &s,
        &s.token,
        &["identities", "delete", "ci-bot", "--yes"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(whoami(&s.url, &token_d).await.unwrap_err().0, 401);
    assert_eq!(ua_login(&s.url, &id, &secret_b).await.unwrap_err(), 401);
    assert!(!members(&s).await.contains("ci-bot"));
    let (code, _, err) = cli(
        &s,
        &s.token,
        &["identities", "delete", "ci-bot", "--yes"],
        None,
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("no identity \"ci-bot\""), "{err}");

    // Infisical's route answers {identity: {...}}.
    let (other, _) = identity(&s, "deploy-bot", json!({})).await;
    let r = s
        .client()
        .call(
            Method::DELETE,
            &format!("/api/v1/identities/{other}"),
            &[],
            None,
        )
        .await
        .unwrap();
    assert_eq!(r["identity"]["id"], other.as_str());
    assert_eq!(r["identity"]["name"], "deploy-bot");
    assert_eq!(r["identity"]["authMethods"], json!(["universal-auth"]));

    let (text, events) = audit(&s).await;
    assert!(has_event(&events, "delete-identity", "success", "ci-bot"));
    assert!(has_event(&events, "delete-identity", "failure", "ci-bot"));
    assert!(has_event(
        &events,
        "revoke-identity-token",
        "success",
        &token_b_id
    ));
    assert!(events.iter().any(|e| e["action"] == "revoke-access-token"));
    for canary in [&secret_a, &secret_b, &token_a, &token_b, &token_c, &token_d] {
        assert!(
            !text.contains(canary.as_str()),
            "a credential reached the audit log"
        );
    }
}

/// After an edit of the database behind the server's back: an acknowledged
/// write, after which the SQLite store's memo answers nothing it read
/// before (instead of waiting out the memo's TTL, which `store::memo`'s own
/// tests cover).
async fn memo_sees_the_edit(s: &TestServer) {
    set(&s.client(), "MEMO_GENERATION", "bump").await.unwrap();
}

async fn renewal_rechecks_uses_ips_and_subject(b: &Backend) {
    let s = b.start(&[]).await;
    // Uses limit: exhausted tokens are not renewed.
    let (id, secret) = identity(&s, "two-uses", json!({ "accessTokenNumUsesLimit": 2 })).await;
    let token = ua_login(&s.url, &id, &secret).await.unwrap();
    renew(&s.url, &token).await.expect("renewal is not a use");
    whoami(&s.url, &token).await.unwrap();
    whoami(&s.url, &token).await.unwrap();
    let (status, message) = renew(&s.url, &token).await.unwrap_err();
    assert_eq!(status, 401);
    assert!(message.contains("uses"), "{message}");

    // Trusted IPs narrowed after the token was issued.
    let (id, secret) = identity(&s, "narrowed", json!({})).await;
    let token = ua_login(&s.url, &id, &secret).await.unwrap();
    renew(&s.url, &token).await.unwrap();
    b.execute(
        &s,
        "UPDATE identities SET trusted_ips = '[\"10.0.0.0/8\"]' WHERE name = 'narrowed'",
    )
    .await;
    memo_sees_the_edit(&s).await;
    let (status, message) = renew(&s.url, &token).await.unwrap_err();
    assert_eq!(status, 403, "{message}");

    // A disabled user, even with a session the database did not revoke.
    user(&s, "erin@example.com", OLD_PW, false).await;
    let erin = login(&s.url, "erin@example.com", OLD_PW).await.unwrap();
    renew(&s.url, &erin).await.unwrap();
    b.execute(
        &s,
        "UPDATE users SET disabled_at = 1 WHERE email = 'erin@example.com'",
    )
    .await;
    memo_sees_the_edit(&s).await;
    let (status, message) = renew(&s.url, &erin).await.unwrap_err();
    assert_eq!(
        (status, message.contains("disabled")),
        (401, true),
        "{message}"
    );
    let (status, message) = whoami(&s.url, &erin).await.unwrap_err();
    assert_eq!(
        (status, message.contains("disabled")),
        (401, true),
        "{message}"
    );

    let (_, events) = audit(&s).await;
    let denied = events
        .iter()
        .filter(|e| e["action"] == "renew-token" && e["result"] == "denied")
        .count();
    assert_eq!(denied, 3, "every refused renewal is audited");
    assert!(events
        .iter()
        .any(|e| e["action"] == "authenticate" && e["actorName"] == "erin@example.com"));
}

/// A user disabled through replica A is refused by replica B on its very
/// next request; a password change through B revokes a session used on A.
#[tokio::test]
async fn replicas_refuse_a_disabled_user_at_once() {
    let Some(db) = PgDb::create("replicas_refuse_a_disabled_user_at_once").await else {
        return;
    };
    let a = db.start(&[]).await;
    let b = db.replica(&a);
    user(&a, "frank@example.com", OLD_PW, false).await;
    let frank = login(&a.url, "frank@example.com", OLD_PW).await.unwrap();
    let other = login(&b.url, "frank@example.com", OLD_PW).await.unwrap();
    whoami(&b.url, &frank).await.unwrap();
    set(&client(&b.url, &frank), "K", "v").await.unwrap();

    client(&b.url, &other)
        .send(
            Method::POST,
            "/api/v1/hush/auth/password",
            &json!({ "oldPassword": OLD_PW, "newPassword": NEW_PW }),
        )
        .await
        .unwrap();
    assert_eq!(whoami(&a.url, &frank).await.unwrap_err().0, 401);
    let frank = login(&a.url, "frank@example.com", NEW_PW).await.unwrap();
    whoami(&b.url, &frank).await.unwrap();

    a.client()
        .send(
            Method::POST,
            "/api/v1/hush/users/frank@example.com/disable",
            &json!({}),
        )
        .await
        .unwrap();
    let (status, message) = whoami(&b.url, &frank).await.unwrap_err();
    assert_eq!(status, 401, "B refuses on the very next request");
    assert!(message.contains("disabled"), "{message}");
    assert_eq!(
        crate::harness::status(get(&client(&b.url, &frank), "K", None).await),
        401
    );
    assert_eq!(whoami(&b.url, &other).await.unwrap_err().0, 401);

    // Two admins demoting each other through two replicas: one must stay.
    user(&a, "gina@example.com", OLD_PW, true).await;
    let gina = login(&b.url, "gina@example.com", OLD_PW).await.unwrap();
    let ca = a.client();
    let cb = client(&b.url, &gina);
    let demote = json!({ "serverAdmin": false });
    let (ra, rb) = tokio::join!(
        ca.send(
            Method::PATCH,
            "/api/v1/hush/users/gina@example.com",
            &demote
        ),
        cb.send(
            Method::PATCH,
            "/api/v1/hush/users/admin@example.com",
            &demote
        ),
    );
    assert_eq!(
        [ra.is_ok(), rb.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "exactly one demotion wins: {ra:?} {rb:?}"
    );
    let still_admin = if ra.is_ok() { &ca } else { &cb };
    assert_audit_chain_ok(still_admin).await;
}
