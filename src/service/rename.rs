//! Renaming a secret (Infisical's `newSecretName`). Every retained version is
//! re-sealed for the new name (the AAD binds the key name), and the rename itself
//! is a new version, all in one transaction.

use super::secrets::{Content, Scope, SecretView, WriteOutcome};
use super::{Ctx, Service, ServiceError, ServiceResult};
use crate::secret::{SecretKey, SecretValue};
use crate::store::{PutVersion, SecretRow};

pub struct RenameInput {
    pub key: SecretKey,
    pub new_key: SecretKey,
    pub value: Option<SecretValue>,
    pub comment: Option<String>,
    pub tags: Option<Vec<super::secrets::Tag>>,
    pub if_version: Option<i64>,
}

impl Service {
    pub async fn rename_secret(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        input: RenameInput,
    ) -> ServiceResult<WriteOutcome> {
        self.check_content(
            &input.new_key,
            input.value.as_ref(),
            input.comment.as_deref(),
            input.tags.as_deref(),
        )?;
        let path = scope.path.as_str();
        if self
            .store
            .secret(&scope.env.id, path, input.new_key.as_str(), None)
            .await?
            .is_some()
        {
            return Err(ServiceError::BadRequest(format!(
                "Secret already exist: {}",
                input.new_key
            )));
        }
        let current = self
            .store
            .secret(&scope.env.id, path, input.key.as_str(), None)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "Secret not found: {} in environment {:?}, path {:?}",
                    input.key, scope.env.slug, path
                ))
            })?;
        let stored = current.head.current_version;
        if input.if_version.is_some_and(|v| v != stored) {
            return Err(ServiceError::Conflict { current: stored });
        }
        let renamed_head = crate::store::SecretHead {
            key: input.new_key.to_string(),
            ..current.head.clone()
        };
        let mut resealed = Vec::new();
        let mut latest: Option<Content> = None;
        for version in self.store.history(&current.head.secret_id).await? {
            let content = self
                .open_row(&scope.project, &scope.env, &current.head, &version)
                .await?;
            let (_, row) = self
                .seal(
                    scope,
                    &input.new_key,
                    version.version,
                    &content,
                    &version.actor,
                    &version.action,
                )
                .await?;
            resealed.push(crate::store::VersionRow {
                created_at: version.created_at,
                ..row
            });
            if version.version == stored {
                latest = Some(content);
            }
        }
        let latest = latest
            .ok_or_else(|| ServiceError::Internal("current version missing from history".into()))?;
        let content = Content {
            value: input.value.unwrap_or(latest.value),
            comment: input.comment.unwrap_or(latest.comment),
            tags: input.tags.unwrap_or(latest.tags),
        };
        let next_version = stored + 1;
        let (key_id, next) = self
            .seal(
                scope,
                &input.new_key,
                next_version,
                &content,
                &ctx.actor.name,
                "rename-secret",
            )
            .await?;
        let mut event = ctx.event("update-secret");
        event.project_id = Some(scope.project.id.clone());
        event.environment = Some(scope.env.slug.clone());
        event.path = Some(path.to_owned());
        event.keys = vec![input.key.to_string(), input.new_key.to_string()];
        event.from_version = Some(stored);
        event.to_version = Some(next_version);
        let now = self.now_ms();
        let put = PutVersion {
            secret_id: current.head.secret_id.clone(),
            project_id: scope.project.id.clone(),
            env_id: scope.env.id.clone(),
            path: path.to_owned(),
            key: input.new_key.to_string(),
            expected_current: stored,
            version: next.clone(),
            max_versions: scope.project.max_versions,
            now,
        };
        let renamed = self
            .store
            .rename_secret(
                &current.head.secret_id,
                input.new_key.as_str(),
                resealed,
                put,
                event,
            )
            .await;
        let count = self.stale_keys(&scope.project.id, renamed).await?;
        self.keys
            .note_usage(&self.store, &scope.project.id, key_id, count)
            .await?;
        let row = SecretRow {
            head: renamed_head,
            version: next,
        };
        let mut view: SecretView = self.view(&scope.project, &scope.env, &row).await?;
        view.updated_at = now;
        Ok(WriteOutcome {
            secret: view,
            previous_version: stored,
        })
    }
}
