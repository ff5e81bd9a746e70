//! The audit log: queries, chain verification, signed checkpoints, export.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /api/v1/hush/audit`.
#[derive(Serialize, Deserialize, ToSchema, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AuditQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Unix milliseconds, or a duration back from now like `24h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    /// A page's `nextBefore`: `TIME.SEQ`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Events linked after this sequence number, oldest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// An event of the chain as the API shows it.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub seq: i64,
    pub id: String,
    /// Unix milliseconds.
    pub time: i64,
    pub time_iso: String,
    pub actor_type: String,
    pub actor_id: String,
    pub actor_name: String,
    pub action: String,
    pub project_id: Option<String>,
    pub environment: Option<String>,
    pub path: Option<String>,
    pub keys: Vec<String>,
    pub from_version: Option<i64>,
    pub to_version: Option<i64>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Hex.
    pub prev_hash: String,
    /// Hex.
    pub hash: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub events: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page.
    pub next_before: Option<String>,
    pub seen_through: Option<i64>,
}

/// `GET /api/v1/hush/audit/verify`: optionally against a signed checkpoint
/// the caller has checked.
#[derive(Serialize, Deserialize, ToSchema, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct VerifyQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_seq: Option<i64>,
    /// 64 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_head: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Quarantined {
    pub seq: i64,
    pub time: i64,
    pub time_iso: String,
    pub what: Vec<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct ChainHead {
    pub seq: i64,
    /// Hex.
    pub hash: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ChainStart {
    pub after_seq: i64,
    /// Hex.
    pub hash: String,
}

/// Where and why the chain breaks.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChainBreak {
    pub seq: i64,
    pub event_id: String,
    pub reason: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointResult {
    pub seq: i64,
    pub ok: bool,
    pub archived: bool,
    pub broken_at: Option<ChainBreak>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub ok: bool,
    /// Events checked.
    pub events: usize,
    pub broken_at: Option<ChainBreak>,
    pub quarantined: Vec<Quarantined>,
    pub head: Option<ChainHead>,
    pub start: Option<ChainStart>,
    pub checkpoint: Option<CheckpointResult>,
}

/// A signed checkpoint of the audit chain's end, as written to a file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Checkpoint {
    pub format: String,
    /// The sequence number of the chain's last event at the checkpoint.
    pub seq: i64,
    /// That event's link, hex.
    pub head: String,
    /// When the checkpoint was taken, Unix milliseconds.
    pub time: i64,
    /// The Ed25519 public key, hex.
    pub public_key: String,
    /// The signature over the fields above, hex.
    pub signature: String,
}

/// `GET /api/v1/hush/audit/export`.
#[derive(Serialize, Deserialize, ToSchema, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ExportQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    /// `ndjson` (default, also `jsonl`) or `csv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}
