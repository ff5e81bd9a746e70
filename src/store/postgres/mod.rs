//! PostgreSQL backend: several hush replicas on one database.
//!
//! Each call takes a pooled connection and, for writes, its own transaction
//! (READ COMMITTED). Correctness across replicas rests on the database alone:
//! - versions: the secret row is locked (`SELECT ... FOR UPDATE`) before its
//!   `current_version` is compared, and `(secret_id, version)` is the primary key;
//! - the audit chain: every appender locks the one row of `audit_head` in the
//!   transaction that inserts its event, so appends are serialised, `seq` (an
//!   identity allocated by that insert) follows chain order, and there is one
//!   chain without forks;
//! - schema migrations and the purge job take transaction-scoped advisory locks
//!   (see `connect`), so a crashed replica never leaves a lock behind.
//!
//! Lock order in every write is secret row, then data key row, then audit head:
//! no cycle, so no deadlock between writers.

/// `in_tx!(store, |tx| { body })`: runs `body` (which ends in a
/// `StoreResult`) with `tx`, a transaction on a pooled connection of `store`;
/// commits when it ends in `Ok`, rolls back (by dropping the transaction) when
/// it ends in `Err` or returns one early. A macro rather than a function over
/// an async closure: inside `async_trait` methods the closure form made the
/// compiler's `Send` checks take many minutes per build.
macro_rules! in_tx {
    ($store:expr, |$tx:ident| $body:block) => {{
        let mut conn = $store.conn().await?;
        let transaction = conn.transaction().await.map_err(backend)?;
        let outcome: StoreResult<_> = async {
            let $tx = &transaction;
            $body
        }
        .await;
        match outcome {
            Ok(value) => {
                transaction.commit().await.map_err(backend)?;
                Ok(value)
            }
            Err(e) => Err(e),
        }
    }};
}

mod accounts;
mod audit_batch;
mod chain_upgrade;
mod connect;
mod dynamic;
mod identity_auth;
mod kms;
mod listen;
mod rekey;
mod rotations;
mod rows;
mod streams;
mod webhooks;

/// How hush connects to PostgreSQL (URL options, TLS), for the credential
/// rotation of a database hush does not store in (`rotation::postgres`).
pub use connect::{settings as connection_settings, Settings as ConnectionSettings};
pub use connect::{LOCK_BOOTSTRAP, LOCK_MIGRATE, LOCK_PURGE};

use super::*;
use crate::audit::AuditKey;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Transaction};
use rows::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub struct PostgresStore {
    pool: Pool,
    changes: Arc<watch::Sender<u64>>,
    listener: tokio::task::AbortHandle,
    audit_queue: tokio::sync::mpsc::UnboundedSender<(AuditEvent, audit_batch::Waiter)>,
    audit_batcher: tokio::task::AbortHandle,
    /// The key new audit events are linked under.
    audit_key: Arc<AuditKey>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.listener.abort();
        self.audit_batcher.abort();
    }
}

/// The database's own words (message and SQLSTATE), or the driver's error with
/// its causes (e.g. why a TLS handshake failed), for the server log only.
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}

fn backend(e: tokio_postgres::Error) -> StoreError {
    StoreError::Backend(describe(&e))
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => backend(e),
        other => StoreError::Backend(format!("database pool: {other}")),
    }
}

fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

fn map_unique(e: tokio_postgres::Error, what: String) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Duplicate(what)
    } else {
        backend(e)
    }
}

fn map_rows<T>(
    rows: Vec<Row>,
    f: fn(&Row) -> Result<T, tokio_postgres::Error>,
) -> StoreResult<Vec<T>> {
    rows.iter().map(|r| f(r).map_err(backend)).collect()
}

fn first<T>(
    rows: Vec<Row>,
    f: fn(&Row) -> Result<T, tokio_postgres::Error>,
) -> StoreResult<Option<T>> {
    rows.first().map(|r| f(r).map_err(backend)).transpose()
}

async fn tx_query(tx: &Transaction<'_>, sql: &str, p: Params<'_>) -> StoreResult<Vec<Row>> {
    let stmt = tx.prepare_cached(sql).await.map_err(backend)?;
    tx.query(&stmt, p).await.map_err(backend)
}

async fn tx_exec(tx: &Transaction<'_>, sql: &str, p: Params<'_>) -> StoreResult<u64> {
    let stmt = tx.prepare_cached(sql).await.map_err(backend)?;
    tx.execute(&stmt, p).await.map_err(backend)
}

/// Runs a statement on one keyed row: `NotFound(what)` when it matched none.
async fn exec_one(
    tx: &Transaction<'_>,
    sql: &str,
    p: Params<'_>,
    what: &'static str,
) -> StoreResult<()> {
    match tx_exec(tx, sql, p).await? {
        0 => Err(StoreError::NotFound(what)),
        _ => Ok(()),
    }
}

/// Like `tx_exec` but keeps the driver error (to tell a unique violation apart).
async fn tx_exec_raw(
    tx: &Transaction<'_>,
    sql: &str,
    p: Params<'_>,
) -> Result<u64, tokio_postgres::Error> {
    let stmt = tx.prepare_cached(sql).await?;
    tx.execute(&stmt, p).await
}

/// Appends one event to the chain. Must be the last statement before commit:
/// the head row stays locked until then, serialising every appender.
async fn insert_audit(tx: &Transaction<'_>, key: &AuditKey, event: &AuditEvent) -> StoreResult<()> {
    let prev: Vec<u8> = tx_query(
        tx,
        "SELECT hash FROM audit_head WHERE id = 1 FOR UPDATE",
        &[],
    )
    .await?
    .first()
    .ok_or_else(|| StoreError::Backend("audit_head row is missing".into()))?
    .try_get(0)
    .map_err(backend)?;
    let hash = key.link_event(&prev, event);
    let keys =
        serde_json::to_string(&event.keys).map_err(|e| StoreError::Backend(e.to_string()))?;
    tx_exec(
        tx,
        "WITH ins AS (
           INSERT INTO audit_events (id, time, actor_type, actor_id, actor_name, action, project_id,
             environment, path, keys, from_version, to_version, client_ip, user_agent, result, prev_hash, hash, client)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18))
         UPDATE audit_head SET hash = $17 WHERE id = 1",
        &[
            &event.id,
            &event.time,
            &event.actor_type,
            &event.actor_id,
            &event.actor_name,
            &event.action,
            &event.project_id,
            &event.environment,
            &event.path,
            &keys,
            &event.from_version,
            &event.to_version,
            &event.client_ip,
            &event.user_agent,
            &event.result,
            &prev,
            &hash,
            &event.client,
        ],
    )
    .await?;
    if event.result == "success" && CHANGE_ACTIONS.contains(&event.action.as_str()) {
        tx_exec(tx, "SELECT pg_notify($1, '')", &[&listen::CHANNEL]).await?;
    }
    Ok(())
}

async fn insert_env(tx: &Transaction<'_>, env: &EnvRow) -> StoreResult<()> {
    tx_exec_raw(
        tx,
        "INSERT INTO environments (id, project_id, slug, name, protected, position, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &env.id,
            &env.project_id,
            &env.slug,
            &env.name,
            &env.protected,
            &env.position,
            &env.created_at,
        ],
    )
    .await
    .map_err(|e| map_unique(e, format!("environment {:?}", env.slug)))?;
    Ok(())
}

async fn insert_data_key(tx: &Transaction<'_>, key: &DataKeyRow) -> StoreResult<()> {
    rekey::check_generation(tx, key).await?;
    tx_exec_raw(
        tx,
        "INSERT INTO data_keys (project_id, key_id, wrapped, enc_count, created_at, generation)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &key.project_id,
            &key.key_id,
            &key.wrapped,
            &key.enc_count,
            &key.created_at,
            &key.generation,
        ],
    )
    .await
    .map_err(|e| map_unique(e, "data key".into()))?;
    Ok(())
}

async fn insert_user_row(tx: &Transaction<'_>, u: &UserRow) -> StoreResult<()> {
    tx_exec_raw(
        tx,
        &format!("INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"),
        &[
            &u.id,
            &u.email,
            &u.password_hash,
            &u.is_admin,
            &u.created_at,
            &u.disabled_at,
        ],
    )
    .await
    .map_err(|e| map_unique(e, format!("user {:?}", u.email)))?;
    Ok(())
}

/// Adds a member, or replaces their role and overrides.
async fn upsert_membership(tx: &Transaction<'_>, m: &MembershipRow) -> StoreResult<()> {
    tx_exec(
        tx,
        "INSERT INTO memberships (project_id, subject_id, role, overrides) VALUES ($1, $2, $3, $4)
         ON CONFLICT (project_id, subject_id) DO UPDATE SET role = excluded.role, overrides = excluded.overrides",
        &[&m.project_id, &m.subject_id, &m.role, &m.overrides],
    )
    .await?;
    Ok(())
}

async fn insert_token_row(tx: &Transaction<'_>, t: &TokenRow) -> StoreResult<()> {
    tx_exec_raw(
        tx,
        &format!("INSERT INTO tokens ({TOKEN_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"),
        &[&t.id, &t.token_hash, &t.kind, &t.subject_id, &t.name, &t.project_id, &t.scope, &t.expires_at, &t.revoked_at, &t.created_at, &t.uses, &t.uses_limit, &t.max_expires_at, &t.client_secret_id],
    )
    .await
    .map_err(|e| map_unique(e, "token".into()))?;
    Ok(())
}

async fn insert_project(
    tx: &Transaction<'_>,
    key: &AuditKey,
    data: &NewProject,
) -> StoreResult<()> {
    let p = &data.project;
    tx_exec_raw(
        tx,
        "INSERT INTO projects (id, slug, name, max_versions, created_at, recovery_window_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&p.id, &p.slug, &p.name, &p.max_versions, &p.created_at, &p.recovery_window_ms],
    )
    .await
    .map_err(|e| map_unique(e, format!("project {:?}", p.slug)))?;
    for env in &data.environments {
        insert_env(tx, env).await?;
    }
    insert_data_key(tx, &data.data_key).await?;
    tx_exec(
        tx,
        "INSERT INTO memberships (project_id, subject_id, role) VALUES ($1, $2, $3)",
        &[&p.id, &data.owner.0, &data.owner.1],
    )
    .await?;
    insert_audit(tx, key, &data.audit).await
}

async fn purge_secret(tx: &Transaction<'_>, secret_id: &str) -> StoreResult<()> {
    tx_exec(
        tx,
        "DELETE FROM personal_secrets WHERE secret_id = $1",
        &[&secret_id],
    )
    .await?;
    tx_exec(
        tx,
        "DELETE FROM secret_versions WHERE secret_id = $1",
        &[&secret_id],
    )
    .await?;
    tx_exec(tx, "DELETE FROM secrets WHERE id = $1", &[&secret_id]).await?;
    Ok(())
}

/// Step one of a put: locks (or creates) the secret row, checks the expected
/// version, inserts the new version and prunes old ones. Touches only the
/// secret's own rows, so a batch can take every secret lock before any data
/// key or audit lock.
async fn put_secret_rows(tx: &Transaction<'_>, put: &PutVersion) -> StoreResult<()> {
    // The row lock makes the compare-and-set below atomic across replicas: a
    // second writer waits here and then sees the first one's version.
    let current = tx_query(
        tx,
        "SELECT id, current_version, deleted_at FROM secrets
         WHERE env_id = $1 AND path = $2 AND key = $3 FOR UPDATE",
        &[&put.env_id, &put.path, &put.key],
    )
    .await?;
    let current: Option<(String, i64, Option<i64>)> = current
        .first()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .transpose()
        .map_err(backend)?;
    let new_version = put.version.version;
    rules::check_put(
        current
            .as_ref()
            .map(|(id, v, d)| (id.as_str(), *v, d.is_some())),
        put,
    )?;
    match current {
        None => {
            let inserted = tx_exec(
                tx,
                "INSERT INTO secrets (id, project_id, env_id, path, key, current_version, created_at)
                 VALUES ($1, $2, $3, $4, $5, 1, $6) ON CONFLICT (env_id, path, key) DO NOTHING",
                &[&put.secret_id, &put.project_id, &put.env_id, &put.path, &put.key, &put.now],
            )
            .await?;
            if inserted == 0 {
                // A concurrent creator committed first (the insert waited for
                // it); this statement's fresh snapshot sees its row.
                let rows = tx_query(
                    tx,
                    "SELECT current_version, deleted_at FROM secrets WHERE env_id = $1 AND path = $2 AND key = $3",
                    &[&put.env_id, &put.path, &put.key],
                )
                .await?;
                let visible = first(rows, |r| {
                    let v: i64 = r.try_get(0)?;
                    let d: Option<i64> = r.try_get(1)?;
                    Ok(rules::visible_version(v, d.is_some()))
                })?
                .unwrap_or(0);
                return Err(StoreError::Conflict { current: visible });
            }
        }
        Some((id, _, _)) => {
            tx_exec(
                tx,
                "UPDATE secrets SET current_version = $2, deleted_at = NULL, purge_after = NULL WHERE id = $1",
                &[&id, &new_version],
            )
            .await?;
        }
    }
    let v = &put.version;
    // The primary key (secret_id, version) is the final guard.
    let inserted = tx_exec(
        tx,
        "INSERT INTO secret_versions (secret_id, version, key_id, value_ct, comment_ct, tags_ct, action, actor, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (secret_id, version) DO NOTHING",
        &[&put.secret_id, &v.version, &v.key_id, &v.value_ct, &v.comment_ct, &v.tags_ct, &v.action, &v.actor, &v.created_at],
    )
    .await?;
    if inserted == 0 {
        return Err(StoreError::Conflict {
            current: new_version,
        });
    }
    tx_exec(
        tx,
        "DELETE FROM secret_versions WHERE secret_id = $1 AND version <= $2",
        &[
            &put.secret_id,
            &rules::prune_through(new_version, put.max_versions),
        ],
    )
    .await?;
    Ok(())
}

/// Adds `by` to a data key's encryption count; returns the new count.
async fn count_encryptions(
    tx: &Transaction<'_>,
    project_id: &str,
    key_id: i64,
    by: i64,
) -> StoreResult<i64> {
    tx_query(
        tx,
        "UPDATE data_keys SET enc_count = enc_count + $3
         WHERE project_id = $1 AND key_id = $2 AND retired_at IS NULL RETURNING enc_count",
        &[&project_id, &key_id, &by],
    )
    .await?
    .first()
    .ok_or_else(|| StoreError::StaleKey("the data key was retired".into()))?
    .try_get(0)
    .map_err(backend)
}

/// Every put of a batch in one transaction, in lock order: all secret rows
/// (sorted by env, path, key, so two batches never wait on each other in a
/// cycle), then the data keys (sorted), then the audit head. Returns each
/// item's encryption count as if the items had been written one by one.
async fn put_batch(
    tx: &Transaction<'_>,
    key: &AuditKey,
    puts: &[(PutVersion, AuditEvent)],
) -> StoreResult<Vec<i64>> {
    let mut order: Vec<usize> = (0..puts.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&puts[a].0, &puts[b].0);
        (&a.env_id, &a.path, &a.key).cmp(&(&b.env_id, &b.path, &b.key))
    });
    for &i in &order {
        put_secret_rows(tx, &puts[i].0).await?;
    }
    // Three fields of each item were sealed under its data key.
    let mut by_key: std::collections::BTreeMap<(&str, i64), Vec<usize>> = Default::default();
    for (i, (put, _)) in puts.iter().enumerate() {
        by_key
            .entry((put.project_id.as_str(), put.version.key_id))
            .or_default()
            .push(i);
    }
    let mut counts = vec![0; puts.len()];
    for ((project_id, key_id), items) in &by_key {
        let n = items.len() as i64;
        let last = count_encryptions(tx, project_id, *key_id, rules::encryptions(n)).await?;
        for (j, &i) in items.iter().enumerate() {
            counts[i] = rules::count_after(last, n, j as i64);
        }
    }
    for (_, audit) in puts {
        insert_audit(tx, key, audit).await?;
    }
    Ok(counts)
}

async fn insert_identity_secret(tx: &Transaction<'_>, s: &IdentitySecretRow) -> StoreResult<()> {
    tx_exec_raw(
        tx,
        &format!(
            "INSERT INTO identity_secrets ({IDENTITY_SECRET_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ),
        &[
            &s.id,
            &s.identity_id,
            &s.secret_hash,
            &s.prefix,
            &s.created_at,
            &s.revoked_at,
        ],
    )
    .await
    .map_err(|e| map_unique(e, "client secret".into()))?;
    Ok(())
}

/// The whole chain in order, as one transaction sees it.
pub(crate) async fn audit_rows(tx: &Transaction<'_>) -> StoreResult<Vec<AuditRow>> {
    let rows = tx_query(
        tx,
        &format!("SELECT {AUDIT_COLS} FROM audit_events ORDER BY seq"),
        &[],
    )
    .await?;
    map_rows(rows, audit)
}

impl PostgresStore {
    /// Connects (a pool of `pool_size`) and applies pending migrations
    /// (re-linking an unkeyed audit log once); new audit events are linked under `audit_key`.
    pub async fn connect(url: &str, pool_size: usize, audit_key: AuditKey) -> StoreResult<Self> {
        let settings = connect::settings(url)?;
        let manager = Manager::from_config(
            settings.pg.clone(),
            settings.tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(15)))
            .wait_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| StoreError::Backend(format!("database pool: {e}")))?;
        let audit_key = Arc::new(audit_key);
        let mut client = pool.get().await.map_err(pool_error)?;
        connect::migrate(&mut client).await?;
        chain_upgrade::upgrade(&mut client, &audit_key).await?;
        drop(client);
        let changes = Arc::new(watch::Sender::new(0u64));
        let listener = listen::spawn(settings.pg, settings.tls, changes.clone());
        let (audit_queue, audit_batcher) = audit_batch::spawn(pool.clone(), audit_key.clone());
        Ok(Self {
            pool,
            changes,
            listener,
            audit_queue,
            audit_batcher,
            audit_key,
        })
    }

    async fn conn(&self) -> StoreResult<deadpool_postgres::Client> {
        self.pool.get().await.map_err(pool_error)
    }

    /// A pooled connection, for the one-off migration tool.
    pub(crate) async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.conn().await
    }

    /// Changes one keyed row and appends its audit event, in one transaction:
    /// `NotFound(what)` (and nothing written) when the statement matched no row.
    async fn change_one(
        &self,
        sql: &str,
        p: Params<'_>,
        what: &'static str,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            exec_one(tx, sql, p, what).await?;
            insert_audit(tx, &self.audit_key, audit).await
        })
    }

    async fn read(&self, sql: &str, p: Params<'_>) -> StoreResult<Vec<Row>> {
        let c = self.conn().await?;
        let stmt = c.prepare_cached(sql).await.map_err(backend)?;
        c.query(&stmt, p).await.map_err(backend)
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        let c = self.conn().await?;
        c.simple_query("SELECT 1").await.map_err(backend)?;
        Ok(())
    }

    async fn close(&self) {
        self.listener.abort();
        self.audit_batcher.abort();
        self.pool.close();
    }

    async fn meta_get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let rows = self
            .read("SELECT v FROM meta WHERE k = $1", &[&key])
            .await?;
        first(rows, |r| r.try_get(0))
    }

    async fn meta_init(&self, key: &str, value: Vec<u8>) -> StoreResult<Vec<u8>> {
        let c = self.conn().await?;
        // One statement per step; the insert is idempotent, so no transaction is
        // needed: whoever wins, every replica then reads the same stored value.
        c.execute(
            "INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING",
            &[&key, &value],
        )
        .await
        .map_err(backend)?;
        c.query_one("SELECT v FROM meta WHERE k = $1", &[&key])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(backend)
    }

    async fn bootstrap(&self, data: Bootstrap) -> StoreResult<()> {
        in_tx!(self, |tx| {
            // Two replicas bootstrapping at once: the second waits, then sees a user.
            tx_exec(tx, "SELECT pg_advisory_xact_lock($1)", &[&LOCK_BOOTSTRAP]).await?;
            let users: i64 = tx_query(tx, "SELECT COUNT(*) FROM users", &[])
                .await?
                .first()
                .ok_or_else(|| StoreError::Backend("count returned no row".into()))?
                .try_get(0)
                .map_err(backend)?;
            if users > 0 {
                return Err(StoreError::AlreadyBootstrapped);
            }
            let u = &data.user;
            insert_user_row(tx, u).await?;
            insert_project(tx, &self.audit_key, &data.project).await?;
            insert_token_row(tx, &data.token).await?;
            Ok(())
        })
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRow>> {
        let rows = self
            .read(
                &format!("SELECT {USER_COLS} FROM users WHERE email = $1"),
                &[&email],
            )
            .await?;
        first(rows, user)
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRow>> {
        let rows = self
            .read(
                &format!("SELECT {USER_COLS} FROM users WHERE id = $1"),
                &[&id],
            )
            .await?;
        first(rows, user)
    }

    async fn insert_token(&self, token: TokenRow, audit: AuditEvent) -> StoreResult<()> {
        in_tx!(self, |tx| {
            insert_token_row(tx, &token).await?;
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(())
        })
    }

    async fn token_by_hash(&self, hash: &[u8]) -> StoreResult<Option<TokenRow>> {
        let rows = self
            .read(
                &format!("SELECT {TOKEN_COLS} FROM tokens WHERE token_hash = $1"),
                &[&hash],
            )
            .await?;
        first(rows, token)
    }

    async fn revoke_token(&self, id: &str, now: i64, audit: AuditEvent) -> StoreResult<()> {
        self.change_one(
            "UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &now],
            "token",
            &audit,
        )
        .await
    }

    async fn create_project(&self, data: NewProject) -> StoreResult<()> {
        in_tx!(self, |tx| {
            insert_project(tx, &self.audit_key, &data).await?;
            Ok(())
        })
    }

    async fn projects(&self) -> StoreResult<Vec<ProjectRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {PROJECT_COLS} FROM projects ORDER BY created_at, slug COLLATE \"C\""
                ),
                &[],
            )
            .await?;
        map_rows(rows, project)
    }

    async fn project(&self, id_or_slug: &str) -> StoreResult<Option<ProjectRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {PROJECT_COLS} FROM projects WHERE id = $1 OR slug = $1
                     ORDER BY (id = $1) DESC LIMIT 1"
                ),
                &[&id_or_slug],
            )
            .await?;
        first(rows, project)
    }

    async fn membership(
        &self,
        project_id: &str,
        subject_id: &str,
    ) -> StoreResult<Option<MembershipRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {MEMBERSHIP_COLS} FROM memberships WHERE project_id = $1 AND subject_id = $2"
                ),
                &[&project_id, &subject_id],
            )
            .await?;
        first(rows, membership)
    }

    async fn memberships(&self, project_id: &str) -> StoreResult<Vec<MembershipRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {MEMBERSHIP_COLS} FROM memberships WHERE project_id = $1
                     ORDER BY subject_id COLLATE \"C\""
                ),
                &[&project_id],
            )
            .await?;
        map_rows(rows, membership)
    }

    async fn put_membership(&self, m: MembershipRow, audit: AuditEvent) -> StoreResult<()> {
        in_tx!(self, |tx| {
            upsert_membership(tx, &m).await?;
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(())
        })
    }

    async fn remove_membership(
        &self,
        project_id: &str,
        subject_id: &str,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.change_one(
            "DELETE FROM memberships WHERE project_id = $1 AND subject_id = $2",
            &[&project_id, &subject_id],
            "membership",
            &audit,
        )
        .await
    }

    async fn create_user(
        &self,
        u: UserRow,
        invite_hash: Vec<u8>,
        invite_expires_at: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            insert_user_row(tx, &u).await?;
            tx_exec(
                tx,
                "INSERT INTO invites (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
                &[&invite_hash, &u.id, &invite_expires_at],
            )
            .await?;
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(())
        })
    }

    async fn create_user_with_membership(
        &self,
        u: UserRow,
        m: MembershipRow,
        user_audit: AuditEvent,
        member_audit: AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            insert_user_row(tx, &u).await?;
            insert_audit(tx, &self.audit_key, &user_audit).await?;
            // Locked, so the project cannot be deleted before this commits.
            let found = tx_query(
                tx,
                "SELECT 1 FROM projects WHERE id = $1 FOR SHARE",
                &[&m.project_id],
            )
            .await?;
            if found.is_empty() {
                return Err(StoreError::NotFound("project"));
            }
            upsert_membership(tx, &m).await?;
            insert_audit(tx, &self.audit_key, &member_audit).await?;
            Ok(())
        })
    }

    async fn users(&self) -> StoreResult<Vec<UserRow>> {
        let rows = self
            .read(
                &format!("SELECT {USER_COLS} FROM users ORDER BY email COLLATE \"C\""),
                &[],
            )
            .await?;
        map_rows(rows, user)
    }

    async fn redeem_password_token(
        &self,
        kind: &'static str,
        token_hash: Vec<u8>,
        password_hash: String,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<UserRow> {
        in_tx!(self, |tx| {
            let user = accounts::redeem_password_token(
                tx,
                &self.audit_key,
                kind,
                &token_hash,
                &password_hash,
                now,
                audit,
            )
            .await?;
            Ok(user)
        })
    }

    async fn create_password_reset(
        &self,
        user_id: &str,
        token_hash: Vec<u8>,
        expires_at: i64,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            accounts::create_password_reset(tx, user_id, &token_hash, expires_at, now).await?;
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(())
        })
    }

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: String,
        keep_token: Option<String>,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            accounts::set_password(tx, user_id, &password_hash, keep_token.as_deref(), now).await?;
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(())
        })
    }

    async fn change_user(
        &self,
        user_id: &str,
        change: UserChange,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<UserRow> {
        in_tx!(self, |tx| {
            let before = accounts::change_user(tx, user_id, change, now).await?;
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(before)
        })
    }

    async fn create_identity(
        &self,
        i: IdentityRow,
        secret: IdentitySecretRow,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            tx_exec_raw(
                tx,
                &format!(
                "INSERT INTO identities ({IDENTITY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
                &[
                    &i.id,
                    &i.name,
                    &i.access_token_ttl,
                    &i.access_token_max_ttl,
                    &i.num_uses_limit,
                    &i.trusted_ips,
                    &i.created_by,
                    &i.created_at,
                ],
            )
            .await
            .map_err(|e| map_unique(e, format!("identity {:?}", i.name)))?;
            insert_identity_secret(tx, &secret).await?;
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(())
        })
    }

    async fn identity(&self, id_or_name: &str) -> StoreResult<Option<IdentityRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {IDENTITY_COLS} FROM identities WHERE id = $1 OR name = $1
                     ORDER BY (id = $1) DESC LIMIT 1"
                ),
                &[&id_or_name],
            )
            .await?;
        first(rows, identity)
    }

    async fn identities(&self) -> StoreResult<Vec<IdentityRow>> {
        let rows = self
            .read(
                &format!("SELECT {IDENTITY_COLS} FROM identities ORDER BY name COLLATE \"C\""),
                &[],
            )
            .await?;
        map_rows(rows, identity)
    }

    async fn add_identity_secret(
        &self,
        secret: IdentitySecretRow,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            insert_identity_secret(tx, &secret).await?;
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(())
        })
    }

    async fn identity_secrets(&self, identity_id: &str) -> StoreResult<Vec<IdentitySecretRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {IDENTITY_SECRET_COLS} FROM identity_secrets WHERE identity_id = $1
                     ORDER BY created_at, id COLLATE \"C\""
                ),
                &[&identity_id],
            )
            .await?;
        map_rows(rows, identity_secret)
    }

    async fn identity_secret_by_hash(&self, hash: &[u8]) -> StoreResult<Option<IdentitySecretRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {IDENTITY_SECRET_COLS} FROM identity_secrets WHERE secret_hash = $1"
                ),
                &[&hash],
            )
            .await?;
        first(rows, identity_secret)
    }

    async fn revoke_identity_secret(
        &self,
        identity_id: &str,
        secret_id: &str,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            exec_one(
            tx,
            "UPDATE identity_secrets SET revoked_at = $3 WHERE identity_id = $1 AND id = $2 AND revoked_at IS NULL",
            &[&identity_id, &secret_id, &now], "client secret").await?;
            tx_exec(
            tx,
            "UPDATE tokens SET revoked_at = $2 WHERE client_secret_id = $1 AND revoked_at IS NULL",
            &[&secret_id, &now],
        )
        .await?;
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(())
        })
    }

    async fn delete_identity(
        &self,
        identity_id: &str,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            accounts::delete_identity(tx, identity_id, now).await?;
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(())
        })
    }

    async fn subject_tokens(&self, subject_id: &str) -> StoreResult<Vec<TokenRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {TOKEN_COLS} FROM tokens WHERE subject_id = $1
                     ORDER BY created_at, id COLLATE \"C\""
                ),
                &[&subject_id],
            )
            .await?;
        map_rows(rows, token)
    }

    async fn token_by_id(&self, id: &str) -> StoreResult<Option<TokenRow>> {
        let rows = self
            .read(
                &format!("SELECT {TOKEN_COLS} FROM tokens WHERE id = $1"),
                &[&id],
            )
            .await?;
        first(rows, token)
    }

    async fn project_tokens(&self, project_id: &str) -> StoreResult<Vec<TokenRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {TOKEN_COLS} FROM tokens WHERE project_id = $1 AND kind = 'service'
                     ORDER BY created_at, id COLLATE \"C\""
                ),
                &[&project_id],
            )
            .await?;
        map_rows(rows, token)
    }

    async fn use_token(&self, id: &str) -> StoreResult<bool> {
        let c = self.conn().await?;
        // One statement: the row lock it takes makes check-and-increment atomic
        // across replicas, so a limit of n admits exactly n requests.
        let stmt = c
            .prepare_cached(
                "UPDATE tokens SET uses = uses + 1 WHERE id = $1 AND (uses_limit IS NULL OR uses < uses_limit)",
            )
            .await
            .map_err(backend)?;
        let n = c.execute(&stmt, &[&id]).await.map_err(backend)?;
        Ok(n == 1)
    }

    async fn renew_token(&self, id: &str, expires_at: i64, audit: AuditEvent) -> StoreResult<()> {
        self.change_one(
            "UPDATE tokens SET expires_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &expires_at],
            "token",
            &audit,
        )
        .await
    }

    async fn record_login_attempt(
        &self,
        account: &str,
        ip: &str,
        at: i64,
        since: i64,
    ) -> StoreResult<LoginAttempt> {
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(backend)?;
        // Old rows only matter inside the lockout window; keep the table small.
        tx_exec(
            &tx,
            "DELETE FROM login_failures WHERE at < $1",
            &[&(at - 24 * 3600 * 1000)],
        )
        .await?;
        let rows = tx_query(
            &tx,
            "INSERT INTO login_failures (account, ip, at) VALUES ($1, $2, $3) RETURNING id",
            &[&account, &ip, &at],
        )
        .await?;
        let id: i64 = first(rows, |r| r.try_get(0))?
            .ok_or_else(|| StoreError::Backend("insert returned no id".into()))?;
        tx.commit().await.map_err(backend)?;
        // Counted after the commit (read committed): every attempt recorded
        // before this one, on any replica, is seen.
        let rows = c
            .query(
                "SELECT (SELECT COUNT(*) FROM login_failures WHERE account = $1 AND at >= $3),
                        (SELECT COUNT(*) FROM login_failures WHERE ip = $2 AND at >= $3)",
                &[&account, &ip, &since],
            )
            .await
            .map_err(backend)?;
        let (by_account, by_ip) = first(rows, |r| Ok((r.try_get(0)?, r.try_get(1)?)))?
            .ok_or_else(|| StoreError::Backend("count returned no row".into()))?;
        Ok(LoginAttempt {
            id,
            by_account,
            by_ip,
        })
    }

    async fn forget_login_attempt(&self, id: i64) -> StoreResult<()> {
        let c = self.conn().await?;
        c.execute("DELETE FROM login_failures WHERE id = $1", &[&id])
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn is_bootstrapped(&self) -> StoreResult<bool> {
        let rows = self
            .read("SELECT EXISTS (SELECT 1 FROM users)", &[])
            .await?;
        Ok(first(rows, |r| r.try_get(0))?.unwrap_or(false))
    }

    async fn password_token_pending(
        &self,
        kind: &'static str,
        token_hash: Vec<u8>,
        now: i64,
    ) -> StoreResult<bool> {
        let rows = self
            .read(
                "SELECT EXISTS (SELECT 1 FROM invites WHERE token_hash = $1 AND kind = $2
                 AND used_at IS NULL AND expires_at > $3)",
                &[&token_hash, &kind, &now],
            )
            .await?;
        Ok(first(rows, |r| r.try_get(0))?.unwrap_or(false))
    }

    async fn environments(&self, project_id: &str) -> StoreResult<Vec<EnvRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {ENV_COLS} FROM environments WHERE project_id = $1
                     ORDER BY position, slug COLLATE \"C\""
                ),
                &[&project_id],
            )
            .await?;
        map_rows(rows, env)
    }

    async fn create_environment(&self, env: EnvRow, audit: AuditEvent) -> StoreResult<()> {
        in_tx!(self, |tx| {
            insert_env(tx, &env).await?;
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(())
        })
    }

    async fn update_project_settings(
        &self,
        project_id: &str,
        change: ProjectSettingsChange,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let reset = change.recovery_window_ms.is_some();
        let window = change.recovery_window_ms.flatten();
        self.change_one(
            "UPDATE projects SET max_versions = COALESCE($2, max_versions),
                 recovery_window_ms = CASE WHEN $3 THEN $4 ELSE recovery_window_ms END
             WHERE id = $1",
            &[&project_id, &change.max_versions, &reset, &window],
            "project",
            &audit,
        )
        .await
    }

    async fn rename_environment(
        &self,
        env_id: &str,
        name: &str,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.change_one(
            "UPDATE environments SET name = $2 WHERE id = $1",
            &[&env_id, &name],
            "environment",
            &audit,
        )
        .await
    }

    async fn folders(&self, env_id: &str) -> StoreResult<Vec<FolderRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {FOLDER_COLS} FROM folders WHERE env_id = $1 ORDER BY path COLLATE \"C\""
                ),
                &[&env_id],
            )
            .await?;
        map_rows(rows, folder)
    }

    async fn create_folder(&self, f: FolderRow, audit: AuditEvent) -> StoreResult<()> {
        in_tx!(self, |tx| {
            tx_exec_raw(
                tx,
                &format!("INSERT INTO folders ({FOLDER_COLS}) VALUES ($1, $2, $3, $4, $5)"),
                &[&f.id, &f.project_id, &f.env_id, &f.path, &f.created_at],
            )
            .await
            .map_err(|e| map_unique(e, format!("folder {:?}", f.path)))?;
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(())
        })
    }

    async fn delete_folder(
        &self,
        del: DeleteFolder,
        mut audit: AuditEvent,
    ) -> StoreResult<Vec<String>> {
        in_tx!(self, |tx| {
            let prefix = format!("{}/", del.path);
            // Secret rows first (in the batch writers' order), like every writer.
            let rows = tx_query(
                tx,
                "SELECT id, path, key FROM secrets WHERE env_id = $1 AND deleted_at IS NULL
             AND (path = $2 OR starts_with(path, $3))
             ORDER BY path COLLATE \"C\", key COLLATE \"C\" FOR UPDATE",
                &[&del.env_id, &del.path, &prefix],
            )
            .await?;
            let live: Vec<(String, String, String)> = rows
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<_, tokio_postgres::Error>>()
                .map_err(backend)?;
            if !live.is_empty() && !del.force {
                return Err(StoreError::NotEmpty(format!(
                    "folder {} is not empty: it holds {} secret(s)",
                    del.path,
                    live.len()
                )));
            }
            let folders: Vec<String> = tx_query(
            tx,
            "SELECT path FROM folders WHERE env_id = $1 AND (path = $2 OR starts_with(path, $3))",
            &[&del.env_id, &del.path, &prefix],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(backend)?;
            let touched = live.iter().map(|(_, path, _)| path).chain(&folders);
            if let Some(refusal) = touched.filter_map(|p| del.unchecked(p)).next() {
                return Err(refusal);
            }
            let ids: Vec<&str> = live.iter().map(|(id, _, _)| id.as_str()).collect();
            if !ids.is_empty() {
                tx_exec(
                    tx,
                    "UPDATE secrets SET deleted_at = $2, purge_after = $3 WHERE id = ANY($1)",
                    &[&ids, &del.now, &del.purge_after],
                )
                .await?;
            }
            tx_exec(
                tx,
                "DELETE FROM folders WHERE env_id = $1 AND (path = $2 OR starts_with(path, $3))",
                &[&del.env_id, &del.path, &prefix],
            )
            .await?;
            audit.keys = live
                .iter()
                .map(|(_, path, key)| format!("{path}/{key}"))
                .collect();
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(audit.keys)
        })
    }

    async fn data_keys(&self, project_id: &str) -> StoreResult<Vec<DataKeyRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {DATA_KEY_COLS} FROM data_keys WHERE project_id = $1 ORDER BY key_id"
                ),
                &[&project_id],
            )
            .await?;
        map_rows(rows, data_key)
    }

    async fn all_data_keys(&self) -> StoreResult<Vec<DataKeyRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {DATA_KEY_COLS} FROM data_keys ORDER BY project_id COLLATE \"C\", key_id"
                ),
                &[],
            )
            .await?;
        map_rows(rows, data_key)
    }

    async fn add_data_key(&self, key: DataKeyRow) -> StoreResult<()> {
        in_tx!(self, |tx| {
            insert_data_key(tx, &key).await?;
            Ok(())
        })
    }

    async fn rewrap_data_keys(
        &self,
        keys: Vec<DataKeyRow>,
        generations: Vec<crate::store::rekey::GenerationRow>,
        key_check: Vec<u8>,
        audit_epochs: Vec<(i64, Vec<u8>)>,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            tx_exec(tx, "DELETE FROM audit_key_epochs", &[]).await?;
            for (epoch, sealed) in &audit_epochs {
                tx_exec(
                    tx,
                    "INSERT INTO audit_key_epochs (epoch, sealed) VALUES ($1, $2)",
                    &[epoch, sealed],
                )
                .await?;
            }
            for k in &keys {
                let n = tx_exec(
                    tx,
                    "UPDATE data_keys SET wrapped = $3 WHERE project_id = $1 AND key_id = $2",
                    &[&k.project_id, &k.key_id, &k.wrapped],
                )
                .await?;
                if n != 1 {
                    return Err(StoreError::NotFound("data key"));
                }
            }
            for g in &generations {
                tx_exec(
                    tx,
                    "UPDATE root_generations SET wrapped = $2, provider = $3 WHERE generation = $1",
                    &[&g.generation, &g.wrapped, &g.provider],
                )
                .await?;
            }
            tx_exec(
            tx,
            "INSERT INTO meta (k, v) VALUES ('key_check', $1) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            &[&key_check],
        )
        .await?;
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(())
        })
    }

    async fn audit_key_epochs(&self) -> StoreResult<Vec<(i64, Vec<u8>)>> {
        let rows = self
            .read(
                "SELECT epoch::bigint, sealed FROM audit_key_epochs ORDER BY epoch",
                &[],
            )
            .await?;
        map_rows(rows, |r| Ok((r.try_get(0)?, r.try_get(1)?)))
    }

    async fn live_secret_counts(&self, env_id: &str, path: &str) -> StoreResult<(i64, i64)> {
        let sql = LIVE_SECRET_COUNTS.replace("?1", "$1").replace("?2", "$2");
        let rows = self.read(&sql, &[&env_id, &path]).await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Backend("a count returned no row".into()))?;
        Ok((
            row.try_get(0).map_err(backend)?,
            row.try_get(1).map_err(backend)?,
        ))
    }

    async fn secret_head(
        &self,
        env_id: &str,
        path: &str,
        key: &str,
    ) -> StoreResult<Option<SecretHead>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {HEAD_COLS} FROM secrets s WHERE s.env_id = $1 AND s.path = $2 AND s.key = $3"
                ),
                &[&env_id, &path, &key],
            )
            .await?;
        first(rows, head)
    }

    async fn secret(
        &self,
        env_id: &str,
        path: &str,
        key: &str,
        version: Option<i64>,
    ) -> StoreResult<Option<SecretRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {HEAD_COLS}, {VERSION_COLS} FROM secrets s JOIN secret_versions v
                     ON v.secret_id = s.id AND v.version = COALESCE($4::bigint, s.current_version)
                     WHERE s.env_id = $1 AND s.path = $2 AND s.key = $3 AND s.deleted_at IS NULL"
                ),
                &[&env_id, &path, &key, &version],
            )
            .await?;
        first(rows, secret)
    }

    async fn secrets(
        &self,
        env_id: &str,
        path: &str,
        recursive: bool,
    ) -> StoreResult<Vec<SecretRow>> {
        // Descendants of "/x" are "/x/..."; of the root, everything.
        let prefix = if path == "/" {
            "/".to_owned()
        } else {
            format!("{path}/")
        };
        let rows = self
            .read(
                &format!(
                    "SELECT {HEAD_COLS}, {VERSION_COLS} FROM secrets s JOIN secret_versions v
                     ON v.secret_id = s.id AND v.version = s.current_version
                     WHERE s.env_id = $1 AND s.deleted_at IS NULL
                       AND (s.path = $2 OR ($3::boolean AND starts_with(s.path, $4)))
                     ORDER BY s.path COLLATE \"C\", s.key COLLATE \"C\""
                ),
                &[&env_id, &path, &recursive, &prefix],
            )
            .await?;
        map_rows(rows, secret)
    }

    async fn deleted_secrets(&self, env_id: &str, path: &str) -> StoreResult<Vec<SecretRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {HEAD_COLS}, {VERSION_COLS} FROM secrets s JOIN secret_versions v
                     ON v.secret_id = s.id AND v.version = s.current_version
                     WHERE s.env_id = $1 AND s.path = $2 AND s.deleted_at IS NOT NULL
                     ORDER BY s.key COLLATE \"C\""
                ),
                &[&env_id, &path],
            )
            .await?;
        map_rows(rows, secret)
    }

    async fn history(&self, secret_id: &str) -> StoreResult<Vec<VersionRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {VERSION_COLS} FROM secret_versions v WHERE v.secret_id = $1 ORDER BY v.version"
                ),
                &[&secret_id],
            )
            .await?;
        map_rows(rows, version)
    }

    async fn put_version(&self, put: PutVersion, audit: AuditEvent) -> StoreResult<i64> {
        let mut counts = self.put_versions(vec![(put, audit)]).await?;
        counts
            .pop()
            .ok_or_else(|| StoreError::Backend("put returned no count".into()))
    }

    async fn put_versions(&self, puts: Vec<(PutVersion, AuditEvent)>) -> StoreResult<Vec<i64>> {
        if puts.is_empty() {
            return Ok(Vec::new());
        }
        in_tx!(self, |tx| {
            // Any error returns before commit: the dropped transaction rolls back
            // every item written before it.
            let counts = put_batch(tx, &self.audit_key, &puts).await?;
            Ok(counts)
        })
    }

    async fn soft_delete(
        &self,
        secret_id: &str,
        now: i64,
        purge_after: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.change_one(
            "UPDATE secrets SET deleted_at = $2, purge_after = $3 WHERE id = $1 AND deleted_at IS NULL",
            &[&secret_id, &now, &purge_after], "secret", &audit).await
    }

    async fn restore(&self, secret_id: &str, _now: i64, audit: AuditEvent) -> StoreResult<()> {
        self.change_one("UPDATE secrets SET deleted_at = NULL, purge_after = NULL WHERE id = $1 AND deleted_at IS NOT NULL",
            &[&secret_id], "deleted secret", &audit).await
    }

    async fn purge(&self, secret_id: &str, audit: AuditEvent) -> StoreResult<()> {
        in_tx!(self, |tx| {
            let found = tx_query(
                tx,
                "SELECT id FROM secrets WHERE id = $1 FOR UPDATE",
                &[&secret_id],
            )
            .await?;
            if found.is_empty() {
                return Err(StoreError::NotFound("secret"));
            }
            purge_secret(tx, secret_id).await?;
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(())
        })
    }

    async fn purge_expired(&self, now: i64, audit_for: AuditFor) -> StoreResult<usize> {
        in_tx!(self, |tx| {
            // Moved in: the body runs in a future that must be `Send`.
            let audit_for = audit_for;
            // One replica purges; the others skip this round instead of queueing.
            let got: bool = tx_query(tx, "SELECT pg_try_advisory_xact_lock($1)", &[&LOCK_PURGE])
                .await?
                .first()
                .ok_or_else(|| StoreError::Backend("lock query returned no row".into()))?
                .try_get(0)
                .map_err(backend)?;
            if !got {
                return Ok(0); // commits an empty transaction
            }
            let rows = tx_query(
            tx,
            &format!(
                "SELECT {HEAD_COLS} FROM secrets s WHERE s.deleted_at IS NOT NULL AND s.purge_after <= $1
                 ORDER BY s.id FOR UPDATE"
            ),
            &[&now],
        )
        .await?;
            let expired = map_rows(rows, head)?;
            for secret in &expired {
                purge_secret(tx, &secret.secret_id).await?;
                insert_audit(tx, &self.audit_key, &audit_for(secret)).await?;
            }
            Ok(expired.len())
        })
    }

    async fn imports(&self, env_id: &str, path: &str) -> StoreResult<Vec<ImportRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {IMPORT_COLS} FROM secret_imports WHERE env_id = $1 AND path = $2
                     ORDER BY position, created_at"
                ),
                &[&env_id, &path],
            )
            .await?;
        map_rows(rows, import)
    }

    async fn create_import(&self, i: ImportRow, audit: AuditEvent) -> StoreResult<()> {
        in_tx!(self, |tx| {
            tx_exec_raw(
            tx,
            "INSERT INTO secret_imports (id, project_id, env_id, path, import_env_id, import_path, position, created_at)
             VALUES ($1, $2, $3, $4, $5, $6,
               (SELECT COALESCE(MAX(position), 0) + 1 FROM secret_imports WHERE env_id = $3 AND path = $4), $7)",
            &[&i.id, &i.project_id, &i.env_id, &i.path, &i.import_env_id, &i.import_path, &i.created_at],
        )
        .await
        .map_err(|e| map_unique(e, "this import".into()))?;
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(())
        })
    }

    async fn delete_import(&self, id: &str, audit: AuditEvent) -> StoreResult<()> {
        self.change_one(
            "DELETE FROM secret_imports WHERE id = $1",
            &[&id],
            "import",
            &audit,
        )
        .await
    }

    async fn personal_secrets(
        &self,
        owner_id: &str,
        secret_ids: Vec<String>,
    ) -> StoreResult<Vec<PersonalRow>> {
        if secret_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .read(
                &format!(
                    "SELECT {PERSONAL_COLS} FROM personal_secrets WHERE owner_id = $1 AND secret_id = ANY($2)"
                ),
                &[&owner_id, &secret_ids],
            )
            .await?;
        let mut found = map_rows(rows, personal)?;
        // The caller's order, like the SQLite store.
        found.sort_by_key(|p| secret_ids.iter().position(|id| *id == p.secret_id));
        Ok(found)
    }

    async fn put_personal(
        &self,
        row: PersonalRow,
        expected_version: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            rekey::check_live_key_of_secret(tx, &row.secret_id, row.key_id).await?;
            let current_version = |rows: Vec<Row>| -> StoreResult<i64> {
                Ok(first(rows, |r| r.try_get(0))?.unwrap_or(0))
            };
            let written = if expected_version == 0 {
                // A concurrent creator makes this insert wait, then do nothing.
                tx_exec(
                tx,
                &format!(
                    "INSERT INTO personal_secrets ({PERSONAL_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (secret_id, owner_id) DO NOTHING"
                ),
                &[
                    &row.id,
                    &row.secret_id,
                    &row.owner_id,
                    &row.version,
                    &row.key_id,
                    &row.value_ct,
                    &row.created_at,
                    &row.updated_at,
                ],
            )
            .await?
            } else {
                tx_exec(
                tx,
                "UPDATE personal_secrets SET version = $3, key_id = $4, value_ct = $5, updated_at = $6
                 WHERE secret_id = $1 AND owner_id = $2 AND version = $7",
                &[
                    &row.secret_id,
                    &row.owner_id,
                    &row.version,
                    &row.key_id,
                    &row.value_ct,
                    &row.updated_at,
                    &expected_version,
                ],
            )
            .await?
            };
            if written == 0 {
                let rows = tx_query(
                    tx,
                    "SELECT version FROM personal_secrets WHERE secret_id = $1 AND owner_id = $2",
                    &[&row.secret_id, &row.owner_id],
                )
                .await?;
                return Err(StoreError::Conflict {
                    current: current_version(rows)?,
                });
            }
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(())
        })
    }

    async fn delete_personal(
        &self,
        secret_id: &str,
        owner_id: &str,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.change_one(
            "DELETE FROM personal_secrets WHERE secret_id = $1 AND owner_id = $2",
            &[&secret_id, &owner_id],
            "personal secret",
            &audit,
        )
        .await
    }

    async fn rename_secret(
        &self,
        secret_id: &str,
        new_key: &str,
        resealed: Vec<VersionRow>,
        next: PutVersion,
        audit: AuditEvent,
    ) -> StoreResult<i64> {
        in_tx!(self, |tx| {
            // Lock order as every writer: secret row, data key, audit head.
            let rows = tx_query(
                tx,
                "SELECT current_version, deleted_at FROM secrets WHERE id = $1 FOR UPDATE",
                &[&secret_id],
            )
            .await?;
            let (stored, deleted): (i64, Option<i64>) =
                first(rows, |r| Ok((r.try_get(0)?, r.try_get(1)?)))?
                    .ok_or(StoreError::NotFound("secret"))?;
            if stored != next.expected_current || deleted.is_some() {
                return Err(StoreError::Conflict {
                    current: rules::visible_version(stored, deleted.is_some()),
                });
            }
            let v = &next.version;
            tx_exec_raw(
                tx,
                "UPDATE secrets SET key = $2, current_version = $3 WHERE id = $1",
                &[&secret_id, &new_key, &v.version],
            )
            .await
            .map_err(|e| map_unique(e, format!("secret {new_key:?}")))?;
            for r in &resealed {
                let n = tx_exec(
                tx,
                "UPDATE secret_versions SET value_ct = $3, comment_ct = $4, tags_ct = $5, key_id = $6
                 WHERE secret_id = $1 AND version = $2",
                &[&secret_id, &r.version, &r.value_ct, &r.comment_ct, &r.tags_ct, &r.key_id],
            )
            .await?;
                if n != 1 {
                    return Err(StoreError::Conflict { current: stored });
                }
            }
            // Personal overrides were sealed for the old name; they do not follow a rename.
            tx_exec(
                tx,
                "DELETE FROM personal_secrets WHERE secret_id = $1",
                &[&secret_id],
            )
            .await?;
            let inserted = tx_exec(
            tx,
            "INSERT INTO secret_versions (secret_id, version, key_id, value_ct, comment_ct, tags_ct, action, actor, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (secret_id, version) DO NOTHING",
            &[&secret_id, &v.version, &v.key_id, &v.value_ct, &v.comment_ct, &v.tags_ct, &v.action, &v.actor, &v.created_at],
        )
        .await?;
            if inserted == 0 {
                return Err(StoreError::Conflict { current: stored });
            }
            tx_exec(
                tx,
                "DELETE FROM secret_versions WHERE secret_id = $1 AND version <= $2",
                &[
                    &secret_id,
                    &rules::prune_through(v.version, next.max_versions),
                ],
            )
            .await?;
            let count = count_encryptions(
                tx,
                &next.project_id,
                v.key_id,
                rules::encryptions(resealed.len() as i64 + 1),
            )
            .await?;
            insert_audit(tx, &self.audit_key, &audit).await?;
            Ok(count)
        })
    }

    async fn append_audit(&self, event: AuditEvent) -> StoreResult<()> {
        audit_batch::append(&self.audit_queue, event).await
    }

    async fn query_audit(&self, filter: AuditFilter) -> StoreResult<Vec<AuditRow>> {
        // ILIKE: the SQLite store's LIKE is case-insensitive; keep the same answers.
        let key_pattern = match &filter.key {
            Some(k) => Some(format!(
                "%{}%",
                serde_json::to_string(k).map_err(|e| StoreError::Backend(e.to_string()))?
            )),
            None => None,
        };
        // Newest first by time, or (following the log) oldest first by seq.
        let place = if filter.after_seq.is_some() {
            "($8::bigint IS NULL OR time < $8 OR (time = $8 AND seq < $9)) AND seq > $11 ORDER BY seq"
        } else {
            "($8::bigint IS NULL OR time < $8 OR (time = $8 AND seq < $9)) AND $11::bigint IS NULL ORDER BY time DESC, seq DESC"
        };
        let rows = self
            .read(
                &format!(
                    "SELECT {AUDIT_COLS} FROM audit_events
                     WHERE ($1::text IS NULL OR project_id = $1) AND ($2::text IS NULL OR environment = $2)
                       AND ($3::text IS NULL OR actor_id = $3 OR actor_name = $3) AND ($4::text IS NULL OR action = $4)
                       AND ($5::text IS NULL OR keys ILIKE $5) AND ($6::bigint IS NULL OR time >= $6)
                       AND ($7::bigint IS NULL OR time <= $7)
                       AND {place} LIMIT $10"
                ),
                &[
                    &filter.project_id,
                    &filter.environment,
                    &filter.actor,
                    &filter.action,
                    &key_pattern,
                    &filter.since,
                    &filter.until,
                    &filter.before.map(|c| c.time),
                    &filter.before.map(|c| c.seq),
                    &filter.limit,
                    &filter.after_seq,
                ],
            )
            .await?;
        map_rows(rows, audit)
    }

    async fn audit_range(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {AUDIT_COLS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
                ),
                &[&after_seq, &limit],
            )
            .await?;
        map_rows(rows, audit)
    }

    async fn audit_archive_mark(&self) -> StoreResult<Option<ArchiveMark>> {
        let rows = self
            .read(
                "SELECT seq, hash, epoch, mac FROM audit_archive_mark WHERE id = 1",
                &[],
            )
            .await?;
        first(rows, |r| {
            Ok(ArchiveMark {
                seq: r.try_get(0)?,
                hash: r.try_get(1)?,
                epoch: r.try_get(2)?,
                mac: r.try_get(3)?,
            })
        })
    }

    async fn remove_archived(&self, mark: ArchiveMark) -> StoreResult<()> {
        in_tx!(self, |tx| {
            tx_exec(tx, "DELETE FROM audit_events WHERE seq <= $1", &[&mark.seq]).await?;
            tx_exec(
            tx,
            "INSERT INTO audit_archive_mark (id, seq, hash, epoch, mac) VALUES (1, $1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,
               epoch = excluded.epoch, mac = excluded.mac",
            &[&mark.seq, &mark.hash, &mark.epoch, &mark.mac],
        )
        .await?;
            Ok(())
        })
    }

    async fn audit_head(&self) -> StoreResult<Option<(i64, Vec<u8>)>> {
        let rows = self
            .read(
                "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
                &[],
            )
            .await?;
        first(rows, |r| Ok((r.try_get(0)?, r.try_get(1)?)))
    }

    async fn audit_chain(&self) -> StoreResult<Vec<AuditRow>> {
        let rows = self
            .read(
                &format!("SELECT {AUDIT_COLS} FROM audit_events ORDER BY seq"),
                &[],
            )
            .await?;
        map_rows(rows, audit)
    }

    async fn changes_after(
        &self,
        project_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {AUDIT_COLS} FROM audit_events
                     WHERE seq > $1 AND project_id = $2 AND result = 'success'
                       AND action IN ({})
                     ORDER BY seq LIMIT $3",
                    change_actions_sql()
                ),
                &[&after_seq, &project_id, &limit],
            )
            .await?;
        map_rows(rows, audit)
    }

    async fn last_seq(&self) -> StoreResult<i64> {
        let rows = self
            .read(
                "SELECT COALESCE(MAX(seq), 0)::bigint FROM audit_events",
                &[],
            )
            .await?;
        Ok(first(rows, |r| r.try_get(0))?.unwrap_or(0))
    }

    fn change_signal(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn write_generation(&self) -> Option<u64> {
        None
    }

    fn audit_streams(&self) -> &dyn AuditStreamStore {
        self
    }

    fn identity_auth_methods(&self) -> &dyn IdentityAuthStore {
        self
    }

    fn rotations(&self) -> &dyn RotationStore {
        self
    }

    fn dynamic(&self) -> &dyn DynamicStore {
        self
    }

    fn webhooks(&self) -> &dyn crate::store::WebhookStore {
        self
    }

    fn kms(&self) -> &dyn crate::store::KmsStore {
        self
    }

    fn rekey(&self) -> &dyn crate::store::RekeyStore {
        self
    }
}
