//! Storage of webhooks (issue 24): which changes of a project fire them, where
//! they post (sealed), and how far each got.
//!
//! Delivery follows the audit streams' design (`store::streams`): a cursor
//! into the audit log (`cursor_seq`, the last event the webhook is done
//! with) and a lease, both in the database, so a restart, a crash or a
//! second replica goes on from exactly where delivery stopped; the cursor
//! moves only by compare-and-set on (lease owner, old cursor).

use super::{AuditEvent, AuditRow, StoreResult};
use async_trait::async_trait;

/// One webhook as stored. `key_wrapped` and `sealed` are ciphertext (the
/// URL and the signing key); `url_shown` is the URL without its path.
#[derive(Clone, Debug)]
pub struct WebhookRow {
    pub id: String,
    pub project_id: String,
    pub env_id: String,
    /// The environment's slug, matched against events' `environment`.
    pub environment: String,
    /// A folder glob (`/`, `/api`, `/api/**`).
    pub secret_path: String,
    /// `general` or `slack`.
    pub kind: String,
    pub url_shown: String,
    /// Whether deliveries carry `x-infisical-signature`.
    pub signed: bool,
    pub key_wrapped: Vec<u8>,
    pub sealed: Vec<u8>,
    pub disabled: bool,
    pub cursor_seq: i64,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: i64,
    pub last_attempt_at: Option<i64>,
    /// `success` or `failed` (Infisical's `lastStatus`).
    pub last_status: Option<String>,
    pub last_error: Option<String>,
    /// Failed attempts since the last success.
    pub failures: i64,
}

/// The SQL column list both backends read a `WebhookRow` with.
pub const WEBHOOK_COLS: &str =
    "id, project_id, env_id, environment, secret_path, kind, url_shown, \
     signed, key_wrapped, sealed, disabled, cursor_seq, created_at, created_by, updated_at, \
     lease_owner, lease_until, last_attempt_at, last_status, last_error, failures";

/// Audit actions a webhook hears about besides the change feed's
/// (`CHANGE_ACTIONS`, personal overrides left out): a reminder falling due.
pub const REMINDER_ACTION: &str = "rotation-overdue";

/// What a webhook fires on, as SQL (constants, not input): successful
/// changes of shared secrets, and overdue reminders (audited as failures).
pub fn webhook_events_sql() -> String {
    let changes = super::CHANGE_ACTIONS
        .iter()
        .filter(|a| !a.ends_with("-personal-secret"))
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("((result = 'success' AND action IN ({changes})) OR action = '{REMINDER_ACTION}')")
}

/// Why another webhook may not be added (`n` in its project, `total` on the
/// server), if so.
pub fn over_limit(n: i64, max_per_project: i64, total: i64, max_total: i64) -> Option<String> {
    if n >= max_per_project {
        return Some(format!(
            "this project already has {n} webhooks (the limit is {max_per_project}); delete one first"
        ));
    }
    (total >= max_total).then(|| {
        format!(
            "this server already has {total} webhooks (the limit is {max_total}); delete one first"
        )
    })
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Inserts a webhook with its audit event in one transaction, unless its
    /// project has `max_per_project` already or the server `max_total`
    /// (then `NotEmpty`, whose text says so; counted in the transaction).
    async fn create_webhook(
        &self,
        row: WebhookRow,
        max_per_project: i64,
        max_total: i64,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Every webhook, or a project's.
    async fn webhooks(&self, project_id: Option<&str>) -> StoreResult<Vec<WebhookRow>>;
    async fn webhook(&self, id: &str) -> StoreResult<Option<WebhookRow>>;
    /// Deletes a webhook with its audit event; `NotFound` when there is none.
    async fn delete_webhook(&self, id: &str, audit: AuditEvent) -> StoreResult<()>;
    /// Enables or disables a webhook with its audit event. `cursor_seq`:
    /// where an enabled webhook starts (changes made while it was disabled
    /// are not sent).
    async fn set_webhook_disabled(
        &self,
        id: &str,
        disabled: bool,
        cursor_seq: i64,
        updated_at: i64,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Takes or renews the lease of webhook `id` for `owner` for `until -
    /// now` ms, when it is free, expired or already `owner`'s. `None` when
    /// another owner holds it, `NotFound` when the webhook is gone.
    async fn lease_webhook(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> StoreResult<Option<WebhookRow>>;
    /// Moves the cursor from `from` to `to` under `owner`'s lease; with
    /// `delivered`, also records a success. False when the lease or the
    /// cursor moved meanwhile.
    async fn advance_webhook(
        &self,
        id: &str,
        owner: &str,
        from: i64,
        to: i64,
        delivered: bool,
        now: i64,
    ) -> StoreResult<bool>;
    /// Records the result of an attempt (`error`: None for a success; the
    /// text holds no secret). With `owner`, only while it holds the lease;
    /// without (a test delivery), always.
    async fn webhook_attempted(
        &self,
        id: &str,
        owner: Option<&str>,
        error: Option<&str>,
        now: i64,
    ) -> StoreResult<()>;
    /// Gives the lease up (at shutdown).
    async fn release_webhook(&self, id: &str, owner: &str) -> StoreResult<()>;
    /// Replaces the wrapped keys after a root-key rotation.
    async fn rewrap_webhook_keys(&self, keys: Vec<(String, Vec<u8>)>) -> StoreResult<()>;
    /// The events of `project_id` after `after_seq` that webhooks fire on
    /// (`webhook_events_sql`), oldest first, at most `limit`.
    async fn webhook_events_after(
        &self,
        project_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_project_and_per_server() {
        assert_eq!(over_limit(19, 20, 199, 200), None);
        assert!(over_limit(20, 20, 20, 200)
            .unwrap()
            .contains("this project"));
        assert!(over_limit(0, 20, 200, 200).unwrap().contains("this server"));
    }

    #[test]
    fn webhooks_hear_shared_changes_and_reminders_only() {
        let sql = webhook_events_sql();
        assert!(sql.contains("'update-secret'") && sql.contains("'rotate-secret'"));
        assert!(!sql.contains("personal"));
        assert!(sql.contains("action = 'rotation-overdue'"));
    }
}
