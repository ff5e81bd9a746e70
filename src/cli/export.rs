//! `hush export` and `hush env pull` / `hush pull`: the secrets of one folder
//! written out in a file format. The server audits the list read (with values).

use super::context::{resolve, Resolved};
use super::files::{append_private, git_ignored, write_private_atomic};
use super::formats::{self, ExportFormat, Pairs};
use super::Target;
use crate::api::secrets::SecretList;
use crate::cli::error::{CliError, EXIT_ERROR, EXIT_USAGE};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use zeroize::Zeroizing;

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, value_enum, default_value = "dotenv")]
    pub format: ExportFormat,
    /// Write here (mode 0600, atomically) instead of stdout
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// k8s-secret: metadata.name
    #[arg(long)]
    pub name: Option<String>,
    /// k8s-secret: metadata.namespace
    #[arg(long)]
    pub namespace: Option<String>,
    /// Values as stored: do not expand ${KEY} references
    // References are expanded on the server by default (as Infisical's
    // export does); the flag keeps them, to copy a folder intact.
    #[arg(long)]
    pub no_expand: bool,
}

#[derive(Args)]
pub struct EnvArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: EnvAction,
}

#[derive(Subcommand)]
pub enum EnvAction {
    /// Write the secrets to a .env file
    Pull {
        #[command(flatten)]
        pull: PullArgs,
    },
}

#[derive(Args, Clone)]
pub struct PullArgs {
    /// The file to write
    #[arg(long, short = 'o', default_value = ".env")]
    pub output: PathBuf,
    /// Replace the file even if its content differs
    #[arg(long)]
    pub force: bool,
    /// Values as stored: do not expand ${KEY} references
    #[arg(long)]
    pub no_expand: bool,
}

/// `hush pull`: `hush env pull` with Infisical's `--workspace` spelling of
/// the environment.
#[derive(Args)]
pub struct CiPullArgs {
    #[command(flatten)]
    pub target: Target,
    /// The environment to pull (same as --env)
    #[arg(long)]
    pub workspace: Option<String>,
    #[command(flatten)]
    pub pull: PullArgs,
}

/// The folder's secrets with their values, in key order.
async fn fetch_pairs(ctx: &Resolved, expand: bool) -> anyhow::Result<Pairs> {
    let mut q = ctx.scope_query(&ctx.path);
    q.push(("viewSecretValue", "true".into()));
    q.push(("expandSecretReferences", expand.to_string()));
    let resp: SecretList = ctx.client.get_as("/api/v3/secrets/raw", &q).await?;
    let mut pairs: Pairs = resp
        .secrets
        .iter()
        .map(|s| (s.key().to_owned(), Zeroizing::new(s.value().to_owned())))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(pairs)
}

fn format_error(e: formats::FormatError) -> CliError {
    CliError::new(
        EXIT_ERROR,
        e.to_string(),
        Some("use --format json or yaml, which take any key".to_owned()),
    )
}

fn print(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}

pub async fn export(args: ExportArgs) -> anyhow::Result<i32> {
    let ctx = resolve(&args.target)?;
    if args.format == ExportFormat::K8sSecret && args.name.is_none() {
        return Err(CliError::new(
            EXIT_USAGE,
            "--format k8s-secret needs the Secret's name",
            Some("add --name app-secrets (and --namespace NS if needed)".to_owned()),
        )
        .into());
    }
    let pairs = fetch_pairs(&ctx, !args.no_expand).await?;
    if pairs.is_empty() {
        eprintln!(
            "hush: note: no secrets in {} {} of project {}",
            ctx.env, ctx.path, ctx.project
        );
    }
    let text = match args.format {
        ExportFormat::Dotenv => formats::dotenv(&pairs).map_err(format_error)?,
        ExportFormat::DotenvExport => formats::dotenv_export(&pairs).map_err(format_error)?,
        ExportFormat::Json => formats::json(&pairs).map_err(format_error)?,
        ExportFormat::Yaml => formats::yaml(&pairs).map_err(format_error)?,
        ExportFormat::Csv => formats::csv(&pairs),
        ExportFormat::K8sSecret => formats::k8s_secret(
            &pairs,
            args.name.as_deref().unwrap_or_default(),
            args.namespace.as_deref(),
        )
        .map_err(|e| CliError::usage(e.to_string()))?,
        ExportFormat::GithubEnv => return github_env(&pairs, args.output),
    };
    match &args.output {
        Some(path) => {
            write_private_atomic(path, text.as_bytes())?;
            eprintln!(
                "hush: wrote {} secret(s) to {} (mode 0600)",
                pairs.len(),
                path.display()
            );
        }
        None => print(text.as_bytes())?,
    }
    Ok(0)
}

/// The masks go to stdout (the runner reads workflow commands there); the
/// variables are appended to --output or $GITHUB_ENV, else printed after them.
fn github_env(pairs: &Pairs, output: Option<PathBuf>) -> anyhow::Result<i32> {
    let out = formats::github_env(pairs).map_err(format_error)?;
    print(out.masks.as_bytes())?;
    let file = output.or_else(|| {
        std::env::var_os("GITHUB_ENV")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    match file {
        Some(path) => {
            append_private(&path, out.env_file.as_bytes())?;
            eprintln!(
                "hush: appended {} secret(s) to {}",
                pairs.len(),
                path.display()
            );
        }
        None => print(out.env_file.as_bytes())?,
    }
    Ok(0)
}

pub async fn env(args: EnvArgs) -> anyhow::Result<i32> {
    match args.action {
        EnvAction::Pull { pull } => self::pull(args.target, pull).await,
    }
}

pub async fn ci_pull(args: CiPullArgs) -> anyhow::Result<i32> {
    let CiPullArgs {
        mut target,
        workspace,
        pull,
    } = args;
    if let Some(ws) = workspace {
        if target.env.as_ref().is_some_and(|e| *e != ws) {
            return Err(CliError::usage(
                "--workspace and --env name different environments; pass one",
            )
            .into());
        }
        target.env = Some(ws);
    }
    self::pull(target, pull).await
}

async fn pull(target: Target, args: PullArgs) -> anyhow::Result<i32> {
    let ctx = resolve(&target)?;
    let pairs = fetch_pairs(&ctx, !args.no_expand).await?;
    let text = formats::dotenv(&pairs).map_err(format_error)?;
    let path = &args.output;
    match std::fs::read(path) {
        Ok(existing) if existing == text.as_bytes() => {
            println!(
                "{} is up to date ({} secret(s) from {} {})",
                path.display(),
                pairs.len(),
                ctx.env,
                ctx.path
            );
            warn_unignored(path);
            return Ok(0);
        }
        Ok(_) if !args.force => {
            return Err(CliError::new(
                EXIT_ERROR,
                format!(
                    "{} exists and differs from the secrets of {} {}; nothing was written",
                    path.display(),
                    ctx.env,
                    ctx.path
                ),
                Some("pass --force to replace it, or --output another file".to_owned()),
            )
            .into())
        }
        _ => {}
    }
    write_private_atomic(path, text.as_bytes())?;
    println!(
        "wrote {} secret(s) from {} {} to {} (mode 0600)",
        pairs.len(),
        ctx.env,
        ctx.path,
        path.display()
    );
    warn_unignored(path);
    Ok(0)
}

fn warn_unignored(path: &std::path::Path) {
    if git_ignored(path) == Some(false) {
        eprintln!(
            "hush: warning: {} is not ignored by git; add it to .gitignore so it is never committed",
            path.display()
        );
    }
}
