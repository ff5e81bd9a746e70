//! Workload identity routes, in Infisical's wire format: logins
//! (`POST /api/v1/auth/{oidc,jwt,kubernetes}-auth/login {identityId, jwt}`)
//! and the configuration of each method on an identity
//! (`/api/v1/auth/{method}-auth/identities/{identityId}`: GET, POST attaches
//! or replaces, PATCH updates the fields given, DELETE removes), the latter
//! for server admins like the rest of identity management.

use super::auth::anonymous;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Auth, Client};
use super::AppState;
use crate::api::auth::TokenResponse;
use crate::api::workload::{
    AuthMethodAnswer, JwtAuth, JwtAuthEnvelope, KubernetesAuth, KubernetesAuthEnvelope, MethodMeta,
    OidcAuth, OidcAuthEnvelope, WorkloadLogin,
};
use crate::service::iso;
use crate::service::workload::jwt::MAX_TOKEN_BYTES;
use crate::service::workload::{Method, MethodView};
use axum::extract::State;
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The body limit of the workload login routes: a platform token of up to
/// `MAX_TOKEN_BYTES` and an identity id.
pub const LOGIN_BODY_LIMIT: usize = MAX_TOKEN_BYTES + 4 * 1024;

async fn login(
    method: Method,
    state: AppState,
    client: Client,
    body: WorkloadLogin,
) -> Result<Json<TokenResponse>, ApiError> {
    let ctx = anonymous(client, &body.identity_id);
    let issued = state
        .service
        .workload_login(&ctx, method, &body.identity_id, &body.jwt)
        .await?;
    Ok(Json(super::identities::token_json(&issued)))
}

/// The stored settings (always every field: they are written from the
/// checked configuration) read as the method's answer type.
fn settings<T: DeserializeOwned>(config: &Value) -> Result<T, ApiError> {
    serde_json::from_value(config.clone())
        .map_err(|e| ApiError::internal(format!("stored auth settings: {e}")))
}

/// A method's answer: its settings, never the reviewer token (only whether
/// one is stored).
fn view_answer(v: &MethodView) -> Result<AuthMethodAnswer, ApiError> {
    let meta = MethodMeta {
        id: format!("{}:{}", v.identity.id, v.method.as_str()),
        identity_id: v.identity.id.clone(),
        created_at: iso(v.created_at),
        updated_at: iso(v.updated_at),
    };
    let mut config = v.config.clone();
    if let Some(obj) = config.as_object_mut() {
        obj.insert("id".into(), Value::String(meta.id.clone()));
        obj.insert("identityId".into(), Value::String(meta.identity_id.clone()));
        obj.insert("createdAt".into(), Value::String(meta.created_at.clone()));
        obj.insert("updatedAt".into(), Value::String(meta.updated_at.clone()));
        if v.method == Method::Kubernetes {
            obj.insert("tokenReviewerJwt".into(), Value::String(String::new()));
            obj.insert(
                "tokenReviewerJwtSet".into(),
                Value::Bool(v.reviewer_token_set),
            );
        }
    }
    Ok(match v.method {
        Method::Oidc => AuthMethodAnswer::Oidc(OidcAuthEnvelope {
            identity_oidc_auth: settings::<OidcAuth>(&config)?,
        }),
        Method::Jwt => AuthMethodAnswer::Jwt(JwtAuthEnvelope {
            identity_jwt_auth: settings::<JwtAuth>(&config)?,
        }),
        Method::Kubernetes => AuthMethodAnswer::Kubernetes(KubernetesAuthEnvelope {
            identity_kubernetes_auth: settings::<KubernetesAuth>(&config)?,
        }),
    })
}

async fn get_config(
    method: Method,
    state: AppState,
    ctx: crate::service::Ctx,
    id: String,
) -> Result<Json<AuthMethodAnswer>, ApiError> {
    let v = state.service.identity_auth(&ctx, &id, method).await?;
    Ok(Json(view_answer(&v)?))
}

/// `body` stays JSON: the service merges the fields given into the stored
/// settings (PATCH) and checks the result as the method's configuration
/// (`api::workload::*AuthInput` documents it).
async fn set_config(
    method: Method,
    state: AppState,
    ctx: crate::service::Ctx,
    id: String,
    body: Value,
    patch: bool,
) -> Result<Json<AuthMethodAnswer>, ApiError> {
    let v = state
        .service
        .set_identity_auth(&ctx, &id, method, body, patch)
        .await?;
    Ok(Json(view_answer(&v)?))
}

async fn remove_config(
    method: Method,
    state: AppState,
    ctx: crate::service::Ctx,
    id: String,
) -> Result<Json<AuthMethodAnswer>, ApiError> {
    let v = state
        .service
        .remove_identity_auth(&ctx, &id, method)
        .await?;
    Ok(Json(view_answer(&v)?))
}

/// The five handlers of one method (named in the router, so the
/// authorization matrix sees each route's HTTP methods).
macro_rules! handlers {
    ($method:expr, $login:ident, $get:ident, $attach:ident, $update:ident, $remove:ident) => {
        pub async fn $login(
            State(state): State<AppState>,
            client: Client,
            ApiJson(body): ApiJson<WorkloadLogin>,
        ) -> Result<Json<TokenResponse>, ApiError> {
            login($method, state, client, body).await
        }

        pub async fn $get(
            State(state): State<AppState>,
            Auth(ctx): Auth,
            ApiPath(id): ApiPath<String>,
        ) -> Result<Json<AuthMethodAnswer>, ApiError> {
            get_config($method, state, ctx, id).await
        }

        pub async fn $attach(
            State(state): State<AppState>,
            Auth(ctx): Auth,
            ApiPath(id): ApiPath<String>,
            ApiJson(body): ApiJson<Value>,
        ) -> Result<Json<AuthMethodAnswer>, ApiError> {
            set_config($method, state, ctx, id, body, false).await
        }

        pub async fn $update(
            State(state): State<AppState>,
            Auth(ctx): Auth,
            ApiPath(id): ApiPath<String>,
            ApiJson(body): ApiJson<Value>,
        ) -> Result<Json<AuthMethodAnswer>, ApiError> {
            set_config($method, state, ctx, id, body, true).await
        }

        pub async fn $remove(
            State(state): State<AppState>,
            Auth(ctx): Auth,
            ApiPath(id): ApiPath<String>,
        ) -> Result<Json<AuthMethodAnswer>, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::workload::config::Config;
    use serde::Serialize;
    use serde_json::json;

    /// The answer types carry every field of the stored settings: reading
    /// them through `api::workload` drops nothing from the wire.
    fn round_trip<T: DeserializeOwned + Serialize>(method: Method, body: Value, extra: Value) {
        let mut stored = Config::parse(method, body).unwrap().to_json();
        let obj = stored.as_object_mut().unwrap();
        obj.insert("id".into(), json!("i:oidc"));
        obj.insert("identityId".into(), json!("i"));
        obj.insert("createdAt".into(), json!("2026-01-01T00:00:00.000Z"));
        obj.insert("updatedAt".into(), json!("2026-01-01T00:00:00.000Z"));
        for (k, v) in extra.as_object().unwrap() {
            obj.insert(k.clone(), v.clone());
        }
        let typed: T = settings(&stored).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), stored);
    }

    #[test]
    fn answers_keep_every_stored_field() {
        round_trip::<OidcAuth>(
            Method::Oidc,
            json!({ "oidcDiscoveryUrl": "https://issuer.example.com", "boundAudiences": "hush",
                    "boundClaims": { "repository": "acme/*" },
                    "accessTokenTrustedIps": [{ "ipAddress": "10.0.0.0/8" }] }),
            json!({}),
        );
        round_trip::<JwtAuth>(
            Method::Jwt,
            json!({ "configurationType": "jwks", "jwksUrl": "https://issuer.example.com/jwks",
                    "boundAudiences": "hush" }),
            json!({}),
        );
        round_trip::<KubernetesAuth>(
            Method::Kubernetes,
            json!({ "tokenReviewMode": "api", "kubernetesHost": "https://k8s.example.com" }),
            json!({ "tokenReviewerJwt": "", "tokenReviewerJwtSet": true }),
        );
    }
}
