//! Projects (Infisical's "workspaces") and their environments.

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Auth};
use super::AppState;
use crate::api::projects::{
    CreateEnvironment, CreateProject, Environment, EnvironmentCreated, EnvironmentsList, Project,
    ProjectEnvelope, ProjectsList,
};
use crate::service::iso;
use crate::store::{EnvRow, ProjectRow};
use axum::extract::State;
use axum::Json;

pub(super) fn project_json(p: &ProjectRow) -> Project {
    Project {
        id: p.id.clone(),
        underscore_id: p.id.clone(),
        name: p.name.clone(),
        slug: p.slug.clone(),
        max_versions: p.max_versions,
        pit_version_limit: p.max_versions,
        created_at: iso(p.created_at),
    }
}

pub(super) fn env_json(e: &EnvRow) -> Environment {
    Environment {
        id: e.id.clone(),
        name: e.name.clone(),
        slug: e.slug.clone(),
        position: e.position,
        protected: e.protected,
        project_id: e.project_id.clone(),
        created_at: iso(e.created_at),
        updated_at: iso(e.created_at),
    }
}

pub async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> Result<Json<ProjectsList>, ApiError> {
    let projects = state.service.list_projects(&ctx).await?;
    Ok(Json(ProjectsList {
        projects: projects.iter().map(project_json).collect(),
    }))
}

pub async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateProject>,
) -> Result<Json<ProjectEnvelope>, ApiError> {
    let project = state
        .service
        .create_project(&ctx, &body.project_name)
        .await?;
    Ok(Json(ProjectEnvelope {
        project: project_json(&project),
    }))
}

pub async fn environments(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(project): ApiPath<String>,
) -> Result<Json<EnvironmentsList>, ApiError> {
    let (_, envs) = state.service.list_environments(&ctx, &project).await?;
    Ok(Json(EnvironmentsList {
        environments: envs.iter().map(env_json).collect(),
    }))
}

pub async fn create_environment(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(project): ApiPath<String>,
    ApiJson(body): ApiJson<CreateEnvironment>,
) -> Result<Json<EnvironmentCreated>, ApiError> {
    let (project, env) = state
        .service
        .create_environment(
            &ctx,
            &project,
            &body.slug,
            body.name.as_deref(),
            body.protected,
        )
        .await?;
    Ok(Json(EnvironmentCreated {
        message: "Successfully created environment".into(),
        workspace: project.id,
        environment: env_json(&env),
    }))
}
