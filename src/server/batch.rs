//! `POST /api/v1/hush/secrets/batch`: many secrets in one all-or-nothing write
//! (what `hush import` uses). Values are stored byte-exact, as with hush's PUT.

use super::error::ApiError;
use super::extract::{ApiJson, Auth};
use super::wire::ResolveScope;
use super::AppState;
use crate::api::secrets::{BatchBody, BatchItem as Item, BatchResult, BatchWritten};
use crate::secret::{SecretKey, SecretValue};
use crate::service::batch::BatchItem;
use crate::service::secrets::Tag;
use crate::service::Action;
use axum::extract::State;
use axum::Json;

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
) -> Result<Json<BatchResult>, ApiError> {
    // Every item is parsed before anything is written.
    let items = body
        .secrets
        .into_iter()
        .map(parse_item)
        .collect::<Result<Vec<_>, _>>()?;
    let scope = body.scope.resolve(&state, &ctx, Action::Write).await?;
    let outcomes = state.service.write_batch(&ctx, &scope, items).await?;
    let created = outcomes.iter().filter(|o| o.previous_version == 0).count();
    let updated = outcomes.len() - created;
    let secrets = outcomes
        .into_iter()
        .map(|o| BatchWritten {
            id: o.id,
            secret_key: o.key,
            version: o.version,
            previous_version: o.previous_version,
        })
        .collect();
    Ok(Json(BatchResult {
        secrets,
        created,
        updated,
        environment: scope.env.slug.clone(),
        secret_path: scope.path.as_str().to_owned(),
    }))
}
