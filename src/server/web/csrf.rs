//! CSRF protection of every state-changing dashboard request.
//!
//! Signed-in forms carry a token bound to the session: a digest of the
//! session token under a fixed label. Only someone who holds the session
//! cookie can compute it, the digest reveals nothing of the token, and any
//! replica computes the same one with no state to share. The sign-in form,
//! before there is a session, uses a double-submit cookie instead
//! (`session::signin_cookie`). Both come on top of `SameSite=Strict`.
//!
//! `Posted<T>` is the only way a dashboard handler reads a form: it reads a
//! bounded body, refuses (403) a form whose `csrf` field is missing or wrong
//! before `T` is even parsed, and only then parses `T`.

use super::error::WebError;
use super::session;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Largest form body the dashboard reads. Larger values (up to the server's
/// value limit) go through the CLI or the API.
pub const FORM_BODY_LIMIT: usize = 64 * 1024;

/// The session-bound token for the session whose token is `session_token`.
pub fn token_for(session_token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"hush-dashboard-csrf\0");
    h.update(session_token.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Comparison of a submitted token with the expected one whose time does
/// not depend on where they first differ.
pub fn matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    if a.is_empty() || a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh random token (the sign-in form's double-submit value).
pub fn random_token() -> Result<String, WebError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|_| {
        WebError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server could not draw random bytes",
        )
    })?;
    Ok(hex::encode(bytes))
}

fn refused() -> WebError {
    WebError::forbidden(
        "This form was refused: its security token is missing or stale. Reload the page and try again.",
    )
}

/// The form's fields as pairs, from a body of at most `FORM_BODY_LIMIT`
/// bytes that arrives within the server's body timeout.
pub async fn read_form(req: Request, state: &AppState) -> Result<Bytes, WebError> {
    let timeout = state.limits.body_read_timeout;
    let body = axum::body::to_bytes(req.into_body(), FORM_BODY_LIMIT);
    match tokio::time::timeout(timeout, body).await {
        Err(_) => Err(WebError::new(
            StatusCode::REQUEST_TIMEOUT,
            "the form did not arrive in time; submit it again",
        )),
        Ok(Err(_)) => Err(WebError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the form is larger than {} KiB; set large values with the CLI (hush set)",
                FORM_BODY_LIMIT / 1024
            ),
        )),
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

/// The `csrf` field of a form body, if any.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Parses `bytes` as `T` once the `csrf` field matched `expected`.
pub fn checked<T: DeserializeOwned>(bytes: &[u8], expected: &str) -> Result<T, WebError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(bytes).map_err(|_| refused())?;
    if !field(&pairs, "csrf").is_some_and(|given| matches(expected, given)) {
        return Err(refused());
    }
    serde_urlencoded::from_bytes(bytes)
        .map_err(|e| WebError::bad_request(format!("the form could not be read: {e}")))
}

/// A form posted by a signed-in person, its CSRF token checked.
pub struct Posted<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, WebError> {
        let secure = session::is_secure(state, req.extensions());
        let expected = session::cookie(req.headers(), session::session_cookie(secure))
            .map(token_for)
            .ok_or_else(refused)?;
        let bytes = read_form(req, state).await?;
        checked(&bytes, &expected).map(Posted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Form {
        key: String,
    }

    #[test]
    fn a_form_needs_the_sessions_token() {
        let token = token_for("hush_s_example");
        assert_eq!(token.len(), 32);
        assert_ne!(token, token_for("hush_s_other"));
        let good = format!("csrf={token}&key=A");
        assert_eq!(checked::<Form>(good.as_bytes(), &token).unwrap().key, "A");
        for bad in ["key=A", "csrf=&key=A", "csrf=00&key=A"] {
            let err = checked::<Form>(bad.as_bytes(), &token).err().unwrap();
            assert_eq!(err.status, StatusCode::FORBIDDEN, "{bad}");
        }
        assert!(!matches("", ""));
    }
}
