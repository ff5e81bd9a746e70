//! The command line: the subcommand enum, the options every command shares
//! (`Target`, `TlsArgs`, `Logging`) and the dispatch. Each subcommand's clap
//! `Args` struct lives in its command's file, beside the function that runs
//! it, so a flag and the code that reads it change together.

pub mod access;
pub mod agent;
pub mod audit;
pub mod audit_export;
pub mod audit_streams;
pub mod auth;
pub mod context;
pub mod diff;
pub mod dotenv;
pub mod dynamic;
pub mod error;
pub mod export;
pub mod files;
pub mod folders;
pub mod formats;
pub mod import;
pub mod init;
pub mod keys;
pub mod kms;
pub mod manual;
pub mod offboarding;
pub mod output;
pub mod projects;
pub mod redact;
mod relogin;
pub mod rotation;
pub mod rotation_marks;
pub mod run;
pub mod run_dynamic;
pub mod run_mount;
pub mod run_secrets;
pub mod scan;
pub mod secrets;
pub mod server;
pub mod set_warnings;
pub mod sso;
pub mod watch;
pub mod webhooks;
pub mod workload;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "hush",
    version,
    about = "Secrets manager: encrypted, versioned, audited secrets, and `hush run` to use them"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub logging: Logging,
}

/// The one option every command takes, `hush run`'s own parser included.
#[derive(Args, Clone)]
pub struct Logging {
    /// Log filter for hush's own diagnostics (e.g. info, debug)
    #[arg(long, global = true, env = "HUSH_LOG", default_value = "warn")]
    pub log: String,
}

/// Where and as whom a command talks to the server. Each falls back to its
/// HUSH_* variable, then `.hush.json`, then the stored login, then a default.
#[derive(Args, Clone, Default)]
pub struct Target {
    /// Server URL [env: HUSH_SERVER] [default: http://127.0.0.1:8200]
    #[arg(long, global = true)]
    pub server: Option<String>,
    /// Access or service token [env: HUSH_TOKEN]
    #[arg(long, global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Project id or slug [env: HUSH_PROJECT] [default: from .hush.json or login]
    #[arg(long, global = true)]
    pub project: Option<String>,
    /// Environment slug [env: HUSH_ENV] [default: dev]
    #[arg(long, short = 'e', global = true)]
    pub env: Option<String>,
    /// Folder path [env: HUSH_PATH] [default: /]
    #[arg(long, global = true)]
    pub path: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Whom to trust as the server (see `client::tls`).
#[derive(Args, Clone, Default)]
pub struct TlsArgs {
    /// Also trust the CA certificates (PEM) in FILE, e.g. a private CA or the
    /// server's self-signed certificate [env: HUSH_CA_CERT]
    #[arg(long = "cacert", value_name = "FILE", global = true)]
    pub ca_cert: Option<PathBuf>,
    /// Trust only the server certificate with this SHA-256 fingerprint (as
    /// `hush server --tls-self-signed` prints it) [env: HUSH_PIN_SHA256]
    #[arg(long = "pin-sha256", value_name = "FP", global = true)]
    pub pin_sha256: Option<String>,
}

/// The subcommands. Each holds its own `Args` struct, defined beside the
/// code that runs it; a variant's doc comment is the subcommand's help.
#[derive(Subcommand)]
pub enum Command {
    /// Rotation policies: secrets renewed with generated values on a schedule
    Rotation(rotation::RotationArgs),
    /// Rotate a secret now (it needs a rotation policy)
    Rotate(rotation::RotateArgs),
    /// Dynamic secrets: short-lived database users leased per consumer
    Dynamic(dynamic::DynamicArgs),
    /// Webhooks: a signed POST when secrets change or a reminder falls due (project admins)
    Webhooks(webhooks::WebhooksArgs),
    /// KMS keys: encrypt and decrypt with project keys you never see
    Kms(kms::KmsArgs),
    /// Encryption keys: rotate the root key generation and data keys online (server admins)
    Keys(keys::KeysArgs),
    /// Run the hush server
    Server(server::ServerCommand),
    /// Create the first admin user and the `default` project on a new server
    Bootstrap(auth::BootstrapArgs),
    /// Log in: email and password, a machine identity (--client-id/--client-secret), or a token (--token)
    Login(auth::LoginArgs),
    /// Manage users (server admins)
    Users(access::UsersArgs),
    /// Manage machine identities for CI, servers and Kubernetes (server admins)
    Identities(access::IdentitiesArgs),
    /// Scoped service tokens (project admins)
    Tokens(access::TokensArgs),
    /// Project members and their roles (project admins)
    Members(access::MembersArgs),
    /// Change your password (asks for the current one); your other sessions are revoked
    Passwd(offboarding::PasswdArgs),
    /// Your sessions (server admins: anyone's, with --user); list and revoke them
    Sessions(offboarding::SessionsArgs),
    /// Revoke the stored session on the server and forget it here
    Logout(auth::LogoutArgs),
    /// Show who the current credentials belong to
    Whoami(auth::WhoamiArgs),
    /// List secrets (values masked unless --reveal)
    List(secrets::ListArgs),
    /// Print a secret's value
    Get(secrets::GetArgs),
    /// Set secrets: KEY=VALUE..., KEY --from-file FILE, or KEY - (value from stdin)
    Set(secrets::SetArgs),
    /// Soft-delete secrets (recoverable with `hush restore`)
    Delete(secrets::DeleteArgs),
    /// Restore a soft-deleted secret with its history
    Restore(secrets::RestoreArgs),
    /// List soft-deleted secrets that can still be restored
    Deleted(secrets::DeletedArgs),
    /// Show a secret's versions
    History(secrets::HistoryArgs),
    /// Write a new version whose content is an older version's
    Rollback(secrets::RollbackArgs),
    /// Create secrets that must not exist yet (fails with exit 5 if one does)
    Create(secrets::CreateArgs),
    /// Compare two versions of a secret (values masked unless --reveal)
    Diff(diff::DiffArgs),
    /// Write .hush.json here: project, default environment, branch mapping
    Init(init::InitArgs),
    /// List or create projects
    Projects(projects::ProjectsArgs),
    /// List or create environments of the project
    Envs(projects::EnvsArgs),
    /// List, create or delete folders (--path is the parent)
    Folders(folders::FoldersArgs),
    /// Import secrets from a file, all or nothing
    Import(import::ImportArgs),
    /// Print (or write) the secrets of a folder in a file format
    Export(export::ExportArgs),
    /// Work with local environment files
    Env(export::EnvArgs),
    /// Write the secrets to a .env file (CI form of `hush env pull`)
    Pull(export::CiPullArgs),
    /// Print a shell completion script
    Completions(manual::CompletionsArgs),
    /// Print the man page (roff) to stdout
    Man,
    #[command(about = RUN_ABOUT)]
    Run(Box<run::RunArgs>),
    /// Mask secret values in stdin, writing to stdout (e.g. kubectl logs POD | hush redact)
    Redact(redact::RedactArgs),
    /// Query the audit log, or verify its hash chain
    Audit(audit::AuditArgs),
    /// Find secrets (your values, in any encoding, and known formats) in files or git
    Scan(Box<scan::ScanArgs>),
    /// Render secrets into files and keep them fresh (Infisical Agent's config format)
    Agent(agent::AgentArgs),
}

/// `hush run` parsed on its own. Building the whole command tree (every
/// subcommand and flag) is a measurable share of every start, and `hush run`
/// starts all day long; this parser knows only `run`'s flags and the
/// global `--log`. `Cli::parse_args` uses it when the first argument is `run`;
/// its help is the same text (tested).
#[derive(Parser)]
#[command(
    name = "hush run",
    bin_name = "hush run",
    about = RUN_ABOUT
)]
struct RunOnly {
    #[command(flatten)]
    args: run::RunArgs,
    #[command(flatten)]
    logging: Logging,
}

const RUN_ABOUT: &str =
    "Run a command with the secrets in its environment and their values masked in its output";

impl Cli {
    /// Set-up that must run before any thread starts (main calls it first):
    /// the server takes `HUSH_ROOT_KEY` out of its environment and forbids
    /// core dumps. Returns warnings for what could not be done.
    pub fn prepare_process(&mut self) -> Vec<String> {
        match &mut self.command {
            Command::Server(server) => {
                server.args.inline_root_key = crate::hygiene::take_env("HUSH_ROOT_KEY");
                crate::hygiene::forbid_core_dumps()
            }
            _ => Vec::new(),
        }
    }

    /// The process's arguments; `hush run ...` through its own small parser.
    pub fn parse_args() -> Cli {
        let mut args = std::env::args_os();
        let program = args.next();
        let mut rest = args.peekable();
        if rest.peek().is_some_and(|a| a == "run") {
            rest.next();
            let run = RunOnly::parse_from(std::iter::once("hush run".into()).chain(rest));
            return Cli {
                command: Command::Run(Box::new(run.args)),
                logging: run.logging,
            };
        }
        Cli::parse_from(program.into_iter().chain(rest))
    }
}

pub fn init_tracing(cli: &Cli) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.logging.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let default_info = matches!(cli.command, Command::Server(_)) && cli.logging.log == "warn";
    let filter = if default_info {
        tracing_subscriber::EnvFilter::new("info")
    } else {
        filter
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(output::stderr_colour())
        .init();
}

/// The server gets a multi-threaded runtime; every other command makes a few
/// requests in sequence, where one thread starts faster and avoids cross-thread
/// wake-ups (this is on `hush run`'s start-up path).
fn runtime(server: bool) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = if server {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    Ok(builder.enable_all().build()?)
}

/// Runs a command; returns the process exit code.
pub fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let rt = runtime(matches!(cli.command, Command::Server(_)))?;
    rt.block_on(async move {
        // Not before a command that makes (or serves) the session itself.
        if !matches!(
            cli.command,
            Command::Server(_) | Command::Login(_) | Command::Bootstrap(_) | Command::Agent(_)
        ) {
            auth::refresh_session().await;
        }
        match cli.command {
            Command::Server(a) => server::command(a).await.map(|()| 0),
            Command::Bootstrap(a) => auth::bootstrap(a).await,
            Command::Login(a) => auth::login(a).await,
            Command::Users(a) => access::users(a).await,
            Command::Identities(a) => access::identities(a).await,
            Command::Tokens(a) => access::tokens(a).await,
            Command::Members(a) => access::members(a).await,
            Command::Passwd(a) => offboarding::passwd(a).await,
            Command::Sessions(a) => offboarding::sessions(a).await,
            Command::Rotation(a) => rotation::rotation(a).await,
            Command::Rotate(a) => rotation::rotate(a).await,
            Command::Dynamic(a) => dynamic::dynamic(a).await,
            Command::Webhooks(a) => webhooks::webhooks(a).await,
            Command::Kms(a) => kms::kms(a).await,
            Command::Keys(a) => keys::keys(a).await,
            Command::Logout(a) => auth::logout(a).await,
            Command::Whoami(a) => auth::whoami(a).await,
            Command::List(a) => secrets::list(a).await,
            Command::Get(a) => secrets::get(a).await,
            Command::Set(a) => secrets::set(a).await,
            Command::Delete(a) => secrets::delete(a).await,
            Command::Restore(a) => secrets::restore(a).await,
            Command::Deleted(a) => secrets::deleted(a).await,
            Command::History(a) => secrets::history(a).await,
            Command::Rollback(a) => secrets::rollback(a).await,
            Command::Create(a) => secrets::create(a).await,
            Command::Diff(a) => diff::diff(a).await,
            Command::Init(a) => init::init(a).await,
            Command::Projects(a) => projects::projects(a).await,
            Command::Envs(a) => projects::envs(a).await,
            Command::Folders(a) => folders::folders(a).await,
            Command::Import(a) => import::import(a).await,
            Command::Export(a) => export::export(a).await,
            Command::Env(a) => export::env(a).await,
            Command::Pull(a) => export::ci_pull(a).await,
            Command::Completions(a) => manual::completions(a),
            Command::Man => manual::man(),
            Command::Run(a) => run::run(*a).await,
            Command::Redact(a) => redact::redact(a).await,
            Command::Audit(a) => audit::audit(a).await,
            Command::Scan(a) => scan::scan(*a).await,
            Command::Agent(a) => agent::agent(a).await,
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
        super::RunOnly::command().debug_assert();
    }

    /// The fast parser of `hush run` must be the full CLI's `run`: the same
    /// flags, defaults and help text.
    #[test]
    fn run_only_parser_matches_the_full_cli() {
        use clap::CommandFactory;
        let mut full = super::Cli::command();
        full.build();
        let full_help = full
            .find_subcommand_mut("run")
            .expect("run subcommand")
            .render_long_help()
            .to_string();
        let own_help = super::RunOnly::command().render_long_help().to_string();
        assert_eq!(own_help, full_help);
    }

    #[test]
    fn run_only_parser_gives_the_same_arguments() {
        use clap::Parser;
        let argv = [
            "--env",
            "prod",
            "--path",
            "/a",
            "--path",
            "/b",
            "--no-mask",
            "--log",
            "debug",
            "--",
            "make",
            "--deploy",
        ];
        let full = super::Cli::parse_from(["hush", "run"].into_iter().chain(argv));
        let own = super::RunOnly::parse_from(["hush run"].into_iter().chain(argv));
        let super::Command::Run(full_args) = full.command else {
            panic!("not run");
        };
        assert_eq!(full.logging.log, own.logging.log);
        assert_eq!(full_args.paths, own.args.paths);
        assert_eq!(full_args.env, own.args.env);
        assert_eq!(full_args.no_mask, own.args.no_mask);
        assert_eq!(full_args.command, own.args.command);
    }
}
