//! `hush run`: fetch the scoped secrets, build the child's environment, and hand
//! over to the launcher (`crate::run`) with the masker set up.

use super::context::{resolve, Resolved};
use super::run_secrets::{build_env, fetch, mask_set, FetchError, FetchPlan};
use super::watch::{spawn_watcher, WatchSettings};
use super::{Target, TlsArgs};
use crate::cli::error::{CliError, EXIT_ERROR, EXIT_USAGE};
use crate::client::ClientError;
use crate::config::parse_duration;
use crate::run::cache::{human_age, Cache, CacheError, Fetched};
use crate::run::dangerous;
use crate::run::pump::MaskHold;
use crate::run::{exec_replace, LaunchSpec};
use crate::time_ids::now_ms;
use clap::Args;
use std::ffi::OsString;
use zeroize::Zeroizing;

/// `hush run` options. Its scope flags are its own: `--path` repeats here.
#[derive(Args, Clone)]
pub struct RunArgs {
    /// Server URL [env: HUSH_SERVER]
    #[arg(long)]
    pub server: Option<String>,
    /// Log in first with a platform token (see `hush login --method`); the token stays in memory
    #[command(flatten)]
    pub workload: super::workload::WorkloadLogin,
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
    /// Let the command see HUSH_TOKEN / HUSH_CLIENT_SECRET / HUSH_JWT
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
    /// Lease a credential of dynamic secret NAME (or folder/NAME) for the
    /// command: injected under its output keys (each prefixed with PREFIX),
    /// masked, renewed while it runs, revoked when it exits
    #[arg(long = "dynamic", value_name = "NAME[=PREFIX]", conflicts_with_all = ["watch", "offline"])]
    pub dynamic: Vec<String>,
    /// Also write the secrets to an ephemeral 0600 file (--mount=PATH, or a
    /// private directory on a memory filesystem: $XDG_RUNTIME_DIR or /dev/shm),
    /// its path in HUSH_SECRETS_PATH, removed when the command exits
    #[arg(long, value_name = "PATH", num_args = 0..=1, require_equals = true, default_missing_value = "", conflicts_with = "watch")]
    pub mount: Option<String>,
    /// With --mount: the file's format
    #[arg(long, value_enum, default_value = "dotenv", requires = "mount")]
    pub mount_format: super::run_mount::MountFormat,
    /// With --mount: render this Go template instead of a format (the
    /// agent's engine; `.` is the secrets by key: {{ .DB_URL }})
    #[arg(
        long,
        value_name = "FILE",
        requires = "mount",
        conflicts_with = "mount_format"
    )]
    pub mount_template: Option<std::path::PathBuf>,
    /// With --mount: a FIFO that serves N reads, then is removed (default:
    /// a 0600 file that lives as long as the command)
    #[arg(long, value_name = "N", requires = "mount", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub mount_max_reads: Option<u32>,
    /// The command and its arguments, after --
    #[arg(last = true)]
    pub command: Vec<std::ffi::OsString>,
}

fn cache_scope(ctx: &Resolved, plan: &FetchPlan) -> String {
    format!(
        "{}\0{}\0{}\0{}\0{}\0{}",
        ctx.server,
        ctx.project,
        ctx.env,
        plan.paths.join("\x01"),
        plan.recursive,
        plan.tags.join(",")
    )
}

/// First fetch, with the offline fallback: an unreachable server (never a 401/403)
/// falls back to the encrypted cache with a warning naming its age.
async fn fetch_with_fallback(
    ctx: &Resolved,
    plan: &FetchPlan,
    args: &RunArgs,
    token: &str,
) -> anyhow::Result<Fetched> {
    let cache = Cache::new(token, &cache_scope(ctx, plan));
    let max_age = args
        .fallback_max_age
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(CliError::usage)?;
    let from_cache = |why: &str| -> anyhow::Result<Fetched> {
        let cache = cache.as_ref().ok_or_else(|| {
            CliError::new(
                EXIT_ERROR,
                "no cache directory (set HOME or XDG_CACHE_HOME)",
                None,
            )
        })?;
        match cache.load(now_ms(), max_age) {
            Ok((secrets, age)) => {
                eprintln!(
                    "hush: warning: {why}; using cached secrets ({})",
                    human_age(age)
                );
                Ok(secrets)
            }
            Err(
                e @ (CacheError::Missing
                | CacheError::TooOld { .. }
                | CacheError::Unreadable(_)
                | CacheError::Io(_)),
            ) => Err(CliError::new(
                EXIT_ERROR,
                format!("{why}, and {e}"),
                Some("retry when the server is reachable".into()),
            )
            .into()),
        }
    };
    if args.offline {
        return from_cache("--offline");
    }
    match fetch(ctx, plan).await {
        Ok(secrets) => {
            if let Some(cache) = &cache {
                if let Err(e) = cache.refresh(&secrets, now_ms()) {
                    eprintln!("hush: warning: could not update the offline cache: {e}");
                }
            }
            Ok(secrets)
        }
        Err(FetchError::Client(e @ ClientError::Unreachable { .. })) if !args.no_fallback => {
            from_cache(&e.to_string())
        }
        Err(FetchError::Client(e)) => Err(CliError::from(e).into()),
        Err(FetchError::Reference(e)) => Err(CliError::new(
            EXIT_ERROR,
            e.to_string(),
            Some("fix the reference (write $${ for a literal ${), or pass --no-expand to inject values as they are".into()),
        )
        .into()),
    }
}

/// hush keeps running beside the child to mask its output, holding the token
/// in memory and, when it came from HUSH_TOKEN, in its environment block. A
/// non-dumpable process's `/proc/PID/environ`, `mem` and `maps` are closed to
/// other processes of the same user (the child included) and it cannot be
/// ptrace-attached; exec resets the flag, so the child itself is unaffected.
fn forbid_inspection() {
    for problem in crate::hygiene::forbid_inspection() {
        eprintln!("hush: warning: {problem}; the command may be able to read hush's memory");
    }
}

fn command(args: &RunArgs) -> Result<(OsString, Vec<OsString>), CliError> {
    if let Some(line) = &args.shell_command {
        if !args.command.is_empty() {
            return Err(CliError::usage(
                "give either --command \"...\" or -- CMD ARGS, not both",
            ));
        }
        let shell = std::env::var_os("SHELL")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "sh".into());
        return Ok((shell, vec!["-c".into(), line.into()]));
    }
    let mut parts = args.command.iter().cloned();
    let program = parts.next().ok_or_else(|| {
        CliError::new(
            EXIT_USAGE,
            "no command to run",
            Some(
                "usage: hush run [OPTIONS] -- CMD [ARGS...]  or  hush run --command \"CMD\"".into(),
            ),
        )
    })?;
    Ok((program, parts.collect()))
}

pub(super) fn mask_hold(text: &str) -> Result<MaskHold, CliError> {
    if text == "inf" || text == "strict" {
        return Ok(MaskHold::Strict);
    }
    parse_duration(text)
        .map(MaskHold::For)
        .map_err(|e| CliError::usage(format!("--mask-hold: {e}")))
}

pub async fn run(mut args: RunArgs) -> anyhow::Result<i32> {
    let target = Target {
        server: args.server.clone(),
        token: args.token.clone(),
        project: args.project.clone(),
        env: args.env.clone(),
        path: None,
        tls: args.tls.clone(),
    };
    let (program, program_args) = command(&args)?;
    let hold = mask_hold(&args.mask_hold)?;
    let kill_timeout = parse_duration(&args.kill_timeout)
        .map_err(|e| CliError::usage(format!("--kill-timeout: {e}")))?;
    let watch_interval = parse_duration(&args.watch_interval)
        .map_err(|e| CliError::usage(format!("--watch-interval: {e}")))?;
    let watch_debounce = parse_duration(&args.watch_debounce)
        .map_err(|e| CliError::usage(format!("--watch-debounce: {e}")))?;
    let stop_signal = parse_signal(&args.stop_signal)?;
    let mount_template = args
        .mount_template
        .as_deref()
        .map(super::run_mount::load_template)
        .transpose()?;
    // `--method`: log in with the platform token; the access token is held
    // here only (never saved, kept from the child).
    let minted = super::workload::token_for_run(&target, &mut args.workload).await?;
    let ctx = match &minted {
        Some(got) => super::workload::resolve_with_token(&target, &got.token)?,
        None => resolve(&target)?,
    };
    // The credentials are read (stored login, flag or environment): from here
    // on, nothing else of this user may look inside hush.
    forbid_inspection();
    let token = match &minted {
        Some(got) => got.token.clone(),
        None => Zeroizing::new(
            args.token
                .clone()
                .or_else(|| std::env::var("HUSH_TOKEN").ok())
                .or_else(|| ctx.session.as_ref().map(|s| s.token.clone()))
                .unwrap_or_default(),
        ),
    };
    let plan = FetchPlan {
        paths: if args.paths.is_empty() {
            vec![ctx.path.clone()]
        } else {
            args.paths.clone()
        },
        recursive: args.recursive,
        tags: args.tags.clone(),
        expand: !args.no_expand,
    };
    let dynamic = args
        .dynamic
        .iter()
        .map(|spec| super::run_dynamic::parse(spec, &ctx.path))
        .collect::<Result<Vec<_>, _>>()?;
    let mut fetched = fetch_with_fallback(&ctx, &plan, &args, &token).await?;
    let secrets = &fetched.secrets;

    let mut required: Vec<String> = args.require.clone();
    required.extend(
        ctx.project_file
            .as_ref()
            .map(|f| f.required.clone())
            .unwrap_or_default(),
    );
    let missing: Vec<&String> = required
        .iter()
        .filter(|k| !secrets.contains_key(k.as_str()))
        .collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        return Err(CliError::new(
            EXIT_ERROR,
            format!(
                "required secrets missing in {} {}: {}",
                ctx.env,
                plan.paths.join(", "),
                names.join(", ")
            ),
            Some("set them with 'hush set KEY=...' or fix --env/--path".into()),
        )
        .into());
    }

    // Leased after the checks above (nothing to revoke when they fail), and
    // never written to the offline cache (which was refreshed before).
    let leases = super::run_dynamic::lease_into(&ctx, &dynamic, &mut fetched).await?;
    let secrets = &fetched.secrets;
    let mut built = build_env(secrets, &args, &ctx);
    for name in &built.skipped_protected {
        eprintln!("hush: warning: secret {name} not injected: {name} is a protected variable and keeps the shell's value");
    }
    for name in &built.skipped_dangerous {
        eprintln!("{}", dangerous::skipped_warning(name));
    }
    // `.hush.json` comes with the repository: say so whenever it is what let
    // a hook variable through, so the allowance never goes unnoticed.
    let from_file = ctx.project_file.iter().flat_map(|f| f.allow_env.iter());
    for name in from_file.filter(|n| !args.allow_env.contains(n)) {
        if let Some(family) = dangerous::family(name).filter(|_| secrets.contains_key(name)) {
            eprintln!(
                "hush: note: injecting {name} ({family}): allowed by \"allowEnv\" in .hush.json"
            );
        }
    }
    // The --mount file lives until the command is gone (dropped below, or on
    // any early return).
    let mount = match &args.mount {
        Some(path) => {
            let spec = super::run_mount::MountSpec {
                format: args.mount_format,
                template: mount_template.as_ref(),
                max_reads: args.mount_max_reads,
            };
            match super::run_mount::create(std::path::Path::new(path), &spec, secrets) {
                Ok(file) => Some(file),
                Err(e) => {
                    super::run_dynamic::revoke_all(&ctx, &leases).await;
                    return Err(e.into());
                }
            }
        }
        None => None,
    };
    if let Some(file) = &mount {
        built
            .vars
            .push((super::run_mount::PATH_VAR.into(), file.path().into()));
    }
    // Without masking (and without a supervisor loop for --watch, leases or a
    // mount to clean up) hush gets out of the way: the command replaces it,
    // with its own PID, terminal and signals.
    if args.no_mask && !args.watch && leases.is_empty() && mount.is_none() {
        return Ok(exec_replace(&program, &program_args, &built.vars).exit_code_printed());
    }
    let mask = if args.no_mask {
        None
    } else {
        Some((mask_set(&fetched, &token, &args.mask_format), hold))
    };
    let spec = LaunchSpec {
        program,
        args: program_args,
        env: built.vars.clone(),
        mask,
        kill_timeout,
        stop_signal,
        mask_report: args.mask_report,
    };
    let restarts = if args.watch {
        let (tx, rx) = std::sync::mpsc::channel();
        spawn_watcher(
            target.clone(),
            plan,
            args.clone(),
            token.clone(),
            built.vars.clone(),
            WatchSettings {
                interval: watch_interval,
                debounce: watch_debounce,
                // A minted token expires: the watcher logs in again.
                relogin: minted.as_ref().and_then(|got| {
                    let method = args.workload.method?;
                    Some((method, args.workload.clone(), got.expires_in))
                }),
            },
            tx,
        )?;
        Some(rx)
    } else {
        None
    };
    // The launcher blocks this (single-threaded) runtime until the child is done;
    // nothing else runs on it meanwhile (the watcher and the lease renewer
    // have their own threads). Leases are revoked once the child is gone,
    // however it ended.
    let renewer = super::run_dynamic::Renewer::start(&target, &leases);
    let outcome = crate::run::run(spec, restarts);
    drop(mount);
    renewer.stop();
    super::run_dynamic::revoke_all(&ctx, &leases).await;
    match outcome {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("hush: {e}");
            Ok(e.exit_code())
        }
    }
}

fn parse_signal(name: &str) -> Result<nix::sys::signal::Signal, CliError> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse().map_err(|_| {
        CliError::usage(format!(
            "--stop-signal: unknown signal {name:?} (e.g. TERM, INT, HUP)"
        ))
    })
}

trait PrintExit {
    fn exit_code_printed(self) -> i32;
}

impl PrintExit for crate::run::RunError {
    fn exit_code_printed(self) -> i32 {
        eprintln!("hush: {self}");
        self.exit_code()
    }
}
