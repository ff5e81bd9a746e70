//! Audit log streams over HTTP, in Infisical's shape
//! (`/api/v1/audit-log-streams`: `{url, headers: [{key, value}]}` in,
//! `{auditLogStream}` / `{auditLogStreams}` out), with hush's additions: a
//! stream may be a syslog target, header values never come back (names
//! only), and each stream reports its cursor, lag and last error.

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Auth};
use super::AppState;
use crate::service::audit_streams::{NewStream, StreamChange};
use crate::streams::target::HeaderSpec;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use zeroize::Zeroizing;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddStream {
    url: String,
    #[serde(default)]
    headers: Headers,
    /// PEM: the only CA to trust for TLS (default: the public web PKI).
    ca_cert: Option<String>,
    /// Deliver the whole existing log first (default: only what comes after).
    #[serde(default)]
    from_start: bool,
}

/// Infisical's PATCH body, plus `caCert`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStream {
    url: Option<String>,
    headers: Option<Headers>,
    ca_cert: Option<String>,
}

#[derive(Deserialize)]
pub struct HeaderIn {
    key: String,
    value: Zeroizing<String>,
}

/// `[{key, value}]`. Parsed by hand so that a malformed list is refused
/// without quoting it: serde's own message for a string given instead of a
/// list would carry the string, which is likely a credential.
#[derive(Default)]
pub struct Headers(Vec<HeaderIn>);

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct List;
        impl<'de> serde::de::Visitor<'de> for List {
            type Value = Headers;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of {key, value} headers")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Headers, E> {
                Err(E::custom(
                    "headers must be a list of {key, value} objects, not a string",
                ))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Headers, A::Error> {
                let mut out = Vec::new();
                while let Some(h) = seq.next_element::<HeaderIn>()? {
                    out.push(h);
                }
                Ok(Headers(out))
            }
        }
        d.deserialize_any(List)
    }
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
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({ "auditLogStream": stream })))
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
) -> Result<Json<Value>, ApiError> {
    let change = StreamChange {
        url: body.url,
        headers: body.headers.map(specs),
        ca_cert: body.ca_cert,
    };
    let stream = state
        .service
        .update_audit_stream(&ctx, &stream_id(&id)?, change)
        .await?;
    Ok(Json(json!({ "auditLogStream": stream })))
}

pub async fn list(State(state): State<AppState>, Auth(ctx): Auth) -> Result<Json<Value>, ApiError> {
    let streams = state.service.audit_streams(&ctx).await?;
    Ok(Json(json!({ "auditLogStreams": streams })))
}

pub async fn show(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let stream = state.service.audit_stream(&ctx, &stream_id(&id)?).await?;
    Ok(Json(json!({ "auditLogStream": stream })))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let stream = state
        .service
        .delete_audit_stream(&ctx, &stream_id(&id)?)
        .await?;
    Ok(Json(json!({ "auditLogStream": stream })))
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
