//! `hush rotation create|list|show|delete` and `hush rotate KEY`: rotation
//! policies (issue 24). The clap definitions live here with their commands,
//! so `cli/mod.rs` only names them.

use super::context::{resolve, split_key};
use super::output::{print_json, table};
use super::Target;
use crate::error::CliError;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

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
    fn body(&self) -> Result<Option<(&'static str, Value)>, CliError> {
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
        let mut body = json!({ "adminSecret": self.admin_secret, "users": [a, b] });
        for (field, value) in [
            ("userSecret", &self.user_secret),
            ("urlSecret", &self.url_secret),
            ("urlTemplate", &self.url_template),
        ] {
            if let Some(v) = value {
                body[field] = json!(v);
            }
        }
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

fn s(v: &Value) -> String {
    v.as_str().unwrap_or("-").to_owned()
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

fn describe(r: &Value) -> String {
    format!(
        "{} in {} {}: {}, {} (next {})",
        s(&r["secretKey"]),
        s(&r["environment"]),
        s(&r["secretPath"]),
        s(&r["schedule"]),
        s(&r["generator"]),
        s(&r["nextRotationAt"])
    )
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
            let mut body = ctx.scope_body(&path);
            body["secretKey"] = json!(key);
            if remind {
                body["remind"] = json!(true);
            } else {
                body["generator"] = json!(generator(generate, length, alphabet));
            }
            if let Some(every) = every {
                body["every"] = json!(every);
            }
            if let Some(cron) = cron {
                body["cron"] = json!(cron);
            }
            if let Some(at) = next_at {
                body["nextRotationAt"] = json!(at);
            }
            if let Some((field, db)) = postgres.body()? {
                body[field] = db;
            }
            let resp = ctx.client.send(Method::POST, ROUTE, &body).await?;
            if json {
                print_json(&resp["rotation"]);
            } else {
                let verb = if remind { "reminding of" } else { "rotating" };
                println!("{verb} {}", describe(&resp["rotation"]));
            }
        }
        RotationAction::List { json } => {
            let mut q = vec![("workspaceId", ctx.project.clone())];
            if args.target.env.is_some() || std::env::var_os("HUSH_ENV").is_some() {
                q.push(("environment", ctx.env.clone()));
            }
            let resp = ctx.client.get(ROUTE, &q).await?;
            if json {
                print_json(&resp["rotations"]);
                return Ok(0);
            }
            let rows: Vec<Vec<String>> = resp["rotations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    let result = match (r["lastResult"].as_str(), r["lastError"].as_str()) {
                        (Some(res), Some(err)) => format!("{res}: {err}"),
                        (Some(res), None) => res.to_owned(),
                        _ => "never ran".into(),
                    };
                    let next = if r["failures"].as_i64().unwrap_or(0) > 0 {
                        format!("retry {}", s(&r["nextRotationAt"]))
                    } else {
                        s(&r["nextRotationAt"])
                    };
                    vec![
                        s(&r["environment"]),
                        s(&r["secretPath"]),
                        s(&r["secretKey"]),
                        s(&r["schedule"]),
                        s(&r["generator"]),
                        s(&r["lastRotatedAt"]),
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
            let resp = ctx
                .client
                .get(&format!("{ROUTE}/{key}"), &ctx.scope_query(&path))
                .await?;
            let r = &resp["rotation"];
            if json {
                print_json(r);
            } else {
                println!("{}", describe(r));
                println!("last rotated: {}", s(&r["lastRotatedAt"]));
                println!(
                    "last result:  {}{}",
                    s(&r["lastResult"]),
                    r["lastError"]
                        .as_str()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                );
                println!("failures:     {}", r["failures"]);
                println!("state:        {}", s(&r["state"]));
            }
        }
        RotationAction::Delete { key } => {
            let (path, key) = split_key(&key, &ctx.path);
            ctx.client
                .call(
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
    let mut body = ctx.scope_body(&path);
    body["revokePrevious"] = json!(args.revoke_previous);
    let resp = ctx
        .client
        .send(Method::POST, &format!("{ROUTE}/{key}/rotate"), &body)
        .await
        .map_err(CliError::from)?;
    if args.json {
        print_json(&resp);
    } else {
        match resp["version"].as_i64() {
            Some(v) => println!(
                "{key} rotated: version {v}{} (next rotation {})",
                resp["rotation"]["activeUser"]
                    .as_str()
                    .map(|u| format!(", database user {u}"))
                    .unwrap_or_default(),
                s(&resp["rotation"]["nextRotationAt"])
            ),
            None => println!(
                "{key} changed since the rotation was planned; no new value written (next rotation {})",
                s(&resp["rotation"]["nextRotationAt"])
            ),
        }
    }
    Ok(0)
}
