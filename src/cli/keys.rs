//! `hush keys status|rotate-root|rotate-data`: online re-keying (issue 25)
//! for server admins, through `/api/v1/hush/keys/...`. The clap definitions
//! live here with their commands, so `cli/mod.rs` only names them.

use super::context::resolve;
use super::output::{print_json, table};
use super::Target;
use crate::api::keys::{DataRotatedList, KeyStatus, RootRotated};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

#[derive(Args)]
pub struct KeysArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: KeysAction,
}

#[derive(Subcommand)]
pub enum KeysAction {
    /// The root key provider and generation, data keys, and re-encryption progress
    Status {
        #[arg(long)]
        json: bool,
    },
    /// New root key generation: every data key re-wrapped under a fresh key
    /// from the root key provider, on every replica at once
    RotateRoot {
        #[arg(long)]
        json: bool,
    },
    /// New data keys (for --project, else every project); every version is
    /// re-encrypted in the background and the old keys destroyed
    RotateData {
        /// Wait until the re-encryption finished, showing progress
        #[arg(long)]
        wait: bool,
        #[arg(long)]
        json: bool,
    },
}

pub async fn keys(args: KeysArgs) -> anyhow::Result<i32> {
    let only_project = args.target.project.clone();
    let ctx = resolve(&args.target)?;
    match args.action {
        KeysAction::Status { json } => {
            let s: KeyStatus = ctx.client.get_as("/api/v1/hush/keys/status", &[]).await?;
            if json {
                print_json(&serde_json::to_value(&s)?);
            } else {
                print_status(&s);
            }
        }
        KeysAction::RotateRoot { json } => {
            let r: RootRotated = ctx
                .client
                .send_as(Method::POST, "/api/v1/hush/keys/rotate-root", &json!({}))
                .await?;
            if json {
                print_json(&serde_json::to_value(&r)?);
            } else {
                println!(
                    "root key generation {} ({}) now wraps all {} data key(s); the previous generation's key is deleted",
                    r.generation, r.provider, r.data_keys
                );
            }
        }
        KeysAction::RotateData { wait, json } => {
            let r: DataRotatedList = ctx
                .client
                .send_as(
                    Method::POST,
                    "/api/v1/hush/keys/rotate-data",
                    &json!({ "project": only_project }),
                )
                .await?;
            if json && !wait {
                print_json(&serde_json::to_value(&r)?);
                return Ok(0);
            }
            let total: i64 = r.projects.iter().map(|p| p.to_reseal).sum();
            eprintln!(
                "new data keys for {} project(s); {total} ciphertext(s) to re-encrypt in the background",
                r.projects.len()
            );
            if wait {
                let projects: Vec<String> =
                    r.projects.iter().map(|p| p.project_id.clone()).collect();
                let s = wait_for(&ctx.client, &projects).await?;
                if json {
                    print_json(&serde_json::to_value(&s)?);
                } else {
                    eprintln!("re-encryption finished; the old data keys are destroyed");
                }
            } else {
                eprintln!("follow it with: hush keys status");
            }
        }
    }
    Ok(0)
}

/// Polls the status until every job of `projects` finished, printing the
/// progress when it moves.
async fn wait_for(
    client: &crate::client::ApiClient,
    projects: &[String],
) -> anyhow::Result<KeyStatus> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("re-encrypting {pos}/{len} ({percent}%)")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    loop {
        let s: KeyStatus = client.get_as("/api/v1/hush/keys/status", &[]).await?;
        let mine: Vec<_> = s
            .jobs
            .iter()
            .filter(|j| projects.contains(&j.project_id))
            .collect();
        if let Some(err) = mine.iter().find_map(|j| j.last_error.as_deref()) {
            bar.abandon();
            anyhow::bail!("re-encryption failed: {err}\nit is retried in the background; see hush keys status");
        }
        bar.set_length(mine.iter().map(|j| j.total.max(0) as u64).sum());
        bar.set_position(mine.iter().map(|j| j.done.max(0) as u64).sum());
        if mine.iter().all(|j| j.finished_at.is_some()) {
            bar.finish_and_clear();
            return Ok(s);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn print_status(s: &KeyStatus) {
    println!(
        "root key provider: {} ({})",
        s.provider, s.provider_description
    );
    match (&s.generation, &s.generation_created_at) {
        (0, created) => println!(
            "root key generation: 0 (never rotated; oldest data key {})",
            created.as_deref().unwrap_or("none yet")
        ),
        (g, created) => println!(
            "root key generation: {g} (since {})",
            created.as_deref().unwrap_or("?")
        ),
    }
    match &s.next_rotation_at {
        Some(at) => println!("next rotation: {at} (--root-key-rotation)"),
        None => println!("next rotation: none scheduled (set --root-key-rotation, e.g. 90d)"),
    }
    println!(
        "data keys: {} ({} retired, destroyed once re-encryption finishes)",
        s.data_keys, s.retired_data_keys
    );
    if s.under_previous_provider > 0 {
        println!(
            "migration: {} key(s) still wrapped by the previous root key provider; run hush keys rotate-root",
            s.under_previous_provider
        );
    }
    if s.jobs.is_empty() {
        println!("re-encryption: none yet (hush keys rotate-data starts one)");
        return;
    }
    let rows = s
        .jobs
        .iter()
        .map(|j| {
            let state = match (&j.finished_at, &j.last_error) {
                (Some(at), _) => format!("finished {at}"),
                (None, Some(e)) => format!("retrying: {e}"),
                (None, None) => "running".into(),
            };
            vec![
                j.project_id.clone(),
                j.target_key_id.to_string(),
                format!("{}/{}", j.done, j.total),
                state,
                j.requested_by.clone(),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &["PROJECT", "DATA KEY", "RE-ENCRYPTED", "STATE", "BY"],
            rows
        )
    );
}
