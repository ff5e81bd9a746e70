//! The audit event and its stored row: plain data, shared by the chain
//! (`audit`), the store and the service. A leaf: imports nothing from the crate.

use serde::{Deserialize, Serialize};

/// One audit event as the service describes it. Never holds a value.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: String,
    pub time: i64,
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
    /// `success`, `denied`, `failure`.
    pub result: String,
    /// The kind of client from its user agent: `hush-cli`, `python-sdk`,
    /// `node-sdk`, `go-cli`, `other`. Absent from events older than schema v3, so
    /// it is skipped when empty to keep their hashes valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// A stored event with its place in the hash chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRow {
    pub seq: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
    #[serde(with = "hex::serde")]
    pub prev_hash: Vec<u8>,
    #[serde(with = "hex::serde")]
    pub hash: Vec<u8>,
}
