//! Infisical wire shapes shared by the routes: the scope parameters every secrets
//! call carries, and the secret object `S` (every field of the contract, every
//! time: the Python SDK builds it with `cls(**fields)`).

use super::error::ApiError;
use super::AppState;
use crate::service::secrets::{Scope, SecretView};
use crate::service::{iso, Action, Ctx};
use serde::Deserialize;
use serde_json::{json, Value};

/// Project, environment and folder of a request, from its query or body.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ScopeParams {
    pub workspace_id: Option<String>,
    pub workspace_slug: Option<String>,
    pub project_slug: Option<String>,
    pub project_id: Option<String>,
    pub environment: Option<String>,
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

    pub fn project(&self) -> Result<&str, ApiError> {
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
        .ok_or_else(|| {
            ApiError::bad_request(
                "Missing project id or environment: pass workspaceId (or workspaceSlug)",
            )
        })
    }

    pub async fn resolve(
        &self,
        state: &AppState,
        ctx: &Ctx,
        action: Action,
    ) -> Result<Scope, ApiError> {
        let project = self.project()?;
        let env = self
            .environment
            .as_deref()
            .filter(|e| !e.is_empty())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "Missing project id or environment: pass environment (e.g. dev)",
                )
            })?;
        let path = self.secret_path.as_deref().unwrap_or("/");
        Ok(state.service.scope(ctx, project, env, path, action).await?)
    }
}

/// The secret object of Infisical's v3 API (plus hush's `tags` as key/value).
pub fn secret_json(s: &SecretView, with_value: bool) -> Value {
    let tags: Vec<Value> = s
        .tags
        .iter()
        .map(|t| json!({ "id": t.key, "slug": t.key, "name": format!("{}={}", t.key, t.value), "key": t.key, "value": t.value }))
        .collect();
    json!({
        "id": s.id,
        "_id": s.id,
        "workspace": s.project_id,
        "environment": s.env,
        "version": s.version,
        "type": if s.personal { "personal" } else { "shared" },
        "secretKey": s.key,
        "secretValue": if with_value { s.value.expose() } else { "" },
        "secretValueHidden": !with_value,
        "secretComment": s.comment,
        "secretPath": s.path,
        "secretReminderNote": null,
        "secretReminderRepeatDays": null,
        "skipMultilineEncoding": false,
        "secretMetadata": [],
        "tags": tags,
        "createdAt": iso(s.created_at),
        "updatedAt": iso(s.updated_at),
    })
}
