//! `hush agent --config agent.yaml`: render secrets into files and keep them
//! fresh (see `crate::agent`), and `hush agent status --config agent.yaml`.

use crate::agent::config::{self, default_status_file};
use crate::agent::runner::{run, AgentError, Options};
use crate::agent::status::Status;
use crate::cli::error::{CliError, EXIT_ERROR, EXIT_USAGE};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AgentArgs {
    #[command(subcommand)]
    pub action: Option<AgentAction>,
    /// The agent's config (Infisical Agent's YAML format)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Render every template once, then exit (for init containers)
    #[arg(long)]
    pub exit_after_render: bool,
    /// How long to wait after a change before rendering (a burst renders once)
    #[arg(long, default_value = "200ms", value_name = "DURATION")]
    pub debounce: String,
    /// Supervisor mode: once every template rendered, run the command after --
    /// (or exec.command) like `hush run`, with the `env: true` templates in its
    /// environment; exec.restart in the config says what a change does
    #[arg(long)]
    pub exec: bool,
    /// The command to supervise, after --
    #[arg(last = true, requires = "exec")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Subcommand)]
pub enum AgentAction {
    /// Print the running agent's status file (exit 1 when a template is failing)
    Status(StatusArgs),
}

#[derive(Args)]
pub struct StatusArgs {
    /// The agent's config (its status-file, or the default beside it)
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Print the status file as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn agent(args: AgentArgs) -> anyhow::Result<i32> {
    if let Some(AgentAction::Status(s)) = args.action {
        return status(s);
    }
    let Some(config_path) = args.config else {
        return Err(
            CliError::usage("hush agent needs --config FILE (the agent's YAML config)").into(),
        );
    };
    let debounce = crate::config::parse_duration(&args.debounce)
        .map_err(|e| CliError::usage(format!("--debounce: {e}")))?;
    let opts = Options {
        config_path,
        debounce,
        exit_after_render: args.exit_after_render,
        exec: args.exec,
        exec_command: args.command,
    };
    match run(opts).await {
        Ok(code) => Ok(code),
        Err(AgentError::Config(e)) => Err(CliError::new(
            EXIT_USAGE,
            e.to_string(),
            Some("fix the config and start the agent again".into()),
        )
        .into()),
        Err(AgentError::Failed(msg)) => Err(CliError::new(
            EXIT_ERROR,
            format!("agent: {msg}"),
            Some("check the server address and the credentials, then try again".into()),
        )
        .into()),
    }
}

fn status(args: StatusArgs) -> anyhow::Result<i32> {
    // The config names the status file; an unreadable config still has the default.
    let path = match config::load(&args.config) {
        Ok(c) => c.status_file,
        Err(_) => default_status_file(&args.config),
    };
    let s = Status::load(&path).map_err(|e| {
        CliError::new(
            EXIT_ERROR,
            e,
            Some("is the agent running with this config?".into()),
        )
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        println!(
            "agent pid {} started {} ({})",
            s.pid, s.started_at, s.freshness
        );
        if let Some(at) = &s.last_login_at {
            println!("last login   {at}");
        }
        if let Some(e) = &s.last_error {
            println!("error        {e}");
        }
        for t in &s.templates {
            println!(
                "{}: rendered {} (writes {}, command runs {}, signals {}){}",
                t.destination,
                t.last_render_at.as_deref().unwrap_or("never"),
                t.writes,
                t.command_runs,
                t.signals_sent,
                t.offline_since
                    .as_ref()
                    .map(|at| format!("\n  from the offline cache since {at}"))
                    .unwrap_or_default()
                    + &t.last_error
                        .as_ref()
                        .map(|e| format!("\n  error: {e}"))
                        .unwrap_or_default()
            );
        }
    }
    Ok(if s.healthy() { 0 } else { EXIT_ERROR })
}
