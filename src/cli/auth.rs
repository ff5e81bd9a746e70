//! bootstrap, login, logout, whoami.

use super::context::{resolve, resolve_optional_token};
use super::output::print_json;
use super::Target;
use crate::client::credentials::{self, Session};
use crate::error::{CliError, EXIT_AUTH};
use reqwest::Method;
use serde_json::json;
use std::io::{IsTerminal, Read};
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

pub async fn bootstrap(
    target: Target,
    email: &str,
    password_stdin: bool,
    json: bool,
) -> anyhow::Result<i32> {
    let password = read_password(password_stdin, "New admin password: ")?;
    let ctx = resolve_optional_token(&target)?.inner;
    let resp = ctx
        .client
        .send(
            Method::POST,
            "/api/v1/hush/bootstrap",
            &json!({ "email": email, "password": password.as_str() }),
        )
        .await?;
    let token = resp["accessToken"].as_str().unwrap_or_default().to_owned();
    save_session(&Session {
        server: ctx.server.clone(),
        token: token.clone(),
        kind: "user".into(),
        name: email.to_owned(),
        expires_at: resp["expiresAt"].as_str().map(str::to_owned),
        default_project: resp["project"]["slug"].as_str().map(str::to_owned),
    });
    if json {
        print_json(&resp);
    } else {
        println!("Bootstrapped {}: admin {email}, project 'default' with environments dev, staging, prod.", ctx.server);
        println!(
            "Admin access token (shown once; expires {}):",
            resp["expiresAt"].as_str().unwrap_or("?")
        );
        println!("{token}");
    }
    Ok(0)
}

pub async fn login(
    target: Target,
    email: Option<String>,
    password_stdin: bool,
) -> anyhow::Result<i32> {
    let email = match email {
        Some(e) => e,
        None if std::io::stdin().is_terminal() => {
            eprint!("Email: ");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim().to_owned()
        }
        None => {
            return Err(CliError::usage("--email is required when stdin is not a terminal").into())
        }
    };
    let password = read_password(password_stdin, "Password: ")?;
    let ctx = resolve_optional_token(&target)?.inner;
    let resp = ctx
        .client
        .send(
            Method::POST,
            "/api/v1/hush/auth/login",
            &json!({ "email": email, "password": password.as_str() }),
        )
        .await?;
    save_session(&Session {
        server: ctx.server.clone(),
        token: resp["accessToken"].as_str().unwrap_or_default().to_owned(),
        kind: "user".into(),
        name: email.clone(),
        expires_at: resp["expiresAt"].as_str().map(str::to_owned),
        default_project: None,
    });
    println!("Logged in to {} as {email}", ctx.server);
    Ok(0)
}

pub async fn logout(target: Target) -> anyhow::Result<i32> {
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

pub async fn whoami(target: Target, json: bool) -> anyhow::Result<i32> {
    let ctx = resolve(&target)?;
    let me = ctx.client.get("/api/v1/hush/auth/whoami", &[]).await?;
    if json {
        print_json(&me);
    } else {
        let kind = match me["kind"].as_str() {
            Some("service-token") => "token",
            Some(k) => k,
            None => return Err(CliError::new(EXIT_AUTH, "unexpected whoami answer", None).into()),
        };
        println!(
            "{kind}: {} ({})",
            me["name"].as_str().unwrap_or("?"),
            ctx.server
        );
    }
    Ok(0)
}
