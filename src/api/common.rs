//! Shapes many routes share: the scope of a secrets request and the short
//! acknowledgements (`{message}`, `{revoked}`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Project, environment and folder of a request, from its query or body.
/// The project is any of the four project fields (Infisical's clients each
/// send one of them).
#[derive(Serialize, Deserialize, ToSchema, Default, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ScopeParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_slug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_slug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// The environment's slug, e.g. `dev`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The folder, `/` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_path: Option<String>,
}

impl ScopeParams {
    /// Fills fields missing here from `other` (e.g. a DELETE's query string).
    pub fn or(self, other: ScopeParams) -> ScopeParams {
        ScopeParams {
            workspace_id: self.workspace_id.or(other.workspace_id),
            workspace_slug: self.workspace_slug.or(other.workspace_slug),
            project_slug: self.project_slug.or(other.project_slug),
            project_id: self.project_id.or(other.project_id),
            environment: self.environment.or(other.environment),
            secret_path: self.secret_path.or(other.secret_path),
        }
    }

    /// The first non-empty project field.
    pub fn project(&self) -> Option<&str> {
        [
            &self.workspace_id,
            &self.project_id,
            &self.workspace_slug,
            &self.project_slug,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .find(|s| !s.is_empty())
    }
}

/// `{message}`: an acknowledgement in words.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct Message {
    pub message: String,
}

/// `{revoked}`: the id of what was revoked.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct Revoked {
    pub revoked: String,
}

/// A route without a request body of its own.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Default)]
pub struct Empty {}

/// `{status}` of the health probes; `reason` says why the audit log is behind.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct Health {
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
