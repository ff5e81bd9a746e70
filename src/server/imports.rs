//! Secret imports (Infisical's `/api/v1/secret-imports`).

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use super::wire::ScopeParams;
use super::AppState;
use crate::service::{iso, Action};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// Imports use `path` where secrets use `secretPath`.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ImportScope {
    #[serde(flatten)]
    scope: ScopeParams,
    path: Option<String>,
}

impl ImportScope {
    fn params(&self) -> ScopeParams {
        let mut p = self.scope.clone();
        if p.secret_path.is_none() {
            p.secret_path = self.path.clone();
        }
        p
    }
}

#[derive(Deserialize)]
pub struct ImportFrom {
    environment: String,
    path: String,
}

#[derive(Deserialize)]
pub struct CreateImport {
    #[serde(flatten)]
    at: ImportScope,
    import: ImportFrom,
}

fn import_json(row: &crate::store::ImportRow, env: &str) -> Value {
    json!({ "id": row.id, "importPath": row.import_path, "importEnv": { "slug": env, "id": row.import_env_id }, "position": row.position, "createdAt": iso(row.created_at) })
}

pub async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateImport>,
) -> Result<Json<Value>, ApiError> {
    let scope = body
        .at
        .params()
        .resolve(&state, &ctx, Action::Write)
        .await?;
    let row = state
        .service
        .create_import(&ctx, &scope, &body.import.environment, &body.import.path)
        .await?;
    Ok(Json(
        json!({ "message": "Successfully created secret import", "secretImport": import_json(&row, &body.import.environment) }),
    ))
}

pub async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<ImportScope>,
) -> Result<Json<Value>, ApiError> {
    let scope = q.params().resolve(&state, &ctx, Action::Read).await?;
    let list = state.service.list_imports(&scope).await?;
    let sources = list
        .iter()
        .map(|(r, env)| format!("{env}:{}", r.import_path))
        .collect();
    state
        .service
        .audit_list(&ctx, &scope, "list-secret-imports", sources)
        .await?;
    Ok(Json(
        json!({ "secretImports": list.iter().map(|(r, env)| import_json(r, env)).collect::<Vec<_>>() }),
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ImportScope>,
) -> Result<Json<Value>, ApiError> {
    let scope = body.params().resolve(&state, &ctx, Action::Write).await?;
    state.service.delete_import(&ctx, &scope, &id).await?;
    Ok(Json(json!({ "secretImport": { "id": id } })))
}
