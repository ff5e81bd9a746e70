//! Assembling the server from its configuration: root key, store, service,
//! the router's state and the background jobs. `hush server` calls `build`
//! and serves what it returns; tests call `assemble` with a store of their
//! own (one that fails on demand, say) and serve it in-process.

use super::bootstrap_code::{BootstrapCode, Prepared};
use super::{AppState, Shared};
use crate::audit::AuditKey;
use crate::config::{RootKeySource, ServerConfig};
use crate::crypto::Key;
use crate::keys::RootKeys;
use crate::service::{Keyring, Service, Settings};
use crate::store::audit_flush::AuditOptions;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;
use crate::store::Store;
use crate::time_ids::{Clock, SystemClock};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

/// How long stream deliveries in flight get to finish at shutdown.
const STREAMS_GRACE: Duration = Duration::from_secs(15);

/// What `open` finds from the configuration, before anything is assembled.
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub root: RootKeys,
    /// An external provider's wrapped local key file, when this start made
    /// it (removed again if the database belongs to another key).
    pub new_wrapped_file: Option<std::path::PathBuf>,
    /// What the service measures expiry against: the system clock, unless
    /// a test assembling the server in-process replaces it.
    pub clock: Arc<dyn Clock>,
    /// SQLite: the data-dir lock, held as long as the server runs.
    pub lock: Option<nix::fcntl::Flock<std::fs::File>>,
}

/// A server ready to serve: its state (for `super::serve` or `super::router`)
/// and the jobs to stop when it is done.
pub struct App {
    pub state: AppState,
    pub service: Arc<Service>,
    /// The one-time bootstrap code, when the server has no user yet (for
    /// the operator: `hush server` prints it and writes it to the data dir).
    pub fresh_bootstrap_code: Option<Zeroizing<String>>,
    stopping: Arc<tokio::sync::watch::Sender<bool>>,
    jobs: Vec<JoinHandle<()>>,
    streams: crate::streams::Streams,
    rotations: super::periodic::Periodic,
    lease_expiry: super::periodic::Periodic,
    rekey: super::periodic::Periodic,
    webhooks: crate::webhooks::Webhooks,
    _lock: Option<nix::fcntl::Flock<std::fs::File>>,
}

/// Opens what `config` names, then assembles the server on it.
pub async fn build(config: &ServerConfig) -> Result<App> {
    let opened = open(config).await?;
    assemble(config, opened).await
}

/// The root key, the data-dir lock (SQLite) and the store.
pub async fn open(config: &ServerConfig) -> Result<Opened> {
    require_shared_root_key(config)?;
    let lock = lock_if_sqlite(config)?;
    if matches!(config.tls, crate::config::Tls::SelfSigned) {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    }
    let (root, new_wrapped_file) = open_root_keys(config).await?;
    let store = open_store(config, root.local()).await?;
    Ok(Opened {
        store,
        root,
        new_wrapped_file,
        clock: Arc::new(SystemClock),
        lock,
    })
}

/// Checks the root key against the store, prepares the bootstrap code, and
/// starts the service and its background jobs on `opened`.
pub async fn assemble(config: &ServerConfig, opened: Opened) -> Result<App> {
    let Opened {
        store,
        root,
        new_wrapped_file,
        clock,
        lock,
    } = opened;
    if let Err(e) = check_root_key(&store, root.local()).await {
        if let Some(path) = new_wrapped_file {
            crate::keys::wrapped_root::discard(&path);
            bail!(
                "this database was initialised under another root key and {} did not exist: copy that file from the server that initialised the database (switching a database between root key providers is not supported yet)",
                path.display()
            );
        }
        return Err(e);
    }
    let external = root.is_external();
    let (bootstrap_code, prepared) = BootstrapCode::prepare(&store, root.local(), &config.data_dir)
        .await
        .context("cannot prepare the bootstrap code")?;
    let service = Arc::new(Service {
        store: store.clone(),
        keys: Keyring::with_provider(root, config.root_key_cache_grace),
        settings: Settings {
            recovery_window_ms: config.recovery_window.as_millis() as i64,
            default_max_versions: config.max_versions,
            session_ttl_secs: config.session_ttl.as_secs() as i64,
            limits: config.limits,
            password_login: config.password_login,
            break_glass_admins: config.break_glass_admins.clone(),
            webhook_allow_private: config.webhook_allow_private,
            database_targets: config.database_targets.clone(),
            root_key_rotation: config.root_key_rotation,
        },
        write_locks: Default::default(),
        refusals: Default::default(),
        clock,
        workload: Default::default(),
        sso: crate::service::sso::Sso::load(
            config.sso_providers.clone(),
            config.sso_public_url.clone(),
            !matches!(config.tls, crate::config::Tls::Off),
        )
        .map_err(anyhow::Error::msg)?,
    });
    let stopping = Arc::new(tokio::sync::watch::Sender::new(false));
    let state = AppState::new(Shared {
        service: service.clone(),
        body_limit: config.max_body_bytes,
        stopping: stopping.clone(),
        lists: Default::default(),
        trusted_proxies: super::client_addr::TrustedProxies::new(config.trusted_proxies.clone()),
        auth_rate: super::rate_limit::RateLimiter::new(config.auth_rate_limit),
        limits: config.transport,
        allowed_hosts: config.allowed_hosts.clone().into(),
        bootstrap_code: Arc::new(bootstrap_code),
        secure_cookies: !matches!(config.tls, crate::config::Tls::Off),
    });
    let mut jobs = vec![
        super::spawn_purge_job(service.clone(), config.purge_interval),
        super::spawn_refusal_flush(service.clone()),
    ];
    if external {
        jobs.push(spawn_provider_watch(
            service.clone(),
            config.root_key_cache_grace,
        ));
    }
    if let Some(retention) = config.audit_retention {
        jobs.push(super::archive_job::spawn(
            service.clone(),
            config.audit_archive_dir.clone(),
            retention,
        ));
    }
    if let Some(every) = config.audit_checkpoint_interval {
        jobs.push(super::checkpoint_job::spawn(
            service.clone(),
            config.audit_checkpoint_dir.clone(),
            every,
        ));
    }
    let webhooks = crate::webhooks::Webhooks::spawn(
        store.clone(),
        service.keys.root().clone(),
        service.clock.clone(),
        config.webhook_allow_private,
    )?;
    let streams = crate::streams::Streams::spawn(store, service.keys.root().clone());
    let rotations = super::rotation_job::spawn(service.clone());
    let lease_expiry = super::dynamic_job::spawn(service.clone());
    let rekey = super::rekey_job::spawn(service.clone(), config.rekey_batch, config.rekey_pause);
    Ok(App {
        state,
        service,
        fresh_bootstrap_code: match prepared {
            Prepared::Fresh(text) => Some(text),
            Prepared::AlreadyBootstrapped => None,
        },
        stopping,
        jobs,
        streams,
        rotations,
        lease_expiry,
        rekey,
        webhooks,
        _lock: lock,
    })
}

impl App {
    /// The file the bootstrap code is written to (in the data dir).
    pub fn bootstrap_code_file(&self) -> &Path {
        self.state.bootstrap_code.file()
    }

    /// Tells held-open long-polls to answer now: the server is stopping.
    pub fn begin_stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Stops the background jobs, lets stream deliveries record their
    /// cursors and rotations in progress finish, writes the refusal counts
    /// still open, and closes the store.
    pub async fn shutdown(self) {
        self.begin_stop();
        for job in &self.jobs {
            job.abort();
        }
        // Deliveries in flight finish and record their cursors first, so a
        // restart does not send them again; rotations in progress finish
        // too (at the same time).
        tokio::join!(
            self.streams.stop(STREAMS_GRACE),
            self.rotations.stop(STREAMS_GRACE),
            self.lease_expiry.stop(STREAMS_GRACE),
            self.rekey.stop(STREAMS_GRACE),
            self.webhooks.stop(STREAMS_GRACE)
        );
        // Counts of refusals still in open windows go on record before the stop.
        if let Err(e) = self.service.flush_refusals(true).await {
            tracing::warn!("writing aggregated refusal audit events failed: {e}");
        }
        self.service.store.close().await;
    }
}

/// Asks an external root key provider whether it answers, a few times per
/// grace period (at most every 10s, at least every second), so `/readyz`
/// and the cache's expiry follow an outage even when no request comes.
fn spawn_provider_watch(service: Arc<Service>, grace: Duration) -> JoinHandle<()> {
    let every = (grace / 3).clamp(Duration::from_secs(1), Duration::from_secs(10));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            service.keys.check_provider().await;
        }
    })
}

/// The root of the key hierarchy: the `file`/`env` key, or an external
/// provider (connected and checked) with its local key. Also returns the
/// wrapped local key file when this call created it.
pub async fn open_root_keys(
    config: &ServerConfig,
) -> Result<(RootKeys, Option<std::path::PathBuf>)> {
    if let (RootKeySource::External(external), Some(previous)) =
        (&config.root_key, &config.previous_root_key)
    {
        let (provider, local): (Arc<dyn crate::keys::RootKeyProvider>, _) = match previous {
            RootKeySource::External(e) => (
                crate::keys::connect::checked(e)
                    .await
                    .map_err(anyhow::Error::msg)?,
                None,
            ),
            RootKeySource::Generated(path) if !path.exists() => bail!(
                "the previous root key provider is file, but {} does not exist: pass its key with --root-key-file or HUSH_ROOT_KEY",
                path.display()
            ),
            source => {
                let key = load_root_key(source)?;
                (Arc::new(crate::keys::local::Local::new(key.clone())), Some(key))
            }
        };
        let keys = crate::keys::connect::open_migrating(
            external,
            &config.root_key_wrapped_file,
            provider,
            local,
        )
        .await
        .map_err(anyhow::Error::msg)?;
        return Ok((keys, None));
    }
    match &config.root_key {
        RootKeySource::External(external) => {
            let path = &config.root_key_wrapped_file;
            let (keys, created) = crate::keys::connect::open(external, path)
                .await
                .map_err(anyhow::Error::msg)?;
            Ok((keys, created.then(|| path.clone())))
        }
        source => Ok((RootKeys::in_process(load_root_key(source)?), None)),
    }
}

/// Reads the root key; in development generates one into the data dir (0600).
pub fn load_root_key(source: &RootKeySource) -> Result<Key> {
    match source {
        RootKeySource::External(external) => bail!(
            "the {} root key provider keeps the root key outside hush: this command needs the file/env root key (rotate an external key in its provider)",
            external.name()
        ),
        RootKeySource::Inline(text) => {
            Ok(Key::parse_text(text).context("HUSH_ROOT_KEY is not a valid root key")?)
        }
        RootKeySource::File(path) => Ok(Key::read_file(path)?),
        RootKeySource::Generated(path) => {
            if path.exists() {
                return Ok(Key::read_file(path)?);
            }
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt;
            let key = Key::generate()?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| {
                    format!("cannot create development root key {}", path.display())
                })?;
            f.write_all(key.to_base64().as_bytes())?;
            f.sync_all()?;
            tracing::warn!(
                "DEVELOPMENT MODE: generated a root key at {}. Anyone with this file and the database can read every secret. \
                 In production set HUSH_ROOT_KEY or HUSH_ROOT_KEY_FILE and keep the key away from the database backups.",
                path.display()
            );
            Ok(key)
        }
    }
}

/// Refuses a second server on the same data dir (two SQLite writers would each
/// keep their own audit-chain head).
fn lock_data_dir(dir: &Path) -> Result<nix::fcntl::Flock<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("hush.lock"))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|_| {
        anyhow::anyhow!(
            "another hush server is using {}; stop it first",
            dir.display()
        )
    })
}

/// Opens the configured store; its audit chain is linked under the audit
/// key of `root`.
pub async fn open_store(config: &ServerConfig, root: &Key) -> Result<Arc<dyn Store>> {
    let audit_key = AuditKey::from_root(root);
    if config.is_postgres() {
        let shown = crate::config::redact_url(&config.database_url);
        let store =
            PostgresStore::connect(&config.database_url, config.database_pool_size, audit_key)
                .await
                .with_context(|| format!("cannot open database {shown}"))?;
        tracing::info!(
            "database: PostgreSQL {shown} (pool of {})",
            config.database_pool_size
        );
        return Ok(Arc::new(store));
    }
    match config.sqlite_path() {
        Some(path) => Ok(Arc::new(
            SqliteStore::open(
                &path,
                AuditOptions {
                    key: audit_key,
                    flush_interval: config.audit_flush_interval,
                    loss_bound: config.audit_loss_bound,
                },
            )
            .with_context(|| format!("cannot open database {}", path.display()))?,
        )),
        None => bail!(
            "unsupported database URL {}: use sqlite:///path/hush.db or postgres://user@host/db",
            crate::config::redact_url(&config.database_url)
        ),
    }
}

/// Replicas on one PostgreSQL database must share one root key: a key generated
/// per replica would make each refuse the others' data.
pub fn require_shared_root_key(config: &ServerConfig) -> Result<()> {
    if config.is_postgres() && matches!(config.root_key, RootKeySource::Generated(_)) {
        bail!("PostgreSQL needs the root key from HUSH_ROOT_KEY or HUSH_ROOT_KEY_FILE (the same on every replica); no development key is generated for a shared database");
    }
    Ok(())
}

/// The data-dir lock guards SQLite's single writer; PostgreSQL replicas may
/// share a host (and a data dir), so they take none.
pub fn lock_if_sqlite(config: &ServerConfig) -> Result<Option<nix::fcntl::Flock<std::fs::File>>> {
    if config.is_postgres() {
        return Ok(None);
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    lock_data_dir(&config.data_dir).map(Some)
}

/// The stored key-check value must open under our root key: a server started
/// with the wrong key refuses to start instead of failing at the first read.
pub async fn check_root_key(store: &Arc<dyn Store>, root: &Key) -> Result<()> {
    let stored = store.meta_init("key_check", root.key_check()?).await?;
    if !root.verify_key_check(&stored) {
        bail!("the root key does not match the one this database was initialised with; start the server with the original HUSH_ROOT_KEY / HUSH_ROOT_KEY_FILE");
    }
    Ok(())
}
