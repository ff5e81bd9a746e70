//! Secrets: Infisical's v3 `secrets/raw` (and the Go CLI's v4 list) and
//! hush's extensions (upsert with `ifVersion`, batch, history, rollback,
//! restore, purge, the deleted list, imports, the change feed).
//!
//! The secret object borrows from the server's views (`Cow`): lists serialise
//! many of them per request, and copying every string first would cost more
//! than the serialisation. A client reads them as owned strings.

use super::common::ScopeParams;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use utoipa::ToSchema;

/// `GET /api/v3/secrets/raw` and `/api/v4/secrets`.
#[derive(Serialize, Deserialize, ToSchema, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    #[serde(flatten)]
    pub scope: ScopeParams,
    /// Include the secrets of folders below `secretPath`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive: Option<String>,
    /// Python's name (snake case).
    #[serde(
        rename = "include_imports",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub include_imports: Option<String>,
    /// Default true: `${...}` references are expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expand_secret_references: Option<String>,
    /// Default true; false answers every value as `""`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_secret_value: Option<String>,
    /// `a,b`: only secrets with one of these tag keys (or `key=value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_slugs: Option<String>,
    /// Node's SDK and the Go CLI send camelCase.
    #[serde(
        rename = "includeImports",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub include_imports_camel: Option<String>,
    /// hush: `key,value` answers each secret as only its key and value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<String>,
}

/// `GET /api/v3/secrets/raw/{name}`.
#[derive(Serialize, Deserialize, ToSchema, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct GetQuery {
    #[serde(flatten)]
    pub scope: ScopeParams,
    /// A positive version number; default the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `shared` (default) or `personal`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_secret_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expand_secret_references: Option<String>,
}

/// The body of a create, update or upsert.
#[derive(Serialize, Deserialize, ToSchema, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct WriteBody {
    #[serde(flatten)]
    pub scope: ScopeParams,
    /// Required except for an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_comment: Option<String>,
    /// `shared` (default) or `personal`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Update: rename the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_secret_name: Option<String>,
    /// hush: `key=value` tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// hush: optimistic concurrency (0 = create only if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_version: Option<i64>,
    /// Infisical field, accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub tag_ids: Option<serde_json::Value>,
    /// Infisical field, accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub skip_multiline_encoding: Option<serde_json::Value>,
}

/// `DELETE /api/v3/secrets/raw/{name}`: the scope in the body (Python) or
/// the query string.
#[derive(Serialize, Deserialize, ToSchema, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct DeleteBody {
    #[serde(flatten)]
    pub scope: ScopeParams,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// `GET /api/v1/hush/secrets/{name}/history`.
#[derive(Serialize, Deserialize, ToSchema, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct HistoryQuery {
    #[serde(flatten)]
    pub scope: ScopeParams,
    /// Include every version's value (audited as a read of each).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reveal: Option<String>,
}

/// `POST /api/v1/hush/secrets/{name}/rollback`.
#[derive(Serialize, Deserialize, ToSchema, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct RollbackBody {
    #[serde(flatten)]
    pub scope: ScopeParams,
    pub version: i64,
}

/// A tag as Infisical's clients expect it (`id`, `slug`, `name`), plus hush's
/// `key`/`value`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct Tag<'a> {
    #[schema(value_type = String)]
    pub id: Cow<'a, str>,
    #[schema(value_type = String)]
    pub slug: Cow<'a, str>,
    /// `key=value`.
    pub name: String,
    #[schema(value_type = String)]
    pub key: Cow<'a, str>,
    #[schema(value_type = String)]
    pub value: Cow<'a, str>,
}

/// The secret object `S` of Infisical's v3 API: every field of the contract,
/// every time (the Python SDK builds it with `cls(**fields)`).
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Secret<'a> {
    #[schema(value_type = String)]
    pub id: Cow<'a, str>,
    /// The same as `id`.
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub underscore_id: Cow<'a, str>,
    /// The project's id.
    #[schema(value_type = String)]
    pub workspace: Cow<'a, str>,
    /// The environment's slug.
    #[schema(value_type = String)]
    pub environment: Cow<'a, str>,
    pub version: i64,
    /// `shared` or `personal`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: Cow<'a, str>,
    #[schema(value_type = String)]
    pub secret_key: Cow<'a, str>,
    /// `""` when the value is not shown (`secretValueHidden`).
    #[schema(value_type = String)]
    pub secret_value: Cow<'a, str>,
    pub secret_value_hidden: bool,
    #[schema(value_type = String)]
    pub secret_comment: Cow<'a, str>,
    #[schema(value_type = String)]
    pub secret_path: Cow<'a, str>,
    pub secret_reminder_note: Option<String>,
    pub secret_reminder_repeat_days: Option<i64>,
    pub skip_multiline_encoding: bool,
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    pub secret_metadata: Vec<serde_json::Value>,
    pub tags: Vec<Tag<'a>>,
    pub created_at: String,
    pub updated_at: String,
}

/// A secret of a `fields=key,value` list.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretPair<'a> {
    #[schema(value_type = String)]
    pub secret_key: Cow<'a, str>,
    #[schema(value_type = String)]
    pub secret_value: Cow<'a, str>,
}

/// One secret of a list: whole, or (with `fields=key,value`) a pair.
// Unboxed: an answer is built once and dropped, and boxing would cost an
// allocation per secret.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)]
pub enum Listed<'a> {
    Whole(Secret<'a>),
    Pair(SecretPair<'a>),
}

impl<'a> Listed<'a> {
    pub fn key(&self) -> &str {
        match self {
            Listed::Whole(s) => &s.secret_key,
            Listed::Pair(p) => &p.secret_key,
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Listed::Whole(s) => &s.secret_value,
            Listed::Pair(p) => &p.secret_value,
        }
    }
}

/// The secrets an import brings into a folder.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ImportedList<'a> {
    #[schema(value_type = String)]
    pub secret_path: Cow<'a, str>,
    #[schema(value_type = String)]
    pub environment: Cow<'a, str>,
    #[schema(value_type = String)]
    pub folder_id: Cow<'a, str>,
    pub secrets: Vec<Listed<'a>>,
}

/// `{secrets, imports}`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct SecretList<'a> {
    pub secrets: Vec<Listed<'a>>,
    pub imports: Vec<ImportedList<'a>>,
}

/// `{secret}`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct SecretEnvelope<'a> {
    pub secret: Secret<'a>,
}

/// A write's answer: the secret and, for a shared secret, the version it
/// replaced (0 when it created the secret).
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Written<'a> {
    pub secret: Secret<'a>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<i64>,
}

/// A deleted secret: recoverable until `recoverableUntil`. A personal
/// override (`type: personal`) is deleted for good and carries neither time.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct DeletedSecret<'a> {
    #[serde(flatten)]
    pub secret: Secret<'a>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recoverable_until: Option<String>,
}

/// A delete's answer.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct DeletedAnswer<'a> {
    pub secret: DeletedSecret<'a>,
}

/// One version of a secret's history.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct HistoryVersion<'a> {
    #[serde(flatten)]
    pub secret: Secret<'a>,
    pub actor: String,
    pub action: String,
    /// Without `reveal`: a keyed digest of the value, equal for equal values
    /// within this one answer only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_fingerprint: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct History<'a> {
    pub versions: Vec<HistoryVersion<'a>>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct RolledBack<'a> {
    pub secret: Secret<'a>,
    pub previous_version: i64,
    pub rolled_back_to: i64,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct Purged {
    pub purged: String,
}

/// A soft-deleted secret of `GET /api/v1/hush/deleted`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct DeletedListed {
    pub id: String,
    pub secret_key: String,
    pub secret_path: String,
    pub environment: String,
    pub version: i64,
    pub deleted_at: Option<String>,
    pub recoverable_until: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct DeletedList {
    pub secrets: Vec<DeletedListed>,
}

/// One item of `POST /api/v1/hush/secrets/batch`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct BatchItem {
    pub secret_key: String,
    pub secret_value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_version: Option<i64>,
}

/// Many secrets in one all-or-nothing write.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct BatchBody {
    #[serde(flatten)]
    pub scope: ScopeParams,
    pub secrets: Vec<BatchItem>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct BatchWritten {
    pub id: String,
    pub secret_key: String,
    pub version: i64,
    /// 0 when the item created the secret.
    pub previous_version: i64,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct BatchResult {
    pub secrets: Vec<BatchWritten>,
    pub created: usize,
    pub updated: usize,
    pub environment: String,
    pub secret_path: String,
}

/// Imports use `path` where secrets use `secretPath`.
#[derive(Serialize, Deserialize, ToSchema, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ImportScope {
    #[serde(flatten)]
    pub scope: ScopeParams,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl ImportScope {
    /// The scope, `path` standing for a missing `secretPath`.
    pub fn params(&self) -> ScopeParams {
        let mut p = self.scope.clone();
        if p.secret_path.is_none() {
            p.secret_path = self.path.clone();
        }
        p
    }
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct ImportFrom {
    pub environment: String,
    pub path: String,
}

/// `POST /api/v1/secret-imports`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct CreateImport {
    #[serde(flatten)]
    pub at: ImportScope,
    pub import: ImportFrom,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct ImportEnv {
    pub slug: String,
    pub id: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct SecretImport {
    pub id: String,
    pub import_path: String,
    pub import_env: ImportEnv,
    pub position: i64,
    pub created_at: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ImportCreated {
    pub message: String,
    pub secret_import: SecretImport,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ImportsList {
    pub secret_imports: Vec<SecretImport>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct ImportId {
    pub id: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ImportDeleted {
    pub secret_import: ImportId,
}

/// `GET /api/v1/hush/changes`: without `after`, the current cursor; with it,
/// the changes after it, waiting up to `wait` seconds for a first one.
#[derive(Serialize, Deserialize, ToSchema, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ChangesQuery {
    #[serde(flatten)]
    pub scope: ScopeParams,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Seconds, at most 55.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<String>,
}

/// A change the caller may read.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub seq: i64,
    pub time: String,
    pub action: String,
    pub environment: Option<String>,
    pub secret_path: Option<String>,
    pub keys: Vec<String>,
    pub version: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct ChangePage {
    /// Pass back as `after` to continue from here.
    pub cursor: i64,
    pub changes: Vec<Change>,
}
