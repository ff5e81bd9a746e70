//! Online re-keying (`/api/v1/hush/keys/...`, server admins): the root key
//! generation, data key rotation and its re-encryption progress. Nothing
//! here carries key material, only ids, counts and times.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/hush/keys/rotate-root`: a new root key generation.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
#[serde(rename_all = "camelCase")]
pub struct RootRotated {
    pub generation: i64,
    /// The root key provider that wraps the new generation's key.
    pub provider: String,
    /// Data keys now wrapped under it.
    pub data_keys: usize,
}

/// `POST /api/v1/hush/keys/rotate-data`.
#[derive(Serialize, Deserialize, ToSchema, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct RotateData {
    /// A project id or slug; absent: every project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// One project's new data key.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
#[serde(rename_all = "camelCase")]
pub struct DataRotated {
    pub project_id: String,
    pub key_id: i64,
    /// Ciphertexts the background job seals again under it.
    pub to_reseal: i64,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
#[serde(rename_all = "camelCase")]
pub struct DataRotatedList {
    pub projects: Vec<DataRotated>,
}

/// A project's re-encryption job.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct RekeyJobView {
    pub project_id: String,
    pub target_key_id: i64,
    pub total: i64,
    pub done: i64,
    pub requested_by: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// The last batch's failure, until a batch succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// `GET /api/v1/hush/keys/status`.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
#[serde(rename_all = "camelCase")]
pub struct KeyStatus {
    pub provider: String,
    pub provider_description: String,
    /// 0: data keys are wrapped by the root key itself (never rotated).
    pub generation: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_created_at: Option<String>,
    /// When the rotation policy (`--root-key-rotation`) rotates next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_rotation_at: Option<String>,
    pub data_keys: usize,
    /// Replaced data keys kept until nothing is sealed under them.
    pub retired_data_keys: usize,
    /// Keys still wrapped by a previous root key provider (a migration is
    /// done when this is 0).
    pub under_previous_provider: usize,
    pub jobs: Vec<RekeyJobView>,
}
