//! Server settings: flags > environment (`HUSH_*`) > TOML file > defaults.
//! Loading only reads; it creates nothing. `Debug` never shows the root key.

use crate::http_settings::RateSpec;
use crate::keys::settings::{External, ProviderName};
use crate::limits::{LimitArgs, Limits};
use ipnet::IpNet;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroizing;

/// Flags and environment variables (clap reads both; flags win).
#[derive(clap::Args, Default, Clone)]
pub struct ServerArgs {
    /// TOML config file (see server/config.example.toml)
    #[arg(long, env = "HUSH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8200]
    #[arg(long, env = "HUSH_LISTEN")]
    pub listen: Option<String>,
    /// Directory for the embedded database, dev root key and dev TLS certificate [default: ./hush-data]
    #[arg(long, env = "HUSH_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite:///path/hush.db (default: hush.db in the data dir) or
    /// postgres://user:password@host:5432/db[?sslmode=verify-full&sslrootcert=ca.pem]
    #[arg(
        long = "database",
        visible_alias = "database-url",
        env = "HUSH_DATABASE_URL"
    )]
    pub database_url: Option<String>,
    /// Most PostgreSQL connections this server opens [default: 10]
    #[arg(long, env = "HUSH_DATABASE_POOL_SIZE")]
    pub database_pool_size: Option<usize>,
    /// File holding the 32-byte root key (hex or base64), mode 0600. HUSH_ROOT_KEY may hold the key itself.
    #[arg(long, env = "HUSH_ROOT_KEY_FILE")]
    pub root_key_file: Option<PathBuf>,
    /// Where the root key lives: file, env, transit, pkcs11 or awskms (the
    /// last three set up in their config-file section) [default: env when
    /// HUSH_ROOT_KEY is set, else file]
    #[arg(long, env = "HUSH_ROOT_KEY_PROVIDER", value_name = "PROVIDER")]
    pub root_key_provider: Option<String>,
    /// While migrating to another root key provider: the one that wrapped
    /// the keys so far (file, env, transit, pkcs11, awskms, set up as when
    /// it was the provider). `hush keys rotate-root` then moves every key to
    /// the new one; remove this afterwards.
    #[arg(long, env = "HUSH_PREVIOUS_ROOT_KEY_PROVIDER", value_name = "PROVIDER")]
    pub previous_root_key_provider: Option<String>,
    /// How long data keys already unwrapped keep serving while an external
    /// root key provider is unreachable, e.g. 5m [default: 5m]
    #[arg(long, env = "HUSH_ROOT_KEY_CACHE_GRACE")]
    pub root_key_cache_grace: Option<String>,
    /// External providers: the file holding hush's local key wrapped by the
    /// provider (copy it to every replica) [default: DATA_DIR/root-key.wrapped]
    #[arg(long, env = "HUSH_ROOT_KEY_WRAPPED_FILE")]
    pub root_key_wrapped_file: Option<PathBuf>,
    /// TLS certificate chain (PEM)
    #[arg(long, env = "HUSH_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM)
    #[arg(long, env = "HUSH_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a self-signed development certificate kept in the data dir
    #[arg(long, env = "HUSH_TLS_SELF_SIGNED", conflicts_with = "tls_cert")]
    pub tls_self_signed: bool,
    /// How long a deleted secret stays recoverable, e.g. 30d [default: 30d]
    #[arg(long, env = "HUSH_RECOVERY_WINDOW")]
    pub recovery_window: Option<String>,
    /// How often expired deleted secrets are purged, e.g. 1h [default: 10m]
    #[arg(long, env = "HUSH_PURGE_INTERVAL")]
    pub purge_interval: Option<String>,
    /// How often the server writes a signed audit checkpoint (when the log
    /// grew), e.g. 1h, or off [default: 10m]
    #[arg(long, env = "HUSH_AUDIT_CHECKPOINT_INTERVAL")]
    pub audit_checkpoint_interval: Option<String>,
    /// Where those checkpoints go; best outside the data dir (another disk,
    /// an append-only mount) [default: DATA_DIR/audit-checkpoints]
    #[arg(long, env = "HUSH_AUDIT_CHECKPOINT_DIR")]
    pub audit_checkpoint_dir: Option<PathBuf>,
    /// Audit events older than this (e.g. 400d) move from the database to
    /// signed, compressed archive segments [default: keep everything]
    #[arg(long, env = "HUSH_AUDIT_RETENTION")]
    pub audit_retention: Option<String>,
    /// Where archive segments go [default: DATA_DIR/audit-archive]
    #[arg(long, env = "HUSH_AUDIT_ARCHIVE_DIR")]
    pub audit_archive_dir: Option<PathBuf>,
    /// Largest request body in bytes [default: 4194304]
    #[arg(long, env = "HUSH_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Versions kept per secret in new projects [default: 100]
    #[arg(long, env = "HUSH_MAX_VERSIONS")]
    pub max_versions: Option<i64>,
    /// Lifetime of a user's login session, e.g. 24h [default: 24h]
    #[arg(long, env = "HUSH_SESSION_TTL")]
    pub session_ttl: Option<String>,
    /// SQLite: longest time a read's audit event, committed before the read is
    /// answered, may wait for its fsync, e.g. 50ms; 0 fsyncs every read's
    /// event. Writes are always fsynced before they are acknowledged [default: 50ms]
    #[arg(long, env = "HUSH_AUDIT_FLUSH_INTERVAL")]
    pub audit_flush_interval: Option<String>,
    /// How long a journaled audit event may wait to reach the audit log
    /// before reads are refused (503) until it does [default: 10 flush
    /// intervals, at least 1s]
    #[arg(long, env = "HUSH_AUDIT_LOSS_BOUND")]
    pub audit_loss_bound: Option<String>,
    /// Proxies whose X-Forwarded-For is believed, e.g. 10.0.0.0/8,::1; the
    /// client address is then the right-most hop not in these ranges [default: none]
    #[arg(long, env = "HUSH_TRUSTED_PROXIES", value_name = "CIDR,...")]
    pub trusted_proxies: Option<String>,
    /// Requests per client address to the login, bootstrap, invite, reset and
    /// token renew/revoke routes: N/s, N/m or N/h (a burst of N), or off [default: 120/m]
    #[arg(long, env = "HUSH_AUTH_RATE_LIMIT", value_name = "RATE")]
    pub auth_rate_limit: Option<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Longest time a client may take to send a request's headers, counted
    /// from when the connection is ready for the request; also closes idle
    /// keep-alive connections and bounds the TLS handshake [default: 10s]
    #[arg(long, env = "HUSH_HEADER_READ_TIMEOUT")]
    pub header_read_timeout: Option<String>,
    /// Longest time a client may take to send a request body [default: 30s]
    #[arg(long, env = "HUSH_BODY_READ_TIMEOUT")]
    pub body_read_timeout: Option<String>,
    /// How long a keep-alive connection may stay silent between requests
    /// before it is closed (checked at this interval, so up to twice it); at
    /// most the header read timeout [default: 5s]
    #[arg(long, env = "HUSH_IDLE_TIMEOUT")]
    pub idle_timeout: Option<String>,
    /// Longest time a request may take before it is answered 503; the change
    /// feed's long-poll gets its wait (at most 55s) on top [default: 30s]
    #[arg(long, env = "HUSH_REQUEST_TIMEOUT")]
    pub request_timeout: Option<String>,
    /// Most open client connections; further ones are closed at once until
    /// one ends [default: 512]
    #[arg(long, env = "HUSH_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Host names (with optional :port) the server answers to, comma-separated;
    /// others get 421 (DNS-rebinding defence). Empty: any [default: empty]
    #[arg(long, env = "HUSH_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Option<Vec<String>>,
    /// Whether users may log in with a password; with false, only the
    /// break-glass admins may [default: true]
    #[arg(long, env = "HUSH_PASSWORD_LOGIN", value_name = "BOOL", action = clap::ArgAction::Set)]
    pub password_login: Option<bool>,
    /// Server admins who may still log in with a password when
    /// --password-login=false (comma-separated emails) [default: none]
    #[arg(
        long = "break-glass-admin",
        env = "HUSH_BREAK_GLASS_ADMINS",
        value_delimiter = ',',
        value_name = "EMAIL"
    )]
    pub break_glass_admins: Option<Vec<String>>,
    /// Let webhooks reach loopback and private addresses (10/8, 192.168/16,
    /// ...); link-local and cloud metadata addresses stay refused
    /// [default: false]
    #[arg(long, env = "HUSH_WEBHOOK_ALLOW_PRIVATE", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub webhook_allow_private: Option<bool>,
    /// The only address ranges the database connections of dynamic secrets
    /// and rotations may reach, e.g. 10.20.0.0/16; link-local and cloud
    /// metadata addresses are refused either way [default: any]
    #[arg(long, env = "HUSH_DATABASE_TARGETS", value_name = "CIDR,...")]
    pub database_targets: Option<String>,
    /// Rotate the root key generation and every data key when the current
    /// generation is this old, e.g. 90d, or off [default: off]
    #[arg(long, env = "HUSH_ROOT_KEY_ROTATION")]
    pub root_key_rotation: Option<String>,
    /// Ciphertexts re-encrypted per batch after `hush keys rotate-data`
    /// [default: 500]
    #[arg(long, env = "HUSH_REKEY_BATCH")]
    pub rekey_batch: Option<i64>,
    /// Pause between those batches, which throttles the re-encryption,
    /// e.g. 50ms [default: 10ms]
    #[arg(long, env = "HUSH_REKEY_PAUSE")]
    pub rekey_pause: Option<String>,
    /// `HUSH_ROOT_KEY`, taken out of the environment by main before any
    /// thread starts (`hygiene::take_env`); never a flag.
    #[arg(skip)]
    pub inline_root_key: Option<Zeroizing<String>>,
}

/// The same keys in the TOML file (snake_case).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_pool_size: Option<usize>,
    root_key_file: Option<PathBuf>,
    root_key_provider: Option<String>,
    previous_root_key_provider: Option<String>,
    root_key_cache_grace: Option<String>,
    root_key_wrapped_file: Option<PathBuf>,
    /// The providers' sections (file only: they name credential files).
    transit: Option<crate::keys::settings::TransitSettings>,
    pkcs11: Option<crate::keys::settings::Pkcs11Settings>,
    awskms: Option<crate::keys::settings::AwsKmsSettings>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_self_signed: Option<bool>,
    recovery_window: Option<String>,
    purge_interval: Option<String>,
    audit_checkpoint_interval: Option<String>,
    audit_checkpoint_dir: Option<PathBuf>,
    audit_retention: Option<String>,
    audit_archive_dir: Option<PathBuf>,
    max_body_bytes: Option<usize>,
    max_versions: Option<i64>,
    session_ttl: Option<String>,
    audit_flush_interval: Option<String>,
    audit_loss_bound: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    auth_rate_limit: Option<String>,
    /// The `[limits]` table.
    limits: Option<Limits>,
    header_read_timeout: Option<String>,
    body_read_timeout: Option<String>,
    idle_timeout: Option<String>,
    request_timeout: Option<String>,
    max_connections: Option<usize>,
    allowed_hosts: Option<Vec<String>>,
    password_login: Option<bool>,
    break_glass_admins: Option<Vec<String>>,
    webhook_allow_private: Option<bool>,
    database_targets: Option<Vec<String>>,
    root_key_rotation: Option<String>,
    rekey_batch: Option<i64>,
    rekey_pause: Option<String>,
    /// `[[sso_providers]]` tables (file only: they name secrets' sources).
    sso_providers: Option<Vec<crate::sso_settings::ProviderConfig>>,
    sso_public_url: Option<String>,
}

pub enum RootKeySource {
    /// `HUSH_ROOT_KEY` itself.
    Inline(Zeroizing<String>),
    File(PathBuf),
    /// Development: generated into the data dir on first start.
    Generated(PathBuf),
    /// Outside this process (`keys::connect`): transit, pkcs11, awskms.
    External(Box<crate::keys::settings::External>),
}

pub enum Tls {
    Off,
    Files { cert: PathBuf, key: PathBuf },
    SelfSigned,
}

pub struct ServerConfig {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// PostgreSQL only: the connection pool's size.
    pub database_pool_size: usize,
    pub root_key: RootKeySource,
    /// While migrating between providers: the previous one.
    pub previous_root_key: Option<RootKeySource>,
    /// External providers: how long cached data keys serve through an outage.
    pub root_key_cache_grace: Duration,
    /// External providers: the local key, wrapped (`keys::wrapped_root`).
    pub root_key_wrapped_file: PathBuf,
    pub tls: Tls,
    pub recovery_window: Duration,
    pub purge_interval: Duration,
    /// `None`: no periodic checkpoints.
    pub audit_checkpoint_interval: Option<Duration>,
    pub audit_checkpoint_dir: PathBuf,
    /// `None`: keep every event in the database.
    pub audit_retention: Option<Duration>,
    pub audit_archive_dir: PathBuf,
    pub max_body_bytes: usize,
    pub max_versions: i64,
    pub session_ttl: Duration,
    /// SQLite: the fsync window of read-audit events (`store::audit_flush`).
    pub audit_flush_interval: Duration,
    pub audit_loss_bound: Duration,
    /// Proxies whose `X-Forwarded-For` is believed (`server::client_addr`).
    pub trusted_proxies: Vec<IpNet>,
    /// Per-address limit of the unauthenticated routes (`server::rate_limit`).
    pub auth_rate_limit: RateSpec,
    pub limits: Limits,
    /// Timeouts and the connection cap (`server::limits`).
    pub transport: crate::http_settings::Limits,
    /// Host names the server answers to; empty: any (`server::browser`).
    pub allowed_hosts: Vec<String>,
    /// Password logins allowed for everyone (else only `break_glass_admins`).
    pub password_login: bool,
    /// Lower-cased emails.
    pub break_glass_admins: Vec<String>,
    /// Single sign-on providers (secrets are read when the server starts).
    pub sso_providers: Vec<crate::sso_settings::ProviderConfig>,
    /// The server's URL as browsers reach it, for the SSO callback.
    pub sso_public_url: Option<String>,
    /// Webhooks may reach loopback and private addresses (`webhooks::target`).
    pub webhook_allow_private: bool,
    /// Where dynamic secrets' and rotations' database connections may go.
    pub database_targets: crate::db_targets::DbTargets,
    /// `None`: the root key is rotated only when asked (`service::rekey`).
    pub root_key_rotation: Option<Duration>,
    /// Re-encryption batch size and the pause between batches.
    pub rekey_batch: i64,
    pub rekey_pause: Duration,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match &self.root_key {
            RootKeySource::Inline(_) => "HUSH_ROOT_KEY (***)".to_owned(),
            RootKeySource::File(p) => format!("file {}", p.display()),
            RootKeySource::Generated(p) => format!("generated {}", p.display()),
            RootKeySource::External(e) => format!("{e:?}"),
        };
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("database_pool_size", &self.database_pool_size)
            .field("root_key", &key)
            .field("recovery_window", &self.recovery_window)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("auth_rate_limit", &self.auth_rate_limit)
            .field("transport", &self.transport)
            .field("limits", &self.limits)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("password_login", &self.password_login)
            .field("break_glass_admins", &self.break_glass_admins)
            .field("sso_providers", &self.sso_providers.len())
            .field("webhook_allow_private", &self.webhook_allow_private)
            .field("database_targets", &self.database_targets.allowed)
            .field("root_key_rotation", &self.root_key_rotation)
            .finish_non_exhaustive()
    }
}

/// Hides a password in a database URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {0}: {1}")]
    Read(String, String),
    #[error("invalid config file {0}: {1}")]
    Parse(String, String),
    #[error("invalid {0}: {1}")]
    Invalid(&'static str, String),
}

/// What a root key provider name resolves to: the key's source, from the
/// environment, a key file or the provider's config-file section.
struct RootKeySources {
    env_root_key: Option<Zeroizing<String>>,
    key_file: Option<PathBuf>,
    data_dir: PathBuf,
    transit: Option<crate::keys::settings::TransitSettings>,
    pkcs11: Option<crate::keys::settings::Pkcs11Settings>,
    awskms: Option<crate::keys::settings::AwsKmsSettings>,
}

impl RootKeySources {
    fn source(&self, provider: Option<ProviderName>) -> Result<RootKeySource, ConfigError> {
        let missing = |name: &str| {
            ConfigError::Invalid(
                "root_key_provider",
                format!("{name} needs a [{name}] section in the config file (see README, Root key providers)"),
            )
        };
        let section = |found: Option<External>, name| {
            found
                .map(|e| RootKeySource::External(Box::new(e)))
                .ok_or_else(|| missing(name))
        };
        let f = self;
        Ok(match (provider, &self.env_root_key, &self.key_file) {
            (None, Some(k), _) | (Some(ProviderName::Env), Some(k), _) => {
                RootKeySource::Inline(k.clone())
            }
            (Some(ProviderName::Env), None, _) => {
                return Err(ConfigError::Invalid(
                    "root_key_provider",
                    "env needs the key in HUSH_ROOT_KEY".into(),
                ))
            }
            (None | Some(ProviderName::File), _, Some(p)) => RootKeySource::File(p.clone()),
            (None | Some(ProviderName::File), _, None) => {
                RootKeySource::Generated(self.data_dir.join("root.key"))
            }
            (Some(ProviderName::Transit), ..) => {
                section(f.transit.clone().map(External::Transit), "transit")?
            }
            (Some(ProviderName::Pkcs11), ..) => {
                section(f.pkcs11.clone().map(External::Pkcs11), "pkcs11")?
            }
            (Some(ProviderName::AwsKms), ..) => {
                section(f.awskms.clone().map(External::AwsKms), "awskms")?
            }
        })
    }
}

/// Parses `250ms`, `10s`, `5m`, `24h`, `30d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 250ms, 10s, 5m, 24h, 30d"))?;
    let ms = match unit {
        "ms" => n,
        "s" | "" => n * 1000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        "d" => n * 86_400_000,
        _ => {
            return Err(format!(
                "{text:?} is not a duration like 250ms, 10s, 5m, 24h, 30d"
            ))
        }
    };
    Ok(Duration::from_millis(ms))
}

impl ServerConfig {
    pub fn load(
        args: &ServerArgs,
        env_root_key: Option<Zeroizing<String>>,
    ) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("hush-data"));
        let database_url = args
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("hush.db").display()));
        let parse_provider = |flag: Option<String>, in_file: Option<String>, name| {
            flag.or(in_file)
                .map(|n| n.parse::<ProviderName>())
                .transpose()
                .map_err(|e| ConfigError::Invalid(name, e))
        };
        let provider = parse_provider(
            args.root_key_provider.clone(),
            file.root_key_provider.clone(),
            "root_key_provider",
        )?;
        let previous = parse_provider(
            args.previous_root_key_provider.clone(),
            file.previous_root_key_provider.clone(),
            "previous_root_key_provider",
        )?;
        let key_file = args.root_key_file.clone().or(file.root_key_file.clone());
        let sources = RootKeySources {
            env_root_key,
            key_file,
            data_dir: data_dir.clone(),
            transit: file.transit.clone(),
            pkcs11: file.pkcs11.clone(),
            awskms: file.awskms.clone(),
        };
        let root_key = sources.source(provider)?;
        let previous_root_key = match previous {
            None => None,
            Some(p) if Some(p) == provider || (provider.is_none() && p == ProviderName::File) => {
                return Err(ConfigError::Invalid(
                    "previous_root_key_provider",
                    "is the same provider as root_key_provider: to change a file/env key use hush server rotate-root-key".into(),
                ))
            }
            Some(p) => Some(sources.source(Some(p))?),
        };
        if let (Some(_), false) = (
            &previous_root_key,
            matches!(root_key, RootKeySource::External(_)),
        ) {
            return Err(ConfigError::Invalid(
                "previous_root_key_provider",
                "migrating is supported towards transit, pkcs11 or awskms only (hush's own keys stay where they are)".into(),
            ));
        }
        let root_key_wrapped_file = args
            .root_key_wrapped_file
            .clone()
            .or(file.root_key_wrapped_file)
            .unwrap_or_else(|| data_dir.join("root-key.wrapped"));
        let tls = match (
            args.tls_cert.clone().or(file.tls_cert),
            args.tls_key.clone().or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Tls::Files { cert, key },
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError::Invalid(
                    "TLS settings",
                    "give both tls_cert and tls_key".into(),
                ))
            }
            (None, None) if args.tls_self_signed || file.tls_self_signed.unwrap_or(false) => {
                Tls::SelfSigned
            }
            (None, None) => Tls::Off,
        };
        let audit_checkpoint_dir = args
            .audit_checkpoint_dir
            .clone()
            .or(file.audit_checkpoint_dir)
            .unwrap_or_else(|| data_dir.join("audit-checkpoints"));
        let audit_archive_dir = args
            .audit_archive_dir
            .clone()
            .or(file.audit_archive_dir)
            .unwrap_or_else(|| data_dir.join("audit-archive"));
        let duration =
            |name: &'static str, flag: &Option<String>, file: Option<String>, default: &str| {
                parse_duration(flag.as_deref().or(file.as_deref()).unwrap_or(default))
                    .map_err(|e| ConfigError::Invalid(name, e))
            };
        let root_key_cache_grace = match (&args.root_key_cache_grace, file.root_key_cache_grace) {
            (None, None) => crate::keys::settings::DEFAULT_CACHE_GRACE,
            (flag, in_file) => duration("root_key_cache_grace", flag, in_file, "5m")?,
        };
        let max_versions = args.max_versions.or(file.max_versions).unwrap_or(100);
        // The bound a project admin's change keeps (`hush projects settings`).
        let bound = crate::limits::MAX_VERSIONS;
        if !bound.contains(&max_versions) {
            return Err(ConfigError::Invalid(
                "max_versions",
                format!("must be {} to {}", bound.start(), bound.end()),
            ));
        }
        let database_pool_size = args
            .database_pool_size
            .or(file.database_pool_size)
            .unwrap_or(10);
        if database_pool_size < 1 {
            return Err(ConfigError::Invalid(
                "database_pool_size",
                "must be at least 1".into(),
            ));
        }
        let audit_flush_interval = duration(
            "audit_flush_interval",
            &args.audit_flush_interval,
            file.audit_flush_interval,
            "50ms",
        )?;
        if audit_flush_interval > crate::audit::flush_policy::MAX_INTERVAL {
            return Err(ConfigError::Invalid(
                "audit_flush_interval",
                "must be at most 10s (0 fsyncs every read's audit event)".into(),
            ));
        }
        let audit_loss_bound = match (&args.audit_loss_bound, file.audit_loss_bound) {
            (None, None) => crate::audit::flush_policy::default_loss_bound(audit_flush_interval),
            (flag, in_file) => duration("audit_loss_bound", flag, in_file, "1s")?,
        };
        if audit_loss_bound < audit_flush_interval * 2 {
            return Err(ConfigError::Invalid(
                "audit_loss_bound",
                format!(
                    "must be at least two audit flush intervals ({:?})",
                    audit_flush_interval * 2
                ),
            ));
        }
        let trusted_proxies = match (&args.trusted_proxies, file.trusted_proxies) {
            (Some(flag), _) => crate::net::parse_ranges(flag),
            (None, Some(list)) => crate::net::parse_ranges(&list.join(",")),
            (None, None) => Ok(Vec::new()),
        }
        .map_err(|e| ConfigError::Invalid("trusted_proxies", e))?;
        let database_targets = match (&args.database_targets, file.database_targets) {
            (Some(flag), _) => crate::net::parse_ranges(flag),
            (None, Some(list)) => crate::net::parse_ranges(&list.join(",")),
            (None, None) => Ok(Vec::new()),
        }
        .map(|allowed| crate::db_targets::DbTargets { allowed })
        .map_err(|e| ConfigError::Invalid("database_targets", e))?;
        let auth_rate_limit = args
            .auth_rate_limit
            .clone()
            .or(file.auth_rate_limit)
            .as_deref()
            .unwrap_or("120/m")
            .parse()
            .map_err(|e| ConfigError::Invalid("auth_rate_limit", e))?;
        let transport = crate::http_settings::Limits {
            header_read_timeout: duration(
                "header_read_timeout",
                &args.header_read_timeout,
                file.header_read_timeout,
                "10s",
            )?,
            body_read_timeout: duration(
                "body_read_timeout",
                &args.body_read_timeout,
                file.body_read_timeout,
                "30s",
            )?,
            idle_timeout: duration("idle_timeout", &args.idle_timeout, file.idle_timeout, "5s")?,
            request_timeout: duration(
                "request_timeout",
                &args.request_timeout,
                file.request_timeout,
                "30s",
            )?,
            max_connections: args.max_connections.or(file.max_connections).unwrap_or(512),
        };
        transport
            .validate()
            .map_err(|(name, e)| ConfigError::Invalid(name, e))?;
        let allowed_hosts = args
            .allowed_hosts
            .clone()
            .or(file.allowed_hosts)
            .unwrap_or_default()
            .into_iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        let password_login = args.password_login.or(file.password_login).unwrap_or(true);
        let break_glass_admins: Vec<String> = args
            .break_glass_admins
            .clone()
            .or(file.break_glass_admins)
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| !e.is_empty())
            .collect();
        let rekey_batch = args.rekey_batch.or(file.rekey_batch).unwrap_or(500);
        if !(1..=10_000).contains(&rekey_batch) {
            return Err(ConfigError::Invalid(
                "rekey_batch",
                format!("{rekey_batch} is not between 1 and 10000"),
            ));
        }
        Ok(ServerConfig {
            root_key_rotation: match args
                .root_key_rotation
                .clone()
                .or(file.root_key_rotation)
                .as_deref()
            {
                None | Some("off") => None,
                Some(text) => {
                    let d = parse_duration(text)
                        .map_err(|e| ConfigError::Invalid("root_key_rotation", e))?;
                    if d.is_zero() {
                        return Err(ConfigError::Invalid(
                            "root_key_rotation",
                            "must be more than 0 (or off)".into(),
                        ));
                    }
                    Some(d)
                }
            },
            rekey_batch,
            rekey_pause: duration("rekey_pause", &args.rekey_pause, file.rekey_pause, "10ms")?,
            webhook_allow_private: args
                .webhook_allow_private
                .or(file.webhook_allow_private)
                .unwrap_or(false),
            database_targets,
            sso_providers: file.sso_providers.unwrap_or_default(),
            sso_public_url: file.sso_public_url,
            password_login,
            break_glass_admins,
            transport,
            allowed_hosts,
            listen: args
                .listen
                .clone()
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:8200".into()),
            data_dir,
            database_url,
            database_pool_size,
            root_key,
            previous_root_key,
            root_key_cache_grace,
            root_key_wrapped_file,
            tls,
            recovery_window: duration(
                "recovery_window",
                &args.recovery_window,
                file.recovery_window,
                "30d",
            )?,
            purge_interval: duration(
                "purge_interval",
                &args.purge_interval,
                file.purge_interval,
                "10m",
            )?,
            audit_checkpoint_interval: match args
                .audit_checkpoint_interval
                .clone()
                .or(file.audit_checkpoint_interval)
                .as_deref()
            {
                Some("off") => None,
                text => Some(duration(
                    "audit_checkpoint_interval",
                    &text.map(str::to_owned),
                    None,
                    "10m",
                )?)
                .filter(|d| !d.is_zero()),
            },
            audit_checkpoint_dir,
            audit_retention: match args.audit_retention.clone().or(file.audit_retention) {
                None => None,
                Some(text) => {
                    let d = parse_duration(&text)
                        .map_err(|e| ConfigError::Invalid("audit_retention", e))?;
                    if d.is_zero() {
                        return Err(ConfigError::Invalid(
                            "audit_retention",
                            "must be more than 0 (leave it unset to keep everything)".into(),
                        ));
                    }
                    Some(d)
                }
            },
            audit_archive_dir,
            max_body_bytes: args
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(4 * 1024 * 1024),
            max_versions,
            session_ttl: duration("session_ttl", &args.session_ttl, file.session_ttl, "24h")?,
            audit_flush_interval,
            audit_loss_bound,
            trusted_proxies,
            auth_rate_limit,
            limits: args
                .limits
                .over(file.limits.unwrap_or_default())
                .map_err(|e| ConfigError::Invalid("limits", e))?,
        })
    }

    /// The SQLite file, when the database is SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let url = &self.database_url;
        url.strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .map(PathBuf::from)
    }

    /// True when the database is PostgreSQL (`postgres://` or `postgresql://`).
    pub fn is_postgres(&self) -> bool {
        let url = &self.database_url;
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Read(path.display().to_string(), e.to_string()))?;
    toml::from_str(&text)
        .map_err(|e| ConfigError::Parse(path.display().to_string(), e.message().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_come_from_flags_then_the_limits_table_then_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[limits]\nmax_tags = 5\nmax_secrets_per_folder = 50\n",
        )
        .unwrap();
        let mut args = ServerArgs {
            config: Some(file),
            ..Default::default()
        };
        args.limits.max_tags = Some(7);
        let limits = ServerConfig::load(&args, None).unwrap().limits;
        assert_eq!(limits.max_tags, 7);
        assert_eq!(limits.max_secrets_per_folder, 50);
        assert_eq!(limits.max_value_bytes, Limits::default().max_value_bytes);
        args.limits.max_comment_bytes = Some(0);
        assert!(ServerConfig::load(&args, None).is_err());
    }

    #[test]
    fn precedence_flag_over_file_over_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nrecovery_window = \"7d\"\n",
        )
        .unwrap();
        let args = ServerArgs {
            config: Some(file.clone()),
            ..Default::default()
        };
        let c = ServerConfig::load(&args, None).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9000");
        assert_eq!(c.recovery_window, Duration::from_secs(7 * 86400));
        assert_eq!(c.max_versions, 100);
        let args = ServerArgs {
            config: Some(file),
            listen: Some("127.0.0.1:1".into()),
            ..Default::default()
        };
        assert_eq!(
            ServerConfig::load(&args, None).unwrap().listen,
            "127.0.0.1:1"
        );
    }

    #[test]
    fn example_config_is_valid() {
        let text = include_str!("../server/config.example.toml");
        let parsed: FileConfig = toml::from_str(text).unwrap();
        assert_eq!(parsed.listen.as_deref(), Some("127.0.0.1:8200"));
        assert_eq!(parsed.database_pool_size, Some(10));
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let args = ServerArgs {
            config: Some(file),
            ..Default::default()
        };
        assert!(matches!(
            ServerConfig::load(&args, None),
            Err(ConfigError::Parse(..))
        ));
    }

    #[test]
    fn durations_and_redaction() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("2 weeks").is_err());
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
    }

    #[test]
    fn audit_flush_interval_is_bounded() {
        let load = |v: &str| {
            let args = ServerArgs {
                audit_flush_interval: Some(v.into()),
                ..ServerArgs::default()
            };
            ServerConfig::load(&args, Some(Zeroizing::new("k".into())))
        };
        assert_eq!(load("0").unwrap().audit_flush_interval, Duration::ZERO);
        assert_eq!(
            load("250ms").unwrap().audit_flush_interval,
            Duration::from_millis(250)
        );
        let err = load("11s").map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("at most 10s"), "{err}");
        assert_eq!(
            ServerConfig::load(&ServerArgs::default(), None)
                .unwrap()
                .audit_flush_interval,
            Duration::from_millis(50)
        );
    }

    #[test]
    fn trusted_proxies_and_rate_limit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\nauth_rate_limit = \"10/s\"\n",
        )
        .unwrap();
        let load = |args: ServerArgs| ServerConfig::load(&args, None);
        let c = load(ServerArgs {
            config: Some(file.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(c.auth_rate_limit, "10/s".parse().unwrap());
        let c = load(ServerArgs {
            config: Some(file),
            trusted_proxies: Some("127.0.0.1/32".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.trusted_proxies, vec!["127.0.0.1/32".parse().unwrap()]);
        let c = load(ServerArgs::default()).unwrap();
        assert!(c.trusted_proxies.is_empty());
        assert_eq!(c.auth_rate_limit, "120/m".parse().unwrap());
        let err = load(ServerArgs {
            trusted_proxies: Some("10.0.0.0/8,proxy".into()),
            ..Default::default()
        })
        .map(|_| ())
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("trusted_proxies") && err.contains("proxy"),
            "{err}"
        );
        assert!(load(ServerArgs {
            auth_rate_limit: Some("lots".into()),
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn root_key_providers_and_their_sections() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        let load = |text: &str, provider: Option<&str>| {
            std::fs::write(&file, text).unwrap();
            let args = ServerArgs {
                config: Some(file.clone()),
                data_dir: Some(dir.path().to_owned()),
                root_key_provider: provider.map(str::to_owned),
                ..Default::default()
            };
            ServerConfig::load(&args, None)
        };
        let err = load("", Some("transit"))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(err.contains("[transit] section"), "{err}");
        let err = load("", Some("env")).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("HUSH_ROOT_KEY"), "{err}");
        let transit = "root_key_provider = \"transit\"\nroot_key_cache_grace = \"30s\"\n[transit]\naddress = \"https://bao:8200\"\nkey = \"hush\"\ntoken_file = \"/t\"\ntimeout = \"2s\"\n";
        let c = load(transit, None).unwrap();
        match &c.root_key {
            RootKeySource::External(e) => match e.as_ref() {
                External::Transit(t) => {
                    assert_eq!(t.mount, "transit");
                    assert_eq!(t.timeout, Duration::from_secs(2));
                }
                other => panic!("{other:?}"),
            },
            _ => panic!("not external"),
        }
        assert_eq!(c.root_key_cache_grace, Duration::from_secs(30));
        assert_eq!(c.root_key_wrapped_file, dir.path().join("root-key.wrapped"));
        // The flag wins over the file: file, with the development key.
        let c = load(transit, Some("file")).unwrap();
        assert!(matches!(c.root_key, RootKeySource::Generated(_)));
        let slow = transit.replace("\"2s\"", "\"10m\"");
        assert!(matches!(load(&slow, None), Err(ConfigError::Parse(..))));
        assert!(load("", Some("vault")).is_err());
    }

    #[test]
    fn debug_redacts_root_key() {
        let c = ServerConfig::load(
            &ServerArgs::default(),
            Some(Zeroizing::new("SECRETKEY".into())),
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("SECRETKEY"));
    }
}
