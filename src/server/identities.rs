//! Universal auth (Infisical's wire format), token renewal, users, machine
//! identities, service tokens and project members.

use super::auth::anonymous;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth, Client};
use super::AppState;
use crate::api::auth::UserRef;
use crate::api::auth::{AccessTokenBody, TokenResponse, TokenScope, UniversalLogin};
use crate::api::common::Revoked;
use crate::api::identities::{
    AddMember, ClientSecretAdded, ClientSecretData, ClientSecretListed, ClientSecretsList,
    CreateIdentity, CreateServiceToken, IdentitiesList, IdentityCreated, IdentityView,
    MemberEnvelope, MemberOverride, MemberRemoved, MemberView, MembersList, ProjectQuery,
    RemoveMember, ServiceTokenCreated, ServiceTokenView, ServiceTokensList,
};
use crate::api::users::UserRefEnvelope;
use crate::api::users::{
    AcceptInvite, CreateUser, InvitedUser, UserInvited, UserListed, UsersList,
};
use crate::service::access::{EnvPath, Level, TokenScope as StoredScope};
use crate::service::identity::IssuedToken;
use crate::service::machines::IdentitySettings;
use crate::service::{iso, now_ms};
use crate::store::{IdentityRow, TokenRow};
use axum::extract::State;
use axum::Json;

pub(super) fn token_json(t: &IssuedToken) -> TokenResponse {
    TokenResponse {
        access_token: t.token.as_str().to_owned(),
        expires_in: t.expires_in,
        access_token_max_ttl: t.max_ttl,
        token_type: "Bearer".into(),
    }
}

pub async fn universal_auth_login(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<UniversalLogin>,
) -> Result<Json<TokenResponse>, ApiError> {
    let ctx = anonymous(client, &body.client_id);
    let issued = state
        .service
        .universal_auth_login(&ctx, &body.client_id, &body.client_secret)
        .await?;
    Ok(Json(token_json(&issued)))
}

pub async fn renew(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<AccessTokenBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    let ctx = anonymous(client, "token-renewal");
    let issued = state.service.renew_token(&ctx, &body.access_token).await?;
    Ok(Json(token_json(&issued)))
}

pub async fn create_user(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<Json<UserInvited>, ApiError> {
    let invite = state
        .service
        .create_user(&ctx, &body.email, body.admin)
        .await?;
    Ok(Json(UserInvited {
        user: InvitedUser {
            id: invite.user.id.clone(),
            email: invite.user.email.clone(),
            server_admin: invite.user.is_admin,
        },
        invite_token: invite.token.as_str().to_owned(),
        invite_expires_at: iso(invite.expires_at),
    }))
}

pub async fn list_users(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> Result<Json<UsersList>, ApiError> {
    let users = state.service.list_users(&ctx).await?;
    let users = users
        .iter()
        .map(|u| UserListed {
            id: u.id.clone(),
            email: u.email.clone(),
            server_admin: u.is_admin,
            active: !u.password_hash.is_empty(),
            disabled: u.disabled_at.is_some(),
            created_at: iso(u.created_at),
        })
        .collect();
    Ok(Json(UsersList { users }))
}

pub async fn accept_invite(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<AcceptInvite>,
) -> Result<Json<UserRefEnvelope>, ApiError> {
    let ctx = anonymous(client, "invitee");
    let user = state
        .service
        .accept_invite(&ctx, &body.invite_token, &body.password)
        .await?;
    Ok(Json(UserRefEnvelope {
        user: UserRef {
            id: user.id,
            email: user.email,
        },
    }))
}

fn identity_json(i: &IdentityRow) -> IdentityView {
    IdentityView {
        id: i.id.clone(),
        name: i.name.clone(),
        client_id: i.id.clone(),
        access_token_ttl: i.access_token_ttl,
        access_token_max_ttl: i.access_token_max_ttl,
        access_token_num_uses_limit: i.num_uses_limit,
        trusted_ips: serde_json::from_str(&i.trusted_ips).unwrap_or_default(),
        created_at: iso(i.created_at),
    }
}

pub async fn create_identity(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateIdentity>,
) -> Result<Json<IdentityCreated>, ApiError> {
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
    Ok(Json(IdentityCreated {
        identity: identity_json(&identity),
        client_id: identity.id.clone(),
        client_secret: secret.as_str().to_owned(),
    }))
}

pub async fn list_identities(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> Result<Json<IdentitiesList>, ApiError> {
    let list = state.service.identities(&ctx).await?;
    Ok(Json(IdentitiesList {
        identities: list.iter().map(identity_json).collect(),
    }))
}

pub async fn add_client_secret(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ClientSecretAdded>, ApiError> {
    let (row, secret) = state.service.add_client_secret(&ctx, &id).await?;
    Ok(Json(ClientSecretAdded {
        client_secret: secret.as_str().to_owned(),
        client_secret_data: ClientSecretData {
            id: row.id,
            prefix: row.prefix,
            created_at: iso(row.created_at),
        },
    }))
}

pub async fn list_client_secrets(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ClientSecretsList>, ApiError> {
    let (_, rows) = state.service.client_secrets(&ctx, &id).await?;
    let list = rows
        .iter()
        .map(|r| ClientSecretListed {
            id: r.id.clone(),
            prefix: r.prefix.clone(),
            created_at: iso(r.created_at),
            revoked: r.revoked_at.is_some(),
        })
        .collect();
    Ok(Json(ClientSecretsList {
        client_secret_data: list,
    }))
}

pub async fn revoke_client_secret(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath((id, secret_id)): ApiPath<(String, String)>,
) -> Result<Json<Revoked>, ApiError> {
    state
        .service
        .revoke_client_secret(&ctx, &id, &secret_id)
        .await?;
    Ok(Json(Revoked { revoked: secret_id }))
}

fn service_token_json(t: &TokenRow) -> ServiceTokenView {
    // The stored scope; a row without one (not a service token) shows none.
    let scope: Option<StoredScope> = serde_json::from_str(&t.scope).ok();
    ServiceTokenView {
        id: t.id.clone(),
        name: t.name.clone(),
        project_id: t.project_id.clone(),
        scopes: scope.as_ref().map(|s| {
            s.scopes
                .iter()
                .map(|s| TokenScope {
                    environment: s.env.clone(),
                    secret_path: s.path.clone(),
                })
                .collect()
        }),
        write: scope.as_ref().map(|s| s.write),
        expires_at: t.expires_at.map(iso),
        revoked: t.revoked_at.is_some(),
        expired: t.expires_at.is_some_and(|e| e <= now_ms()),
        created_at: iso(t.created_at),
    }
}

pub async fn create_service_token(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateServiceToken>,
) -> Result<Json<ServiceTokenCreated>, ApiError> {
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
    Ok(Json(ServiceTokenCreated {
        view: service_token_json(&row),
        token: issued.token.as_str().to_owned(),
    }))
}

pub async fn list_service_tokens(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<ProjectQuery>,
) -> Result<Json<ServiceTokensList>, ApiError> {
    let list = state.service.service_tokens(&ctx, &q.project_id).await?;
    Ok(Json(ServiceTokensList {
        tokens: list.iter().map(service_token_json).collect(),
    }))
}

pub async fn revoke_service_token(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ProjectQuery>,
) -> Result<Json<Revoked>, ApiError> {
    state
        .service
        .revoke_service_token(&ctx, &q.project_id, &id)
        .await?;
    Ok(Json(Revoked { revoked: id }))
}

fn member_json(m: &crate::service::members::Member) -> MemberView {
    MemberView {
        id: m.subject_id.clone(),
        name: m.name.clone(),
        kind: m.kind.to_owned(),
        role: m.role.clone(),
        overrides: m
            .overrides
            .iter()
            .map(|o| MemberOverride {
                env: o.env.clone(),
                path: o.path.clone(),
                level: match o.level {
                    Level::None => "none",
                    Level::Read => "read",
                    Level::Write => "write",
                }
                .to_owned(),
            })
            .collect(),
    }
}

pub async fn add_member(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<AddMember>,
) -> Result<Json<MemberEnvelope>, ApiError> {
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
    Ok(Json(MemberEnvelope {
        member: member_json(&m),
    }))
}

pub async fn list_members(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<ProjectQuery>,
) -> Result<Json<MembersList>, ApiError> {
    let list = state.service.members(&ctx, &q.project_id).await?;
    Ok(Json(MembersList {
        members: list.iter().map(member_json).collect(),
    }))
}

pub async fn remove_member(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<RemoveMember>,
) -> Result<Json<MemberRemoved>, ApiError> {
    state
        .service
        .remove_member(&ctx, &body.project_id, &body.subject)
        .await?;
    Ok(Json(MemberRemoved {
        removed: body.subject,
    }))
}
