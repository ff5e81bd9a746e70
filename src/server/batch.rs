//! `POST /api/v1/hush/secrets/batch`: many secrets in one all-or-nothing write
//! (what `hush import` uses). Values are stored byte-exact, as with hush's PUT.

use super::error::ApiError;
use super::extract::{ApiJson, Auth};
use super::wire::ScopeParams;
use super::AppState;
use crate::secret::{SecretKey, SecretValue};
use crate::service::batch::BatchItem;
use crate::service::secrets::Tag;
use crate::service::Action;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    secret_key: String,
    secret_value: String,
    secret_comment: Option<String>,
    tags: Option<Vec<String>>,
    if_version: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchBody {
    #[serde(flatten)]
    scope: ScopeParams,
    secrets: Vec<Item>,
}

fn parse_item(item: Item) -> Result<BatchItem, ApiError> {
    let key =
        SecretKey::parse(&item.secret_key).map_err(|e| ApiError::validation(e.to_string()))?;
    let tags = item
        .tags
        .map(|list| {
            list.iter()
                .map(|t| Tag::parse(t))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    Ok(BatchItem {
        key,
        value: SecretValue::new(item.secret_value),
        comment: item.secret_comment,
        tags,
        if_version: item.if_version,
    })
}

pub async fn write(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<BatchBody>,
) -> Result<Json<Value>, ApiError> {
    // Every item is parsed before anything is written.
    let items = body
        .secrets
        .into_iter()
        .map(parse_item)
        .collect::<Result<Vec<_>, _>>()?;
    let scope = body.scope.resolve(&state, &ctx, Action::Write).await?;
    let outcomes = state.service.write_batch(&ctx, &scope, items).await?;
    let created = outcomes.iter().filter(|o| o.previous_version == 0).count();
    let list: Vec<Value> = outcomes
        .iter()
        .map(|o| json!({ "id": o.id, "secretKey": o.key, "version": o.version, "previousVersion": o.previous_version }))
        .collect();
    Ok(Json(json!({
        "secrets": list,
        "created": created,
        "updated": outcomes.len() - created,
        "environment": scope.env.slug,
        "secretPath": scope.path.as_str(),
    })))
}
