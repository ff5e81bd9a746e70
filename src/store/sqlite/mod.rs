//! SQLite backend (the embedded default).
//!
//! One writer thread owns the only write connection and commits in groups
//! (`group_commit`): it takes every write waiting in its queue, runs each in
//! its own savepoint, and commits them with one fsync. Reads that must be
//! audited (fail-closed) therefore cost one shared commit, not one each.
//! Readers use a small pool of connections (WAL mode lets them run beside the
//! writer).
//!
//! Durability: WAL. A commit with a write of data is fsynced
//! (`synchronous=FULL`): an acknowledged write survives both a killed process
//! and a power loss. Audit events of reads (and logins, denials) skip the
//! group commit: they are appended to a journal file before the read is
//! answered and moved into the chain, fsynced, by the writer once per audit
//! flush interval (`audit_journal`). With an interval of zero there is no
//! journal: each such event is a job of the group commit, fsynced.

mod accounts;
pub(super) mod audit_chain;
#[cfg(test)]
mod audit_chain_tests;
pub(super) mod audit_journal;
pub(super) mod chain;
mod connect;
mod dynamic;
mod folders;
mod group_commit;
mod identity_auth;
mod kms;
pub mod memo;
mod projects;
mod rekey;
mod replay;
mod rotations;
mod rows;
mod secrets;
mod streams;
#[cfg(test)]
pub(super) mod tests;
pub mod wal_checkpointer;
mod webhooks;

use super::audit_flush::AuditOptions;
use super::audit_upgrade;
use super::*;
use accounts::*;
use audit_chain as sqlite_audit;
use audit_chain::insert_audit;
use audit_journal::AuditJournal;
pub(crate) use chain::backend;
use chain::{ChainHead, PreparedAudit};
#[cfg(test)]
pub(crate) use connect::MIGRATIONS;
use connect::{migrate, open_connection};
use group_commit::{chain_transaction, GroupCommit, Job, JobKind};
use memo::Memo;
use projects::*;
use replay::{journal_error, replay_journal};
use rows::*;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};
use secrets::*;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use wal_checkpointer::{Checkpointer, WRITER_BACKSTOP_PAGES};

const MAX_IDLE_READERS: usize = 8;
/// How often the checkpointer folds the WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// The lookups every authenticated read repeats (see `memo`).
#[derive(Default)]
struct Memos {
    tokens: Memo<Vec<u8>, Option<TokenRow>>,
    users: Memo<String, Option<UserRow>>,
    identities: Memo<String, Option<IdentityRow>>,
    projects: Memo<String, Option<ProjectRow>>,
    memberships: Memo<(String, String), Option<MembershipRow>>,
    environments: Memo<String, Vec<EnvRow>>,
    secrets: Memo<(String, String, bool), Vec<SecretRow>>,
    personal: Memo<String, Vec<PersonalRow>>,
}

pub struct SqliteStore {
    group: GroupCommit,
    /// Counts commits that changed data: ticks change-feed waiters, and is the
    /// generation memo entries are stamped with.
    changes: Arc<watch::Sender<u64>>,
    memo: Memos,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    checkpointer: Mutex<Option<Checkpointer>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: Arc<Path>,
    /// Where read-audit events go when they need not be fsynced one by one.
    journal: Option<Arc<AuditJournal>>,
}

impl SqliteStore {
    /// Opens (creating and migrating) the database file. Read-audit events
    /// are journaled and fsynced at least every `audit.flush_interval` (see
    /// `audit_journal`); zero commits and fsyncs each before its answer.
    pub fn open(path: &Path, audit: AuditOptions) -> StoreResult<Self> {
        let conn = open_connection(path).map_err(backend)?;
        migrate(&conn)?;
        let key = Arc::new(audit.key);
        let journal_dir = AuditJournal::dir_for(path);
        let legacy_files =
            audit_upgrade::sqlite::upgrade(&conn, &key, &journal_dir, crate::time_ids::now_ms())?;
        for file in legacy_files {
            std::fs::remove_file(&file).map_err(|e| journal_error(&file, e))?;
        }
        let mut head = sqlite_audit::chain_end(&conn, key.clone()).map_err(backend)?;
        // Files a killed or crashed server journaled but did not move into
        // the chain: replayed even when this run does not journal.
        if journal_dir.exists() {
            replay_journal(&conn, &mut head, &journal_dir)?;
        }
        let journal = if audit.flush_interval.is_zero() {
            None
        } else {
            let after = sqlite_audit::committed_journal(&conn).map_err(backend)?;
            let journal = AuditJournal::open(&journal_dir, after, (*key).clone(), audit.loss_bound)
                .map_err(|e| journal_error(&journal_dir, e))?;
            Some(Arc::new(journal))
        };
        conn.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint={WRITER_BACKSTOP_PAGES}"
        ))
        .map_err(backend)?;
        let checkpointer =
            Checkpointer::start(open_connection(path).map_err(backend)?, CHECKPOINT_EVERY)
                .map_err(backend)?;
        let changes = Arc::new(watch::Sender::new(0u64));
        let (group, writer) = GroupCommit::start(
            conn,
            head,
            journal.clone().map(|j| (j, audit.flush_interval)),
            changes.clone(),
        )
        .map_err(backend)?;
        Ok(Self {
            group,
            changes,
            memo: Memos::default(),
            writer: Mutex::new(Some(writer)),
            checkpointer: Mutex::new(Some(checkpointer)),
            readers: Arc::new(Mutex::new(Vec::new())),
            path: Arc::from(path),
            journal,
        })
    }

    /// Appends a read's event: to the journal, or (without one) in its own
    /// group commit. Returns once the event is durable.
    async fn append_prepared(&self, audit: PreparedAudit) -> StoreResult<()> {
        if let Some(journal) = &self.journal {
            return journal.append(audit);
        }
        // The event comes back to be freed here, not on the writer thread
        // (freeing another thread's allocations is costly there).
        self.enqueue(JobKind::AuditAppend, move |c, head| {
            audit.insert(c, head).map(|()| audit)
        })
        .await
        .map(drop)
    }

    /// Returns once every journaled event is in the chain, so a query of the
    /// audit log sees every read answered before it.
    async fn settle_journal(&self) -> StoreResult<()> {
        if self.journal.is_none() {
            return Ok(());
        }
        self.enqueue(JobKind::SettleJournal, |_, _| Ok(())).await
    }

    /// Runs `f` inside the writer's current group transaction, in its own savepoint.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &mut ChainHead) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.enqueue(JobKind::Write, f).await
    }

    async fn enqueue<T: Send + 'static>(
        &self,
        kind: JobKind,
        f: impl FnOnce(&Connection, &mut ChainHead) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (job, outcome) = Job::new(kind, f);
        self.group.submit(job)?;
        outcome
            .await
            .map_err(|_| StoreError::Backend("writer thread dropped a write".into()))?
    }

    /// `read`, answered from `memo` while no write has committed since (and
    /// within the memo's TTL).
    async fn memoized<K: Eq + std::hash::Hash, V: Clone + Send + 'static>(
        &self,
        memo: &Memo<K, V>,
        key: K,
        f: impl FnOnce(&Connection) -> rusqlite::Result<V> + Send + 'static,
    ) -> StoreResult<V> {
        // Read before the database, so a racing write leaves this entry stale.
        let generation = *self.changes.borrow();
        if let Some(v) = memo.get(&key, generation) {
            return Ok(v);
        }
        let v = self.read(f).await?;
        memo.put(key, generation, v.clone());
        Ok(v)
    }

    /// Runs a read on a pooled connection, on the calling task. Handing each
    /// read to tokio's blocking pool was tried: with as many reads in flight
    /// as requests, the pool of connections ran dry and reads opened new
    /// ones, and writes (whose requests read past the memo) fell far behind.
    /// Point and list reads take microseconds; the audit log's scans, which
    /// grow with the log, go through [`SqliteStore::scan`] instead.
    pub(super) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        read_pooled(&self.readers, &self.path, f)
    }

    /// Runs a read that may touch every row of a table (the audit chain, an
    /// audit search or export) on tokio's blocking pool, so it never holds a
    /// worker that other requests are waiting for. These reads are admin-
    /// only and few, so they cannot drain the connection pool.
    pub(super) async fn scan<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let readers = Arc::clone(&self.readers);
        let path = Arc::clone(&self.path);
        tokio::task::spawn_blocking(move || read_pooled(&readers, &path, f))
            .await
            .map_err(backend)?
    }
}

/// `f` on an idle pooled connection (or a new one), which then goes back to
/// the pool.
fn read_pooled<T>(
    readers: &Mutex<Vec<Connection>>,
    path: &Path,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> StoreResult<T> {
    let conn = readers.lock().map_err(backend)?.pop();
    let conn = match conn {
        Some(c) => c,
        None => open_connection(path).map_err(backend)?,
    };
    let result = f(&conn).map_err(backend);
    if let Ok(mut idle) = readers.lock() {
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }
    result
}

fn map_unique(e: rusqlite::Error, what: String) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Duplicate(what)
        }
        _ => backend(e),
    }
}

/// Every row of a cached statement, mapped by `f`.
fn query_vec<T>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnMut(&Row) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt.query_map(params, f)?;
    rows.collect()
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    async fn close(&self) {
        // First, so the writer's last checkpoint (TRUNCATE) does not find it busy.
        let checkpointer = self.checkpointer.lock().ok().and_then(|mut c| c.take());
        if let Some(mut checkpointer) = checkpointer {
            let _ = tokio::task::spawn_blocking(move || checkpointer.stop()).await;
        }
        self.group.stop();
        let handle = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
        if let Ok(mut readers) = self.readers.lock() {
            readers.clear();
        }
    }

    async fn meta_get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let key = key.to_owned();
        self.read(move |c| {
            c.query_row("SELECT v FROM meta WHERE k = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()
        })
        .await
    }

    async fn meta_init(&self, key: &str, value: Vec<u8>) -> StoreResult<Vec<u8>> {
        let key = key.to_owned();
        self.write(move |c, _| {
            c.execute(
                "INSERT OR IGNORE INTO meta (k, v) VALUES (?1, ?2)",
                params![key, value],
            )
            .map_err(backend)?;
            c.query_row("SELECT v FROM meta WHERE k = ?1", params![key], |r| {
                r.get(0)
            })
            .map_err(backend)
        })
        .await
    }

    async fn bootstrap(&self, data: Bootstrap) -> StoreResult<()> {
        self.write(move |c, head| {
            let users: i64 = c
                .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
                .map_err(backend)?;
            if users > 0 {
                return Err(StoreError::AlreadyBootstrapped);
            }
            insert_user_row(c, &data.user)?;
            insert_project(c, head, &data.project)?;
            insert_token_row(c, &data.token)
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRow>> {
        let email = email.to_owned();
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE email = ?1"),
                params![email],
                user_from_row,
            )
            .optional()
        })
        .await
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRow>> {
        let id = id.to_owned();
        self.memoized(&self.memo.users, id.clone(), move |c| {
            c.query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
                params![id],
                user_from_row,
            )
            .optional()
        })
        .await
    }

    async fn insert_token(&self, token: TokenRow, audit: AuditEvent) -> StoreResult<()> {
        self.write(move |c, head| {
            insert_token_row(c, &token)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn token_by_hash(&self, hash: &[u8]) -> StoreResult<Option<TokenRow>> {
        let hash = hash.to_vec();
        self.memoized(&self.memo.tokens, hash.clone(), move |c| {
            c.prepare_cached(&format!(
                "SELECT {TOKEN_COLS} FROM tokens WHERE token_hash = ?1"
            ))?
            .query_row(params![hash], token_from_row)
            .optional()
        })
        .await
    }

    async fn revoke_token(&self, id: &str, now: i64, audit: AuditEvent) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |c, head| {
            let n = c
                .execute(
                    "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, now],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound("token"));
            }
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn create_project(&self, data: NewProject) -> StoreResult<()> {
        self.write(move |c, head| insert_project(c, head, &data))
            .await
    }

    async fn projects(&self) -> StoreResult<Vec<ProjectRow>> {
        self.read(|c| {
            query_vec(c, "SELECT id, slug, name, max_versions, created_at, recovery_window_ms FROM projects ORDER BY created_at, slug", [], project_from_row)
        })
        .await
    }

    async fn project(&self, id_or_slug: &str) -> StoreResult<Option<ProjectRow>> {
        let key = id_or_slug.to_owned();
        self.memoized(&self.memo.projects, key.clone(), move |c| {
            c.prepare_cached(
                "SELECT id, slug, name, max_versions, created_at, recovery_window_ms FROM projects WHERE id = ?1 OR slug = ?1
                 ORDER BY (id = ?1) DESC LIMIT 1",
            )?
            .query_row(params![key], project_from_row)
            .optional()
        })
        .await
    }

    async fn membership(
        &self,
        project_id: &str,
        subject_id: &str,
    ) -> StoreResult<Option<MembershipRow>> {
        let (p, s) = (project_id.to_owned(), subject_id.to_owned());
        self.memoized(&self.memo.memberships, (p.clone(), s.clone()), move |c| {
            c.prepare_cached("SELECT project_id, subject_id, role, overrides FROM memberships WHERE project_id = ?1 AND subject_id = ?2")?
                .query_row(params![p, s], membership_from_row)
                .optional()
        })
        .await
    }

    async fn memberships(&self, project_id: &str) -> StoreResult<Vec<MembershipRow>> {
        let p = project_id.to_owned();
        self.read(move |c| {
            query_vec(c, "SELECT project_id, subject_id, role, overrides FROM memberships WHERE project_id = ?1 ORDER BY subject_id", params![p], membership_from_row)
        })
        .await
    }

    async fn put_membership(&self, m: MembershipRow, audit: AuditEvent) -> StoreResult<()> {
        self.write(move |c, head| {
            accounts::upsert_membership(c, &m)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn remove_membership(
        &self,
        project_id: &str,
        subject_id: &str,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let (p, s) = (project_id.to_owned(), subject_id.to_owned());
        self.write(move |c, head| {
            let n = c
                .execute(
                    "DELETE FROM memberships WHERE project_id = ?1 AND subject_id = ?2",
                    params![p, s],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound("membership"));
            }
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn create_user(
        &self,
        user: UserRow,
        invite_hash: Vec<u8>,
        invite_expires_at: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.write(move |c, head| {
            insert_user_row(c, &user)?;
            c.execute(
                "INSERT INTO invites (token_hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
                params![invite_hash, user.id, invite_expires_at],
            )
            .map_err(backend)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn create_user_with_membership(
        &self,
        user: UserRow,
        membership: MembershipRow,
        user_audit: AuditEvent,
        member_audit: AuditEvent,
    ) -> StoreResult<()> {
        self.write(move |c, head| {
            insert_user_row(c, &user)?;
            insert_audit(c, head, &user_audit)?;
            accounts::require_project(c, &membership.project_id)?;
            accounts::upsert_membership(c, &membership)?;
            insert_audit(c, head, &member_audit)
        })
        .await
    }

    async fn users(&self) -> StoreResult<Vec<UserRow>> {
        self.read(|c| {
            query_vec(
                c,
                &format!("SELECT {USER_COLS} FROM users ORDER BY email"),
                [],
                user_from_row,
            )
        })
        .await
    }

    async fn redeem_password_token(
        &self,
        kind: &'static str,
        token_hash: Vec<u8>,
        password_hash: String,
        now: i64,
        mut audit: AuditEvent,
    ) -> StoreResult<UserRow> {
        self.write(move |c, head| {
            let user = accounts::redeem_password_token(c, kind, &token_hash, &password_hash, now)?;
            audit.actor_id = user.id.clone();
            audit.actor_name = user.email.clone();
            insert_audit(c, head, &audit)?;
            Ok(user)
        })
        .await
    }

    async fn create_password_reset(
        &self,
        user_id: &str,
        token_hash: Vec<u8>,
        expires_at: i64,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let user_id = user_id.to_owned();
        self.write(move |c, head| {
            accounts::create_password_reset(c, &user_id, &token_hash, expires_at, now)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: String,
        keep_token: Option<String>,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let user_id = user_id.to_owned();
        self.write(move |c, head| {
            accounts::set_password(c, &user_id, &password_hash, keep_token.as_deref(), now)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn change_user(
        &self,
        user_id: &str,
        change: UserChange,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<UserRow> {
        let user_id = user_id.to_owned();
        // The one writer runs this whole closure alone: the admin count it
        // reads cannot change before the update.
        self.write(move |c, head| {
            let user = accounts::change_user(c, &user_id, change, now)?;
            insert_audit(c, head, &audit)?;
            Ok(user)
        })
        .await
    }

    async fn create_identity(
        &self,
        identity: IdentityRow,
        secret: IdentitySecretRow,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.write(move |c, head| {
            let i = &identity;
            c.execute(
                &format!("INSERT INTO identities ({IDENTITY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![i.id, i.name, i.access_token_ttl, i.access_token_max_ttl, i.num_uses_limit, i.trusted_ips, i.created_by, i.created_at],
            )
            .map_err(|e| map_unique(e, format!("identity {:?}", i.name)))?;
            insert_identity_secret(c, &secret)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn identity(&self, id_or_name: &str) -> StoreResult<Option<IdentityRow>> {
        let key = id_or_name.to_owned();
        self.memoized(&self.memo.identities, key.clone(), move |c| {
            c.prepare_cached(&format!(
                "SELECT {IDENTITY_COLS} FROM identities WHERE id = ?1 OR name = ?1"
            ))?
            .query_row(params![key], identity_from_row)
            .optional()
        })
        .await
    }

    async fn identities(&self) -> StoreResult<Vec<IdentityRow>> {
        self.read(|c| {
            query_vec(
                c,
                &format!("SELECT {IDENTITY_COLS} FROM identities ORDER BY name"),
                [],
                identity_from_row,
            )
        })
        .await
    }

    async fn add_identity_secret(
        &self,
        secret: IdentitySecretRow,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.write(move |c, head| {
            insert_identity_secret(c, &secret)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn identity_secrets(&self, identity_id: &str) -> StoreResult<Vec<IdentitySecretRow>> {
        let id = identity_id.to_owned();
        self.read(move |c| {
            query_vec(c, &format!(
                "SELECT {IDENTITY_SECRET_COLS} FROM identity_secrets WHERE identity_id = ?1 ORDER BY created_at"
            ), params![id], identity_secret_from_row)
        })
        .await
    }

    async fn identity_secret_by_hash(&self, hash: &[u8]) -> StoreResult<Option<IdentitySecretRow>> {
        let hash = hash.to_vec();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {IDENTITY_SECRET_COLS} FROM identity_secrets WHERE secret_hash = ?1"
            ))?
            .query_row(params![hash], identity_secret_from_row)
            .optional()
        })
        .await
    }

    async fn revoke_identity_secret(
        &self,
        identity_id: &str,
        secret_id: &str,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let (i, s) = (identity_id.to_owned(), secret_id.to_owned());
        self.write(move |c, head| {
            accounts::revoke_identity_secret(c, &i, &s, now)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn delete_identity(
        &self,
        identity_id: &str,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let id = identity_id.to_owned();
        self.write(move |c, head| {
            accounts::delete_identity(c, &id, now)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn subject_tokens(&self, subject_id: &str) -> StoreResult<Vec<TokenRow>> {
        let id = subject_id.to_owned();
        self.read(move |c| {
            query_vec(
                c,
                &format!(
                    "SELECT {TOKEN_COLS} FROM tokens WHERE subject_id = ?1 ORDER BY created_at, id"
                ),
                params![id],
                token_from_row,
            )
        })
        .await
    }

    async fn token_by_id(&self, id: &str) -> StoreResult<Option<TokenRow>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {TOKEN_COLS} FROM tokens WHERE id = ?1"))?
                .query_row(params![id], token_from_row)
                .optional()
        })
        .await
    }

    async fn project_tokens(&self, project_id: &str) -> StoreResult<Vec<TokenRow>> {
        let p = project_id.to_owned();
        self.read(move |c| {
            query_vec(c, &format!(
                "SELECT {TOKEN_COLS} FROM tokens WHERE project_id = ?1 AND kind = 'service' ORDER BY created_at"
            ), params![p], token_from_row)
        })
        .await
    }

    async fn use_token(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(move |c, _| {
            let n = c
                .execute(
                    "UPDATE tokens SET uses = uses + 1 WHERE id = ?1 AND (uses_limit IS NULL OR uses < uses_limit)",
                    params![id],
                )
                .map_err(backend)?;
            Ok(n == 1)
        })
        .await
    }

    async fn renew_token(&self, id: &str, expires_at: i64, audit: AuditEvent) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |c, head| {
            let n = c
                .execute(
                    "UPDATE tokens SET expires_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, expires_at],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound("token"));
            }
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn record_login_attempt(
        &self,
        account: &str,
        ip: &str,
        at: i64,
        since: i64,
    ) -> StoreResult<LoginAttempt> {
        let (a, i) = (account.to_owned(), ip.to_owned());
        // One writer job: the insert and the counts are one atomic step.
        self.write(move |c, _| {
            // Old rows only matter inside the lockout window; keep the table small.
            c.execute(
                "DELETE FROM login_failures WHERE at < ?1",
                params![at - 24 * 3600 * 1000],
            )
            .map_err(backend)?;
            c.execute(
                "INSERT INTO login_failures (account, ip, at) VALUES (?1, ?2, ?3)",
                params![a, i, at],
            )
            .map_err(backend)?;
            let id = c.last_insert_rowid();
            let count = |sql: &str, key: &str| -> StoreResult<i64> {
                c.query_row(sql, params![key, since], |r| r.get(0))
                    .map_err(backend)
            };
            Ok(LoginAttempt {
                id,
                by_account: count(
                    "SELECT COUNT(*) FROM login_failures WHERE account = ?1 AND at >= ?2",
                    &a,
                )?,
                by_ip: count(
                    "SELECT COUNT(*) FROM login_failures WHERE ip = ?1 AND at >= ?2",
                    &i,
                )?,
            })
        })
        .await
    }

    async fn forget_login_attempt(&self, id: i64) -> StoreResult<()> {
        self.write(move |c, _| {
            c.execute("DELETE FROM login_failures WHERE id = ?1", params![id])
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn is_bootstrapped(&self) -> StoreResult<bool> {
        self.read(|c| c.query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0)))
            .await
    }

    async fn password_token_pending(
        &self,
        kind: &'static str,
        token_hash: Vec<u8>,
        now: i64,
    ) -> StoreResult<bool> {
        self.read(move |c| {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM invites WHERE token_hash = ?1 AND kind = ?2
                 AND used_at IS NULL AND expires_at > ?3)",
                params![token_hash, kind, now],
                |r| r.get(0),
            )
        })
        .await
    }

    async fn environments(&self, project_id: &str) -> StoreResult<Vec<EnvRow>> {
        let p = project_id.to_owned();
        self.memoized(&self.memo.environments, p.clone(), move |c| {
            query_vec(c, "SELECT id, project_id, slug, name, protected, position, created_at FROM environments
                 WHERE project_id = ?1 ORDER BY position, slug", params![p], env_from_row)
        })
        .await
    }

    async fn create_environment(&self, env: EnvRow, audit: AuditEvent) -> StoreResult<()> {
        self.write(move |c, head| {
            insert_env(c, &env)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn update_project_settings(
        &self,
        project_id: &str,
        change: ProjectSettingsChange,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let id = project_id.to_owned();
        self.write(move |c, head| {
            projects::update_project_settings(c, &id, &change)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn rename_environment(
        &self,
        env_id: &str,
        name: &str,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let (id, name) = (env_id.to_owned(), name.to_owned());
        self.write(move |c, head| {
            projects::rename_environment(c, &id, &name)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn folders(&self, env_id: &str) -> StoreResult<Vec<FolderRow>> {
        let e = env_id.to_owned();
        self.read(move |c| {
            query_vec(c, "SELECT id, project_id, env_id, path, created_at FROM folders WHERE env_id = ?1 ORDER BY path", params![e], |r| {
                Ok(FolderRow {
                    id: r.get(0)?,
                    project_id: r.get(1)?,
                    env_id: r.get(2)?,
                    path: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })
        })
        .await
    }

    async fn create_folder(&self, folder: FolderRow, audit: AuditEvent) -> StoreResult<()> {
        self.write(move |c, head| {
            c.execute(
                "INSERT INTO folders (id, project_id, env_id, path, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![folder.id, folder.project_id, folder.env_id, folder.path, folder.created_at],
            )
            .map_err(|e| map_unique(e, format!("folder {:?}", folder.path)))?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn delete_folder(
        &self,
        del: DeleteFolder,
        audit: AuditEvent,
    ) -> StoreResult<Vec<String>> {
        self.write(move |c, head| {
            let mut audit = audit;
            audit.keys = folders::delete_folder(c, &del)?;
            insert_audit(c, head, &audit)?;
            Ok(audit.keys)
        })
        .await
    }

    async fn data_keys(&self, project_id: &str) -> StoreResult<Vec<DataKeyRow>> {
        let p = project_id.to_owned();
        self.read(move |c| {
            query_vec(c, "SELECT project_id, key_id, wrapped, enc_count, created_at, generation, retired_at FROM data_keys WHERE project_id = ?1 ORDER BY key_id", params![p], data_key_from_row)
        })
        .await
    }

    async fn all_data_keys(&self) -> StoreResult<Vec<DataKeyRow>> {
        self.read(|c| {
            query_vec(c, "SELECT project_id, key_id, wrapped, enc_count, created_at, generation, retired_at FROM data_keys ORDER BY project_id, key_id", [], data_key_from_row)
        })
        .await
    }

    async fn add_data_key(&self, key: DataKeyRow) -> StoreResult<()> {
        self.write(move |c, _| insert_data_key(c, &key)).await
    }

    async fn rewrap_data_keys(
        &self,
        keys: Vec<DataKeyRow>,
        generations: Vec<crate::store::rekey::GenerationRow>,
        key_check: Vec<u8>,
        audit_epochs: Vec<(i64, Vec<u8>)>,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.write(move |c, head| {
            c.execute("DELETE FROM audit_key_epochs", [])
                .map_err(backend)?;
            for (epoch, sealed) in &audit_epochs {
                c.execute(
                    "INSERT INTO audit_key_epochs (epoch, sealed) VALUES (?1, ?2)",
                    params![epoch, sealed],
                )
                .map_err(backend)?;
            }
            for k in &keys {
                let n = c
                    .execute(
                        "UPDATE data_keys SET wrapped = ?3 WHERE project_id = ?1 AND key_id = ?2",
                        params![k.project_id, k.key_id, k.wrapped],
                    )
                    .map_err(backend)?;
                if n != 1 {
                    return Err(StoreError::NotFound("data key"));
                }
            }
            for g in &generations {
                c.execute(
                    "UPDATE root_generations SET wrapped = ?2, provider = ?3 WHERE generation = ?1",
                    params![g.generation, g.wrapped, g.provider],
                )
                .map_err(backend)?;
            }
            c.execute(
                "INSERT INTO meta (k, v) VALUES ('key_check', ?1) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
                params![key_check],
            )
            .map_err(backend)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn audit_key_epochs(&self) -> StoreResult<Vec<(i64, Vec<u8>)>> {
        self.read(|c| {
            let mut stmt =
                c.prepare("SELECT epoch, sealed FROM audit_key_epochs ORDER BY epoch")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .await
    }

    async fn live_secret_counts(&self, env_id: &str, path: &str) -> StoreResult<(i64, i64)> {
        let (e, p) = (env_id.to_owned(), path.to_owned());
        self.read(move |c| {
            c.prepare_cached(LIVE_SECRET_COUNTS)?
                .query_row(params![e, p], |r| Ok((r.get(0)?, r.get(1)?)))
        })
        .await
    }

    async fn secret_head(
        &self,
        env_id: &str,
        path: &str,
        key: &str,
    ) -> StoreResult<Option<SecretHead>> {
        let (e, p, k) = (env_id.to_owned(), path.to_owned(), key.to_owned());
        self.read(move |c| secrets::head(c, &e, &p, &k)).await
    }

    async fn secret(
        &self,
        env_id: &str,
        path: &str,
        key: &str,
        version: Option<i64>,
    ) -> StoreResult<Option<SecretRow>> {
        let (e, p, k) = (env_id.to_owned(), path.to_owned(), key.to_owned());
        self.read(move |c| secrets::live_version(c, &e, &p, &k, version))
            .await
    }

    async fn secrets(
        &self,
        env_id: &str,
        path: &str,
        recursive: bool,
    ) -> StoreResult<Vec<SecretRow>> {
        let (e, p) = (env_id.to_owned(), path.to_owned());
        // Descendants of "/x" are "/x/..."; of the root, everything.
        let prefix = if p == "/" {
            "/".to_owned()
        } else {
            format!("{p}/")
        };
        let memo_key = (e.clone(), p.clone(), recursive);
        self.memoized(&self.memo.secrets, memo_key, move |c| {
            query_vec(
                c,
                &format!(
                    "SELECT {HEAD_COLS}, {VERSION_COLS} FROM secrets s JOIN secret_versions v
                 ON v.secret_id = s.id AND v.version = s.current_version
                 WHERE s.env_id = ?1 AND s.deleted_at IS NULL
                   AND (s.path = ?2 OR (?3 AND substr(s.path, 1, length(?4)) = ?4))
                 ORDER BY s.path, s.key"
                ),
                params![e, p, recursive, prefix],
                secret_from_row,
            )
        })
        .await
    }

    async fn deleted_secrets(&self, env_id: &str, path: &str) -> StoreResult<Vec<SecretRow>> {
        let (e, p) = (env_id.to_owned(), path.to_owned());
        self.read(move |c| secrets::deleted(c, &e, &p)).await
    }

    async fn history(&self, secret_id: &str) -> StoreResult<Vec<VersionRow>> {
        let id = secret_id.to_owned();
        self.read(move |c| secrets::history(c, &id)).await
    }

    async fn put_version(&self, put: PutVersion, audit: AuditEvent) -> StoreResult<i64> {
        self.write(move |c, head| put_one(c, head, &put, &audit))
            .await
    }

    async fn put_versions(&self, puts: Vec<(PutVersion, AuditEvent)>) -> StoreResult<Vec<i64>> {
        // `write` runs the closure in one savepoint: the first error rolls back
        // every item written before it.
        self.write(move |c, head| {
            puts.iter()
                .map(|(put, audit)| put_one(c, head, put, audit))
                .collect()
        })
        .await
    }

    async fn soft_delete(
        &self,
        secret_id: &str,
        now: i64,
        purge_after: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let id = secret_id.to_owned();
        self.write(move |c, head| {
            let n = c
                .execute(
                    "UPDATE secrets SET deleted_at = ?2, purge_after = ?3 WHERE id = ?1 AND deleted_at IS NULL",
                    params![id, now, purge_after],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound("secret"));
            }
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn restore(&self, secret_id: &str, _now: i64, audit: AuditEvent) -> StoreResult<()> {
        let id = secret_id.to_owned();
        self.write(move |c, head| {
            let n = c
                .execute(
                    "UPDATE secrets SET deleted_at = NULL, purge_after = NULL WHERE id = ?1 AND deleted_at IS NOT NULL",
                    params![id],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound("deleted secret"));
            }
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn purge(&self, secret_id: &str, audit: AuditEvent) -> StoreResult<()> {
        let id = secret_id.to_owned();
        self.write(move |c, head| {
            head_by_id(c, &id)?;
            purge_secret(c, &id)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn purge_expired(&self, now: i64, audit_for: AuditFor) -> StoreResult<usize> {
        self.write(move |c, head| {
            let expired = secrets::expired(c, now)?;
            for secret in &expired {
                purge_secret(c, &secret.secret_id)?;
                insert_audit(c, head, &audit_for(secret))?;
            }
            Ok(expired.len())
        })
        .await
    }

    async fn imports(&self, env_id: &str, path: &str) -> StoreResult<Vec<ImportRow>> {
        let (e, p) = (env_id.to_owned(), path.to_owned());
        self.read(move |c| {
            query_vec(c, "SELECT id, project_id, env_id, path, import_env_id, import_path, position, created_at
                 FROM secret_imports WHERE env_id = ?1 AND path = ?2 ORDER BY position", params![e, p], |r| {
                Ok(ImportRow {
                    id: r.get(0)?,
                    project_id: r.get(1)?,
                    env_id: r.get(2)?,
                    path: r.get(3)?,
                    import_env_id: r.get(4)?,
                    import_path: r.get(5)?,
                    position: r.get(6)?,
                    created_at: r.get(7)?,
                })
            })
        })
        .await
    }

    async fn create_import(&self, i: ImportRow, audit: AuditEvent) -> StoreResult<()> {
        self.write(move |c, head| {
            c.execute(
                "INSERT INTO secret_imports (id, project_id, env_id, path, import_env_id, import_path, position, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT COALESCE(MAX(position), 0) + 1 FROM secret_imports WHERE env_id = ?3 AND path = ?4), ?7)",
                params![i.id, i.project_id, i.env_id, i.path, i.import_env_id, i.import_path, i.created_at],
            )
            .map_err(|e| map_unique(e, "this import".into()))?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn delete_import(&self, id: &str, audit: AuditEvent) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |c, head| {
            if c.execute("DELETE FROM secret_imports WHERE id = ?1", params![id])
                .map_err(backend)?
                == 0
            {
                return Err(StoreError::NotFound("import"));
            }
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn personal_secrets(
        &self,
        owner_id: &str,
        secret_ids: Vec<String>,
    ) -> StoreResult<Vec<PersonalRow>> {
        let owner = owner_id.to_owned();
        // One query for all of the owner's overrides (a user has few), filtered
        // here: a query per listed secret made every list 50 queries longer.
        let all = self
            .memoized(&self.memo.personal, owner.clone(), move |c| {
                query_vec(c, "SELECT id, secret_id, owner_id, version, key_id, value_ct, created_at, updated_at
                     FROM personal_secrets WHERE owner_id = ?1", params![owner], |r| {
                    Ok(PersonalRow {
                        id: r.get(0)?,
                        secret_id: r.get(1)?,
                        owner_id: r.get(2)?,
                        version: r.get(3)?,
                        key_id: r.get(4)?,
                        value_ct: r.get(5)?,
                        created_at: r.get(6)?,
                        updated_at: r.get(7)?,
                    })
                })
            })
            .await?;
        if all.is_empty() {
            return Ok(all);
        }
        let wanted: std::collections::HashSet<String> = secret_ids.into_iter().collect();
        Ok(all
            .into_iter()
            .filter(|row| wanted.contains(&row.secret_id))
            .collect())
    }

    async fn put_personal(
        &self,
        row: PersonalRow,
        expected_version: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.write(move |c, head| {
            secrets::put_personal(c, &row, expected_version)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn delete_personal(
        &self,
        secret_id: &str,
        owner_id: &str,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let (s, o) = (secret_id.to_owned(), owner_id.to_owned());
        self.write(move |c, head| {
            if c.execute(
                "DELETE FROM personal_secrets WHERE secret_id = ?1 AND owner_id = ?2",
                params![s, o],
            )
            .map_err(backend)?
                == 0
            {
                return Err(StoreError::NotFound("personal secret"));
            }
            insert_audit(c, head, &audit)
        })
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
        let (id, new_key) = (secret_id.to_owned(), new_key.to_owned());
        self.write(move |c, head| {
            let count = secrets::rename_secret(c, &id, &new_key, &resealed, &next)?;
            insert_audit(c, head, &audit)?;
            Ok(count)
        })
        .await
    }

    async fn append_audit(&self, event: AuditEvent) -> StoreResult<()> {
        self.append_prepared(PreparedAudit::new(event)?).await
    }

    fn audit_behind(&self) -> Option<String> {
        let behind = self.journal.as_ref()?.behind()?;
        Some(format!(
            "audit events have waited {}s to reach the audit log (the database is not accepting them)",
            behind.as_secs()
        ))
    }

    async fn query_audit(&self, filter: AuditFilter) -> StoreResult<Vec<AuditRow>> {
        self.settle_journal().await?;
        self.scan(move |c| sqlite_audit::query(c, &filter)).await
    }

    async fn audit_range(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>> {
        self.settle_journal().await?;
        self.scan(move |c| sqlite_audit::range(c, after_seq, limit))
            .await
    }

    async fn audit_archive_mark(&self) -> StoreResult<Option<ArchiveMark>> {
        self.read(sqlite_audit::archive_mark).await
    }

    async fn remove_archived(&self, mark: ArchiveMark) -> StoreResult<()> {
        self.write(move |c, _| sqlite_audit::remove_archived(c, &mark))
            .await
    }

    async fn audit_head(&self) -> StoreResult<Option<(i64, Vec<u8>)>> {
        self.settle_journal().await?;
        self.read(|c| {
            c.query_row(
                "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
        .await
    }

    async fn audit_chain(&self) -> StoreResult<Vec<AuditRow>> {
        self.settle_journal().await?;
        self.scan(sqlite_audit::chain).await
    }

    async fn changes_after(
        &self,
        project_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>> {
        let project_id = project_id.to_owned();
        self.read(move |c| {
            sqlite_audit::changes_after(c, &project_id, after_seq, limit, &change_actions_sql())
        })
        .await
    }

    async fn last_seq(&self) -> StoreResult<i64> {
        self.read(|c| {
            c.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit_events", [], |r| {
                r.get(0)
            })
        })
        .await
    }

    fn change_signal(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn write_generation(&self) -> Option<u64> {
        Some(*self.changes.borrow())
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
