//! Personal overrides: a user's own value for a shared secret, seen only by that
//! user (listing shadows the shared value for them).

use super::secrets::{Scope, SecretView};
use super::{new_id, ActorKind, Ctx, Service, ServiceError, ServiceResult};
use crate::crypto::{secret_aad, Field};
use crate::secret::{SecretKey, SecretValue};
use crate::store::PersonalRow;

fn personal_aad(scope: &Scope, key: &str, owner: &str, version: i64) -> Vec<u8> {
    // The owner is folded into the key component, so one user's override never
    // opens as another's.
    secret_aad(
        &scope.project.id,
        &scope.env.id,
        scope.path.as_str(),
        &format!("{key}\0personal\0{owner}"),
        version,
        Field::Value,
    )
}

impl Service {
    fn require_user(ctx: &Ctx) -> ServiceResult<()> {
        if ctx.actor.kind == ActorKind::User {
            Ok(())
        } else {
            Err(ServiceError::BadRequest("personal secrets belong to users; machine identities and service tokens use shared secrets".into()))
        }
    }

    /// Creates or updates the caller's override of a shared secret.
    pub async fn set_personal(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        key: &SecretKey,
        value: SecretValue,
    ) -> ServiceResult<SecretView> {
        Self::require_user(ctx)?;
        self.check_content(key, Some(&value), None, None)?;
        let shared = self
            .store
            .secret(&scope.env.id, scope.path.as_str(), key.as_str(), None)
            .await?
            .ok_or_else(|| {
                ServiceError::BadRequest(format!(
                    "no shared secret {key} to override: create the shared secret first"
                ))
            })?;
        let existing = self
            .store
            .personal_secrets(&ctx.actor.id, vec![shared.head.secret_id.clone()])
            .await?
            .pop();
        let version = existing.as_ref().map(|p| p.version).unwrap_or(0) + 1;
        let (key_id, data_key) = self.keys.current(&self.store, &scope.project.id).await?;
        let value_ct = data_key
            .seal(
                &personal_aad(scope, key.as_str(), &ctx.actor.id, version),
                value.expose().as_bytes(),
            )
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let now = self.now_ms();
        let row = PersonalRow {
            id: existing
                .as_ref()
                .map(|p| p.id.clone())
                .unwrap_or_else(new_id),
            secret_id: shared.head.secret_id.clone(),
            owner_id: ctx.actor.id.clone(),
            version,
            key_id,
            value_ct,
            created_at: existing.as_ref().map(|p| p.created_at).unwrap_or(now),
            updated_at: now,
        };
        let mut event = ctx.event("update-personal-secret");
        event.project_id = Some(scope.project.id.clone());
        event.environment = Some(scope.env.slug.clone());
        event.path = Some(scope.path.as_str().to_owned());
        event.keys = vec![key.to_string()];
        event.to_version = Some(version);
        let stored = self
            .store
            .put_personal(row.clone(), version - 1, event)
            .await;
        self.stale_keys(&scope.project.id, stored).await?;
        let mut view = self.get_secret(ctx, scope, key, None).await?;
        view.value = value;
        view.personal = true;
        view.version = version;
        Ok(view)
    }

    pub async fn delete_personal(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        key: &SecretKey,
    ) -> ServiceResult<SecretView> {
        Self::require_user(ctx)?;
        let view = self
            .personalised(
                ctx,
                scope,
                vec![self.get_secret(ctx, scope, key, None).await?],
            )
            .await?
            .remove(0);
        if !view.personal {
            return Err(ServiceError::NotFound(format!(
                "no personal override of {key}"
            )));
        }
        let mut event = ctx.event("delete-personal-secret");
        event.project_id = Some(scope.project.id.clone());
        event.environment = Some(scope.env.slug.clone());
        event.keys = vec![key.to_string()];
        self.store
            .delete_personal(&view.id, &ctx.actor.id, event)
            .await?;
        Ok(view)
    }

    /// Replaces shared values with the caller's overrides, where they have any.
    pub async fn personalised(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        mut views: Vec<SecretView>,
    ) -> ServiceResult<Vec<SecretView>> {
        if ctx.actor.kind != ActorKind::User || views.is_empty() {
            return Ok(views);
        }
        let rows = self
            .store
            .personal_secrets(&ctx.actor.id, views.iter().map(|v| v.id.clone()).collect())
            .await?;
        for row in rows {
            let Some(view) = views.iter_mut().find(|v| v.id == row.secret_id) else {
                continue;
            };
            let key = self
                .keys
                .key(&self.store, &scope.project.id, row.key_id)
                .await?;
            let folder = Scope {
                path: crate::secret::SecretPath::parse(&view.path)?,
                ..scope.clone()
            };
            let plain = key
                .open(
                    &personal_aad(&folder, &view.key, &ctx.actor.id, row.version),
                    &row.value_ct,
                )
                .map_err(|_| ServiceError::Integrity(format!("personal secret {}", row.id)))?;
            view.value = SecretValue::new(
                String::from_utf8(plain.to_vec())
                    .map_err(|_| ServiceError::Integrity(format!("personal secret {}", row.id)))?,
            );
            view.version = row.version;
            view.updated_at = row.updated_at;
            view.personal = true;
        }
        Ok(views)
    }

    /// The caller's override of one secret, if any (`type=personal` reads).
    pub async fn get_personal(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        key: &SecretKey,
    ) -> ServiceResult<SecretView> {
        let shared = self.get_secret(ctx, scope, key, None).await?;
        let view = self.personalised(ctx, scope, vec![shared]).await?.remove(0);
        if view.personal {
            Ok(view)
        } else {
            Err(ServiceError::NotFound(format!(
                "no personal override of {key}"
            )))
        }
    }
}
