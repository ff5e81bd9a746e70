//! Storage of the workload identity auth methods of machine identities
//! (issue 23): one row per (identity, method), the method's settings as JSON,
//! and at most one sealed credential (ciphertext only, like every row here).

use super::{AuditEvent, StoreResult};
use async_trait::async_trait;

#[derive(Clone, Debug)]
pub struct IdentityAuthRow {
    pub identity_id: String,
    /// `oidc`, `jwt` or `kubernetes`.
    pub method: String,
    /// The method's settings (JSON); never a credential.
    pub config: String,
    /// The data key sealing `secret_ct`, wrapped under the root key.
    pub key_wrapped: Option<Vec<u8>>,
    pub secret_ct: Option<Vec<u8>>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The SQL column list both backends read an `IdentityAuthRow` with.
pub const IDENTITY_AUTH_COLS: &str =
    "identity_id, method, config, key_wrapped, secret_ct, created_at, updated_at";

/// A sign-in's stored provider credential (`sso_sessions`) is pruned once
/// it is this old and its session is gone, revoked or expired (or it was
/// never redeemed: a login code lives two minutes), so the grace covers
/// every sign-in still under way.
pub const SSO_GRANT_PRUNE_AGE_MS: i64 = 10 * 60 * 1000;
/// The most rows one prune deletes: each stored grant prunes at most this
/// many, so no sign-in pays for a long backlog at once.
pub const SSO_GRANT_PRUNE_BATCH: i64 = 100;

/// The rows a prune at `$1`/`?1` (the cut-off: now less the grace) and
/// `$2`/`?2` (now) may delete, oldest first, at most `$3`/`?3`. Both
/// backends run it; only the placeholders' spelling differs.
pub(crate) fn dead_sso_grants_sql(p: [&str; 3]) -> String {
    format!(
        "SELECT s.id FROM sso_sessions s LEFT JOIN tokens t ON t.id = s.token_id
         WHERE s.created_at < {} AND (t.id IS NULL OR t.revoked_at IS NOT NULL
           OR (t.expires_at IS NOT NULL AND t.expires_at <= {}))
         ORDER BY s.created_at LIMIT {}",
        p[0], p[1], p[2]
    )
}

#[async_trait]
pub trait IdentityAuthStore: Send + Sync {
    /// Inserts or replaces the method's row (keeping `created_at` of a
    /// replaced one) with its audit event, in one transaction; `NotFound`
    /// when the identity is gone.
    async fn put_identity_auth(&self, row: IdentityAuthRow, audit: AuditEvent) -> StoreResult<()>;
    async fn identity_auth(
        &self,
        identity_id: &str,
        method: &str,
    ) -> StoreResult<Option<IdentityAuthRow>>;
    /// Every method row (root-key rotation re-wraps their keys).
    async fn identity_auths(&self) -> StoreResult<Vec<IdentityAuthRow>>;
    /// Removes the method with its audit event; `NotFound` when it is not set.
    async fn delete_identity_auth(
        &self,
        identity_id: &str,
        method: &str,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Replaces wrapped keys after a root-key rotation:
    /// (identity id, method, new wrapped key).
    async fn rewrap_identity_auth_keys(
        &self,
        keys: Vec<(String, String, Vec<u8>)>,
    ) -> StoreResult<()>;
    /// Marks `id` (an SSO state or login code) used until `expires_at`;
    /// false when it was already used. Forgets markers past their expiry.
    async fn consume_once(&self, id: &str, now: i64, expires_at: i64) -> StoreResult<bool>;
    /// Stores a sign-in's sealed provider credential (`id`: the sign-in's),
    /// and in the same transaction prunes at most `SSO_GRANT_PRUNE_BATCH`
    /// credentials older than `SSO_GRANT_PRUNE_AGE_MS` whose session is
    /// missing, revoked or expired (renewal keeps a live one: it extends
    /// the session in place). Returns how many were pruned.
    async fn put_sso_grant(
        &self,
        id: &str,
        provider: &str,
        grant_ct: Vec<u8>,
        now: i64,
    ) -> StoreResult<u64>;
    /// Ties the sign-in's credential to the session it produced.
    async fn link_sso_grant(&self, id: &str, token_id: &str) -> StoreResult<()>;
    /// The credential of a session: (sign-in id, provider, sealed grant).
    async fn sso_grant(&self, token_id: &str) -> StoreResult<Option<(String, String, Vec<u8>)>>;
    /// Replaces a credential the provider rotated.
    async fn set_sso_grant(&self, id: &str, grant_ct: Vec<u8>) -> StoreResult<()>;
}
