//! Folders in Infisical's shape (`/api/v2/folders` with `projectId`, the v1
//! variants with `workspaceId`).

use super::common::ScopeParams;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Scope of a folder request: the parent folder is `path` (Infisical's name),
/// `secretPath` also accepted; `directory` is the v1 list's older name.
#[derive(Serialize, Deserialize, ToSchema, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct FolderScope {
    #[serde(flatten)]
    pub scope: ScopeParams,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
}

impl FolderScope {
    /// The scope, the parent folder taken from `path`, `directory` or
    /// `secretPath` in that order.
    pub fn params(&self) -> ScopeParams {
        let mut scope = self.scope.clone();
        scope.secret_path = self
            .path
            .clone()
            .or_else(|| self.directory.clone())
            .or(scope.secret_path);
        scope
    }

    /// Fills fields missing here from `other` (a DELETE's query string).
    pub fn or(self, other: FolderScope) -> FolderScope {
        FolderScope {
            scope: self.scope.or(other.scope),
            path: self.path.or(other.path),
            directory: self.directory.or(other.directory),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct FolderListQuery {
    #[serde(flatten)]
    pub scope: FolderScope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive: Option<String>,
    /// Infisical's parameter, accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_secret_modified: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct CreateFolder {
    #[serde(flatten)]
    pub scope: FolderScope,
    /// Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Infisical's field, accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct DeleteFolder {
    #[serde(flatten)]
    pub scope: FolderScope,
    /// `true`/`false`, as a JSON boolean or a string: delete the folder's
    /// secrets with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub force_delete: Option<serde_json::Value>,
}

/// Infisical's folder object, plus hush's `implicit` (a folder with no row
/// of its own, there because secrets are below it) and, in lists,
/// `relativePath`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Folder {
    pub id: String,
    pub name: String,
    pub env_id: String,
    pub path: String,
    pub version: i64,
    pub parent_id: String,
    pub is_reserved: bool,
    pub description: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub last_secret_modified: Option<String>,
    pub implicit: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_path: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct FolderEnvelope {
    pub folder: Folder,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct FoldersList {
    pub folders: Vec<Folder>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct FolderDeleted {
    pub folder: Folder,
    /// The keys of the secrets deleted with the folder.
    pub deleted_secrets: Vec<String>,
}
