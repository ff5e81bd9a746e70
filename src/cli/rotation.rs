//! `hush rotation create|list|show|delete` and `hush rotate KEY`: rotation
//! policies (issue 24). The clap definitions live here with their commands,
//! so `cli/mod.rs` only names them.

use super::context::{resolve, split_key};
use super::output::{print_json, table};
use super::Target;
use crate::api::common::ScopeParams;
use crate::api::rotations::{
    CreateRotation, DbConfig, RotateBody, RotateReport, Rotation, RotationEnvelope, RotationsList,
};
use crate::cli::error::CliError;
use clap::{Args, Subcommand};
use reqwest::Method;

const ROUTE: &str = "/api/v1/hush/rotations";

#[derive(Args)]
pub struct RotationArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: RotationAction,
}

#[derive(Subcommand)]
pub enum RotationAction {
    /// Rotate KEY on a schedule with generated values
    Create {
        /// The secret (KEY, or folder/KEY)
        key: String,
        /// Interval between rotations: 30d, 12h, 90m, 2w
        #[arg(long, conflicts_with = "cron", required_unless_present = "cron")]
        every: Option<String>,
        /// Or a five-field cron schedule in UTC, e.g. "0 3 * * 1"
        #[arg(long)]
        cron: Option<String>,
        /// hex:N, base64:N (N random bytes), uuid, or chars:LEN[:ALPHABET]
        #[arg(long, conflicts_with_all = ["length", "alphabet"])]
        generate: Option<String>,
        /// Characters of a generated value (with --alphabet) [default: 32]
        #[arg(long)]
        length: Option<usize>,
        /// lower, upper, digits, alpha, alnum, urlsafe, symbols (joined by
        /// +), or =CHARACTERS [default: alnum]
        #[arg(long)]
        alphabet: Option<String>,
        /// Only remind: KEY is rotated by hand; when it has not changed
        /// within its period, the policy shows it overdue
        #[arg(long, conflicts_with_all = ["generate", "length", "alphabet"])]
        remind: bool,
        /// The first rotation (RFC 3339) [default: one schedule step from now]
        #[arg(long)]
        next_at: Option<String>,
        #[command(flatten)]
        postgres: Box<PostgresArgs>,
        #[arg(long)]
        json: bool,
    },
    /// The rotation policies you may see, with their last result and next attempt
    List {
        #[arg(long)]
        json: bool,
    },
    /// One secret's rotation policy
    Show {
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// Stop rotating KEY (the secret and its versions stay)
    Delete { key: String },
}

/// A database credential rotated by two-user alternation: KEY is the
/// password secret; the other secrets are in the same folder.
#[derive(Args)]
pub struct PostgresArgs {
    /// Rotate PostgreSQL users A,B (they must exist); needs --admin-secret
    #[arg(long = "postgres-users", value_name = "A,B", requires = "admin_secret")]
    pub users: Option<String>,
    /// Rotate MariaDB users A,B (NAME or NAME@HOST; they must exist)
    #[arg(
        long = "mysql-users",
        value_name = "A,B",
        requires = "admin_secret",
        conflicts_with = "users"
    )]
    pub mysql_users: Option<String>,
    /// The secret holding the admin connection URL
    /// (postgres://admin:PW@host/db or mysql://admin:PW@host:3306/)
    #[arg(long, value_name = "KEY")]
    pub admin_secret: Option<String>,
    /// The secret that names the active user, e.g. DB_USER
    #[arg(long, value_name = "KEY")]
    pub user_secret: Option<String>,
    /// A secret holding a URL built from --url-template, e.g. DATABASE_URL
    #[arg(long, value_name = "KEY", requires = "url_template")]
    pub url_secret: Option<String>,
    /// E.g. 'postgres://{user}:{password}@db:5432/app'
    #[arg(long, value_name = "TEMPLATE", requires = "url_secret")]
    pub url_template: Option<String>,
}

impl PostgresArgs {
    /// `("postgres" | "mysql", settings)`, or None for a value rotation.
    fn body(&self) -> Result<Option<(&'static str, DbConfig)>, CliError> {
        let (field, users) = match (&self.users, &self.mysql_users) {
            (Some(u), _) => ("postgres", u),
            (None, Some(u)) => ("mysql", u),
            (None, None) => {
                if self.admin_secret.is_some()
                    || self.user_secret.is_some()
                    || self.url_secret.is_some()
                {
                    return Err(CliError::usage(
                        "--admin-secret, --user-secret and --url-secret need --postgres-users or --mysql-users",
                    ));
                }
                return Ok(None);
            }
        };
        let users: Vec<&str> = users.split(',').map(str::trim).collect();
        let [a, b] = users[..] else {
            return Err(CliError::usage(format!(
                "--{field}-users takes two users, e.g. app_a,app_b"
            )));
        };
        // clap requires --admin-secret with the users.
        let body = DbConfig {
            admin_secret: self.admin_secret.clone().unwrap_or_default(),
            users: [a.to_owned(), b.to_owned()],
            user_secret: self.user_secret.clone(),
            url_secret: self.url_secret.clone(),
            url_template: self.url_template.clone(),
        };
        Ok(Some((field, body)))
    }
}

#[derive(Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub target: Target,
    /// The secret (KEY, or folder/KEY); it needs a rotation policy
    pub key: String,
    /// Database policies: also change the previous user's password now
    /// (a compromised credential); its connections must reconnect
    #[arg(long)]
    pub revoke_previous: bool,
    #[arg(long)]
    pub json: bool,
}

fn s(v: &Option<String>) -> String {
    v.as_deref().unwrap_or("-").to_owned()
}

/// `--generate`, or `--length`/`--alphabet` as a `chars:` generator.
fn generator(generate: Option<String>, length: Option<usize>, alphabet: Option<String>) -> String {
    generate.unwrap_or_else(|| {
        format!(
            "chars:{}:{}",
            length.unwrap_or(32),
            alphabet.as_deref().unwrap_or("alnum")
        )
    })
}

fn describe(r: &Rotation) -> String {
    format!(
        "{} in {} {}: {}, {} (next {})",
        r.secret_key, r.environment, r.secret_path, r.schedule, r.generator, r.next_rotation_at
    )
}

/// The scope of a request about `path` in the context's project and
/// environment.
fn scope(ctx: &super::context::Resolved, path: &str) -> ScopeParams {
    ScopeParams {
        workspace_id: Some(ctx.project.clone()),
        environment: Some(ctx.env.clone()),
        secret_path: Some(path.to_owned()),
        ..Default::default()
    }
}

pub async fn rotation(args: RotationArgs) -> anyhow::Result<i32> {
    let ctx = resolve(&args.target)?;
    match args.action {
        RotationAction::Create {
            key,
            every,
            cron,
            generate,
            length,
            alphabet,
            remind,
            next_at,
            postgres,
            json,
        } => {
            let (path, key) = split_key(&key, &ctx.path);
            let mut body = CreateRotation {
                scope: scope(&ctx, &path),
                secret_key: key,
                every,
                cron,
                remind,
                next_rotation_at: next_at,
                ..Default::default()
            };
            if !remind {
                body.generator = Some(generator(generate, length, alphabet));
            }
            match postgres.body()? {
                Some(("mysql", db)) => body.mysql = Some(db),
                Some((_, db)) => body.postgres = Some(db),
                None => {}
            }
            let resp: RotationEnvelope = ctx
                .client
                .send_as(Method::POST, ROUTE, &serde_json::to_value(&body)?)
                .await?;
            if json {
                print_json(&serde_json::to_value(&resp.rotation)?);
            } else {
                let verb = if remind { "reminding of" } else { "rotating" };
                println!("{verb} {}", describe(&resp.rotation));
            }
        }
        RotationAction::List { json } => {
            let mut q = vec![("workspaceId", ctx.project.clone())];
            if args.target.env.is_some() || std::env::var_os("HUSH_ENV").is_some() {
                q.push(("environment", ctx.env.clone()));
            }
            let resp: RotationsList = ctx.client.get_as(ROUTE, &q).await?;
            if json {
                print_json(&serde_json::to_value(&resp.rotations)?);
                return Ok(0);
            }
            let rows: Vec<Vec<String>> = resp
                .rotations
                .into_iter()
                .map(|r| {
                    let result = match (r.last_result.as_deref(), r.last_error.as_deref()) {
                        (Some(res), Some(err)) => format!("{res}: {err}"),
                        (Some(res), None) => res.to_owned(),
                        _ => "never ran".into(),
                    };
                    let next = if r.failures > 0 {
                        format!("retry {}", r.next_rotation_at)
                    } else {
                        r.next_rotation_at.clone()
                    };
                    vec![
                        r.environment,
                        r.secret_path,
                        r.secret_key,
                        r.schedule,
                        r.generator,
                        s(&r.last_rotated_at),
                        result,
                        next,
                    ]
                })
                .collect();
            if rows.is_empty() {
                println!("no rotation policies; add one with: hush rotation create KEY --every 30d --generate hex:32");
            } else {
                println!(
                    "{}",
                    table(
                        &[
                            "ENV",
                            "PATH",
                            "KEY",
                            "SCHEDULE",
                            "GENERATOR",
                            "LAST ROTATED",
                            "LAST RESULT",
                            "NEXT"
                        ],
                        rows
                    )
                );
            }
        }
        RotationAction::Show { key, json } => {
            let (path, key) = split_key(&key, &ctx.path);
            let resp: RotationEnvelope = ctx
                .client
                .get_as(&format!("{ROUTE}/{key}"), &ctx.scope_query(&path))
                .await?;
            let r = &resp.rotation;
            if json {
                print_json(&serde_json::to_value(r)?);
            } else {
                println!("{}", describe(r));
                println!("last rotated: {}", s(&r.last_rotated_at));
                println!(
                    "last result:  {}{}",
                    s(&r.last_result),
                    r.last_error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                );
                println!("failures:     {}", r.failures);
                println!("state:        {}", r.state);
            }
        }
        RotationAction::Delete { key } => {
            let (path, key) = split_key(&key, &ctx.path);
            let _: RotationEnvelope = ctx
                .client
                .call_typed(
                    Method::DELETE,
                    &format!("{ROUTE}/{key}"),
                    &ctx.scope_query(&path),
                    None,
                )
                .await?;
            println!("{key} is no longer rotated (its versions stay)");
        }
    }
    Ok(0)
}

pub async fn rotate(args: RotateArgs) -> anyhow::Result<i32> {
    let ctx = resolve(&args.target)?;
    let (path, key) = split_key(&args.key, &ctx.path);
    let body = RotateBody {
        scope: scope(&ctx, &path),
        revoke_previous: args.revoke_previous,
    };
    let resp: RotateReport = ctx
        .client
        .send_as(
            Method::POST,
            &format!("{ROUTE}/{key}/rotate"),
            &serde_json::to_value(&body)?,
        )
        .await
        .map_err(CliError::from)?;
    if args.json {
        print_json(&serde_json::to_value(&resp)?);
    } else {
        match resp.version {
            Some(v) => println!(
                "{key} rotated: version {v}{} (next rotation {})",
                resp.rotation
                    .active_user
                    .as_deref()
                    .map(|u| format!(", database user {u}"))
                    .unwrap_or_default(),
                resp.rotation.next_rotation_at
            ),
            None => println!(
                "{key} changed since the rotation was planned; no new value written (next rotation {})",
                resp.rotation.next_rotation_at
            ),
        }
    }
    Ok(0)
}
