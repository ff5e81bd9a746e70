//! Folder routes in Infisical's shape: `/api/v2/folders` (projectId) and the
//! v1 variants (workspaceId) that the Node SDK and the Go CLI call.

use super::error::ApiError;
use super::extract::{flag, ApiJson, ApiPath, ApiQuery, Auth};
use super::wire::ScopeParams;
use super::AppState;
use crate::service::folders::FolderView;
use crate::service::{iso, Action, Ctx};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// Scope of a folder request: the parent folder is `path` (Infisical's name),
/// `secretPath` also accepted; `directory` is the v1 list's older name.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct FolderScope {
    #[serde(flatten)]
    scope: ScopeParams,
    path: Option<String>,
    directory: Option<String>,
}

impl FolderScope {
    async fn resolve(
        &self,
        state: &AppState,
        ctx: &Ctx,
        action: Action,
    ) -> Result<crate::service::secrets::Scope, ApiError> {
        let mut scope = self.scope.clone();
        scope.secret_path = self
            .path
            .clone()
            .or_else(|| self.directory.clone())
            .or(scope.secret_path);
        scope.resolve(state, ctx, action).await
    }
}

fn folder_json(f: &FolderView, base: Option<&str>) -> Value {
    let created = f.created_at.or(f.last_secret_modified).map(iso);
    let mut out = json!({
        "id": f.id,
        "name": f.name,
        "envId": f.env_id,
        "path": f.path,
        "version": 1,
        "parentId": f.parent_id,
        "isReserved": false,
        "description": null,
        "createdAt": created,
        "updatedAt": created,
        "lastSecretModified": f.last_secret_modified.map(iso),
        "implicit": f.implicit,
    });
    if let Some(base) = base {
        let relative = f
            .path
            .strip_prefix(base.trim_end_matches('/'))
            .unwrap_or(&f.path);
        out["relativePath"] = json!(relative);
    }
    out
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    #[serde(flatten)]
    scope: FolderScope,
    recursive: Option<String>,
    #[allow(dead_code)]
    last_secret_modified: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let recursive = flag(&q.recursive, false)?;
    let scope = q.scope.resolve(&state, &ctx, Action::Read).await?;
    let folders = state.service.list_folders(&ctx, &scope, recursive).await?;
    let base = scope.path.as_str();
    let list: Vec<Value> = folders.iter().map(|f| folder_json(f, Some(base))).collect();
    Ok(Json(json!({ "folders": list })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CreateBody {
    #[serde(flatten)]
    scope: FolderScope,
    name: Option<String>,
    #[allow(dead_code)]
    description: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<Json<Value>, ApiError> {
    let name = body
        .name
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::validation("name is required"))?;
    let scope = body.scope.resolve(&state, &ctx, Action::Write).await?;
    let folder = state.service.create_folder(&ctx, &scope, name).await?;
    Ok(Json(json!({ "folder": folder_json(&folder, None) })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DeleteBody {
    #[serde(flatten)]
    scope: FolderScope,
    force_delete: Option<Value>,
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id_or_name): ApiPath<String>,
    ApiQuery(q): ApiQuery<FolderScope>,
    ApiJson(body): ApiJson<DeleteBody>,
) -> Result<Json<Value>, ApiError> {
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
    let merged = FolderScope {
        scope: body.scope.scope.clone().or(q.scope),
        path: body.scope.path.clone().or(q.path),
        directory: body.scope.directory.clone().or(q.directory),
    };
    let scope = merged.resolve(&state, &ctx, Action::Write).await?;
    let (folder, deleted) = state
        .service
        .delete_folder(&ctx, &scope, &id_or_name, force)
        .await?;
    Ok(Json(
        json!({ "folder": folder_json(&folder, None), "deletedSecrets": deleted }),
    ))
}
