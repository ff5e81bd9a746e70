//! All-or-nothing batch writes (`hush import`): every item is sealed here and
//! the whole batch goes to the store as ONE transaction, so a conflict on any
//! item writes nothing.

use super::secrets::{Content, Scope, Tag};
use super::{Ctx, Service, ServiceError, ServiceResult};
use crate::secret::{SecretKey, SecretValue};
use crate::store::{AuditEvent, PutVersion, StoreError};
use std::collections::HashSet;

/// Batches retried after losing a race, when no item carried `if_version`.
const BATCH_RETRIES: usize = 8;
/// Most items in one batch (the body limit bounds the bytes).
pub const MAX_BATCH_ITEMS: usize = 10_000;

pub struct BatchItem {
    pub key: SecretKey,
    pub value: SecretValue,
    /// None keeps the current description (or empty for a new secret).
    pub comment: Option<String>,
    /// None keeps the current tags.
    pub tags: Option<Vec<Tag>>,
    /// The version the caller expects (0: must not exist); None: upsert.
    pub if_version: Option<i64>,
}

pub struct BatchOutcome {
    pub id: String,
    pub key: String,
    pub version: i64,
    /// 0 when the item created the secret.
    pub previous_version: i64,
}

impl Service {
    pub async fn write_batch(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        items: Vec<BatchItem>,
    ) -> ServiceResult<Vec<BatchOutcome>> {
        self.check_batch(&items)?;
        let strict = items.iter().any(|i| i.if_version.is_some());
        for _ in 0..BATCH_RETRIES {
            let mut puts = Vec::with_capacity(items.len());
            let mut outcomes = Vec::with_capacity(items.len());
            for item in &items {
                let (put, event, outcome) = self.prepare_item(ctx, scope, item).await?;
                puts.push((put, event));
                outcomes.push(outcome);
            }
            let created = outcomes.iter().filter(|o| o.previous_version == 0).count();
            self.check_room(scope, created as i64).await?;
            let key_ids: Vec<i64> = puts.iter().map(|(p, _)| p.version.key_id).collect();
            match self.store.put_versions(puts).await {
                Ok(counts) => {
                    if let Some((key_id, count)) =
                        key_ids.into_iter().zip(counts).max_by_key(|x| x.1)
                    {
                        self.keys
                            .note_usage(&self.store, &scope.project.id, key_id, count)
                            .await?;
                    }
                    return Ok(outcomes);
                }
                Err(StoreError::Conflict { current }) if strict => {
                    return Err(ServiceError::Conflict { current })
                }
                Err(StoreError::Conflict { .. }) => continue,
                // Its data key was retired meanwhile: seal again under the new one.
                Err(StoreError::StaleKey(_)) => {
                    self.keys.refresh(&self.store, &scope.project.id).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict { current: -1 })
    }

    fn check_batch(&self, items: &[BatchItem]) -> ServiceResult<()> {
        if items.is_empty() {
            return Err(ServiceError::Validation("the batch has no secrets".into()));
        }
        if items.len() > MAX_BATCH_ITEMS {
            return Err(ServiceError::Validation(format!(
                "the batch has {} secrets; the limit is {MAX_BATCH_ITEMS}",
                items.len()
            )));
        }
        let mut seen = HashSet::new();
        for item in items {
            if !seen.insert(item.key.as_str()) {
                return Err(ServiceError::Validation(format!(
                    "secret {} appears twice in the batch",
                    item.key
                )));
            }
            self.check_content(
                &item.key,
                Some(&item.value),
                item.comment.as_deref(),
                item.tags.as_deref(),
            )?;
        }
        Ok(())
    }

    /// Reads the item's head, checks `if_version`, and seals the new version.
    async fn prepare_item(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        item: &BatchItem,
    ) -> ServiceResult<(PutVersion, AuditEvent, BatchOutcome)> {
        let head = self
            .store
            .secret_head(&scope.env.id, scope.path.as_str(), item.key.as_str())
            .await?;
        let (secret_id, stored, visible) = super::secrets::head_state(head.as_ref());
        if let Some(expected) = item.if_version {
            if expected != visible {
                return Err(ServiceError::Conflict { current: visible });
            }
        }
        // Description and tags the caller left out carry over.
        let previous = match &head {
            Some(h) if visible > 0 && (item.comment.is_none() || item.tags.is_none()) => match self
                .store
                .secret(&scope.env.id, &h.path, &h.key, None)
                .await?
            {
                Some(row) => Some(
                    self.open_row(&scope.project, &scope.env, &row.head, &row.version)
                        .await?,
                ),
                None => None,
            },
            _ => None,
        };
        let content = Content {
            value: item.value.clone(),
            comment: item
                .comment
                .clone()
                .or_else(|| previous.as_ref().map(|p| p.comment.clone()))
                .unwrap_or_default(),
            tags: item
                .tags
                .clone()
                .or_else(|| previous.as_ref().map(|p| p.tags.clone()))
                .unwrap_or_default(),
        };
        let new_version = stored + 1;
        let event_name = if visible == 0 {
            "create-secret"
        } else {
            "update-secret"
        };
        let (_, version) = self
            .seal(
                scope,
                &item.key,
                new_version,
                &content,
                &ctx.actor.name,
                event_name,
            )
            .await?;
        // Same shape as a single write's event, so `hush audit --key K` finds it.
        let mut event = self.scoped_event(ctx, scope, event_name, vec![item.key.to_string()]);
        event.from_version = (visible > 0).then_some(visible);
        event.to_version = Some(new_version);
        let put = PutVersion {
            secret_id: secret_id.clone(),
            project_id: scope.project.id.clone(),
            env_id: scope.env.id.clone(),
            path: scope.path.as_str().to_owned(),
            key: item.key.to_string(),
            expected_current: stored,
            version,
            max_versions: scope.project.max_versions,
            now: self.now_ms(),
        };
        Ok((
            put,
            event,
            BatchOutcome {
                id: secret_id,
                key: item.key.to_string(),
                version: new_version,
                previous_version: visible,
            },
        ))
    }
}
