//! bootstrap, login, logout, whoami.

use super::context::{resolve, resolve_optional_token, resolve_sending};
use super::output::print_json;
use super::Target;
use crate::api::auth::{BootstrapResponse, LoginResponse, TokenResponse, WhoAmI};
use crate::cli::error::{CliError, EXIT_AUTH};
use crate::client::credentials::{self, Session};
use crate::client::ApiClient;
use clap::Args;
use reqwest::Method;
use serde_json::json;
use std::io::{IsTerminal, Read};
use std::path::Path;
use zeroize::Zeroizing;

/// Reads a password from stdin (one line, trailing newline dropped) or prompts
/// without echo on a terminal.
fn read_password(from_stdin: bool, prompt: &str) -> Result<Zeroizing<String>, CliError> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut text = Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::usage(format!("cannot read the password from stdin: {e}")))?;
        let trimmed = Zeroizing::new(text.trim_end_matches(['\n', '\r']).to_owned());
        if trimmed.is_empty() {
            return Err(CliError::usage("empty password on stdin"));
        }
        return Ok(trimmed);
    }
    rpassword::prompt_password(prompt)
        .map(Zeroizing::new)
        .map_err(|e| CliError::usage(format!("cannot read the password: {e}")))
}

fn save_session(session: &Session) {
    match credentials::save(session) {
        Ok(path) => eprintln!("hush: session saved to {}", path.display()),
        Err(e) => eprintln!("hush: warning: could not save the session: {e}"),
    }
}

#[derive(Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub email: String,
    #[command(flatten)]
    pub code: BootstrapCodeSource,
    /// Read the password from stdin (otherwise prompted on a terminal)
    #[arg(long)]
    pub password_stdin: bool,
    #[arg(long)]
    pub json: bool,
}

/// Where `hush bootstrap` finds the server's one-time code.
#[derive(Args)]
pub struct BootstrapCodeSource {
    /// The one-time code the new server printed on start [env: HUSH_BOOTSTRAP_CODE]
    /// [default: read from the server's data dir when it runs on this host]
    #[arg(long, hide_env_values = true)]
    pub code: Option<String>,
    /// Read the code from this file (the server's <data dir>/bootstrap-code)
    #[arg(long, conflicts_with = "code")]
    pub code_file: Option<std::path::PathBuf>,
}

fn read_code_file(path: &Path) -> Result<Zeroizing<String>, CliError> {
    std::fs::read_to_string(path)
        .map(|t| Zeroizing::new(t.trim().to_owned()))
        .map_err(|e| {
            CliError::usage(format!(
                "cannot read the bootstrap code from {}: {e}",
                path.display()
            ))
        })
}

/// True for a server URL on this host (`localhost`, 127.0.0.0/8, `::1`).
fn is_local(server: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(server) else {
        return false;
    };
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `--code`, `HUSH_BOOTSTRAP_CODE`, `--code-file`; otherwise, for a server on
/// this host only (a local file's code must never go to another server), its
/// data dir's file: `$HUSH_DATA_DIR/bootstrap-code`, else
/// `./hush-data/bootstrap-code` (the server's default data dir).
fn bootstrap_code(
    source: BootstrapCodeSource,
    server: &str,
) -> Result<Option<Zeroizing<String>>, CliError> {
    if let Some(code) = source.code.or_else(|| {
        std::env::var("HUSH_BOOTSTRAP_CODE")
            .ok()
            .filter(|v| !v.is_empty())
    }) {
        return Ok(Some(Zeroizing::new(code)));
    }
    if let Some(path) = source.code_file {
        return read_code_file(&path).map(Some);
    }
    if !is_local(server) {
        return Ok(None);
    }
    let data_dir = std::env::var_os("HUSH_DATA_DIR")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("hush-data"));
    let path = data_dir.join(crate::server::bootstrap_code::FILE_NAME);
    if path.exists() {
        return read_code_file(&path).map(Some);
    }
    Ok(None)
}

pub async fn bootstrap(args: BootstrapArgs) -> anyhow::Result<i32> {
    let BootstrapArgs {
        target,
        email,
        code,
        password_stdin,
        json,
    } = args;
    let ctx = resolve_sending(&target, Some("bootstrap code and admin password"))?.inner;
    let code = bootstrap_code(code, &ctx.server)?;
    let password = read_password(password_stdin, "New admin password: ")?;
    let mut body = json!({ "email": email, "password": password.as_str() });
    if let Some(code) = &code {
        body["bootstrapCode"] = json!(code.as_str());
    }
    let resp: BootstrapResponse = ctx
        .client
        .send_as(Method::POST, "/api/v1/hush/bootstrap", &body)
        .await?;
    let token = resp.access_token.clone();
    save_session(&Session {
        server: ctx.server.clone(),
        token: token.clone(),
        kind: "user".into(),
        name: email.to_owned(),
        expires_at: Some(resp.expires_at.clone()),
        default_project: Some(resp.project.slug.clone()),
    });
    if json {
        print_json(&serde_json::to_value(&resp)?);
    } else {
        println!("Bootstrapped {}: admin {email}, project 'default' with environments dev, staging, prod.", ctx.server);
        println!(
            "Admin access token (shown once; expires {}):",
            resp.expires_at
        );
        println!("{token}");
    }
    Ok(0)
}

#[derive(Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub email: Option<String>,
    #[arg(long)]
    pub password_stdin: bool,
    /// Machine identity client id [env: HUSH_CLIENT_ID]
    #[arg(long)]
    pub client_id: Option<String>,
    /// Machine identity client secret [env: HUSH_CLIENT_SECRET]
    #[arg(long, hide_env_values = true)]
    pub client_secret: Option<String>,
    #[command(flatten)]
    pub workload: super::workload::WorkloadLogin,
    #[command(flatten)]
    pub sso: super::sso::SsoArgs,
}

pub async fn login(args: LoginArgs) -> anyhow::Result<i32> {
    if args.workload.method.is_some() {
        return super::workload::login(args.target, args.workload).await;
    }
    if args.sso.sso.is_some() {
        return super::sso::login(args.target, args.sso).await;
    }
    let LoginArgs {
        target,
        email,
        password_stdin,
        client_id,
        client_secret,
        workload: _,
        sso: _,
    } = args;
    let client_id = client_id.or_else(|| {
        std::env::var("HUSH_CLIENT_ID")
            .ok()
            .filter(|v| !v.is_empty())
    });
    let client_secret = client_secret.or_else(|| {
        std::env::var("HUSH_CLIENT_SECRET")
            .ok()
            .filter(|v| !v.is_empty())
    });
    let credential = if target.token.is_some() {
        "token"
    } else if client_id.is_some() {
        "client secret"
    } else {
        "password"
    };
    let ctx = resolve_sending(
        &Target {
            token: None,
            ..target.clone()
        },
        Some(credential),
    )?
    .inner;
    if let Some(token) = target.token.clone() {
        return login_with_token(&ctx.server, &ctx.tls, token).await;
    }
    if let Some(client_id) = client_id {
        let secret = client_secret.ok_or_else(|| {
            CliError::usage("--client-id needs --client-secret (or HUSH_CLIENT_SECRET)")
        })?;
        let resp: TokenResponse = ctx
            .client
            .send_as(
                Method::POST,
                "/api/v1/auth/universal-auth/login",
                &json!({ "clientId": client_id, "clientSecret": secret }),
            )
            .await?;
        let token = resp.access_token;
        let expires = time_after(resp.expires_in);
        let me: WhoAmI =
            ApiClient::with_tls(&ctx.server, Some(Zeroizing::new(token.clone())), &ctx.tls)?
                .get_as("/api/v1/hush/auth/whoami", &[])
                .await?;
        save_session(&Session {
            server: ctx.server.clone(),
            token,
            kind: "identity".into(),
            name: me.name.clone(),
            expires_at: Some(expires),
            default_project: None,
        });
        println!("Logged in to {} as identity {}", ctx.server, me.name);
        return Ok(0);
    }
    let email =
        match email {
            Some(e) => e,
            None if std::io::stdin().is_terminal() => {
                eprint!("Email: ");
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                line.trim().to_owned()
            }
            None => return Err(CliError::usage(
                "--email is required when stdin is not a terminal (or use --client-id / --token)",
            )
            .into()),
        };
    let password = read_password(password_stdin, "Password: ")?;
    let resp: LoginResponse = ctx
        .client
        .send_as(
            Method::POST,
            "/api/v1/hush/auth/login",
            &json!({ "email": email, "password": password.as_str() }),
        )
        .await?;
    save_session(&Session {
        server: ctx.server.clone(),
        token: resp.access_token,
        kind: "user".into(),
        name: email.clone(),
        expires_at: Some(resp.expires_at),
        default_project: None,
    });
    println!("Logged in to {} as {email}", ctx.server);
    Ok(0)
}

fn time_after(secs: i64) -> String {
    crate::time_ids::iso(crate::time_ids::now_ms() + secs * 1000)
}

/// Stores a service or access token after checking it works.
async fn login_with_token(
    server: &str,
    tls: &crate::client::tls::TlsOptions,
    token: String,
) -> anyhow::Result<i32> {
    let me: WhoAmI = ApiClient::with_tls(server, Some(Zeroizing::new(token.clone())), tls)?
        .get_as("/api/v1/hush/auth/whoami", &[])
        .await?;
    let kind = match me.kind.as_str() {
        "service-token" => "token",
        k => k,
    };
    save_session(&Session {
        server: server.to_owned(),
        token,
        kind: kind.to_owned(),
        name: me.name.clone(),
        expires_at: me.expires_at.clone(),
        default_project: me.scope.as_ref().map(|s| s.project.clone()),
    });
    println!("Logged in to {server} with {kind} {}", me.name);
    Ok(0)
}

/// Renews a stored user session that expires within the hour. Best effort: a
/// failure leaves the session as it is (the command then reports any 401/403).
pub async fn refresh_session() {
    if std::env::var_os("HUSH_TOKEN").is_some() {
        return;
    }
    let Ok(Some(mut session)) = credentials::load() else {
        return;
    };
    let soon = crate::time_ids::iso(crate::time_ids::now_ms() + 3600 * 1000);
    let due = session.kind == "user"
        && session
            .expires_at
            .as_deref()
            .is_some_and(|e| e < soon.as_str());
    if !due {
        return;
    }
    let Ok(client) = ApiClient::new(&session.server, None) else {
        return;
    };
    if let Ok(resp) = client
        .send_as::<TokenResponse>(
            Method::POST,
            "/api/v1/auth/token/renew",
            &json!({ "accessToken": session.token }),
        )
        .await
    {
        session.expires_at = Some(time_after(resp.expires_in));
        let _ = credentials::save(&session);
    }
}

#[derive(Args)]
pub struct LogoutArgs {
    #[command(flatten)]
    pub target: Target,
}

pub async fn logout(args: LogoutArgs) -> anyhow::Result<i32> {
    let LogoutArgs { target } = args;
    let maybe = resolve_optional_token(&target)?;
    if maybe.has_token {
        match maybe
            .inner
            .client
            .send(Method::POST, "/api/v1/hush/auth/logout", &json!({}))
            .await
        {
            Ok(_) => eprintln!("hush: session revoked on {}", maybe.inner.server),
            Err(e) => eprintln!("hush: warning: could not revoke the session on the server: {e}"),
        }
    }
    let removed = credentials::remove()?;
    println!(
        "{}",
        if removed {
            "Logged out."
        } else {
            "No stored login."
        }
    );
    Ok(0)
}

#[derive(Args)]
pub struct WhoamiArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub json: bool,
}

pub async fn whoami(args: WhoamiArgs) -> anyhow::Result<i32> {
    let WhoamiArgs { target, json } = args;
    let ctx = resolve(&target)?;
    let me: WhoAmI = ctx.client.get_as("/api/v1/hush/auth/whoami", &[]).await?;
    if json {
        print_json(&serde_json::to_value(&me)?);
    } else {
        let name = &me.name;
        let expires = me
            .expires_at
            .as_deref()
            .map(|e| format!("expires {e}"))
            .unwrap_or_else(|| "no expiry".into());
        match me.kind.as_str() {
            "service-token" => {
                let scope = me.scope.as_ref();
                let scopes: Vec<String> = scope
                    .map(|s| {
                        s.scopes
                            .iter()
                            .map(|s| format!("env {}, path {}", s.environment, s.secret_path))
                            .collect()
                    })
                    .unwrap_or_default();
                let access = if scope.is_some_and(|s| s.write) {
                    "read+write"
                } else {
                    "read"
                };
                println!(
                    "token: {name} (project {}, {}, {access}, {expires})",
                    scope.map_or("?", |s| s.project.as_str()),
                    scopes.join("; ")
                );
            }
            "identity" => println!("identity: {name} ({expires})"),
            "user" => println!("user: {name}"),
            _ => {
                return Err(CliError::new(EXIT_AUTH, "unexpected answer from whoami", None).into())
            }
        }
    }
    Ok(0)
}
