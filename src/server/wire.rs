//! Infisical wire shapes shared by the routes: the scope parameters every secrets
//! call carries, and the secret object `S` (every field of the contract, every
//! time: the Python SDK builds it with `cls(**fields)`).

use super::error::ApiError;
use super::AppState;
use crate::service::secrets::{Scope, SecretView};
use crate::service::{iso, Action, Ctx};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Project, environment and folder of a request, from its query or body.
#[derive(Deserialize, Default, Clone, PartialEq, Eq, Hash)]
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

/// A tag as Infisical's clients expect it (`id`, `slug`, `name`), plus hush's
/// `key`/`value`.
#[derive(Serialize)]
pub struct TagWire<'a> {
    id: &'a str,
    slug: &'a str,
    name: String,
    key: &'a str,
    value: &'a str,
}

/// The secret object `S` of Infisical's v3 API. A typed struct rather than a
/// `serde_json::Value`: lists serialise tens of these per request, and building
/// a map for each is far slower than serialising a struct.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretWire<'a> {
    id: &'a str,
    #[serde(rename = "_id")]
    underscore_id: &'a str,
    workspace: &'a str,
    environment: &'a str,
    version: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    secret_key: &'a str,
    secret_value: &'a str,
    secret_value_hidden: bool,
    secret_comment: &'a str,
    secret_path: &'a str,
    secret_reminder_note: Option<&'a str>,
    secret_reminder_repeat_days: Option<i64>,
    skip_multiline_encoding: bool,
    secret_metadata: [(); 0],
    tags: Vec<TagWire<'a>>,
    created_at: String,
    updated_at: String,
}

impl<'a> SecretWire<'a> {
    pub fn new(s: &'a SecretView, with_value: bool) -> Self {
        SecretWire {
            id: &s.id,
            underscore_id: &s.id,
            workspace: &s.project_id,
            environment: &s.env,
            version: s.version,
            kind: if s.personal { "personal" } else { "shared" },
            secret_key: &s.key,
            secret_value: if with_value { s.value.expose() } else { "" },
            secret_value_hidden: !with_value,
            secret_comment: &s.comment,
            secret_path: &s.path,
            secret_reminder_note: None,
            secret_reminder_repeat_days: None,
            skip_multiline_encoding: false,
            secret_metadata: [],
            tags: s
                .tags
                .iter()
                .map(|t| TagWire {
                    id: &t.key,
                    slug: &t.key,
                    name: format!("{}={}", t.key, t.value),
                    key: &t.key,
                    value: &t.value,
                })
                .collect(),
            created_at: iso(s.created_at),
            updated_at: iso(s.updated_at),
        }
    }
}

/// The secret object as a JSON value, for routes that add fields to it.
pub fn secret_json(s: &SecretView, with_value: bool) -> Value {
    serde_json::to_value(SecretWire::new(s, with_value)).unwrap_or(Value::Null)
}
