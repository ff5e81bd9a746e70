//! `hush redact`: the masker as a filter, for output that did not go through
//! `hush run` (`kubectl logs ... | hush redact`).

use super::context::resolve;
use super::run::{fetch, mask_hold, FetchPlan};
use super::Target;
use crate::error::{CliError, EXIT_ERROR};
use crate::mask::{pump, MaskOptions, MaskSet, Masker};
use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;

fn values_from_file(path: &PathBuf) -> Result<BTreeMap<String, String>, CliError> {
    let iter = dotenvy::from_path_iter(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    let mut out = BTreeMap::new();
    for item in iter {
        let (k, v) = item.map_err(|e| {
            CliError::usage(format!(
                "{} is not a valid dotenv file: {e}",
                path.display()
            ))
        })?;
        out.insert(k, v);
    }
    Ok(out)
}

pub async fn redact(
    target: Target,
    values_from: Option<PathBuf>,
    recursive: bool,
    format: String,
    hold: String,
    report: bool,
) -> anyhow::Result<i32> {
    let hold = mask_hold(&hold)?;
    let secrets = match &values_from {
        Some(path) => values_from_file(path)?,
        None => {
            let ctx = resolve(&target)?;
            let plan = FetchPlan {
                paths: vec![ctx.path.clone()],
                recursive,
                tags: Vec::new(),
                expand: true,
            };
            fetch(&ctx, &plan).await.map_err(|e| {
                CliError::new(
                    EXIT_ERROR,
                    e.to_string(),
                    Some("or pass --values-from FILE".to_owned()),
                )
            })?
        }
    };
    let values: Vec<(String, Vec<u8>)> = secrets
        .iter()
        .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
        .collect();
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
