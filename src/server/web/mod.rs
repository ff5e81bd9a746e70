//! The web dashboard (issue 27): server-rendered HTML from the same binary,
//! at `/` beside the API under `/api`. Pages call the same service functions
//! as the API with the signed-in person's `Ctx`; sessions are hush session
//! tokens in an `HttpOnly`, `SameSite=Strict` cookie (`session`); every form
//! that changes anything carries a CSRF token (`csrf`); every response has a
//! strict Content-Security-Policy (no inline script or style, nothing from
//! another origin) and is never cached (`security_headers`).
//!
//! These routes live here, not in `server::router`'s table: that table is
//! the API's (the OpenAPI document and the API authorization matrix are
//! generated from it). The dashboard's own matrix is in
//! `tests/it/authz_matrix.rs` (`every_dashboard_route_is_in_its_matrix`).

pub mod csrf;
pub mod error;
pub mod extract;
pub mod html;
pub mod layout;
pub mod pages;
pub mod session;

use super::AppState;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use pages::{
    access, audit, bulk, diff, folder, identities, projects, secret, settings, sign_in, sso,
};
use std::sync::Arc;

/// The stylesheet and the one script, compiled into the binary.
const APP_CSS: &str = include_str!("../../../server/web/app.css");
const APP_JS: &str = include_str!("../../../server/web/app.js");

/// Only this server's own files; no inline script or style; no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Whether `path` is the dashboard's (not the API's, nor a health probe):
/// its state-changing requests are HTML forms, defended by CSRF tokens
/// rather than by the API's JSON-only rule (`browser::json_refusal`).
pub fn is_dashboard_path(path: &str) -> bool {
    !(path.starts_with("/api/") || path == "/api" || path == "/healthz" || path == "/readyz")
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    add_security_headers(&mut response);
    response
}

/// A dashboard page for `error`, with the dashboard's headers, for a route
/// outside the dashboard's router (the SSO callback of a dashboard sign-in).
pub fn error_page(error: crate::service::ServiceError) -> Response {
    let mut response = error::WebError::from(error).into_response();
    add_security_headers(&mut response);
    response
}

fn add_security_headers(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    // A revealed value must not outlive its page in any cache.
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// The API's per-address limit of authentication attempts, its refusal
/// turned into a page (keeping `Retry-After`).
async fn sign_in_rate(
    State(limiter): State<Arc<super::rate_limit::RateLimiter>>,
    req: Request,
    next: Next,
) -> Response {
    let response = super::rate_limit::limit(State(limiter), req, next).await;
    if response.status() != StatusCode::TOO_MANY_REQUESTS {
        return response;
    }
    let retry = response.headers().get(header::RETRY_AFTER).cloned();
    let mut page = error::WebError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many sign-in attempts from your address; wait a minute and try again.",
    )
    .into_response();
    if let Some(v) = retry {
        page.headers_mut().insert(header::RETRY_AFTER, v);
    }
    page
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// The dashboard's routes, to be merged into the server's router.
pub fn routes(state: &AppState) -> Router<AppState> {
    let rate_limited = |route: axum::routing::MethodRouter<AppState>| {
        route.layer(from_fn_with_state(state.auth_rate.clone(), sign_in_rate))
    };
    Router::new()
        .route("/", get(sign_in::root))
        .route(
            "/assets/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        // Password guessing is limited per address, as on the API's login.
        .route(
            "/sign-in",
            get(sign_in::show).merge(rate_limited(post(sign_in::submit))),
        )
        // Each start asks the provider for its discovery document, and each
        // return redeems a login code: both limited like a password.
        .route("/sign-in/sso/{provider}", rate_limited(get(sso::start)))
        .route("/sign-in/sso/done", rate_limited(get(sso::done)))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/projects", get(projects::list))
        .route(
            "/identities",
            get(identities::show).post(identities::create),
        )
        .route("/identities/{id}/delete", post(identities::delete))
        .route("/p/{project}", get(projects::overview))
        .route("/p/{project}/audit", get(audit::show))
        .route("/p/{project}/audit/tail", get(audit::tail))
        .route("/p/{project}/access", get(access::show))
        .route("/p/{project}/members", post(access::save_member))
        .route("/p/{project}/members/remove", post(access::remove_member))
        .route("/p/{project}/tokens", post(access::create_token))
        .route(
            "/p/{project}/tokens/{id}/revoke",
            post(access::revoke_token),
        )
        .route(
            "/p/{project}/settings",
            get(settings::show).post(settings::save_limits),
        )
        .route("/p/{project}/environments", post(settings::add_environment))
        .route(
            "/p/{project}/environments/{env}/rename",
            post(settings::rename_environment),
        )
        .route("/p/{project}/env/{env}", get(folder::show))
        .route("/p/{project}/env/{env}/secrets", post(folder::create))
        .route("/p/{project}/env/{env}/secrets/{key}", get(secret::show))
        .route(
            "/p/{project}/env/{env}/secrets/{key}/reveal",
            post(secret::reveal),
        )
        .route(
            "/p/{project}/env/{env}/secrets/{key}/edit",
            post(secret::edit),
        )
        .route(
            "/p/{project}/env/{env}/secrets/{key}/delete",
            post(secret::delete),
        )
        .route(
            "/p/{project}/env/{env}/secrets/{key}/restore",
            post(secret::restore),
        )
        .route(
            "/p/{project}/env/{env}/secrets/{key}/rollback",
            post(secret::rollback),
        )
        .route(
            "/p/{project}/env/{env}/secrets/{key}/diff",
            get(diff::show).post(diff::reveal),
        )
        .route("/p/{project}/env/{env}/bulk", post(bulk::submit))
        .layer(DefaultBodyLimit::max(csrf::FORM_BODY_LIMIT))
        .layer(from_fn(security_headers))
}
