//! `hush import FILE`: validate everything first, then write every secret in one
//! all-or-nothing request (`POST /api/v1/hush/secrets/batch`), so a failure
//! leaves the folder exactly as it was.

use super::context::resolve;
use super::formats::{self, ImportFormat};
use super::output::print_json;
use super::Target;
use crate::api::secrets::{BatchResult, Listed, SecretList};
use crate::cli::error::{CliError, EXIT_CONFLICT, EXIT_USAGE};
use crate::client::ClientError;
use crate::secret::SecretKey;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The server's limit on one value.
const MAX_VALUE_BYTES: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnExisting {
    /// Fail, naming the keys that exist, before writing anything.
    Fail,
    Overwrite,
    Skip,
}

fn guess_format(file: &Path) -> ImportFormat {
    match file.extension().and_then(|e| e.to_str()) {
        Some("json") => ImportFormat::Json,
        Some("yaml") | Some("yml") => ImportFormat::Yaml,
        _ => ImportFormat::Dotenv,
    }
}

fn read_input(file: &Path) -> Result<Zeroizing<String>, CliError> {
    let mut text = Zeroizing::new(String::new());
    let result = if file == Path::new("-") {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_string(&mut text).map(|_| ()))
    };
    result.map_err(|e| {
        CliError::new(
            EXIT_USAGE,
            format!("cannot read {}: {e}", file.display()),
            Some("pass a readable UTF-8 file, or - for stdin".to_owned()),
        )
    })?;
    Ok(text)
}

fn bar(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Every problem with the file's entries, not just the first.
fn validate(pairs: &formats::Pairs) -> Result<(), CliError> {
    let progress = bar(pairs.len() as u64);
    progress.set_message("checking");
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for (key, value) in pairs {
        if let Err(e) = SecretKey::parse(key) {
            problems.push(e.to_string());
        }
        if !seen.insert(key.as_str()) {
            problems.push(format!("{key} appears more than once"));
        }
        if value.len() > MAX_VALUE_BYTES {
            problems.push(format!(
                "{key}: the value is {} bytes; the limit is {MAX_VALUE_BYTES}",
                value.len()
            ));
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    if problems.is_empty() {
        return Ok(());
    }
    Err(CliError::new(
        EXIT_USAGE,
        format!(
            "nothing imported: {} problem(s): {}",
            problems.len(),
            problems.join("; ")
        ),
        Some("fix the file and run the import again".to_owned()),
    ))
}

#[derive(Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub target: Target,
    /// The file to read ('-': stdin)
    pub file: PathBuf,
    /// [default: from the file's extension, else dotenv]
    #[arg(long, value_enum)]
    pub format: Option<ImportFormat>,
    /// Replace the values of keys that exist
    #[arg(long, conflicts_with = "skip_existing")]
    pub overwrite: bool,
    /// Leave keys that exist as they are
    #[arg(long)]
    pub skip_existing: bool,
    #[arg(long)]
    pub json: bool,
}

impl ImportArgs {
    fn on_existing(&self) -> OnExisting {
        match (self.overwrite, self.skip_existing) {
            (true, _) => OnExisting::Overwrite,
            (_, true) => OnExisting::Skip,
            _ => OnExisting::Fail,
        }
    }
}

pub async fn import(args: ImportArgs) -> anyhow::Result<i32> {
    let on_existing = args.on_existing();
    let ImportArgs {
        target,
        file,
        format,
        json,
        ..
    } = args;
    let file = file.as_path();
    let ctx = resolve(&target)?;
    let text = read_input(file)?;
    let format = format.unwrap_or_else(|| guess_format(file));
    let cannot_parse = |e: formats::FormatError| {
        CliError::new(
            EXIT_USAGE,
            format!("cannot parse {}: {e}", file.display()),
            Some("check the file, or pass --format dotenv|json|yaml".to_owned()),
        )
    };
    let pairs = if format == ImportFormat::Dotenv {
        let (pairs, substituted) = formats::parse_dotenv(&text).map_err(cannot_parse)?;
        if !substituted.is_empty() {
            eprintln!(
                "hush: warning: {}: '$NAME' in these values was filled only from earlier keys of {} (never from your environment; an undefined name became empty); put a value in '...' to keep its '$' as written",
                substituted.join(", "),
                file.display()
            );
        }
        pairs
    } else {
        formats::parse(format, &text).map_err(cannot_parse)?
    };
    let with_dollar: Vec<&str> = pairs
        .iter()
        .filter(|(_, v)| v.contains('$'))
        .map(|(k, _)| k.as_str())
        .collect();
    if !with_dollar.is_empty() {
        eprintln!(
            "hush: warning: values of {} contain '$': stored as written, but '${{KEY}}' in a stored value is a secret reference that hush expands (write '$${{' for a literal '${{')",
            with_dollar.join(", ")
        );
    }
    if pairs.is_empty() {
        return Err(CliError::usage(format!("{} holds no secrets", file.display())).into());
    }
    validate(&pairs)?;

    let mut q = ctx.scope_query(&ctx.path);
    q.push(("viewSecretValue", "false".into()));
    let listed: SecretList = ctx.client.get_as("/api/v3/secrets/raw", &q).await?;
    // key -> id of the secrets already in the folder.
    let existing: BTreeMap<String, Value> = listed
        .secrets
        .iter()
        .filter_map(|s| match s {
            Listed::Whole(s) => Some((s.secret_key.to_string(), json!(s.id))),
            Listed::Pair(_) => None,
        })
        .collect();
    let clashing: Vec<&str> = pairs
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| existing.contains_key(*k))
        .collect();
    if on_existing == OnExisting::Fail && !clashing.is_empty() {
        return Err(CliError::new(
            EXIT_CONFLICT,
            format!(
                "nothing imported: {} key(s) already exist in {} {}: {}",
                clashing.len(),
                ctx.env,
                ctx.path,
                clashing.join(", ")
            ),
            Some("pass --overwrite to replace them or --skip-existing to keep them".to_owned()),
        )
        .into());
    }
    let (to_write, skipped): (Vec<_>, Vec<_>) = pairs
        .iter()
        .partition(|(k, _)| on_existing != OnExisting::Skip || !existing.contains_key(k.as_str()));
    let items: Vec<Value> = to_write
        .iter()
        .map(|(k, v)| {
            let mut item = json!({ "secretKey": k, "secretValue": v.as_str() });
            // Creates must still be creates when the request lands: a key that
            // appeared meanwhile fails the whole batch instead of being replaced.
            if on_existing != OnExisting::Overwrite || !existing.contains_key(k.as_str()) {
                item["ifVersion"] = json!(0);
            }
            item
        })
        .collect();
    let mut results = Vec::new();
    let (mut created, mut updated) = (0, 0);
    if !items.is_empty() {
        let mut body = ctx.scope_body(&ctx.path);
        body["secrets"] = Value::Array(items);
        let spinner = bar(1);
        spinner.set_message(format!("importing {} secret(s)", to_write.len()));
        let sent = ctx
            .client
            .send_as::<BatchResult>(Method::POST, "/api/v1/hush/secrets/batch", &body)
            .await;
        spinner.finish_and_clear();
        let resp = match sent {
            Err(ClientError::Api { status: 409, .. }) => {
                return Err(CliError::new(
                    EXIT_CONFLICT,
                    format!(
                        "nothing imported: a key in {} {} was created or changed while importing",
                        ctx.env, ctx.path
                    ),
                    Some("run the import again".to_owned()),
                )
                .into())
            }
            other => other?,
        };
        for s in resp.secrets {
            let action = if s.previous_version == 0 {
                created += 1;
                "created"
            } else {
                updated += 1;
                "updated"
            };
            results.push(
                json!({ "id": s.id, "key": s.secret_key, "version": s.version, "action": action }),
            );
        }
    }
    for (k, _) in &skipped {
        let id = existing.get(k.as_str()).cloned().unwrap_or(Value::Null);
        results.push(json!({ "id": id, "key": k, "action": "skipped" }));
    }
    if json {
        print_json(&Value::Array(results));
    } else {
        println!(
            "imported {} into {} {}: {created} created, {updated} updated, {} skipped",
            file.display(),
            ctx.env,
            ctx.path,
            skipped.len()
        );
    }
    Ok(0)
}
