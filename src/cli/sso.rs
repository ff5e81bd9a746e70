//! `hush login --sso [PROVIDER]`: single sign-on through the server
//! (issue 23). hush listens on a loopback port for the browser's return,
//! asks the server for the provider's sign-in URL (naming that port, its
//! PKCE challenge and a state), opens the browser (or prints the URL),
//! checks the state of the request that comes back, and redeems the
//! one-time code with its PKCE verifier for a session.

use super::context::resolve_sending;
use super::Target;
use crate::api::auth::WhoAmI;
use crate::api::bounded::Secret;
use crate::api::sso::{
    DevicePollBody, DeviceStarted, DeviceToken, SsoProviders, SsoRedeem, SsoSession, SsoStart,
    SsoStarted,
};
use crate::cli::error::{CliError, EXIT_AUTH};
use crate::client::credentials::{self, Session};
use crate::client::{ApiClient, ClientError};
use base64::Engine;
use clap::Args;
use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

/// How long hush waits for the browser to come back.
const WAIT: Duration = Duration::from_secs(300);
const MAX_REQUEST_HEAD: usize = 16 * 1024;

#[derive(Args, Clone, Debug, Default)]
pub struct SsoArgs {
    /// Log in with single sign-on (the provider's name; optional when the server has one)
    #[arg(long, num_args = 0..=1, default_missing_value = "", value_name = "PROVIDER")]
    pub sso: Option<String>,
    /// With --sso: print the sign-in URL instead of opening a browser
    #[arg(long, requires = "sso")]
    pub no_browser: bool,
    /// With --sso: sign in on another device with a code (no browser here)
    #[arg(long, requires = "sso")]
    pub device: bool,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn random() -> Result<String, CliError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|_| CliError::new(EXIT_AUTH, "no randomness for the sign-in", None))?;
    Ok(b64(&bytes))
}

/// What came back to the loopback listener.
struct Returned {
    code: Zeroizing<String>,
}

/// Answers one browser request with a short page.
async fn reply(stream: &mut tokio::net::TcpStream, status: &str, text: &str) {
    let body = format!("<!doctype html><meta charset=utf-8><title>hush</title><p>{text}</p>\n");
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
}

/// Waits for `GET /callback?code=...&state=STATE`; requests with another
/// path or state (another page poking the port) are answered and ignored.
async fn wait_for_callback(
    listener: tokio::net::TcpListener,
    state: &str,
) -> Result<Returned, CliError> {
    loop {
        let (mut stream, _) = listener.accept().await.map_err(|e| {
            CliError::new(
                EXIT_AUTH,
                format!("the loopback listener failed: {e}"),
                None,
            )
        })?;
        let mut head = Vec::new();
        let mut buf = [0u8; 2048];
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_HEAD {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        if read.is_err() {
            continue;
        }
        let text = String::from_utf8_lossy(&head);
        let target = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("GET "))
            .and_then(|l| l.split(' ').next())
            .unwrap_or_default()
            .to_owned();
        let Ok(url) = reqwest::Url::parse(&format!("http://127.0.0.1{target}")) else {
            reply(&mut stream, "400 Bad Request", "Not a sign-in callback.").await;
            continue;
        };
        if url.path() != "/callback" {
            reply(&mut stream, "404 Not Found", "Not a sign-in callback.").await;
            continue;
        }
        let get = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        if get("state").as_deref() != Some(state) {
            reply(
                &mut stream,
                "400 Bad Request",
                "This sign-in does not belong to the waiting hush login.",
            )
            .await;
            continue;
        }
        let Some(code) = get("code") else {
            reply(
                &mut stream,
                "400 Bad Request",
                "The sign-in returned no code.",
            )
            .await;
            return Err(CliError::new(
                EXIT_AUTH,
                "the sign-in returned no code",
                None,
            ));
        };
        reply(
            &mut stream,
            "200 OK",
            "Signed in to hush. You can close this window.",
        )
        .await;
        return Ok(Returned {
            code: Zeroizing::new(code),
        });
    }
}

fn open_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

pub async fn login(target: Target, args: SsoArgs) -> anyhow::Result<i32> {
    let ctx = resolve_sending(
        &Target {
            token: None,
            ..target
        },
        Some("single sign-on"),
    )?
    .inner;
    let provider = match args.sso.as_deref() {
        Some(p) if !p.is_empty() => p.to_owned(),
        _ => {
            let list: SsoProviders = ctx.client.get_as("/api/v1/hush/sso/providers", &[]).await?;
            let names = list.providers;
            match names.as_slice() {
                [one] => one.clone(),
                [] => return Err(CliError::new(
                    EXIT_AUTH,
                    format!("{} has no single sign-on provider", ctx.server),
                    Some(
                        "log in with --email, or ask a server admin to configure [[sso_providers]]"
                            .into(),
                    ),
                )
                .into()),
                many => {
                    return Err(CliError::usage(format!(
                        "name the provider: hush login --sso {}",
                        many.join("|")
                    ))
                    .into())
                }
            }
        }
    };
    if args.device {
        let resp = device_login(&ctx.client, &provider).await?;
        return finish(&ctx, &provider, resp).await;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let verifier = Zeroizing::new(random()?);
    let challenge = b64(&Sha256::digest(verifier.as_bytes()));
    let state = random()?;
    let start = SsoStart {
        redirect_uri: format!("http://127.0.0.1:{port}/callback"),
        code_challenge: challenge,
        state: state.clone(),
    };
    let started: SsoStarted = ctx
        .client
        .send_as(
            Method::POST,
            &format!("/api/v1/hush/sso/{provider}/start"),
            &serde_json::to_value(&start)?,
        )
        .await?;
    let url = started.authorization_url.as_str();
    if args.no_browser || !open_browser(url) {
        eprintln!("Open this URL in a browser to sign in:");
    } else {
        eprintln!("Your browser should open; if it does not, open this URL:");
    }
    eprintln!("{url}");
    let returned = tokio::time::timeout(WAIT, wait_for_callback(listener, &state))
        .await
        .map_err(|_| {
            CliError::new(
                EXIT_AUTH,
                "the sign-in timed out (5 minutes)",
                Some("run hush login --sso again".into()),
            )
        })??;
    let redeem = SsoRedeem {
        code: Secret::new(returned.code.as_str()),
        code_verifier: Secret::new(verifier.as_str()),
    };
    let resp: SsoSession = ctx
        .client
        .send_as(
            Method::POST,
            "/api/v1/hush/sso/token",
            &serde_json::to_value(&redeem)?,
        )
        .await?;
    finish(&ctx, &provider, resp).await
}

/// The device grant: shows the code, polls until approved or expired.
async fn device_login(client: &ApiClient, provider: &str) -> anyhow::Result<SsoSession> {
    let started: DeviceStarted = client
        .send_as(
            Method::POST,
            &format!("/api/v1/hush/sso/{provider}/device"),
            &json!({}),
        )
        .await?;
    let handle = Zeroizing::new(started.handle);
    let uri = started
        .verification_uri_complete
        .as_deref()
        .unwrap_or(&started.verification_uri);
    eprintln!(
        "To sign in, open {uri} on any device and enter the code {}",
        started.user_code
    );
    // A negative number reads as absent, as before.
    let secs = |n: i64, absent: u64| u64::try_from(n).unwrap_or(absent);
    let mut interval = Duration::from_secs(secs(started.interval, 5).clamp(1, 60));
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(secs(started.expires_in, 600).min(900));
    let mut blips = 0;
    loop {
        tokio::time::sleep(interval).await;
        if tokio::time::Instant::now() > deadline {
            return Err(CliError::new(
                EXIT_AUTH,
                "the device sign-in expired",
                Some("run hush login --sso --device again".into()),
            )
            .into());
        }
        let poll = DevicePollBody {
            handle: Secret::new(handle.as_str()),
        };
        let answer: Result<DeviceToken, ClientError> = client
            .send_as(
                Method::POST,
                "/api/v1/hush/sso/device/token",
                &serde_json::to_value(&poll)?,
            )
            .await;
        let resp = match answer {
            // The person may be half way through signing in elsewhere: a
            // blip of the server or the provider is waited out, a few times.
            Err(e) if transient(&e) && blips < MAX_BLIPS => {
                blips += 1;
                eprintln!("hush: warning: {e}; still waiting for the sign-in");
                continue;
            }
            other => other?,
        };
        blips = 0;
        match resp {
            DeviceToken::Pending(p) => {
                if p.slow_down {
                    interval += Duration::from_secs(5);
                }
            }
            DeviceToken::Session(session) => return Ok(session),
        }
    }
}

/// Consecutive failed polls the device flow waits out before giving up.
const MAX_BLIPS: u32 = 5;

/// A failure worth polling again for: unreachable, rate-limited, or the
/// server (or the provider behind it) unavailable for a moment.
fn transient(e: &ClientError) -> bool {
    matches!(e, ClientError::Unreachable { .. })
        || matches!(e.status(), Some(429 | 502 | 503 | 504))
}

/// Stores the session a sign-in produced.
async fn finish(
    ctx: &super::context::Resolved,
    provider: &str,
    resp: SsoSession,
) -> anyhow::Result<i32> {
    let token = resp.access_token;
    // A user's name is their email.
    let me: WhoAmI =
        ApiClient::with_tls(&ctx.server, Some(Zeroizing::new(token.clone())), &ctx.tls)?
            .get_as("/api/v1/hush/auth/whoami", &[])
            .await?;
    let name = me.name;
    let session = Session {
        server: ctx.server.clone(),
        token,
        kind: "user".into(),
        name: name.clone(),
        expires_at: Some(resp.expires_at),
        default_project: None,
    };
    match credentials::save(&session) {
        Ok(path) => eprintln!("hush: session saved to {}", path.display()),
        Err(e) => eprintln!("hush: warning: could not save the session: {e}"),
    }
    println!(
        "Logged in to {} as {name} (single sign-on: {provider})",
        ctx.server
    );
    Ok(0)
}
