//! Infisical's KMS API (`/api/v1/kms/keys`), as its SDKs call it: create,
//! list, get (by id or name), update and delete keys, and encrypt and decrypt
//! base64 payloads with them. Answers are `{key}`, `{keys, totalCount}`,
//! `{ciphertext}` and `{plaintext}`; a key is never answered, only its
//! metadata.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// `POST /api/v1/kms/keys`.
#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct CreateKmsKey {
    pub project_id: String,
    /// Unique in the project; letters, digits, `-`, `_` and `.`, at most 64.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `aes-256-gcm` (the default); `aes-128-gcm` is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_algorithm: Option<String>,
}

/// `PATCH /api/v1/kms/keys/{keyId}`: what is absent or null stays.
#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct UpdateKmsKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_disabled: Option<bool>,
}

/// `GET /api/v1/kms/keys`.
#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct KmsKeysQuery {
    pub project_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    /// 1 to 100; default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Only `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
    /// `asc` (default) or `desc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_direction: Option<String>,
    /// Keys whose name contains this (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
}

/// `GET /api/v1/kms/keys/key-name/{name}`.
#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct KmsKeyByNameQuery {
    pub project_id: String,
}

/// A KMS key as answered: metadata only.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct KmsKey {
    pub id: String,
    pub description: String,
    pub is_disabled: bool,
    /// hush has no organizations: the project id.
    pub org_id: String,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
    pub project_id: String,
    pub version: i64,
    /// Always `aes-256-gcm`.
    pub encryption_algorithm: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct KmsKeyEnvelope {
    pub key: KmsKey,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KmsKeyList {
    pub keys: Vec<KmsKey>,
    /// Keys matching `search`, before `offset` and `limit`.
    pub total_count: i64,
}

/// `POST /api/v1/kms/keys/{keyId}/encrypt`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct KmsEncrypt {
    /// Base64 of at most 4096 bytes.
    #[schema(value_type = String)]
    pub plaintext: Zeroizing<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct KmsCiphertext {
    pub ciphertext: String,
}

/// `POST /api/v1/kms/keys/{keyId}/decrypt`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct KmsDecrypt {
    pub ciphertext: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct KmsPlaintext {
    /// Base64.
    #[schema(value_type = String)]
    pub plaintext: Zeroizing<String>,
}
