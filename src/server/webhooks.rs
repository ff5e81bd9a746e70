//! Webhooks over HTTP, in Infisical's shape (`/api/v1/webhooks`): add,
//! list, enable/disable (PATCH `{isDisabled}`), delete and test. Answers
//! never carry the full URL or the signing key.

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use super::AppState;
use crate::api::webhooks::{
    CreateWebhook, UpdateWebhook, WebhookEnvelope, WebhookList, WebhooksQuery,
};
use crate::service::webhooks::{NewWebhook, WebhookView};
use axum::extract::State;
use axum::Json;

fn envelope(message: &str, webhook: WebhookView) -> Json<WebhookEnvelope> {
    Json(WebhookEnvelope {
        message: message.into(),
        webhook,
    })
}

/// Webhook ids are UUIDs: anything else is unknown, and never reaches the
/// audit log as free text.
fn webhook_id(text: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(text)
        .map(|id| id.hyphenated().to_string())
        .map_err(|_| ApiError::not_found("webhook not found"))
}

pub async fn add(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<Json<WebhookEnvelope>, ApiError> {
    let new = NewWebhook {
        project: body.workspace_id,
        environment: body.environment,
        url: body.webhook_url,
        secret_key: body.webhook_secret_key,
        secret_path: body.secret_path,
        kind: body.kind,
    };
    let webhook = state.service.add_webhook(&ctx, new).await?;
    Ok(envelope("Successfully created webhook", webhook))
}

pub async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<WebhooksQuery>,
) -> Result<Json<WebhookList>, ApiError> {
    let webhooks = state
        .service
        .list_webhooks(
            &ctx,
            &q.workspace_id,
            q.environment.as_deref().filter(|e| !e.is_empty()),
            q.secret_path.as_deref().filter(|p| !p.is_empty()),
        )
        .await?;
    Ok(Json(WebhookList {
        message: "Successfully fetched webhook".into(),
        webhooks,
    }))
}

pub async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> Result<Json<WebhookEnvelope>, ApiError> {
    let webhook = state
        .service
        .set_webhook_disabled(&ctx, &webhook_id(&id)?, body.is_disabled)
        .await?;
    Ok(envelope("Successfully updated webhook", webhook))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<WebhookEnvelope>, ApiError> {
    let webhook = state
        .service
        .delete_webhook(&ctx, &webhook_id(&id)?)
        .await?;
    Ok(envelope("Successfully deleted webhook", webhook))
}

pub async fn test(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<WebhookEnvelope>, ApiError> {
    let webhook = state.service.test_webhook(&ctx, &webhook_id(&id)?).await?;
    Ok(envelope("Successfully tested webhook", webhook))
}

/// The webhook routes' own body limit (`webhooks::limits::BODY_LIMIT`).
pub fn bounded(
    route: axum::routing::MethodRouter<AppState>,
) -> axum::routing::MethodRouter<AppState> {
    use crate::webhooks::limits::BODY_LIMIT;
    route
        .layer::<_, std::convert::Infallible>(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer::<_, std::convert::Infallible>(axum::Extension(super::extract::BodyLimit(
            BODY_LIMIT,
        )))
}
