//! A project's changeable settings: its limits (hush's route and
//! Infisical's version limit) and its environments' names (Infisical's
//! environment update). The service decides who may change what.

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Auth};
use super::projects::{env_json, project_json};
use super::AppState;
use crate::api::projects::{
    EnvironmentUpdated, ProjectSettings, ProjectSettingsEnvelope, UpdateEnvironment,
    UpdateProjectSettings, VersionLimit, VersionLimitChanged,
};
use crate::service::project_settings::{self as settings, EnvUpdate, SettingsRequest};
use crate::store::ProjectRow;
use axum::extract::State;
use axum::Json;

fn settings_json(p: &ProjectRow, s: &settings::ProjectSettings) -> ProjectSettingsEnvelope {
    const DAY_MS: i64 = 24 * 3600 * 1000;
    ProjectSettingsEnvelope {
        settings: ProjectSettings {
            project_id: p.id.clone(),
            project_slug: p.slug.clone(),
            max_versions: s.max_versions,
            recovery_window_days: s.recovery_window_ms.map(|ms| ms / DAY_MS),
            recovery_window_seconds: s.effective_recovery_window_ms() / 1000,
            default_recovery_window_seconds: s.default_recovery_window_ms / 1000,
        },
    }
}

pub async fn show(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(project): ApiPath<String>,
) -> Result<Json<ProjectSettingsEnvelope>, ApiError> {
    let (p, s) = state.service.project_settings(&ctx, &project).await?;
    Ok(Json(settings_json(&p, &s)))
}

pub async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(project): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateProjectSettings>,
) -> Result<Json<ProjectSettingsEnvelope>, ApiError> {
    let request = SettingsRequest {
        max_versions: body.max_versions,
        recovery_window_days: body.recovery_window_days,
    };
    let (p, s) = state
        .service
        .update_project_settings(&ctx, &project, &request)
        .await?;
    Ok(Json(settings_json(&p, &s)))
}

/// Infisical's `PUT /api/v1/workspace/{workspaceSlug}/version-limit`.
pub async fn version_limit(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(project): ApiPath<String>,
    ApiJson(body): ApiJson<VersionLimit>,
) -> Result<Json<VersionLimitChanged>, ApiError> {
    let request = SettingsRequest {
        max_versions: Some(body.pit_version_limit),
        recovery_window_days: None,
    };
    let (p, _) = state
        .service
        .update_project_settings(&ctx, &project, &request)
        .await?;
    Ok(Json(VersionLimitChanged {
        message: "Successfully changed workspace version limit".into(),
        workspace: project_json(&p),
        project: project_json(&p),
    }))
}

/// Infisical's `PATCH /api/v1/workspace/{workspaceId}/environments/{id}`:
/// `id` is the environment's id or its slug.
pub async fn update_environment(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath((project, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<UpdateEnvironment>,
) -> Result<Json<EnvironmentUpdated>, ApiError> {
    let update = EnvUpdate {
        name: body.name.as_deref(),
        slug: body.slug.as_deref(),
        position: body.position,
    };
    let (p, env) = state
        .service
        .update_environment(&ctx, &project, &id, &update)
        .await?;
    Ok(Json(EnvironmentUpdated {
        message: "Successfully updated environment".into(),
        workspace: p.id.clone(),
        project_id: p.id,
        environment: env_json(&env),
    }))
}
