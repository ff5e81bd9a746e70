//! Storage of dynamic secrets (issue 24): definitions (a database, its admin
//! connection and statements, TTLs) and their leases (one database user
//! each, until it is revoked).
//!
//! A definition's admin password is stored sealed (`secret_ct` under the
//! project's data key `key_id`); a lease stores the user's name, never its
//! password. A lease row stays until its user was revoked: the revocation
//! that succeeds deletes it, so a lease is revoked until it is gone, and
//! one replica at a time tries (`claim_lease`, one conditional UPDATE).

use super::{AuditEvent, StoreResult};
use async_trait::async_trait;

/// `status` of a lease in use.
pub const ACTIVE: &str = "active";
/// `status` of a lease whose user is to be revoked (asked, or expired).
pub const REVOKING: &str = "revoking";
/// `status` of a lease whose revocation failed; retried with a backoff.
pub const FAILED: &str = "revoke-failed";

#[derive(Clone, Debug)]
pub struct DynamicRow {
    pub id: String,
    pub project_id: String,
    pub env_id: String,
    pub path: String,
    pub name: String,
    /// `postgres`, `mysql`, `redis` (`dynamic::Kind`).
    pub provider: String,
    /// `dynamic::Connection` and the output keys as JSON (no password).
    pub config: String,
    /// The project data key sealing `secret_ct`.
    pub key_id: i64,
    /// The admin password, sealed.
    pub secret_ct: Vec<u8>,
    pub default_ttl: i64,
    pub max_ttl: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: String,
}

pub const DYNAMIC_COLS: &str = "id, project_id, env_id, path, name, provider, config, key_id, \
     secret_ct, default_ttl, max_ttl, created_at, updated_at, created_by";

#[derive(Clone, Debug)]
pub struct LeaseRow {
    pub id: String,
    pub dynamic_id: String,
    pub project_id: String,
    /// The database user the lease made.
    pub username: String,
    pub expire_at: i64,
    pub status: String,
    /// Why the last revocation failed (no secret in it).
    pub status_details: Option<String>,
    pub failures: i64,
    /// Not retried before this (after a failed revocation).
    pub next_attempt_at: i64,
    pub claim_owner: Option<String>,
    pub claim_until: i64,
    /// Renewals so far + 1.
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: String,
}

pub const LEASE_COLS: &str = "id, dynamic_id, project_id, username, expire_at, status, \
     status_details, failures, next_attempt_at, claim_owner, claim_until, version, created_at, \
     updated_at, created_by";

#[async_trait]
pub trait DynamicStore: Send + Sync {
    /// Inserts a definition with its audit event; `Duplicate` when the
    /// folder has one of that name.
    async fn create_dynamic(&self, row: DynamicRow, audit: AuditEvent) -> StoreResult<()>;
    /// The definitions of a project.
    async fn dynamic_secrets(&self, project_id: &str) -> StoreResult<Vec<DynamicRow>>;
    async fn dynamic_secret(&self, id: &str) -> StoreResult<Option<DynamicRow>>;
    async fn dynamic_secret_named(
        &self,
        env_id: &str,
        path: &str,
        name: &str,
    ) -> StoreResult<Option<DynamicRow>>;
    /// Replaces a definition's name, settings, sealed password and TTLs
    /// (by id), with its audit event; `Duplicate` when the new name is
    /// taken in its folder, `NotFound` when it is gone.
    async fn update_dynamic(&self, row: DynamicRow, audit: AuditEvent) -> StoreResult<()>;
    /// Deletes a definition and any lease rows left, with its audit event;
    /// `NotFound` when it is gone.
    async fn delete_dynamic(&self, id: &str, audit: AuditEvent) -> StoreResult<()>;
    /// Inserts a lease with its audit event.
    async fn create_lease(&self, row: LeaseRow, audit: AuditEvent) -> StoreResult<()>;
    /// The leases of one definition.
    async fn leases(&self, dynamic_id: &str) -> StoreResult<Vec<LeaseRow>>;
    async fn lease(&self, id: &str) -> StoreResult<Option<LeaseRow>>;
    /// Moves an active, unclaimed lease's end to `expire_at`, with its
    /// audit event; false when the lease is not active or gone.
    async fn renew_lease(
        &self,
        id: &str,
        expire_at: i64,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<bool>;
    /// Ids of leases to revoke at `now` (expired, or asked to), whose retry
    /// time came and whose claim is free or expired; at most `limit`.
    async fn due_leases(&self, now: i64, limit: i64) -> StoreResult<Vec<String>>;
    /// Claims lease `id` for `owner` until `until` and marks it `revoking`,
    /// when its claim is free, expired or `owner`'s and (unless `force`) it
    /// is due at `now`. One conditional UPDATE. `None` when not taken.
    async fn claim_lease(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
        force: bool,
    ) -> StoreResult<Option<LeaseRow>>;
    /// Deletes a revoked lease held by `owner`, with its audit event; false
    /// (nothing written) when `owner` lost the claim.
    async fn lease_revoked(&self, id: &str, owner: &str, audit: AuditEvent) -> StoreResult<bool>;
    /// Records a failed revocation (status `revoke-failed`, the error, the
    /// next attempt) and releases the claim, with its audit event.
    async fn lease_revoke_failed(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        next_attempt_at: i64,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<bool>;
}
