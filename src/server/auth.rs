//! Bootstrap, password login, logout and whoami.

use super::auth_input::{Email, Password, TokenText};
use super::error::ApiError;
use super::extract::{ApiJson, Auth, Client};
use super::AppState;
use crate::service::identity::expires_iso;
use crate::service::{Actor, Ctx};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
pub struct Credentials {
    email: Email,
    password: Password,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapBody {
    email: Email,
    password: Password,
    /// The one-time code the server printed on start (`bootstrap_code`).
    bootstrap_code: Option<TokenText>,
}

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
    ApiJson(body): ApiJson<BootstrapBody>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({
        "user": { "id": result.user_id, "email": result.email },
        "project": { "id": result.project.id, "slug": result.project.slug, "name": result.project.name },
        "environments": ["dev", "staging", "prod"],
        "accessToken": result.token.token.as_str(),
        "expiresIn": result.token.expires_in,
        "expiresAt": expires_iso(&result.token),
        "tokenType": "Bearer",
    })))
}

pub async fn login(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<Value>, ApiError> {
    let ctx = anonymous(client, &body.email);
    let issued = state
        .service
        .login_password(&ctx, &body.email, &body.password)
        .await?;
    Ok(Json(json!({
        "accessToken": issued.token.as_str(),
        "expiresIn": issued.expires_in,
        "accessTokenMaxTTL": issued.expires_in,
        "tokenType": "Bearer",
        "expiresAt": expires_iso(&issued),
    })))
}

pub async fn logout(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> Result<Json<Value>, ApiError> {
    state.service.revoke_own_token(&ctx).await?;
    Ok(Json(
        json!({ "message": "logged out: the token is revoked" }),
    ))
}

pub async fn whoami(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> Result<Json<Value>, ApiError> {
    let token = state.service.own_token(&ctx).await?;
    let mut out = json!({
        "kind": ctx.actor.kind.as_str(),
        "id": ctx.actor.id,
        "name": ctx.actor.name,
        "serverAdmin": ctx.actor.server_admin,
        "expiresAt": token.as_ref().and_then(|t| t.expires_at).map(crate::service::iso),
    });
    if let Some(scope) = &ctx.actor.token_scope {
        let project = state
            .service
            .store
            .project(&scope.project_id)
            .await
            .ok()
            .flatten();
        out["scope"] = json!({
            "project": project.map(|p| p.slug).unwrap_or_else(|| scope.project_id.clone()),
            "scopes": scope.scopes.iter().map(|s| json!({ "environment": s.env, "secretPath": s.path })).collect::<Vec<_>>(),
            "write": scope.write,
        });
    }
    Ok(Json(out))
}
