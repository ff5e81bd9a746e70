//! Offboarding and credential lifecycle routes: disable, enable, delete and
//! demote users; passwords and reset tokens; sessions and identity access
//! tokens; identity deletion (also in Infisical's shape) and revocation of a
//! token by its text (Infisical's `POST /api/v1/auth/token/revoke`).

use super::auth::anonymous;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth, Client};
use super::AppState;
use crate::api::auth::{AccessTokenBody, UserRef};
use crate::api::common::{Message, Revoked};
use crate::api::identities::{IdentityEnvelope, IdentityTokens, InfisicalIdentity};
use crate::api::users::{
    AcceptReset, ChangePassword, PasswordResetIssued, SessionsList, TokenListed, UpdateUser,
    UserEnvelope, UserQuery, UserRefEnvelope, UserView,
};
use crate::service::iso;
use crate::store::{IdentityRow, TokenRow, UserChange, UserRow};
use axum::extract::State;
use axum::Json;

fn user_json(u: &UserRow) -> UserView {
    UserView {
        id: u.id.clone(),
        email: u.email.clone(),
        server_admin: u.is_admin,
        disabled: u.disabled_at.is_some(),
        disabled_at: u.disabled_at.map(iso),
        created_at: iso(u.created_at),
    }
}

/// A token as listed: ids and times, never its text or hash.
fn token_json(t: &TokenRow, current: &str) -> TokenListed {
    TokenListed {
        id: t.id.clone(),
        kind: t.kind.clone(),
        created_at: iso(t.created_at),
        expires_at: t.expires_at.map(iso),
        max_expires_at: t.max_expires_at.map(iso),
        uses: t.uses,
        uses_limit: t.uses_limit,
        client_secret_id: t.client_secret_id.clone(),
        current: t.id == current,
    }
}

/// Infisical's identity object (`IdentitiesSchema` plus `authMethods`).
fn identity_json(i: &IdentityRow) -> InfisicalIdentity {
    InfisicalIdentity {
        id: i.id.clone(),
        name: i.name.clone(),
        auth_method: "universal-auth".into(),
        auth_methods: vec!["universal-auth".into()],
        has_delete_protection: false,
        created_at: iso(i.created_at),
        updated_at: iso(i.created_at),
    }
}

fn message(text: &str) -> Json<Message> {
    Json(Message {
        message: text.to_owned(),
    })
}

async fn change(
    state: &AppState,
    ctx: &crate::service::Ctx,
    who: &str,
    c: UserChange,
) -> Result<Json<UserEnvelope>, ApiError> {
    let user = state.service.change_user(ctx, who, c).await?;
    Ok(Json(UserEnvelope {
        user: user_json(&user),
    }))
}

pub async fn disable_user(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(who): ApiPath<String>,
) -> Result<Json<UserEnvelope>, ApiError> {
    change(&state, &ctx, &who, UserChange::Disable).await
}

pub async fn enable_user(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(who): ApiPath<String>,
) -> Result<Json<UserEnvelope>, ApiError> {
    change(&state, &ctx, &who, UserChange::Enable).await
}

pub async fn delete_user(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(who): ApiPath<String>,
) -> Result<Json<UserEnvelope>, ApiError> {
    change(&state, &ctx, &who, UserChange::Delete).await
}

pub async fn update_user(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(who): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> Result<Json<UserEnvelope>, ApiError> {
    change(&state, &ctx, &who, UserChange::SetAdmin(body.server_admin)).await
}

pub async fn issue_password_reset(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(who): ApiPath<String>,
) -> Result<Json<PasswordResetIssued>, ApiError> {
    let reset = state.service.issue_password_reset(&ctx, &who).await?;
    Ok(Json(PasswordResetIssued {
        user: user_json(&reset.user),
        reset_token: reset.token.as_str().to_owned(),
        reset_expires_at: iso(reset.expires_at),
    }))
}

pub async fn accept_reset(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<AcceptReset>,
) -> Result<Json<UserRefEnvelope>, ApiError> {
    let ctx = anonymous(client, "password-reset");
    let user = state
        .service
        .redeem_password_reset(&ctx, &body.reset_token, &body.password)
        .await?;
    Ok(Json(UserRefEnvelope {
        user: UserRef {
            id: user.id,
            email: user.email,
        },
    }))
}

pub async fn change_password(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<Json<Message>, ApiError> {
    state
        .service
        .change_password(&ctx, &body.old_password, &body.new_password)
        .await?;
    Ok(message(
        "password changed; your other sessions are revoked, this one is kept",
    ))
}

pub async fn list_sessions(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> Result<Json<SessionsList>, ApiError> {
    let (user, rows) = state.service.sessions(&ctx, q.user.as_deref()).await?;
    let sessions = rows
        .iter()
        .map(|t| token_json(t, &ctx.actor.token_id))
        .collect();
    Ok(Json(SessionsList {
        user: user_json(&user),
        sessions,
    }))
}

pub async fn revoke_session(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> Result<Json<Revoked>, ApiError> {
    state
        .service
        .revoke_session(&ctx, q.user.as_deref(), &id)
        .await?;
    Ok(Json(Revoked { revoked: id }))
}

pub async fn list_identity_tokens(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<IdentityTokens>, ApiError> {
    let (identity, rows) = state.service.identity_tokens(&ctx, &id).await?;
    Ok(Json(IdentityTokens {
        identity: identity_json(&identity),
        tokens: rows.iter().map(|t| token_json(t, "")).collect(),
    }))
}

pub async fn revoke_identity_token(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath((id, token_id)): ApiPath<(String, String)>,
) -> Result<Json<Revoked>, ApiError> {
    state
        .service
        .revoke_identity_token(&ctx, &id, &token_id)
        .await?;
    Ok(Json(Revoked { revoked: token_id }))
}

/// `DELETE /api/v1/identities/{identityId}` (Infisical) and hush's
/// `DELETE /api/v1/hush/identities/{idOrName}`.
pub async fn delete_identity(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<IdentityEnvelope>, ApiError> {
    let identity = state.service.delete_identity(&ctx, &id).await?;
    Ok(Json(IdentityEnvelope {
        identity: identity_json(&identity),
    }))
}

/// Infisical's `POST /api/v1/auth/token/revoke`: the token is the credential.
pub async fn revoke_token(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<AccessTokenBody>,
) -> Result<Json<Message>, ApiError> {
    let ctx = anonymous(client, "token-revocation");
    state
        .service
        .revoke_token_by_text(&ctx, body.access_token.trim())
        .await?;
    Ok(message("Successfully revoked access token"))
}
