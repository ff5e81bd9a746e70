//! Single sign-on routes (issue 23), all unauthenticated: the providers'
//! names, the start of a flow, the provider's callback (a browser
//! redirect) and the CLI's redemption of its one-time login code.

use super::auth::anonymous;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Client};
use super::AppState;
use crate::api::sso::{
    DevicePending, DevicePollBody, DeviceStarted, DeviceToken, SsoCallbackQuery, SsoProviders,
    SsoRedeem, SsoSession, SsoStart, SsoStarted,
};
use crate::service::identity::{expires_iso, IssuedToken};
use crate::service::sso::{DevicePoll, Return};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

pub async fn providers(State(state): State<AppState>) -> Json<SsoProviders> {
    Json(SsoProviders {
        providers: state.service.sso_providers(),
        password_login: state.service.settings.password_login,
    })
}

fn session(issued: &IssuedToken) -> SsoSession {
    SsoSession {
        access_token: issued.token.as_str().to_owned(),
        expires_in: issued.expires_in,
        token_type: "Bearer".into(),
        expires_at: expires_iso(issued),
    }
}

pub async fn start(
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SsoStart>,
) -> Result<Json<SsoStarted>, ApiError> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let started = state
        .service
        .sso_start(
            &provider,
            host,
            Return::Loopback(&body.redirect_uri),
            &body.code_challenge,
            &body.state,
        )
        .await?;
    Ok(Json(SsoStarted {
        authorization_url: started.authorization_url,
    }))
}

pub async fn callback(
    State(state): State<AppState>,
    client: Client,
    ApiQuery(q): ApiQuery<SsoCallbackQuery>,
) -> Result<Response, ApiError> {
    let ctx = anonymous(client, "sso");
    let login = match state
        .service
        .sso_callback(&ctx, q.code.as_deref(), &q.state, q.error.as_deref())
        .await
    {
        Ok(login) => login,
        // A dashboard sign-in shows its refusal as a dashboard page.
        Err(e) if state.service.sso_state_is_dashboards(&q.state) => {
            return Ok(super::web::error_page(e));
        }
        Err(e) => return Err(e.into()),
    };
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, login.redirect),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response())
}

pub async fn token(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<SsoRedeem>,
) -> Result<Json<SsoSession>, ApiError> {
    let ctx = anonymous(client, "sso");
    let issued = state
        .service
        .sso_redeem(&ctx, &body.code, &body.code_verifier)
        .await?;
    Ok(Json(session(&issued)))
}

pub async fn device_start(
    State(state): State<AppState>,
    ApiPath(provider): ApiPath<String>,
) -> Result<Json<DeviceStarted>, ApiError> {
    let d = state.service.sso_device_start(&provider).await?;
    Ok(Json(DeviceStarted {
        handle: d.handle,
        user_code: d.user_code,
        verification_uri: d.verification_uri,
        verification_uri_complete: d.verification_uri_complete,
        interval: d.interval,
        expires_in: d.expires_in,
    }))
}

/// `{pending: true, slowDown}` until the person approves, then a session.
pub async fn device_token(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<DevicePollBody>,
) -> Result<Json<DeviceToken>, ApiError> {
    let ctx = anonymous(client, "sso");
    Ok(Json(
        match state.service.sso_device_poll(&ctx, &body.handle).await? {
            DevicePoll::Pending { slow_down } => DeviceToken::Pending(DevicePending {
                pending: true,
                slow_down,
            }),
            DevicePoll::Done(issued) => DeviceToken::Session(session(&issued)),
        },
    ))
}
