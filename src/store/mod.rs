//! The storage seam. Backends see only ciphertext: encryption happens above this
//! trait, in `service`. Every write that has an audit event commits it in the same
//! transaction; versions are allocated under a database uniqueness constraint so
//! concurrent writers (or replicas) can never both win the same version.

pub mod migrate;
pub mod postgres;
pub mod rows;
pub mod sqlite;

use async_trait::async_trait;
pub use rows::*;

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
    #[error("the server is already bootstrapped")]
    AlreadyBootstrapped,
    /// Database failure. The text is for the server log only, never for clients.
    #[error("database error: {0}")]
    Backend(String),
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
    async fn membership(&self, project_id: &str, subject_id: &str) -> StoreResult<Option<String>>;

    async fn environments(&self, project_id: &str) -> StoreResult<Vec<EnvRow>>;
    async fn create_environment(&self, env: EnvRow, audit: AuditEvent) -> StoreResult<()>;

    async fn folders(&self, env_id: &str) -> StoreResult<Vec<FolderRow>>;
    async fn create_folder(&self, folder: FolderRow, audit: AuditEvent) -> StoreResult<()>;

    async fn data_keys(&self, project_id: &str) -> StoreResult<Vec<DataKeyRow>>;
    async fn all_data_keys(&self) -> StoreResult<Vec<DataKeyRow>>;
    async fn add_data_key(&self, key: DataKeyRow) -> StoreResult<()>;
    /// Replaces every wrapped data key and the key-check value in one transaction
    /// (root key rotation).
    async fn rewrap_data_keys(
        &self,
        keys: Vec<DataKeyRow>,
        key_check: Vec<u8>,
        audit: AuditEvent,
    ) -> StoreResult<()>;

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

    /// Appends one event (a read's, a login's) and returns once it is durable.
    async fn append_audit(&self, event: AuditEvent) -> StoreResult<()>;
    async fn query_audit(&self, filter: AuditFilter) -> StoreResult<Vec<AuditRow>>;
    /// Every event in chain order (for verification).
    async fn audit_chain(&self) -> StoreResult<Vec<AuditRow>>;
}
