//! Offboarding and credential lifecycle routes: disable, enable, delete and
//! demote users; passwords and reset tokens; sessions and identity access
//! tokens; identity deletion (also in Infisical's shape) and revocation of a
//! token by its text (Infisical's `POST /api/v1/auth/token/revoke`).

use super::auth::anonymous;
use super::auth_input::{Password, TokenText};
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth, Client};
use super::AppState;
use crate::service::iso;
use crate::store::{IdentityRow, TokenRow, UserChange, UserRow};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

fn user_json(u: &UserRow) -> Value {
    json!({
        "id": u.id, "email": u.email, "serverAdmin": u.is_admin,
        "disabled": u.disabled_at.is_some(), "disabledAt": u.disabled_at.map(iso),
        "createdAt": iso(u.created_at),
    })
}

/// A token as listed: ids and times, never its text or hash.
fn token_json(t: &TokenRow, current: &str) -> Value {
    json!({
        "id": t.id, "kind": t.kind, "createdAt": iso(t.created_at),
        "expiresAt": t.expires_at.map(iso), "maxExpiresAt": t.max_expires_at.map(iso),
        "uses": t.uses, "usesLimit": t.uses_limit, "clientSecretId": t.client_secret_id,
        "current": t.id == current,
    })
}

/// Infisical's identity object (`IdentitiesSchema` plus `authMethods`).
fn identity_json(i: &IdentityRow) -> Value {
    json!({
        "id": i.id, "name": i.name, "authMethod": "universal-auth",
        "authMethods": ["universal-auth"], "hasDeleteProtection": false,
        "createdAt": iso(i.created_at), "updatedAt": iso(i.created_at),
    })
}

async fn change(
    state: &AppState,
    ctx: &crate::service::Ctx,
    who: &str,
    c: UserChange,
) -> Result<Json<Value>, ApiError> {
    let user = state.service.change_user(ctx, who, c).await?;
    Ok(Json(json!({ "user": user_json(&user) })))
}

pub async fn disable_user(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(who): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    change(&state, &ctx, &who, UserChange::Disable).await
}

pub async fn enable_user(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(who): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    change(&state, &ctx, &who, UserChange::Enable).await
}

pub async fn delete_user(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(who): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    change(&state, &ctx, &who, UserChange::Delete).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUser {
    server_admin: bool,
}

pub async fn update_user(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(who): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> Result<Json<Value>, ApiError> {
    change(&state, &ctx, &who, UserChange::SetAdmin(body.server_admin)).await
}

pub async fn issue_password_reset(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(who): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let reset = state.service.issue_password_reset(&ctx, &who).await?;
    Ok(Json(json!({
        "user": user_json(&reset.user),
        "resetToken": reset.token.as_str(),
        "resetExpiresAt": iso(reset.expires_at),
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptReset {
    reset_token: TokenText,
    password: Password,
}

pub async fn accept_reset(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<AcceptReset>,
) -> Result<Json<Value>, ApiError> {
    let ctx = anonymous(client, "password-reset");
    let user = state
        .service
        .redeem_password_reset(&ctx, &body.reset_token, &body.password)
        .await?;
    Ok(Json(
        json!({ "user": { "id": user.id, "email": user.email } }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangePassword {
    old_password: Password,
    new_password: Password,
}

pub async fn change_password(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<Json<Value>, ApiError> {
    state
        .service
        .change_password(&ctx, &body.old_password, &body.new_password)
        .await?;
    Ok(Json(json!({
        "message": "password changed; your other sessions are revoked, this one is kept"
    })))
}

#[derive(Deserialize)]
pub struct UserQuery {
    user: Option<String>,
}

pub async fn list_sessions(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> Result<Json<Value>, ApiError> {
    let (user, rows) = state.service.sessions(&ctx, q.user.as_deref()).await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|t| token_json(t, &ctx.actor.token_id))
        .collect();
    Ok(Json(json!({ "user": user_json(&user), "sessions": list })))
}

pub async fn revoke_session(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> Result<Json<Value>, ApiError> {
    state
        .service
        .revoke_session(&ctx, q.user.as_deref(), &id)
        .await?;
    Ok(Json(json!({ "revoked": id })))
}

pub async fn list_identity_tokens(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let (identity, rows) = state.service.identity_tokens(&ctx, &id).await?;
    let list: Vec<Value> = rows.iter().map(|t| token_json(t, "")).collect();
    Ok(Json(
        json!({ "identity": identity_json(&identity), "tokens": list }),
    ))
}

pub async fn revoke_identity_token(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath((id, token_id)): ApiPath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    state
        .service
        .revoke_identity_token(&ctx, &id, &token_id)
        .await?;
    Ok(Json(json!({ "revoked": token_id })))
}

/// `DELETE /api/v1/identities/{identityId}` (Infisical) and hush's
/// `DELETE /api/v1/hush/identities/{idOrName}`.
pub async fn delete_identity(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let identity = state.service.delete_identity(&ctx, &id).await?;
    Ok(Json(json!({ "identity": identity_json(&identity) })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeToken {
    access_token: TokenText,
}

/// Infisical's `POST /api/v1/auth/token/revoke`: the token is the credential.
pub async fn revoke_token(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<RevokeToken>,
) -> Result<Json<Value>, ApiError> {
    let ctx = anonymous(client, "token-revocation");
    state
        .service
        .revoke_token_by_text(&ctx, body.access_token.trim())
        .await?;
    Ok(Json(
        json!({ "message": "Successfully revoked access token" }),
    ))
}
