//! users, identities, tokens, members.

use super::context::resolve;
use super::output::{print_json, table};
use super::Target;
use crate::api::identities::{
    ClientSecretAdded, ClientSecretsList, IdentitiesList, IdentityCreated, MemberEnvelope,
    MembersList, ServiceTokenCreated, ServiceTokensList,
};
use crate::api::users::{UserInvited, UserRefEnvelope, UsersList};
use crate::cli::error::CliError;
use crate::config::parse_duration;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};
use std::io::BufRead;

#[derive(Args)]
pub struct UsersArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: UsersAction,
}

#[derive(Subcommand)]
pub enum UsersAction {
    /// Create a user; prints a one-time invite token for them to set a password
    Create {
        email: String,
        /// Make the user a server admin
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set your password with an invite token (read from stdin: TOKEN, then PASSWORD, one per line)
    AcceptInvite {
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: their sessions stop working at once (undo with enable)
    Disable { email: String },
    /// Enable a disabled user again (they log in anew)
    Enable { email: String },
    /// Delete a user: sessions revoked, memberships and personal values removed
    Delete {
        email: String,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Make a user a server admin, or (--off) no longer one
    SetAdmin {
        email: String,
        /// Remove server-admin rights (the last enabled admin keeps them)
        #[arg(long)]
        off: bool,
    },
    /// Issue a one-time password reset token for a user (expires in 24 hours)
    ResetPassword {
        email: String,
        #[arg(long)]
        json: bool,
    },
    /// Set a new password with a reset token (read from stdin: TOKEN, then PASSWORD, one per line)
    AcceptReset {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct IdentitiesArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: IdentitiesAction,
}

#[derive(Subcommand)]
pub enum IdentitiesAction {
    /// Workload identity: log in with OIDC, JWT or Kubernetes tokens instead of a client secret
    Auth {
        #[command(subcommand)]
        action: super::workload::AuthAction,
    },
    /// Create an identity; prints its client id and a client secret (shown once)
    Create {
        name: String,
        /// Access token lifetime, e.g. 1h
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// Renewals never go past this, e.g. 30d
        #[arg(long, default_value = "30d")]
        max_ttl: String,
        /// Requests an access token may make (0: unlimited)
        #[arg(long, default_value_t = 0)]
        num_uses: i64,
        /// Allowed client address range (repeatable), e.g. 10.0.0.0/8
        #[arg(long = "trusted-ip")]
        trusted_ips: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// List an identity's client secrets (prefixes only)
    Secrets {
        identity: String,
        #[arg(long)]
        json: bool,
    },
    /// Add a client secret (rotation: add, deploy, then revoke the old one)
    AddSecret {
        identity: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a client secret; the access tokens it issued stop working too
    RevokeSecret { identity: String, secret_id: String },
    /// An identity's live access tokens: id, created, expires, uses (never the token)
    Tokens {
        identity: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke one access token of an identity
    RevokeToken { identity: String, token_id: String },
    /// Delete an identity: its client secrets and access tokens stop working, memberships go
    Delete {
        identity: String,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Args)]
pub struct TokensArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: TokensAction,
}

#[derive(Subcommand)]
pub enum TokensAction {
    /// Create a scoped service token (printed once). Scope: --env and --path, or --scope ENV:GLOB...
    Create {
        #[arg(long)]
        name: String,
        /// ENV:PATH_GLOB (repeatable), e.g. prod:/api/**
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Read only (the default)
        #[arg(long, conflicts_with = "write")]
        read: bool,
        /// Read and write
        #[arg(long)]
        write: bool,
        /// Lifetime, e.g. 24h
        #[arg(long)]
        ttl: String,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Revoke {
        id: String,
    },
}

#[derive(Args)]
pub struct MembersArgs {
    #[command(subcommand)]
    pub action: MembersAction,
}

#[derive(Subcommand)]
pub enum MembersAction {
    /// Give a user (email) or identity (name) a role; --env ENV:LEVEL and --path GLOB:LEVEL add overrides
    Add {
        who: String,
        #[arg(long)]
        role: String,
        /// Per-environment override ENV:none|read|write, or ENV:GLOB:LEVEL (repeatable)
        #[arg(long = "env")]
        env_overrides: Vec<String>,
        /// Per-path override GLOB:none|read|write (repeatable)
        #[arg(long = "path")]
        path_overrides: Vec<String>,
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        token: Option<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        token: Option<String>,
        #[arg(long)]
        json: bool,
    },
    Remove {
        who: String,
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        token: Option<String>,
    },
}

/// A typed answer as the JSON the CLI prints.
fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn secs(text: &str, flag: &str) -> Result<i64, CliError> {
    parse_duration(text)
        .map(|d| d.as_secs() as i64)
        .map_err(|e| CliError::usage(format!("{flag}: {e}")))
}

pub async fn users(args: UsersArgs) -> anyhow::Result<i32> {
    let UsersArgs { target, action } = args;
    match action {
        UsersAction::AcceptInvite { json } => return accept_invite(target, json).await,
        UsersAction::AcceptReset { json } => {
            return super::offboarding::accept_reset(target, json).await
        }
        _ => {}
    }
    let ctx = resolve(&target)?;
    match action {
        UsersAction::Create { email, admin, json } => {
            let r: UserInvited = ctx
                .client
                .send_as(
                    Method::POST,
                    "/api/v1/hush/users",
                    &json!({ "email": email, "admin": admin }),
                )
                .await?;
            if json {
                print_json(
                    &json!({ "id": r.user.id, "name": r.user.email, "inviteToken": r.invite_token, "inviteExpiresAt": r.invite_expires_at }),
                );
            } else {
                println!(
                    "Created user {email}. Send them this one-time invite (expires {}):",
                    r.invite_expires_at
                );
                println!("{}", r.invite_token);
                println!("They set a password with: printf '%s\\n%s\\n' TOKEN PASSWORD | hush users accept-invite --server {}", ctx.server);
            }
        }
        UsersAction::List { json } => {
            let r: UsersList = ctx.client.get_as("/api/v1/hush/users", &[]).await?;
            let list = r.users;
            if json {
                print_json(&Value::Array(list.iter().map(|u| json!({ "id": u.id, "name": u.email, "serverAdmin": u.server_admin, "active": u.active, "disabled": u.disabled })).collect()));
            } else {
                let rows = list
                    .iter()
                    .map(|u| {
                        vec![
                            u.email.clone(),
                            u.server_admin.to_string(),
                            if u.disabled {
                                "disabled".into()
                            } else if u.active {
                                "active".into()
                            } else {
                                "invited".into()
                            },
                            u.created_at.clone(),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table(&["Email", "Server admin", "State", "Created"], rows)
                );
            }
        }
        other => return super::offboarding::user_action(&ctx, other).await,
    }
    Ok(0)
}

/// Reads the invite token and the new password from stdin, one per line, so
/// neither lands in shell history or `ps`.
async fn accept_invite(target: Target, json: bool) -> anyhow::Result<i32> {
    let ctx = super::context::resolve_sending(&target, Some("invite token and password"))?.inner;
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!("Paste the invite token, press Enter, then type the new password.");
    }
    let mut lines = std::io::stdin().lock().lines();
    let token = lines.next().transpose()?.unwrap_or_default();
    let password = match lines.next().transpose()? {
        Some(p) => zeroize::Zeroizing::new(p),
        None if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
            zeroize::Zeroizing::new(rpassword::prompt_password("New password: ")?)
        }
        None => {
            return Err(CliError::usage(
                "expected the invite token and the password on stdin, one per line",
            )
            .into())
        }
    };
    let r: UserRefEnvelope = ctx
        .client
        .send_as(
            Method::POST,
            "/api/v1/hush/users/accept-invite",
            &json!({ "inviteToken": token.trim(), "password": password.as_str() }),
        )
        .await?;
    if json {
        print_json(&to_json(&r.user));
    } else {
        println!(
            "Password set for {}. Log in with: hush login --email {}",
            r.user.email, r.user.email
        );
    }
    Ok(0)
}

pub async fn identities(args: IdentitiesArgs) -> anyhow::Result<i32> {
    let IdentitiesArgs { target, action } = args;
    if let IdentitiesAction::Auth { action } = action {
        return super::workload::configure(&target, action).await;
    }
    let ctx = resolve(&target)?;
    match action {
        IdentitiesAction::Create {
            name,
            ttl,
            max_ttl,
            num_uses,
            trusted_ips,
            json,
        } => {
            let body = json!({
                "name": name, "accessTokenTTL": secs(&ttl, "--ttl")?, "accessTokenMaxTTL": secs(&max_ttl, "--max-ttl")?,
                "accessTokenNumUsesLimit": num_uses, "trustedIps": trusted_ips,
            });
            let r: IdentityCreated = ctx
                .client
                .send_as(Method::POST, "/api/v1/hush/identities", &body)
                .await?;
            if json {
                print_json(
                    &json!({ "id": r.client_id, "name": name, "clientId": r.client_id, "clientSecret": r.client_secret }),
                );
            } else {
                println!("Created identity {name}. Client secret (shown once):");
                println!("  HUSH_CLIENT_ID={}", r.client_id);
                println!("  HUSH_CLIENT_SECRET={}", r.client_secret);
                println!(
                    "Give it access with: hush members add {name} --role viewer --project PROJECT"
                );
            }
        }
        IdentitiesAction::List { json } => {
            let r: IdentitiesList = ctx.client.get_as("/api/v1/hush/identities", &[]).await?;
            let list = r.identities;
            if json {
                print_json(&to_json(&list));
            } else {
                let rows = list
                    .iter()
                    .map(|i| {
                        vec![
                            i.name.clone(),
                            i.client_id.clone(),
                            i.access_token_ttl.to_string(),
                            i.access_token_max_ttl.to_string(),
                            i.access_token_num_uses_limit.to_string(),
                            to_json(&i.trusted_ips).to_string(),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table(
                        &[
                            "Name",
                            "Client id",
                            "TTL (s)",
                            "Max TTL (s)",
                            "Uses limit",
                            "Trusted IPs"
                        ],
                        rows
                    )
                );
            }
        }
        IdentitiesAction::Secrets { identity, json } => {
            let r: ClientSecretsList = ctx
                .client
                .get_as(
                    &format!("/api/v1/hush/identities/{identity}/client-secrets"),
                    &[],
                )
                .await?;
            let list = r.client_secret_data;
            if json {
                print_json(&Value::Array(list.iter().map(|c| json!({ "id": c.id, "name": c.prefix, "revoked": c.revoked, "createdAt": c.created_at })).collect()));
            } else {
                let rows = list
                    .iter()
                    .map(|c| {
                        vec![
                            c.id.clone(),
                            format!("{}...", c.prefix),
                            c.created_at.clone(),
                            if c.revoked {
                                "revoked".into()
                            } else {
                                "active".into()
                            },
                        ]
                    })
                    .collect();
                println!("{}", table(&["Id", "Prefix", "Created", "State"], rows));
            }
        }
        IdentitiesAction::AddSecret { identity, json } => {
            let r: ClientSecretAdded = ctx
                .client
                .send_as(
                    Method::POST,
                    &format!("/api/v1/hush/identities/{identity}/client-secrets"),
                    &json!({}),
                )
                .await?;
            if json {
                print_json(
                    &json!({ "id": r.client_secret_data.id, "name": r.client_secret_data.prefix, "clientSecret": r.client_secret }),
                );
            } else {
                println!("New client secret for {identity} (shown once; revoke the old one when deployed):");
                println!("  HUSH_CLIENT_SECRET={}", r.client_secret);
            }
        }
        IdentitiesAction::RevokeSecret {
            identity,
            secret_id,
        } => {
            ctx.client
                .call(
                    Method::DELETE,
                    &format!("/api/v1/hush/identities/{identity}/client-secrets/{secret_id}"),
                    &[],
                    None,
                )
                .await?;
            println!(
                "Revoked client secret {secret_id} of {identity} and the access tokens it issued"
            );
        }
        other => return super::offboarding::identity_action(&ctx, other).await,
    }
    Ok(0)
}

pub async fn tokens(args: TokensArgs) -> anyhow::Result<i32> {
    let TokensArgs { target, action } = args;
    let ctx = resolve(&target)?;
    match action {
        TokensAction::Create {
            name,
            scopes,
            read: _,
            write,
            ttl,
            json,
        } => {
            let mut list: Vec<Value> = Vec::new();
            for scope in &scopes {
                let (env, path) = scope.split_once(':').ok_or_else(|| {
                    CliError::usage(format!(
                        "--scope {scope:?}: use ENV:PATH_GLOB, e.g. prod:/api/**"
                    ))
                })?;
                list.push(json!({ "environment": env, "secretPath": path }));
            }
            if list.is_empty() {
                let env = target
                    .env
                    .clone()
                    .or_else(|| std::env::var("HUSH_ENV").ok())
                    .ok_or_else(|| {
                        CliError::usage(
                            "give --env ENV (and optionally --path GLOB), or --scope ENV:GLOB",
                        )
                    })?;
                list.push(json!({ "environment": env, "secretPath": target.path.clone().unwrap_or_else(|| "/**".into()) }));
            }
            let body = json!({ "projectId": ctx.project, "name": name, "scopes": list, "write": write, "ttl": secs(&ttl, "--ttl")? });
            let r: ServiceTokenCreated = ctx
                .client
                .send_as(Method::POST, "/api/v1/hush/tokens", &body)
                .await?;
            if json {
                print_json(&to_json(&r));
            } else {
                println!(
                    "Created token {name} (expires {}). Shown once:",
                    r.view.expires_at.as_deref().unwrap_or_default()
                );
                println!("{}", r.token);
            }
        }
        TokensAction::List { json } => {
            let r: ServiceTokensList = ctx
                .client
                .get_as("/api/v1/hush/tokens", &[("projectId", ctx.project.clone())])
                .await?;
            let list = r.tokens;
            if json {
                print_json(&to_json(&list));
            } else {
                let rows = list
                    .iter()
                    .map(|t| {
                        let scopes = t
                            .scopes
                            .as_ref()
                            .map(|l| {
                                l.iter()
                                    .map(|x| format!("{}:{}", x.environment, x.secret_path))
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            })
                            .unwrap_or_default();
                        let state = if t.revoked {
                            "revoked"
                        } else if t.expired {
                            "expired"
                        } else {
                            "active"
                        };
                        vec![
                            t.id.clone(),
                            t.name.clone(),
                            scopes,
                            if t.write == Some(true) {
                                "read+write".into()
                            } else {
                                "read".into()
                            },
                            t.expires_at.clone().unwrap_or_default(),
                            state.into(),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table(
                        &["Id", "Name", "Scopes", "Access", "Expires", "State"],
                        rows
                    )
                );
            }
        }
        TokensAction::Revoke { id } => {
            ctx.client
                .call(
                    Method::DELETE,
                    &format!("/api/v1/hush/tokens/{id}"),
                    &[("projectId", ctx.project.clone())],
                    None,
                )
                .await?;
            println!("Revoked token {id}; it is refused from the next request on");
        }
    }
    Ok(0)
}

pub async fn members(args: MembersArgs) -> anyhow::Result<i32> {
    let MembersArgs { action } = args;
    let target =
        |project: &Option<String>, server: &Option<String>, token: &Option<String>| Target {
            project: project.clone(),
            server: server.clone(),
            token: token.clone(),
            ..Default::default()
        };
    match action {
        MembersAction::Add {
            who,
            role,
            env_overrides,
            path_overrides,
            project,
            server,
            token,
            json,
        } => {
            let ctx = resolve(&target(&project, &server, &token))?;
            let overrides: Vec<String> = env_overrides.into_iter().chain(path_overrides).collect();
            let r: MemberEnvelope = ctx
                .client
                .send_as(Method::POST, "/api/v1/hush/members", &json!({ "projectId": ctx.project, "subject": who, "role": role, "overrides": overrides }))
                .await?;
            if json {
                print_json(&to_json(&r.member));
            } else {
                println!(
                    "{} {} is now {} in project {}",
                    r.member.kind, r.member.name, r.member.role, ctx.project
                );
            }
        }
        MembersAction::List {
            project,
            server,
            token,
            json,
        } => {
            let ctx = resolve(&target(&project, &server, &token))?;
            let r: MembersList = ctx
                .client
                .get_as(
                    "/api/v1/hush/members",
                    &[("projectId", ctx.project.clone())],
                )
                .await?;
            let list = r.members;
            if json {
                print_json(&to_json(&list));
            } else {
                let rows = list
                    .iter()
                    .map(|m| {
                        let overrides = m
                            .overrides
                            .iter()
                            .map(|o| {
                                format!(
                                    "{}{}:{}",
                                    o.env
                                        .as_deref()
                                        .map(|e| format!("{e}:"))
                                        .unwrap_or_default(),
                                    o.path.as_deref().unwrap_or(""),
                                    o.level
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(" ");
                        vec![m.name.clone(), m.kind.clone(), m.role.clone(), overrides]
                    })
                    .collect();
                println!("{}", table(&["Member", "Kind", "Role", "Overrides"], rows));
            }
        }
        MembersAction::Remove {
            who,
            project,
            server,
            token,
        } => {
            let ctx = resolve(&target(&project, &server, &token))?;
            ctx.client
                .send(
                    Method::DELETE,
                    "/api/v1/hush/members",
                    &json!({ "projectId": ctx.project, "subject": who }),
                )
                .await?;
            println!("Removed {who} from project {}", ctx.project);
        }
    }
    Ok(0)
}
