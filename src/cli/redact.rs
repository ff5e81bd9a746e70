//! `hush redact`: the masker as a filter, for output that did not go through
//! `hush run` (`kubectl logs ... | hush redact`).

use super::context::resolve;
use super::run::mask_hold;
use super::run_secrets::{fetch, FetchPlan};
use super::Target;
use crate::cli::error::{CliError, EXIT_ERROR};
use crate::mask::{MaskOptions, MaskSet, Masker};
use crate::run::pump::pump;
use clap::Args;
use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;

/// The values of a dotenv file (`$NAME` from earlier keys only, never from
/// this process's environment: see `dotenv.rs`).
fn values_from_file(path: &PathBuf) -> Result<BTreeMap<String, String>, CliError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    // The masker holds every value in memory; a values file is small.
    if meta.len() > 64 * 1024 * 1024 {
        return Err(CliError::usage(format!(
            "{} is larger than 64 MiB; pass a dotenv file of secrets",
            path.display()
        )));
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?,
    );
    let entries = super::dotenv::parse(&text).map_err(|e| {
        CliError::usage(format!(
            "{} is not a valid dotenv file: {e}",
            path.display()
        ))
    })?;
    Ok(entries
        .into_iter()
        .map(|e| (e.key, e.value.to_string()))
        .collect())
}

#[derive(Args)]
pub struct RedactArgs {
    #[command(flatten)]
    pub target: Target,
    /// Mask the values of this dotenv file instead of fetching from the server
    #[arg(long)]
    pub values_from: Option<PathBuf>,
    /// Include subfolders when fetching
    #[arg(long)]
    pub recursive: bool,
    /// Replacement text; {key} is replaced with the secret's name
    #[arg(long, default_value = "***")]
    pub mask_format: String,
    /// How long a possible partial secret is held back; 'inf' holds until resolved
    #[arg(long, default_value = "250ms")]
    pub mask_hold: String,
    /// Print how many values of which keys were masked (stderr)
    #[arg(long)]
    pub mask_report: bool,
}

pub async fn redact(args: RedactArgs) -> anyhow::Result<i32> {
    let RedactArgs {
        target,
        values_from,
        recursive,
        mask_format: format,
        mask_hold: hold,
        mask_report: report,
    } = args;
    let hold = mask_hold(&hold)?;
    let values: Vec<(String, Vec<u8>)> = match &values_from {
        Some(path) => values_from_file(path)?
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect(),
        None => {
            let ctx = resolve(&target)?;
            let plan = FetchPlan {
                paths: vec![ctx.path.clone()],
                recursive,
                tags: Vec::new(),
                expand: true,
            };
            let fetched = fetch(&ctx, &plan).await.map_err(|e| {
                CliError::new(
                    EXIT_ERROR,
                    e.to_string(),
                    Some("or pass --values-from FILE".to_owned()),
                )
            })?;
            // Every value and every referenced piece, as `hush run` masks them.
            fetched
                .secrets
                .iter()
                .chain(&fetched.pieces)
                .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
                .collect()
        }
    };
    let set = MaskSet::new(
        &values,
        &MaskOptions {
            format,
            ..MaskOptions::default()
        },
    );
    if !set.skipped_keys().is_empty() {
        eprintln!(
            "hush: warning: not masking {} (values too short or too common)",
            set.skipped_keys().join(", ")
        );
    }
    let stdin = std::fs::File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    let stdout = std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
    let masker = Masker::new(Arc::new(set));
    let result = tokio::task::spawn_blocking(move || {
        let mut out = stdout;
        pump(stdin, &mut out, Some(masker), hold)
    })
    .await?;
    let summary =
        result.map_err(|e| CliError::new(EXIT_ERROR, format!("redact failed: {e}"), None))?;
    if report {
        for (key, n) in &summary.counts {
            eprintln!("hush: masked {n} occurrence(s) of {key}");
        }
    }
    Ok(0)
}
