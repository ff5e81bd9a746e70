//! Issue 3: identities, tokens, roles, brute force (the authorization matrix
//! is generated in `authz_matrix`).

use crate::harness::*;
use reqwest::Method;
use serde_json::{json, Value};

const CANARY: &str = "ACCESS-CANARY-d41f0e";

async fn call(
    s: &TestServer,
    auth: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, String) {
    let mut req = reqwest::Client::new().request(method, format!("{}{}", s.url, path));
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(s: &TestServer, token: &str, path: &str, body: Value) -> Value {
    let c = hush::client::ApiClient::new(&s.url, Some(zeroize::Zeroizing::new(token.to_owned())))
        .unwrap();
    c.send(Method::POST, path, &body)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn seed(s: &TestServer) {
    let c = s.client();
    for env in ["dev", "prod"] {
        for path in ["/api", "/db"] {
            let mut b = scope(env, path);
            b["secretValue"] = json!(CANARY);
            c.send(Method::PUT, "/api/v1/hush/secrets/KEY", &b)
                .await
                .unwrap();
        }
    }
}

async fn service_token(
    s: &TestServer,
    project: &str,
    env: &str,
    path: &str,
    write: bool,
    ttl: i64,
) -> String {
    let r = post(s, &s.token, "/api/v1/hush/tokens", json!({ "projectId": project, "name": "t", "scopes": [{ "environment": env, "secretPath": path }], "write": write, "ttl": ttl })).await;
    r["token"].as_str().unwrap().to_owned()
}

async fn identity(s: &TestServer, name: &str, extra: Value) -> (String, String) {
    let mut body = json!({ "name": name });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = post(s, &s.token, "/api/v1/hush/identities", body).await;
    (
        r["clientId"].as_str().unwrap().to_owned(),
        r["clientSecret"].as_str().unwrap().to_owned(),
    )
}

async fn ua_login(
    s: &TestServer,
    id: &str,
    secret: &str,
) -> Result<Value, hush::client::ClientError> {
    let anon = hush::client::ApiClient::new(&s.url, None).unwrap();
    anon.send(
        Method::POST,
        "/api/v1/auth/universal-auth/login/",
        &json!({ "clientId": id, "clientSecret": secret }),
    )
    .await
}

#[tokio::test]
async fn universal_auth_ttl_max_ttl_ips_and_secret_revocation() {
    let s = TestServer::start(&[]).await;
    seed(&s).await;
    let (id, secret) = identity(
        &s,
        "ci-bot",
        json!({ "accessTokenTTL": 60, "accessTokenMaxTTL": 120 }),
    )
    .await;
    post(
        &s,
        &s.token,
        "/api/v1/hush/members",
        json!({ "projectId": "default", "subject": "ci-bot", "role": "viewer" }),
    )
    .await;
    let login = ua_login(&s, &id, &secret).await.unwrap();
    for field in ["accessToken", "expiresIn", "accessTokenMaxTTL", "tokenType"] {
        assert!(!login[field].is_null(), "{field} missing: {login}");
    }
    assert_eq!(login["tokenType"], "Bearer");
    let token = login["accessToken"].as_str().unwrap().to_owned();
    let c =
        hush::client::ApiClient::new(&s.url, Some(zeroize::Zeroizing::new(token.clone()))).unwrap();
    assert_eq!(
        c.get(
            "/api/v3/secrets/raw/KEY",
            &[
                ("workspaceId", "default".into()),
                ("environment", "dev".into()),
                ("secretPath", "/api".into())
            ]
        )
        .await
        .unwrap()["secret"]["secretValue"],
        CANARY
    );
    let me = c.get("/api/v1/hush/auth/whoami", &[]).await.unwrap();
    assert_eq!(
        (me["kind"].as_str(), me["name"].as_str()),
        (Some("identity"), Some("ci-bot"))
    );
    // Renewal and expiry against the clock: `inproc::clock::identity_tokens_expire_and_renewal_stops_at_the_max_ttl`.
    // Wrong secret, then a revoked secret.
    assert_eq!(
        ua_login(&s, &id, "hush_cs_wrong")
            .await
            .unwrap_err()
            .status(),
        Some(401)
    );
    let admin = s.client();
    let list = admin
        .get(&format!("/api/v1/hush/identities/{id}/client-secrets"), &[])
        .await
        .unwrap();
    let secret_id = list["clientSecretData"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        !list.to_string().contains(&secret),
        "listing shows prefixes only"
    );
    admin
        .call(
            Method::DELETE,
            &format!("/api/v1/hush/identities/{id}/client-secrets/{secret_id}"),
            &[],
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        ua_login(&s, &id, &secret).await.unwrap_err().status(),
        Some(401)
    );
    // Rotation: a new secret works.
    let added = admin
        .send(
            Method::POST,
            &format!("/api/v1/hush/identities/{id}/client-secrets"),
            &json!({}),
        )
        .await
        .unwrap();
    assert!(ua_login(&s, &id, added["clientSecret"].as_str().unwrap())
        .await
        .is_ok());
    // Trusted IPs: 127.0.0.1 is outside 10.0.0.0/8.
    let (fenced, fenced_secret) =
        identity(&s, "fenced", json!({ "trustedIps": ["10.0.0.0/8"] })).await;
    let e = ua_login(&s, &fenced, &fenced_secret).await.unwrap_err();
    assert_eq!(e.status(), Some(403));
    let (local, local_secret) = identity(
        &s,
        "local",
        json!({ "trustedIps": ["127.0.0.0/8", "::1/128"] }),
    )
    .await;
    assert!(ua_login(&s, &local, &local_secret).await.is_ok());
    let audit = admin
        .get(
            "/api/v1/hush/audit",
            &[
                ("action", "login-identity-universal-auth".into()),
                ("limit", "100".into()),
            ],
        )
        .await
        .unwrap();
    let text = audit.to_string();
    assert!(
        text.contains("\"failure\"") && text.contains("\"denied\"") && text.contains("\"success\""),
        "{text}"
    );
    assert!(!text.contains(&secret));
}

#[tokio::test]
async fn brute_force_lockout_even_with_the_right_password() {
    let s = TestServer::start(&[]).await;
    let anon = hush::client::ApiClient::new(&s.url, None).unwrap();
    let login = async |password: &str| {
        anon.send(
            Method::POST,
            "/api/v1/hush/auth/login",
            &json!({ "email": "admin@example.com", "password": password }),
        )
        .await
    };
    for _ in 0..5 {
        assert_eq!(
            login("wrong password here").await.unwrap_err().status(),
            Some(401)
        );
    }
    let e = login(PASSWORD).await.unwrap_err();
    assert_eq!(
        e.status(),
        Some(429),
        "locked even with the right password: {e}"
    );
    let raw = reqwest::Client::new()
        .post(format!("{}/api/v1/hush/auth/login", s.url))
        .json(&json!({ "email": "admin@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert!(raw.headers().get("retry-after").is_some());
    // Unknown accounts fail the same way (and count towards the address limit).
    assert_eq!(
        anon.send(
            Method::POST,
            "/api/v1/hush/auth/login",
            &json!({ "email": "nobody@example.com", "password": "x" })
        )
        .await
        .unwrap_err()
        .status(),
        Some(401)
    );
    let audit = s
        .client()
        .get(
            "/api/v1/hush/audit",
            &[("action", "login".into()), ("limit", "100".into())],
        )
        .await
        .unwrap();
    let results: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert!(results.iter().filter(|r| **r == "failure").count() >= 6);
    assert!(results.contains(&"locked"));
    assert!(!audit.to_string().contains("wrong password here"));
}

#[tokio::test]
async fn cli_login_whoami_logout_for_each_identity_kind() {
    let s = TestServer::start(&[]).await;
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: Option<&[u8]>| {
        let out = hush(home.path(), args, stdin);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(
        &[
            "login",
            "--server",
            &s.url,
            "--email",
            "admin@example.com",
            "--password-stdin",
        ],
        Some(PASSWORD.as_bytes()),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Logged in"));
    let creds = home.path().join("hush/credentials.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (_, out, _) = run(&["whoami", "--server", &s.url], None);
    assert_eq!(out.trim(), "user: admin@example.com");
    let session: Value = serde_json::from_slice(&std::fs::read(&creds).unwrap()).unwrap();
    let old_token = session["token"].as_str().unwrap().to_owned();
    let (code, _, _) = run(&["logout", "--server", &s.url], None);
    assert_eq!(code, 0);
    assert!(!creds.exists());
    let e = hush::client::ApiClient::new(&s.url, Some(zeroize::Zeroizing::new(old_token)))
        .unwrap()
        .get("/api/v1/hush/auth/whoami", &[])
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401), "logout revokes server-side");
    let (code, _, err) = run(&["whoami", "--server", &s.url], None);
    assert_eq!(code, 3);
    assert!(err.contains("hush login"), "{err}");

    // Identity login through the CLI.
    let (code, out, err) = run(
        &[
            "identities",
            "create",
            "ci-bot",
            "--server",
            &s.url,
            "--token",
            &s.token,
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let (id, secret) = (
        created["clientId"].as_str().unwrap().to_owned(),
        created["clientSecret"].as_str().unwrap().to_owned(),
    );
    let (code, _, err) = run(
        &[
            "login",
            "--server",
            &s.url,
            "--client-id",
            &id,
            "--client-secret",
            &secret,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(&["whoami", "--server", &s.url], None);
    assert!(out.starts_with("identity: ci-bot"), "{out}");

    // A service token via `login --token`.
    let (code, out, err) = run(
        &[
            "tokens",
            "create",
            "--name",
            "ci-deploy",
            "--env",
            "prod",
            "--path",
            "/api/**",
            "--read",
            "--ttl",
            "24h",
            "--server",
            &s.url,
            "--token",
            &s.token,
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let token: Value = serde_json::from_str(&out).unwrap();
    let st = token["token"].as_str().unwrap().to_owned();
    assert!(st.starts_with("hush_st_"));
    let (code, _, err) = run(&["login", "--server", &s.url, "--token", &st], None);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(&["whoami", "--server", &s.url], None);
    assert!(
        out.starts_with("token: ci-deploy (project default, env prod, path /api/**, read, expires"),
        "{out}"
    );
    let (_, out, _) = run(
        &[
            "tokens", "list", "--server", &s.url, "--token", &s.token, "--json",
        ],
        None,
    );
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["name"], "ci-deploy");
    assert!(
        !out.contains(&st),
        "the token text is shown at creation only"
    );
    let (code, _, _) = run(
        &[
            "tokens",
            "revoke",
            list[0]["id"].as_str().unwrap(),
            "--server",
            &s.url,
            "--token",
            &s.token,
        ],
        None,
    );
    assert_eq!(code, 0);
    let (code, _, _) = run(&["whoami", "--server", &s.url], None);
    assert_eq!(code, 3, "revoked on the next request");
}

#[tokio::test]
async fn members_and_invites_through_the_cli() {
    let s = TestServer::start(&[]).await;
    seed(&s).await;
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: Option<&[u8]>| {
        let out = hush(home.path(), args, stdin);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(
        &[
            "users",
            "create",
            "bob@example.com",
            "--server",
            &s.url,
            "--token",
            &s.token,
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let invite: Value = serde_json::from_str(&out).unwrap();
    let input = format!("{}\n{PASSWORD}\n", invite["inviteToken"].as_str().unwrap());
    let (code, _, err) = run(
        &["users", "accept-invite", "--server", &s.url],
        Some(input.as_bytes()),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = run(
        &["users", "accept-invite", "--server", &s.url],
        Some(input.as_bytes()),
    );
    assert_eq!(code, 3, "an invite works once");
    let (code, _, err) = run(
        &[
            "members",
            "add",
            "bob@example.com",
            "--role",
            "developer",
            "--env",
            "dev:read",
            "--server",
            &s.url,
            "--token",
            &s.token,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(
        &[
            "members", "list", "--server", &s.url, "--token", &s.token, "--json",
        ],
        None,
    );
    let members: Value = serde_json::from_str(&out).unwrap();
    assert!(members
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["name"] == "bob@example.com" && m["role"] == "developer"));
    let anon = hush::client::ApiClient::new(&s.url, None).unwrap();
    let bob = anon
        .send(
            Method::POST,
            "/api/v1/hush/auth/login",
            &json!({ "email": "bob@example.com", "password": PASSWORD }),
        )
        .await
        .unwrap();
    let bob = hush::client::ApiClient::new(
        &s.url,
        Some(zeroize::Zeroizing::new(
            bob["accessToken"].as_str().unwrap().to_owned(),
        )),
    )
    .unwrap();
    let mut b = scope("dev", "/api");
    b["secretValue"] = json!("nope");
    assert_eq!(
        bob.send(Method::PUT, "/api/v1/hush/secrets/KEY", &b)
            .await
            .unwrap_err()
            .status(),
        Some(403),
        "dev:read override"
    );
    let mut b = scope("staging", "/");
    b["secretValue"] = json!("fine");
    assert!(bob
        .send(Method::PUT, "/api/v1/hush/secrets/KEY", &b)
        .await
        .is_ok());
    let (code, _, _) = run(
        &[
            "members",
            "remove",
            "bob@example.com",
            "--server",
            &s.url,
            "--token",
            &s.token,
        ],
        None,
    );
    assert_eq!(code, 0);
    assert_eq!(
        bob.get("/api/v3/secrets/raw", &scope_q("dev", "/api"))
            .await
            .unwrap_err()
            .status(),
        Some(404),
        "no membership: the project does not exist for bob"
    );
}

#[tokio::test]
async fn no_credential_reaches_the_database_logs_or_audit() {
    let mut s = TestServer::start(&[]).await;
    let (id, secret) = identity(&s, "scan-bot", json!({})).await;
    let token = ua_login(&s, &id, &secret).await.unwrap()["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let st = service_token(&s, "default", "dev", "/**", false, 3600).await;
    let audit = s
        .client()
        .get("/api/v1/hush/audit", &[("limit", "1000".into())])
        .await
        .unwrap()
        .to_string();
    s.stop();
    let mut files = vec![s.log(), audit];
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(b) = std::fs::read(format!("{}{suffix}", s.db_path().display())) {
            files.push(String::from_utf8_lossy(&b).into_owned());
        }
    }
    for canary in [
        PASSWORD,
        secret.as_str(),
        token.as_str(),
        st.as_str(),
        s.token.as_str(),
    ] {
        for (i, f) in files.iter().enumerate() {
            assert!(!f.contains(canary), "credential found in file #{i}");
        }
    }
}

/// Resolved scopes and lists are kept for repeats (SQLite): a change of the
/// caller's role or membership still applies to the very next request.
#[tokio::test]
async fn a_role_change_applies_to_the_very_next_list() {
    let s = TestServer::start(&[]).await;
    seed(&s).await;
    let token = user_session(&s, "rolling@example.com", Some("viewer"), &[]).await;
    let auth = format!("Bearer {token}");
    let list = || {
        call(
            &s,
            Some(&auth),
            Method::GET,
            "/api/v3/secrets/raw?workspaceId=default&environment=prod&secretPath=/api",
            None,
        )
    };
    for _ in 0..3 {
        let (status, body) = list().await;
        assert_eq!(status, 200, "{body}");
    }
    post(
        &s,
        &s.token,
        "/api/v1/hush/members",
        json!({ "projectId": "default", "subject": "rolling@example.com", "role": "no-access" }),
    )
    .await;
    let (status, body) = list().await;
    assert_eq!(status, 404, "no access now: {body}");
    assert!(!body.contains(CANARY));
    post(
        &s,
        &s.token,
        "/api/v1/hush/members",
        json!({ "projectId": "default", "subject": "rolling@example.com", "role": "viewer" }),
    )
    .await;
    assert_eq!(list().await.0, 200);
    let (status, body) = call(
        &s,
        Some(&format!("Bearer {}", s.token)),
        Method::DELETE,
        "/api/v1/hush/members",
        Some(json!({ "projectId": "default", "subject": "rolling@example.com" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = list().await;
    assert_eq!(status, 404, "removed: {body}");
}
