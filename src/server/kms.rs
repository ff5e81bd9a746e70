//! The KMS API over HTTP, in Infisical's shape (`/api/v1/kms/keys`): keys
//! are created, listed, read, changed and deleted, and encrypt and decrypt
//! base64 payloads. No answer ever carries a key.

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use super::AppState;
use crate::api::kms::{
    CreateKmsKey, KmsCiphertext, KmsDecrypt, KmsEncrypt, KmsKeyByNameQuery, KmsKeyEnvelope,
    KmsKeyList, KmsKeysQuery, KmsPlaintext, UpdateKmsKey,
};
use crate::service::kms::{parse_key_id, KmsListOptions, NewKmsKey};
use crate::store::kms::KmsKeyChange;
use axum::extract::State;
use axum::Json;

fn key_id(text: &str) -> Result<uuid::Uuid, ApiError> {
    parse_key_id(text).map_err(ApiError::from)
}

pub async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateKmsKey>,
) -> Result<Json<KmsKeyEnvelope>, ApiError> {
    let new = NewKmsKey {
        project: body.project_id,
        name: body.name,
        description: body.description,
        algorithm: body.encryption_algorithm,
    };
    let key = state.service.create_kms_key(&ctx, new).await?;
    Ok(Json(KmsKeyEnvelope { key }))
}

pub async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<KmsKeysQuery>,
) -> Result<Json<KmsKeyList>, ApiError> {
    if q.order_by.as_deref().is_some_and(|o| o != "name") {
        return Err(ApiError::validation("orderBy must be name"));
    }
    let descending = match q.order_direction.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(ApiError::validation("orderDirection must be asc or desc")),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation("limit must be 1 to 100"));
    }
    let options = KmsListOptions {
        offset: q.offset.unwrap_or(0) as usize,
        limit: limit as usize,
        descending,
        search: q.search.filter(|s| !s.is_empty()),
    };
    let page = state
        .service
        .list_kms_keys(&ctx, &q.project_id, options)
        .await?;
    Ok(Json(KmsKeyList {
        keys: page.keys,
        total_count: page.total,
    }))
}

pub async fn get_one(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<KmsKeyEnvelope>, ApiError> {
    let key = state.service.get_kms_key(&ctx, &key_id(&id)?).await?;
    Ok(Json(KmsKeyEnvelope { key }))
}

pub async fn by_name(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<KmsKeyByNameQuery>,
) -> Result<Json<KmsKeyEnvelope>, ApiError> {
    let key = state
        .service
        .get_kms_key_by_name(&ctx, &q.project_id, &name)
        .await?;
    Ok(Json(KmsKeyEnvelope { key }))
}

pub async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateKmsKey>,
) -> Result<Json<KmsKeyEnvelope>, ApiError> {
    let change = KmsKeyChange {
        name: body.name,
        description: body.description,
        disabled: body.is_disabled,
    };
    let key = state
        .service
        .update_kms_key(&ctx, &key_id(&id)?, change)
        .await?;
    Ok(Json(KmsKeyEnvelope { key }))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<KmsKeyEnvelope>, ApiError> {
    let key = state.service.delete_kms_key(&ctx, &key_id(&id)?).await?;
    Ok(Json(KmsKeyEnvelope { key }))
}

pub async fn encrypt(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<KmsEncrypt>,
) -> Result<Json<KmsCiphertext>, ApiError> {
    let ciphertext = state
        .service
        .kms_encrypt(&ctx, &key_id(&id)?, &body.plaintext)
        .await?;
    Ok(Json(KmsCiphertext { ciphertext }))
}

pub async fn decrypt(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<KmsDecrypt>,
) -> Result<Json<KmsPlaintext>, ApiError> {
    let plaintext = state
        .service
        .kms_decrypt(&ctx, &key_id(&id)?, &body.ciphertext)
        .await?;
    Ok(Json(KmsPlaintext { plaintext }))
}

/// The KMS routes' own body limit (`kms::limits::BODY_LIMIT`).
pub fn bounded(
    route: axum::routing::MethodRouter<AppState>,
) -> axum::routing::MethodRouter<AppState> {
    use crate::kms::limits::BODY_LIMIT;
    route
        .layer::<_, std::convert::Infallible>(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer::<_, std::convert::Infallible>(axum::Extension(super::extract::BodyLimit(
            BODY_LIMIT,
        )))
}
