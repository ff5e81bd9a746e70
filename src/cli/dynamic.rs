//! `hush dynamic create|update|list|show|delete` and `hush dynamic lease
//! create|list|renew|revoke`: dynamic secrets (issue 24), short-lived
//! database users made per consumer. The clap definitions live here with
//! their commands, so `cli/mod.rs` only names them.

use super::context::{resolve, split_key, Resolved};
use super::output::{print_json, table};
use super::Target;
use crate::api::dynamic::{
    CreateDynamicSecret, CreateLease, DynamicChanges, DynamicDelete, DynamicScope, DynamicSecret,
    DynamicSecretEnvelope, DynamicSecretsList, InputChanges, LeaseCreated, LeaseEnvelope,
    LeasesList, OutputKeys, ProviderInputs, ProviderSpec, RenewLease, UpdateDynamicSecret,
};
use crate::cli::error::CliError;
use clap::{Args, Subcommand};
use reqwest::Method;

pub const ROUTE: &str = "/api/v1/dynamic-secrets";

/// Where the admin password comes from when no file is given.
const PASSWORD_ENV: &str = "HUSH_DYNAMIC_ADMIN_PASSWORD";

#[derive(Args)]
pub struct DynamicArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: DynamicAction,
}

#[derive(Subcommand)]
pub enum DynamicAction {
    /// Define a dynamic secret: a database and the statements that make,
    /// renew and revoke a user
    Create(Box<CreateArgs>),
    /// Change a dynamic secret: only the options given change
    Update(Box<UpdateArgs>),
    /// The dynamic secrets you may see
    List {
        #[arg(long)]
        json: bool,
    },
    /// One dynamic secret (never its admin password)
    Show {
        /// NAME, or folder/NAME
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a dynamic secret after revoking its leases
    Delete {
        name: String,
        /// Forget leases that cannot be revoked (their users stay in the database)
        #[arg(long)]
        force: bool,
    },
    /// Leases: fresh credentials of a dynamic secret
    Lease {
        #[command(subcommand)]
        action: LeaseAction,
    },
}

#[derive(Args)]
pub struct CreateArgs {
    /// NAME, or folder/NAME (letters, digits, - and _)
    pub name: String,
    /// postgres, mysql (MariaDB) or redis
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: String,
    #[arg(long)]
    pub host: String,
    #[arg(long)]
    pub port: u16,
    /// The database the admin connects to
    #[arg(long)]
    pub database: Option<String>,
    /// The admin user (Redis: empty for the default user)
    #[arg(long)]
    pub admin_user: Option<String>,
    /// A file holding the admin password ('-': standard input)
    /// [default: env HUSH_DYNAMIC_ADMIN_PASSWORD]
    #[arg(long, value_name = "FILE")]
    pub admin_password_file: Option<String>,
    /// Makes the user, with {{username}}, {{password}}, {{expiration}}
    /// (@FILE reads it from a file)
    #[arg(long, value_name = "STATEMENTS")]
    pub creation: String,
    /// Revokes the user, e.g. DROP ROLE IF EXISTS "{{username}}"
    #[arg(long, value_name = "STATEMENTS")]
    pub revocation: String,
    /// Runs when a lease is renewed, e.g. ALTER ROLE "{{username}}" VALID UNTIL '{{expiration}}'
    #[arg(long, value_name = "STATEMENTS")]
    pub renew: Option<String>,
    /// A lease's TTL when none is asked: 90s, 15m, 1h, 7d
    #[arg(long, default_value = "1h")]
    pub default_ttl: String,
    /// The longest a lease may live, renewals included [default: 24h]
    #[arg(long)]
    pub max_ttl: Option<String>,
    /// PostgreSQL sslmode (disable, prefer, require, verify-ca, verify-full); MySQL: require
    #[arg(long)]
    pub ssl_mode: Option<String>,
    /// The name of the user name in a lease's data (and in hush run's environment)
    #[arg(long, default_value = "DB_USERNAME")]
    pub username_key: String,
    /// The name of the password in a lease's data
    #[arg(long, default_value = "DB_PASSWORD")]
    pub password_key: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct UpdateArgs {
    /// NAME, or folder/NAME
    pub name: String,
    /// A new name (letters, digits, - and _)
    #[arg(long, value_name = "NAME")]
    pub rename: Option<String>,
    #[arg(long)]
    pub host: Option<String>,
    #[arg(long)]
    pub port: Option<u16>,
    #[arg(long)]
    pub database: Option<String>,
    #[arg(long)]
    pub admin_user: Option<String>,
    /// A file holding the new admin password ('-': standard input)
    #[arg(long, value_name = "FILE")]
    pub admin_password_file: Option<String>,
    /// New creation statements (@FILE reads them from a file)
    #[arg(long, value_name = "STATEMENTS")]
    pub creation: Option<String>,
    #[arg(long, value_name = "STATEMENTS")]
    pub revocation: Option<String>,
    #[arg(long, value_name = "STATEMENTS")]
    pub renew: Option<String>,
    #[arg(long)]
    pub default_ttl: Option<String>,
    #[arg(long)]
    pub max_ttl: Option<String>,
    #[arg(long)]
    pub ssl_mode: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum LeaseAction {
    /// A fresh credential: prints KEY=VALUE lines (or --json)
    Create {
        /// The dynamic secret: NAME, or folder/NAME
        name: String,
        /// The lease's TTL (up to the max TTL) [default: the definition's]
        #[arg(long)]
        ttl: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// A dynamic secret's leases, with revocation failures and retries
    List {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Extend a lease (never past its max TTL from creation)
    Renew {
        /// The lease id (in --path's folder)
        id: String,
        #[arg(long)]
        ttl: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a lease's user now
    Revoke {
        id: String,
        /// Forget the lease without revoking it in the database
        #[arg(long)]
        force: bool,
    },
}

/// The scope of a request about `path` in the context's project and
/// environment (Infisical's dynamic-secret field names).
pub fn scope(ctx: &Resolved, path: &str) -> DynamicScope {
    DynamicScope {
        project_id: Some(ctx.project.clone()),
        environment_slug: Some(ctx.env.clone()),
        path: Some(path.to_owned()),
        ..Default::default()
    }
}

fn query(ctx: &Resolved, path: &str) -> Vec<(&'static str, String)> {
    vec![
        ("projectId", ctx.project.clone()),
        ("environmentSlug", ctx.env.clone()),
        ("path", path.to_owned()),
    ]
}

/// `@FILE` reads the statements from FILE.
fn statements(text: &str) -> Result<String, CliError> {
    match text.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file)
            .map_err(|e| CliError::usage(format!("cannot read statements from {file}: {e}"))),
        None => Ok(text.to_owned()),
    }
}

fn admin_password(file: Option<&str>) -> Result<String, CliError> {
    let text = match file {
        Some("-") => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| CliError::usage(format!("cannot read the admin password: {e}")))?;
            s
        }
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            CliError::usage(format!("cannot read the admin password from {path}: {e}"))
        })?,
        None => std::env::var(PASSWORD_ENV).unwrap_or_default(),
    };
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

fn describe(d: &DynamicSecret) -> String {
    let client = d.inputs["client"].as_str().unwrap_or("redis");
    format!(
        "{} in {} {}: {client} at {}:{} (TTL {}, max {})",
        d.name,
        d.environment,
        d.path,
        d.inputs["host"].as_str().unwrap_or("?"),
        d.inputs["port"],
        d.default_ttl,
        d.max_ttl
    )
}

pub async fn dynamic(args: DynamicArgs) -> anyhow::Result<i32> {
    let ctx = resolve(&args.target)?;
    match args.action {
        DynamicAction::Create(a) => create(&ctx, *a).await?,
        DynamicAction::Update(a) => update(&ctx, *a).await?,
        DynamicAction::List { json } => {
            let mut q = vec![("projectId", ctx.project.clone())];
            if args.target.env.is_some() || std::env::var_os("HUSH_ENV").is_some() {
                q.push(("environmentSlug", ctx.env.clone()));
            }
            let resp: DynamicSecretsList = ctx.client.get_as(ROUTE, &q).await?;
            if json {
                print_json(&serde_json::to_value(&resp.dynamic_secrets)?);
            } else if resp.dynamic_secrets.is_empty() {
                println!("no dynamic secrets; define one with: hush dynamic create NAME --type postgres ...");
            } else {
                let rows = resp
                    .dynamic_secrets
                    .iter()
                    .map(|d| {
                        vec![
                            d.environment.clone(),
                            d.path.clone(),
                            d.name.clone(),
                            d.inputs["client"].as_str().unwrap_or("redis").to_owned(),
                            format!(
                                "{}:{}",
                                d.inputs["host"].as_str().unwrap_or("?"),
                                d.inputs["port"]
                            ),
                            d.default_ttl.clone(),
                            d.max_ttl.clone(),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table(
                        &["ENV", "PATH", "NAME", "TYPE", "HOST", "TTL", "MAX TTL"],
                        rows
                    )
                );
            }
        }
        DynamicAction::Show { name, json } => {
            let (path, name) = split_key(&name, &ctx.path);
            let resp: DynamicSecretEnvelope = ctx
                .client
                .get_as(&format!("{ROUTE}/{name}"), &query(&ctx, &path))
                .await?;
            if json {
                print_json(&serde_json::to_value(&resp.dynamic_secret)?);
            } else {
                let d = &resp.dynamic_secret;
                println!("{}", describe(d));
                println!(
                    "admin user:  {}",
                    d.inputs["username"].as_str().unwrap_or("")
                );
                println!(
                    "output keys: {}, {}",
                    d.output_keys.username, d.output_keys.password
                );
                println!(
                    "creation:    {}",
                    d.inputs["creationStatement"].as_str().unwrap_or("")
                );
                println!(
                    "revocation:  {}",
                    d.inputs["revocationStatement"].as_str().unwrap_or("")
                );
                if let Some(renew) = d.inputs["renewStatement"].as_str() {
                    println!("renewal:     {renew}");
                }
            }
        }
        DynamicAction::Delete { name, force } => {
            let (path, name) = split_key(&name, &ctx.path);
            let body = DynamicDelete {
                scope: scope(&ctx, &path),
                is_forced: force,
            };
            let _: DynamicSecretEnvelope = ctx
                .client
                .send_as(
                    Method::DELETE,
                    &format!("{ROUTE}/{name}"),
                    &serde_json::to_value(&body)?,
                )
                .await?;
            println!("{name} deleted (its leases were revoked)");
        }
        DynamicAction::Lease { action } => lease(&ctx, action).await?,
    }
    Ok(0)
}

async fn create(ctx: &Resolved, a: CreateArgs) -> anyhow::Result<()> {
    let (path, name) = split_key(&a.name, &ctx.path);
    let (kind, client) = match a.kind.as_str() {
        "postgres" | "postgresql" => ("sql-database", Some("postgres")),
        "mysql" | "mariadb" => ("sql-database", Some("mysql")),
        "redis" => ("redis", None),
        other => {
            return Err(CliError::usage(format!(
                "unknown --type {other:?}: use postgres, mysql or redis"
            ))
            .into())
        }
    };
    let body = CreateDynamicSecret {
        name,
        provider: ProviderSpec {
            kind: kind.into(),
            inputs: ProviderInputs {
                client: client.map(str::to_owned),
                host: a.host,
                port: a.port,
                database: a.database,
                username: a.admin_user,
                password: Some(admin_password(a.admin_password_file.as_deref())?),
                creation_statement: statements(&a.creation)?,
                revocation_statement: statements(&a.revocation)?,
                renew_statement: a.renew.as_deref().map(statements).transpose()?,
                ca: None,
                ssl_mode: a.ssl_mode,
            },
        },
        default_ttl: a.default_ttl,
        max_ttl: a.max_ttl,
        scope: scope(ctx, &path),
        metadata: None,
        output_keys: Some(OutputKeys {
            username: a.username_key,
            password: a.password_key,
        }),
    };
    let resp: DynamicSecretEnvelope = ctx
        .client
        .send_as(Method::POST, ROUTE, &serde_json::to_value(&body)?)
        .await?;
    if a.json {
        print_json(&serde_json::to_value(&resp.dynamic_secret)?);
    } else {
        println!("defined {}", describe(&resp.dynamic_secret));
    }
    Ok(())
}

async fn update(ctx: &Resolved, a: UpdateArgs) -> anyhow::Result<()> {
    let (path, name) = split_key(&a.name, &ctx.path);
    let inputs = InputChanges {
        host: a.host,
        port: a.port,
        database: a.database,
        username: a.admin_user,
        password: a
            .admin_password_file
            .as_deref()
            .map(|f| admin_password(Some(f)))
            .transpose()?,
        creation_statement: a.creation.as_deref().map(statements).transpose()?,
        revocation_statement: a.revocation.as_deref().map(statements).transpose()?,
        renew_statement: a.renew.as_deref().map(statements).transpose()?,
        ca: None,
        ssl_mode: a.ssl_mode,
    };
    let any_input = serde_json::to_value(&inputs)?
        .as_object()
        .is_some_and(|o| !o.is_empty());
    let data = DynamicChanges {
        inputs: any_input.then_some(inputs),
        default_ttl: a.default_ttl,
        max_ttl: a.max_ttl,
        new_name: a.rename,
        metadata: None,
        username_template: None,
    };
    if serde_json::to_value(&data)?
        .as_object()
        .is_none_or(|o| o.is_empty())
    {
        return Err(CliError::usage(
            "nothing to change: give at least one option, e.g. --host or --default-ttl",
        )
        .into());
    }
    let body = UpdateDynamicSecret {
        scope: scope(ctx, &path),
        data,
    };
    let resp: DynamicSecretEnvelope = ctx
        .client
        .send_as(
            Method::PATCH,
            &format!("{ROUTE}/{name}"),
            &serde_json::to_value(&body)?,
        )
        .await?;
    if a.json {
        print_json(&serde_json::to_value(&resp.dynamic_secret)?);
    } else {
        println!("changed {}", describe(&resp.dynamic_secret));
    }
    Ok(())
}

/// Creates a lease of `name` (in `path`) with `ttl`.
pub async fn create_lease(
    ctx: &Resolved,
    path: &str,
    name: &str,
    ttl: Option<String>,
) -> Result<LeaseCreated, crate::client::ClientError> {
    let body = CreateLease {
        dynamic_secret_name: name.to_owned(),
        scope: scope(ctx, path),
        ttl,
    };
    let body = serde_json::to_value(&body).unwrap_or_default();
    ctx.client
        .send_as(Method::POST, &format!("{ROUTE}/leases"), &body)
        .await
}

async fn lease(ctx: &Resolved, action: LeaseAction) -> anyhow::Result<()> {
    match action {
        LeaseAction::Create { name, ttl, json } => {
            let (path, name) = split_key(&name, &ctx.path);
            let resp = create_lease(ctx, &path, &name, ttl).await?;
            if json {
                print_json(&serde_json::to_value(&resp)?);
            } else {
                eprintln!(
                    "lease {} of {name}: expires {} (revoke: hush dynamic lease revoke {})",
                    resp.lease.id, resp.lease.expire_at, resp.lease.id
                );
                for (k, v) in &resp.data {
                    println!("{k}={v}");
                }
            }
        }
        LeaseAction::List { name, json } => {
            let (path, name) = split_key(&name, &ctx.path);
            let resp: LeasesList = ctx
                .client
                .get_as(&format!("{ROUTE}/{name}/leases"), &query(ctx, &path))
                .await?;
            if json {
                print_json(&serde_json::to_value(&resp.leases)?);
            } else if resp.leases.is_empty() {
                println!("no leases of {name}");
            } else {
                let rows = resp
                    .leases
                    .into_iter()
                    .map(|l| {
                        let status = match (&l.status, &l.status_details) {
                            (None, _) => "active".to_owned(),
                            (Some(s), Some(d)) => format!("{s}: {d}"),
                            (Some(s), None) => s.clone(),
                        };
                        vec![
                            l.id,
                            l.external_entity_id,
                            l.expire_at,
                            status,
                            l.next_attempt_at
                                .map(|t| format!("retry {t}"))
                                .unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table(&["ID", "USER", "EXPIRES", "STATUS", "NEXT ATTEMPT"], rows)
                );
            }
        }
        LeaseAction::Renew { id, ttl, json } => {
            let body = RenewLease {
                scope: scope(ctx, &ctx.path),
                ttl,
            };
            let resp: LeaseEnvelope = ctx
                .client
                .send_as(
                    Method::POST,
                    &format!("{ROUTE}/leases/{id}/renew"),
                    &serde_json::to_value(&body)?,
                )
                .await?;
            if json {
                print_json(&serde_json::to_value(&resp.lease)?);
            } else {
                println!("lease {id} renewed: expires {}", resp.lease.expire_at);
            }
        }
        LeaseAction::Revoke { id, force } => {
            revoke_lease(ctx, &ctx.path, &id, force).await?;
            println!("lease {id} revoked");
        }
    }
    Ok(())
}

/// Revokes lease `id` of a definition in `path`.
pub async fn revoke_lease(
    ctx: &Resolved,
    path: &str,
    id: &str,
    force: bool,
) -> Result<LeaseEnvelope, crate::client::ClientError> {
    let body = DynamicDelete {
        scope: scope(ctx, path),
        is_forced: force,
    };
    let body = serde_json::to_value(&body).unwrap_or_default();
    ctx.client
        .send_as(Method::DELETE, &format!("{ROUTE}/leases/{id}"), &body)
        .await
}
