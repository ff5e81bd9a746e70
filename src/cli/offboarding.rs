//! users disable/enable/delete/set-admin/reset-password/accept-reset, passwd,
//! sessions, identities tokens/revoke-token/delete.

use super::access::{IdentitiesAction, UsersAction};
use super::context::{resolve, Resolved};
use super::output::{print_json, table};
use super::Target;
use crate::api::identities::IdentityTokens;
use crate::api::users::{
    PasswordResetIssued, SessionsList, TokenListed, UserEnvelope, UserRefEnvelope,
};
use crate::cli::error::CliError;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};
use std::io::{BufRead, IsTerminal};
use zeroize::Zeroizing;

#[derive(Args)]
pub struct PasswdArgs {
    #[command(flatten)]
    pub target: Target,
    /// Read the current and the new password from stdin, one per line
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Args)]
pub struct SessionsArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: SessionsAction,
}

#[derive(Subcommand)]
pub enum SessionsAction {
    /// Live sessions: id, created, expires (never the token)
    List {
        /// Another user's sessions (server admins)
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke one session; it is refused from the next request on
    Revoke {
        id: String,
        /// The session's user, when it is not you (server admins)
        #[arg(long)]
        user: Option<String>,
    },
}

/// `text` as one URL path segment (an email may hold `+`, `/`, `%`...).
pub(super) fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Asks before an irreversible change; without a terminal `--yes` is needed.
fn confirmed(yes: bool, question: &str) -> Result<bool, CliError> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(
            "this cannot be undone; pass --yes to confirm when not on a terminal",
        ));
    }
    eprint!("{question} [y/N] ");
    let mut line = String::new();
    Ok(std::io::stdin().read_line(&mut line).is_ok() && matches!(line.trim(), "y" | "Y" | "yes"))
}

/// Two lines from stdin (e.g. a token and a password), or prompts on a
/// terminal for what is missing. Nothing lands in shell history or `ps`.
fn two_lines(
    first_prompt: &str,
    second_prompt: &str,
    from_stdin: bool,
) -> Result<(Zeroizing<String>, Zeroizing<String>), CliError> {
    let terminal = std::io::stdin().is_terminal();
    if from_stdin || !terminal {
        let mut lines = std::io::stdin().lock().lines();
        let mut next = || -> Result<Zeroizing<String>, CliError> {
            let line = lines
                .next()
                .transpose()
                .map_err(|e| CliError::usage(format!("cannot read stdin: {e}")))?
                .map(Zeroizing::new)
                .unwrap_or_default();
            let trimmed = Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_owned());
            if trimmed.is_empty() {
                return Err(CliError::usage(format!(
                    "expected {first_prompt} and {second_prompt} on stdin, one per line"
                )));
            }
            Ok(trimmed)
        };
        let first = next()?;
        return Ok((first, next()?));
    }
    let ask = |prompt: &str| {
        rpassword::prompt_password(format!("{prompt}: "))
            .map(Zeroizing::new)
            .map_err(|e| CliError::usage(format!("cannot read the {prompt}: {e}")))
    };
    Ok((ask(first_prompt)?, ask(second_prompt)?))
}

fn user_line(r: &UserEnvelope) -> String {
    let u = &r.user;
    let state = if u.disabled { "disabled" } else { "enabled" };
    let admin = if u.server_admin { ", server admin" } else { "" };
    format!("{} ({state}{admin})", u.email)
}

/// The lifecycle actions of `hush users` (AcceptReset runs unauthenticated
/// through `accept_reset`).
pub async fn user_action(ctx: &Resolved, action: UsersAction) -> anyhow::Result<i32> {
    let c = &ctx.client;
    let base = |email: &str| format!("/api/v1/hush/users/{}", segment(email));
    match action {
        UsersAction::Disable { email } => {
            let r: UserEnvelope = c
                .send_as(
                    Method::POST,
                    &format!("{}/disable", base(&email)),
                    &json!({}),
                )
                .await?;
            println!(
                "Disabled {}: their sessions are refused from the next request on",
                user_line(&r)
            );
        }
        UsersAction::Enable { email } => {
            let r: UserEnvelope = c
                .send_as(
                    Method::POST,
                    &format!("{}/enable", base(&email)),
                    &json!({}),
                )
                .await?;
            println!(
                "Enabled {}; they log in again with hush login",
                user_line(&r)
            );
        }
        UsersAction::SetAdmin { email, off } => {
            let r: UserEnvelope = c
                .send_as(
                    Method::PATCH,
                    &base(&email),
                    &json!({ "serverAdmin": !off }),
                )
                .await?;
            println!("{}", user_line(&r));
        }
        UsersAction::Delete { email, yes } => {
            if !confirmed(yes, &format!("Delete user {email} for good?"))? {
                eprintln!("hush: nothing deleted");
                return Ok(1);
            }
            c.call(Method::DELETE, &base(&email), &[], None).await?;
            println!("Deleted user {email}: sessions revoked, memberships removed");
        }
        UsersAction::ResetPassword { email, json } => {
            let r: PasswordResetIssued = c
                .send_as(
                    Method::POST,
                    &format!("{}/reset-password", base(&email)),
                    &json!({}),
                )
                .await?;
            if json {
                print_json(&json!({ "id": r.user.id, "name": r.user.email,
                    "resetToken": r.reset_token, "resetExpiresAt": r.reset_expires_at }));
            } else {
                println!(
                    "One-time password reset for {email} (expires {}; an earlier one no longer works):",
                    r.reset_expires_at
                );
                println!("{}", r.reset_token);
                println!(
                    "They set a new password with: printf '%s\\n%s\\n' TOKEN PASSWORD | hush users accept-reset --server {}",
                    ctx.server
                );
            }
        }
        _ => return Err(CliError::usage("internal: not a user lifecycle action").into()),
    }
    Ok(0)
}

/// Sets a new password with a reset token read from stdin (TOKEN, then
/// PASSWORD, one per line) or prompted.
pub async fn accept_reset(target: Target, json: bool) -> anyhow::Result<i32> {
    let ctx = super::context::resolve_sending(&target, Some("reset token and password"))?.inner;
    let (token, password) = two_lines("reset token", "new password", false)?;
    let r: UserRefEnvelope = ctx
        .client
        .send_as(
            Method::POST,
            "/api/v1/hush/users/accept-reset",
            &json!({ "resetToken": token.trim(), "password": password.as_str() }),
        )
        .await?;
    if json {
        print_json(&serde_json::to_value(&r.user)?);
    } else {
        let email = &r.user.email;
        println!("New password set for {email}; every earlier session is revoked. Log in with: hush login --email {email}");
    }
    Ok(0)
}

pub async fn passwd(args: PasswdArgs) -> anyhow::Result<i32> {
    let PasswdArgs {
        target,
        password_stdin,
    } = args;
    let ctx = resolve(&target)?;
    let (old, new) = two_lines("current password", "new password", password_stdin)?;
    if !password_stdin && std::io::stdin().is_terminal() {
        let again = rpassword::prompt_password("new password again: ")
            .map(Zeroizing::new)
            .map_err(|e| CliError::usage(format!("cannot read the password: {e}")))?;
        if again != new {
            return Err(CliError::usage("the two new passwords differ; nothing changed").into());
        }
    }
    ctx.client
        .send(
            Method::POST,
            "/api/v1/hush/auth/password",
            &json!({ "oldPassword": old.as_str(), "newPassword": new.as_str() }),
        )
        .await?;
    println!("Password changed. Your other sessions are revoked; this one stays logged in.");
    Ok(0)
}

fn token_rows(list: &[TokenListed], with_secret: bool) -> Vec<Vec<String>> {
    list.iter()
        .map(|t| {
            let uses = match t.uses_limit {
                Some(limit) => format!("{}/{limit}", t.uses),
                None => "-".into(),
            };
            let mut row = vec![
                format!("{}{}", t.id, if t.current { " (this one)" } else { "" }),
                t.created_at.clone(),
                t.expires_at.clone().unwrap_or_default(),
                uses,
            ];
            if with_secret {
                row.push(t.client_secret_id.clone().unwrap_or_default());
            }
            row
        })
        .collect()
}

pub async fn sessions(args: SessionsArgs) -> anyhow::Result<i32> {
    let SessionsArgs { target, action } = args;
    let ctx = resolve(&target)?;
    match action {
        SessionsAction::List { user, json } => {
            let query: Vec<(&str, String)> = user.into_iter().map(|u| ("user", u)).collect();
            let r: SessionsList = ctx.client.get_as("/api/v1/hush/sessions", &query).await?;
            let list = &r.sessions;
            if json {
                print_json(&Value::Array(
                    list.iter()
                        .map(|t| json!({ "id": t.id, "name": t.id, "createdAt": t.created_at, "expiresAt": t.expires_at, "current": t.current }))
                        .collect(),
                ));
            } else {
                println!("Sessions of {}:", r.user.email);
                println!(
                    "{}",
                    table(
                        &["Id", "Created", "Expires", "Uses"],
                        token_rows(list, false)
                    )
                );
            }
        }
        SessionsAction::Revoke { id, user } => {
            let query: Vec<(&str, String)> = user.into_iter().map(|u| ("user", u)).collect();
            ctx.client
                .call(
                    Method::DELETE,
                    &format!("/api/v1/hush/sessions/{}", segment(&id)),
                    &query,
                    None,
                )
                .await?;
            println!("Revoked session {id}; it is refused from the next request on");
        }
    }
    Ok(0)
}

/// The lifecycle actions of `hush identities`.
pub async fn identity_action(ctx: &Resolved, action: IdentitiesAction) -> anyhow::Result<i32> {
    let c = &ctx.client;
    let base = |name: &str| format!("/api/v1/hush/identities/{}", segment(name));
    match action {
        IdentitiesAction::Tokens { identity, json } => {
            let r: IdentityTokens = c
                .get_as(&format!("{}/tokens", base(&identity)), &[])
                .await?;
            let list = r.tokens;
            if json {
                print_json(&Value::Array(
                    list.iter()
                        .map(|t| json!({ "id": t.id, "name": t.id, "createdAt": t.created_at, "expiresAt": t.expires_at, "uses": t.uses, "usesLimit": t.uses_limit, "clientSecretId": t.client_secret_id }))
                        .collect(),
                ));
            } else {
                println!(
                    "{}",
                    table(
                        &["Id", "Created", "Expires", "Uses", "Client secret"],
                        token_rows(&list, true)
                    )
                );
            }
        }
        IdentitiesAction::RevokeToken { identity, token_id } => {
            c.call(
                Method::DELETE,
                &format!("{}/tokens/{}", base(&identity), segment(&token_id)),
                &[],
                None,
            )
            .await?;
            println!("Revoked access token {token_id} of {identity}");
        }
        IdentitiesAction::Delete { identity, yes } => {
            if !confirmed(yes, &format!("Delete identity {identity} for good?"))? {
                eprintln!("hush: nothing deleted");
                return Ok(1);
            }
            c.call(Method::DELETE, &base(&identity), &[], None).await?;
            println!(
                "Deleted identity {identity}: its client secrets and access tokens no longer work"
            );
        }
        _ => return Err(CliError::usage("internal: not an identity lifecycle action").into()),
    }
    Ok(0)
}
