//! The dashboard's errors: a page with a clear one-line message and the
//! right status. A 5xx logs its cause and shows only that something went
//! wrong; no message ever carries a secret value (the service's messages
//! name keys and paths, never values).

use super::html::Html;
use super::layout::{notice, page};
use crate::service::ServiceError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub message: String,
}

impl WebError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        WebError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
}

impl From<ServiceError> for WebError {
    fn from(e: ServiceError) -> Self {
        let (status, message) = match e {
            ServiceError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ServiceError::Conflict { current } => (
                StatusCode::CONFLICT,
                format!(
                    "Someone else saved this secret meanwhile (it is now at version {current}); \
                     nothing was changed. Open the secret again to see their version, then edit."
                ),
            ),
            ServiceError::BadRequest(m) | ServiceError::Validation(m) => {
                (StatusCode::BAD_REQUEST, m)
            }
            ServiceError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m),
            ServiceError::TokenExpired(m) | ServiceError::Forbidden(m) => {
                (StatusCode::FORBIDDEN, m)
            }
            ServiceError::TooManyRequests(m, _) => (StatusCode::TOO_MANY_REQUESTS, m),
            ServiceError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
            ServiceError::Integrity(cause) | ServiceError::Internal(cause) => {
                tracing::error!(status = 500, "dashboard: {cause}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on the server; the cause is in its log.".to_owned(),
                )
            }
        };
        WebError { status, message }
    }
}

impl From<crate::secret::NameError> for WebError {
    fn from(e: crate::secret::NameError) -> Self {
        WebError::bad_request(e.to_string())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error").to_owned();
        let mut h = Html::new();
        h.raw("<h1>").text(&title).raw("</h1>");
        notice(&mut h, true, &self.message);
        h.raw("<p><a href=\"/projects\">Back to your projects</a></p>");
        page(self.status, &title, None, h)
    }
}
