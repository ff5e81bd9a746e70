//! Folder routes in Infisical's shape: `/api/v2/folders` (projectId) and the
//! v1 variants (workspaceId) that the Node SDK and the Go CLI call.

use super::error::ApiError;
use super::extract::{flag, ApiJson, ApiPath, ApiQuery, Auth};
use super::wire::ResolveScope;
use super::AppState;
use crate::api::folders::{
    CreateFolder, DeleteFolder, Folder, FolderDeleted, FolderEnvelope, FolderListQuery,
    FolderScope, FoldersList,
};
use crate::service::folders::FolderView;
use crate::service::{iso, Action, Ctx};
use axum::extract::State;
use axum::Json;
use serde_json::Value;

async fn resolve(
    scope: &FolderScope,
    state: &AppState,
    ctx: &Ctx,
    action: Action,
) -> Result<crate::service::secrets::Scope, ApiError> {
    scope.params().resolve(state, ctx, action).await
}

fn folder_json(f: &FolderView, base: Option<&str>) -> Folder {
    let created = f.created_at.or(f.last_secret_modified).map(iso);
    Folder {
        id: f.id.clone(),
        name: f.name.clone(),
        env_id: f.env_id.clone(),
        path: f.path.clone(),
        version: 1,
        parent_id: f.parent_id.clone(),
        is_reserved: false,
        description: None,
        created_at: created.clone(),
        updated_at: created,
        last_secret_modified: f.last_secret_modified.map(iso),
        implicit: f.implicit,
        relative_path: base.map(|base| {
            f.path
                .strip_prefix(base.trim_end_matches('/'))
                .unwrap_or(&f.path)
                .to_owned()
        }),
    }
}

pub async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<FolderListQuery>,
) -> Result<Json<FoldersList>, ApiError> {
    let recursive = flag(&q.recursive, false)?;
    let scope = resolve(&q.scope, &state, &ctx, Action::Read).await?;
    let folders = state.service.list_folders(&ctx, &scope, recursive).await?;
    let base = scope.path.as_str();
    let folders = folders.iter().map(|f| folder_json(f, Some(base))).collect();
    Ok(Json(FoldersList { folders }))
}

pub async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateFolder>,
) -> Result<Json<FolderEnvelope>, ApiError> {
    let name = body
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::validation("name is required"))?;
    let scope = resolve(&body.scope, &state, &ctx, Action::Write).await?;
    let folder = state.service.create_folder(&ctx, &scope, name).await?;
    Ok(Json(FolderEnvelope {
        folder: folder_json(&folder, None),
    }))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id_or_name): ApiPath<String>,
    ApiQuery(q): ApiQuery<FolderScope>,
    ApiJson(body): ApiJson<DeleteFolder>,
) -> Result<Json<FolderDeleted>, ApiError> {
    // Booleans arrive as JSON booleans or as strings; both are accepted.
    let force = match &body.force_delete {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => flag(&Some(s.clone()), false)?,
        Some(other) => {
            return Err(ApiError::validation(format!(
                "forceDelete must be true or false, got {other}"
            )))
        }
    };
    let merged = body.scope.or(q);
    let scope = resolve(&merged, &state, &ctx, Action::Write).await?;
    let (folder, deleted) = state
        .service
        .delete_folder(&ctx, &scope, &id_or_name, force)
        .await?;
    Ok(Json(FolderDeleted {
        folder: folder_json(&folder, None),
        deleted_secrets: deleted,
    }))
}
