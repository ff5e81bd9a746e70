//! The storage seam. Backends see only ciphertext: encryption happens above this
//! trait, in `service`. Every write that has an audit event commits it in the same
//! transaction; versions are allocated under a database uniqueness constraint so
//! concurrent writers (or replicas) can never both win the same version.

pub mod audit_flush;
pub mod audit_upgrade;
pub mod dynamic;
pub mod identity_auth;
pub mod kms;
pub mod migrate;
pub mod postgres;
pub mod rekey;
pub mod rotations;
pub mod rows;
pub mod rules;
pub mod sqlite;
pub mod streams;
pub mod webhooks;

use async_trait::async_trait;
pub use dynamic::DynamicStore;
pub use identity_auth::{IdentityAuthRow, IdentityAuthStore};
pub use kms::KmsStore;
pub use rekey::RekeyStore;
pub use rotations::RotationStore;
pub use rows::*;
use sqlite::{audit_chain as sqlite_audit, audit_journal};
/// The SQLite-only parts keep their old paths.
pub use sqlite::{memo, wal_checkpointer};
pub use streams::AuditStreamStore;
pub use webhooks::WebhookStore;

#[derive(Debug, thiserror::Error, Clone)]
pub enum StoreError {
    /// An optimistic-concurrency check failed; `current` is the version now stored
    /// (0 when the secret does not exist or is deleted).
    #[error("version conflict: current version is {current}")]
    Conflict { current: i64 },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0} already exists")]
    Duplicate(String),
    /// A folder still holds live secrets (and the caller did not force).
    #[error("{0}")]
    NotEmpty(String),
    #[error("the server is already bootstrapped")]
    AlreadyBootstrapped,
    /// The change would leave no enabled server admin.
    #[error("the last enabled server admin cannot be disabled, deleted or demoted")]
    LastAdmin,
    /// The store cannot take the request now (the audit log is behind its
    /// loss bound); the text says why and is safe to show.
    #[error("{0}")]
    Unavailable(String),
    /// Database failure. The text is for the server log only, never for clients.
    #[error("database error: {0}")]
    Backend(String),
    /// A key the write used is no longer current: a data key was retired or
    /// a root key generation replaced (by this replica or another). The
    /// caller reloads its keys and tries again.
    #[error("stale key: {0}")]
    StaleKey(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Builds the audit event of one purged secret.
pub type AuditFor = Box<dyn Fn(&SecretHead) -> AuditEvent + Send>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip to the database (readiness probe).
    async fn ping(&self) -> StoreResult<()>;
    /// Flushes and closes; later calls fail.
    async fn close(&self);

    async fn meta_get(&self, key: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Stores `value` under `key` unless one is there; returns the value now stored.
    async fn meta_init(&self, key: &str, value: Vec<u8>) -> StoreResult<Vec<u8>>;

    /// Creates the first admin, the first project and its token in one transaction;
    /// fails with `AlreadyBootstrapped` when any user exists.
    async fn bootstrap(&self, data: Bootstrap) -> StoreResult<()>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRow>>;
    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRow>>;

    async fn insert_token(&self, token: TokenRow, audit: AuditEvent) -> StoreResult<()>;
    async fn token_by_hash(&self, hash: &[u8]) -> StoreResult<Option<TokenRow>>;
    async fn revoke_token(&self, id: &str, now: i64, audit: AuditEvent) -> StoreResult<()>;

    async fn create_project(&self, data: NewProject) -> StoreResult<()>;
    async fn projects(&self) -> StoreResult<Vec<ProjectRow>>;
    /// Looks a project up by id or by slug.
    async fn project(&self, id_or_slug: &str) -> StoreResult<Option<ProjectRow>>;
    async fn membership(
        &self,
        project_id: &str,
        subject_id: &str,
    ) -> StoreResult<Option<MembershipRow>>;
    async fn memberships(&self, project_id: &str) -> StoreResult<Vec<MembershipRow>>;
    /// Adds or replaces a member's role and overrides.
    async fn put_membership(&self, membership: MembershipRow, audit: AuditEvent)
        -> StoreResult<()>;
    async fn remove_membership(
        &self,
        project_id: &str,
        subject_id: &str,
        audit: AuditEvent,
    ) -> StoreResult<()>;

    /// A user created by an admin, with a one-time invite to set a password.
    async fn create_user(
        &self,
        user: UserRow,
        invite_hash: Vec<u8>,
        invite_expires_at: i64,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// A user created at their first single sign-on, with their membership
    /// of the provider's project and both audit events, in one transaction:
    /// no crash can leave the user without the membership.
    /// `NotFound("project")` when the project is gone.
    async fn create_user_with_membership(
        &self,
        user: UserRow,
        membership: MembershipRow,
        user_audit: AuditEvent,
        member_audit: AuditEvent,
    ) -> StoreResult<()>;
    async fn users(&self) -> StoreResult<Vec<UserRow>>;
    /// Sets the invited user's password if the invite is unused and unexpired.
    async fn accept_invite(
        &self,
        invite_hash: Vec<u8>,
        password_hash: String,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<UserRow> {
        self.redeem_password_token(INVITE, invite_hash, password_hash, now, audit)
            .await
    }
    /// Sets a user's password with a one-time token of `kind` (`INVITE` or
    /// `PASSWORD_RESET`) if it is unused and unexpired, and marks it used; a
    /// reset also revokes every session of the user. `NotFound` otherwise.
    async fn redeem_password_token(
        &self,
        kind: &'static str,
        token_hash: Vec<u8>,
        password_hash: String,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<UserRow>;
    /// A one-time password reset for a user; their earlier unused resets stop
    /// working.
    async fn create_password_reset(
        &self,
        user_id: &str,
        token_hash: Vec<u8>,
        expires_at: i64,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Replaces a user's password hash and revokes their sessions except
    /// `keep_token` (the one changing it).
    async fn set_password(
        &self,
        user_id: &str,
        password_hash: String,
        keep_token: Option<String>,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Disables, enables, deletes or (un)makes a server admin, in one
    /// transaction with its event. A change that would leave no enabled server
    /// admin fails with `LastAdmin` (checked under a lock, so two admins
    /// demoting each other cannot both succeed). Returns the user as it was.
    async fn change_user(
        &self,
        user_id: &str,
        change: UserChange,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<UserRow>;

    async fn create_identity(
        &self,
        identity: IdentityRow,
        secret: IdentitySecretRow,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// By id or by name.
    async fn identity(&self, id_or_name: &str) -> StoreResult<Option<IdentityRow>>;
    async fn identities(&self) -> StoreResult<Vec<IdentityRow>>;
    async fn add_identity_secret(
        &self,
        secret: IdentitySecretRow,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    async fn identity_secrets(&self, identity_id: &str) -> StoreResult<Vec<IdentitySecretRow>>;
    async fn identity_secret_by_hash(&self, hash: &[u8]) -> StoreResult<Option<IdentitySecretRow>>;
    /// Revokes a client secret and every access token issued with it.
    async fn revoke_identity_secret(
        &self,
        identity_id: &str,
        secret_id: &str,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Deletes a machine identity: revokes its access tokens, removes its
    /// client secrets and memberships.
    async fn delete_identity(
        &self,
        identity_id: &str,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Every token of one subject (a user's sessions, an identity's access
    /// tokens), oldest first.
    async fn subject_tokens(&self, subject_id: &str) -> StoreResult<Vec<TokenRow>>;

    async fn token_by_id(&self, id: &str) -> StoreResult<Option<TokenRow>>;
    async fn project_tokens(&self, project_id: &str) -> StoreResult<Vec<TokenRow>>;
    /// Counts one use of a token with a uses limit; false once the limit is reached.
    async fn use_token(&self, id: &str) -> StoreResult<bool>;
    async fn renew_token(&self, id: &str, expires_at: i64, audit: AuditEvent) -> StoreResult<()>;

    /// Records a login attempt as a failure, then counts the failures since
    /// `since` of its account and of its address, itself included. Record,
    /// then decide: of N parallel attempts the k-th to be recorded counts at
    /// least k, so no more than the limit can pass a check on the counts.
    async fn record_login_attempt(
        &self,
        account: &str,
        ip: &str,
        at: i64,
        since: i64,
    ) -> StoreResult<LoginAttempt>;
    /// Removes an attempt recorded by `record_login_attempt` (it succeeded,
    /// or it was refused as locked without a check).
    async fn forget_login_attempt(&self, id: i64) -> StoreResult<()>;
    /// Whether any user exists (a bootstrapped server).
    async fn is_bootstrapped(&self) -> StoreResult<bool>;
    /// Whether a one-time token of `kind` is unused and unexpired (checked
    /// before a password is hashed for it; the redemption checks again).
    async fn password_token_pending(
        &self,
        kind: &'static str,
        token_hash: Vec<u8>,
        now: i64,
    ) -> StoreResult<bool>;

    async fn environments(&self, project_id: &str) -> StoreResult<Vec<EnvRow>>;
    async fn create_environment(&self, env: EnvRow, audit: AuditEvent) -> StoreResult<()>;
    /// Changes the limits `change` names of a project, with `audit`.
    async fn update_project_settings(
        &self,
        project_id: &str,
        change: ProjectSettingsChange,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Sets an environment's display name (its slug never changes), with `audit`.
    async fn rename_environment(
        &self,
        env_id: &str,
        name: &str,
        audit: AuditEvent,
    ) -> StoreResult<()>;

    async fn folders(&self, env_id: &str) -> StoreResult<Vec<FolderRow>>;
    async fn create_folder(&self, folder: FolderRow, audit: AuditEvent) -> StoreResult<()>;
    /// Removes folder `path` and every folder row below it, in one transaction
    /// with its audit event. Live secrets under it: with `force` they are
    /// soft-deleted (recoverable) in the same transaction, else `NotEmpty`.
    /// Returns the keys (`path/KEY`) soft-deleted.
    async fn delete_folder(&self, del: DeleteFolder, audit: AuditEvent)
        -> StoreResult<Vec<String>>;

    async fn data_keys(&self, project_id: &str) -> StoreResult<Vec<DataKeyRow>>;
    async fn all_data_keys(&self) -> StoreResult<Vec<DataKeyRow>>;
    async fn add_data_key(&self, key: DataKeyRow) -> StoreResult<()>;
    /// Replaces the given wrapped data keys (generation 0) and generation
    /// keys and the key-check value in one transaction (offline root key
    /// rotation).
    /// `audit_epochs` replaces the sealed audit keys of earlier root keys.
    async fn rewrap_data_keys(
        &self,
        keys: Vec<DataKeyRow>,
        generations: Vec<crate::store::rekey::GenerationRow>,
        key_check: Vec<u8>,
        audit_epochs: Vec<(i64, Vec<u8>)>,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// The audit keys of earlier root keys, sealed: `(epoch, sealed)`.
    async fn audit_key_epochs(&self) -> StoreResult<Vec<(i64, Vec<u8>)>>;

    /// Live secrets in folder `path` of `env_id`, and in its whole project.
    async fn live_secret_counts(&self, env_id: &str, path: &str) -> StoreResult<(i64, i64)>;
    /// The secret's head row, deleted or not.
    async fn secret_head(
        &self,
        env_id: &str,
        path: &str,
        key: &str,
    ) -> StoreResult<Option<SecretHead>>;
    /// One version (the current one when `version` is None) of a live secret.
    async fn secret(
        &self,
        env_id: &str,
        path: &str,
        key: &str,
        version: Option<i64>,
    ) -> StoreResult<Option<SecretRow>>;
    /// The live secrets directly in `path` (or below it when `recursive`).
    async fn secrets(
        &self,
        env_id: &str,
        path: &str,
        recursive: bool,
    ) -> StoreResult<Vec<SecretRow>>;
    async fn deleted_secrets(&self, env_id: &str, path: &str) -> StoreResult<Vec<SecretRow>>;
    async fn history(&self, secret_id: &str) -> StoreResult<Vec<VersionRow>>;

    /// Writes a new version if the stored current version still equals
    /// `expected_current`; else `Conflict`. Returns the data key's encryption count.
    async fn put_version(&self, put: PutVersion, audit: AuditEvent) -> StoreResult<i64>;
    /// `put_version` for many secrets in ONE transaction: a conflict (or any
    /// failure) on one item writes nothing at all. Returns each item's data-key
    /// encryption count, in order.
    async fn put_versions(&self, puts: Vec<(PutVersion, AuditEvent)>) -> StoreResult<Vec<i64>>;
    async fn soft_delete(
        &self,
        secret_id: &str,
        now: i64,
        purge_after: i64,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    async fn restore(&self, secret_id: &str, now: i64, audit: AuditEvent) -> StoreResult<()>;
    async fn purge(&self, secret_id: &str, audit: AuditEvent) -> StoreResult<()>;
    /// Purges every soft-deleted secret whose window has passed, each with its event.
    async fn purge_expired(&self, now: i64, audit_for: AuditFor) -> StoreResult<usize>;

    async fn imports(&self, env_id: &str, path: &str) -> StoreResult<Vec<ImportRow>>;
    async fn create_import(&self, import: ImportRow, audit: AuditEvent) -> StoreResult<()>;
    async fn delete_import(&self, id: &str, audit: AuditEvent) -> StoreResult<()>;

    /// The caller's personal overrides for these secrets.
    async fn personal_secrets(
        &self,
        owner_id: &str,
        secret_ids: Vec<String>,
    ) -> StoreResult<Vec<PersonalRow>>;
    /// Creates or replaces an override; `expected_version` 0 means create.
    async fn put_personal(
        &self,
        row: PersonalRow,
        expected_version: i64,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    async fn delete_personal(
        &self,
        secret_id: &str,
        owner_id: &str,
        audit: AuditEvent,
    ) -> StoreResult<()>;

    /// Renames a secret: moves it to `new_key`, replaces every retained version's
    /// ciphertexts (re-sealed for the new name) and adds `next` as a new version.
    async fn rename_secret(
        &self,
        secret_id: &str,
        new_key: &str,
        resealed: Vec<VersionRow>,
        next: PutVersion,
        audit: AuditEvent,
    ) -> StoreResult<i64>;

    /// Appends one event (a read's, a login's) and returns once it is durable.
    async fn append_audit(&self, event: AuditEvent) -> StoreResult<()>;
    async fn query_audit(&self, filter: AuditFilter) -> StoreResult<Vec<AuditRow>>;
    /// Every event in chain order (for verification).
    async fn audit_chain(&self) -> StoreResult<Vec<AuditRow>>;
    /// Up to `limit` events after `after_seq`, in chain order.
    async fn audit_range(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>>;
    /// Where the live log starts, once events were archived.
    async fn audit_archive_mark(&self) -> StoreResult<Option<ArchiveMark>>;
    /// Removes the archived events (up to `mark.seq`) and records `mark`,
    /// in one transaction.
    async fn remove_archived(&self, mark: ArchiveMark) -> StoreResult<()>;
    /// The chain's last event's sequence number and link (for a
    /// checkpoint), every event answered so far included; `None` when the
    /// log is empty.
    async fn audit_head(&self) -> StoreResult<Option<(i64, Vec<u8>)>>;

    /// The change feed: events of `CHANGE_ACTIONS` in a project with `seq` above
    /// `after_seq`, oldest first, at most `limit`.
    async fn changes_after(
        &self,
        project_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>>;
    /// Why the audit log cannot take events now (journaled events waited past
    /// the loss bound), for `/readyz`; `None` when it can.
    fn audit_behind(&self) -> Option<String> {
        None
    }
    /// The newest event's `seq` (0 for an empty log): where a change feed starts.
    async fn last_seq(&self) -> StoreResult<i64>;
    /// Ticks after a write commits (on PostgreSQL: a write through any replica),
    /// so change-feed waiters re-read the log instead of polling it.
    fn change_signal(&self) -> tokio::sync::watch::Receiver<u64>;
    /// The count of committed data changes, when every write to the database
    /// passes through this process (SQLite), so answers computed at the same
    /// count are still true. `None` when other processes write too (PostgreSQL
    /// replicas): then nothing may be answered from memory.
    fn write_generation(&self) -> Option<u64>;

    /// Audit log streams: their rows, cursors and leases (`streams`).
    fn audit_streams(&self) -> &dyn AuditStreamStore;
    /// Workload identity auth methods of machine identities.
    fn identity_auth_methods(&self) -> &dyn IdentityAuthStore;
    /// Rotation policies: their schedules, steps and leases (`rotations`).
    fn rotations(&self) -> &dyn RotationStore;
    /// Dynamic secrets and their leases (`dynamic`).
    fn dynamic(&self) -> &dyn DynamicStore;
    /// Webhooks: their targets (sealed), cursors and leases (`webhooks`).
    fn webhooks(&self) -> &dyn WebhookStore;
    /// KMS keys, sealed under project data keys (`kms`).
    fn kms(&self) -> &dyn KmsStore;
    /// Root key generations and data key re-encryption (`rekey`).
    fn rekey(&self) -> &dyn RekeyStore;
}

/// Audit actions that change what a fetch of secrets returns; the change feed
/// (`hush run --watch`) reports these and nothing else.
pub const CHANGE_ACTIONS: [&str; 14] = [
    "create-secret",
    "update-secret",
    "rotate-secret",
    "delete-secret",
    "restore-secret",
    "rollback-secret",
    "rename-secret",
    "purge-secret",
    "purge-expired-secret",
    "create-secret-import",
    "delete-secret-import",
    "update-personal-secret",
    "delete-personal-secret",
    "delete-folder",
];

/// `live_secret_counts` in SQL both backends run (`?N` placeholders; the
/// PostgreSQL store numbers them `$N`): the folder's live secrets, and those
/// of every environment of its project.
pub const LIVE_SECRET_COUNTS: &str =
    "SELECT (SELECT COUNT(*) FROM secrets WHERE env_id = ?1 AND path = ?2 AND deleted_at IS NULL),
            (SELECT COUNT(*) FROM secrets WHERE deleted_at IS NULL AND env_id IN
                (SELECT id FROM environments WHERE project_id =
                    (SELECT project_id FROM environments WHERE id = ?1)))";

/// `CHANGE_ACTIONS` as an SQL list (`'a', 'b', ...`): constants, not input.
pub fn change_actions_sql() -> String {
    CHANGE_ACTIONS
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(", ")
}
