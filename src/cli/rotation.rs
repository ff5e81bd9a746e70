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
        /// The first rotation (RFC 3339) [default: one schedule step from now]
        #[arg(long)]
        next_at: Option<String>,
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

#[derive(Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub target: Target,
    /// The secret (KEY, or folder/KEY); it needs a rotation policy
    pub key: String,
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
            next_at,
            json,
        } => {
            let (path, key) = split_key(&key, &ctx.path);
            let mut body = ctx.scope_body(&path);
            body["secretKey"] = json!(key);
            body["generator"] = json!(generator(generate, length, alphabet));
            if let Some(every) = every {
                body["every"] = json!(every);
            }
            if let Some(cron) = cron {
                body["cron"] = json!(cron);
            }
            if let Some(at) = next_at {
                body["nextRotationAt"] = json!(at);
            }
            let resp = ctx.client.send(Method::POST, ROUTE, &body).await?;
            if json {
                print_json(&resp["rotation"]);
            } else {
                println!("rotating {}", describe(&resp["rotation"]));
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
    let body = ctx.scope_body(&path);
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
                "{key} rotated: version {v} (next rotation {})",
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
