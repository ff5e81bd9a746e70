//! list, get, set, delete, restore, deleted, history, rollback.

use super::context::{resolve, split_key, Resolved};
use super::output::{print_json, table};
use super::set_warnings;
use super::Target;
use crate::client::ClientError;
use crate::error::CliError;
use clap::Args;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use zeroize::Zeroizing;

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn tags_text(secret: &Value) -> String {
    secret["tags"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t["name"].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub recursive: bool,
    /// Show values (audited as a read of each value)
    #[arg(long)]
    pub reveal: bool,
    /// Values as stored: do not expand ${KEY} references
    #[arg(long)]
    pub no_expand: bool,
    #[arg(long)]
    pub json: bool,
}

pub async fn list(args: ListArgs) -> anyhow::Result<i32> {
    let ListArgs {
        target,
        recursive,
        reveal,
        no_expand,
        json,
    } = args;
    let expand = !no_expand;
    let ctx = resolve(&target)?;
    let mut q = ctx.scope_query(&ctx.path);
    q.push(("recursive", recursive.to_string()));
    q.push(("viewSecretValue", reveal.to_string()));
    q.push(("expandSecretReferences", expand.to_string()));
    let resp = ctx.client.get("/api/v3/secrets/raw", &q).await?;
    let secrets = resp["secrets"].as_array().cloned().unwrap_or_default();
    if json {
        let out: Vec<Value> = secrets
            .iter()
            .map(|x| {
                let mut o = json!({
                    "id": x["id"], "key": x["secretKey"], "path": x["secretPath"], "version": x["version"],
                    "description": x["secretComment"], "tags": x["tags"], "createdAt": x["createdAt"], "updatedAt": x["updatedAt"],
                });
                if reveal {
                    o["value"] = x["secretValue"].clone();
                }
                o
            })
            .collect();
        print_json(&Value::Array(out));
        return Ok(0);
    }
    if secrets.is_empty() {
        eprintln!(
            "no secrets in {} {} of project {}",
            ctx.env, ctx.path, ctx.project
        );
        return Ok(0);
    }
    let rows = secrets
        .iter()
        .map(|x| {
            let key = if recursive && x["secretPath"] != "/" {
                format!("{}/{}", s(&x["secretPath"]), s(&x["secretKey"]))
            } else {
                s(&x["secretKey"])
            };
            let value = if reveal {
                s(&x["secretValue"])
            } else {
                "****".to_owned()
            };
            vec![
                key,
                value,
                s(&x["createdAt"]),
                s(&x["updatedAt"]),
                s(&x["version"]),
                tags_text(x),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &[
                "Key",
                "Value",
                "Created",
                "Last Modified",
                "Version",
                "Metadata"
            ],
            rows
        )
    );
    Ok(0)
}

#[derive(Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub target: Target,
    /// KEY, or folder/KEY (e.g. prod/api/API_KEY)
    pub key: String,
    #[arg(long)]
    pub version: Option<i64>,
    /// Never add a trailing newline
    #[arg(long)]
    pub plain: bool,
    /// Values as stored: do not expand ${KEY} references
    #[arg(long)]
    pub no_expand: bool,
    #[arg(long)]
    pub json: bool,
}

pub async fn get(args: GetArgs) -> anyhow::Result<i32> {
    let GetArgs {
        target,
        key: raw_key,
        version,
        plain,
        no_expand,
        json,
    } = args;
    let expand = !no_expand;
    let raw_key = raw_key.as_str();
    let ctx = resolve(&target)?;
    let (path, key) = split_key(raw_key, &ctx.path);
    let mut q = ctx.scope_query(&path);
    q.push(("expandSecretReferences", expand.to_string()));
    if let Some(v) = version {
        q.push(("version", v.to_string()));
    }
    let resp = ctx
        .client
        .get(&format!("/api/v3/secrets/raw/{key}"), &q)
        .await?;
    let secret = &resp["secret"];
    if json {
        print_json(&json!({
            "id": secret["id"], "key": secret["secretKey"], "value": secret["secretValue"], "version": secret["version"],
            "path": secret["secretPath"], "environment": secret["environment"], "description": secret["secretComment"],
            "tags": secret["tags"], "createdAt": secret["createdAt"], "updatedAt": secret["updatedAt"],
        }));
        return Ok(0);
    }
    let value = Zeroizing::new(
        secret["secretValue"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    );
    let mut out = std::io::stdout().lock();
    out.write_all(value.as_bytes())?;
    if !plain && std::io::stdout().is_terminal() {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(0)
}

#[derive(Args)]
pub struct SetArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(required = true)]
    pub items: Vec<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// key=value metadata (repeatable)
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Fail unless the current version is N (0: only create)
    #[arg(long)]
    pub if_version: Option<i64>,
    #[arg(long)]
    pub from_file: Option<PathBuf>,
    /// Do not warn about values given on the command line
    #[arg(long)]
    pub no_history_hint: bool,
    #[arg(long)]
    pub json: bool,
}

/// `hush create`: the flags of `set` but `--if-version`, which is 0.
#[derive(Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub target: Target,
    /// KEY=VALUE..., KEY --from-file FILE, or KEY - (value from stdin)
    #[arg(required = true)]
    pub items: Vec<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// key=value metadata (repeatable)
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    #[arg(long)]
    pub from_file: Option<PathBuf>,
    /// Do not warn about values given on the command line
    #[arg(long)]
    pub no_history_hint: bool,
    #[arg(long)]
    pub json: bool,
}

/// Create is set with `ifVersion: 0`: one write path for both.
impl From<CreateArgs> for SetArgs {
    fn from(c: CreateArgs) -> SetArgs {
        SetArgs {
            target: c.target,
            items: c.items,
            description: c.description,
            tags: c.tags,
            if_version: Some(0),
            from_file: c.from_file,
            no_history_hint: c.no_history_hint,
            json: c.json,
        }
    }
}

/// (raw key, value, came from the command line)
fn parse_items(args: &SetArgs) -> Result<Vec<(String, Zeroizing<String>, bool)>, CliError> {
    let mut out = Vec::new();
    if let Some(file) = &args.from_file {
        if args.items.len() != 1 || args.items[0].contains('=') {
            return Err(CliError::usage(
                "--from-file takes exactly one KEY (hush set KEY --from-file FILE)",
            ));
        }
        let bytes = std::fs::read(file)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            CliError::usage(format!(
                "{} is not UTF-8 text; base64-encode binary files first",
                file.display()
            ))
        })?;
        out.push((args.items[0].clone(), Zeroizing::new(text), false));
        return Ok(out);
    }
    for item in &args.items {
        if let Some((key, value)) = item.split_once('=') {
            out.push((key.to_owned(), Zeroizing::new(value.to_owned()), true));
        } else if let Some(key) = item
            .strip_suffix(" -")
            .or((args.items.len() == 2 && args.items[1] == "-").then_some(item.as_str()))
        {
            let mut text = Zeroizing::new(String::new());
            std::io::stdin().read_to_string(&mut text).map_err(|e| {
                CliError::usage(format!(
                    "cannot read the value from stdin (it must be UTF-8 text): {e}"
                ))
            })?;
            out.push((key.to_owned(), text, false));
            break;
        } else {
            return Err(CliError::usage(format!("expected KEY=VALUE, KEY - (value from stdin) or KEY --from-file FILE, got {item:?}")));
        }
    }
    Ok(out)
}

pub async fn set(args: SetArgs) -> anyhow::Result<i32> {
    write_items(args, false).await
}

/// `hush create`: `set` with `ifVersion: 0`, so an existing key is a conflict.
pub async fn create(args: CreateArgs) -> anyhow::Result<i32> {
    write_items(args.into(), true).await
}

fn already_exists(key: &str, path: &str, message: &str) -> CliError {
    let version = message
        .split("current version is ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .filter(|v| !v.is_empty())
        .map(|v| format!(" (version {v})"))
        .unwrap_or_default();
    CliError::new(
        crate::error::EXIT_CONFLICT,
        format!("{key} already exists in {path}{version}; nothing was changed"),
        Some(format!(
            "use 'hush set {key}=...' to change it, or 'hush delete {key}' first"
        )),
    )
}

async fn write_items(args: SetArgs, create_only: bool) -> anyhow::Result<i32> {
    let ctx = resolve(&args.target)?;
    let items = parse_items(&args)?;
    if items.iter().any(|i| i.2) && !args.no_history_hint && std::io::stderr().is_terminal() {
        eprintln!("hush: note: values given as KEY=VALUE stay in your shell history; prefer: hush set KEY - < file (or --from-file)");
    }
    let mut results = Vec::new();
    for (raw_key, value, _) in &items {
        let (path, key) = split_key(raw_key, &ctx.path);
        let mut body = ctx.scope_body(&path);
        body["secretValue"] = json!(value.as_str());
        if let Some(d) = &args.description {
            body["secretComment"] = json!(d);
        }
        if !args.tags.is_empty() {
            body["tags"] = json!(args.tags);
        }
        if let Some(v) = args.if_version {
            body["ifVersion"] = json!(v);
        }
        let resp = match ctx
            .client
            .send(Method::PUT, &format!("/api/v1/hush/secrets/{key}"), &body)
            .await
        {
            Err(ClientError::Api {
                status: 409,
                message,
                ..
            }) if create_only => return Err(already_exists(&key, &path, &message).into()),
            other => other?,
        };
        let version = resp["secret"]["version"].as_i64().unwrap_or(0);
        let previous = resp["previousVersion"].as_i64().unwrap_or(0);
        if args.json {
            results.push(json!({ "id": resp["secret"]["id"], "key": key, "path": path, "version": version, "previousVersion": previous }));
        } else if previous == 0 {
            println!("{key} created: version {version}");
        } else {
            println!("{key} updated: version {previous} -> {version}");
        }
    }
    if args.json {
        print_json(&Value::Array(results));
    }
    // After every write, so a value may reference a key set in the same call.
    for (raw_key, value, _) in &items {
        let (path, key) = split_key(raw_key, &ctx.path);
        set_warnings::dangerous_name(&key);
        let home = (ctx.env.clone(), path);
        set_warnings::unresolvable_references(&ctx, &home, &key, value).await;
    }
    Ok(0)
}

fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).is_ok() && matches!(line.trim(), "y" | "Y" | "yes")
}

#[derive(Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(required = true)]
    pub keys: Vec<String>,
    /// Remove for good, with history (admins)
    #[arg(long)]
    pub purge: bool,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
}

pub async fn delete(args: DeleteArgs) -> anyhow::Result<i32> {
    let DeleteArgs {
        target,
        keys,
        purge,
        yes,
    } = args;
    let keys = keys.as_slice();
    let ctx = resolve(&target)?;
    if purge && !yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::usage(
                "--purge deletes for good; pass --yes to confirm when not on a terminal",
            )
            .into());
        }
        if !confirm(&format!(
            "Permanently delete {} and all their versions?",
            keys.join(", ")
        )) {
            eprintln!("hush: nothing deleted");
            return Ok(1);
        }
    }
    for raw in keys {
        let (path, key) = split_key(raw, &ctx.path);
        let body = ctx.scope_body(&path);
        if purge {
            ctx.client
                .send(
                    Method::POST,
                    &format!("/api/v1/hush/secrets/{key}/purge"),
                    &body,
                )
                .await?;
            println!("{key} purged (not recoverable)");
        } else {
            let resp = ctx
                .client
                .send(Method::DELETE, &format!("/api/v3/secrets/raw/{key}"), &body)
                .await?;
            println!(
                "{key} deleted; recoverable until {} with: hush restore {raw}",
                resp["secret"]["recoverableUntil"].as_str().unwrap_or("?")
            );
        }
    }
    Ok(0)
}

#[derive(Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub target: Target,
    pub key: String,
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<i32> {
    let RestoreArgs { target, key: raw } = args;
    let raw = raw.as_str();
    let ctx = resolve(&target)?;
    let (path, key) = split_key(raw, &ctx.path);
    let resp = ctx
        .client
        .send(
            Method::POST,
            &format!("/api/v1/hush/secrets/{key}/restore"),
            &ctx.scope_body(&path),
        )
        .await?;
    println!("{key} restored at version {}", resp["secret"]["version"]);
    Ok(0)
}

#[derive(Args)]
pub struct DeletedArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub json: bool,
}

pub async fn deleted(args: DeletedArgs) -> anyhow::Result<i32> {
    let DeletedArgs { target, json } = args;
    let ctx = resolve(&target)?;
    let resp = ctx
        .client
        .get("/api/v1/hush/deleted", &ctx.scope_query(&ctx.path))
        .await?;
    let list = resp["secrets"].as_array().cloned().unwrap_or_default();
    if json {
        let out: Vec<Value> = list.iter().map(|x| json!({ "id": x["id"], "key": x["secretKey"], "version": x["version"], "deletedAt": x["deletedAt"], "recoverableUntil": x["recoverableUntil"] })).collect();
        print_json(&Value::Array(out));
        return Ok(0);
    }
    if list.is_empty() {
        eprintln!("no deleted secrets in {} {}", ctx.env, ctx.path);
        return Ok(0);
    }
    let rows = list
        .iter()
        .map(|x| {
            vec![
                s(&x["secretKey"]),
                s(&x["version"]),
                s(&x["deletedAt"]),
                s(&x["recoverableUntil"]),
            ]
        })
        .collect();
    println!(
        "{}",
        table(&["Key", "Version", "Deleted", "Recoverable until"], rows)
    );
    Ok(0)
}

async fn fetch_history(ctx: &Resolved, raw: &str, reveal: bool) -> anyhow::Result<Vec<Value>> {
    let (path, key) = split_key(raw, &ctx.path);
    let mut q = ctx.scope_query(&path);
    q.push(("reveal", reveal.to_string()));
    let resp = ctx
        .client
        .get(&format!("/api/v1/hush/secrets/{key}/history"), &q)
        .await?;
    Ok(resp["versions"].as_array().cloned().unwrap_or_default())
}

#[derive(Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub target: Target,
    pub key: String,
    #[arg(long)]
    pub reveal: bool,
    #[arg(long)]
    pub json: bool,
}

pub async fn history(args: HistoryArgs) -> anyhow::Result<i32> {
    let HistoryArgs {
        target,
        key,
        reveal,
        json,
    } = args;
    let raw = key.as_str();
    let ctx = resolve(&target)?;
    let versions = fetch_history(&ctx, raw, reveal).await?;
    if json {
        let out: Vec<Value> = versions
            .iter()
            .map(|v| {
                let mut o = json!({ "version": v["version"], "createdAt": v["updatedAt"], "actor": v["actor"], "action": v["action"], "description": v["secretComment"], "tags": v["tags"] });
                if reveal {
                    o["value"] = v["secretValue"].clone();
                }
                o
            })
            .collect();
        print_json(&Value::Array(out));
        return Ok(0);
    }
    let rows = versions
        .iter()
        .map(|v| {
            let mut row = vec![
                s(&v["version"]),
                s(&v["updatedAt"]),
                s(&v["actor"]),
                s(&v["action"]),
            ];
            if reveal {
                row.push(s(&v["secretValue"]));
            }
            row
        })
        .collect();
    let mut header = vec!["Version", "Date", "Actor", "Action"];
    if reveal {
        header.push("Value");
    }
    println!("{}", table(&header, rows));
    Ok(0)
}

#[derive(Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub target: Target,
    pub key: String,
    #[arg(long)]
    pub version: i64,
}

pub async fn rollback(args: RollbackArgs) -> anyhow::Result<i32> {
    let RollbackArgs {
        target,
        key: raw,
        version,
    } = args;
    let raw = raw.as_str();
    let ctx = resolve(&target)?;
    let (path, key) = split_key(raw, &ctx.path);
    let mut body = ctx.scope_body(&path);
    body["version"] = json!(version);
    let resp = ctx
        .client
        .send(
            Method::POST,
            &format!("/api/v1/hush/secrets/{key}/rollback"),
            &body,
        )
        .await?;
    println!(
        "{key} rolled back to version {version}: version {} -> {}",
        resp["previousVersion"], resp["secret"]["version"]
    );
    Ok(0)
}
