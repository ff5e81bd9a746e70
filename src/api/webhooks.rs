//! Webhooks in Infisical's shape (`/api/v1/webhooks`): `{workspaceId,
//! environment, webhookUrl, webhookSecretKey?, secretPath, type?}` in,
//! `{message, webhook}` / `{message, webhooks}` out. Where hush differs: the
//! URL is never answered in full (`url` is `scheme://host/...`: a URL may
//! carry a token) and the key never at all (`hasSecretKey`), and each
//! webhook reports its delivery state.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// `POST /api/v1/webhooks`.
#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct CreateWebhook {
    /// The project (id or slug).
    pub workspace_id: String,
    /// The environment's slug.
    pub environment: String,
    /// `https://...` (or `http://`); loopback and private addresses only
    /// when the server allows them.
    #[schema(value_type = String)]
    pub webhook_url: Zeroizing<String>,
    /// Signs deliveries (`x-infisical-signature`); stored encrypted, never
    /// answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub webhook_secret_key: Option<Zeroizing<String>>,
    /// Folder path or glob (`/`, `/api`, `/api/**`); default `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_path: Option<String>,
    /// `general` (default) or `slack`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// `PATCH /api/v1/webhooks/{id}`.
#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct UpdateWebhook {
    pub is_disabled: bool,
}

/// `GET /api/v1/webhooks`.
#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct WebhooksQuery {
    /// The project (id or slug).
    pub workspace_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_path: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEnvironment {
    pub id: String,
    pub slug: String,
    pub name: String,
}

/// A webhook as answered: never its full URL or key.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: String,
    pub project_id: String,
    pub env_id: String,
    pub environment: WebhookEnvironment,
    pub secret_path: String,
    /// `scheme://host[:port]/...`.
    pub url: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub has_secret_key: bool,
    pub is_disabled: bool,
    /// `success`, `failed`, or null before the first attempt.
    pub last_status: Option<String>,
    pub last_run_error_message: Option<String>,
    pub last_attempt_at: Option<String>,
    /// Failed attempts since the last success (retried with backoff).
    pub failures: i64,
    /// Events of the project not yet looked at by this webhook.
    pub lag: i64,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct WebhookEnvelope {
    pub message: String,
    pub webhook: Webhook,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct WebhookList {
    pub message: String,
    pub webhooks: Vec<Webhook>,
}
