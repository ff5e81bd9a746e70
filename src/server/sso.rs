//! Single sign-on routes (issue 23), all unauthenticated: the providers'
//! names, the start of a flow, the provider's callback (a browser
//! redirect) and the CLI's redemption of its one-time login code.

use super::auth::anonymous;
use super::auth_input::Secret;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Client};
use super::AppState;
use crate::service::identity::expires_iso;
use crate::service::sso::DevicePoll;
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

pub async fn device_start(
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let d = state.service.sso_device_start(&provider).await?;
    Ok(Json(json!({
        "handle": d.handle, "userCode": d.user_code, "verificationUri": d.verification_uri,
        "verificationUriComplete": d.verification_uri_complete,
        "interval": d.interval, "expiresIn": d.expires_in,
    })))
}

#[derive(Deserialize)]
pub struct DevicePollBody {
    handle: Secret<4096>,
}

/// `{pending: true, slowDown}` until the person approves, then a session.
pub async fn device_token(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<DevicePollBody>,
) -> Result<Json<Value>, ApiError> {
    let ctx = anonymous(client, "sso");
    match state.service.sso_device_poll(&ctx, &body.handle).await? {
        DevicePoll::Pending { slow_down } => {
            Ok(Json(json!({ "pending": true, "slowDown": slow_down })))
        }
        DevicePoll::Done(issued) => Ok(Json(json!({
            "accessToken": issued.token.as_str(),
            "expiresIn": issued.expires_in,
            "tokenType": "Bearer",
            "expiresAt": expires_iso(&issued),
        }))),
    }
}
