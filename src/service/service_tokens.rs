//! Scoped service tokens for CI: one project, some (environment, path glob)
//! scopes, read or read+write, an expiry. Shown once, stored as a hash.

use super::access::{EnvPath, TokenScope};
use super::identity::{issue_token, IssuedToken};
use super::{Action, Ctx, Service, ServiceError, ServiceResult};
use crate::secret::EnvSlug;
use crate::store::{ProjectRow, TokenRow};

impl Service {
    async fn project_admin(&self, ctx: &Ctx, project: &str) -> ServiceResult<ProjectRow> {
        let (project, grant) = self.visible_project(ctx, project).await?;
        self.authorize(ctx, &project, &grant, None, None, Action::Admin)
            .await?;
        Ok(project)
    }

    pub async fn create_service_token(
        &self,
        ctx: &Ctx,
        project: &str,
        name: &str,
        scopes: Vec<EnvPath>,
        write: bool,
        ttl_secs: i64,
    ) -> ServiceResult<(TokenRow, IssuedToken)> {
        let project = self.project_admin(ctx, project).await?;
        if name.trim().is_empty() || name.len() > 64 {
            return Err(ServiceError::Validation(
                "a token needs a name of 1-64 characters".into(),
            ));
        }
        if scopes.is_empty() {
            return Err(ServiceError::Validation(
                "a token needs at least one environment scope (--env)".into(),
            ));
        }
        let envs = self.store.environments(&project.id).await?;
        for s in &scopes {
            EnvSlug::parse(&s.env)?;
            if !envs.iter().any(|e| e.slug == s.env) {
                return Err(ServiceError::NotFound(format!(
                    "environment {:?} not found in project {:?}",
                    s.env, project.slug
                )));
            }
            if !s.path.starts_with('/') && !s.path.starts_with('*') {
                return Err(ServiceError::Validation(format!(
                    "invalid path scope {:?}: use a folder glob like /api/**",
                    s.path
                )));
            }
        }
        let (mut row, issued) = issue_token(
            self.now_ms(),
            "service",
            "",
            name.trim(),
            ttl_secs,
            ttl_secs,
        )?;
        row.subject_id = row.id.clone();
        row.project_id = Some(project.id.clone());
        row.scope = serde_json::to_string(&TokenScope {
            project_id: project.id.clone(),
            scopes,
            write,
        })
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let mut event = ctx.event("create-service-token");
        event.project_id = Some(project.id.clone());
        event.keys = vec![row.name.clone()];
        self.store.insert_token(row.clone(), event).await?;
        Ok((row, issued))
    }

    pub async fn service_tokens(&self, ctx: &Ctx, project: &str) -> ServiceResult<Vec<TokenRow>> {
        let project = self.project_admin(ctx, project).await?;
        Ok(self.store.project_tokens(&project.id).await?)
    }

    pub async fn revoke_service_token(
        &self,
        ctx: &Ctx,
        project: &str,
        token_id: &str,
    ) -> ServiceResult<()> {
        let project = self.project_admin(ctx, project).await?;
        let token = self
            .store
            .token_by_id(token_id)
            .await?
            .filter(|t| t.project_id.as_deref() == Some(project.id.as_str()))
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "token {token_id:?} not found in project {:?}",
                    project.slug
                ))
            })?;
        let mut event = ctx.event("revoke-service-token");
        event.project_id = Some(project.id);
        event.keys = vec![token.name];
        self.store
            .revoke_token(&token.id, self.now_ms(), event)
            .await?;
        Ok(())
    }
}
