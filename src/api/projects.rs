//! Projects (Infisical's "workspaces") and their environments.

use serde::{Deserialize, Serialize};
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
