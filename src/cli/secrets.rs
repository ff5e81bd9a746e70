//! list, get, set, delete, restore, deleted, history, rollback.

use super::context::{resolve, split_key, Resolved};
use super::output::{print_json, table};
use super::set_warnings;
use super::Target;
use crate::api::secrets::{
    DeletedAnswer, DeletedList, History, HistoryVersion, RolledBack, Secret, SecretEnvelope,
    SecretList, Written,
};
use crate::cli::error::CliError;
use crate::client::ClientError;
use clap::Args;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use zeroize::Zeroizing;

fn tags_text(secret: &Secret) -> String {
    secret
        .tags
        .iter()
        .map(|t| t.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn tags_json(secret: &Secret) -> Value {
    serde_json::to_value(&secret.tags).unwrap_or(Value::Null)
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
    let resp: SecretList = ctx.client.get_as("/api/v3/secrets/raw", &q).await?;
    let marks = super::rotation_marks::Marks::fetch(&ctx).await;
    // Without `fields`, the server answers whole secrets only.
    let secrets: Vec<Secret> = resp
        .secrets
        .into_iter()
        .filter_map(|x| match x {
            crate::api::secrets::Listed::Whole(s) => Some(s),
            crate::api::secrets::Listed::Pair(_) => None,
        })
        .collect();
    if json {
        let out: Vec<Value> = secrets
            .iter()
            .map(|x| {
                let mut o = json!({
                    "id": x.id, "key": x.secret_key, "path": x.secret_path, "version": x.version,
                    "description": x.secret_comment, "tags": tags_json(x), "createdAt": x.created_at, "updatedAt": x.updated_at,
                });
                if reveal {
                    o["value"] = json!(x.secret_value);
                }
                if let Some(mark) = marks.of(&x.secret_path, &x.secret_key) {
                    o["rotation"] = json!(mark);
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
    let with_marks = secrets
        .iter()
        .any(|x| marks.of(&x.secret_path, &x.secret_key).is_some());
    let rows = secrets
        .iter()
        .map(|x| {
            let key = if recursive && x.secret_path != "/" {
                format!("{}/{}", x.secret_path, x.secret_key)
            } else {
                x.secret_key.to_string()
            };
            let value = if reveal {
                x.secret_value.to_string()
            } else {
                "****".to_owned()
            };
            let mut row = vec![
                key,
                value,
                x.created_at.clone(),
                x.updated_at.clone(),
                x.version.to_string(),
                tags_text(x),
            ];
            // The column appears only when a listed secret has a policy.
            if with_marks {
                let mark = marks.of(&x.secret_path, &x.secret_key);
                row.push(mark.unwrap_or("").to_owned());
            }
            row
        })
        .collect();
    let mut headers = vec![
        "Key",
        "Value",
        "Created",
        "Last Modified",
        "Version",
        "Metadata",
    ];
    if with_marks {
        headers.push("Rotation");
    }
    println!("{}", table(&headers, rows));
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
    let resp: SecretEnvelope = ctx
        .client
        .get_as(&format!("/api/v3/secrets/raw/{key}"), &q)
        .await?;
    let secret = &resp.secret;
    if json {
        print_json(&json!({
            "id": secret.id, "key": secret.secret_key, "value": secret.secret_value, "version": secret.version,
            "path": secret.secret_path, "environment": secret.environment, "description": secret.secret_comment,
            "tags": tags_json(secret), "createdAt": secret.created_at, "updatedAt": secret.updated_at,
        }));
        return Ok(0);
    }
    let value = Zeroizing::new(secret.secret_value.to_string());
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
        crate::cli::error::EXIT_CONFLICT,
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
        let resp: Written = match ctx
            .client
            .send_as(Method::PUT, &format!("/api/v1/hush/secrets/{key}"), &body)
            .await
        {
            Err(ClientError::Api {
                status: 409,
                message,
                ..
            }) if create_only => return Err(already_exists(&key, &path, &message).into()),
            other => other?,
        };
        let version = resp.secret.version;
        let previous = resp.previous_version.unwrap_or(0);
        if args.json {
            results.push(json!({ "id": resp.secret.id, "key": key, "path": path, "version": version, "previousVersion": previous }));
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
            let resp: DeletedAnswer = ctx
                .client
                .send_as(Method::DELETE, &format!("/api/v3/secrets/raw/{key}"), &body)
                .await?;
            let until = resp.secret.recoverable_until.as_deref();
            println!(
                "{key} deleted; recoverable until {} with: hush restore {raw}",
                until.unwrap_or("?")
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
    let resp: SecretEnvelope = ctx
        .client
        .send_as(
            Method::POST,
            &format!("/api/v1/hush/secrets/{key}/restore"),
            &ctx.scope_body(&path),
        )
        .await?;
    println!("{key} restored at version {}", resp.secret.version);
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
    let resp: DeletedList = ctx
        .client
        .get_as("/api/v1/hush/deleted", &ctx.scope_query(&ctx.path))
        .await?;
    let list = resp.secrets;
    if json {
        let out: Vec<Value> = list.iter().map(|x| json!({ "id": x.id, "key": x.secret_key, "version": x.version, "deletedAt": x.deleted_at, "recoverableUntil": x.recoverable_until })).collect();
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
                x.secret_key.clone(),
                x.version.to_string(),
                x.deleted_at.clone().unwrap_or_default(),
                x.recoverable_until.clone().unwrap_or_default(),
            ]
        })
        .collect();
    println!(
        "{}",
        table(&["Key", "Version", "Deleted", "Recoverable until"], rows)
    );
    Ok(0)
}

async fn fetch_history(
    ctx: &Resolved,
    raw: &str,
    reveal: bool,
) -> anyhow::Result<Vec<HistoryVersion<'static>>> {
    let (path, key) = split_key(raw, &ctx.path);
    let mut q = ctx.scope_query(&path);
    q.push(("reveal", reveal.to_string()));
    let resp: History = ctx
        .client
        .get_as(&format!("/api/v1/hush/secrets/{key}/history"), &q)
        .await?;
    Ok(resp.versions)
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
                let x = &v.secret;
                let mut o = json!({ "version": x.version, "createdAt": x.updated_at, "actor": v.actor, "action": v.action, "description": x.secret_comment, "tags": tags_json(x) });
                if reveal {
                    o["value"] = json!(x.secret_value);
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
                v.secret.version.to_string(),
                v.secret.updated_at.clone(),
                v.actor.clone(),
                v.action.clone(),
            ];
            if reveal {
                row.push(v.secret.secret_value.to_string());
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
    let resp: RolledBack = ctx
        .client
        .send_as(
            Method::POST,
            &format!("/api/v1/hush/secrets/{key}/rollback"),
            &body,
        )
        .await?;
    println!(
        "{key} rolled back to version {version}: version {} -> {}",
        resp.previous_version, resp.secret.version
    );
    Ok(0)
}
