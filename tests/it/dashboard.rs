//! Issue 27: the web dashboard, over HTTP (no browser): its security headers,
//! sessions (sign in, sign out revokes, expiry), CSRF refusals, that no value
//! reaches any page before it is revealed (canaries), the viewer's refusal,
//! and the `ifVersion` conflict. `browser_walkthrough` drives the same pages
//! in a real headless Chromium (`tests/browser/dashboard.py`).

use crate::harness::*;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A browser-like client: keeps cookies, follows no redirects (tests look
/// at them), and reads the CSRF token of the last page.
pub struct Web {
    http: reqwest::Client,
    pub base: String,
    pub cookies: BTreeMap<String, String>,
    pub csrf: String,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// The value of the first `name="csrf"` field of a page.
fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_owned())
}

impl Web {
    pub fn new(s: &TestServer) -> Web {
        Web {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: s.url.clone(),
            cookies: BTreeMap::new(),
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn absorb(&mut self, r: reqwest::Response) -> Answer {
        for c in r.headers().get_all("set-cookie") {
            let text = c.to_str().unwrap();
            let (pair, attrs) = text.split_once(';').unwrap_or((text, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let status = r.status();
        let headers = r.headers().clone();
        let body = r.text().await.unwrap();
        if let Some(t) = csrf_of(&body) {
            self.csrf = t;
        }
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.absorb(r).await
    }

    /// POSTs `fields` as a form, exactly as given (no CSRF token added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(fields)
            .send()
            .await
            .unwrap();
        self.absorb(r).await
    }

    /// POSTs `fields` with the CSRF token of the last page.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let csrf = self.csrf.clone();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Answer {
        let page = self.get("/sign-in").await;
        assert_eq!(page.status, 200);
        let r = self
            .post("/sign-in", &[("email", email), ("password", password)])
            .await;
        if r.status == StatusCode::SEE_OTHER {
            // The CSRF token of the session's pages.
            self.get("/projects").await;
        }
        r
    }
}

const CANARY: &str = "canary-dash-5e0c2f7a91";

async fn put(s: &TestServer, env: &str, path: &str, key: &str, value: &str) {
    let mut body = scope(env, path);
    body["secretValue"] = json!(value);
    s.client()
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/hush/secrets/{key}"),
            &body,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn every_page_has_the_security_headers_and_no_inline_script() {
    let s = TestServer::start(&[]).await;
    let mut web = Web::new(&s);
    let page = web.get("/sign-in").await;
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert_eq!(page.headers["cache-control"], "no-store");
    let cookie = page.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    // Scripts only by src from this server; no inline handlers or styles.
    assert_eq!(page.body.matches("<script").count(), 1, "{}", page.body);
    assert!(page.body.contains("<script src=\"/assets/app.js\""));
    assert!(!page.body.contains(" onclick=") && !page.body.contains(" style="));
    let css = web.get("/assets/app.css").await;
    assert_eq!(css.status, 200);
    assert!(css.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert!(css.body.contains("prefers-color-scheme"));
    // The API keeps its own answers.
    let api = web.get("/api/v1/hush/projects").await;
    assert_eq!(api.status, 401);
    assert!(api.headers.get("content-security-policy").is_none());
    // Signed out, pages lead to the sign-in form.
    let projects = web.get("/projects").await;
    assert_eq!(projects.status, StatusCode::SEE_OTHER);
    assert!(projects.location().starts_with("/sign-in"));
}

#[tokio::test]
async fn sign_in_sign_out_revokes_and_expiry_sends_back_to_sign_in() {
    let s = TestServer::start(&["--session-ttl", "3s"]).await;
    let mut web = Web::new(&s);
    let wrong = web.sign_in("admin@example.com", "not the password").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("invalid email or password"));
    let ok = web.sign_in("admin@example.com", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let cookie = ok
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("hush_session="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let projects = web.get("/projects").await;
    assert_eq!(projects.status, 200);
    assert!(projects.body.contains("admin@example.com"));
    assert!(projects.body.contains("/p/default"));

    // Sign out revokes the session: the old cookie no longer works.
    let stolen = web.cookies.clone();
    let out = web.post("/sign-out", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/sign-in?why=bye");
    web.cookies = stolen;
    let again = web.get("/projects").await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(again.location(), "/sign-in?why=signed-out");

    // Expiry: back to the sign-in form, which says why.
    let mut web = Web::new(&s);
    web.sign_in("admin@example.com", PASSWORD).await;
    assert_eq!(web.get("/projects").await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let expired = web.get("/projects").await;
    assert_eq!(expired.location(), "/sign-in?why=expired");
    let form = web.get(expired.location()).await;
    assert!(form.body.contains("Your session expired"));
}

#[tokio::test]
async fn posts_without_the_csrf_token_are_refused() {
    let s = TestServer::start(&[]).await;
    let mut web = Web::new(&s);
    // Sign-in without the double-submit token.
    web.get("/sign-in").await;
    let r = web
        .post_raw(
            "/sign-in",
            &[("email", "admin@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    web.sign_in("admin@example.com", PASSWORD).await;
    let fields = [("path", "/"), ("key", "NO_CSRF"), ("value", CANARY)];
    let none = web.post_raw("/p/default/env/dev/secrets", &fields).await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);
    assert!(none.body.contains("security token"));
    let mut forged = vec![("csrf", "0123456789abcdef0123456789abcdef")];
    forged.extend_from_slice(&fields);
    let wrong = web.post_raw("/p/default/env/dev/secrets", &forged).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    // A JSON body (the API's kind) is no way around it either.
    let json = reqwest::Client::new()
        .post(format!("{}/sign-out", s.url))
        .header("cookie", web.cookie_header())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::FORBIDDEN);
    assert_eq!(status(get(&s.client(), "NO_CSRF", None).await), 404);
    // With the token it works.
    let ok = web.post("/p/default/env/dev/secrets", &fields).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(ok.location(), "/p/default/env/dev?path=%2F&done=created");
}

#[tokio::test]
async fn no_value_is_in_any_page_until_revealed_and_the_reveal_is_audited() {
    let s = TestServer::start(&[]).await;
    put(&s, "dev", "/", "DB_PASSWORD", CANARY).await;
    put(&s, "prod", "/", "DB_PASSWORD", "canary-prod-77aa1c").await;
    put(&s, "dev", "/", "SAME_KEY", "same-value").await;
    put(&s, "prod", "/", "SAME_KEY", "same-value").await;
    put(&s, "staging", "/", "SAME_KEY", "same-value").await;
    let mut web = Web::new(&s);
    web.sign_in("admin@example.com", PASSWORD).await;
    let pages = [
        "/projects",
        "/p/default?path=%2F",
        "/p/default/env/dev?path=%2F",
        "/p/default/env/dev/secrets/DB_PASSWORD?path=%2F",
        "/p/default/audit",
    ];
    for page in pages {
        let a = web.get(page).await;
        assert_eq!(a.status, 200, "{page}: {}", a.body);
        assert!(!a.body.contains(CANARY), "{page} shows the value");
        assert!(!a.body.contains("canary-prod"), "{page} shows the value");
    }
    // The overview: a difference between dev and prod, none for SAME_KEY.
    let overview = web.get("/p/default?path=%2F").await.body;
    let row = |key: &str| {
        let at = overview.find(&format!("<tr data-key=\"{key}\"")).unwrap();
        overview[at..].split("</tr>").next().unwrap().to_owned()
    };
    assert!(row("DB_PASSWORD").contains("differs"));
    assert!(row("SAME_KEY").contains(">same<"));
    assert!(row("DB_PASSWORD").contains("missing") || row("DB_PASSWORD").contains("value B"));

    web.get("/p/default/env/dev?path=%2F").await;
    let revealed = web
        .post(
            "/p/default/env/dev/secrets/DB_PASSWORD/reveal",
            &[("path", "/")],
        )
        .await;
    assert_eq!(revealed.status, 200);
    assert!(revealed.body.contains(CANARY));
    assert!(!revealed.body.contains("canary-prod"));
    assert_eq!(revealed.headers["cache-control"], "no-store");
    // Audited, with the key and not the value.
    let events = audit_events(&s.client(), &[("action", "get-secret".into())]).await;
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        text.contains("DB_PASSWORD") && text.contains("admin@example.com"),
        "{text}"
    );
    assert!(!text.contains(CANARY));
    let audit = web.get("/p/default/audit?action=get-secret").await;
    assert!(audit.body.contains("DB_PASSWORD"));
    assert!(!audit.body.contains(CANARY));
    // Nor in the server's log.
    assert!(!s.log().contains(CANARY));
}

#[tokio::test]
async fn a_viewer_sees_no_edit_controls_and_a_forged_post_is_refused() {
    let s = TestServer::start(&[]).await;
    put(&s, "dev", "/", "API_KEY", "viewer-canary-1").await;
    user_session(&s, "viewer@example.com", Some("viewer"), &[]).await;
    let mut web = Web::new(&s);
    web.sign_in("viewer@example.com", PASSWORD).await;
    let folder = web.get("/p/default/env/dev?path=%2F").await;
    assert_eq!(folder.status, 200);
    assert!(folder.body.contains("API_KEY"));
    assert!(!folder.body.contains("Add a secret"));
    let secret = web.get("/p/default/env/dev/secrets/API_KEY?path=%2F").await;
    assert!(!secret.body.contains("/edit\""));
    assert!(!secret.body.contains("/delete\""));
    assert!(!secret.body.contains("Roll back"));
    // Forged with the viewer's own valid token: refused by the service.
    for (path, fields) in [
        (
            "/p/default/env/dev/secrets",
            vec![("path", "/"), ("key", "FORGED"), ("value", "x")],
        ),
        (
            "/p/default/env/dev/secrets/API_KEY/edit",
            vec![("path", "/"), ("value", "forged"), ("if_version", "1")],
        ),
        (
            "/p/default/env/dev/secrets/API_KEY/delete",
            vec![("path", "/")],
        ),
    ] {
        let r = web.post(path, &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
    }
    let current = get(&s.client(), "API_KEY", None).await.unwrap();
    assert_eq!(current["secretValue"], "viewer-canary-1");
    // Reading is the viewer's right: the reveal works.
    let revealed = web
        .post(
            "/p/default/env/dev/secrets/API_KEY/reveal",
            &[("path", "/")],
        )
        .await;
    assert!(revealed.body.contains("viewer-canary-1"));
    // The audit log is for project admins.
    assert_eq!(web.get("/p/default/audit").await.status, 403);
}

#[tokio::test]
async fn an_edit_from_a_stale_page_shows_the_conflict() {
    let s = TestServer::start(&[]).await;
    put(&s, "dev", "/", "TOKEN", "v1-value").await;
    let mut web = Web::new(&s);
    web.sign_in("admin@example.com", PASSWORD).await;
    web.get("/p/default/env/dev/secrets/TOKEN?path=%2F").await;
    // Someone else saves version 2 meanwhile.
    put(&s, "dev", "/", "TOKEN", "v2-value").await;
    let r = web
        .post(
            "/p/default/env/dev/secrets/TOKEN/edit",
            &[
                ("path", "/"),
                ("value", "mine"),
                ("comment", ""),
                ("if_version", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.body.contains("Someone else saved this secret"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("mine") && !r.body.contains("v2-value"));
    let current = get(&s.client(), "TOKEN", None).await.unwrap();
    assert_eq!(current["secretValue"], "v2-value");
}

/// The variable that makes the browser tests mandatory (CI).
const REQUIRE_BROWSER: &str = "HUSH_REQUIRE_BROWSER_TESTS";

/// The Chromium and the Python driver the browser test needs, or why not.
fn browser() -> Result<(String, String), String> {
    let chromium = std::env::var("HUSH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() {
        return Err(format!(
            "no Chromium at {chromium} (apt-get install chromium)"
        ));
    }
    let python = std::env::var("HUSH_BROWSER_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = std::process::Command::new(&python)
        .args(["-c", "import playwright.sync_api"])
        .output();
    match probe {
        Ok(o) if o.status.success() => Ok((chromium, python)),
        _ => Err(format!(
            "{python} cannot import playwright (pip install playwright)"
        )),
    }
}

/// Runs `tests/browser/{script}` with `env` plus HUSH_CHROMIUM and
/// HUSH_SCREENSHOTS, and asserts it passed and saved at least `shots`
/// screenshots. Skips (false) when there is no browser, unless
/// `HUSH_REQUIRE_BROWSER_TESTS=1`.
pub(crate) async fn run_browser_script(script: &str, env: &[(&str, &str)], shots: usize) -> bool {
    let (chromium, python) = match browser() {
        Ok(found) => found,
        Err(why) if std::env::var(REQUIRE_BROWSER).as_deref() == Ok("1") => {
            panic!("{REQUIRE_BROWSER}=1 but the browser tests cannot run: {why}")
        }
        Err(why) => {
            eprintln!(
                "skipping the browser tests: {why}; set {REQUIRE_BROWSER}=1 to make this a failure"
            );
            return false;
        }
    };
    let dir: PathBuf = std::env::var_os("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join("dashboard-screenshots")
        .join(script.trim_end_matches(".py"));
    std::fs::create_dir_all(&dir).unwrap();
    let out = tokio::process::Command::new(&python)
        .arg(format!(
            "{}/tests/browser/{script}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .envs(env.iter().copied())
        .env("HUSH_CHROMIUM", &chromium)
        .env("HUSH_SCREENSHOTS", &dir)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser tests failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    eprintln!("{stdout}screenshots in {}", dir.display());
    // Every scenario saved its screenshot.
    let saved = std::fs::read_dir(&dir).unwrap().count();
    assert!(saved >= shots, "{saved} screenshots in {}", dir.display());
    true
}

#[tokio::test]
async fn browser_walkthrough() {
    let s = TestServer::start(&[]).await;
    put(&s, "dev", "/", "DATABASE_URL", "postgres://dev-host/app").await;
    put(&s, "prod", "/", "DATABASE_URL", "postgres://prod-host/app").await;
    user_session(&s, "viewer@example.com", Some("viewer"), &[]).await;
    let env = [
        ("HUSH_URL", s.url.as_str()),
        ("HUSH_ADMIN", "admin@example.com"),
        ("HUSH_VIEWER", "viewer@example.com"),
        ("HUSH_PASSWORD", PASSWORD),
    ];
    run_browser_script("dashboard.py", &env, 10).await;
}

#[tokio::test]
async fn markup_is_escaped_line_breaks_kept_and_bad_addresses_are_a_page() {
    let s = TestServer::start(&[]).await;
    let mut web = Web::new(&s);
    web.sign_in("admin@example.com", PASSWORD).await;
    web.get("/p/default/env/dev?path=%2F").await;
    let markup = "\"><script>alert(1)</script>";
    let r = web
        .post(
            "/p/default/env/dev/secrets",
            &[
                ("path", "/"),
                ("key", "PEM"),
                ("value", "line one\r\nline two <b>"),
                ("comment", markup),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    for page in [
        "/p/default/env/dev?path=%2F",
        "/p/default/env/dev/secrets/PEM?path=%2F",
    ] {
        let body = web.get(page).await.body;
        assert!(!body.contains(markup), "{page}");
        assert!(
            body.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
    }
    // A textarea's CRLF is stored as LF; the value is escaped when shown.
    let stored = get(&s.client(), "PEM", None).await.unwrap();
    assert_eq!(stored["secretValue"], "line one\nline two <b>");
    let shown = web
        .post("/p/default/env/dev/secrets/PEM/reveal", &[("path", "/")])
        .await;
    assert!(shown.body.contains("line one\nline two &lt;b&gt;"));
    // Malformed addresses: a 400 page with one line, not a JSON envelope.
    for bad in [
        "/p/default/env/dev?path=..%2Fx",
        "/p/default/env/dev/secrets/1BAD?path=%2F",
        "/p/default/audit?before=nope",
    ] {
        let r = web.get(bad).await;
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(r.body.contains("role=\"alert\""), "{bad}: {}", r.body);
    }
    // Too large a form: 413 with a way out.
    let big = "x".repeat(70 * 1024);
    let r = web
        .post(
            "/p/default/env/dev/secrets",
            &[("path", "/"), ("key", "BIG"), ("value", &big)],
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.body.contains("hush set"));
}

#[tokio::test]
async fn under_tls_the_cookies_are_secure_and_host_only() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::spawn(tmp.path(), &["--tls-self-signed"]).unwrap();
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let r = http.get(format!("{}/sign-in", s.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-hush_signin="), "{cookie}");
    for attr in ["; Secure", "; HttpOnly", "; SameSite=Strict", "; Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
}

#[tokio::test]
async fn password_guessing_on_the_sign_in_form_is_rate_limited() {
    let s = TestServer::start(&["--auth-rate-limit", "3/m"]).await;
    let mut web = Web::new(&s);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        web.get("/sign-in").await;
        let r = web
            .post(
                "/sign-in",
                &[("email", "admin@example.com"), ("password", "guess")],
            )
            .await;
        statuses.push(r.status.as_u16());
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers.contains_key("retry-after"));
            assert!(r.body.contains("Too many sign-in attempts"), "{}", r.body);
            assert!(r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"));
        }
    }
    // (The test server's bootstrap took one of the three.)
    assert_eq!(&statuses[..2], &[401, 401], "{statuses:?}");
    assert_eq!(statuses[4], 429, "{statuses:?}");
    // The form itself (GET) is not limited.
    assert_eq!(web.get("/sign-in").await.status, 200);
}

/// The `key=value` names of a secret's tags, as the API reads them.
async fn tag_names(s: &TestServer, key: &str) -> Vec<String> {
    let secret = get(&s.client(), key, None).await.unwrap();
    secret["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn tags_are_set_on_create_and_changed_on_edit() {
    let s = TestServer::start(&[]).await;
    let mut web = Web::new(&s);
    web.sign_in("admin@example.com", PASSWORD).await;
    web.get("/p/default/env/dev?path=%2F").await;
    let r = web
        .post(
            "/p/default/env/dev/secrets",
            &[
                ("path", "/"),
                ("key", "TAGGED"),
                ("value", "tagged-value"),
                ("tags", "team=payments, pci"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(tag_names(&s, "TAGGED").await, ["team=payments", "pci="]);
    let folder = web.get("/p/default/env/dev?path=%2F").await.body;
    assert!(folder.contains("<li>team=payments</li>"), "{folder}");
    // The edit form shows them as typed; a change replaces them.
    let page = web.get("/p/default/env/dev/secrets/TAGGED?path=%2F").await;
    assert!(page.body.contains("value=\"team=payments, pci=\""));
    let r = web
        .post(
            "/p/default/env/dev/secrets/TAGGED/edit",
            &[
                ("path", "/"),
                ("comment", ""),
                ("tags", "team=ops"),
                ("if_version", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(tag_names(&s, "TAGGED").await, ["team=ops"]);
    // The overview filters by a whole tag or a tag's key.
    put(&s, "dev", "/", "UNTAGGED", "plain").await;
    for (filter, shown) in [
        ("team%3Dops", true),
        ("team", true),
        ("team%3Dpayments", false),
    ] {
        let page = web
            .get(&format!("/p/default?path=%2F&tag={filter}"))
            .await
            .body;
        assert_eq!(page.contains("data-key=\"TAGGED\""), shown, "{filter}");
        assert!(!page.contains("data-key=\"UNTAGGED\""), "{filter}");
    }
    // The value stayed (empty field: keep it).
    let secret = get(&s.client(), "TAGGED", None).await.unwrap();
    assert_eq!(secret["secretValue"], "tagged-value");
    // A bad tag: one line naming it, nothing written.
    web.get("/p/default/env/dev/secrets/TAGGED?path=%2F").await;
    let r = web
        .post(
            "/p/default/env/dev/secrets/TAGGED/edit",
            &[("path", "/"), ("tags", "bad key=1"), ("if_version", "2")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("invalid tag"), "{}", r.body);
    assert_eq!(
        get(&s.client(), "TAGGED", None).await.unwrap()["version"],
        2
    );
}

#[tokio::test]
async fn a_pasted_env_block_is_saved_whole_or_not_at_all() {
    let s = TestServer::start(&[]).await;
    put(&s, "dev", "/", "EXISTING", "existing-value").await;
    let mut web = Web::new(&s);
    web.sign_in("admin@example.com", PASSWORD).await;
    let folder = web.get("/p/default/env/dev?path=%2F").await;
    assert!(folder.body.contains("Paste a .env block"));
    let paste = |text: &'static str, replace: bool| {
        let mut fields = vec![("path", "/"), ("dotenv", text)];
        if replace {
            fields.push(("replace", "yes"));
        }
        fields
    };
    // A bad line: refused, named, no value echoed, nothing saved.
    let bad = format!("FIRST={CANARY}\nthis is not dotenv {CANARY}\nTHIRD=3\n");
    let bad: &'static str = Box::leak(bad.into_boxed_str());
    let r = web
        .post("/p/default/env/dev/bulk", &paste(bad, false))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("line 2"), "{}", r.body);
    assert!(!r.body.contains(CANARY));
    assert_eq!(status(get(&s.client(), "FIRST", None).await), 404);
    // An existing key without "replace": nothing saved.
    let r = web
        .post(
            "/p/default/env/dev/bulk",
            &paste("NEW_ONE=1\nEXISTING=2\n", false),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("already exist"));
    assert_eq!(status(get(&s.client(), "NEW_ONE", None).await), 404);
    // A good block, CRLF as a browser sends it, a quoted multi-line value.
    let r = web
        .post(
            "/p/default/env/dev/bulk",
            &paste(
                "# pasted\r\nexport API_URL=https://api.example\r\nPEM=\"line1\nline2\"\r\nEXISTING='new ${kept}'\r\n",
                true,
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/p/default/env/dev?path=%2F&done=pasted");
    let value = |k: &'static str| {
        let c = s.client();
        async move { get(&c, k, None).await.unwrap()["secretValue"].clone() }
    };
    assert_eq!(value("API_URL").await, "https://api.example");
    assert_eq!(value("PEM").await, "line1\nline2");
    assert_eq!(value("EXISTING").await, "new ${kept}");
    let done = web.get(r.location()).await;
    assert!(done.body.contains("Saved every secret of the pasted block"));
    // Bounded: more than 200 keys is refused whole.
    let many: String = (0..201).map(|i| format!("MANY_{i}=v\n")).collect();
    let many: &'static str = Box::leak(many.into_boxed_str());
    let r = web
        .post("/p/default/env/dev/bulk", &paste(many, false))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("at most 200"), "{}", r.body);
    assert_eq!(status(get(&s.client(), "MANY_0", None).await), 404);
    assert!(!s.log().contains(CANARY));
}

#[tokio::test]
async fn references_and_imports_are_shown_by_name_only() {
    let s = TestServer::start(&[]).await;
    put(&s, "prod", "/", "DB_HOST", "db-canary-prod-4411").await;
    put(&s, "dev", "/", "DB_URL", "postgres://${prod.DB_HOST}/app").await;
    s.client()
        .send(
            reqwest::Method::POST,
            "/api/v1/secret-imports",
            &json!({ "workspaceId": "default", "environment": "dev", "path": "/", "import": { "environment": "staging", "path": "/shared" } }),
        )
        .await
        .unwrap();
    let mut web = Web::new(&s);
    web.sign_in("admin@example.com", PASSWORD).await;
    let folder = web.get("/p/default/env/dev?path=%2F").await;
    assert_eq!(folder.status, 200, "{}", folder.body);
    assert!(folder.body.contains("References: "), "{}", folder.body);
    assert!(folder
        .body
        .contains("href=\"/p/default/env/prod/secrets/DB_HOST?path=%2F\""));
    assert!(folder.body.contains("<h2>Imports</h2>"));
    assert!(folder.body.contains("staging:/shared"));
    assert!(!folder.body.contains("db-canary") && !folder.body.contains("postgres://"));
    let events = audit_events(&s.client(), &[("action", "list-secret-imports".into())]).await;
    assert!(!events.is_empty());
    // The secret's own page names the target once the value is revealed.
    web.get("/p/default/env/dev/secrets/DB_URL?path=%2F").await;
    let revealed = web
        .post("/p/default/env/dev/secrets/DB_URL/reveal", &[("path", "/")])
        .await;
    assert!(revealed.body.contains("References: "), "{}", revealed.body);
    assert!(revealed.body.contains("prod:/ DB_HOST"));
    assert!(!revealed.body.contains("db-canary"));
}

#[tokio::test]
async fn the_diff_page_has_no_values_until_both_are_revealed() {
    let s = TestServer::start(&[]).await;
    put(&s, "dev", "/", "ROTATED", "diff-canary-old\nshared line").await;
    put(&s, "dev", "/", "ROTATED", "diff-canary-new\nshared line").await;
    let mut web = Web::new(&s);
    web.sign_in("admin@example.com", PASSWORD).await;
    let secret = web.get("/p/default/env/dev/secrets/ROTATED?path=%2F").await;
    assert!(secret.body.contains("Compare version"), "{}", secret.body);
    let diff = web
        .get("/p/default/env/dev/secrets/ROTATED/diff?path=%2F&from=1&to=2")
        .await;
    assert_eq!(diff.status, 200, "{}", diff.body);
    assert!(!diff.body.contains("diff-canary"));
    assert!(diff
        .body
        .contains("data-row=\"value\"><th scope=\"row\">Value</th><td colspan=\"2\">changed"));
    let before = audit_events(&s.client(), &[("action", "get-secret".into())]).await;
    let revealed = web
        .post(
            "/p/default/env/dev/secrets/ROTATED/diff",
            &[("path", "/"), ("from", "1"), ("to", "2")],
        )
        .await;
    assert_eq!(revealed.status, 200);
    assert!(
        revealed.body.contains("- diff-canary-old"),
        "{}",
        revealed.body
    );
    assert!(revealed.body.contains("+ diff-canary-new"));
    assert!(revealed.body.contains("  shared line"));
    // Each value read is audited as a reveal, with its version.
    let after = audit_events(&s.client(), &[("action", "get-secret".into())]).await;
    assert_eq!(after.len(), before.len() + 2);
    let text = serde_json::to_string(&after).unwrap();
    assert!(!text.contains("diff-canary"));
    // The same version on both sides: "the same".
    let same = web
        .get("/p/default/env/dev/secrets/ROTATED/diff?path=%2F&from=2&to=2")
        .await;
    assert!(same.body.contains("the same in both"));
    // A version that is not there: a 404 page saying so.
    let none = web
        .get("/p/default/env/dev/secrets/ROTATED/diff?path=%2F&from=1&to=9")
        .await;
    assert_eq!(none.status, 404);
    assert!(none.body.contains("no retained version 9"));
    assert!(!s.log().contains("diff-canary"));
}

#[tokio::test]
async fn members_and_tokens_through_the_pages() {
    let s = TestServer::start(&[]).await;
    user_session(&s, "dev2@example.com", Some("developer"), &["prod:read"]).await;
    let mut web = Web::new(&s);
    web.sign_in("admin@example.com", PASSWORD).await;
    let page = web.get("/p/default/access").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("data-member=\"dev2@example.com\""));
    assert!(page.body.contains("<code>prod:read</code>"));
    // Change the role: the override is kept.
    let r = web
        .post(
            "/p/default/members",
            &[
                ("who", "dev2@example.com"),
                ("role", "viewer"),
                ("overrides", "prod:read"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let members = s
        .client()
        .get("/api/v1/hush/members", &[("projectId", "default".into())])
        .await
        .unwrap();
    let text = members.to_string();
    assert!(
        text.contains("viewer") && text.contains("dev2@example.com"),
        "{text}"
    );
    // A bad role: refused with the service's words.
    let r = web
        .post(
            "/p/default/members",
            &[("who", "dev2@example.com"), ("role", "boss")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("unknown role"));
    // A token: shown once, in the answer to the POST only.
    let created = web
        .post(
            "/p/default/tokens",
            &[
                ("name", "ci"),
                ("env", "dev"),
                ("path", "/**"),
                ("days", "7"),
            ],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let at = created.body.find("id=\"token-once\">").unwrap() + "id=\"token-once\">".len();
    let token = created.body[at..].split('<').next().unwrap().to_owned();
    assert!(token.len() > 20, "{token}");
    let listed = web.get("/p/default/access").await;
    assert!(listed.body.contains("data-token=\"ci\""));
    assert!(!listed.body.contains(&token), "the token is shown again");
    // It works, then is revoked from the page.
    let api =
        hush::client::ApiClient::new(&s.url, Some(zeroize::Zeroizing::new(token.clone()))).unwrap();
    assert!(api
        .get("/api/v3/secrets/raw", &scope_q("dev", "/"))
        .await
        .is_ok());
    let at = listed.body.find("/tokens/").unwrap() + "/tokens/".len();
    let id = listed.body[at..].split('/').next().unwrap().to_owned();
    let r = web
        .post(&format!("/p/default/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        status(api.get("/api/v3/secrets/raw", &scope_q("dev", "/")).await),
        401
    );
    // Remove a member; not oneself.
    let r = web
        .post("/p/default/members/remove", &[("who", "dev2@example.com")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = web
        .post("/p/default/members/remove", &[("who", "admin@example.com")])
        .await;
    assert_eq!(r.status, 400);
    assert!(!s.log().contains(&token));
}

#[tokio::test]
async fn settings_show_the_limits_and_add_an_environment() {
    let s = TestServer::start(&["--max-versions", "7"]).await;
    user_session(&s, "viewer@example.com", Some("viewer"), &[]).await;
    let mut web = Web::new(&s);
    web.sign_in("admin@example.com", PASSWORD).await;
    let page = web.get("/p/default/settings").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("data-env=\"prod\""));
    assert!(page.body.contains("<dd>7</dd>"), "{}", page.body);
    assert!(page.body.contains("<dd>30 days</dd>"));
    let r = web
        .post(
            "/p/default/environments",
            &[("slug", "qa"), ("name", "Quality")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = web.get(r.location()).await;
    assert!(page.body.contains("data-env=\"qa\"") && page.body.contains("Quality"));
    let r = web
        .post("/p/default/environments", &[("slug", "Not A Slug")])
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // A viewer sees the page without the form; a forged post is refused.
    let mut viewer = Web::new(&s);
    viewer.sign_in("viewer@example.com", PASSWORD).await;
    let page = viewer.get("/p/default/settings").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("Add an environment"));
    let r = viewer
        .post("/p/default/environments", &[("slug", "forged")])
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn settings_change_the_limits_and_rename_an_environment() {
    let s = TestServer::start(&["--max-versions", "7"]).await;
    user_session(&s, "viewer@example.com", Some("viewer"), &[]).await;
    let api = s.client();
    let mut web = Web::new(&s);
    web.sign_in("admin@example.com", PASSWORD).await;
    let page = web.get("/p/default/settings").await;
    assert_eq!(page.status, 200);
    // Every control of the new forms has its label.
    for id in ["max-versions", "recovery-days", "rename-prod", "rename-dev"] {
        assert!(
            page.body.contains(&format!("for=\"{id}\""))
                && page.body.contains(&format!("id=\"{id}\"")),
            "{id}"
        );
    }
    assert!(!page.body.contains("cannot change") && !page.body.contains("not offered"));

    let r = web
        .post(
            "/p/default/settings",
            &[("max_versions", "3"), ("recovery_days", "5")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = web.get(r.location()).await;
    assert!(page.body.contains("Limits saved."), "{}", page.body);
    assert!(page.body.contains("<dd>3</dd>") && page.body.contains("<dd>5 days</dd>"));
    assert!(page.body.contains("set for this project"));
    let shown = api
        .get("/api/v1/hush/projects/default/settings", &[])
        .await
        .unwrap();
    assert_eq!(
        (
            &shown["settings"]["maxVersions"],
            &shown["settings"]["recoveryWindowDays"]
        ),
        (&json!(3), &json!(5))
    );
    // An empty window is the server's again.
    let r = web
        .post(
            "/p/default/settings",
            &[("max_versions", "3"), ("recovery_days", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = web.get(r.location()).await;
    assert!(page.body.contains("<dd>30 days</dd>"));
    assert!(page.body.contains("the server's default"));
    for fields in [
        [("max_versions", "0"), ("recovery_days", "")],
        [("max_versions", "lots"), ("recovery_days", "")],
        [("max_versions", "3"), ("recovery_days", "400")],
    ] {
        let r = web.post("/p/default/settings", &fields).await;
        assert_eq!(r.status, 400, "{fields:?}: {}", r.body);
    }

    let r = web
        .post(
            "/p/default/environments/prod/rename",
            &[("name", "Production EU")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = web.get(r.location()).await;
    assert!(page.body.contains("Environment renamed."));
    assert!(page
        .body
        .contains("<tr data-env=\"prod\"><th scope=\"row\">Production EU</th>"));
    let r = web
        .post("/p/default/environments/prod/rename", &[("name", " ")])
        .await;
    assert_eq!(r.status, 400);
    let r = web
        .post("/p/default/environments/nope/rename", &[("name", "Nope")])
        .await;
    assert_eq!(r.status, 404);

    // A viewer sees the limits and names, no forms; forged posts are refused.
    let mut viewer = Web::new(&s);
    viewer.sign_in("viewer@example.com", PASSWORD).await;
    let page = viewer.get("/p/default/settings").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<dd>3</dd>") && page.body.contains("Production EU"));
    assert!(!page.body.contains("Save limits") && !page.body.contains("rename-prod"));
    let r = viewer
        .post(
            "/p/default/settings",
            &[("max_versions", "1"), ("recovery_days", "1")],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = viewer
        .post("/p/default/environments/prod/rename", &[("name", "Mine")])
        .await;
    assert_eq!(r.status, 403);
    // Without the CSRF token the admin's own post is refused too.
    let r = web
        .post_raw("/p/default/settings", &[("max_versions", "1")])
        .await;
    assert_eq!(r.status, 403);

    // The service's audit events, written for the pages' changes.
    let saved = audit_events(&api, &[("action", "update-project-settings".into())]).await;
    assert_eq!(saved.len(), 2);
    let renamed = audit_events(&api, &[("action", "rename-environment".into())]).await;
    assert_eq!(renamed.len(), 1);
    assert_eq!(renamed[0]["actorName"], "admin@example.com");
    assert_eq!(
        api.get("/api/v1/hush/projects/default/settings", &[])
            .await
            .unwrap()["settings"]["maxVersions"],
        3
    );
}

#[tokio::test]
async fn the_audit_page_filters_by_time_and_its_tail_follows() {
    let s = TestServer::start(&[]).await;
    put(&s, "dev", "/", "FOLLOWED", "tail-canary-1").await;
    let mut web = Web::new(&s);
    web.sign_in("admin@example.com", PASSWORD).await;
    let page = web.get("/p/default/audit?action=create-secret").await;
    assert!(page.body.contains("FOLLOWED"));
    let at = page.body.find("data-after=\"").unwrap() + "data-after=\"".len();
    let after: i64 = page.body[at..].split('"').next().unwrap().parse().unwrap();
    assert!(after > 0);
    // A range in the past finds nothing; one from then on finds the event.
    let past = web
        .get("/p/default/audit?action=create-secret&since=2001-01-01T00:00&until=2001-01-02T00:00")
        .await;
    assert_eq!(past.status, 200);
    assert!(!past.body.contains("FOLLOWED"));
    let recent = web
        .get("/p/default/audit?action=create-secret&since=2001-01-01T00:00")
        .await;
    assert!(recent.body.contains("FOLLOWED"));
    let bad = web.get("/p/default/audit?since=yesterday-ish").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("From time"));
    // The tail: nothing new, then the next write.
    let tail = |after: i64| format!("/p/default/audit/tail?action=update-secret&after={after}");
    let none = web.get(&tail(after)).await;
    assert_eq!(none.status, 200);
    assert!(!none.body.contains("<tr"));
    put(&s, "dev", "/", "FOLLOWED", "tail-canary-2").await;
    let news = web.get(&tail(after)).await;
    assert!(news.body.contains("FOLLOWED"), "{}", news.body);
    assert!(news.body.contains("update-secret"));
    assert!(!news.body.contains("tail-canary"));
    let next: i64 = news.headers["x-hush-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(next > after);
    assert!(!web.get(&tail(next)).await.body.contains("<tr"));
    assert_eq!(web.get("/p/default/audit/tail").await.status, 400);
}

#[tokio::test]
async fn a_trusted_proxys_https_makes_the_cookies_secure_and_no_one_elses() {
    let forwarded = |s: &TestServer| {
        let url = format!("{}/sign-in", s.url);
        async move {
            reqwest::Client::new()
                .get(url)
                .header("x-forwarded-proto", "https")
                .send()
                .await
                .unwrap()
                .headers()["set-cookie"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    let untrusted = TestServer::start(&[]).await;
    let cookie = forwarded(&untrusted).await;
    assert!(
        cookie.starts_with("hush_signin=") && !cookie.contains("Secure"),
        "{cookie}"
    );
    let trusted = TestServer::start(&["--trusted-proxies", "127.0.0.1,::1"]).await;
    let cookie = forwarded(&trusted).await;
    assert!(cookie.starts_with("__Host-hush_signin="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    // Without the header, the same server's plain-http cookies stay plain.
    let plain = reqwest::get(format!("{}/sign-in", trusted.url))
        .await
        .unwrap();
    let cookie = plain.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("hush_signin="), "{cookie}");
}

#[tokio::test]
async fn machine_identities_are_listed_with_their_auth_methods() {
    let s = TestServer::start(&[]).await;
    user_session(&s, "dev@example.com", Some("developer"), &[]).await;
    let mut web = Web::new(&s);
    web.sign_in("admin@example.com", PASSWORD).await;
    let empty = web.get("/identities").await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(empty.body.contains("No machine identities yet"));
    let created = web.post("/identities", &[("name", "ci-runner")]).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let at = created.body.find("id=\"secret-once\">").unwrap() + "id=\"secret-once\">".len();
    let secret = created.body[at..].split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("hush_cs_"), "{secret}");
    let listed = web.get("/identities").await;
    let row_at = listed.body.find("data-identity=\"ci-runner\"").unwrap();
    let row = listed.body[row_at..].split("</tr>").next().unwrap();
    assert!(
        row.contains("universal auth: client secrets hush_cs_"),
        "{row}"
    );
    assert!(!listed.body.contains(&secret), "the secret is shown again");
    // Bad names: the service's one line.
    let bad = web.post("/identities", &[("name", "no spaces")]).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("invalid identity name"));
    // Delete it from the page.
    let at = listed.body.find("/identities/").unwrap() + "/identities/".len();
    let id = listed.body[at..].split('/').next().unwrap().to_owned();
    let r = web.post(&format!("/identities/{id}/delete"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(!web.get("/identities").await.body.contains("ci-runner"));
    // Not a server admin: refused, and no link offered.
    let mut dev = Web::new(&s);
    dev.sign_in("dev@example.com", PASSWORD).await;
    assert!(!dev.get("/projects").await.body.contains("/identities"));
    assert_eq!(dev.get("/identities").await.status, 403);
    assert!(!s.log().contains(&secret));
}
