//! Sign in with email and password (the API's `login_password`), sign out
//! (the API's logout: the session is revoked, not just forgotten), and `/`.

use super::super::csrf::{self, Posted};
use super::super::error::WebError;
use super::super::extract::PageQuery;
use super::super::html::{url_part, Html};
use super::super::layout::{notice, page};
use super::super::session::{self, WebSession};
use crate::server::extract::Client;
use crate::server::AppState;
use crate::service::{Actor, ActorKind, Ctx, ServiceError};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// How long the sign-in form's double-submit cookie lives.
const SIGNIN_COOKIE_SECS: i64 = 3600;
const MAX_EMAIL: usize = 254;
const MAX_PASSWORD: usize = 1024;

#[derive(Deserialize)]
pub struct Why {
    why: Option<String>,
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

pub async fn root(_session: WebSession) -> Redirect {
    Redirect::to("/projects")
}

/// What the sign-in page offers besides the password form.
struct Offer<'a> {
    /// The SSO providers' names, one button each.
    providers: &'a [String],
    /// Whether password sign-in is open to everyone (else only the
    /// server's break-glass admins may use it).
    password_login: bool,
}

fn form(
    status: StatusCode,
    offer: &Offer<'_>,
    token: &str,
    email: &str,
    message: Option<(bool, &str)>,
) -> Response {
    let mut h = Html::new();
    h.raw("<section class=\"card narrow\"><h1>Sign in to hush</h1>");
    if let Some((error, text)) = message {
        notice(&mut h, error, text);
    }
    if !offer.providers.is_empty() {
        h.raw("<ul class=\"sso\" aria-label=\"Single sign-on\">");
        for name in offer.providers {
            h.raw("<li><a class=\"button primary\" href=\"/sign-in/sso/")
                .text(&url_part(name))
                .raw("\">Sign in with ")
                .text(name)
                .raw("</a></li>");
        }
        h.raw("</ul>");
        if offer.password_login {
            h.raw("<p class=\"hint\">Or with your email and password:</p>");
        }
    }
    if !offer.password_login {
        h.raw("<p class=\"hint\">Password sign-in is reserved for the server's break-glass admins.</p>");
    }
    h.raw("<form method=\"post\" action=\"/sign-in\" class=\"stack\">")
        .hidden("csrf", token)
        .raw("<label for=\"email\">Email</label>")
        .raw("<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required maxlength=\"254\" value=\"")
        .text(email)
        .raw("\"><label for=\"password\">Password</label>")
        .raw("<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required maxlength=\"1024\">")
        // The first choice is the primary button: SSO when there is one.
        .raw(if offer.providers.is_empty() {
            "<button type=\"submit\" class=\"primary\">Sign in</button></form>"
        } else {
            "<button type=\"submit\">Sign in</button></form>"
        })
        .raw("<p class=\"hint\">No account yet? A server admin invites you with <code>hush users invite EMAIL</code>.</p></section>");
    page(status, "Sign in", None, h)
}

/// The form, with a fresh double-submit token in its cookie.
fn fresh_form(
    state: &AppState,
    secure: bool,
    status: StatusCode,
    email: &str,
    message: Option<(bool, &str)>,
) -> Result<Response, WebError> {
    let token = csrf::random_token()?;
    let offer = Offer {
        providers: &state.service.sso_providers(),
        password_login: state.service.settings.password_login,
    };
    let mut r = form(status, &offer, &token, email, message);
    r.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(
            secure,
            session::signin_cookie(secure),
            &token,
            SIGNIN_COOKIE_SECS,
        ),
    );
    Ok(r)
}

/// Whether the request's cookies are `Secure` (`session::is_secure`).
pub struct Https(pub bool);

impl FromRequestParts<AppState> for Https {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, std::convert::Infallible> {
        Ok(Https(session::is_secure(state, &parts.extensions)))
    }
}

pub async fn show(
    State(state): State<AppState>,
    Https(secure): Https,
    PageQuery(why): PageQuery<Why>,
) -> Result<Response, WebError> {
    let message = match why.why.as_deref() {
        Some("expired") => Some((true, "Your session expired. Sign in again.")),
        Some("signed-out") => Some((true, "You are signed out. Sign in to continue.")),
        Some("bye") => Some((false, "Signed out: your session is revoked.")),
        _ => None,
    };
    fresh_form(&state, secure, StatusCode::OK, "", message)
}

pub async fn submit(
    State(state): State<AppState>,
    client: Client,
    req: Request,
) -> Result<Response, WebError> {
    let secure = session::is_secure(&state, req.extensions());
    let expected = session::cookie(req.headers(), session::signin_cookie(secure))
        .unwrap_or_default()
        .to_owned();
    let bytes = csrf::read_form(req, &state).await?;
    let creds: Credentials = csrf::checked(&bytes, &expected)?;
    let email = super::bounded(Some(&creds.email));
    if email.len() > MAX_EMAIL || creds.password.len() > MAX_PASSWORD {
        return Err(WebError::bad_request("the email or password is too long"));
    }
    let ctx = Ctx {
        actor: Actor {
            kind: ActorKind::User,
            id: String::new(),
            name: email.to_owned(),
            token_id: String::new(),
            server_admin: false,
            token_scope: None,
        },
        client_ip: client.ip,
        user_agent: client.user_agent,
    };
    match state
        .service
        .login_password(&ctx, email, &creds.password)
        .await
    {
        Ok(issued) => {
            let mut r = Redirect::to("/projects").into_response();
            let headers = r.headers_mut();
            headers.append(
                header::SET_COOKIE,
                session::set_session_cookie(secure, &issued),
            );
            headers.append(
                header::SET_COOKIE,
                session::set_cookie(secure, session::signin_cookie(secure), "", 0),
            );
            Ok(r)
        }
        Err(e @ (ServiceError::Unauthorized(_) | ServiceError::Forbidden(_))) => {
            let e = WebError::from(e);
            fresh_form(&state, secure, e.status, email, Some((true, &e.message)))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct Nothing {}

pub async fn sign_out(
    State(state): State<AppState>,
    session: WebSession,
    Posted(Nothing {}): Posted<Nothing>,
) -> Result<Response, WebError> {
    state.service.revoke_own_token(&session.ctx).await?;
    let secure = session.secure;
    let mut r = Redirect::to("/sign-in?why=bye").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(secure, session::session_cookie(secure), "", 0),
    );
    Ok(r)
}
