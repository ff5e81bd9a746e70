//! `hush webhooks add|list|test|enable|disable|delete`: webhooks of a project
//! (issue 24; project admins). The clap definitions live here with their
//! commands, so `cli/mod.rs` only names them.

use super::context::resolve;
use super::output::{print_json, table};
use super::Target;
use crate::api::webhooks::{CreateWebhook, UpdateWebhook, Webhook, WebhookEnvelope, WebhookList};
use crate::cli::error::CliError;
use clap::{Args, Subcommand};
use reqwest::Method;
use zeroize::Zeroizing;

const ROUTE: &str = "/api/v1/webhooks";

#[derive(Args)]
pub struct WebhooksArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: WebhooksAction,
}

#[derive(Subcommand)]
pub enum WebhooksAction {
    /// POST to URL when secrets of the environment (--env) and folder
    /// (--path: a path or glob such as /api/**) change
    Add(AddArgs),
    /// The project's webhooks with their last delivery status
    List {
        /// Print the webhooks as JSON
        #[arg(long)]
        json: bool,
    },
    /// Send a test delivery now and show whether the receiver took it
    Test { id: String },
    /// Resume deliveries (changes made while disabled are not sent)
    Enable { id: String },
    /// Pause deliveries
    Disable { id: String },
    /// Delete a webhook
    Delete { id: String },
}

#[derive(Args)]
pub struct AddArgs {
    /// Where to POST: https://... (loopback and private addresses only if
    /// the server allows them)
    #[arg(long)]
    pub url: String,
    /// Sign deliveries with this key (x-infisical-signature); prefer
    /// --secret-key-env, which keeps it out of shell history
    #[arg(long, conflicts_with = "secret_key_env")]
    pub secret_key: Option<String>,
    /// Read the signing key from this environment variable
    #[arg(long, value_name = "VAR")]
    pub secret_key_env: Option<String>,
    /// general (Infisical's JSON) or slack (an incoming-webhook message)
    #[arg(long = "type", default_value = "general")]
    pub kind: String,
    /// Print the webhook as JSON
    #[arg(long)]
    pub json: bool,
}

fn secret_key(args: &AddArgs) -> Result<Option<Zeroizing<String>>, CliError> {
    if let Some(var) = &args.secret_key_env {
        let value = std::env::var(var)
            .map_err(|_| CliError::usage(format!("--secret-key-env: ${var} is not set")))?;
        return Ok(Some(Zeroizing::new(value)));
    }
    if args.secret_key.is_some() {
        eprintln!(
            "hush: warning: --secret-key puts the key in the process list and your shell history; prefer --secret-key-env VAR"
        );
    }
    Ok(args.secret_key.clone().map(Zeroizing::new))
}

fn status(w: &Webhook) -> String {
    if w.is_disabled {
        return "disabled".into();
    }
    match (
        w.last_status.as_deref(),
        w.last_run_error_message.as_deref(),
    ) {
        (Some("failed"), Some(e)) => format!("failed ({} in a row): {e}", w.failures),
        (Some(s), _) => s.to_owned(),
        (None, _) => "no delivery yet".into(),
    }
}

fn report(verb: &str, w: &Webhook) {
    println!(
        "{verb} webhook {} → {} ({} {}; {})",
        w.id,
        w.url,
        w.environment.slug,
        w.secret_path,
        status(w)
    );
}

pub async fn webhooks(args: WebhooksArgs) -> anyhow::Result<i32> {
    let ctx = resolve(&args.target)?;
    let one = |id: &str| format!("{ROUTE}/{}", id.trim());
    let disable = matches!(args.action, WebhooksAction::Disable { .. });
    match args.action {
        WebhooksAction::Add(add) => {
            let body = CreateWebhook {
                workspace_id: ctx.project.clone(),
                environment: ctx.env.clone(),
                webhook_url: Zeroizing::new(add.url.clone()),
                webhook_secret_key: secret_key(&add)?,
                secret_path: Some(ctx.path.clone()),
                kind: Some(add.kind.clone()),
            };
            let resp: WebhookEnvelope = ctx
                .client
                .send_as(Method::POST, ROUTE, &serde_json::to_value(&body)?)
                .await?;
            if add.json {
                print_json(&serde_json::to_value(&resp.webhook)?);
            } else {
                report("added", &resp.webhook);
            }
        }
        WebhooksAction::List { json } => {
            let mut q = vec![("workspaceId", ctx.project.clone())];
            if args.target.env.is_some() || std::env::var_os("HUSH_ENV").is_some() {
                q.push(("environment", ctx.env.clone()));
            }
            let resp: WebhookList = ctx.client.get_as(ROUTE, &q).await?;
            if json {
                print_json(&serde_json::to_value(&resp.webhooks)?);
                return Ok(0);
            }
            if resp.webhooks.is_empty() {
                println!("no webhooks; add one with: hush webhooks add --url https://... --env prod --path /");
                return Ok(0);
            }
            let rows = resp
                .webhooks
                .iter()
                .map(|w| {
                    vec![
                        w.id.clone(),
                        w.environment.slug.clone(),
                        w.secret_path.clone(),
                        w.url.clone(),
                        w.kind.clone(),
                        if w.has_secret_key { "yes" } else { "no" }.into(),
                        status(w),
                        w.last_attempt_at.clone().unwrap_or_else(|| "-".into()),
                        w.lag.to_string(),
                    ]
                })
                .collect();
            println!(
                "{}",
                table(
                    &[
                        "ID",
                        "ENV",
                        "PATH",
                        "URL",
                        "TYPE",
                        "SIGNED",
                        "LAST STATUS",
                        "LAST ATTEMPT",
                        "LAG"
                    ],
                    rows
                )
            );
        }
        WebhooksAction::Test { id } => {
            let resp: WebhookEnvelope = ctx
                .client
                .call_typed(Method::POST, &format!("{}/test", one(&id)), &[], None)
                .await?;
            report("tested", &resp.webhook);
            if resp.webhook.last_status.as_deref() != Some("success") {
                return Err(CliError::new(
                    crate::cli::error::EXIT_UNREACHABLE,
                    "the receiver did not accept the test delivery",
                    Some("check the URL and that the receiver answers 2xx (hush webhooks list shows the last error)".to_owned()),
                )
                .into());
            }
        }
        WebhooksAction::Enable { id } | WebhooksAction::Disable { id } => {
            let body = UpdateWebhook {
                is_disabled: disable,
            };
            let resp: WebhookEnvelope = ctx
                .client
                .send_as(Method::PATCH, &one(&id), &serde_json::to_value(&body)?)
                .await?;
            report(if disable { "disabled" } else { "enabled" }, &resp.webhook);
        }
        WebhooksAction::Delete { id } => {
            let resp: WebhookEnvelope = ctx
                .client
                .call_typed(Method::DELETE, &one(&id), &[], None)
                .await?;
            report("deleted", &resp.webhook);
        }
    }
    Ok(0)
}
