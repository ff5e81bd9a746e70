//! Rotation policies (issue 24): creating, listing, showing and deleting
//! them. A policy belongs to one secret; managing it takes write access to
//! that secret's folder (a database policy also project admin), seeing it
//! read access (each policy of a list is
//! checked on its own environment and folder). Running rotations is
//! `rotation_run`.

use super::secrets::Scope;
use super::{iso, new_id, now_ms, Action, Ctx, Service, ServiceError, ServiceResult};
use crate::rotation::generate::Generator;
use crate::rotation::limits::{MAX_AHEAD_SECS, MAX_POLICIES_PER_PROJECT};
use crate::rotation::schedule::Schedule;
use crate::secret::SecretKey;
use crate::store::rotations::{RotationRow, IDLE};
use crate::store::EnvRow;

/// The only provider of this slice: a generated value, written as a new
/// version of the secret.
pub const PROVIDER_VALUE: &str = "value";

/// What a caller gives to create a policy, already parsed.
pub struct NewRotation {
    pub key: SecretKey,
    pub schedule: Schedule,
    /// None: a reminder for a secret rotated by hand (`rotation_manual`).
    pub generator: Option<Generator>,
    /// The first rotation (Unix ms); default: one schedule step from now.
    pub next_at: Option<i64>,
    /// A database credential rotated by two-user alternation: the provider
    /// (`postgres`, `mysql`) and its settings; None: a generated value only.
    pub database: Option<(&'static str, super::rotation_db::DbConfig)>,
}

/// A policy as the API shows it (`api::rotations::Rotation`). It holds no
/// value: a generated value lives only in the secret's versions.
pub use crate::api::rotations::Rotation as RotationView;

pub(super) fn rotation_view(row: RotationRow, env: &str, now: i64) -> RotationView {
    let describe = Schedule::from_stored(&row.schedule)
        .map(|s| s.describe())
        .unwrap_or(row.schedule);
    let database = super::rotation_db::is_database(&row.provider)
        .then(|| serde_json::from_str::<super::rotation_db::DbConfig>(&row.config).ok())
        .flatten();
    let active_user = (row.state == IDLE)
        .then(|| serde_json::from_str::<serde_json::Value>(&row.state_data).ok())
        .flatten()
        .and_then(|v| v["active"].as_str().map(str::to_owned));
    RotationView {
        id: row.id,
        database,
        active_user,
        environment: env.to_owned(),
        secret_path: row.path,
        secret_key: row.key,
        schedule: describe,
        generator: row.generator,
        provider: row.provider,
        next_rotation_at: iso(row.next_at),
        state: row.state,
        last_attempt_at: row.last_attempt_at.map(iso),
        last_rotated_at: row.last_rotated_at.map(iso),
        last_result: row.last_result,
        last_error: row.last_error,
        failures: row.failures,
        running: row.lease_owner.is_some() && row.lease_until > now,
        created_at: iso(row.created_at),
        created_by: row.created_by,
    }
}

impl Service {
    /// The policy of `key` in `scope`'s folder, or a 404 naming it.
    pub(super) async fn policy_of(
        &self,
        scope: &Scope,
        key: &SecretKey,
    ) -> ServiceResult<RotationRow> {
        self.store
            .rotations()
            .rotation_of(&scope.env.id, scope.path.as_str(), key.as_str())
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "no rotation policy for {key} in environment {:?}, path {:?}; create one with hush rotation create",
                    scope.env.slug,
                    scope.path.as_str()
                ))
            })
    }

    /// `scope` was resolved for `Action::Write`.
    pub async fn create_rotation(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        new: NewRotation,
    ) -> ServiceResult<RotationView> {
        let now = now_ms();
        let next_at = match new.next_at {
            Some(at) => at,
            None => new
                .schedule
                .next_after(now)
                .ok_or_else(|| ServiceError::Validation("the cron schedule never fires".into()))?,
        };
        if next_at > now + MAX_AHEAD_SECS * 1000 {
            return Err(ServiceError::Validation(format!(
                "the next rotation must be within {} days",
                MAX_AHEAD_SECS / 86_400
            )));
        }
        let (provider, config) = match &new.database {
            None if new.generator.is_none() => {
                (super::rotation_manual::PROVIDER_MANUAL, "{}".to_owned())
            }
            None => (PROVIDER_VALUE, "{}".to_owned()),
            Some(_) if new.generator.is_none() => {
                return Err(ServiceError::Validation(
                    "a database policy needs a generator for its passwords".into(),
                ))
            }
            Some((provider, cfg)) => {
                cfg.check(provider, &new.key)
                    .map_err(ServiceError::Validation)?;
                // The server will connect out, with an admin credential, to
                // wherever that secret points: a project admin's decision,
                // not every writer's.
                self.authorize(ctx, &scope.project, &scope.grant, None, None, Action::Admin)
                    .await?;
                (
                    *provider,
                    serde_json::to_string(cfg)
                        .map_err(|e| ServiceError::Internal(e.to_string()))?,
                )
            }
        };
        if new.schedule.next_after(now).is_none() {
            return Err(ServiceError::Validation(
                "the cron schedule never fires".into(),
            ));
        }
        // Counted before the insert: racing creates may pass the bound by a
        // few, which a bound against accidents tolerates.
        let existing = self
            .store
            .rotations()
            .rotations(Some(&scope.project.id))
            .await?;
        if existing.len() >= MAX_POLICIES_PER_PROJECT {
            return Err(ServiceError::BadRequest(format!(
                "project {:?} already has {MAX_POLICIES_PER_PROJECT} rotation policies; delete one first",
                scope.project.slug
            )));
        }
        let row = RotationRow {
            id: new_id(),
            project_id: scope.project.id.clone(),
            env_id: scope.env.id.clone(),
            path: scope.path.as_str().to_owned(),
            key: new.key.to_string(),
            schedule: new.schedule.stored(),
            generator: new
                .generator
                .as_ref()
                .map(Generator::stored)
                .unwrap_or_else(|| super::rotation_manual::NO_GENERATOR.into()),
            provider: provider.into(),
            config,
            next_at,
            state: IDLE.into(),
            state_data: "{}".into(),
            lease_owner: None,
            lease_until: 0,
            last_attempt_at: None,
            last_rotated_at: None,
            last_result: None,
            last_error: None,
            failures: 0,
            created_at: now,
            created_by: ctx.actor.name.clone(),
        };
        let event = self.scoped_event(ctx, scope, "create-rotation", vec![row.key.clone()]);
        self.store
            .rotations()
            .create_rotation(row.clone(), event)
            .await?;
        Ok(rotation_view(row, &scope.env.slug, now))
    }

    /// The policies of a project the caller may read, optionally of one
    /// environment; each is checked on its own environment and folder.
    pub async fn list_rotations(
        &self,
        ctx: &Ctx,
        project: &str,
        env: Option<&str>,
    ) -> ServiceResult<Vec<RotationView>> {
        let (project, grant) = self.visible_project(ctx, project).await?;
        let envs: Vec<EnvRow> = match env {
            Some(slug) => vec![self.environment(&project, slug).await?],
            None => self.store.environments(&project.id).await?,
        };
        let now = now_ms();
        let rows = self.store.rotations().rotations(Some(&project.id)).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let env = envs.iter().find(|e| e.id == row.env_id)?;
                grant
                    .allows(Action::Read, Some(env), Some(&row.path))
                    .then(|| rotation_view(row, &env.slug, now))
            })
            .collect())
    }

    /// `scope` was resolved for `Action::Read`.
    pub async fn show_rotation(
        &self,
        scope: &Scope,
        key: &SecretKey,
    ) -> ServiceResult<RotationView> {
        let row = self.policy_of(scope, key).await?;
        Ok(rotation_view(row, &scope.env.slug, now_ms()))
    }

    /// `scope` was resolved for `Action::Write`. The secret and its versions
    /// stay; only the schedule goes.
    pub async fn delete_rotation(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        key: &SecretKey,
    ) -> ServiceResult<RotationView> {
        let row = self.policy_of(scope, key).await?;
        let event = self.scoped_event(ctx, scope, "delete-rotation", vec![row.key.clone()]);
        self.store
            .rotations()
            .delete_rotation(&row.id, event)
            .await?;
        Ok(rotation_view(row, &scope.env.slug, now_ms()))
    }
}
