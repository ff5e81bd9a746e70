//! Command-line definitions (clap) and dispatch. One file per command group holds
//! the logic.

pub mod access;
pub mod audit;
pub mod audit_export;
pub mod audit_streams;
pub mod auth;
pub mod context;
pub mod diff;
pub mod dotenv;
pub mod export;
pub mod files;
pub mod folders;
pub mod formats;
pub mod import;
pub mod init;
pub mod offboarding;
pub mod output;
pub mod projects;
pub mod redact;
pub mod rotation;
pub mod run;
pub mod run_secrets;
pub mod secrets;
pub mod server;
pub mod set_warnings;
pub mod watch;

use crate::config::ServerArgs;
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

#[derive(Subcommand)]
pub enum Command {
    /// Rotation policies: secrets renewed with generated values on a schedule
    Rotation(rotation::RotationArgs),
    /// Rotate a secret now (it needs a rotation policy)
    Rotate(rotation::RotateArgs),
    /// Run the hush server
    Server {
        #[command(flatten)]
        args: Box<ServerArgs>,
        #[command(subcommand)]
        action: Option<ServerAction>,
    },
    /// Create the first admin user and the `default` project on a new server
    Bootstrap {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        email: String,
        /// The one-time code the new server printed on start [env: HUSH_BOOTSTRAP_CODE]
        /// [default: read from the server's data dir when it runs on this host]
        #[arg(long, hide_env_values = true)]
        code: Option<String>,
        /// Read the code from this file (the server's <data dir>/bootstrap-code)
        #[arg(long, conflicts_with = "code")]
        code_file: Option<PathBuf>,
        /// Read the password from stdin (otherwise prompted on a terminal)
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
    /// Log in: email and password, a machine identity (--client-id/--client-secret), or a token (--token)
    Login {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        password_stdin: bool,
        /// Machine identity client id [env: HUSH_CLIENT_ID]
        #[arg(long)]
        client_id: Option<String>,
        /// Machine identity client secret [env: HUSH_CLIENT_SECRET]
        #[arg(long, hide_env_values = true)]
        client_secret: Option<String>,
    },
    /// Manage users (server admins)
    Users {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        action: UsersAction,
    },
    /// Manage machine identities for CI, servers and Kubernetes (server admins)
    Identities {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        action: IdentitiesAction,
    },
    /// Scoped service tokens (project admins)
    Tokens {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        action: TokensAction,
    },
    /// Project members and their roles (project admins)
    Members {
        #[command(subcommand)]
        action: MembersAction,
    },
    /// Change your password (asks for the current one); your other sessions are revoked
    Passwd {
        #[command(flatten)]
        target: Target,
        /// Read the current and the new password from stdin, one per line
        #[arg(long)]
        password_stdin: bool,
    },
    /// Your sessions (server admins: anyone's, with --user); list and revoke them
    Sessions {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        action: SessionsAction,
    },
    /// Revoke the stored session on the server and forget it here
    Logout {
        #[command(flatten)]
        target: Target,
    },
    /// Show who the current credentials belong to
    Whoami {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        json: bool,
    },
    /// List secrets (values masked unless --reveal)
    List {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        recursive: bool,
        /// Show values (audited as a read of each value)
        #[arg(long)]
        reveal: bool,
        /// Values as stored: do not expand ${KEY} references
        #[arg(long)]
        no_expand: bool,
        #[arg(long)]
        json: bool,
    },
    /// Print a secret's value
    Get {
        #[command(flatten)]
        target: Target,
        /// KEY, or folder/KEY (e.g. prod/api/API_KEY)
        key: String,
        #[arg(long)]
        version: Option<i64>,
        /// Never add a trailing newline
        #[arg(long)]
        plain: bool,
        /// Values as stored: do not expand ${KEY} references
        #[arg(long)]
        no_expand: bool,
        #[arg(long)]
        json: bool,
    },
    /// Set secrets: KEY=VALUE..., KEY --from-file FILE, or KEY - (value from stdin)
    Set {
        #[command(flatten)]
        target: Target,
        #[arg(required = true)]
        items: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        /// key=value metadata (repeatable)
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Fail unless the current version is N (0: only create)
        #[arg(long)]
        if_version: Option<i64>,
        #[arg(long)]
        from_file: Option<PathBuf>,
        /// Do not warn about values given on the command line
        #[arg(long)]
        no_history_hint: bool,
        #[arg(long)]
        json: bool,
    },
    /// Soft-delete secrets (recoverable with `hush restore`)
    Delete {
        #[command(flatten)]
        target: Target,
        #[arg(required = true)]
        keys: Vec<String>,
        /// Remove for good, with history (admins)
        #[arg(long)]
        purge: bool,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Restore a soft-deleted secret with its history
    Restore {
        #[command(flatten)]
        target: Target,
        key: String,
    },
    /// List soft-deleted secrets that can still be restored
    Deleted {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        json: bool,
    },
    /// Show a secret's versions
    History {
        #[command(flatten)]
        target: Target,
        key: String,
        #[arg(long)]
        reveal: bool,
        #[arg(long)]
        json: bool,
    },
    /// Write a new version whose content is an older version's
    Rollback {
        #[command(flatten)]
        target: Target,
        key: String,
        #[arg(long)]
        version: i64,
    },
    /// Create secrets that must not exist yet (fails with exit 5 if one does)
    Create {
        #[command(flatten)]
        target: Target,
        /// KEY=VALUE..., KEY --from-file FILE, or KEY - (value from stdin)
        #[arg(required = true)]
        items: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        /// key=value metadata (repeatable)
        #[arg(long = "tag")]
        tags: Vec<String>,
        #[arg(long)]
        from_file: Option<PathBuf>,
        /// Do not warn about values given on the command line
        #[arg(long)]
        no_history_hint: bool,
        #[arg(long)]
        json: bool,
    },
    /// Compare two versions of a secret (values masked unless --reveal)
    Diff {
        #[command(flatten)]
        target: Target,
        key: String,
        /// Older version [default: the one before --to]
        #[arg(long)]
        from: Option<i64>,
        /// Newer version [default: the current one]
        #[arg(long)]
        to: Option<i64>,
        /// Show the values (audited as a read of every version's value)
        #[arg(long)]
        reveal: bool,
        #[arg(long)]
        json: bool,
    },
    /// Write .hush.json here: project, default environment, branch mapping
    Init {
        #[command(flatten)]
        target: Target,
        /// Map a git branch to an environment, BRANCH=ENV (repeatable)
        #[arg(long = "branch-env")]
        branch_env: Vec<String>,
        /// Replace an existing .hush.json
        #[arg(long)]
        force: bool,
    },
    /// List or create projects
    Projects {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        action: ProjectsAction,
    },
    /// List or create environments of the project
    Envs {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        action: EnvsAction,
    },
    /// List, create or delete folders (--path is the parent)
    Folders {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        action: FoldersAction,
    },
    /// Import secrets from a file, all or nothing
    Import {
        #[command(flatten)]
        target: Target,
        /// The file to read ('-': stdin)
        file: PathBuf,
        /// [default: from the file's extension, else dotenv]
        #[arg(long, value_enum)]
        format: Option<formats::ImportFormat>,
        /// Replace the values of keys that exist
        #[arg(long, conflicts_with = "skip_existing")]
        overwrite: bool,
        /// Leave keys that exist as they are
        #[arg(long)]
        skip_existing: bool,
        #[arg(long)]
        json: bool,
    },
    /// Print (or write) the secrets of a folder in a file format
    Export {
        #[command(flatten)]
        target: Target,
        #[arg(long, value_enum, default_value = "dotenv")]
        format: formats::ExportFormat,
        /// Write here (mode 0600, atomically) instead of stdout
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// k8s-secret: metadata.name
        #[arg(long)]
        name: Option<String>,
        /// k8s-secret: metadata.namespace
        #[arg(long)]
        namespace: Option<String>,
        /// Values as stored: do not expand ${KEY} references
        #[arg(long)]
        no_expand: bool,
    },
    /// Work with local environment files
    Env {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        action: EnvAction,
    },
    /// Write the secrets to a .env file (CI form of `hush env pull`)
    Pull {
        #[command(flatten)]
        target: Target,
        /// The environment to pull (same as --env)
        #[arg(long)]
        workspace: Option<String>,
        #[command(flatten)]
        pull: PullArgs,
    },
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout
    Man,
    #[command(about = RUN_ABOUT)]
    Run(Box<RunArgs>),
    /// Mask secret values in stdin, writing to stdout (e.g. kubectl logs POD | hush redact)
    Redact {
        #[command(flatten)]
        target: Target,
        /// Mask the values of this dotenv file instead of fetching from the server
        #[arg(long)]
        values_from: Option<std::path::PathBuf>,
        /// Include subfolders when fetching
        #[arg(long)]
        recursive: bool,
        /// Replacement text; {key} is replaced with the secret's name
        #[arg(long, default_value = "***")]
        mask_format: String,
        /// How long a possible partial secret is held back; 'inf' holds until resolved
        #[arg(long, default_value = "250ms")]
        mask_hold: String,
        /// Print how many values of which keys were masked (stderr)
        #[arg(long)]
        mask_report: bool,
    },
    /// Query the audit log, or verify its hash chain
    Audit {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        action: Option<AuditAction>,
        #[arg(long)]
        key: Option<String>,
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        action_name: Option<String>,
        /// e.g. 24h, 7d
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
        /// Keep printing new events as they are logged (Ctrl-C ends)
        #[arg(long, short)]
        follow: bool,
    },
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
    args: RunArgs,
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
            Command::Server { args, .. } => {
                args.inline_root_key = crate::hygiene::take_env("HUSH_ROOT_KEY");
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

/// `hush run` options. Its scope flags are its own: `--path` repeats here.
#[derive(Args, Clone)]
pub struct RunArgs {
    /// Server URL [env: HUSH_SERVER]
    #[arg(long)]
    pub server: Option<String>,
    /// Access or service token [env: HUSH_TOKEN]; removed from the child's environment
    #[arg(long, hide_env_values = true)]
    pub token: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Project id or slug [env: HUSH_PROJECT]
    #[arg(long)]
    pub project: Option<String>,
    /// Environment [env: HUSH_ENV] [default: dev]
    #[arg(long, short = 'e')]
    pub env: Option<String>,
    /// Folder to fetch (repeatable; on a key collision the LATER --path wins) [default: /]
    #[arg(long = "path")]
    pub paths: Vec<String>,
    /// Include subfolders
    #[arg(long)]
    pub recursive: bool,
    /// Only secrets with this tag key or key=value (repeatable)
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Run this command line through $SHELL -c (else sh -c)
    #[arg(long = "command", short = 'c')]
    pub shell_command: Option<String>,
    /// The shell's value wins over a secret's: for every name, or only --preserve-env=K1,K2
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub preserve_env: Option<String>,
    /// Pass only the secrets and the protected names (PATH, HOME, USER, SHELL, TERM, PWD, LANG, LC_*, XDG_*)
    #[arg(long)]
    pub no_inherit_env: bool,
    /// Inject values as stored, without expanding ${KEY} references
    #[arg(long)]
    pub no_expand: bool,
    /// Fail before starting the command unless these keys exist (comma-separated)
    #[arg(long, value_delimiter = ',')]
    pub require: Vec<String>,
    /// Let the command see HUSH_TOKEN / HUSH_CLIENT_SECRET
    #[arg(long)]
    pub pass_token: bool,
    /// Inject a secret even though its name is a loader or interpreter hook
    /// (NODE_OPTIONS, LD_PRELOAD, PYTHONPATH...; repeatable or comma-separated)
    #[arg(long = "allow-env", value_name = "NAME", value_delimiter = ',')]
    pub allow_env: Vec<String>,
    /// Do not mask output: hush replaces itself with the command (exec)
    #[arg(long)]
    pub no_mask: bool,
    /// How long a possible partial secret is held back before it is flushed; 'inf' holds until resolved
    #[arg(long, default_value = "250ms")]
    pub mask_hold: String,
    /// Replacement text; {key} is replaced with the secret's name
    #[arg(long, default_value = "***")]
    pub mask_format: String,
    /// Print how many values of which keys were masked, at exit (stderr)
    #[arg(long)]
    pub mask_report: bool,
    /// After a second SIGINT/SIGTERM (or a watch restart), SIGKILL the command after this long
    #[arg(long, default_value = "10s")]
    pub kill_timeout: String,
    /// Signal that stops the command on a watch restart
    #[arg(long, default_value = "TERM")]
    pub stop_signal: String,
    /// Restart the command when its secrets change on the server
    #[arg(long)]
    pub watch: bool,
    /// With --watch: how often to check for changes when the server cannot push them (it normally does), and the retry delay after an error
    #[arg(long, default_value = "10s")]
    pub watch_interval: String,
    /// With --watch: wait this long after a change before restarting, so a burst of changes restarts once
    #[arg(long, default_value = "1s")]
    pub watch_debounce: String,
    /// Use only the offline cache, never the server
    #[arg(long)]
    pub offline: bool,
    /// Fail instead of using the offline cache when the server is unreachable
    #[arg(long, conflicts_with = "offline")]
    pub no_fallback: bool,
    /// Refuse cached secrets older than this (e.g. 24h)
    #[arg(long)]
    pub fallback_max_age: Option<String>,
    /// The command and its arguments, after --
    #[arg(last = true)]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Subcommand)]
pub enum UsersAction {
    /// Create a user; prints a one-time invite token for them to set a password
    Create {
        email: String,
        /// Make the user a server admin
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set your password with an invite token (read from stdin: TOKEN, then PASSWORD, one per line)
    AcceptInvite {
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: their sessions stop working at once (undo with enable)
    Disable { email: String },
    /// Enable a disabled user again (they log in anew)
    Enable { email: String },
    /// Delete a user: sessions revoked, memberships and personal values removed
    Delete {
        email: String,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Make a user a server admin, or (--off) no longer one
    SetAdmin {
        email: String,
        /// Remove server-admin rights (the last enabled admin keeps them)
        #[arg(long)]
        off: bool,
    },
    /// Issue a one-time password reset token for a user (expires in 24 hours)
    ResetPassword {
        email: String,
        #[arg(long)]
        json: bool,
    },
    /// Set a new password with a reset token (read from stdin: TOKEN, then PASSWORD, one per line)
    AcceptReset {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum SessionsAction {
    /// Live sessions: id, created, expires (never the token)
    List {
        /// Another user's sessions (server admins)
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke one session; it is refused from the next request on
    Revoke {
        id: String,
        /// The session's user, when it is not you (server admins)
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum IdentitiesAction {
    /// Create an identity; prints its client id and a client secret (shown once)
    Create {
        name: String,
        /// Access token lifetime, e.g. 1h
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// Renewals never go past this, e.g. 30d
        #[arg(long, default_value = "30d")]
        max_ttl: String,
        /// Requests an access token may make (0: unlimited)
        #[arg(long, default_value_t = 0)]
        num_uses: i64,
        /// Allowed client address range (repeatable), e.g. 10.0.0.0/8
        #[arg(long = "trusted-ip")]
        trusted_ips: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// List an identity's client secrets (prefixes only)
    Secrets {
        identity: String,
        #[arg(long)]
        json: bool,
    },
    /// Add a client secret (rotation: add, deploy, then revoke the old one)
    AddSecret {
        identity: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a client secret; the access tokens it issued stop working too
    RevokeSecret { identity: String, secret_id: String },
    /// An identity's live access tokens: id, created, expires, uses (never the token)
    Tokens {
        identity: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke one access token of an identity
    RevokeToken { identity: String, token_id: String },
    /// Delete an identity: its client secrets and access tokens stop working, memberships go
    Delete {
        identity: String,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
pub enum TokensAction {
    /// Create a scoped service token (printed once). Scope: --env and --path, or --scope ENV:GLOB...
    Create {
        #[arg(long)]
        name: String,
        /// ENV:PATH_GLOB (repeatable), e.g. prod:/api/**
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Read only (the default)
        #[arg(long, conflicts_with = "write")]
        read: bool,
        /// Read and write
        #[arg(long)]
        write: bool,
        /// Lifetime, e.g. 24h
        #[arg(long)]
        ttl: String,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Revoke {
        id: String,
    },
}

#[derive(Subcommand)]
pub enum MembersAction {
    /// Give a user (email) or identity (name) a role; --env ENV:LEVEL and --path GLOB:LEVEL add overrides
    Add {
        who: String,
        #[arg(long)]
        role: String,
        /// Per-environment override ENV:none|read|write, or ENV:GLOB:LEVEL (repeatable)
        #[arg(long = "env")]
        env_overrides: Vec<String>,
        /// Per-path override GLOB:none|read|write (repeatable)
        #[arg(long = "path")]
        path_overrides: Vec<String>,
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        token: Option<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        token: Option<String>,
        #[arg(long)]
        json: bool,
    },
    Remove {
        who: String,
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        token: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum ServerAction {
    /// Re-wrap every project key under a new root key (run with the server stopped)
    RotateRootKey {
        /// File holding the new 32-byte key (hex or base64), mode 0600
        #[arg(long)]
        new_root_key_file: PathBuf,
    },
    /// Copy a SQLite deployment into an empty PostgreSQL database, then verify it
    /// (stop the server first)
    Migrate {
        /// Source: sqlite:///path/hush.db
        #[arg(long)]
        from: String,
        /// Target: postgres://user:password@host:5432/db (must be empty)
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand)]
pub enum ProjectsAction {
    /// Projects you are a member of
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create a project (with dev, staging and prod)
    Create {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum EnvsAction {
    /// Environments of the project
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add an environment to the project (admins)
    Create {
        slug: String,
        /// Display name [default: the slug]
        #[arg(long)]
        name: Option<String>,
        /// Only admins may write to it
        #[arg(long)]
        protected: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum FoldersAction {
    /// Folders in --path (explicit ones and those holding secrets)
    List {
        #[arg(long)]
        recursive: bool,
        #[arg(long)]
        json: bool,
    },
    /// Create folder NAME inside --path
    Create {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete folder NAME inside --path
    Delete {
        name: String,
        /// Also soft-delete the secrets in it (recoverable with `hush restore`)
        #[arg(long)]
        force: bool,
    },
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

#[derive(Subcommand)]
pub enum AuditAction {
    /// Recompute the keyed chain; fails naming the first broken event.
    /// With --checkpoint, also prove nothing up to the checkpoint was
    /// changed, removed or cut off
    Verify {
        #[arg(long)]
        json: bool,
        /// A checkpoint file from `hush audit checkpoint` (or the server's
        /// checkpoint directory); its signature is checked here, with its
        /// public key alone
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<std::path::PathBuf>,
        /// The server's checkpoint public key (hex) to require, instead of
        /// trusting the one in the file
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
        /// The server's audit archive directory (a copy is fine): verify
        /// its signed segments and that they and the live log form one chain
        #[arg(long, value_name = "DIR")]
        archive: Option<std::path::PathBuf>,
    },
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
        action: StreamsAction,
    },
    /// Write the events of a time range, oldest first, as NDJSON or CSV
    Export {
        /// Start: e.g. 24h, 7d, 2026-01-31T00:00:00Z, or Unix milliseconds
        #[arg(long)]
        since: String,
        /// End (same forms) [default: now]
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value = "ndjson", value_parser = ["ndjson", "csv"])]
        format: String,
        /// File to write (0600) [default: stdout]
        #[arg(long, short = 'o')]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum StreamsAction {
    /// Add a stream: https://HOST/PATH (JSON batches), syslog+tls://HOST:PORT (RFC 5424);
    /// http:// and syslog+tcp:// only to loopback
    Add {
        #[arg(long)]
        url: String,
        /// 'Name: value', sent with every delivery; stored encrypted, never shown again
        #[arg(long = "header")]
        headers: Vec<String>,
        /// NAME=ENV_VAR: a header whose value is read from the environment
        #[arg(long = "header-env")]
        headers_from_env: Vec<String>,
        /// PEM file: the only CA TLS connections to the collector trust
        /// [default: the public web PKI]
        #[arg(long)]
        ca_cert: Option<std::path::PathBuf>,
        /// Deliver the whole existing log first [default: only new events]
        #[arg(long)]
        from_start: bool,
        #[arg(long)]
        json: bool,
    },
    /// Change a stream's URL, headers or CA; it goes on from where it is
    Update {
        id: String,
        #[arg(long)]
        url: Option<String>,
        /// Replaces all headers (with --header-env)
        #[arg(long = "header")]
        headers: Vec<String>,
        #[arg(long = "header-env")]
        headers_from_env: Vec<String>,
        /// Remove every header
        #[arg(long, conflicts_with_all = ["headers", "headers_from_env"])]
        no_headers: bool,
        #[arg(long)]
        ca_cert: Option<std::path::PathBuf>,
        /// Trust the public web PKI again
        #[arg(long, conflicts_with = "ca_cert")]
        no_ca_cert: bool,
        #[arg(long)]
        json: bool,
    },
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

pub fn init_tracing(cli: &Cli) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.logging.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let default_info = matches!(cli.command, Command::Server { .. }) && cli.logging.log == "warn";
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
    let rt = runtime(matches!(cli.command, Command::Server { .. }))?;
    rt.block_on(async move {
        if !matches!(
            cli.command,
            Command::Server { .. } | Command::Login { .. } | Command::Bootstrap { .. }
        ) {
            auth::refresh_session().await;
        }
        match cli.command {
            Command::Server { args, action: None } => server::run(*args).await.map(|_| 0),
            Command::Server {
                args,
                action: Some(ServerAction::RotateRootKey { new_root_key_file }),
            } => server::rotate_root_key(*args, &new_root_key_file)
                .await
                .map(|_| 0),
            Command::Server {
                args,
                action: Some(ServerAction::Migrate { from, to }),
            } => server::migrate(*args, &from, &to).await.map(|_| 0),
            Command::Bootstrap {
                target,
                email,
                code,
                code_file,
                password_stdin,
                json,
            } => {
                let code = auth::BootstrapCodeSource { code, code_file };
                auth::bootstrap(target, &email, code, password_stdin, json).await
            }
            Command::Login {
                target,
                email,
                password_stdin,
                client_id,
                client_secret,
            } => auth::login(target, email, password_stdin, client_id, client_secret).await,
            Command::Users { target, action } => access::users(target, action).await,
            Command::Identities { target, action } => access::identities(target, action).await,
            Command::Tokens { target, action } => access::tokens(target, action).await,
            Command::Members { action } => access::members(action).await,
            Command::Passwd {
                target,
                password_stdin,
            } => offboarding::passwd(target, password_stdin).await,
            Command::Sessions { target, action } => offboarding::sessions(target, action).await,
            Command::Rotation(args) => rotation::rotation(args).await,
            Command::Rotate(args) => rotation::rotate(args).await,
            Command::Logout { target } => auth::logout(target).await,
            Command::Whoami { target, json } => auth::whoami(target, json).await,
            Command::List {
                target,
                recursive,
                reveal,
                no_expand,
                json,
            } => secrets::list(target, recursive, reveal, !no_expand, json).await,
            Command::Get {
                target,
                key,
                version,
                plain,
                no_expand,
                json,
            } => secrets::get(target, &key, version, plain, !no_expand, json).await,
            Command::Set {
                target,
                items,
                description,
                tags,
                if_version,
                from_file,
                no_history_hint,
                json,
            } => {
                secrets::set(
                    target,
                    secrets::SetArgs {
                        items,
                        description,
                        tags,
                        if_version,
                        from_file,
                        no_history_hint,
                        json,
                    },
                )
                .await
            }
            Command::Delete {
                target,
                keys,
                purge,
                yes,
            } => secrets::delete(target, &keys, purge, yes).await,
            Command::Restore { target, key } => secrets::restore(target, &key).await,
            Command::Deleted { target, json } => secrets::deleted(target, json).await,
            Command::History {
                target,
                key,
                reveal,
                json,
            } => secrets::history(target, &key, reveal, json).await,
            Command::Rollback {
                target,
                key,
                version,
            } => secrets::rollback(target, &key, version).await,
            Command::Create {
                target,
                items,
                description,
                tags,
                from_file,
                no_history_hint,
                json,
            } => {
                secrets::create(
                    target,
                    secrets::SetArgs {
                        items,
                        description,
                        tags,
                        if_version: Some(0),
                        from_file,
                        no_history_hint,
                        json,
                    },
                )
                .await
            }
            Command::Diff {
                target,
                key,
                from,
                to,
                reveal,
                json,
            } => diff::diff(target, &key, diff::Range { from, to }, reveal, json).await,
            Command::Init {
                target,
                branch_env,
                force,
            } => init::init(target, &branch_env, force).await,
            Command::Projects { target, action } => projects::projects(target, action).await,
            Command::Envs { target, action } => projects::envs(target, action).await,
            Command::Folders { target, action } => folders::folders(target, action).await,
            Command::Import {
                target,
                file,
                format,
                overwrite,
                skip_existing,
                json,
            } => {
                let on_existing = match (overwrite, skip_existing) {
                    (true, _) => import::OnExisting::Overwrite,
                    (_, true) => import::OnExisting::Skip,
                    _ => import::OnExisting::Fail,
                };
                import::import(target, &file, format, on_existing, json).await
            }
            Command::Export {
                target,
                format,
                output,
                name,
                namespace,
                no_expand,
            } => {
                export::export(
                    target,
                    export::ExportArgs {
                        format,
                        output,
                        name,
                        namespace,
                        expand: !no_expand,
                    },
                )
                .await
            }
            Command::Env {
                target,
                action: EnvAction::Pull { pull },
            } => export::pull(target, pull).await,
            Command::Pull {
                mut target,
                workspace,
                pull,
            } => {
                if let Some(ws) = workspace {
                    if target.env.as_ref().is_some_and(|e| *e != ws) {
                        return Err(crate::error::CliError::usage(
                            "--workspace and --env name different environments; pass one",
                        )
                        .into());
                    }
                    target.env = Some(ws);
                }
                export::pull(target, pull).await
            }
            Command::Completions { shell } => {
                use clap::CommandFactory;
                let mut cmd = Cli::command();
                clap_complete::generate(shell, &mut cmd, "hush", &mut std::io::stdout());
                Ok(0)
            }
            Command::Man => {
                use clap::CommandFactory;
                clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
                Ok(0)
            }
            Command::Run(args) => run::run(*args).await,
            Command::Redact {
                target,
                values_from,
                recursive,
                mask_format,
                mask_hold,
                mask_report,
            } => {
                redact::redact(
                    target,
                    values_from,
                    recursive,
                    mask_format,
                    mask_hold,
                    mask_report,
                )
                .await
            }
            Command::Audit {
                target,
                action:
                    Some(AuditAction::Verify {
                        json,
                        checkpoint,
                        public_key,
                        archive,
                    }),
                ..
            } => {
                audit::verify(
                    target,
                    json,
                    audit::VerifyWith {
                        checkpoint: checkpoint.as_deref(),
                        public_key: public_key.as_deref(),
                        archive: archive.as_deref(),
                    },
                )
                .await
            }
            Command::Audit {
                target,
                action: Some(AuditAction::Checkpoint { output }),
                ..
            } => audit::checkpoint(target, output.as_deref()).await,
            Command::Audit {
                target,
                action: Some(AuditAction::Streams { action }),
                ..
            } => match action {
                StreamsAction::Add {
                    url,
                    headers,
                    headers_from_env,
                    ca_cert,
                    from_start,
                    json,
                } => {
                    audit_streams::add(
                        target,
                        audit_streams::Add {
                            url,
                            headers,
                            headers_from_env,
                            ca_cert,
                            from_start,
                            json,
                        },
                    )
                    .await
                }
                StreamsAction::Update {
                    id,
                    url,
                    headers,
                    headers_from_env,
                    no_headers,
                    ca_cert,
                    no_ca_cert,
                    json,
                } => {
                    audit_streams::update(
                        target,
                        &id,
                        audit_streams::Update {
                            url,
                            headers,
                            headers_from_env,
                            no_headers,
                            ca_cert,
                            no_ca_cert,
                            json,
                        },
                    )
                    .await
                }
                StreamsAction::List { json } => audit_streams::list(target, json).await,
                StreamsAction::Show { id, json } => audit_streams::show(target, &id, json).await,
                StreamsAction::Delete { id } => audit_streams::delete(target, &id).await,
            },
            Command::Audit {
                target,
                action:
                    Some(AuditAction::Export {
                        since,
                        until,
                        format,
                        output,
                    }),
                ..
            } => {
                audit_export::export(
                    target,
                    audit_export::Export {
                        since,
                        until,
                        format,
                        output,
                    },
                )
                .await
            }
            Command::Audit {
                target,
                action: None,
                key,
                actor,
                action_name,
                since,
                limit,
                json,
                follow,
            } => {
                audit::query(
                    target,
                    audit::Filter {
                        key,
                        actor,
                        action: action_name,
                        since,
                        limit,
                    },
                    json,
                    follow,
                )
                .await
            }
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
