//! `hush server`: flags to configuration, `server::build`, then serve until
//! SIGTERM/SIGINT. `hush server rotate-root-key`: re-wrap project keys under
//! a new root key. `hush server migrate`: copy SQLite into PostgreSQL.

use crate::config::{RootKeySource, ServerArgs, ServerConfig, Tls};
use crate::crypto::Key;
use crate::server;
use crate::server::app::{
    check_root_key, load_root_key, lock_if_sqlite, open_store, require_shared_root_key, App,
};
use crate::service::{Ctx, Keyring};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::path::Path;
use std::path::PathBuf;

#[derive(Args)]
pub struct ServerCommand {
    #[command(flatten)]
    pub args: Box<ServerArgs>,
    #[command(subcommand)]
    pub action: Option<ServerAction>,
}

#[derive(Subcommand)]
pub enum ServerAction {
    /// Re-wrap every project key under a new root key (run with the server stopped)
    RotateRootKey {
        /// File holding the new 32-byte key (hex or base64), mode 0600
        #[arg(long)]
        new_root_key_file: PathBuf,
    },
    /// Create the pkcs11 root key provider's AES-256 key on the token named in
    /// the config file's [pkcs11] section: sensitive, non-extractable, for
    /// encrypt and decrypt only (with --root-key-provider pkcs11)
    CreateHsmKey,
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

pub async fn command(cmd: ServerCommand) -> Result<()> {
    match cmd.action {
        None => run(*cmd.args).await,
        Some(ServerAction::RotateRootKey { new_root_key_file }) => {
            rotate_root_key(*cmd.args, &new_root_key_file).await
        }
        Some(ServerAction::Migrate { from, to }) => migrate(*cmd.args, &from, &to).await,
        Some(ServerAction::CreateHsmKey) => create_hsm_key(*cmd.args).await,
    }
}

/// `hush server create-hsm-key`: the pkcs11 provider's key, made on the token.
async fn create_hsm_key(mut args: ServerArgs) -> Result<()> {
    let inline_key = args.inline_root_key.take();
    let config = ServerConfig::load(&args, inline_key)?;
    let settings = match &config.root_key {
        RootKeySource::External(external) => match external.as_ref() {
            crate::keys::settings::External::Pkcs11(s) => s.clone(),
            _ => bail!("create-hsm-key works with --root-key-provider pkcs11"),
        },
        _ => bail!("create-hsm-key works with --root-key-provider pkcs11 and a [pkcs11] section in --config"),
    };
    #[cfg(feature = "pkcs11")]
    {
        crate::keys::pkcs11::create_key(&settings)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the HSM key: {e}"))?;
        println!(
            "created AES-256 key {:?} on the token (sensitive, non-extractable, encrypt/decrypt only)",
            settings.key_label
        );
        Ok(())
    }
    #[cfg(not(feature = "pkcs11"))]
    {
        let _ = settings;
        bail!("this hush was built without the pkcs11 feature; rebuild with --features pkcs11")
    }
}

/// Tells the operator the one-time bootstrap code of a server without users
/// (stderr, so it shows whatever the log level) and writes it to the data
/// dir (0600), where `hush bootstrap` on this host finds it.
fn announce_bootstrap_code(app: &App, data_dir: &Path) {
    let Some(text) = &app.fresh_bootstrap_code else {
        return;
    };
    let file = app.bootstrap_code_file();
    let written = std::fs::create_dir_all(data_dir)
        .map_err(anyhow::Error::from)
        .and_then(|()| {
            crate::cli::files::write_private_atomic(file, format!("{}\n", text.as_str()).as_bytes())
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

/// Flags to configuration, configuration to an assembled server, then serve
/// until SIGTERM/SIGINT.
async fn run(mut args: ServerArgs) -> Result<()> {
    let inline_key = args.inline_root_key.take();
    let config = ServerConfig::load(&args, inline_key)?;
    let app = server::build(&config).await?;
    announce_bootstrap_code(&app, &config.data_dir);
    let listener = std::net::TcpListener::bind(&config.listen)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
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
    let stopping = app.state.stopping.clone();
    let shutdown = async move {
        shutdown_signal().await;
        stopping.send_replace(true);
    };
    let served = server::serve(listener, tls, app.state.clone(), shutdown).await;
    app.shutdown().await;
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
async fn rotate_root_key(mut args: ServerArgs, new_key_file: &Path) -> Result<()> {
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
    let webhooks = crate::webhooks::rewrap_keys(&store, &old, &new).await?;
    let auth_methods = crate::service::workload::sealed::rewrap_keys(&store, &old, &new).await?;
    let keyring = Keyring::new(old);
    let (rewrapped, generations) = keyring.rewrap_all(&store, &new).await?;
    let count = rewrapped.len() + generations.len();
    let event = Ctx::system().event(crate::audit::HANDOVER_ACTION);
    store
        .rewrap_data_keys(rewrapped, generations, new.key_check()?, epochs, event)
        .await?;
    store.close().await;
    println!("re-wrapped {count} project key(s), {streams} audit stream key(s), {webhooks} webhook key(s) and {auth_methods} auth method key(s) under the new root key; start the server with it from now on");
    Ok(())
}

/// `hush server migrate --from sqlite:///path/hush.db --to postgres://...`:
/// copies a whole SQLite deployment into an empty PostgreSQL database.
async fn migrate(mut args: ServerArgs, from: &str, to: &str) -> Result<()> {
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
