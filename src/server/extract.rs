//! Request extractors that parse at the edge and fail with the API's envelope:
//! the caller's identity (`Auth`), JSON bodies (`ApiJson`), query strings
//! (`ApiQuery`) and path parameters (`ApiPath`).

use super::client_addr::ClientAddr;
use super::error::ApiError;
use super::AppState;
use crate::service::Ctx;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;

/// An authenticated caller.
pub struct Auth(pub Ctx);

/// Client address and user agent, for audit events of unauthenticated routes.
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

fn client(parts: &Parts) -> Client {
    Client {
        // The address `client_addr` resolved (proxies considered); the peer
        // only if that step did not run.
        ip: parts
            .extensions
            .get::<ClientAddr>()
            .map(|c| c.0)
            .or_else(|| {
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| crate::net::canonical(c.0.ip()))
            })
            .map(|ip| ip.to_string()),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(client(parts))
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized(
                "missing Authorization header: send 'Authorization: Bearer <token>'",
            )
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized("malformed Authorization header: expected 'Bearer <token>'")
            })?;
        let c = client(parts);
        let actor = state.service.authenticate(token, c.ip.as_deref()).await?;
        Ok(Auth(Ctx {
            actor,
            client_ip: c.ip,
            user_agent: c.user_agent,
        }))
    }
}

/// The body limit of a route with its own (smaller) limit, for the 413's message.
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A JSON body (its content type is checked by `browser::require_json`); an
/// empty body reads as `{}`. Bad JSON is a 422 saying what is wrong.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map_or(state.body_limit, |l| l.0);
        // The body read timeout: a client trickling its body must not hold
        // a task and a connection for ever.
        let timeout = state.limits.body_read_timeout;
        let bytes = tokio::time::timeout(timeout, Bytes::from_request(req, state))
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "RequestTimeout",
                    format!(
                        "the request body did not arrive within {}s; send it in one go",
                        timeout.as_secs_f64()
                    ),
                )
            })?
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::payload_too_large(limit)
                } else {
                    ApiError::bad_request(format!("could not read the request body: {rejection}"))
                }
            })?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(bytes)
            .map(ApiJson)
            .map_err(|e| ApiError::validation(format!("invalid JSON body: {e}")))
    }
}

/// A query string; a bad one is a 422.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::validation(format!("invalid query string: {}", e.body_text())))
    }
}

/// Path parameters; one that cannot be read (e.g. `%FF`, not UTF-8) is a 400
/// in the API's envelope, not axum's plain-text rejection.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(p) => Ok(ApiPath(p.0)),
            // A route whose template lacks the parameter: our bug, not the caller's.
            Err(e) if e.status().is_server_error() => Err(ApiError::internal(e.body_text())),
            Err(e) => Err(ApiError::bad_request(format!(
                "invalid path parameter: {}",
                e.body_text()
            ))),
        }
    }
}

/// Query booleans arrive as `true`/`false` and, from Python, `True`/`False`.
pub fn flag(value: &Option<String>, default: bool) -> Result<bool, ApiError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => Ok(default),
        Some("true") | Some("1") | Some("yes") => Ok(true),
        Some("false") | Some("0") | Some("no") => Ok(false),
        Some(other) => Err(ApiError::validation(format!(
            "expected true or false, got {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    /// Found by the `requests` fuzz target: `/api/v1/hush/secrets/%FF/history`
    /// answered axum's plain-text 400 instead of the JSON error envelope.
    #[tokio::test]
    async fn a_path_parameter_that_is_not_utf8_is_an_enveloped_400() {
        let app = Router::new().route(
            "/x/{name}",
            get(|ApiPath(name): ApiPath<String>| async move { name }),
        );
        let ok = app
            .clone()
            .oneshot(Request::get("/x/a%20b").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let bad = app
            .oneshot(Request::get("/x/%FF").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(bad.into_body(), usize::MAX)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["statusCode"], 400);
        assert_eq!(v["error"], "BadRequest");
        assert!(v["reqId"].is_string());
    }
}
