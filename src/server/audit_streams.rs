//! Audit log streams over HTTP, in Infisical's shape
//! (`/api/v1/audit-log-streams`: `{url, headers: [{key, value}]}` in,
//! `{auditLogStream}` / `{auditLogStreams}` out), with hush's additions: a
//! stream may be a syslog target, header values never come back (names
//! only), and each stream reports its cursor, lag and last error.

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Auth};
use super::AppState;
use crate::api::streams::{
    AddStream, Headers, StreamEnvelope, StreamView, StreamsList, UpdateStream,
};
use crate::service::audit_streams::{NewStream, StreamChange};
use crate::streams::target::HeaderSpec;
use axum::extract::State;
use axum::Json;
use zeroize::Zeroizing;

fn envelope(stream: StreamView) -> Json<StreamEnvelope> {
    Json(StreamEnvelope {
        audit_log_stream: stream,
    })
}

/// Stream ids are UUIDs: anything else is unknown, and never reaches the
/// audit log as free text.
fn stream_id(text: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(text)
        .map(|id| id.hyphenated().to_string())
        .map_err(|_| ApiError::not_found("audit stream not found"))
}

pub async fn add(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiJson(body): ApiJson<AddStream>,
) -> Result<Json<StreamEnvelope>, ApiError> {
    let stream = state
        .service
        .add_audit_stream(
            &ctx,
            NewStream {
                url: body.url,
                headers: specs(body.headers),
                ca_cert: body.ca_cert,
                from_start: body.from_start,
            },
        )
        .await?;
    Ok(envelope(stream))
}

/// Infisical trims header keys and values.
fn specs(headers: Headers) -> Vec<HeaderSpec> {
    headers
        .0
        .into_iter()
        .map(|h| HeaderSpec {
            name: h.key.trim().to_owned(),
            value: Zeroizing::new(h.value.trim().to_owned()),
        })
        .collect()
}

pub async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateStream>,
) -> Result<Json<StreamEnvelope>, ApiError> {
    let change = StreamChange {
        url: body.url,
        headers: body.headers.map(specs),
        ca_cert: body.ca_cert,
    };
    let stream = state
        .service
        .update_audit_stream(&ctx, &stream_id(&id)?, change)
        .await?;
    Ok(envelope(stream))
}

pub async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> Result<Json<StreamsList>, ApiError> {
    let streams = state.service.audit_streams(&ctx).await?;
    Ok(Json(StreamsList {
        audit_log_streams: streams,
    }))
}

pub async fn show(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<StreamEnvelope>, ApiError> {
    let stream = state.service.audit_stream(&ctx, &stream_id(&id)?).await?;
    Ok(envelope(stream))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<StreamEnvelope>, ApiError> {
    let stream = state
        .service
        .delete_audit_stream(&ctx, &stream_id(&id)?)
        .await?;
    Ok(envelope(stream))
}

/// The stream routes' own body limit (`streams::limits::BODY_LIMIT`),
/// refused (413) before it is read further.
pub fn bounded(
    route: axum::routing::MethodRouter<AppState>,
) -> axum::routing::MethodRouter<AppState> {
    use crate::streams::limits::BODY_LIMIT;
    route
        .layer::<_, std::convert::Infallible>(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer::<_, std::convert::Infallible>(axum::Extension(super::extract::BodyLimit(
            BODY_LIMIT,
        )))
}
