//! `hush audit streams add|list|show|delete`.

use super::context::resolve;
use super::output::{print_json, table};
use super::Target;
use crate::api::streams::{StreamEnvelope, StreamView, StreamsList};
use crate::cli::error::CliError;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

const ROUTE: &str = "/api/v1/audit-log-streams";

/// `NAME: VALUE` from `--header`, or `NAME=ENV_VAR` from `--header-env`
/// (the value read from the environment, so it stays out of the shell
/// history and the process list).
fn headers(given: &[String], from_env: &[String]) -> Result<Vec<Value>, CliError> {
    let mut out = Vec::new();
    for h in given {
        let (name, value) = h.split_once(':').ok_or_else(|| {
            CliError::usage(format!(
                "--header takes 'Name: value', got a header without ':' (name {:?})",
                h.split(' ').next().unwrap_or("")
            ))
        })?;
        out.push(json!({ "key": name.trim(), "value": value.trim() }));
    }
    for h in from_env {
        let (name, var) = h.split_once('=').ok_or_else(|| {
            CliError::usage(format!("--header-env takes NAME=ENV_VAR, got {h:?}"))
        })?;
        let value = Zeroizing::new(std::env::var(var.trim()).map_err(|_| {
            CliError::usage(format!("--header-env {name}: ${} is not set", var.trim()))
        })?);
        out.push(json!({ "key": name.trim(), "value": value.trim() }));
    }
    Ok(out)
}

fn read_ca(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))
}

#[derive(Subcommand)]
pub enum StreamsAction {
    /// Add a stream: https://HOST/PATH (JSON batches), syslog+tls://HOST:PORT (RFC 5424);
    /// http:// and syslog+tcp:// only to loopback
    Add(Add),
    /// Change a stream's URL, headers or CA; it goes on from where it is
    Update(Update),
    /// List streams with their delivery state (last delivered event, lag, last error)
    List {
        #[arg(long)]
        json: bool,
    },
    /// One stream's delivery state
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Stop and remove a stream
    Delete { id: String },
}

pub async fn streams(target: Target, action: StreamsAction) -> anyhow::Result<i32> {
    match action {
        StreamsAction::Add(a) => add(target, a).await,
        StreamsAction::Update(u) => update(target, u).await,
        StreamsAction::List { json } => list(target, json).await,
        StreamsAction::Show { id, json } => show(target, &id, json).await,
        StreamsAction::Delete { id } => delete(target, &id).await,
    }
}

#[derive(Args)]
pub struct Add {
    #[arg(long)]
    pub url: String,
    /// 'Name: value', sent with every delivery; stored encrypted, never shown again
    #[arg(long = "header")]
    pub headers: Vec<String>,
    /// NAME=ENV_VAR: a header whose value is read from the environment
    #[arg(long = "header-env")]
    pub headers_from_env: Vec<String>,
    /// PEM file: the only CA TLS connections to the collector trust
    /// [default: the public web PKI]
    #[arg(long)]
    pub ca_cert: Option<PathBuf>,
    /// Deliver the whole existing log first [default: only new events]
    #[arg(long)]
    pub from_start: bool,
    #[arg(long)]
    pub json: bool,
}

async fn add(target: Target, add: Add) -> anyhow::Result<i32> {
    let ctx = resolve(&target)?;
    let mut body = json!({
        "url": add.url,
        "headers": headers(&add.headers, &add.headers_from_env)?,
        "fromStart": add.from_start,
    });
    if let Some(path) = &add.ca_cert {
        body["caCert"] = json!(read_ca(path)?);
    }
    let resp: StreamEnvelope = ctx.client.send_as(Method::POST, ROUTE, &body).await?;
    let stream = &resp.audit_log_stream;
    if add.json {
        print_json(&serde_json::to_value(stream)?);
    } else {
        println!(
            "added audit stream {} -> {} (delivers events after #{})",
            stream.id, stream.url, stream.last_delivered_seq
        );
    }
    Ok(0)
}

#[derive(Args)]
pub struct Update {
    pub id: String,
    #[arg(long)]
    pub url: Option<String>,
    /// Replaces all headers (with --header-env)
    #[arg(long = "header")]
    pub headers: Vec<String>,
    #[arg(long = "header-env")]
    pub headers_from_env: Vec<String>,
    /// Remove every header
    #[arg(long, conflicts_with_all = ["headers", "headers_from_env"])]
    pub no_headers: bool,
    #[arg(long)]
    pub ca_cert: Option<PathBuf>,
    /// Trust the public web PKI again
    #[arg(long, conflicts_with = "ca_cert")]
    pub no_ca_cert: bool,
    #[arg(long)]
    pub json: bool,
}

async fn update(target: Target, u: Update) -> anyhow::Result<i32> {
    let id = u.id.clone();
    let id = id.as_str();
    let ctx = resolve(&target)?;
    let mut body = json!({});
    if let Some(url) = u.url {
        body["url"] = json!(url);
    }
    if u.no_headers || !u.headers.is_empty() || !u.headers_from_env.is_empty() {
        body["headers"] = json!(headers(&u.headers, &u.headers_from_env)?);
    }
    if let Some(path) = &u.ca_cert {
        body["caCert"] = json!(read_ca(path)?);
    } else if u.no_ca_cert {
        body["caCert"] = json!("");
    }
    let resp: StreamEnvelope = ctx
        .client
        .send_as(Method::PATCH, &format!("{ROUTE}/{id}"), &body)
        .await?;
    let stream = &resp.audit_log_stream;
    if u.json {
        print_json(&serde_json::to_value(stream)?);
    } else {
        println!("{}", table(&COLUMNS, vec![row(stream)]));
    }
    Ok(0)
}

fn row(st: &StreamView) -> Vec<String> {
    let headers = st
        .headers
        .iter()
        .map(|h| h.key.as_str())
        .collect::<Vec<_>>()
        .join(",");
    // The last error stays on record after deliveries resume; say which.
    let at = st.last_error_at.clone().unwrap_or_default();
    let error = match (&st.last_error, st.failures) {
        (Some(e), 0) => format!("{at} (recovered since): {e}"),
        (Some(e), n) => format!("{at} ({n} failed attempts): {e}"),
        _ => String::new(),
    };
    vec![
        st.id.clone(),
        st.kind.clone(),
        st.url.clone(),
        headers,
        st.last_delivered_seq.to_string(),
        st.lag.to_string(),
        st.last_delivered_at.clone().unwrap_or_default(),
        error,
    ]
}

const COLUMNS: [&str; 8] = [
    "Id",
    "Kind",
    "URL",
    "Headers",
    "Delivered through",
    "Lag",
    "Last delivery",
    "Last error",
];

async fn list(target: Target, json: bool) -> anyhow::Result<i32> {
    let ctx = resolve(&target)?;
    let resp: StreamsList = ctx.client.get_as(ROUTE, &[]).await?;
    let streams = resp.audit_log_streams;
    if json {
        print_json(&serde_json::to_value(&streams)?);
    } else if streams.is_empty() {
        println!("no audit streams; add one with: hush audit streams add --url https://collector.example/ingest --header 'Authorization: Bearer ...'");
    } else {
        println!("{}", table(&COLUMNS, streams.iter().map(row).collect()));
    }
    Ok(0)
}

async fn show(target: Target, id: &str, json: bool) -> anyhow::Result<i32> {
    let ctx = resolve(&target)?;
    let resp: StreamEnvelope = ctx.client.get_as(&format!("{ROUTE}/{id}"), &[]).await?;
    let stream = &resp.audit_log_stream;
    if json {
        print_json(&serde_json::to_value(stream)?);
    } else {
        println!("{}", table(&COLUMNS, vec![row(stream)]));
    }
    Ok(0)
}

async fn delete(target: Target, id: &str) -> anyhow::Result<i32> {
    let ctx = resolve(&target)?;
    let resp: StreamEnvelope = ctx
        .client
        .call_typed(Method::DELETE, &format!("{ROUTE}/{id}"), &[], None)
        .await?;
    println!(
        "deleted audit stream {} ({})",
        resp.audit_log_stream.id, resp.audit_log_stream.url
    );
    Ok(0)
}
