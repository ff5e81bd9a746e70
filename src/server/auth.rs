//! Bootstrap, password login, logout and whoami.

use super::error::ApiError;
use super::extract::{ApiJson, Auth, Client};
use super::AppState;
use crate::api::auth::{
    BootstrapRequest, BootstrapResponse, Credentials, LoginResponse, ProjectRef, TokenScope,
    UserRef, WhoAmI, WhoAmIScope,
};
use crate::api::common::Message;
use crate::service::identity::expires_iso;
use crate::service::{Actor, Ctx};
use axum::extract::State;
use axum::Json;

pub(super) fn anonymous(client: Client, name: &str) -> Ctx {
    Ctx {
        actor: Actor {
            kind: crate::service::ActorKind::User,
            id: String::new(),
            name: name.to_owned(),
            token_id: String::new(),
            server_admin: false,
            token_scope: None,
        },
        client_ip: client.ip,
        user_agent: client.user_agent,
    }
}

pub async fn bootstrap(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<BootstrapRequest>,
) -> Result<Json<BootstrapResponse>, ApiError> {
    // Checked before anything else: no password hashing for a caller without
    // the code, nor once the server has its admin.
    state
        .bootstrap_code
        .check(&state.service.store, body.bootstrap_code.as_deref())
        .await?;
    let ctx = anonymous(client, &body.email);
    let result = state
        .service
        .bootstrap(&ctx, &body.email, &body.password)
        .await;
    if result.is_ok() {
        state.bootstrap_code.bootstrapped();
    }
    let result = result?;
    Ok(Json(BootstrapResponse {
        user: UserRef {
            id: result.user_id.clone(),
            email: result.email.clone(),
        },
        project: ProjectRef {
            id: result.project.id.clone(),
            slug: result.project.slug.clone(),
            name: result.project.name.clone(),
        },
        environments: ["dev", "staging", "prod"].map(String::from).to_vec(),
        access_token: result.token.token.as_str().to_owned(),
        expires_in: result.token.expires_in,
        expires_at: expires_iso(&result.token),
        token_type: "Bearer".into(),
    }))
}

pub async fn login(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<LoginResponse>, ApiError> {
    let ctx = anonymous(client, &body.email);
    let issued = state
        .service
        .login_password(&ctx, &body.email, &body.password)
        .await?;
    Ok(Json(LoginResponse {
        access_token: issued.token.as_str().to_owned(),
        expires_in: issued.expires_in,
        access_token_max_ttl: issued.expires_in,
        token_type: "Bearer".into(),
        expires_at: expires_iso(&issued),
    }))
}

pub async fn logout(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> Result<Json<Message>, ApiError> {
    state.service.revoke_own_token(&ctx).await?;
    Ok(Json(Message {
        message: "logged out: the token is revoked".into(),
    }))
}

pub async fn whoami(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> Result<Json<WhoAmI>, ApiError> {
    let token = state.service.own_token(&ctx).await?;
    let mut out = WhoAmI {
        kind: ctx.actor.kind.as_str().to_owned(),
        id: ctx.actor.id.clone(),
        name: ctx.actor.name.clone(),
        server_admin: ctx.actor.server_admin,
        expires_at: token
            .as_ref()
            .and_then(|t| t.expires_at)
            .map(crate::service::iso),
        scope: None,
    };
    if let Some(scope) = &ctx.actor.token_scope {
        let project = state
            .service
            .store
            .project(&scope.project_id)
            .await
            .ok()
            .flatten();
        out.scope = Some(WhoAmIScope {
            project: project
                .map(|p| p.slug)
                .unwrap_or_else(|| scope.project_id.clone()),
            scopes: scope
                .scopes
                .iter()
                .map(|s| TokenScope {
                    environment: s.env.clone(),
                    secret_path: s.path.clone(),
                })
                .collect(),
            write: scope.write,
        });
    }
    Ok(Json(out))
}
