//! The one `IntoResponse` for errors: Infisical's envelope
//! `{reqId, statusCode, message, error}`. A 5xx logs its cause and tells the
//! client only that something went wrong.

use crate::api::error::{ErrorBody, ErrorMessage, Issue};
use crate::service::ServiceError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: ErrorMessage,
    retry_after: Option<u64>,
    /// Server-side cause of a 5xx; logged, never sent.
    cause: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: ErrorMessage::Text(message.into()),
            retry_after: None,
            cause: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    /// 422 with `message` as an array of zod-like issues, as Infisical does.
    pub fn validation(message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            kind: "ValidationFailure",
            message: ErrorMessage::Issues(vec![Issue {
                code: "custom".into(),
                message,
                path: Vec::new(),
            }]),
            retry_after: None,
            cause: None,
        }
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            format!("request body is larger than the server's limit of {limit} bytes"),
        )
    }

    pub fn internal(cause: impl Into<String>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Something went wrong",
            )
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(m) => ApiError::not_found(m),
            ServiceError::Conflict { current } => ApiError::new(
                StatusCode::CONFLICT,
                "Conflict",
                format!("version conflict: the current version is {current}; re-read and retry"),
            ),
            ServiceError::BadRequest(m) => ApiError::bad_request(m),
            ServiceError::Validation(m) => ApiError::validation(m),
            ServiceError::Unauthorized(m) => ApiError::unauthorized(m),
            ServiceError::TokenExpired(m) => ApiError::new(StatusCode::FORBIDDEN, "TokenError", m),
            ServiceError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "PermissionDenied", m),
            ServiceError::TooManyRequests(m, secs) => ApiError {
                retry_after: Some(secs),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", m)
            },
            ServiceError::Integrity(cause) => ApiError {
                cause: Some(format!("integrity failure: {cause}")),
                ..ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "IntegrityError",
                    "stored data failed its integrity check; an operator has been notified in the server log",
                )
            },
            ServiceError::Unavailable(m) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", m)
            }
            ServiceError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let req_id = uuid::Uuid::new_v4().to_string();
        if let Some(cause) = &self.cause {
            tracing::error!(req_id, status = self.status.as_u16(), "{cause}");
        }
        let body = ErrorBody {
            req_id,
            status_code: self.status.as_u16(),
            message: self.message,
            error: self.kind.to_owned(),
            details: (self.kind == "PermissionDenied").then(Vec::new),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}
