//! Workload identity routes, in Infisical's wire format: logins
//! (`POST /api/v1/auth/{oidc,jwt,kubernetes}-auth/login {identityId, jwt}`)
//! and the configuration of each method on an identity
//! (`/api/v1/auth/{method}-auth/identities/{identityId}`: GET, POST attaches
//! or replaces, PATCH updates the fields given, DELETE removes), the latter
//! for server admins like the rest of identity management.

use super::auth::anonymous;
use super::auth_input::{ClientId, Secret};
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Auth, Client};
use super::AppState;
use crate::service::iso;
use crate::service::workload::jwt::MAX_TOKEN_BYTES;
use crate::service::workload::{Method, MethodView};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// The body limit of the workload login routes: a platform token of up to
/// `MAX_TOKEN_BYTES` and an identity id.
pub const LOGIN_BODY_LIMIT: usize = MAX_TOKEN_BYTES + 4 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Login {
    identity_id: ClientId,
    jwt: Secret<MAX_TOKEN_BYTES>,
}

async fn login(
    method: Method,
    state: AppState,
    client: Client,
    body: Login,
) -> Result<Json<crate::api::auth::TokenResponse>, ApiError> {
    let ctx = anonymous(client, &body.identity_id);
    let issued = state
        .service
        .workload_login(&ctx, method, &body.identity_id, &body.jwt)
        .await?;
    Ok(Json(super::identities::token_json(&issued)))
}

fn view_json(v: &MethodView) -> Value {
    let mut config = v.config.clone();
    if let Some(obj) = config.as_object_mut() {
        obj.insert("identityId".into(), json!(v.identity.id));
        obj.insert(
            "id".into(),
            json!(format!("{}:{}", v.identity.id, v.method.as_str())),
        );
        obj.insert("createdAt".into(), json!(iso(v.created_at)));
        obj.insert("updatedAt".into(), json!(iso(v.updated_at)));
        if v.method == Method::Kubernetes {
            // Never answered: only whether one is stored.
            obj.insert("tokenReviewerJwt".into(), json!(""));
            obj.insert("tokenReviewerJwtSet".into(), json!(v.reviewer_token_set));
        }
    }
    json!({ v.method.answer_key(): config })
}

async fn get_config(
    method: Method,
    state: AppState,
    ctx: crate::service::Ctx,
    id: String,
) -> Result<Json<Value>, ApiError> {
    let v = state.service.identity_auth(&ctx, &id, method).await?;
    Ok(Json(view_json(&v)))
}

async fn set_config(
    method: Method,
    state: AppState,
    ctx: crate::service::Ctx,
    id: String,
    body: Value,
    patch: bool,
) -> Result<Json<Value>, ApiError> {
    let v = state
        .service
        .set_identity_auth(&ctx, &id, method, body, patch)
        .await?;
    Ok(Json(view_json(&v)))
}

async fn remove_config(
    method: Method,
    state: AppState,
    ctx: crate::service::Ctx,
    id: String,
) -> Result<Json<Value>, ApiError> {
    let v = state
        .service
        .remove_identity_auth(&ctx, &id, method)
        .await?;
    Ok(Json(view_json(&v)))
}

/// The five handlers of one method (named in the router, so the
/// authorization matrix sees each route's HTTP methods).
macro_rules! handlers {
    ($method:expr, $login:ident, $get:ident, $attach:ident, $update:ident, $remove:ident) => {
        pub async fn $login(
            State(state): State<AppState>,
            client: Client,
            ApiJson(body): ApiJson<Login>,
        ) -> Result<Json<crate::api::auth::TokenResponse>, ApiError> {
            login($method, state, client, body).await
        }

        pub async fn $get(
            State(state): State<AppState>,
            Auth(ctx): Auth,
            ApiPath(id): ApiPath<String>,
        ) -> Result<Json<Value>, ApiError> {
            get_config($method, state, ctx, id).await
        }

        pub async fn $attach(
            State(state): State<AppState>,
            Auth(ctx): Auth,
            ApiPath(id): ApiPath<String>,
            ApiJson(body): ApiJson<Value>,
        ) -> Result<Json<Value>, ApiError> {
            set_config($method, state, ctx, id, body, false).await
        }

        pub async fn $update(
            State(state): State<AppState>,
            Auth(ctx): Auth,
            ApiPath(id): ApiPath<String>,
            ApiJson(body): ApiJson<Value>,
        ) -> Result<Json<Value>, ApiError> {
            set_config($method, state, ctx, id, body, true).await
        }

        pub async fn $remove(
            State(state): State<AppState>,
            Auth(ctx): Auth,
            ApiPath(id): ApiPath<String>,
        ) -> Result<Json<Value>, ApiError> {
            remove_config($method, state, ctx, id).await
        }
    };
}

handlers!(
    Method::Oidc,
    oidc_login,
    oidc_get,
    oidc_attach,
    oidc_update,
    oidc_remove
);
handlers!(
    Method::Jwt,
    jwt_login,
    jwt_get,
    jwt_attach,
    jwt_update,
    jwt_remove
);
handlers!(
    Method::Kubernetes,
    kubernetes_login,
    kubernetes_get,
    kubernetes_attach,
    kubernetes_update,
    kubernetes_remove
);
