//! `hush audit export --since TIME [--until TIME] --format ndjson|csv
//! [--output FILE]`: the server streams the events oldest first; they are
//! written as they arrive. A file is written beside its final name and
//! renamed once the export is complete, so a cut-off export never looks
//! like a whole one.

use super::context::resolve;
use super::Target;
use crate::cli::error::CliError;
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `24h`, `30m`, `7d`, `90s` back from now, an RFC 3339 time
/// (`2026-01-31T00:00:00Z`), or Unix milliseconds.
pub fn parse_time(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(t) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
    {
        return i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
            .map_err(|_| format!("time {text:?} is out of range"));
    }
    let invalid = || {
        format!(
            "invalid time {text:?}: use e.g. 24h, 7d, 2026-01-31T00:00:00Z or Unix milliseconds"
        )
    };
    let mut chars = text.chars();
    let unit = chars.next_back().ok_or_else(invalid)?;
    let n: i64 = chars.as_str().parse().map_err(|_| invalid())?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => return Err(invalid()),
    };
    n.checked_mul(secs * 1000)
        .filter(|ms| *ms >= 0)
        .map(|back| now_ms.saturating_sub(back))
        .ok_or_else(invalid)
}

/// Longest wait for the next piece of the answer before giving up.
const CHUNK_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(Args)]
pub struct Export {
    /// Start: e.g. 24h, 7d, 2026-01-31T00:00:00Z, or Unix milliseconds
    #[arg(long)]
    pub since: String,
    /// End (same forms) [default: now]
    #[arg(long)]
    pub until: Option<String>,
    #[arg(long, default_value = "ndjson", value_parser = ["ndjson", "csv"])]
    pub format: String,
    /// File to write (0600) [default: stdout]
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

pub async fn export(target: Target, args: Export) -> anyhow::Result<i32> {
    let ctx = resolve(&target)?;
    let now = crate::time_ids::now_ms();
    let mut q = vec![
        (
            "since",
            parse_time(&args.since, now)
                .map_err(CliError::usage)?
                .to_string(),
        ),
        ("format", args.format.clone()),
    ];
    if let Some(until) = &args.until {
        q.push((
            "until",
            parse_time(until, now).map_err(CliError::usage)?.to_string(),
        ));
    }
    if target.project.is_some() || std::env::var_os("HUSH_PROJECT").is_some() {
        q.push(("project", ctx.project.clone()));
    }
    let mut resp = ctx
        .client
        .get_streamed("/api/v1/hush/audit/export", &q)
        .await?;
    let (mut out, partial): (Box<dyn Write>, Option<PathBuf>) = match &args.output {
        None => (Box::new(std::io::stdout().lock()), None),
        Some(path) => {
            use std::os::unix::fs::OpenOptionsExt;
            let partial = partial_path(path);
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&partial)
                .map_err(|e| CliError::usage(format!("cannot write {}: {e}", partial.display())))?;
            (Box::new(std::io::BufWriter::new(file)), Some(partial))
        }
    };
    let mut bytes = 0u64;
    loop {
        // The first piece may wait for the server's first pass over the
        // range (see service::audit_export); later ones come a page at a time.
        let next = match tokio::time::timeout(CHUNK_WAIT, resp.chunk()).await {
            Ok(piece) => piece.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no data for {}s", CHUNK_WAIT.as_secs())),
        };
        let chunk = match next {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                if let Some(p) = &partial {
                    let _ = std::fs::remove_file(p);
                }
                return Err(CliError::new(
                    crate::cli::error::EXIT_ERROR,
                    format!("the export was cut off after {bytes} bytes: {e}"),
                    Some("run it again; nothing was written to the output file".into()),
                )
                .into());
            }
        };
        bytes += chunk.len() as u64;
        out.write_all(&chunk)?;
    }
    out.flush()?;
    drop(out);
    if let (Some(partial), Some(path)) = (partial, &args.output) {
        std::fs::rename(&partial, path)?;
        eprintln!("wrote {} ({bytes} bytes)", path.display());
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_form() {
        assert_eq!(parse_time("1700000000000", 0), Ok(1_700_000_000_000));
        assert_eq!(parse_time("2023-11-14T22:13:20Z", 0), Ok(1_700_000_000_000));
        assert_eq!(parse_time("1h", 10_000_000), Ok(10_000_000 - 3_600_000));
        for bad in ["", "5x", "é", "9999999999999999d", "-5h", "yesterday"] {
            assert!(parse_time(bad, 0).is_err(), "{bad}");
        }
    }
}
