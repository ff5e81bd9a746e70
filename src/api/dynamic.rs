//! Dynamic secrets and their leases (issue 24): Infisical's
//! `/api/v1/dynamic-secrets` and `/api/v1/dynamic-secrets/leases` shapes,
//! which the official SDKs' `dynamic_secrets` clients send and parse, plus
//! a few fields of hush's own (marked). A definition is addressed by its
//! name in a folder: `projectSlug` (or `projectId`/`workspaceId`),
//! `environmentSlug` and `path` in the query or body.

use super::common::ScopeParams;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Project, environment and folder of a dynamic secret (Infisical's names).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct DynamicScope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_slug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    /// The environment's slug, e.g. `dev`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_slug: Option<String>,
    /// The folder, `/` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl DynamicScope {
    /// The same scope in the shape every other route resolves.
    pub fn params(&self) -> ScopeParams {
        ScopeParams {
            workspace_id: self.workspace_id.clone(),
            project_id: self.project_id.clone(),
            project_slug: self.project_slug.clone(),
            environment: self.environment_slug.clone(),
            secret_path: self.path.clone(),
            ..Default::default()
        }
    }

    /// Fills fields missing here from `other` (a DELETE's query string).
    pub fn or(self, other: DynamicScope) -> DynamicScope {
        DynamicScope {
            project_slug: self.project_slug.or(other.project_slug),
            project_id: self.project_id.or(other.project_id),
            workspace_id: self.workspace_id.or(other.workspace_id),
            environment_slug: self.environment_slug.or(other.environment_slug),
            path: self.path.or(other.path),
        }
    }
}

/// A provider's connection and statements (`provider.inputs`). Infisical's
/// `sql-database` inputs (with `client`: `postgres` or `mysql`) and
/// `redis` inputs. `password` is written, never read back.
#[derive(Serialize, Deserialize, ToSchema, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProviderInputs {
    /// `sql-database`: `postgres` or `mysql` (MariaDB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    pub host: String,
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The admin user ("" or absent: Redis' default user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The admin password (stored sealed; never returned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// With `{{username}}`, `{{password}}`, `{{expiration}}` (and
    /// `{{password_hash}}` for MySQL, `{{password_sha256}}` for Redis).
    pub creation_statement: String,
    pub revocation_statement: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_statement: Option<String>,
    /// A CA certificate (PEM): not supported yet, refused when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// hush: PostgreSQL `sslmode` (default prefer); MySQL `require`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_mode: Option<String>,
}

impl std::fmt::Debug for ProviderInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderInputs")
            .field("client", &self.client)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// `provider` of a definition: `{type, inputs}`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct ProviderSpec {
    /// `sql-database` or `redis`.
    #[serde(rename = "type")]
    pub kind: String,
    pub inputs: ProviderInputs,
}

/// hush: the names a lease's values take in its `data` (and in the
/// environment of `hush run --dynamic`).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OutputKeys {
    pub username: String,
    pub password: String,
}

impl Default for OutputKeys {
    fn default() -> Self {
        OutputKeys {
            username: "DB_USERNAME".into(),
            password: "DB_PASSWORD".into(),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct MetadataItem {
    pub key: String,
    pub value: String,
}

/// `POST /api/v1/dynamic-secrets`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct CreateDynamicSecret {
    pub name: String,
    pub provider: ProviderSpec,
    /// E.g. `1h` (1 minute to 30 days).
    #[serde(rename = "defaultTTL")]
    pub default_ttl: String,
    /// The longest a lease may live, renewals included (default: 24h or
    /// the default TTL, whichever is longer).
    #[serde(rename = "maxTTL", default, skip_serializing_if = "Option::is_none")]
    pub max_ttl: Option<String>,
    #[serde(flatten)]
    pub scope: DynamicScope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_keys: Option<OutputKeys>,
}

/// `data` of `PATCH /api/v1/dynamic-secrets/{name}`: what changes.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct DynamicChanges {
    /// Fields of `provider.inputs` to change (the others stay; a password
    /// given replaces the stored one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<InputChanges>,
    #[serde(
        rename = "defaultTTL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub default_ttl: Option<String>,
    #[serde(rename = "maxTTL", default, skip_serializing_if = "Option::is_none")]
    pub max_ttl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Vec<MetadataItem>>,
    /// Not supported: hush makes user names itself (refused when given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_template: Option<String>,
}

/// Changed fields of `provider.inputs`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct InputChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_statement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_statement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_statement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_mode: Option<String>,
}

impl std::fmt::Debug for InputChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputChanges")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// `PATCH /api/v1/dynamic-secrets/{name}`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDynamicSecret {
    #[serde(flatten)]
    pub scope: DynamicScope,
    #[serde(default)]
    pub data: DynamicChanges,
}

/// A definition as read: no password, ever.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct DynamicSecret {
    pub id: String,
    pub name: String,
    pub version: i64,
    /// `sql-database` or `redis`.
    #[serde(rename = "type")]
    pub kind: String,
    pub folder_id: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(rename = "defaultTTL")]
    pub default_ttl: String,
    #[serde(rename = "maxTTL")]
    pub max_ttl: String,
    pub status: Option<String>,
    pub status_details: Option<String>,
    pub username_template: Option<String>,
    pub metadata: Vec<MetadataItem>,
    /// The inputs without `password`.
    #[schema(value_type = Object)]
    pub inputs: serde_json::Value,
    /// hush: the environment's slug and the folder.
    pub environment: String,
    pub path: String,
    pub output_keys: OutputKeys,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct DynamicSecretEnvelope {
    pub dynamic_secret: DynamicSecret,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct DynamicSecretsList {
    pub dynamic_secrets: Vec<DynamicSecret>,
}

/// The scope of `GET` routes (query string).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct DynamicQuery {
    #[serde(flatten)]
    pub scope: DynamicScope,
}

/// `DELETE /api/v1/dynamic-secrets/{name}` and
/// `DELETE /api/v1/dynamic-secrets/leases/{id}` (body, or query).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct DynamicDelete {
    #[serde(flatten)]
    pub scope: DynamicScope,
    /// Forget without revoking in the database (its users stay there).
    #[serde(default)]
    pub is_forced: bool,
}

/// `POST /api/v1/dynamic-secrets/leases`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct CreateLease {
    pub dynamic_secret_name: String,
    #[serde(flatten)]
    pub scope: DynamicScope,
    /// E.g. `1h`; default: the definition's default TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
}

/// `POST /api/v1/dynamic-secrets/leases/{id}/renew`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct RenewLease {
    #[serde(flatten)]
    pub scope: DynamicScope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
}

/// A lease: no credential (its password is returned once, at creation).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    pub id: String,
    pub expire_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    pub dynamic_secret_id: String,
    /// The database user the lease made.
    pub external_entity_id: String,
    /// None while in use; `Revoking`, or `FailedDeletion` after a failed
    /// revocation (retried).
    pub status: Option<String>,
    /// Why the last revocation failed.
    pub status_details: Option<String>,
    /// hush: failed revocations in a row, and when the next is tried.
    pub failures: i64,
    pub next_attempt_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_secret: Option<DynamicSecret>,
}

/// What creating a lease answers: `data` holds the credential (named by
/// the definition's output keys). Not `Debug`: it holds a password.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(rename_all = "camelCase")]
pub struct LeaseCreated {
    pub lease: Lease,
    pub dynamic_secret: DynamicSecret,
    pub data: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct LeaseEnvelope {
    pub lease: Lease,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct LeasesList {
    pub leases: Vec<Lease>,
}
