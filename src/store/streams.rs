//! Storage of audit log streams (issue 20): where events are shipped, how far
//! each stream got, and which replica delivers it now.
//!
//! The cursor (`cursor_seq`, the last event the collector acknowledged) and
//! the lease live in the database, so a restart, a crash or a second replica
//! continues from exactly where delivery stopped. Every change of a cursor is
//! a compare-and-set on (lease owner, old cursor): a replica that lost its
//! lease can never move the cursor, backwards or forwards.

use super::{AuditEvent, AuditRow, StoreResult};
use async_trait::async_trait;

/// One stream as stored. `key_wrapped` and `headers_ct` are ciphertext
/// (header values are credentials); `header_names` is a JSON list of names.
#[derive(Clone, Debug)]
pub struct StreamRow {
    pub id: String,
    /// `http` or `syslog`.
    pub kind: String,
    pub url: String,
    pub header_names: Vec<String>,
    pub key_wrapped: Vec<u8>,
    pub headers_ct: Vec<u8>,
    /// PEM: the only CA TLS connections of this stream trust (not secret).
    pub ca_cert: Option<String>,
    pub cursor_seq: i64,
    pub created_at: i64,
    pub created_by: String,
    /// Changes when the URL, headers or CA change: the deliverer then
    /// rebuilds its connection settings.
    pub updated_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: i64,
    pub last_attempt_at: Option<i64>,
    pub last_delivered_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    /// Failed attempts since the last success.
    pub failures: i64,
}

/// The SQL column list both backends read a `StreamRow` with.
pub const STREAM_COLS: &str = "id, kind, url, header_names, key_wrapped, headers_ct, ca_cert, \
     cursor_seq, created_at, created_by, updated_at, lease_owner, lease_until, last_attempt_at, \
     last_delivered_at, last_error, last_error_at, failures";

#[async_trait]
pub trait AuditStreamStore: Send + Sync {
    /// Inserts a stream with its audit event in one transaction, unless
    /// `max_streams` streams exist already (then `NotEmpty`, whose text says
    /// so: counted in the same transaction, so racing adds cannot pass it).
    async fn create_stream(
        &self,
        stream: StreamRow,
        max_streams: i64,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    async fn streams(&self) -> StoreResult<Vec<StreamRow>>;
    async fn stream(&self, id: &str) -> StoreResult<Option<StreamRow>>;
    /// Deletes a stream with its audit event; `NotFound` when there is none.
    async fn delete_stream(&self, id: &str, audit: AuditEvent) -> StoreResult<()>;
    /// Replaces where and how a stream delivers (kind, URL, headers, CA,
    /// `updated_at`) with its audit event; the cursor and lease stay.
    async fn update_stream(&self, stream: StreamRow, audit: AuditEvent) -> StoreResult<()>;

    /// Takes or renews the lease of stream `id` for `owner` until `until`,
    /// when it is free, expired (`lease_until <= now`) or already `owner`'s.
    /// Returns the stream as leased, `None` when another owner holds it, and
    /// `NotFound` when the stream is gone.
    async fn lease_stream(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> StoreResult<Option<StreamRow>>;
    /// Moves the cursor from `from` to `to` after a delivery the collector
    /// acknowledged; false (nothing changed) when `owner` no longer holds the
    /// lease or the cursor is no longer at `from`.
    async fn advance_stream(
        &self,
        id: &str,
        owner: &str,
        from: i64,
        to: i64,
        now: i64,
    ) -> StoreResult<bool>;
    /// Records a failed attempt (the error text holds no secret: see
    /// `streams::sink`), if `owner` still holds the lease.
    async fn stream_failed(&self, id: &str, owner: &str, error: &str, now: i64) -> StoreResult<()>;
    /// Gives the lease up (at shutdown), so another replica need not wait
    /// for it to expire.
    async fn release_stream(&self, id: &str, owner: &str) -> StoreResult<()>;
    /// Replaces the wrapped keys after a root-key rotation: (id, new wrapped key).
    async fn rewrap_stream_keys(&self, keys: Vec<(String, Vec<u8>)>) -> StoreResult<()>;

    /// Events with `seq` above `after_seq`, oldest first, at most `limit`:
    /// what a stream delivers next.
    async fn audit_after(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>>;
}

/// `header_names` as stored (a JSON list).
pub fn names_to_text(names: &[String]) -> String {
    serde_json::to_string(names).unwrap_or_else(|_| "[]".into())
}

pub fn names_from_text(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}
