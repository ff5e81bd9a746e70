//! What a project admin may change about a project after creating it: the
//! versions kept per secret, the recovery window of deleted secrets, and the
//! display names of environments.
//!
//! An environment's slug never changes: grants and their overrides, service
//! token scopes, webhooks, `hush run --env` lines in users' scripts and
//! `${env.path.KEY}` references inside encrypted values all name it, and a
//! slug re-created later must not inherit the grants of the old one.
//!
//! Both limits apply from the next event they govern: a lowered version
//! limit prunes a secret's history at its next write (`store::rules::
//! prune_through`), and a recovery window is read when a secret is deleted
//! (its `purge_after` is fixed then). Older history is not pruned at once, so
//! a mistaken low limit can be raised again before anything is lost.

use super::{Action, Ctx, Service, ServiceError, ServiceResult};
use crate::store::{EnvRow, ProjectRow, ProjectSettingsChange};

pub use crate::limits::{MAX_VERSIONS, RECOVERY_WINDOW_DAYS};
/// Longest environment display name, in bytes.
pub const MAX_ENV_NAME: usize = 64;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// A change a caller asks for; None leaves a limit as it is.
#[derive(Clone, Debug, Default)]
pub struct SettingsRequest {
    pub max_versions: Option<i64>,
    /// Some(None): back to the server's `--recovery-window`.
    pub recovery_window_days: Option<Option<i64>>,
}

/// The limits in force in a project.
#[derive(Clone, Debug)]
pub struct ProjectSettings {
    pub max_versions: i64,
    /// The project's own window, None when the server's applies.
    pub recovery_window_ms: Option<i64>,
    /// The server's `--recovery-window`.
    pub default_recovery_window_ms: i64,
}

impl ProjectSettings {
    /// The window a delete made now gets.
    pub fn effective_recovery_window_ms(&self) -> i64 {
        self.recovery_window_ms
            .unwrap_or(self.default_recovery_window_ms)
    }
}

/// The fields of an environment an update may name (Infisical's body).
#[derive(Clone, Debug, Default)]
pub struct EnvUpdate<'a> {
    pub name: Option<&'a str>,
    pub slug: Option<&'a str>,
    pub position: Option<i64>,
}

/// A display name: trimmed, 1 to 64 bytes, no control characters.
pub fn parse_env_name(raw: &str) -> ServiceResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.len() > MAX_ENV_NAME {
        return Err(ServiceError::BadRequest(format!(
            "an environment name is 1 to {MAX_ENV_NAME} bytes"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ServiceError::BadRequest(
            "an environment name has no control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

fn check_max_versions(n: i64) -> ServiceResult<i64> {
    if MAX_VERSIONS.contains(&n) {
        return Ok(n);
    }
    Err(ServiceError::BadRequest(format!(
        "maxVersions must be {} to {} (got {n})",
        MAX_VERSIONS.start(),
        MAX_VERSIONS.end()
    )))
}

fn check_recovery_days(days: i64) -> ServiceResult<i64> {
    if RECOVERY_WINDOW_DAYS.contains(&days) {
        return Ok(days * DAY_MS);
    }
    Err(ServiceError::BadRequest(format!(
        "recoveryWindowDays must be {} to {} days, or null for the server's default (got {days})",
        RECOVERY_WINDOW_DAYS.start(),
        RECOVERY_WINDOW_DAYS.end()
    )))
}

/// A window for the audit log: `7d`, or `30d (server default)`.
fn window_text(own: Option<i64>, default: i64) -> String {
    let days = |ms: i64| {
        if ms % DAY_MS == 0 {
            format!("{}d", ms / DAY_MS)
        } else {
            format!("{}s", ms / 1000)
        }
    };
    match own {
        Some(ms) => days(ms),
        None => format!("{} (server default)", days(default)),
    }
}

impl Service {
    /// The recovery window of deletions made now in `project`.
    pub fn recovery_window_ms(&self, project: &ProjectRow) -> i64 {
        project
            .recovery_window_ms
            .unwrap_or(self.settings.recovery_window_ms)
    }

    fn settings_of(&self, project: &ProjectRow) -> ProjectSettings {
        ProjectSettings {
            max_versions: project.max_versions,
            recovery_window_ms: project.recovery_window_ms,
            default_recovery_window_ms: self.settings.recovery_window_ms,
        }
    }

    /// A project's limits, for anyone who can see the project.
    pub async fn project_settings(
        &self,
        ctx: &Ctx,
        project: &str,
    ) -> ServiceResult<(ProjectRow, ProjectSettings)> {
        let (project, _) = self.visible_project(ctx, project).await?;
        let settings = self.settings_of(&project);
        Ok((project, settings))
    }

    /// Changes a project's limits (project admins); audited with the old and
    /// new limits.
    pub async fn update_project_settings(
        &self,
        ctx: &Ctx,
        project: &str,
        request: &SettingsRequest,
    ) -> ServiceResult<(ProjectRow, ProjectSettings)> {
        let (project, grant) = self.visible_project(ctx, project).await?;
        self.authorize(ctx, &project, &grant, None, None, Action::Admin)
            .await?;
        let change = ProjectSettingsChange {
            max_versions: request.max_versions.map(check_max_versions).transpose()?,
            recovery_window_ms: match request.recovery_window_days {
                None => None,
                Some(None) => Some(None),
                Some(Some(days)) => Some(Some(check_recovery_days(days)?)),
            },
        };
        if change.max_versions.is_none() && change.recovery_window_ms.is_none() {
            return Err(ServiceError::BadRequest(
                "nothing to change: give maxVersions and/or recoveryWindowDays".into(),
            ));
        }
        let mut updated = project.clone();
        let mut event = ctx.event("update-project-settings");
        event.project_id = Some(project.id.clone());
        if let Some(n) = change.max_versions {
            event
                .keys
                .push(format!("maxVersions: {} -> {n}", project.max_versions));
            updated.max_versions = n;
        }
        if let Some(window) = change.recovery_window_ms {
            let default = self.settings.recovery_window_ms;
            event.keys.push(format!(
                "recoveryWindow: {} -> {}",
                window_text(project.recovery_window_ms, default),
                window_text(window, default)
            ));
            updated.recovery_window_ms = window;
        }
        self.store
            .update_project_settings(&project.id, change, event)
            .await?;
        let settings = self.settings_of(&updated);
        Ok((updated, settings))
    }

    /// Renames an environment (project admins). `id_or_slug` names it by
    /// either; a body that would change its slug or position is refused.
    pub async fn update_environment(
        &self,
        ctx: &Ctx,
        project: &str,
        id_or_slug: &str,
        update: &EnvUpdate<'_>,
    ) -> ServiceResult<(ProjectRow, EnvRow)> {
        let (project, grant) = self.visible_project(ctx, project).await?;
        self.authorize(ctx, &project, &grant, None, None, Action::Admin)
            .await?;
        let env = self
            .store
            .environments(&project.id)
            .await?
            .into_iter()
            .find(|e| e.id == id_or_slug || e.slug == id_or_slug)
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "environment {:?} not found in project {:?}",
                    id_or_slug.chars().take(80).collect::<String>(),
                    project.slug
                ))
            })?;
        if update.slug.is_some_and(|s| s.trim() != env.slug) {
            return Err(ServiceError::BadRequest(format!(
                "an environment's slug cannot change (it is {:?}): grants, service tokens, \
                 webhooks, `hush run --env` and ${{env.path.KEY}} references name it; create a \
                 new environment and copy the secrets into it instead",
                env.slug
            )));
        }
        if update.position.is_some_and(|p| p != env.position) {
            return Err(ServiceError::BadRequest(format!(
                "an environment's position cannot change here (it is {}); only its name can",
                env.position
            )));
        }
        let name = parse_env_name(update.name.ok_or_else(|| {
            ServiceError::BadRequest("nothing to change: give the environment's new name".into())
        })?)?;
        let mut event = ctx.event("rename-environment");
        event.project_id = Some(project.id.clone());
        event.environment = Some(env.slug.clone());
        event.keys = vec![format!("name: {:?} -> {:?}", env.name, name)];
        self.store.rename_environment(&env.id, &name, event).await?;
        let renamed = EnvRow { name, ..env };
        Ok((project, renamed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_env_name("  Production EU ").unwrap(), "Production EU");
        assert!(parse_env_name("   ").is_err());
        assert!(parse_env_name(&"x".repeat(65)).is_err());
        assert!(parse_env_name(&"x".repeat(64)).is_ok());
        assert!(parse_env_name("line\nbreak").is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert!(check_max_versions(0).is_err());
        assert_eq!(check_max_versions(1000).unwrap(), 1000);
        assert!(check_max_versions(1001).is_err());
        assert!(check_recovery_days(0).is_err());
        assert_eq!(check_recovery_days(7).unwrap(), 7 * DAY_MS);
        assert!(check_recovery_days(366).is_err());
    }

    #[test]
    fn windows_read_as_days_or_seconds() {
        assert_eq!(window_text(Some(7 * DAY_MS), 0), "7d");
        assert_eq!(window_text(None, 30 * DAY_MS), "30d (server default)");
        assert_eq!(window_text(None, 90_000), "90s (server default)");
    }
}
