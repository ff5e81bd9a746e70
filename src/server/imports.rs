//! Secret imports (Infisical's `/api/v1/secret-imports`).

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use super::wire::ResolveScope;
use super::AppState;
use crate::api::secrets::{
    CreateImport, ImportCreated, ImportDeleted, ImportEnv, ImportId, ImportScope, ImportsList,
    SecretImport,
};
use crate::service::{iso, Action};
use axum::extract::State;
use axum::Json;

fn import_json(row: &crate::store::ImportRow, env: &str) -> SecretImport {
    SecretImport {
        id: row.id.clone(),
        import_path: row.import_path.clone(),
        import_env: ImportEnv {
            slug: env.to_owned(),
            id: row.import_env_id.clone(),
        },
        position: row.position,
        created_at: iso(row.created_at),
    }
}

pub async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateImport>,
) -> Result<Json<ImportCreated>, ApiError> {
    let scope = body
        .at
        .params()
        .resolve(&state, &ctx, Action::Write)
        .await?;
    let row = state
        .service
        .create_import(&ctx, &scope, &body.import.environment, &body.import.path)
        .await?;
    Ok(Json(ImportCreated {
        message: "Successfully created secret import".into(),
        secret_import: import_json(&row, &body.import.environment),
    }))
}

pub async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<ImportScope>,
) -> Result<Json<ImportsList>, ApiError> {
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
    Ok(Json(ImportsList {
        secret_imports: list.iter().map(|(r, env)| import_json(r, env)).collect(),
    }))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ImportScope>,
) -> Result<Json<ImportDeleted>, ApiError> {
    let scope = body.params().resolve(&state, &ctx, Action::Write).await?;
    state.service.delete_import(&ctx, &scope, &id).await?;
    Ok(Json(ImportDeleted {
        secret_import: ImportId { id },
    }))
}
