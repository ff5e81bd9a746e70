//! Rotation policies over HTTP (hush's own routes; Infisical has no such
//! API for plain secrets). Policies are addressed by their secret: project,
//! environment and folder in the query or body, the key in the path.
//!
//! - `GET  /api/v1/hush/rotations` — the policies the caller may read
//! - `POST /api/v1/hush/rotations` — create one
//! - `GET/DELETE /api/v1/hush/rotations/{key}` — show, delete
//! - `POST /api/v1/hush/rotations/{key}/rotate` — rotate now

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use super::wire::ResolveScope;
use super::AppState;
use crate::api::rotations::{
    CreateRotation, RotateBody, RotateReport, RotationEnvelope, RotationQuery, RotationsList,
};
use crate::rotation::generate::Generator;
use crate::rotation::schedule::Schedule;
use crate::secret::SecretKey;
use crate::service::rotation_db::{PROVIDER_MYSQL, PROVIDER_POSTGRES};
use crate::service::rotations::NewRotation;
use crate::service::{now_ms, Action};
use axum::extract::State;
use axum::Json;

fn parse_key(name: &str) -> Result<SecretKey, ApiError> {
    SecretKey::parse(name).map_err(|e| ApiError::validation(e.to_string()))
}

fn parse_time(text: &str) -> Result<i64, ApiError> {
    let f = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(text, &f)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|_| {
            ApiError::validation("invalid nextRotationAt: use RFC 3339, e.g. 2026-01-31T03:00:00Z")
        })
}

pub async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<CreateRotation>,
) -> Result<Json<RotationEnvelope>, ApiError> {
    let key = parse_key(&body.secret_key)?;
    let schedule = match (body.every.as_deref(), body.cron.as_deref()) {
        (Some(every), None) => Schedule::every(every),
        (None, Some(cron)) => Schedule::cron(cron),
        _ => Err("give exactly one of every (e.g. 30d) or cron (e.g. \"0 3 * * 1\")".into()),
    }
    .map_err(ApiError::validation)?;
    let generator = match (body.generator.as_deref(), body.remind) {
        (Some(g), false) => Some(Generator::parse(g).map_err(ApiError::validation)?),
        (None, true) => None,
        (Some(_), true) => {
            return Err(ApiError::validation(
                "a reminder (remind) has no generator: the secret is rotated by hand",
            ))
        }
        (None, false) => {
            return Err(ApiError::validation(
                "give a generator (e.g. hex:32), or remind: true for a secret rotated by hand",
            ))
        }
    };
    let database = match (body.postgres, body.mysql) {
        (None, None) => None,
        (Some(cfg), None) => Some((PROVIDER_POSTGRES, cfg)),
        (None, Some(cfg)) => Some((PROVIDER_MYSQL, cfg)),
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "give at most one of postgres and mysql",
            ))
        }
    };
    let next_at = body
        .next_rotation_at
        .as_deref()
        .map(parse_time)
        .transpose()?;
    let scope = body.scope.resolve(&state, &ctx, Action::Write).await?;
    let rotation = state
        .service
        .create_rotation(
            &ctx,
            &scope,
            NewRotation {
                key,
                schedule,
                generator,
                next_at,
                database,
            },
        )
        .await?;
    Ok(Json(RotationEnvelope { rotation }))
}

pub async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<RotationQuery>,
) -> Result<Json<RotationsList>, ApiError> {
    let project = q.scope.project_or_400()?;
    let env = q.scope.environment.as_deref().filter(|e| !e.is_empty());
    let rotations = state.service.list_rotations(&ctx, project, env).await?;
    Ok(Json(RotationsList { rotations }))
}

pub async fn show(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<RotationQuery>,
) -> Result<Json<RotationEnvelope>, ApiError> {
    let key = parse_key(&name)?;
    let scope = q.scope.resolve(&state, &ctx, Action::Read).await?;
    let rotation = state.service.show_rotation(&scope, &key).await?;
    Ok(Json(RotationEnvelope { rotation }))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<RotationQuery>,
) -> Result<Json<RotationEnvelope>, ApiError> {
    let key = parse_key(&name)?;
    let scope = q.scope.resolve(&state, &ctx, Action::Write).await?;
    let rotation = state.service.delete_rotation(&ctx, &scope, &key).await?;
    Ok(Json(RotationEnvelope { rotation }))
}

pub async fn rotate(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<RotateBody>,
) -> Result<Json<RotateReport>, ApiError> {
    let key = parse_key(&name)?;
    let scope = body.scope.resolve(&state, &ctx, Action::Write).await?;
    // A lease name of its own: the rotation is released when this request
    // ends, and a scheduler of this same server cannot mistake it for its own.
    let owner = format!("request-{}", crate::service::new_id());
    let report = state
        .service
        .rotate_now(&ctx, &scope, &key, body.revoke_previous, &owner, now_ms())
        .await?;
    Ok(Json(report))
}
