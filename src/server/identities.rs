//! Universal auth (Infisical's wire format), token renewal, users, machine
//! identities, service tokens and project members.

use super::auth::anonymous;
use super::auth_input::{ClientId, Password, TokenText};
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth, Client};
use super::AppState;
use crate::service::access::EnvPath;
use crate::service::identity::IssuedToken;
use crate::service::machines::IdentitySettings;
use crate::service::{iso, now_ms};
use crate::store::{IdentityRow, TokenRow};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) fn token_json(t: &IssuedToken) -> Value {
    json!({
        "accessToken": t.token.as_str(),
        "expiresIn": t.expires_in,
        "accessTokenMaxTTL": t.max_ttl,
        "tokenType": "Bearer",
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UniversalLogin {
    client_id: ClientId,
    client_secret: TokenText,
}

pub async fn universal_auth_login(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<UniversalLogin>,
) -> Result<Json<Value>, ApiError> {
    let ctx = anonymous(client, &body.client_id);
    let issued = state
        .service
        .universal_auth_login(&ctx, &body.client_id, &body.client_secret)
        .await?;
    Ok(Json(token_json(&issued)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Renew {
    access_token: TokenText,
}

pub async fn renew(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<Renew>,
) -> Result<Json<Value>, ApiError> {
    let ctx = anonymous(client, "token-renewal");
    let issued = state.service.renew_token(&ctx, &body.access_token).await?;
    Ok(Json(token_json(&issued)))
}

#[derive(Deserialize)]
pub struct CreateUser {
    email: String,
    #[serde(default)]
    admin: bool,
}

pub async fn create_user(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<Json<Value>, ApiError> {
    let invite = state
        .service
        .create_user(&ctx, &body.email, body.admin)
        .await?;
    Ok(Json(json!({
        "user": { "id": invite.user.id, "email": invite.user.email, "serverAdmin": invite.user.is_admin },
        "inviteToken": invite.token.as_str(),
        "inviteExpiresAt": iso(invite.expires_at),
    })))
}

pub async fn list_users(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> Result<Json<Value>, ApiError> {
    let users = state.service.list_users(&ctx).await?;
    let list: Vec<Value> = users
        .iter()
        .map(|u| json!({ "id": u.id, "email": u.email, "serverAdmin": u.is_admin, "active": !u.password_hash.is_empty(), "disabled": u.disabled_at.is_some(), "createdAt": iso(u.created_at) }))
        .collect();
    Ok(Json(json!({ "users": list })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptInvite {
    invite_token: TokenText,
    password: Password,
}

pub async fn accept_invite(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<AcceptInvite>,
) -> Result<Json<Value>, ApiError> {
    let ctx = anonymous(client, "invitee");
    let user = state
        .service
        .accept_invite(&ctx, &body.invite_token, &body.password)
        .await?;
    Ok(Json(
        json!({ "user": { "id": user.id, "email": user.email } }),
    ))
}

fn identity_json(i: &IdentityRow) -> Value {
    json!({
        "id": i.id, "name": i.name, "clientId": i.id,
        "accessTokenTTL": i.access_token_ttl, "accessTokenMaxTTL": i.access_token_max_ttl,
        "accessTokenNumUsesLimit": i.num_uses_limit,
        "trustedIps": serde_json::from_str::<Value>(&i.trusted_ips).unwrap_or(json!([])),
        "createdAt": iso(i.created_at),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateIdentity {
    name: String,
    #[serde(rename = "accessTokenTTL")]
    access_token_ttl: Option<i64>,
    #[serde(rename = "accessTokenMaxTTL")]
    access_token_max_ttl: Option<i64>,
    access_token_num_uses_limit: Option<i64>,
    #[serde(default)]
    trusted_ips: Vec<String>,
}

pub async fn create_identity(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateIdentity>,
) -> Result<Json<Value>, ApiError> {
    let defaults = IdentitySettings::default();
    let settings = IdentitySettings {
        access_token_ttl: body.access_token_ttl.unwrap_or(defaults.access_token_ttl),
        access_token_max_ttl: body
            .access_token_max_ttl
            .unwrap_or(defaults.access_token_max_ttl),
        num_uses_limit: body.access_token_num_uses_limit.unwrap_or(0),
        trusted_ips: body.trusted_ips,
    };
    let (identity, secret) = state
        .service
        .create_identity(&ctx, &body.name, settings)
        .await?;
    Ok(Json(
        json!({ "identity": identity_json(&identity), "clientId": identity.id, "clientSecret": secret.as_str() }),
    ))
}

pub async fn list_identities(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> Result<Json<Value>, ApiError> {
    let list = state.service.identities(&ctx).await?;
    Ok(Json(
        json!({ "identities": list.iter().map(identity_json).collect::<Vec<_>>() }),
    ))
}

pub async fn add_client_secret(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let (row, secret) = state.service.add_client_secret(&ctx, &id).await?;
    Ok(Json(
        json!({ "clientSecret": secret.as_str(), "clientSecretData": { "id": row.id, "prefix": row.prefix, "createdAt": iso(row.created_at) } }),
    ))
}

pub async fn list_client_secrets(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let (_, rows) = state.service.client_secrets(&ctx, &id).await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|r| json!({ "id": r.id, "prefix": r.prefix, "createdAt": iso(r.created_at), "revoked": r.revoked_at.is_some() }))
        .collect();
    Ok(Json(json!({ "clientSecretData": list })))
}

pub async fn revoke_client_secret(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath((id, secret_id)): ApiPath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    state
        .service
        .revoke_client_secret(&ctx, &id, &secret_id)
        .await?;
    Ok(Json(json!({ "revoked": secret_id })))
}

fn service_token_json(t: &TokenRow) -> Value {
    let scope: Value = serde_json::from_str(&t.scope).unwrap_or(Value::Null);
    json!({
        "id": t.id, "name": t.name, "projectId": t.project_id,
        "scopes": scope["scopes"].as_array().map(|l| l.iter().map(|s| json!({ "environment": s["env"], "secretPath": s["path"] })).collect::<Vec<_>>()),
        "write": scope["write"],
        "expiresAt": t.expires_at.map(iso), "revoked": t.revoked_at.is_some(),
        "expired": t.expires_at.is_some_and(|e| e <= now_ms()), "createdAt": iso(t.created_at),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenScopeBody {
    environment: String,
    secret_path: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateToken {
    project_id: String,
    name: String,
    scopes: Vec<TokenScopeBody>,
    #[serde(default)]
    write: bool,
    /// Seconds.
    ttl: i64,
}

pub async fn create_service_token(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<Json<Value>, ApiError> {
    if body.ttl <= 0 {
        return Err(ApiError::validation(
            "ttl must be a positive number of seconds",
        ));
    }
    let scopes = body
        .scopes
        .into_iter()
        .map(|s| EnvPath {
            env: s.environment,
            path: s.secret_path,
        })
        .collect();
    let (row, issued) = state
        .service
        .create_service_token(
            &ctx,
            &body.project_id,
            &body.name,
            scopes,
            body.write,
            body.ttl,
        )
        .await?;
    let mut out = service_token_json(&row);
    out["token"] = json!(issued.token.as_str());
    Ok(Json(out))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectQuery {
    project_id: String,
}

pub async fn list_service_tokens(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<ProjectQuery>,
) -> Result<Json<Value>, ApiError> {
    let list = state.service.service_tokens(&ctx, &q.project_id).await?;
    Ok(Json(
        json!({ "tokens": list.iter().map(service_token_json).collect::<Vec<_>>() }),
    ))
}

pub async fn revoke_service_token(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ProjectQuery>,
) -> Result<Json<Value>, ApiError> {
    state
        .service
        .revoke_service_token(&ctx, &q.project_id, &id)
        .await?;
    Ok(Json(json!({ "revoked": id })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddMember {
    project_id: String,
    subject: String,
    role: String,
    #[serde(default)]
    overrides: Vec<String>,
}

fn member_json(m: &crate::service::members::Member) -> Value {
    json!({ "id": m.subject_id, "name": m.name, "kind": m.kind, "role": m.role, "overrides": m.overrides })
}

pub async fn add_member(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<AddMember>,
) -> Result<Json<Value>, ApiError> {
    let m = state
        .service
        .add_member(
            &ctx,
            &body.project_id,
            &body.subject,
            &body.role,
            &body.overrides,
        )
        .await?;
    Ok(Json(json!({ "member": member_json(&m) })))
}

pub async fn list_members(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<ProjectQuery>,
) -> Result<Json<Value>, ApiError> {
    let list = state.service.members(&ctx, &q.project_id).await?;
    Ok(Json(
        json!({ "members": list.iter().map(member_json).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoveMember {
    project_id: String,
    subject: String,
}

pub async fn remove_member(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<RemoveMember>,
) -> Result<Json<Value>, ApiError> {
    state
        .service
        .remove_member(&ctx, &body.project_id, &body.subject)
        .await?;
    Ok(Json(json!({ "removed": body.subject })))
}
