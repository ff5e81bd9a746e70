//! Single sign-on routes (issue 23), all unauthenticated: the providers'
//! names, the start of a flow, the provider's callback (a browser
//! redirect) and the CLI's redemption of its one-time login code.

use super::auth::anonymous;
use super::auth_input::Secret;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Client};
use super::AppState;
use crate::service::identity::expires_iso;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

pub async fn providers(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "providers": state.service.sso_providers(),
        "passwordLogin": state.service.settings.password_login,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Start {
    redirect_uri: String,
    code_challenge: String,
    state: String,
}

pub async fn start(
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Start>,
) -> Result<Json<Value>, ApiError> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let started = state
        .service
        .sso_start(
            &provider,
            host,
            &body.redirect_uri,
            &body.code_challenge,
            &body.state,
        )
        .await?;
    Ok(Json(
        json!({ "authorizationUrl": started.authorization_url }),
    ))
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    #[serde(default)]
    state: String,
    error: Option<String>,
}

pub async fn callback(
    State(state): State<AppState>,
    client: Client,
    ApiQuery(q): ApiQuery<Callback>,
) -> Result<Response, ApiError> {
    let ctx = anonymous(client, "sso");
    let login = state
        .service
        .sso_callback(&ctx, q.code.as_deref(), &q.state, q.error.as_deref())
        .await?;
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, login.redirect),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Redeem {
    code: Secret<4096>,
    code_verifier: Secret<128>,
}

pub async fn token(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<Redeem>,
) -> Result<Json<Value>, ApiError> {
    let ctx = anonymous(client, "sso");
    let issued = state
        .service
        .sso_redeem(&ctx, &body.code, &body.code_verifier)
        .await?;
    Ok(Json(json!({
        "accessToken": issued.token.as_str(),
        "expiresIn": issued.expires_in,
        "tokenType": "Bearer",
        "expiresAt": expires_iso(&issued),
    })))
}
