//! Sign in through an SSO provider: the dashboard is a client of the same
//! authorization-code flow as `hush login --sso` (`service::sso`).
//!
//! `start` draws a PKCE verifier and a state, keeps both in a short-lived
//! `HttpOnly` cookie, and sends the browser to the provider; the server's
//! callback sends it back to `done` with a one-time login code, which is
//! redeemed with the verifier into an ordinary session cookie.
//!
//! The flow cookie is `SameSite=Lax`: the return is a top-level navigation
//! that the provider's site started, with which a `Strict` cookie is not
//! sent. That is also why `done` answers with a page that moves on to the
//! projects itself instead of a redirect: a redirect still belongs to the
//! navigation that the provider's site started, and the browser would not
//! send the new `Strict` session cookie with it (Chromium does not; the
//! browser test fails with a redirect here).
//!
//! Login CSRF (someone else's login code planted in this browser) fails
//! twice: the state must equal this browser's cookie, and the code is bound
//! to this browser's verifier.

use super::super::csrf;
use super::super::error::WebError;
use super::super::extract::{PagePath, PageQuery};
use super::super::html::Html;
use super::super::layout::page;
use super::super::session;
use super::bounded;
use super::sign_in::Https;
use crate::server::auth::anonymous;
use crate::server::extract::Client;
use crate::server::AppState;
use crate::service::sso::{challenge, Return};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use serde::Deserialize;

/// How long a started sign-in may take (the service's own flow lives as
/// long).
const FLOW_COOKIE_SECS: i64 = 600;

/// A PKCE verifier: 256 random bits, base64url (43 characters).
fn verifier() -> Result<String, WebError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|_| {
        WebError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server could not draw random bytes",
        )
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

pub async fn start(
    State(state): State<AppState>,
    Https(secure): Https,
    PagePath(provider): PagePath<String>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let verifier = verifier()?;
    let flow_state = csrf::random_token()?;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let started = state
        .service
        .sso_start(
            bounded(Some(&provider)),
            host,
            Return::Dashboard,
            &challenge(&verifier),
            &flow_state,
        )
        .await?;
    let mut r = Redirect::to(&started.authorization_url).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        session::set_lax_cookie(
            secure,
            session::sso_cookie(secure),
            &format!("{flow_state}.{verifier}"),
            FLOW_COOKIE_SECS,
        ),
    );
    Ok(r)
}

#[derive(Deserialize)]
pub struct Returned {
    code: Option<String>,
    state: Option<String>,
}

/// The page that finishes a sign-in: sets the session and moves on to the
/// projects (see the module doc for why it is not a redirect).
fn signed_in() -> Response {
    let mut h = Html::new();
    h.raw(
        "<section class=\"card narrow\"><h1>Signed in</h1><p role=\"status\">You are signed in. ",
    )
    .link("/projects", "Continue to your projects")
    .raw(".</p></section>");
    let mut r = page(StatusCode::OK, "Signed in", None, h);
    r.headers_mut()
        .insert("refresh", HeaderValue::from_static("0; url=/projects"));
    r
}

pub async fn done(
    State(state): State<AppState>,
    Https(secure): Https,
    client: Client,
    headers: HeaderMap,
    PageQuery(q): PageQuery<Returned>,
) -> Response {
    let flow =
        session::cookie(&headers, session::sso_cookie(secure)).and_then(|v| v.split_once('.'));
    let outcome = match (flow, q.code.as_deref(), q.state.as_deref()) {
        (Some((expected, verifier)), Some(code), Some(given)) if csrf::matches(expected, given) => {
            let ctx = anonymous(client, "sso");
            state
                .service
                .sso_redeem(&ctx, code, verifier)
                .await
                .map_err(WebError::from)
        }
        _ => Err(WebError::bad_request(
            "This sign-in cannot be finished here: it must end in the browser that started it, \
             within 10 minutes. Start again from the sign-in page.",
        )),
    };
    let (mut r, issued) = match outcome {
        Ok(issued) => (signed_in(), Some(issued)),
        Err(e) => (e.into_response(), None),
    };
    let cookies = r.headers_mut();
    // The flow is over either way: its verifier goes.
    cookies.append(
        header::SET_COOKIE,
        session::set_lax_cookie(secure, session::sso_cookie(secure), "", 0),
    );
    if let Some(issued) = issued {
        cookies.append(
            header::SET_COOKIE,
            session::set_session_cookie(secure, &issued),
        );
    }
    r
}
