//! The agent's configuration: Infisical Agent's YAML format, read unchanged
//! (`infisical.address`, `auth.type: universal-auth` with `client-id` /
//! `client-secret` file paths and `remove_client_secret_on_read`, `sinks`,
//! `templates[]` with `source-path` / `template-content` /
//! `base64-template-content`, `destination-path` and `config.polling-interval`
//! / `config.execute`), plus hush's additions: `auth.type: token`
//! (`config.path`), a template's `mode`, `infisical.exit-after-render` and
//! `status-file`. Unknown keys are ignored, as Infisical's parser ignores
//! them, so one file serves both agents.
//!
//! Everything is checked here, at the edge: sizes, counts, modes, durations.
//! The result holds parsed templates; no file is written while loading.

use super::files::Owner;
use super::notify::{PidSource, SignalTarget};
use super::offline::OfflineConfig;
use super::template::{Template, MAX_SOURCE_BYTES};
use base64::Engine as _;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const MAX_CONFIG_BYTES: u64 = 256 * 1024;
pub const MAX_TEMPLATES: usize = 64;
pub const MAX_SINKS: usize = 16;
/// Infisical's default polling interval (used only when the change feed is down).
pub const DEFAULT_POLLING: Duration = Duration::from_secs(300);
const MIN_POLLING: Duration = Duration::from_secs(1);
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_COMMAND_TIMEOUT: Duration = Duration::from_secs(3600);
const MAX_COMMAND_BYTES: usize = 4096;
const DEFAULT_ADDRESS: &str = "https://app.infisical.com";

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

#[derive(Deserialize, Default)]
struct RawConfig {
    #[serde(default)]
    infisical: RawServer,
    auth: Option<RawAuth>,
    #[serde(default)]
    sinks: Vec<RawSink>,
    #[serde(default)]
    templates: Vec<RawTemplate>,
    #[serde(default, rename = "status-file")]
    status_file: Option<PathBuf>,
    exec: Option<RawExec>,
    #[serde(rename = "offline-cache", alias = "offline_cache")]
    offline_cache: Option<RawOffline>,
}

/// `offline-cache: true`, or a section.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawOffline {
    On(bool),
    Section {
        enabled: Option<bool>,
        path: Option<PathBuf>,
        #[serde(rename = "max-age", alias = "max_age")]
        max_age: Option<String>,
    },
}

/// hush's supervisor mode: `exec: {command, restart, signal}`.
#[derive(Deserialize)]
struct RawExec {
    command: Option<RawCommand>,
    restart: Option<String>,
    signal: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawCommand {
    /// Run through `sh -c`.
    Line(String),
    Argv(Vec<String>),
}

#[derive(Deserialize, Default)]
struct RawServer {
    address: Option<String>,
    #[serde(default, rename = "exit-after-auth")]
    exit_after_auth: bool,
    #[serde(default, rename = "exit-after-render")]
    exit_after_render: bool,
}

#[derive(Deserialize)]
struct RawAuth {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    config: RawAuthConfig,
}

#[derive(Deserialize, Default)]
struct RawAuthConfig {
    #[serde(rename = "client-id")]
    client_id: Option<PathBuf>,
    #[serde(rename = "client-secret")]
    client_secret: Option<PathBuf>,
    #[serde(default)]
    remove_client_secret_on_read: bool,
    path: Option<PathBuf>,
    /// kubernetes / oidc-auth / jwt-auth: a file holding the identity's id.
    #[serde(rename = "identity-id")]
    identity_id: Option<PathBuf>,
    /// kubernetes: the service-account token file.
    #[serde(rename = "service-account-token")]
    service_account_token: Option<PathBuf>,
    /// oidc-auth / jwt-auth: a file holding the platform token.
    jwt: Option<PathBuf>,
}

#[derive(Deserialize)]
struct RawSink {
    #[serde(rename = "type")]
    kind: String,
    config: RawSinkConfig,
}

#[derive(Deserialize)]
struct RawSinkConfig {
    path: PathBuf,
}

#[derive(Deserialize)]
struct RawTemplate {
    #[serde(rename = "source-path")]
    source_path: Option<PathBuf>,
    #[serde(rename = "template-content")]
    template_content: Option<String>,
    #[serde(rename = "base64-template-content")]
    base64_template_content: Option<String>,
    #[serde(rename = "destination-path")]
    destination_path: Option<PathBuf>,
    /// Octal, e.g. "0640" (YAML may also give a number).
    mode: Option<serde_norway::Value>,
    /// hush: the rendered KEY=value lines also go into the environment of
    /// the supervised command (`exec`).
    #[serde(default)]
    env: bool,
    /// hush: "user", "user:group", ":group" or numeric ids; the file is
    /// given to them before it replaces the destination.
    owner: Option<serde_norway::Value>,
    /// hush: a signal for a running process when the file changes.
    #[serde(alias = "on-change")]
    on_change: Option<RawOnChange>,
    #[serde(default)]
    config: RawTemplateConfig,
}

#[derive(Deserialize)]
struct RawOnChange {
    signal: Option<String>,
    #[serde(alias = "pid-file")]
    pid_file: Option<PathBuf>,
    pid: Option<i64>,
}

#[derive(Deserialize, Default)]
struct RawTemplateConfig {
    #[serde(rename = "polling-interval")]
    polling_interval: Option<String>,
    execute: Option<RawExecute>,
}

#[derive(Deserialize)]
struct RawExecute {
    command: Option<String>,
    /// Seconds.
    timeout: Option<u64>,
}

/// Infisical Agent's environment overrides: when set, they win over the
/// files the config names (Infisical reads them at each login, and so does
/// hush). The client secret has two names: the agent's own and the CLI's.
pub const ENV_CLIENT_ID: &str = "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID";
pub const ENV_CLIENT_SECRET: [&str; 2] = [
    "INFISICAL_UNIVERSAL_CLIENT_SECRET",
    "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
];
pub const ENV_IDENTITY_ID: &str = "INFISICAL_MACHINE_IDENTITY_ID";
pub const ENV_KUBERNETES_TOKEN_PATH: &str = "INFISICAL_KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH";
/// The platform token itself (the second name is Infisical's older one).
pub const ENV_JWT: [&str; 2] = ["INFISICAL_JWT", "INFISICAL_OIDC_AUTH_JWT"];

/// A non-empty environment variable.
pub fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Which platform-token login (`/api/v1/auth/<method>/login`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadMethod {
    Kubernetes,
    Oidc,
    Jwt,
}

/// How the agent gets its access token.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthConfig {
    /// Infisical's universal auth: client id and secret read from files
    /// (or `INFISICAL_UNIVERSAL_AUTH_CLIENT_ID` / `..._CLIENT_SECRET`).
    Universal {
        client_id: Option<PathBuf>,
        client_secret: Option<PathBuf>,
        remove_secret_on_read: bool,
    },
    /// A platform token (Kubernetes service account, OIDC, JWT) exchanged
    /// for an access token, read again at each login (they rotate).
    Workload {
        method: WorkloadMethod,
        /// A file holding the identity id (or INFISICAL_MACHINE_IDENTITY_ID).
        identity_id: Option<PathBuf>,
        /// The platform token's file (Kubernetes: default the pod's; OIDC/JWT:
        /// or INFISICAL_JWT).
        token_file: Option<PathBuf>,
    },
    /// A token (service token or access token) read from a file, re-read
    /// when the server refuses it.
    TokenFile(PathBuf),
}

#[derive(Debug, Clone)]
pub struct TemplateConfig {
    /// Where the template came from, for messages.
    pub label: String,
    pub template: Template,
    pub destination: PathBuf,
    pub mode: u32,
    pub polling: Duration,
    pub command: Option<String>,
    pub command_timeout: Duration,
    /// Its KEY=value lines go into the supervised command's environment.
    pub env: bool,
    /// The signal sent on each effective change.
    pub on_change: Option<SignalTarget>,
    /// Who owns the written file (None: the agent's user).
    pub owner: Option<Owner>,
}

/// What the supervised command gets on an effective change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Stopped (stop signal, then SIGKILL after the timeout) and started again.
    Always,
    /// Left alone.
    Never,
    /// Sent this signal (it reloads by itself).
    Signal(nix::sys::signal::Signal),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExecConfig {
    /// argv; empty when only the command line gives it (`--exec -- CMD`).
    pub command: Vec<String>,
    pub restart: RestartPolicy,
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The server's base URL (no trailing `/api`).
    pub address: String,
    pub auth: AuthConfig,
    pub sinks: Vec<PathBuf>,
    pub templates: Vec<TemplateConfig>,
    pub exit_after_auth: bool,
    pub exit_after_render: bool,
    pub status_file: PathBuf,
    pub exec: Option<ExecConfig>,
    /// Render from the offline cache while the server is unreachable.
    pub offline: Option<OfflineConfig>,
}

/// Where the status goes when the config does not say: beside the config.
pub fn default_status_file(config_path: &Path) -> PathBuf {
    let mut name = config_path.file_name().unwrap_or_default().to_os_string();
    name.push(".status.json");
    config_path.with_file_name(name)
}

/// Reads a small file, refusing one larger than `max` bytes.
pub fn read_bounded(path: &Path, max: u64, what: &str) -> Result<Vec<u8>, ConfigError> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(|e| err(format!("cannot read {what} {}: {e}", path.display())))?;
    let mut buf = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| err(format!("cannot read {what} {}: {e}", path.display())))?;
    if buf.len() as u64 > max {
        return Err(err(format!(
            "{what} {} is larger than {max} bytes",
            path.display()
        )));
    }
    Ok(buf)
}

/// Loads and checks the config at `path`; relative paths inside it are
/// relative to the working directory, as in Infisical Agent.
pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
    let bytes = read_bounded(path, MAX_CONFIG_BYTES, "agent config")?;
    let raw: RawConfig = serde_norway::from_slice(&bytes)
        .map_err(|e| err(format!("invalid agent config {}: {e}", path.display())))?;
    let status_default = default_status_file(path);
    build(raw, status_default).map_err(|e| err(format!("agent config {}: {}", path.display(), e.0)))
}

fn build(raw: RawConfig, status_default: PathBuf) -> Result<AgentConfig, ConfigError> {
    let address = raw
        .infisical
        .address
        .unwrap_or_else(|| DEFAULT_ADDRESS.to_owned());
    let address = address.trim().trim_end_matches('/');
    // Infisical appends `/api` itself; accept an address given either way.
    let address = address.strip_suffix("/api").unwrap_or(address).to_owned();
    if !(address.starts_with("http://") || address.starts_with("https://")) {
        return Err(err("infisical.address must start with http:// or https://"));
    }
    let auth = auth(
        raw.auth
            .ok_or_else(|| {
                err("auth is required (auth.type: universal-auth, kubernetes, oidc-auth, jwt-auth or token)")
            })?,
    )?;
    if raw.sinks.len() > MAX_SINKS {
        return Err(err(format!("at most {MAX_SINKS} sinks")));
    }
    let mut sinks = Vec::new();
    for s in raw.sinks {
        if s.kind != "file" {
            return Err(err(format!(
                "sink type {:?} is not supported (only \"file\")",
                s.kind
            )));
        }
        sinks.push(s.config.path);
    }
    if raw.templates.len() > MAX_TEMPLATES {
        return Err(err(format!("at most {MAX_TEMPLATES} templates")));
    }
    let mut templates = Vec::new();
    for (i, t) in raw.templates.into_iter().enumerate() {
        templates.push(template(i + 1, t)?);
    }
    let mut seen = std::collections::HashSet::new();
    for t in &templates {
        if !seen.insert(t.destination.clone()) {
            return Err(err(format!(
                "two templates write {}",
                t.destination.display()
            )));
        }
    }
    Ok(AgentConfig {
        address,
        sinks,
        templates,
        exit_after_auth: raw.infisical.exit_after_auth,
        exit_after_render: raw.infisical.exit_after_render,
        status_file: raw.status_file.unwrap_or(status_default),
        exec: raw.exec.map(exec).transpose()?,
        offline: raw
            .offline_cache
            .map(|o| offline(o, &auth))
            .transpose()?
            .flatten(),
        auth,
    })
}

fn offline(raw: RawOffline, auth: &AuthConfig) -> Result<Option<OfflineConfig>, ConfigError> {
    let (enabled, dir, max_age) = match raw {
        RawOffline::On(on) => (on, None, None),
        RawOffline::Section {
            enabled,
            path,
            max_age,
        } => (enabled.unwrap_or(true), path, max_age),
    };
    if !enabled {
        return Ok(None);
    }
    if !matches!(
        auth,
        AuthConfig::Universal { .. } | AuthConfig::TokenFile(_)
    ) {
        // The cache key comes from a credential that outlives the access
        // token; platform tokens (Kubernetes, OIDC, JWT) are re-issued.
        return Err(err(
            "offline-cache needs auth.type universal-auth or token (its key comes from their credential)",
        ));
    }
    let max_age = max_age
        .map(|m| go_duration(&m).map_err(|e| err(format!("offline-cache.max-age: {e}"))))
        .transpose()?;
    Ok(Some(OfflineConfig { dir, max_age }))
}

fn exec(raw: RawExec) -> Result<ExecConfig, ConfigError> {
    let command = match raw.command {
        None => Vec::new(),
        Some(RawCommand::Line(l)) if l.trim().is_empty() => Vec::new(),
        Some(RawCommand::Line(l)) => vec!["sh".into(), "-c".into(), l],
        Some(RawCommand::Argv(v)) => v,
    };
    if command.iter().map(String::len).sum::<usize>() > MAX_COMMAND_BYTES {
        return Err(err(format!(
            "exec.command is longer than {MAX_COMMAND_BYTES} bytes"
        )));
    }
    let restart = match raw.restart.as_deref().unwrap_or("always") {
        "always" => RestartPolicy::Always,
        "never" => RestartPolicy::Never,
        "signal" => RestartPolicy::Signal(parse_signal(raw.signal.as_deref().unwrap_or("HUP"))?),
        other => {
            return Err(err(format!(
                "exec.restart {other:?} must be always, never or signal"
            )))
        }
    };
    Ok(ExecConfig { command, restart })
}

/// "HUP", "SIGHUP" or "hup".
pub fn parse_signal(name: &str) -> Result<nix::sys::signal::Signal, ConfigError> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse().map_err(|_| {
        err(format!(
            "exec.signal: unknown signal {name:?} (e.g. HUP, USR1, TERM)"
        ))
    })
}

fn auth(raw: RawAuth) -> Result<AuthConfig, ConfigError> {
    let c = raw.config;
    let workload = |method: WorkloadMethod, token_file: Option<PathBuf>| {
        if c.identity_id.is_none() && env_value(ENV_IDENTITY_ID).is_none() {
            return Err(err(format!(
                "auth.config.identity-id (a file holding the identity id) is required, or set {ENV_IDENTITY_ID}"
            )));
        }
        if method != WorkloadMethod::Kubernetes
            && token_file.is_none()
            && ENV_JWT.iter().all(|n| env_value(n).is_none())
        {
            return Err(err(format!(
                "auth.config.jwt (a file holding the token) is required, or set {}",
                ENV_JWT[0]
            )));
        }
        Ok(AuthConfig::Workload {
            method,
            identity_id: c.identity_id.clone(),
            token_file,
        })
    };
    match raw.kind.as_str() {
        "universal-auth" => {
            if c.client_id.is_none() && env_value(ENV_CLIENT_ID).is_none() {
                return Err(err(format!(
                    "auth.config.client-id (a file path) is required, or set {ENV_CLIENT_ID}"
                )));
            }
            if c.client_secret.is_none() && ENV_CLIENT_SECRET.iter().all(|n| env_value(n).is_none())
            {
                return Err(err(format!(
                    "auth.config.client-secret (a file path) is required, or set {}",
                    ENV_CLIENT_SECRET[0]
                )));
            }
            Ok(AuthConfig::Universal {
                client_id: c.client_id,
                client_secret: c.client_secret,
                remove_secret_on_read: c.remove_client_secret_on_read,
            })
        }
        "token" => Ok(AuthConfig::TokenFile(c.path.clone().ok_or_else(|| {
            err("auth.config.path (a file holding the token) is required")
        })?)),
        "kubernetes" | "kubernetes-auth" => {
            workload(WorkloadMethod::Kubernetes, c.service_account_token.clone())
        }
        "oidc-auth" | "oidc" => workload(WorkloadMethod::Oidc, c.jwt.clone()),
        "jwt-auth" | "jwt" => workload(WorkloadMethod::Jwt, c.jwt.clone()),
        other => Err(err(format!(
            "auth.type {other:?} is not supported by hush agent (use universal-auth, kubernetes, oidc-auth, jwt-auth or token)"
        ))),
    }
}

fn template(n: usize, t: RawTemplate) -> Result<TemplateConfig, ConfigError> {
    let label = format!("templates[{n}]");
    let sources = [
        t.source_path.is_some(),
        t.template_content.is_some(),
        t.base64_template_content.is_some(),
    ];
    if sources.iter().filter(|s| **s).count() != 1 {
        return Err(err(format!(
            "{label}: give exactly one of source-path, template-content, base64-template-content"
        )));
    }
    let (source, label) = if let Some(p) = &t.source_path {
        let bytes = read_bounded(p, MAX_SOURCE_BYTES as u64, "template")?;
        let text = String::from_utf8(bytes)
            .map_err(|_| err(format!("template {} is not UTF-8", p.display())))?;
        (text, format!("{label} ({})", p.display()))
    } else if let Some(c) = t.template_content {
        (c, label)
    } else {
        let b = t.base64_template_content.unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .map_err(|_| err(format!("{label}: base64-template-content is not base64")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| err(format!("{label}: base64-template-content is not UTF-8")))?;
        (text, label)
    };
    let template = Template::parse(&source).map_err(|e| err(format!("{label}: {e}")))?;
    let destination = t
        .destination_path
        .ok_or_else(|| err(format!("{label}: destination-path is required")))?;
    if destination.file_name().is_none() {
        return Err(err(format!("{label}: destination-path must name a file")));
    }
    let mode = match t.mode {
        None => 0o600,
        Some(v) => parse_mode(&v).map_err(|e| err(format!("{label}: {e}")))?,
    };
    let polling = match &t.config.polling_interval {
        None => DEFAULT_POLLING,
        Some(s) => go_duration(s)
            .map_err(|e| err(format!("{label}: polling-interval: {e}")))?
            .max(MIN_POLLING),
    };
    let (command, command_timeout) = match t.config.execute {
        None => (None, DEFAULT_COMMAND_TIMEOUT),
        Some(e) => {
            let command = e.command.filter(|c| !c.trim().is_empty());
            if command
                .as_ref()
                .is_some_and(|c| c.len() > MAX_COMMAND_BYTES)
            {
                return Err(err(format!(
                    "{label}: execute.command is longer than {MAX_COMMAND_BYTES} bytes"
                )));
            }
            let timeout = match e.timeout {
                None | Some(0) => DEFAULT_COMMAND_TIMEOUT,
                Some(s) => Duration::from_secs(s).min(MAX_COMMAND_TIMEOUT),
            };
            (command, timeout)
        }
    };
    let on_change = t
        .on_change
        .map(on_change)
        .transpose()
        .map_err(|e| err(format!("{label}: {}", e.0)))?;
    let owner = t
        .owner
        .as_ref()
        .map(parse_owner)
        .transpose()
        .map_err(|e| err(format!("{label}: {e}")))?;
    Ok(TemplateConfig {
        label,
        template,
        destination,
        mode,
        polling,
        command,
        command_timeout,
        env: t.env,
        on_change,
        owner,
    })
}

fn on_change(raw: RawOnChange) -> Result<SignalTarget, ConfigError> {
    let name = raw
        .signal
        .ok_or_else(|| err("on_change.signal is required (e.g. SIGHUP)"))?;
    let signal = parse_signal(&name).map_err(|_| {
        err(format!(
            "on_change.signal: unknown signal {name:?} (e.g. HUP, USR1)"
        ))
    })?;
    let target = match (raw.pid_file, raw.pid) {
        (Some(f), None) => PidSource::File(f),
        (None, Some(p)) => PidSource::Pid(
            i32::try_from(p)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| err("on_change.pid must be a positive process id"))?,
        ),
        _ => return Err(err("on_change needs exactly one of pid_file and pid")),
    };
    Ok(SignalTarget { signal, target })
}

/// "user", "user:group", ":group", "1000:1000" or a bare uid; names are
/// looked up now, so a typo fails at load and not at the first write.
fn parse_owner(v: &serde_norway::Value) -> Result<Owner, String> {
    let text = match v {
        serde_norway::Value::String(s) => s.trim().to_owned(),
        serde_norway::Value::Number(n) => n.to_string(),
        _ => return Err("owner must be \"user\", \"user:group\" or \":group\"".into()),
    };
    let (user, group) = match text.split_once(':') {
        Some((u, g)) => (u.trim(), g.trim()),
        None => (text.as_str(), ""),
    };
    if user.is_empty() && group.is_empty() {
        return Err("owner is empty (use \"user\", \"user:group\" or \":group\")".into());
    }
    let uid = match user {
        "" => None,
        u => Some(match u.parse::<u32>() {
            Ok(n) => n,
            Err(_) => nix::unistd::User::from_name(u)
                .map_err(|e| format!("owner: cannot look up user {u:?}: {e}"))?
                .ok_or_else(|| format!("owner: no user named {u:?} on this system"))?
                .uid
                .as_raw(),
        }),
    };
    let gid = match group {
        "" => None,
        g => Some(match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => nix::unistd::Group::from_name(g)
                .map_err(|e| format!("owner: cannot look up group {g:?}: {e}"))?
                .ok_or_else(|| format!("owner: no group named {g:?} on this system"))?
                .gid
                .as_raw(),
        }),
    };
    Ok(Owner {
        uid,
        gid,
        label: text,
    })
}

/// A file mode: "0640", "640" or a YAML number read as octal digits.
fn parse_mode(v: &serde_norway::Value) -> Result<u32, String> {
    let text = match v {
        serde_norway::Value::String(s) => s.clone(),
        serde_norway::Value::Number(n) => n.to_string(),
        _ => return Err("mode must be an octal string like \"0640\"".into()),
    };
    let digits = text.trim().trim_start_matches("0o");
    let mode = u32::from_str_radix(digits, 8)
        .map_err(|_| format!("mode {text:?} is not octal like \"0640\""))?;
    if mode > 0o777 {
        return Err(format!("mode {text:?} has bits beyond 0777"));
    }
    if mode & 0o600 != 0o600 {
        return Err(format!("mode {text:?} must let the owner read and write"));
    }
    Ok(mode)
}

/// Go's `time.ParseDuration` forms: `60s`, `5m`, `1h30m`, `250ms`; a bare
/// number is seconds.
pub fn go_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || format!("{t:?} is not a duration like 60s, 5m or 1h30m");
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            _ => return Err(bad()),
        };
        total = total.saturating_add(unit);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<AgentConfig, ConfigError> {
        let raw: RawConfig = serde_norway::from_str(yaml).map_err(|e| err(e.to_string()))?;
        build(raw, PathBuf::from("/tmp/s.json"))
    }

    #[test]
    fn infisical_docs_config_is_accepted() {
        let c = parse(
            r#"
infisical:
  address: "https://app.infisical.com"
auth:
  type: "universal-auth"
  config:
    client-id: "./client-id"
    client-secret: "./client-secret"
    remove_client_secret_on_read: false
sinks:
  - type: "file"
    config:
      path: "/some/path/to/store/access-token/file-name"
templates:
  - template-content: |
      {{- with secret "6553ccb2b7da580d7f6e7260" "dev" "/" }}{{ range . }}{{ .Key }}={{ .Value }}{{ end }}{{ end }}
    destination-path: /some/path/.env
    config:
      polling-interval: 60s
      execute:
        timeout: 30
        command: ./reload-app.sh
"#,
        )
        .unwrap();
        assert_eq!(c.address, "https://app.infisical.com");
        assert_eq!(c.sinks.len(), 1);
        let t = &c.templates[0];
        assert_eq!(t.mode, 0o600);
        assert_eq!(t.polling, Duration::from_secs(60));
        assert_eq!(t.command.as_deref(), Some("./reload-app.sh"));
        assert_eq!(t.command_timeout, Duration::from_secs(30));
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        let base = "auth: {type: token, config: {path: /t}}\n";
        let e = |y: &str| parse(y).unwrap_err().0;
        assert!(e("auth: {type: gcp-iam}").contains("not supported"));
        assert!(e(&format!("{base}templates: [{{destination-path: /x}}]")).contains("exactly one"));
        assert!(e(&format!(
            "{base}templates: [{{template-content: 'x', destination-path: /x, mode: '0644x'}}]"
        ))
        .contains("octal"));
        assert!(e(&format!(
            "{base}templates: [{{template-content: 'x', destination-path: /x, mode: '0400'}}]"
        ))
        .contains("owner"));
        assert!(e(&format!(
            "{base}templates: [{{template-content: '{{{{ if 1 }}}}', destination-path: /x}}]"
        ))
        .contains("syntax"));
        assert!(e(&format!("{base}infisical: {{address: ftp://x}}")).contains("http"));
    }

    #[test]
    fn exec_section_and_env_templates() {
        use nix::sys::signal::Signal;
        let base = "auth: {type: token, config: {path: /t}}\ntemplates: [{template-content: 'x', destination-path: /x, env: true}]\n";
        let c = parse(&format!(
            "{base}exec: {{command: 'gunicorn app', restart: signal, signal: usr1}}"
        ))
        .unwrap();
        assert!(c.templates[0].env);
        let exec = c.exec.unwrap();
        assert_eq!(exec.command, ["sh", "-c", "gunicorn app"]);
        assert_eq!(exec.restart, RestartPolicy::Signal(Signal::SIGUSR1));
        let c = parse(&format!("{base}exec: {{command: [app, --port, '1']}}")).unwrap();
        let exec = c.exec.unwrap();
        assert_eq!(exec.command, ["app", "--port", "1"]);
        assert_eq!(exec.restart, RestartPolicy::Always);
        assert!(parse(base).unwrap().exec.is_none());
        let e = |y: &str| parse(&format!("{base}{y}")).unwrap_err().0;
        assert!(e("exec: {restart: sometimes}").contains("always, never or signal"));
        assert!(e("exec: {restart: signal, signal: NOPE}").contains("unknown signal"));
    }

    #[test]
    fn on_change_signal_and_owner() {
        use nix::sys::signal::Signal;
        let base = "auth: {type: token, config: {path: /t}}\ntemplates: [{template-content: 'x', destination-path: /x, ";
        let c = parse(&format!(
            "{base}on_change: {{signal: SIGHUP, pid_file: /run/app.pid}}, owner: '0:0'}}]"
        ))
        .unwrap();
        let t = &c.templates[0];
        assert_eq!(
            t.on_change,
            Some(SignalTarget {
                signal: Signal::SIGHUP,
                target: PidSource::File("/run/app.pid".into())
            })
        );
        let o = t.owner.as_ref().unwrap();
        assert_eq!((o.uid, o.gid), (Some(0), Some(0)));
        let c = parse(&format!(
            "{base}on-change: {{signal: usr1, pid: 42}}, owner: root}}]"
        ))
        .unwrap();
        let t = &c.templates[0];
        assert_eq!(t.on_change.as_ref().unwrap().target, PidSource::Pid(42));
        assert_eq!(t.owner.as_ref().unwrap().uid, Some(0));
        assert_eq!(t.owner.as_ref().unwrap().gid, None);
        let o = parse(&format!("{base}owner: ':0'}}]")).unwrap();
        assert_eq!(o.templates[0].owner.as_ref().unwrap().uid, None);
        let e = |y: &str| parse(&format!("{base}{y}}}]")).unwrap_err().0;
        assert!(e("on_change: {signal: HUP}").contains("exactly one of pid_file and pid"));
        assert!(e("on_change: {signal: HUP, pid: 0}").contains("positive"));
        assert!(e("on_change: {signal: HUP, pid: -1}").contains("positive"));
        assert!(e("on_change: {signal: NOPE, pid: 5}").contains("unknown signal"));
        assert!(e("on_change: {pid: 5}").contains("signal is required"));
        assert!(e("owner: no-such-user-hush-xyz").contains("no user named"));
        assert!(e("owner: ':no-such-group-hush-xyz'").contains("no group named"));
        assert!(e("owner: ':'").contains("empty"));
    }

    #[test]
    fn workload_auth_types_use_infisicals_names() {
        let k = parse("auth: {type: kubernetes, config: {identity-id: /id}}").unwrap();
        assert_eq!(
            k.auth,
            AuthConfig::Workload {
                method: WorkloadMethod::Kubernetes,
                identity_id: Some("/id".into()),
                token_file: None
            }
        );
        let j = parse("auth: {type: jwt-auth, config: {identity-id: /id, jwt: /t}}").unwrap();
        assert!(matches!(
            j.auth,
            AuthConfig::Workload {
                method: WorkloadMethod::Jwt,
                ..
            }
        ));
        let o = parse("auth: {type: oidc-auth, config: {identity-id: /id, jwt: /t}}").unwrap();
        assert!(matches!(
            o.auth,
            AuthConfig::Workload {
                method: WorkloadMethod::Oidc,
                ..
            }
        ));
        let e = |y: &str| parse(y).unwrap_err().0;
        assert!(e("auth: {type: kubernetes}").contains("INFISICAL_MACHINE_IDENTITY_ID"));
        assert!(e("auth: {type: jwt-auth, config: {identity-id: /id}}").contains("INFISICAL_JWT"));
        // The offline cache needs a credential that outlives the access token.
        assert!(
            e("auth: {type: kubernetes, config: {identity-id: /id}}\noffline-cache: true")
                .contains("offline-cache needs")
        );
        let c =
            parse("auth: {type: token, config: {path: /t}}\noffline-cache: {max-age: 2h}").unwrap();
        assert_eq!(c.offline.unwrap().max_age, Some(Duration::from_secs(7200)));
        let c = parse("auth: {type: token, config: {path: /t}}\noffline-cache: {enabled: false}")
            .unwrap();
        assert!(c.offline.is_none());
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(go_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(go_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(go_duration("5").unwrap(), Duration::from_secs(5));
        assert!(go_duration("5 minutes").is_err());
        assert!(go_duration("").is_err());
    }
}
