//! Projects (Infisical's "workspaces") and their environments.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: String,
    #[serde(rename = "_id")]
    pub underscore_id: String,
    pub name: String,
    pub slug: String,
    pub max_versions: i64,
    /// Infisical's name for `maxVersions` (the same value).
    #[serde(default)]
    pub pit_version_limit: i64,
    pub created_at: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct ProjectEnvelope {
    pub project: Project,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct ProjectsList {
    pub projects: Vec<Project>,
}

/// `POST /api/v2/workspace`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct CreateProject {
    pub project_name: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub position: i64,
    /// Writes need a project admin.
    pub protected: bool,
    pub project_id: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct EnvironmentsList {
    pub environments: Vec<Environment>,
}

/// `POST /api/v1/workspace/{project}/environments`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct CreateEnvironment {
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub protected: bool,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct EnvironmentCreated {
    pub message: String,
    /// The project's id.
    pub workspace: String,
    pub environment: Environment,
}

/// `PATCH /api/v1/workspace/{project}/environments/{id}` (Infisical's body).
/// Only the name changes: a `slug` or `position` other than the current one
/// is refused.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Default)]
pub struct UpdateEnvironment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentUpdated {
    pub message: String,
    /// The project's id (older Infisical clients read this).
    pub workspace: String,
    /// The project's id (newer Infisical clients read this).
    pub project_id: String,
    pub environment: Environment,
}

/// `PUT /api/v1/workspace/{project}/version-limit` (Infisical).
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct VersionLimit {
    /// Versions kept per secret, 1 to 1000.
    pub pit_version_limit: i64,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct VersionLimitChanged {
    pub message: String,
    pub workspace: Project,
    /// The same project, under newer Infisical's name.
    pub project: Project,
}

/// Reads a present `null` as `Some(None)` and an absent field (with
/// `#[serde(default)]`) as `None`.
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

/// `PATCH /api/v1/hush/projects/{project}/settings`: the limits to change.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct UpdateProjectSettings {
    /// Versions kept per secret, 1 to 1000; older ones go at a secret's next write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_versions: Option<i64>,
    /// Days a deleted secret stays recoverable, 1 to 365; `null` goes back
    /// to the server's `--recovery-window`. Applies to deletions made after.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "nullable"
    )]
    #[schema(value_type = Option<i64>)]
    pub recovery_window_days: Option<Option<i64>>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSettings {
    pub project_id: String,
    pub project_slug: String,
    pub max_versions: i64,
    /// The project's own window, `null` when the server's applies.
    pub recovery_window_days: Option<i64>,
    /// The window a deletion made now gets.
    pub recovery_window_seconds: i64,
    /// The server's `--recovery-window`.
    pub default_recovery_window_seconds: i64,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct ProjectSettingsEnvelope {
    pub settings: ProjectSettings,
}
