//! What one write may store (`crate::limits`): checked before anything is
//! sealed, so a refused write changes nothing. The counts are read, not
//! locked: writers racing at the bound may pass it by a few, never by a
//! request's worth.

use super::secrets::{Scope, Tag};
use super::{Service, ServiceError, ServiceResult};
use crate::secret::{SecretKey, SecretValue};

impl Service {
    /// Refuses a value, description or tags past their bounds, naming `key`.
    pub(super) fn check_content(
        &self,
        key: &SecretKey,
        value: Option<&SecretValue>,
        comment: Option<&str>,
        tags: Option<&[Tag]>,
    ) -> ServiceResult<()> {
        let limits = &self.settings.limits;
        let over = |what: &str, size: usize, limit: usize| {
            ServiceError::Validation(format!(
                "secret {key}: {what} is {size} bytes; the limit is {limit} bytes"
            ))
        };
        if let Some(v) = value.filter(|v| v.len() > limits.max_value_bytes) {
            return Err(over("the value", v.len(), limits.max_value_bytes));
        }
        if let Some(c) = comment.filter(|c| c.len() > limits.max_comment_bytes) {
            return Err(over("the description", c.len(), limits.max_comment_bytes));
        }
        let tags = tags.unwrap_or_default();
        if tags.len() > limits.max_tags {
            return Err(ServiceError::Validation(format!(
                "secret {key} has {} tags; the limit is {}",
                tags.len(),
                limits.max_tags
            )));
        }
        if let Some(t) = tags
            .iter()
            .find(|t| t.key.len() + 1 + t.value.len() > limits.max_tag_bytes)
        {
            let size = t.key.len() + 1 + t.value.len();
            return Err(over(
                &format!("tag {:?}", t.key),
                size,
                limits.max_tag_bytes,
            ));
        }
        Ok(())
    }

    /// Refuses a write that would add `new` live secrets to `scope`'s folder
    /// past the folder's or the project's bound.
    pub(super) async fn check_room(&self, scope: &Scope, new: i64) -> ServiceResult<()> {
        if new == 0 {
            return Ok(());
        }
        let limits = &self.settings.limits;
        let (folder, project) = self
            .store
            .live_secret_counts(&scope.env.id, scope.path.as_str())
            .await?;
        let full = |what: String, count: i64, limit: i64| {
            ServiceError::Validation(format!(
                "{what} holds {count} secrets; the limit is {limit}: delete some, or raise it (--max-secrets-per-folder, --max-secrets-per-project)"
            ))
        };
        if folder + new > limits.max_secrets_per_folder {
            let what = format!("folder {} of environment {:?}", scope.path, scope.env.slug);
            return Err(full(what, folder, limits.max_secrets_per_folder));
        }
        if project + new > limits.max_secrets_per_project {
            let what = format!("project {:?}", scope.project.slug);
            return Err(full(what, project, limits.max_secrets_per_project));
        }
        Ok(())
    }
}
