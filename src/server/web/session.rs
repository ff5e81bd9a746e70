//! Dashboard sessions. The cookie holds a hush session token, issued by the
//! same password login as `hush login` (`Service::login_password`) and
//! checked on every request by the same `Service::authenticate` as a bearer
//! token: expiry, revocation, disabled accounts and the audit trail are the
//! API's. The cookie is `HttpOnly` (no script reads it), `SameSite=Strict`
//! (no other site's page sends it), `Secure` under TLS, and `Path=/`; the
//! API never reads it (it wants `Authorization`), so it cannot be used to
//! forge API calls.

use super::csrf;
use crate::server::extract::Client;
use crate::server::AppState;
use crate::service::{ActorKind, Ctx, ServiceError};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};

/// The cookie's name: with the `__Host-` prefix under TLS (the browser then
/// insists on `Secure`, `Path=/` and no `Domain`), plain otherwise (browsers
/// refuse `__Host-` cookies over http).
pub fn session_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-hush_session"
    } else {
        "hush_session"
    }
}

/// The pre-session cookie that the sign-in form's CSRF token is compared
/// with (double submit: there is no session yet to bind it to).
pub fn signin_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-hush_signin"
    } else {
        "hush_signin"
    }
}

/// The cookie that carries a dashboard SSO sign-in's state and PKCE
/// verifier from its start to its return (`pages::sso`).
pub fn sso_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-hush_sso"
    } else {
        "hush_sso"
    }
}

/// Whether this request's cookies get `Secure` (and the `__Host-` names):
/// under the server's own TLS, or when a trusted proxy says the browser
/// used https (`--trusted-proxies` and `X-Forwarded-Proto`).
pub fn is_secure(state: &AppState, extensions: &axum::http::Extensions) -> bool {
    state.secure_cookies
        || extensions
            .get::<crate::server::client_addr::ForwardedHttps>()
            .is_some()
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty() && v.len() <= 512)
}

/// `Set-Cookie` for `name=value` living `max_age` seconds (0: delete it).
pub fn set_cookie(secure: bool, name: &str, value: &str, max_age: i64) -> HeaderValue {
    cookie_header(secure, name, value, max_age, "Strict")
}

/// `Set-Cookie` for the session just issued to this browser.
pub fn set_session_cookie(
    secure: bool,
    issued: &crate::service::identity::IssuedToken,
) -> HeaderValue {
    set_cookie(
        secure,
        session_cookie(secure),
        issued.token.as_str(),
        issued.expires_in,
    )
}

/// `set_cookie`, but `SameSite=Lax`: sent on the top-level navigation
/// that comes back from an SSO provider's site, which a `Strict` cookie is
/// not. Only the SSO flow's own cookie is `Lax`; the session stays `Strict`.
pub fn set_lax_cookie(secure: bool, name: &str, value: &str, max_age: i64) -> HeaderValue {
    cookie_header(secure, name, value, max_age, "Lax")
}

fn cookie_header(
    secure: bool,
    name: &str,
    value: &str,
    max_age: i64,
    same_site: &str,
) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}"
    );
    // Token text is URL-safe and names are literals: a failure is a bug,
    // answered by a cookie that deletes nothing rather than a panic.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("x=; Max-Age=0"))
}

/// A signed-in person: their request context (the same `Ctx` the API's
/// `Auth` builds) and the CSRF token their forms must carry.
pub struct WebSession {
    pub ctx: Ctx,
    pub csrf: String,
    /// Whether this request's cookies are `Secure` (`is_secure`).
    pub secure: bool,
}

/// Where a request without a usable session goes.
fn to_sign_in(secure: bool, why: &str) -> Response {
    let mut r = Redirect::to(&format!("/sign-in?why={why}")).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(secure, session_cookie(secure), "", 0),
    );
    r
}

impl FromRequestParts<AppState> for WebSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let secure = is_secure(state, &parts.extensions);
        let Some(token) = cookie(&parts.headers, session_cookie(secure)).map(str::to_owned) else {
            return Err(Redirect::to("/sign-in").into_response());
        };
        let client = Client::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let actor = match state
            .service
            .authenticate(&token, client.ip.as_deref())
            .await
        {
            Ok(actor) => actor,
            Err(ServiceError::TokenExpired(_)) => return Err(to_sign_in(secure, "expired")),
            Err(ServiceError::Unauthorized(_)) => return Err(to_sign_in(secure, "signed-out")),
            Err(e) => return Err(super::error::WebError::from(e).into_response()),
        };
        // Only a person's session signs in to the dashboard: a machine token
        // pasted into the cookie is refused like an unknown one.
        if actor.kind != ActorKind::User || actor.token_scope.is_some() {
            return Err(to_sign_in(secure, "signed-out"));
        }
        Ok(WebSession {
            secure,
            csrf: csrf::token_for(&token),
            ctx: Ctx {
                actor,
                client_ip: client.ip,
                user_agent: client.user_agent,
            },
        })
    }
}

impl WebSession {
    /// The header's view of who is signed in.
    pub fn viewer(&self) -> super::layout::Viewer<'_> {
        super::layout::Viewer {
            name: &self.ctx.actor.name,
            csrf: &self.csrf,
        }
    }
}
