//! Dynamic secrets over HTTP: Infisical's routes and shapes, so the
//! official SDKs' `dynamic_secrets` clients work unchanged.
//!
//! - `GET/POST /api/v1/dynamic-secrets` — list, create a definition
//! - `GET/PATCH/DELETE /api/v1/dynamic-secrets/{name}` — show, change, delete
//! - `GET /api/v1/dynamic-secrets/{name}/leases` — a definition's leases
//! - `POST /api/v1/dynamic-secrets/leases` — a new credential
//! - `GET/DELETE /api/v1/dynamic-secrets/leases/{id}` — show, revoke
//! - `POST /api/v1/dynamic-secrets/leases/{id}/renew` — renew

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use super::wire::ResolveScope;
use super::AppState;
use crate::api::dynamic::{
    CreateDynamicSecret, CreateLease, DynamicDelete, DynamicQuery, DynamicSecretEnvelope,
    DynamicSecretsList, LeaseCreated, LeaseEnvelope, LeasesList, RenewLease, UpdateDynamicSecret,
};
use crate::dynamic::limits::{parse_ttl, MAX_TTL_SECS};
use crate::dynamic::{Connection, Kind};
use crate::service::dynamic::{DynamicUpdate, NewDynamic};
use crate::service::secrets::Scope;
use crate::service::{Action, Ctx};
use axum::extract::State;
use axum::Json;
use zeroize::Zeroizing;

/// A delete's scope (from the body, else the query, as the SDKs send
/// either) checked for write, and whether it is forced.
async fn forced_scope(
    state: &AppState,
    ctx: &Ctx,
    query: DynamicDelete,
    body: DynamicDelete,
) -> Result<(Scope, bool), ApiError> {
    let forced = body.is_forced || query.is_forced;
    let scope = body
        .scope
        .or(query.scope)
        .params()
        .resolve(state, ctx, Action::Write)
        .await?;
    Ok((scope, forced))
}

fn ttl(text: Option<&str>) -> Result<Option<i64>, ApiError> {
    text.filter(|t| !t.is_empty())
        .map(parse_ttl)
        .transpose()
        .map_err(ApiError::validation)
}

/// A request's own lease name for a revocation it runs, so it cannot be
/// mistaken for the expiry job's.
fn owner() -> String {
    format!("request-{}", crate::service::new_id())
}

pub async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateDynamicSecret>,
) -> Result<Json<DynamicSecretEnvelope>, ApiError> {
    let inputs = body.provider.inputs;
    let kind = match (body.provider.kind.as_str(), inputs.client.as_deref()) {
        ("sql-database", Some(client)) => Kind::parse(client).map_err(ApiError::validation)?,
        ("sql-database", None) => {
            return Err(ApiError::validation(
                "provider.inputs.client is required: postgres or mysql",
            ))
        }
        ("redis", _) => Kind::Redis,
        (other, _) => {
            return Err(ApiError::validation(format!(
                "unsupported provider type {:?}: hush makes sql-database (postgres, mysql) and redis users",
                crate::limits::cut_to(other.to_owned(), 40)
            )))
        }
    };
    if kind == Kind::Redis && inputs.client.is_some() {
        return Err(ApiError::validation("a redis provider takes no client"));
    }
    if inputs.ca.as_deref().is_some_and(|c| !c.trim().is_empty()) {
        return Err(ApiError::validation(
            "a custom CA (inputs.ca) is not supported yet: use sslMode verify-full with a CA the server trusts",
        ));
    }
    let default_ttl = parse_ttl(&body.default_ttl).map_err(ApiError::validation)?;
    let max_ttl = match body.max_ttl.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => parse_ttl(t).map_err(ApiError::validation)?,
        None => default_ttl.clamp(86_400, MAX_TTL_SECS),
    };
    let scope = body
        .scope
        .params()
        .resolve(&state, &ctx, Action::Write)
        .await?;
    let new = NewDynamic {
        name: body.name,
        kind,
        conn: Connection {
            host: inputs.host,
            port: inputs.port,
            database: inputs.database.unwrap_or_default(),
            username: inputs.username.unwrap_or_default(),
            ssl_mode: inputs.ssl_mode,
            creation_statement: inputs.creation_statement,
            revocation_statement: inputs.revocation_statement,
            renew_statement: inputs.renew_statement.filter(|s| !s.trim().is_empty()),
        },
        admin_password: Zeroizing::new(inputs.password.unwrap_or_default()),
        default_ttl,
        max_ttl,
        output_keys: body.output_keys.unwrap_or_default(),
        metadata: body.metadata.unwrap_or_default(),
    };
    let dynamic_secret = state.service.create_dynamic(&ctx, &scope, new).await?;
    Ok(Json(DynamicSecretEnvelope { dynamic_secret }))
}

pub async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<DynamicQuery>,
) -> Result<Json<DynamicSecretsList>, ApiError> {
    let params = q.scope.params();
    let project = params.project_or_400()?;
    let env = q
        .scope
        .environment_slug
        .as_deref()
        .filter(|e| !e.is_empty());
    let path = q.scope.path.as_deref().filter(|p| !p.is_empty());
    let dynamic_secrets = state.service.list_dynamic(&ctx, project, env, path).await?;
    Ok(Json(DynamicSecretsList { dynamic_secrets }))
}

pub async fn show(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<DynamicQuery>,
) -> Result<Json<DynamicSecretEnvelope>, ApiError> {
    let scope = q.scope.params().resolve(&state, &ctx, Action::Read).await?;
    let dynamic_secret = state.service.show_dynamic(&scope, &name).await?;
    Ok(Json(DynamicSecretEnvelope { dynamic_secret }))
}

pub async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateDynamicSecret>,
) -> Result<Json<DynamicSecretEnvelope>, ApiError> {
    let d = body.data;
    if d.username_template
        .as_deref()
        .is_some_and(|t| !t.is_empty())
    {
        return Err(ApiError::validation(
            "usernameTemplate is not supported: hush makes user names itself (hush_ and 20 random characters)",
        ));
    }
    let changes = DynamicUpdate {
        new_name: d.new_name.filter(|n| !n.is_empty()),
        inputs: d.inputs,
        default_ttl: ttl(d.default_ttl.as_deref())?,
        max_ttl: ttl(d.max_ttl.as_deref())?,
        metadata: d.metadata,
    };
    let scope = body
        .scope
        .params()
        .resolve(&state, &ctx, Action::Write)
        .await?;
    let dynamic_secret = state
        .service
        .update_dynamic(&ctx, &scope, &name, changes)
        .await?;
    Ok(Json(DynamicSecretEnvelope { dynamic_secret }))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<DynamicDelete>,
    ApiJson(body): ApiJson<DynamicDelete>,
) -> Result<Json<DynamicSecretEnvelope>, ApiError> {
    let (scope, forced) = forced_scope(&state, &ctx, q, body).await?;
    let dynamic_secret = state
        .service
        .delete_dynamic(&ctx, &scope, &name, forced, &owner())
        .await?;
    Ok(Json(DynamicSecretEnvelope { dynamic_secret }))
}

pub async fn leases(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<DynamicQuery>,
) -> Result<Json<LeasesList>, ApiError> {
    let scope = q.scope.params().resolve(&state, &ctx, Action::Read).await?;
    let leases = state.service.list_leases(&scope, &name).await?;
    Ok(Json(LeasesList { leases }))
}

pub async fn create_lease(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateLease>,
) -> Result<Json<LeaseCreated>, ApiError> {
    let ttl = ttl(body.ttl.as_deref())?;
    let scope = body
        .scope
        .params()
        .resolve(&state, &ctx, Action::Write)
        .await?;
    let created = state
        .service
        .create_lease(&ctx, &scope, &body.dynamic_secret_name, ttl)
        .await?;
    Ok(Json(created))
}

pub async fn get_lease(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DynamicQuery>,
) -> Result<Json<LeaseEnvelope>, ApiError> {
    let scope = q.scope.params().resolve(&state, &ctx, Action::Read).await?;
    let lease = state.service.get_lease(&scope, &id).await?;
    Ok(Json(LeaseEnvelope { lease }))
}

pub async fn revoke_lease(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DynamicDelete>,
    ApiJson(body): ApiJson<DynamicDelete>,
) -> Result<Json<LeaseEnvelope>, ApiError> {
    let (scope, forced) = forced_scope(&state, &ctx, q, body).await?;
    let lease = state
        .service
        .revoke_lease(&ctx, &scope, &id, forced, &owner())
        .await?;
    Ok(Json(LeaseEnvelope { lease }))
}

pub async fn renew_lease(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RenewLease>,
) -> Result<Json<LeaseEnvelope>, ApiError> {
    let ttl = ttl(body.ttl.as_deref())?;
    let scope = body
        .scope
        .params()
        .resolve(&state, &ctx, Action::Write)
        .await?;
    let lease = state.service.renew_lease(&ctx, &scope, &id, ttl).await?;
    Ok(Json(LeaseEnvelope { lease }))
}
