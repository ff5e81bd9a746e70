//! Infisical wire shapes shared by the routes: resolving the scope
//! parameters every secrets call carries, and building the secret object `S`
//! (`api::secrets::Secret`) from the service's view.

use super::error::ApiError;
use super::AppState;
use crate::api::secrets::{Secret, Tag};
use crate::service::secrets::{Scope, SecretView};
use crate::service::{iso, Action, Ctx};
use std::borrow::Cow;

pub use crate::api::common::ScopeParams;

/// Resolving a request's scope parameters to a checked scope.
pub trait ResolveScope {
    fn project_or_400(&self) -> Result<&str, ApiError>;
    fn resolve(
        &self,
        state: &AppState,
        ctx: &Ctx,
        action: Action,
    ) -> impl std::future::Future<Output = Result<Scope, ApiError>> + Send;
}

impl ResolveScope for ScopeParams {
    fn project_or_400(&self) -> Result<&str, ApiError> {
        self.project().ok_or_else(|| {
            ApiError::bad_request(
                "Missing project id or environment: pass workspaceId (or workspaceSlug)",
            )
        })
    }

    async fn resolve(
        &self,
        state: &AppState,
        ctx: &Ctx,
        action: Action,
    ) -> Result<Scope, ApiError> {
        let project = self.project_or_400()?;
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

/// The secret object `S` of a view; the value only `with_value`.
pub fn secret_wire(s: &SecretView, with_value: bool) -> Secret<'_> {
    Secret {
        id: Cow::Borrowed(&s.id),
        underscore_id: Cow::Borrowed(&s.id),
        workspace: Cow::Borrowed(&s.project_id),
        environment: Cow::Borrowed(&s.env),
        version: s.version,
        kind: Cow::Borrowed(if s.personal { "personal" } else { "shared" }),
        secret_key: Cow::Borrowed(&s.key),
        secret_value: Cow::Borrowed(if with_value { s.value.expose() } else { "" }),
        secret_value_hidden: !with_value,
        secret_comment: Cow::Borrowed(&s.comment),
        secret_path: Cow::Borrowed(&s.path),
        secret_reminder_note: None,
        secret_reminder_repeat_days: None,
        skip_multiline_encoding: false,
        secret_metadata: Vec::new(),
        tags: s
            .tags
            .iter()
            .map(|t| Tag {
                id: Cow::Borrowed(&t.key),
                slug: Cow::Borrowed(&t.key),
                name: format!("{}={}", t.key, t.value),
                key: Cow::Borrowed(&t.key),
                value: Cow::Borrowed(&t.value),
            })
            .collect(),
        created_at: iso(s.created_at),
        updated_at: iso(s.updated_at),
    }
}
