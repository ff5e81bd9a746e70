//! Storage of rotation policies (issue 24): which secret is renewed, when,
//! how, and how far a rotation in progress got.
//!
//! A rotation's step (`state`, `state_data`) is persisted before each action
//! that cannot be undone, so a crash leaves enough behind to resume or roll
//! back. The lease lets one replica at a time run a rotation; what makes a
//! rotation happen exactly once is the secret's own version check (the new
//! value is written with `if_version` = the version seen when it was
//! planned), so even a replica that lost its lease cannot write twice.

use super::{AuditEvent, StoreResult};
use async_trait::async_trait;

/// `state` of a rotation with nothing in progress.
pub const IDLE: &str = "idle";

#[derive(Clone, Debug)]
pub struct RotationRow {
    pub id: String,
    pub project_id: String,
    pub env_id: String,
    pub path: String,
    pub key: String,
    /// `every:SECONDS` or `cron:EXPR` (`rotation::schedule`).
    pub schedule: String,
    /// How a new value is made (`rotation::generate`).
    pub generator: String,
    /// `value`, or a database whose credential is rotated.
    pub provider: String,
    /// The provider's settings as JSON: names of secrets, never values.
    pub config: String,
    pub next_at: i64,
    pub state: String,
    /// JSON the current step needs to resume (no secret value).
    pub state_data: String,
    pub lease_owner: Option<String>,
    pub lease_until: i64,
    pub last_attempt_at: Option<i64>,
    pub last_rotated_at: Option<i64>,
    /// `ok`, `failed`, `skipped`.
    pub last_result: Option<String>,
    pub last_error: Option<String>,
    /// Failed attempts since the last success.
    pub failures: i64,
    pub created_at: i64,
    pub created_by: String,
}

/// The SQL column list both backends read a `RotationRow` with.
pub const ROTATION_COLS: &str = "id, project_id, env_id, path, key, schedule, generator, \
     provider, config, next_at, state, state_data, lease_owner, lease_until, last_attempt_at, \
     last_rotated_at, last_result, last_error, failures, created_at, created_by";

/// How an attempt ended, recorded with the lease released.
#[derive(Clone, Debug)]
pub struct RotationOutcome {
    pub next_at: i64,
    pub state: String,
    pub state_data: String,
    /// Set when a new value was written.
    pub rotated_at: Option<i64>,
    pub result: String,
    /// None on success (the failure count resets); the text holds no secret.
    pub error: Option<String>,
    pub now: i64,
}

#[async_trait]
pub trait RotationStore: Send + Sync {
    /// Inserts a policy with its audit event; `Duplicate` when the secret
    /// already has one.
    async fn create_rotation(&self, row: RotationRow, audit: AuditEvent) -> StoreResult<()>;
    /// Every policy, or those of one project.
    async fn rotations(&self, project_id: Option<&str>) -> StoreResult<Vec<RotationRow>>;
    async fn rotation(&self, id: &str) -> StoreResult<Option<RotationRow>>;
    /// The policy of one secret.
    async fn rotation_of(
        &self,
        env_id: &str,
        path: &str,
        key: &str,
    ) -> StoreResult<Option<RotationRow>>;
    /// Deletes a policy with its audit event; `NotFound` when there is none.
    async fn delete_rotation(&self, id: &str, audit: AuditEvent) -> StoreResult<()>;
    /// Ids of the policies due at `now` (or with a rotation in progress)
    /// whose lease is free or expired, oldest due first, at most `limit`.
    async fn due_rotations(&self, now: i64, limit: i64) -> StoreResult<Vec<String>>;
    /// Takes the lease of policy `id` for `owner` until `until`, when it is
    /// free, expired or `owner`'s, and (unless `force`) the policy is due at
    /// `now` or has a rotation in progress. One conditional UPDATE, so two
    /// replicas never both hold it. `None` when not taken.
    async fn claim_rotation(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
        force: bool,
    ) -> StoreResult<Option<RotationRow>>;
    /// Records the next step under the lease; false when `owner` lost it.
    async fn rotation_step(
        &self,
        id: &str,
        owner: &str,
        state: &str,
        state_data: &str,
    ) -> StoreResult<bool>;
    /// Records how an attempt ended and releases the lease, with its audit
    /// event if any (a success was audited by its secret write); false
    /// (nothing written) when `owner` lost the lease.
    async fn finish_rotation(
        &self,
        id: &str,
        owner: &str,
        outcome: RotationOutcome,
        audit: Option<AuditEvent>,
    ) -> StoreResult<bool>;
}
