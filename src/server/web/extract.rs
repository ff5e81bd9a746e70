//! The dashboard's query and path extractors: a malformed query string or
//! path segment is a 400 page with one line saying so, not axum's plain
//! text or the API's JSON envelope.

use super::error::WebError;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

pub struct PageQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for PageQuery<T> {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, WebError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| PageQuery(q.0))
            .map_err(|_| WebError::bad_request("this page's address has a malformed query; follow a link from the projects page"))
    }
}

pub struct PagePath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PagePath<T> {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, WebError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| PagePath(p.0))
            .map_err(|_| {
                WebError::bad_request(
                    "this page's address is malformed; follow a link from the projects page",
                )
            })
    }
}

/// A textarea's value as the person typed it: browsers send its line breaks
/// as CRLF, which would otherwise end up in the secret (a pasted PEM key,
/// for one, must keep LF).
pub fn typed_text(value: String) -> String {
    if value.contains('\r') {
        value.replace("\r\n", "\n")
    } else {
        value
    }
}
