//! `hush server`: open the store, check the root key, serve until SIGTERM/SIGINT.
//! `hush server rotate-root-key`: re-wrap project keys under a new root key.

use crate::audit::AuditKey;
use crate::config::{RootKeySource, ServerArgs, ServerConfig, Tls};
use crate::crypto::Key;
use crate::server::bootstrap_code::{BootstrapCode, Prepared};
use crate::server::{self, AppState};
use crate::service::{Ctx, Keyring, Service, Settings};
use crate::store::audit_flush::AuditOptions;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;
use crate::store::Store;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::sync::Arc;

/// Reads the root key; in development generates one into the data dir (0600).
fn load_root_key(source: &RootKeySource) -> Result<Key> {
    match source {
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
async fn open_store(config: &ServerConfig, root: &Key) -> Result<Arc<dyn Store>> {
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
fn require_shared_root_key(config: &ServerConfig) -> Result<()> {
    if config.is_postgres() && matches!(config.root_key, RootKeySource::Generated(_)) {
        bail!("PostgreSQL needs the root key from HUSH_ROOT_KEY or HUSH_ROOT_KEY_FILE (the same on every replica); no development key is generated for a shared database");
    }
    Ok(())
}

/// The data-dir lock guards SQLite's single writer; PostgreSQL replicas may
/// share a host (and a data dir), so they take none.
fn lock_if_sqlite(config: &ServerConfig) -> Result<Option<nix::fcntl::Flock<std::fs::File>>> {
    if config.is_postgres() {
        return Ok(None);
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    lock_data_dir(&config.data_dir).map(Some)
}

/// The stored key-check value must open under our root key: a server started
/// with the wrong key refuses to start instead of failing at the first read.
async fn check_root_key(store: &Arc<dyn Store>, root: &Key) -> Result<()> {
    let stored = store.meta_init("key_check", root.key_check()?).await?;
    if !root.verify_key_check(&stored) {
        bail!("the root key does not match the one this database was initialised with; start the server with the original HUSH_ROOT_KEY / HUSH_ROOT_KEY_FILE");
    }
    Ok(())
}

/// A server without users prints its one-time bootstrap code (stderr, so it
/// shows whatever the log level) and writes it to the data dir (0600).
async fn prepare_bootstrap_code(
    store: &Arc<dyn Store>,
    root: &Key,
    data_dir: &Path,
) -> Result<Arc<BootstrapCode>> {
    let (code, prepared) = BootstrapCode::prepare(store, root, data_dir)
        .await
        .context("cannot prepare the bootstrap code")?;
    if let Prepared::Fresh(text) = prepared {
        let file = code.file();
        let written = std::fs::create_dir_all(data_dir)
            .map_err(anyhow::Error::from)
            .and_then(|()| {
                crate::cli::files::write_private_atomic(
                    file,
                    format!("{}\n", text.as_str()).as_bytes(),
                )
                .map_err(anyhow::Error::from)
            });
        let where_ = match written {
            Ok(()) => format!("also in {}", file.display()),
            Err(e) => {
                tracing::warn!(
                    "cannot write the bootstrap code to {}: {e:#}",
                    file.display()
                );
                "not written to the data dir".to_owned()
            }
        };
        eprintln!(
            "hush: this server has no admin yet. One-time bootstrap code: {} ({where_}).\nhush: create the admin with: hush bootstrap --code {} --email you@example.com",
            text.as_str(),
            text.as_str()
        );
    }
    Ok(Arc::new(code))
}

pub async fn run(mut args: ServerArgs) -> Result<()> {
    let inline_key = args.inline_root_key.take();
    let config = ServerConfig::load(&args, inline_key)?;
    require_shared_root_key(&config)?;
    let _lock = lock_if_sqlite(&config)?;
    if matches!(config.tls, Tls::SelfSigned) {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    }
    let root = load_root_key(&config.root_key)?;
    let store = open_store(&config, &root).await?;
    check_root_key(&store, &root).await?;
    let bootstrap_code = prepare_bootstrap_code(&store, &root, &config.data_dir).await?;
    let service = Arc::new(Service {
        store: store.clone(),
        keys: Keyring::new(root),
        settings: Settings {
            recovery_window_ms: config.recovery_window.as_millis() as i64,
            default_max_versions: config.max_versions,
            session_ttl_secs: config.session_ttl.as_secs() as i64,
            limits: config.limits,
        },
        write_locks: Default::default(),
        refusals: Default::default(),
    });
    let stopping = Arc::new(tokio::sync::watch::Sender::new(false));
    let state = AppState::new(server::Shared {
        service: service.clone(),
        body_limit: config.max_body_bytes,
        stopping: stopping.clone(),
        lists: Default::default(),
        trusted_proxies: server::client_addr::TrustedProxies::new(config.trusted_proxies.clone()),
        auth_rate: server::rate_limit::RateLimiter::new(config.auth_rate_limit),
        limits: config.transport,
        allowed_hosts: config.allowed_hosts.clone().into(),
        bootstrap_code,
    });
    let purge = server::spawn_purge_job(service.clone(), config.purge_interval);
    let refusals = server::spawn_refusal_flush(service.clone());
    let rotations = server::rotation_job::spawn(
        service.clone(),
        Arc::new(crate::rotation::clock::SystemClock),
    );
    let archive = config.audit_retention.map(|retention| {
        server::archive_job::spawn(service.clone(), config.audit_archive_dir.clone(), retention)
    });
    let checkpoints = config.audit_checkpoint_interval.map(|every| {
        server::checkpoint_job::spawn(service.clone(), config.audit_checkpoint_dir.clone(), every)
    });
    let streams = crate::streams::Streams::spawn(store.clone(), service.keys.root().clone());
    let listener = std::net::TcpListener::bind(&config.listen)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let shutdown = async move {
        shutdown_signal().await;
        stopping.send_replace(true);
    };
    let scheme = if matches!(config.tls, Tls::Off) {
        "http"
    } else {
        "https"
    };
    if scheme == "http" && !addr.ip().is_loopback() {
        tracing::warn!("serving plain HTTP on {addr}: tokens and secrets cross the network unencrypted; use --tls-cert/--tls-key");
    }
    let tls = match &config.tls {
        Tls::Off => None,
        Tls::Files { cert, key } => Some(server::tls::load_config(cert, key)?),
        Tls::SelfSigned => {
            let (cert, key, fingerprint) = server::tls::self_signed(&config.data_dir)?;
            println!(
                "self-signed certificate {} (SHA-256 {fingerprint})",
                cert.display()
            );
            Some(server::tls::load_config(&cert, &key)?)
        }
    };
    // The one line scripts and tests wait for: printed once the TLS
    // configuration (and a self-signed certificate a client may be told to
    // trust) exists.
    println!("hush server listening on {scheme}://{addr}");
    let served = server::serve(listener, tls, state, shutdown).await;
    purge.abort();
    refusals.abort();
    for job in [checkpoints, archive].into_iter().flatten() {
        job.abort();
    }
    // Deliveries in flight finish and record their cursors first, so a
    // restart does not send them again.
    // Rotations in progress finish too (at the same time).
    tokio::join!(
        streams.stop(std::time::Duration::from_secs(15)),
        rotations.stop(std::time::Duration::from_secs(15))
    );
    // Counts of refusals still in open windows go on record before the stop.
    if let Err(e) = service.flush_refusals(true).await {
        tracing::warn!("writing aggregated refusal audit events failed: {e}");
    }
    store.close().await;
    served.context("server failed")?;
    tracing::info!("server stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the server still stops when killed.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// Offline root key rotation: re-wraps every project data key under the new
/// key and replaces the key-check value, in one transaction.
pub async fn rotate_root_key(mut args: ServerArgs, new_key_file: &Path) -> Result<()> {
    let inline_key = args.inline_root_key.take();
    let config = ServerConfig::load(&args, inline_key)?;
    require_shared_root_key(&config)?;
    let _lock = lock_if_sqlite(&config)?;
    let old = load_root_key(&config.root_key)?;
    let new = Key::read_file(new_key_file)?;
    let store = open_store(&config, &old).await?;
    check_root_key(&store, &old).await?;
    // The audit keys of every earlier root key and of this one, re-sealed
    // under the new key: the chain goes on under the new key after this
    // rotation's event (the hand-over, linked under the old key).
    let mut epochs = Vec::new();
    let sealed = store.audit_key_epochs().await?;
    let ring = crate::audit::AuditKeyring::open(&old, &sealed)
        .context("cannot open the stored audit keys of earlier root keys")?;
    for (epoch, key) in ring.epochs.iter().enumerate() {
        epochs.push((epoch as i64, key.seal(&new, epoch as i64)?));
    }
    let streams = crate::streams::rewrap_keys(&store, &old, &new).await?;
    let keyring = Keyring::new(old);
    let rewrapped = keyring.rewrap_all(&store, &new).await?;
    let count = rewrapped.len();
    let event = Ctx::system().event(crate::audit::HANDOVER_ACTION);
    store
        .rewrap_data_keys(rewrapped, new.key_check()?, epochs, event)
        .await?;
    store.close().await;
    println!("re-wrapped {count} project key(s) and {streams} audit stream key(s) under the new root key; start the server with it from now on");
    Ok(())
}

/// `hush server migrate --from sqlite:///path/hush.db --to postgres://...`:
/// copies a whole SQLite deployment into an empty PostgreSQL database.
pub async fn migrate(mut args: ServerArgs, from: &str, to: &str) -> Result<()> {
    let inline_key = args.inline_root_key.take();
    let config = ServerConfig::load(&args, inline_key)?;
    let path = from
        .strip_prefix("sqlite://")
        .or_else(|| from.strip_prefix("sqlite:"))
        .map(std::path::PathBuf::from)
        .context("--from must be a sqlite:///path/hush.db URL")?;
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        bail!("--to must be a postgres://user@host/db URL");
    }
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    // The copied audit chain is verified under the SQLite server's root key:
    // the one configured, else the development key beside the database.
    let root = match &config.root_key {
        RootKeySource::Generated(_) => {
            let beside = path.with_file_name("root.key");
            if !beside.exists() {
                bail!(
                    "no root key: pass the SQLite server's key with HUSH_ROOT_KEY_FILE or HUSH_ROOT_KEY (no {} either)",
                    beside.display()
                );
            }
            Key::read_file(&beside)?
        }
        source => load_root_key(source)?,
    };
    let report = crate::store::migrate::sqlite_to_postgres(&path, to, &root).await?;
    for (table, rows) in &report.tables {
        println!("{table:>16}: {rows} row(s)");
    }
    println!(
        "migrated {} into {}: row counts equal, {} audit event(s) verify, {} version ciphertext(s) byte-equal",
        path.display(),
        crate::config::redact_url(to),
        report.audit_events,
        report.versions
    );
    Ok(())
}
