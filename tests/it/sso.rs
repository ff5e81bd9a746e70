//! Issue 23, people: password logins can be turned off per server
//! (`--password-login=false`), keeping break-glass server admins.

use crate::dashboard::Web;
use crate::harness::*;
use crate::pg::{on_both_backends, Backend};
use serde_json::{json, Value};

on_both_backends!(sso_authorization_code_flow_with_pkce);

async fn password_login(s: &TestServer, email: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/hush/auth/login", s.url))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn password_login_off_keeps_break_glass_admins() {
    let s = TestServer::start(&[
        "--password-login=false",
        "--break-glass-admin",
        "Admin@Example.com,bob@example.com",
    ])
    .await;
    // bob has a password and is listed, but is no server admin.
    user_session_or_refused(&s, "bob@example.com").await;
    user_session_or_refused(&s, "carol@example.com").await;
    let (status, _) = password_login(&s, "admin@example.com").await;
    assert_eq!(status, 200);
    for who in ["bob@example.com", "carol@example.com", "nobody@example.com"] {
        let (status, body) = password_login(&s, who).await;
        assert_eq!(status, 403, "{who}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("password login is disabled"),
            "{body}"
        );
    }
    let refused = audit_events(
        &s.client(),
        &[("action", "login".into()), ("limit", "50".into())],
    )
    .await;
    assert!(refused
        .iter()
        .any(|e| e["result"] == "denied" && e["keys"][0] == "password-login-disabled"));
}

/// Creates `email` with a password (invite accepted); logging in is then
/// up to the server's setting.
async fn user_session_or_refused(s: &TestServer, email: &str) {
    let admin = s.client();
    let invite = admin
        .send(
            reqwest::Method::POST,
            "/api/v1/hush/users",
            &json!({ "email": email }),
        )
        .await
        .unwrap();
    hush::client::ApiClient::new(&s.url, None)
        .unwrap()
        .send(
            reqwest::Method::POST,
            "/api/v1/hush/users/accept-invite",
            &json!({ "inviteToken": invite["inviteToken"], "password": PASSWORD }),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn password_login_is_on_by_default() {
    let s = TestServer::start(&[]).await;
    user_session_or_refused(&s, "dave@example.com").await;
    assert_eq!(password_login(&s, "dave@example.com").await.0, 200);
}

/// A mock OIDC provider: discovery, JWKS, an authorization endpoint that
/// signs the next user in at once, and a token endpoint checking the
/// client secret, the code (single use), the redirect URI and PKCE.
pub(crate) mod provider {
    use crate::workload::EcKey;
    use axum::extract::{Query, State};
    use axum::http::{header, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use base64::Engine;
    use serde_json::{json, Value};
    use sha2::{Digest, Sha256};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    pub const CLIENT_ID: &str = "hush-test-client";
    pub const CLIENT_SECRET: &str = "client-secret-canary-5d1e";

    pub struct Mock {
        pub url: String,
        key: EcKey,
        /// code → (code_challenge, nonce, redirect_uri, email)
        codes: Mutex<HashMap<String, (String, String, String, String)>>,
        pub next_email: Mutex<String>,
        pub tamper_nonce: Mutex<bool>,
        pub verifier_checks: Mutex<u32>,
        /// device_code → (user_code, email, approved)
        pub devices: Mutex<HashMap<String, (String, String, bool)>>,
        /// Emails disabled at the provider: their refresh tokens fail.
        pub disabled: Mutex<Vec<String>>,
        /// Device grants the token endpoint answers with HTTP 502 first.
        pub device_blips: Mutex<u32>,
        /// Whether `authorize` shows an "Approve" link (the person acts on
        /// the provider's page, as with a real one) instead of redirecting.
        pub consent_page: Mutex<bool>,
    }

    impl Mock {
        /// The person enters `user_code` at the provider and approves.
        pub fn approve(&self, user_code: &str) {
            for d in self.devices.lock().unwrap().values_mut() {
                if d.0 == user_code {
                    d.2 = true;
                }
            }
        }
    }

    async fn device(State(m): State<Arc<Mock>>, body: String) -> Response {
        if !body.contains(&format!("client_id={CLIENT_ID}")) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let mut devices = m.devices.lock().unwrap();
        let n = devices.len();
        let user_code = format!("WDJB-MJH{n}");
        devices.insert(
            format!("device-code-{n}"),
            (
                user_code.clone(),
                m.next_email.lock().unwrap().clone(),
                false,
            ),
        );
        Json(json!({
            "device_code": format!("device-code-{n}"), "user_code": user_code,
            "verification_uri": format!("{}/activate", m.url), "interval": 1, "expires_in": 600,
        }))
        .into_response()
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    async fn discovery(State(m): State<Arc<Mock>>) -> Json<Value> {
        Json(json!({
            "issuer": m.url, "authorization_endpoint": format!("{}/authorize", m.url),
            "token_endpoint": format!("{}/token", m.url), "jwks_uri": format!("{}/jwks", m.url),
            "device_authorization_endpoint": format!("{}/device", m.url),
        }))
    }

    async fn jwks(State(m): State<Arc<Mock>>) -> Json<Value> {
        Json(json!({ "keys": [m.key.jwk()] }))
    }

    async fn authorize(
        State(m): State<Arc<Mock>>,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        if q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
            || q.get("code_challenge_method").map(String::as_str) != Some("S256")
            || q.get("response_type").map(String::as_str) != Some("code")
        {
            return StatusCode::BAD_REQUEST.into_response();
        }
        let code = format!("code-{}", m.codes.lock().unwrap().len());
        let redirect = q["redirect_uri"].clone();
        m.codes.lock().unwrap().insert(
            code.clone(),
            (
                q["code_challenge"].clone(),
                q["nonce"].clone(),
                redirect.clone(),
                m.next_email.lock().unwrap().clone(),
            ),
        );
        let mut to = reqwest::Url::parse(&redirect).unwrap();
        to.query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &q["state"]);
        if *m.consent_page.lock().unwrap() {
            let link = to.to_string().replace('&', "&amp;");
            let page = format!(
                "<!doctype html><html lang=\"en\"><title>Mock provider</title><body><main><a href=\"{link}\">Approve</a></main></body></html>"
            );
            return ([(header::CONTENT_TYPE, "text/html")], page).into_response();
        }
        (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
    }

    async fn token(State(m): State<Arc<Mock>>, body: String) -> Response {
        let form: HashMap<String, String> = reqwest::Url::parse(&format!("http://x/?{body}"))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        if form.get("grant_type").map(String::as_str) == Some("refresh_token") {
            let email = form
                .get("refresh_token")
                .and_then(|t| t.split_once(':'))
                .map(|(_, e)| e.to_owned())
                .unwrap_or_default();
            if form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
                || email.is_empty()
                || m.disabled.lock().unwrap().contains(&email)
            {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({ "error": "invalid_grant" })),
                )
                    .into_response();
            }
            // Rotates the refresh token, as many providers do.
            return Json(json!({ "access_token": "at", "refresh_token": format!("rt2:{email}") }))
                .into_response();
        }
        if form.get("grant_type").map(String::as_str)
            == Some("urn:ietf:params:oauth:grant-type:device_code")
        {
            {
                let mut blips = m.device_blips.lock().unwrap();
                if *blips > 0 {
                    *blips -= 1;
                    return StatusCode::BAD_GATEWAY.into_response();
                }
            }
            let code = form.get("device_code").cloned().unwrap_or_default();
            let mut devices = m.devices.lock().unwrap();
            let Some((_, email, approved)) = devices.get(&code).cloned() else {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({ "error": "expired_token" })),
                )
                    .into_response();
            };
            if form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET) {
                return (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({ "error": "invalid_client" })),
                )
                    .into_response();
            }
            if !approved {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({ "error": "authorization_pending" })),
                )
                    .into_response();
            }
            devices.remove(&code);
            let now = crate::workload::now();
            let id_token = m.key.sign(&json!({
                "iss": m.url, "aud": CLIENT_ID, "sub": format!("user-{email}"), "email": email,
                "email_verified": true, "iat": now, "exp": now + 300,
            }));
            return Json(json!({ "access_token": "at", "id_token": id_token })).into_response();
        }
        let Some((challenge, nonce, redirect, email)) = m
            .codes
            .lock()
            .unwrap()
            .remove(form.get("code").map(String::as_str).unwrap_or(""))
        else {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": "invalid_grant" })),
            )
                .into_response();
        };
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        *m.verifier_checks.lock().unwrap() += 1;
        if form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
            || form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
            || form.get("redirect_uri") != Some(&redirect)
            || b64(&Sha256::digest(verifier.as_bytes())) != challenge
        {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": "invalid_grant" })),
            )
                .into_response();
        }
        let now = crate::workload::now();
        let nonce = if *m.tamper_nonce.lock().unwrap() {
            "other".to_owned()
        } else {
            nonce
        };
        let id_token = m.key.sign(&json!({
            "iss": m.url, "aud": CLIENT_ID, "sub": format!("user-{email}"), "email": email,
            "email_verified": true, "nonce": nonce, "iat": now, "exp": now + 300,
            // Group membership, for `required_claims`: dave is staff.
            "groups": if email.starts_with("dave@") { ["staff", "all"] } else { ["guests", "all"] },
        }));
        Json(
            json!({ "access_token": "at", "token_type": "Bearer", "id_token": id_token,
            "refresh_token": format!("rt:{email}") }),
        )
        .into_response()
    }

    pub async fn start() -> Arc<Mock> {
        start_at("127.0.0.1").await
    }

    /// The provider on 127.0.0.1, known by `host` (`localhost`: another
    /// site than the server's 127.0.0.1, for a browser's cookie rules).
    pub async fn start_at(host: &str) -> Arc<Mock> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://{host}:{port}");
        let mock = Arc::new(Mock {
            url,
            key: EcKey::new("idp-1"),
            codes: Default::default(),
            next_email: Mutex::new("alice@acme.example".into()),
            tamper_nonce: Mutex::new(false),
            verifier_checks: Mutex::new(0),
            devices: Default::default(),
            disabled: Default::default(),
            device_blips: Mutex::new(0),
            consent_page: Mutex::new(false),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/device", post(device))
            .with_state(mock.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        mock
    }
}

/// A server with two providers on the mock: `acme` (JIT users with the
/// developer role, acme.example only) and `corp` (invite-only).
async fn sso_server(
    backend: &Backend,
    mock: &provider::Mock,
    extra: &[&str],
) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hush.toml");
    let secret = dir.path().join("sso-secret");
    std::fs::write(&secret, provider::CLIENT_SECRET).unwrap();
    std::fs::write(
        &config,
        format!(
            r#"
[[sso_providers]]
name = "acme"
issuer = "{url}"
client_id = "{id}"
client_secret_file = "{secret}"
allowed_email_domains = ["acme.example"]
jit = true
default_role = "developer"

[[sso_providers]]
name = "corp"
issuer = "{url}"
client_id = "{id}"
client_secret_file = "{secret}"

[[sso_providers]]
name = "staff"
issuer = "{url}"
client_id = "{id}"
client_secret_file = "{secret}"
jit = true
required_claims = {{ groups = "staff" }}
"#,
            url = mock.url,
            id = provider::CLIENT_ID,
            secret = secret.display()
        ),
    )
    .unwrap();
    let mut args = vec!["--config", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    let s = backend.start(&args).await;
    (s, dir)
}

fn pkce() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).unwrap();
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

struct Flow {
    callback: String,
    answer: reqwest::Response,
}

/// Plays the CLI and the browser: start, the provider's authorize, the
/// server's callback (not followed to the loopback).
async fn browse(s: &TestServer, provider: &str, challenge: &str, state: &str) -> Flow {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started: Value = http
        .post(format!("{}/api/v1/hush/sso/{provider}/start", s.url))
        .json(&json!({ "redirectUri": "http://127.0.0.1:9/callback", "codeChallenge": challenge, "state": state }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let auth_url = started["authorizationUrl"]
        .as_str()
        .expect("authorizationUrl");
    let at_idp = http.get(auth_url).send().await.unwrap();
    assert_eq!(at_idp.status(), 302);
    let callback = location(&at_idp);
    assert!(callback.starts_with(&s.url), "{callback}");
    let answer = http.get(&callback).send().await.unwrap();
    Flow { callback, answer }
}

async fn redeem(s: &TestServer, code: &str, verifier: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/hush/sso/token", s.url))
        .json(&json!({ "code": code, "codeVerifier": verifier }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn sso_authorization_code_flow_with_pkce(backend: &Backend) {
    let mock = provider::start().await;
    let (s, _dir) = sso_server(backend, &mock, &[]).await;
    let (verifier, challenge) = pkce();
    let flow = browse(&s, "acme", &challenge, "cli-state-0123456789").await;
    assert_eq!(flow.answer.status(), 302, "{}", s.log());
    let to_cli = reqwest::Url::parse(&location(&flow.answer)).unwrap();
    assert_eq!(to_cli.host_str(), Some("127.0.0.1"));
    let q: std::collections::HashMap<String, String> = to_cli.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "cli-state-0123456789");
    // The server's PKCE verifier reached the provider and matched.
    assert_eq!(*mock.verifier_checks.lock().unwrap(), 1);

    // A replayed callback is refused.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(http.get(&flow.callback).send().await.unwrap().status(), 400);

    // The login code needs the CLI's verifier, and works once.
    let (wrong, _) = pkce();
    assert_eq!(redeem(&s, &q["code"], &wrong).await.0, 401);
    let (status, body) = redeem(&s, &q["code"], &verifier).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(redeem(&s, &q["code"], &verifier).await.0, 401);
    let session = body["accessToken"].as_str().unwrap().to_owned();
    // Renewal asks the provider (refresh grant, rotated token kept) ...
    assert_eq!(renew(&s, &session).await.0, 200);
    assert_eq!(renew(&s, &session).await.0, 200);
    let me = hush::client::ApiClient::new(&s.url, Some(zeroize::Zeroizing::new(session.clone())))
        .unwrap()
        .get("/api/v1/hush/auth/whoami", &[])
        .await
        .unwrap();
    assert!(me.to_string().contains("alice@acme.example"), "{me}");
    // JIT: the configured role in the default project.
    let members = s
        .client()
        .get("/api/v1/hush/members", &[("projectId", "default".into())])
        .await
        .unwrap();
    let alice = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "alice@acme.example")
        .expect("alice is a member");
    assert_eq!(alice["role"], "developer");
    // ... and once alice is disabled at the provider, renewal is refused.
    mock.disabled
        .lock()
        .unwrap()
        .push("alice@acme.example".into());
    let (status, body) = renew(&s, &session).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.to_string().contains("single sign-on"), "{body}");

    // Outside the allowed domain: refused, no user created.
    *mock.next_email.lock().unwrap() = "eve@evil.example".into();
    let (_, challenge) = pkce();
    let flow = browse(&s, "acme", &challenge, "cli-state-0123456789").await;
    assert_eq!(flow.answer.status(), 403);
    let users = s.client().get("/api/v1/hush/users", &[]).await.unwrap();
    assert!(!users.to_string().contains("eve@evil.example"));

    // A wrong nonce in the ID token is refused.
    *mock.next_email.lock().unwrap() = "bob@acme.example".into();
    *mock.tamper_nonce.lock().unwrap() = true;
    let flow = browse(&s, "acme", &challenge, "cli-state-0123456789").await;
    assert_eq!(flow.answer.status(), 401);
    *mock.tamper_nonce.lock().unwrap() = false;

    // Invite-only provider: unknown users are refused, invited ones log in.
    *mock.next_email.lock().unwrap() = "carol@corp.example".into();
    let flow = browse(&s, "corp", &challenge, "cli-state-0123456789").await;
    assert_eq!(flow.answer.status(), 403);
    s.client()
        .send(
            reqwest::Method::POST,
            "/api/v1/hush/users",
            &json!({ "email": "carol@corp.example" }),
        )
        .await
        .unwrap();
    let (verifier, challenge) = pkce();
    let flow = browse(&s, "corp", &challenge, "cli-state-0123456789").await;
    assert_eq!(flow.answer.status(), 302);
    let code = reqwest::Url::parse(&location(&flow.answer))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(redeem(&s, &code, &verifier).await.0, 200);

    // A required claim: a list claim must hold the value.
    *mock.next_email.lock().unwrap() = "erin@corp.example".into();
    let flow = browse(&s, "staff", &challenge, "cli-state-0123456789").await;
    assert_eq!(flow.answer.status(), 403);
    let users = s.client().get("/api/v1/hush/users", &[]).await.unwrap();
    assert!(!users.to_string().contains("erin@corp.example"));
    *mock.next_email.lock().unwrap() = "dave@corp.example".into();
    let flow = browse(&s, "staff", &challenge, "cli-state-0123456789").await;
    assert_eq!(flow.answer.status(), 302, "{}", s.log());

    let events = audit_events(
        &s.client(),
        &[("action", "login".into()), ("limit", "100".into())],
    )
    .await;
    let text = serde_json::to_string(&events).unwrap();
    for check in [
        "check=replayed-callback",
        "check=email-domain",
        "check=nonce",
        "check=invite-only",
        "check=claim",
        "check=pkce",
        "check=replayed-code",
    ] {
        assert!(text.contains(check), "no {check} event: {text}");
    }
    assert!(!(text + &s.log()).contains(provider::CLIENT_SECRET));
}

/// `hush login --sso` end to end: the CLI prints the sign-in URL and
/// waits on its loopback port; the "browser" (an HTTP client following
/// redirects) goes through the provider and the server back to the CLI,
/// which stores the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_login_sso_through_the_loopback() {
    let mock = provider::start().await;
    let (s, _dir) = sso_server(&Backend::Sqlite, &mock, &[]).await;
    let home = tempfile::tempdir().unwrap();
    let (child, url, rest) = spawn_waiting(
        home.path(),
        &["login", "--server", &s.url, "--sso", "acme", "--no-browser"],
        |line| line.starts_with("http").then(|| line.to_owned()),
    )
    .await;
    let page = reqwest::get(&url).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Signed in to hush"));
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = rest.join().unwrap();
    assert!(out.status.success(), "{out:?}\n{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("alice@acme.example"));
    let who = hush(home.path(), &["whoami", "--server", &s.url], None);
    assert!(String::from_utf8_lossy(&who.stdout).contains("alice@acme.example"));
    // Two providers: `--sso` alone asks which.
    let out = hush(home.path(), &["login", "--server", &s.url, "--sso"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("acme|corp"));
}

/// Follows a dashboard SSO sign-in from its button to the server's
/// callback, and returns the callback's answer (the way back to the
/// dashboard, or a refusal page).
async fn dashboard_flow(web: &mut Web, provider: &str) -> crate::dashboard::Answer {
    let started = web.get(&format!("/sign-in/sso/{provider}")).await;
    assert_eq!(started.status, 303, "{}", started.body);
    let flow_cookie = started
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("hush_sso="))
        .expect("the flow's cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Max-Age=600"] {
        assert!(flow_cookie.contains(attribute), "{flow_cookie}");
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let at_idp = http.get(started.location()).send().await.unwrap();
    assert_eq!(at_idp.status(), 302);
    let callback = location(&at_idp);
    let path = callback
        .strip_prefix(&web.base)
        .expect("back to this server");
    web.get(path).await
}

/// The dashboard signs in through the same flow as the CLI (issue 27): the
/// sign-in page offers each provider, the callback sends the browser back
/// to the dashboard, and the login code becomes a session only in the
/// browser that started the sign-in (login CSRF fails), once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_sign_in_through_sso() {
    let mock = provider::start().await;
    let (s, _dir) = sso_server(&Backend::Sqlite, &mock, &[]).await;
    let mut web = Web::new(&s);
    let page = web.get("/sign-in").await;
    for button in ["href=\"/sign-in/sso/acme\"", "Sign in with corp"] {
        assert!(page.body.contains(button), "{}", page.body);
    }

    let back = dashboard_flow(&mut web, "acme").await;
    assert_eq!(back.status, 302, "{}", back.body);
    let done = back.location().to_owned();
    assert!(
        done.starts_with(&format!("{}/sign-in/sso/done?code=", s.url)),
        "{done}"
    );
    let done = done.strip_prefix(&s.url).unwrap().to_owned();

    // Someone else's browser cannot use the way back: without the flow's
    // cookie, or with its own flow's, it is refused and gets no session.
    let mut other = Web::new(&s);
    let refused = other.get(&done).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    dashboard_flow(&mut other, "acme").await;
    let refused = other.get(&done).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("browser that started it"));
    assert!(!other.cookies.contains_key("hush_session"));
    assert!(!other.cookies.contains_key("hush_sso"), "the flow ended");

    // The browser that started it is signed in: a Strict session cookie,
    // and a page that moves on to the projects by itself.
    let flow_cookie = web.cookies["hush_sso"].clone();
    let signed_in = web.get(&done).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    assert_eq!(signed_in.headers["refresh"], "0; url=/projects");
    let session_cookie = signed_in
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("hush_session="))
        .expect("a session cookie");
    assert!(session_cookie.contains("SameSite=Strict") && session_cookie.contains("HttpOnly"));
    assert!(
        !web.cookies.contains_key("hush_sso"),
        "the flow cookie goes"
    );
    let projects = web.get("/projects").await;
    assert_eq!(projects.status, 200);
    assert!(projects.body.contains("alice@acme.example"));

    // The login code works once, even with the flow's cookie kept.
    let mut replay = Web::new(&s);
    replay.cookies.insert("hush_sso".into(), flow_cookie);
    let again = replay.get(&done).await;
    assert_eq!(again.status, 401, "{}", again.body);

    // A refusal at the callback is a dashboard page, with its headers.
    *mock.next_email.lock().unwrap() = "eve@evil.example".into();
    let mut eve = Web::new(&s);
    let refused = dashboard_flow(&mut eve, "acme").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(refused.headers.contains_key("content-security-policy"));
    assert!(
        refused.body.contains("not an allowed email domain"),
        "{}",
        refused.body
    );
    assert!(!eve.cookies.contains_key("hush_session"));

    // An unknown provider is a 404 page.
    assert_eq!(web.get("/sign-in/sso/nope").await.status, 404);

    let events = audit_events(
        &s.client(),
        &[("action", "login".into()), ("limit", "100".into())],
    )
    .await;
    let text = serde_json::to_string(&events).unwrap();
    for expected in [
        "alice@acme.example",
        "check=replayed-code",
        "check=email-domain",
    ] {
        assert!(text.contains(expected), "no {expected}: {text}");
    }
    assert!(!(text + &s.log()).contains(provider::CLIENT_SECRET));
}

/// With password sign-in off, the sign-in page leads with the providers and
/// says whom the password form is for.
#[tokio::test]
async fn sign_in_page_without_password_login() {
    let mock = provider::start().await;
    let (s, _dir) = sso_server(&Backend::Sqlite, &mock, &["--password-login=false"]).await;
    let page = Web::new(&s).get("/sign-in").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Sign in with acme"), "{}", page.body);
    assert!(page
        .body
        .contains("reserved for the server's break-glass admins"));
    assert!(!page.body.contains("Or with your email and password"));
}

/// The same sign-in in a real headless Chromium, the provider on another
/// site (`localhost`) than the server (`127.0.0.1`), where the person
/// approves on the provider's page: the way back is then a navigation that
/// another site started, as in real life, which `Strict` cookies are not
/// sent with (the flow cookie must be `Lax`, and the return page must not
/// just redirect).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sso_sign_in() {
    let mock = provider::start_at("localhost").await;
    *mock.consent_page.lock().unwrap() = true;
    let (s, _dir) = sso_server(&Backend::Sqlite, &mock, &[]).await;
    let env = [
        ("HUSH_URL", s.url.as_str()),
        ("HUSH_IDP", mock.url.as_str()),
        ("HUSH_EMAIL", "alice@acme.example"),
    ];
    crate::dashboard::run_browser_script("sso.py", &env, 2).await;
}

/// The device grant: pending until the person approves at the provider,
/// then a session; the handle works once; the CLI's `--device` polls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_device_flow() {
    let mock = provider::start().await;
    let (s, _dir) = sso_server(&Backend::Sqlite, &mock, &[]).await;
    *mock.next_email.lock().unwrap() = "dana@acme.example".into();
    let http = reqwest::Client::new();
    let started: Value = http
        .post(format!("{}/api/v1/hush/sso/acme/device", s.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let handle = started["handle"].as_str().unwrap().to_owned();
    assert!(
        !started.to_string().contains("device-code-"),
        "the provider's device code is sealed"
    );
    let poll = async || -> (u16, Value) {
        let r = http
            .post(format!("{}/api/v1/hush/sso/device/token", s.url))
            .json(&json!({ "handle": handle }))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    };
    assert_eq!(poll().await.1["pending"], true);
    mock.approve(started["userCode"].as_str().unwrap());
    let (status, body) = poll().await;
    assert_eq!(status, 200, "{body}");
    assert!(body["accessToken"].as_str().is_some());
    assert_eq!(poll().await.0, 401);

    // The CLI: prints the code, polls (waiting out the provider's blips),
    // stores the session.
    *mock.next_email.lock().unwrap() = "erin@acme.example".into();
    let home = tempfile::tempdir().unwrap();
    let (child, code, rest) = spawn_waiting(
        home.path(),
        &["login", "--server", &s.url, "--sso", "acme", "--device"],
        |line| {
            line.split("enter the code ")
                .nth(1)
                .map(|c| c.trim().to_owned())
        },
    )
    .await;
    *mock.device_blips.lock().unwrap() = 2;
    mock.approve(&code);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = rest.join().unwrap();
    assert!(out.status.success(), "{out:?}\n{stderr}");
    assert!(stderr.contains("still waiting for the sign-in"), "{stderr}");
    let who = hush(home.path(), &["whoami", "--server", &s.url], None);
    assert!(String::from_utf8_lossy(&who.stdout).contains("erin@acme.example"));
}

/// A mock GitHub (OAuth app endpoints and the REST API), by URL like
/// GitHub Enterprise.
mod github {
    use axum::extract::{Query, State};
    use axum::http::{header, HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use base64::Engine;
    use serde_json::json;
    use sha2::{Digest, Sha256};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    pub struct Mock {
        pub url: String,
        /// (login, primary email, orgs) of whoever signs in next.
        pub user: Mutex<(String, String, Vec<String>)>,
        /// code → (challenge, redirect_uri)
        codes: Mutex<HashMap<String, (String, String)>>,
        /// The user token was revoked (the app's authorization removed).
        pub revoked: Mutex<bool>,
        /// Device flow: device_code → (user_code, state).
        devices: Mutex<HashMap<String, (String, Device)>>,
        /// Whether a device-flow request carried the client secret (GitHub
        /// takes none there; hush must not send it).
        pub secret_on_device_flow: Mutex<bool>,
    }

    /// Where a device sign-in stands at GitHub.
    #[derive(Clone, Copy, PartialEq)]
    pub enum Device {
        Pending,
        Approved,
        Denied,
        Expired,
    }

    impl Mock {
        /// The person enters `user_code` at GitHub and decides.
        pub fn decide(&self, user_code: &str, to: Device) {
            for (code, state) in self.devices.lock().unwrap().values_mut() {
                if code == user_code {
                    *state = to;
                }
            }
        }
    }

    const TOKEN: &str = "github-user-token-1";

    fn form(body: &str) -> HashMap<String, String> {
        reqwest::Url::parse(&format!("http://x/?{body}"))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    /// GitHub's errors come with HTTP 200 and an `error` field.
    fn github_error(error: &str) -> Response {
        Json(json!({ "error": error, "error_description": "see the docs" })).into_response()
    }

    /// `POST /login/device/code`.
    async fn device_code(State(m): State<Arc<Mock>>, headers: HeaderMap, body: String) -> Response {
        let form = form(&body);
        if form.contains_key("client_secret") {
            *m.secret_on_device_flow.lock().unwrap() = true;
        }
        if form.get("client_id").map(String::as_str) != Some(super::provider::CLIENT_ID) {
            return github_error("unauthorized_client");
        }
        // Without this header GitHub answers form-encoded.
        if headers.get("accept").and_then(|v| v.to_str().ok()) != Some("application/json") {
            return "device_code=x&user_code=y".into_response();
        }
        let mut devices = m.devices.lock().unwrap();
        let n = devices.len();
        let user_code = format!("GH{n:02}-CODE");
        devices.insert(
            format!("gh-device-{n}"),
            (user_code.clone(), Device::Pending),
        );
        Json(json!({
            "device_code": format!("gh-device-{n}"), "user_code": user_code,
            "verification_uri": format!("{}/login/device", m.url), "expires_in": 899, "interval": 1,
        }))
        .into_response()
    }

    /// The device grant at `POST /login/oauth/access_token`.
    fn device_token(m: &Mock, form: &HashMap<String, String>) -> Response {
        if form.contains_key("client_secret") {
            *m.secret_on_device_flow.lock().unwrap() = true;
        }
        let code = form.get("device_code").cloned().unwrap_or_default();
        let mut devices = m.devices.lock().unwrap();
        match devices.get(&code).map(|d| d.1) {
            Some(Device::Pending) => github_error("authorization_pending"),
            Some(Device::Denied) => github_error("access_denied"),
            Some(Device::Approved) => {
                devices.remove(&code);
                Json(json!({ "access_token": TOKEN, "token_type": "bearer", "scope": "read:user,user:email,read:org" }))
                    .into_response()
            }
            Some(Device::Expired) | None => github_error("expired_token"),
        }
    }

    async fn authorize(
        State(m): State<Arc<Mock>>,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        if q.get("client_id").map(String::as_str) != Some(super::provider::CLIENT_ID) {
            return StatusCode::BAD_REQUEST.into_response();
        }
        let code = format!("gh-code-{}", m.codes.lock().unwrap().len());
        m.codes.lock().unwrap().insert(
            code.clone(),
            (q["code_challenge"].clone(), q["redirect_uri"].clone()),
        );
        let mut to = reqwest::Url::parse(&q["redirect_uri"]).unwrap();
        to.query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &q["state"]);
        (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
    }

    async fn access_token(State(m): State<Arc<Mock>>, body: String) -> Response {
        let form = form(&body);
        if form.get("grant_type").map(String::as_str)
            == Some("urn:ietf:params:oauth:grant-type:device_code")
        {
            return device_token(&m, &form);
        }
        let code = form.get("code").cloned().unwrap_or_default();
        let Some((challenge, redirect)) = m.codes.lock().unwrap().remove(&code) else {
            return Json(json!({ "error": "bad_verification_code" })).into_response();
        };
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        let ok = form.get("client_secret").map(String::as_str)
            == Some(super::provider::CLIENT_SECRET)
            && form.get("redirect_uri") == Some(&redirect)
            && base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()))
                == challenge;
        if !ok {
            return Json(json!({ "error": "bad_verification_code" })).into_response();
        }
        Json(json!({ "access_token": TOKEN, "token_type": "bearer", "scope": "read:user,user:email,read:org" }))
            .into_response()
    }

    fn authorized(headers: &HeaderMap) -> bool {
        headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some(&format!("Bearer {TOKEN}"))
    }

    async fn user(State(m): State<Arc<Mock>>, headers: HeaderMap) -> Response {
        if !authorized(&headers) || *m.revoked.lock().unwrap() {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        Json(json!({ "login": m.user.lock().unwrap().0, "id": 1 })).into_response()
    }

    async fn emails(State(m): State<Arc<Mock>>, headers: HeaderMap) -> Response {
        if !authorized(&headers) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let email = m.user.lock().unwrap().1.clone();
        Json(json!([
            { "email": "unverified@other.example", "primary": false, "verified": false },
            { "email": email, "primary": true, "verified": true },
        ]))
        .into_response()
    }

    async fn orgs(State(m): State<Arc<Mock>>, headers: HeaderMap) -> Response {
        if !authorized(&headers) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let orgs: Vec<_> = m
            .user
            .lock()
            .unwrap()
            .2
            .iter()
            .map(|o| json!({ "login": o }))
            .collect();
        Json(json!(orgs)).into_response()
    }

    pub async fn start() -> Arc<Mock> {
        start_at("127.0.0.1").await
    }

    /// The provider on 127.0.0.1, known by `host` (`localhost`: another
    /// site than the server's 127.0.0.1, for a browser's cookie rules).
    pub async fn start_at(host: &str) -> Arc<Mock> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://{host}:{port}");
        let mock = Arc::new(Mock {
            url,
            user: Mutex::new((
                "octo".into(),
                "octo@acme.example".into(),
                vec!["acme".into()],
            )),
            codes: Default::default(),
            revoked: Mutex::new(false),
            devices: Default::default(),
            secret_on_device_flow: Mutex::new(false),
        });
        let app = Router::new()
            .route("/login/device/code", post(device_code))
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(access_token))
            .route("/api/user", get(user))
            .route("/api/user/emails", get(emails))
            .route("/api/user/orgs", get(orgs))
            .with_state(mock.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        mock
    }
}

/// A server with the mock GitHub as provider `github` (allowed
/// organization acme, JIT users), by URL as for GitHub Enterprise.
async fn github_server(gh: &github::Mock) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("gh-secret");
    std::fs::write(&secret, provider::CLIENT_SECRET).unwrap();
    let config = dir.path().join("hush.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[sso_providers]]
name = "github"
kind = "github"
github_url = "{url}"
github_api_url = "{url}/api"
client_id = "{id}"
client_secret_file = "{secret}"
allowed_orgs = ["acme"]
jit = true
"#,
            url = gh.url,
            id = provider::CLIENT_ID,
            secret = secret.display()
        ),
    )
    .unwrap();
    let s = TestServer::start(&["--config", config.to_str().unwrap()]).await;
    (s, dir)
}

#[tokio::test]
async fn sso_github_oauth_checks_the_organization() {
    let gh = github::start().await;
    let (s, _dir) = github_server(&gh).await;
    let (verifier, challenge) = pkce();
    let flow = browse(&s, "github", &challenge, "cli-state-0123456789").await;
    assert_eq!(flow.answer.status(), 302, "{}", s.log());
    let code = reqwest::Url::parse(&location(&flow.answer))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let (status, body) = redeem(&s, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let users = s.client().get("/api/v1/hush/users", &[]).await.unwrap();
    assert!(users.to_string().contains("octo@acme.example"));
    let session = body["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(renew(&s, &session).await.0, 200);
    *gh.revoked.lock().unwrap() = true;
    assert_eq!(renew(&s, &session).await.0, 401);
    *gh.revoked.lock().unwrap() = false;
    assert!(!users.to_string().contains("unverified@other.example"));

    // Not in an allowed organization: refused.
    *gh.user.lock().unwrap() = (
        "mallory".into(),
        "mallory@acme.example".into(),
        vec!["other".into()],
    );
    let (_, challenge) = pkce();
    let flow = browse(&s, "github", &challenge, "cli-state-0123456789").await;
    assert_eq!(flow.answer.status(), 403);
    let text = flow.answer.text().await.unwrap();
    assert!(text.contains("allowed organization"), "{text}");
    let events = audit_events(&s.client(), &[("action", "login".into())]).await;
    assert!(serde_json::to_string(&events)
        .unwrap()
        .contains("check=org"));
}

/// GitHub's device flow (`hush login --sso github --device`): pending
/// until the person approves at GitHub, then the same organization and
/// email checks as the browser flow; a denied or expired sign-in, and a
/// user outside the allowed organization, are refused and audited. The
/// client secret never travels on the device flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_github_device_flow() {
    let gh = github::start().await;
    let (s, _dir) = github_server(&gh).await;
    let http = reqwest::Client::new();
    let start = async || -> Value {
        let r = http
            .post(format!("{}/api/v1/hush/sso/github/device", s.url))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    };
    let poll = async |handle: &Value| -> (u16, Value) {
        let r = http
            .post(format!("{}/api/v1/hush/sso/device/token", s.url))
            .json(&json!({ "handle": handle }))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    };

    let started = start().await;
    assert!(
        !started.to_string().contains("gh-device-"),
        "GitHub's device code is sealed"
    );
    assert_eq!(
        started["verificationUri"],
        format!("{}/login/device", gh.url)
    );
    let handle = &started["handle"];
    assert_eq!(poll(handle).await.1["pending"], true);
    gh.decide(
        started["userCode"].as_str().unwrap(),
        github::Device::Approved,
    );
    let (status, body) = poll(handle).await;
    assert_eq!(
        status,
        200,
        "{body}
{}",
        s.log()
    );
    let session = body["accessToken"].as_str().unwrap().to_owned();
    let me = hush::client::ApiClient::new(&s.url, Some(zeroize::Zeroizing::new(session.clone())))
        .unwrap()
        .get("/api/v1/hush/auth/whoami", &[])
        .await
        .unwrap();
    assert!(me.to_string().contains("octo@acme.example"), "{me}");
    // The GitHub token is kept for renewal, which asks GitHub again.
    assert_eq!(renew(&s, &session).await.0, 200);
    *gh.revoked.lock().unwrap() = true;
    assert_eq!(renew(&s, &session).await.0, 401);
    *gh.revoked.lock().unwrap() = false;
    // The handle is spent.
    assert_eq!(poll(handle).await.0, 401);

    // Denied and expired at GitHub: refused, each naming why.
    for (to, check, words) in [
        (github::Device::Denied, "check=device-denied", "denied"),
        (github::Device::Expired, "check=device-expired", "expired"),
    ] {
        let started = start().await;
        gh.decide(started["userCode"].as_str().unwrap(), to);
        let (status, body) = poll(&started["handle"]).await;
        assert_eq!(status, 401, "{body}");
        assert!(body["message"].as_str().unwrap().contains(words), "{body}");
        let events = audit_events(&s.client(), &[("action", "login".into())]).await;
        assert!(
            serde_json::to_string(&events).unwrap().contains(check),
            "no {check} event"
        );
    }

    // Outside the allowed organization: refused, no user created.
    *gh.user.lock().unwrap() = (
        "mallory".into(),
        "mallory@acme.example".into(),
        vec!["other".into()],
    );
    let started = start().await;
    gh.decide(
        started["userCode"].as_str().unwrap(),
        github::Device::Approved,
    );
    let (status, body) = poll(&started["handle"]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("allowed organization"), "{body}");
    let users = s.client().get("/api/v1/hush/users", &[]).await.unwrap();
    assert!(!users.to_string().contains("mallory"));

    // The CLI: prints the code, polls, stores the session.
    *gh.user.lock().unwrap() = (
        "hubot".into(),
        "hubot@acme.example".into(),
        vec!["acme".into()],
    );
    let home = tempfile::tempdir().unwrap();
    let (child, code, rest) = spawn_waiting(
        home.path(),
        &["login", "--server", &s.url, "--sso", "github", "--device"],
        |line| {
            line.split("enter the code ")
                .nth(1)
                .map(|c| c.trim().to_owned())
        },
    )
    .await;
    gh.decide(&code, github::Device::Approved);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = rest.join().unwrap();
    assert!(out.status.success(), "{out:?}\n{stderr}");
    let who = hush(home.path(), &["whoami", "--server", &s.url], None);
    assert!(String::from_utf8_lossy(&who.stdout).contains("hubot@acme.example"));

    assert!(
        !*gh.secret_on_device_flow.lock().unwrap(),
        "the client secret was sent on the device flow"
    );
    let all = audit_events(&s.client(), &[("limit", "500".into())]).await;
    let text = serde_json::to_string(&all).unwrap() + &s.log();
    assert!(
        !text.contains("github-user-token-1"),
        "a GitHub token was recorded"
    );
    assert!(!text.contains("gh-device-"), "a device code was recorded");
}

/// Starts `hush ARGS` with its own config dir; returns the child, the first
/// stderr line `pick` maps to something (within 30 s), and a thread that
/// collects the whole of stderr (read to the end, so hush never writes
/// into a closed pipe).
async fn spawn_waiting(
    home: &std::path::Path,
    args: &[&str],
    pick: fn(&str) -> Option<String>,
) -> (std::process::Child, String, std::thread::JoinHandle<String>) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(BIN)
        .args(args)
        .env("XDG_CONFIG_HOME", home)
        .env_remove("HUSH_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let rest = std::thread::spawn(move || {
        let mut seen = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(found) = pick(&line) {
                let _ = tx.send(found);
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        seen
    });
    let found =
        tokio::task::spawn_blocking(move || rx.recv_timeout(std::time::Duration::from_secs(30)))
            .await
            .unwrap()
            .expect("hush printed what the test waits for");
    (child, found, rest)
}

async fn renew(s: &TestServer, token: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/token/renew", s.url))
        .json(&json!({ "accessToken": token }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}
