//! Projects (Infisical's "workspaces") and their environments.

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Auth};
use super::AppState;
use crate::service::iso;
use crate::store::{EnvRow, ProjectRow};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

fn project_json(p: &ProjectRow) -> Value {
    json!({ "id": p.id, "_id": p.id, "name": p.name, "slug": p.slug, "maxVersions": p.max_versions, "createdAt": iso(p.created_at) })
}

fn env_json(e: &EnvRow) -> Value {
    json!({ "id": e.id, "name": e.name, "slug": e.slug, "position": e.position, "protected": e.protected,
            "projectId": e.project_id, "createdAt": iso(e.created_at), "updatedAt": iso(e.created_at) })
}

pub async fn list(State(state): State<AppState>, Auth(ctx): Auth) -> Result<Json<Value>, ApiError> {
    let projects = state.service.list_projects(&ctx).await?;
    Ok(Json(
        json!({ "projects": projects.iter().map(project_json).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateProject {
    project_name: String,
}

pub async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateProject>,
) -> Result<Json<Value>, ApiError> {
    let project = state
        .service
        .create_project(&ctx, &body.project_name)
        .await?;
    Ok(Json(json!({ "project": project_json(&project) })))
}

pub async fn environments(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(project): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let (_, envs) = state.service.list_environments(&ctx, &project).await?;
    Ok(Json(
        json!({ "environments": envs.iter().map(env_json).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize)]
pub struct CreateEnv {
    slug: String,
    name: Option<String>,
    #[serde(default)]
    protected: bool,
}

pub async fn create_environment(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(project): ApiPath<String>,
    ApiJson(body): ApiJson<CreateEnv>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(
        json!({ "message": "Successfully created environment", "workspace": project.id, "environment": env_json(&env) }),
    ))
}
