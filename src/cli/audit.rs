//! `hush audit` and `hush audit verify`.

use super::context::resolve;
use super::output::{print_json, table};
use super::Target;
use crate::api::audit::{AuditEntry, AuditPage, Verification};
use crate::audit_checkpoint::Checkpoint;
use crate::cli::error::EXIT_ERROR;
use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: Option<AuditAction>,
    #[command(flatten)]
    pub filter: Filter,
    #[arg(long)]
    pub json: bool,
    /// Keep printing new events as they are logged (Ctrl-C ends)
    #[arg(long, short)]
    pub follow: bool,
}

#[derive(Subcommand)]
pub enum AuditAction {
    /// Recompute the keyed chain; fails naming the first broken event.
    /// With --checkpoint, also prove nothing up to the checkpoint was
    /// changed, removed or cut off
    Verify(VerifyArgs),
    /// Take a signed checkpoint of the audit log's end (server admins);
    /// keep it somewhere else
    Checkpoint {
        /// Write it here instead of to stdout
        #[arg(long, short, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Ship every audit event to a collector (HTTP(S) or syslog), in order, at least once
    Streams {
        #[command(subcommand)]
        action: super::audit_streams::StreamsAction,
    },
    /// Write the events of a time range, oldest first, as NDJSON or CSV
    Export(super::audit_export::Export),
}

#[derive(Args)]
pub struct VerifyArgs {
    #[arg(long)]
    pub json: bool,
    /// A checkpoint file from `hush audit checkpoint` (or the server's
    /// checkpoint directory); its signature is checked here, with its
    /// public key alone
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// The server's checkpoint public key (hex) to require, instead of
    /// trusting the one in the file
    #[arg(long, value_name = "HEX")]
    pub public_key: Option<String>,
    /// The server's audit archive directory (a copy is fine): verify
    /// its signed segments and that they and the live log form one chain
    #[arg(long, value_name = "DIR")]
    pub archive: Option<PathBuf>,
}

/// `hush audit`'s query flags (without a subcommand).
#[derive(Args)]
pub struct Filter {
    #[arg(long)]
    pub key: Option<String>,
    #[arg(long)]
    pub actor: Option<String>,
    #[arg(long)]
    pub action_name: Option<String>,
    /// e.g. 24h, 7d
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
}

pub async fn audit(args: AuditArgs) -> anyhow::Result<i32> {
    use super::{audit_export, audit_streams};
    let target = args.target;
    match args.action {
        None => query(target, args.filter, args.json, args.follow).await,
        Some(AuditAction::Verify(verify_args)) => verify(target, verify_args).await,
        Some(AuditAction::Checkpoint { output }) => checkpoint(target, output.as_deref()).await,
        Some(AuditAction::Streams { action }) => audit_streams::streams(target, action).await,
        Some(AuditAction::Export(export)) => audit_export::export(target, export).await,
    }
}

async fn query(target: Target, filter: Filter, json: bool, follow: bool) -> anyhow::Result<i32> {
    let ctx = resolve(&target)?;
    let mut q = vec![("limit", filter.limit.to_string())];
    if target.project.is_some() || std::env::var_os("HUSH_PROJECT").is_some() {
        q.push(("project", ctx.project.clone()));
    }
    for (name, value) in [
        ("key", filter.key),
        ("actor", filter.actor),
        ("action", filter.action_name),
        ("since", filter.since),
    ] {
        if let Some(v) = value {
            q.push((name, v));
        }
    }
    if target.env.is_some() {
        q.push(("environment", ctx.env.clone()));
    }
    let resp: AuditPage = ctx.client.get_as("/api/v1/hush/audit", &q).await?;
    let events = resp.events;
    let mut last_seq = events.iter().map(|e| e.seq).max();
    if follow {
        // Oldest first, then new events as they come, one line each.
        for e in events.iter().rev() {
            print_line(e, json);
        }
    } else if json {
        print_json(&serde_json::to_value(&events)?);
        return Ok(0);
    } else {
        let rows = events.iter().map(columns).collect();
        println!("{}", table(&HEADERS, rows));
        return Ok(0);
    }
    // Where to start when the log (or the filtered view) is empty so far.
    if last_seq.is_none() {
        let mut newest = vec![("limit", "1".to_owned())];
        newest.extend(q.iter().filter(|(n, _)| *n == "project").cloned());
        let resp: AuditPage = ctx.client.get_as("/api/v1/hush/audit", &newest).await?;
        last_seq = resp.events.first().map(|e| e.seq);
    }
    q.retain(|(name, _)| *name != "limit" && *name != "since");
    q.push(("limit", "1000".into()));
    loop {
        tokio::time::sleep(FOLLOW_POLL).await;
        let mut page = q.clone();
        page.push(("after", last_seq.unwrap_or(0).to_string()));
        let resp: AuditPage = ctx.client.get_as("/api/v1/hush/audit", &page).await?;
        for e in &resp.events {
            print_line(e, json);
            last_seq = last_seq.max(Some(e.seq));
        }
        last_seq = last_seq.max(resp.seen_through);
    }
}

/// How often `--follow` asks for new events.
const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_secs(1);

const HEADERS: [&str; 8] = [
    "Time", "Actor", "Action", "Env", "Path", "Keys", "Version", "Result",
];

/// One event followed: a JSON line, or its columns separated by two spaces.
fn print_line(e: &AuditEntry, json: bool) {
    if json {
        println!("{}", serde_json::to_value(e).unwrap_or(Value::Null));
    } else {
        println!("{}", columns(e).join("  "));
    }
}

fn columns(e: &AuditEntry) -> Vec<String> {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let keys = e.keys.join(",");
    let versions = match (e.from_version, e.to_version) {
        (Some(a), Some(b)) => format!("{a}->{b}"),
        (None, Some(b)) => format!("{b}"),
        (Some(a), None) => format!("{a}"),
        _ => String::new(),
    };
    vec![
        e.time_iso.clone(),
        e.actor_name.clone(),
        e.action.clone(),
        s(&e.environment),
        s(&e.path),
        keys,
        versions,
        e.result.clone(),
    ]
}

/// A checkpoint file is a few hundred bytes; anything far larger is not one.
const MAX_CHECKPOINT_BYTES: u64 = 64 * 1024;

/// The text of `path`, refused past `limit` bytes.
fn read_bounded(path: &Path, limit: u64) -> anyhow::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_string(&mut text)?;
    anyhow::ensure!(
        text.len() as u64 <= limit,
        "larger than {limit} bytes: not a checkpoint file"
    );
    Ok(text)
}

async fn verify(target: Target, args: VerifyArgs) -> anyhow::Result<i32> {
    let json = args.json;
    // Besides the live chain: a checkpoint, and an archive.
    let (checkpoint, public_key, archive) = (
        args.checkpoint.as_deref(),
        args.public_key.as_deref(),
        args.archive.as_deref(),
    );
    let ctx = resolve(&target)?;
    // The archive is checked here, before the server is asked.
    let archived = match archive {
        Some(dir) => match crate::audit_archive::verify_dir(dir, public_key) {
            Ok(report) => Some(report),
            Err(e) => {
                eprintln!("hush: audit archive: {e}");
                return Ok(EXIT_ERROR);
            }
        },
        None => None,
    };
    let mut query = Vec::new();
    if let Some(file) = checkpoint {
        let text = read_bounded(file, MAX_CHECKPOINT_BYTES)
            .with_context(|| format!("cannot read checkpoint {}", file.display()))?;
        let pinned = Checkpoint::parse(&text)
            .and_then(|c| c.verify(public_key))
            .map_err(|e| anyhow::anyhow!("checkpoint {}: {e}", file.display()))?;
        if public_key.is_none() && !json {
            eprintln!("note: the checkpoint's signature holds under the public key it carries; pass --public-key to require this server's key");
        }
        query.push(("checkpointSeq", pinned.seq.to_string()));
        query.push(("checkpointHead", hex::encode(&pinned.head)));
    }
    let resp: Verification = ctx
        .client
        .get_as("/api/v1/hush/audit/verify", &query)
        .await?;
    if let Some(report) = &archived {
        let start = resp
            .start
            .as_ref()
            .map(|s| (s.after_seq, hex::decode(&s.hash).unwrap_or_default()));
        if report.end != start {
            let ends = match &report.end {
                Some((seq, _)) => format!("ends at event #{seq}"),
                None => "is empty".into(),
            };
            let starts = match &start {
                Some((seq, _)) => format!("starts after event #{seq}"),
                None => "starts at the first event".into(),
            };
            eprintln!("hush: audit archive: the archive {ends}, but the live log {starts}: they are not one chain (a segment is missing, or this is another server's archive)");
            return Ok(EXIT_ERROR);
        }
        if !json {
            println!(
                "audit archive verified: {} segment(s), {} event(s), signed, and the live log continues it",
                report.segments, report.events
            );
        }
    }
    if json {
        print_json(&serde_json::to_value(&resp)?);
        return Ok(if resp.ok { 0 } else { EXIT_ERROR });
    }
    if let Some(b) = &resp.broken_at {
        eprintln!(
            "hush: audit log chain broken at event #{} ({}): {}",
            b.seq, b.event_id, b.reason
        );
        eprintln!("hint: the audit table was modified outside hush; restore it from a backup and investigate");
    }
    let quarantined = &resp.quarantined;
    for q in quarantined {
        eprintln!(
            "hush: audit journal lines failed their MAC check and were quarantined at {} (event #{}): {}",
            q.time_iso,
            q.seq,
            q.what.join("; ")
        );
    }
    if !quarantined.is_empty() {
        eprintln!("hint: someone wrote to the server's audit journal directory; the files are kept in its quarantine folder for investigation");
    }
    if resp.ok {
        let against = match resp.checkpoint.as_ref().map(|c| (c.seq, c.archived)) {
            Some((seq, true)) => format!(
                "; the checkpoint's event #{seq} is archived (check the archive with --archive)"
            ),
            Some((seq, false)) => format!(
                ", nothing up to the checkpoint at event #{seq} changed, removed or cut off"
            ),
            None => String::new(),
        };
        println!(
            "audit log verified: {} events, keyed chain intact{against}",
            resp.events
        );
        Ok(0)
    } else {
        Ok(EXIT_ERROR)
    }
}

/// `hush audit checkpoint`: a signed checkpoint of the log's end, to stdout
/// or a file.
async fn checkpoint(target: Target, output: Option<&Path>) -> anyhow::Result<i32> {
    let ctx = resolve(&target)?;
    let resp: Checkpoint = ctx
        .client
        .send_as(
            reqwest::Method::POST,
            "/api/v1/hush/audit/checkpoints",
            &serde_json::json!({}),
        )
        .await?;
    // Through a JSON value: the file keeps its keys in alphabetical order.
    let mut text = serde_json::to_string_pretty(&serde_json::to_value(&resp)?)?;
    text.push('\n');
    match output {
        Some(path) => {
            std::fs::write(path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "checkpoint at event #{} written to {} (public key {})",
                resp.seq,
                path.display(),
                resp.public_key
            );
        }
        None => print!("{text}"),
    }
    Ok(0)
}
