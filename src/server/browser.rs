//! Defences against a web page using the visitor's browser to reach a hush
//! server it can see (a developer's server on localhost, an internal one).
//!
//! - A browser can send a cross-site POST without asking the server first only
//!   with a form or `text/plain` content type. State-changing requests that
//!   carry a content type or a body must say `application/json`, so such a
//!   request is refused (415) before any handler reads it. Bodiless requests
//!   (our CLI's logout and DELETEs) need no content type.
//! - DNS rebinding points an attacker's host name at the server's address; the
//!   browser then sends the attacker's name as `Host`. With `--allowed-hosts`
//!   set, other names are refused (421). Health probes are exempt: load
//!   balancers and Kubernetes call them by address, and they reveal nothing.

use super::error::ApiError;
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

fn changes_state(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

fn has_body(headers: &HeaderMap) -> bool {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > 0)
}

/// `application/json`, with or without parameters such as `charset`.
fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// 415 for a state-changing request whose body is not declared JSON.
pub fn json_refusal(req: &Request) -> Option<Response> {
    if !changes_state(req.method()) {
        return None;
    }
    let ok = match req.headers().get(header::CONTENT_TYPE) {
        Some(v) => v.to_str().is_ok_and(is_json),
        None => !has_body(req.headers()),
    };
    (!ok).then(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            "this request must have 'Content-Type: application/json'",
        )
        .into_response()
    })
}

pub fn host_allowed(allowed: &[String], host: &str) -> bool {
    let host = host.trim().to_ascii_lowercase();
    let name = match host.rsplit_once(':') {
        // `[::1]:8200` and `name:8200`; a bare IPv6 literal is bracketed.
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host.as_str(),
    };
    allowed.iter().any(|a| *a == host || *a == name)
}

/// Middleware: with an allowed-hosts list, 421 for any other `Host`.
/// 421 for a request naming a host outside `allowed` (none when it is empty).
pub fn host_refusal(allowed: &[String], req: &Request) -> Option<Response> {
    if allowed.is_empty() || matches!(req.uri().path(), "/healthz" | "/readyz") {
        return None;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    match host {
        Some(h) if host_allowed(allowed, h) => None,
        _ => Some(
            ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                "MisdirectedRequest",
                "this server does not answer to that host name; use one in its --allowed-hosts",
            )
            .into_response(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
        assert!(!is_json("application/jsonx"));
    }

    #[test]
    fn hosts_match_with_and_without_port() {
        let allowed = vec!["hush.internal".to_owned(), "localhost:8200".to_owned()];
        assert!(host_allowed(&allowed, "hush.internal"));
        assert!(host_allowed(&allowed, "HUSH.internal:443"));
        assert!(host_allowed(&allowed, "localhost:8200"));
        assert!(!host_allowed(&allowed, "localhost:9000"));
        assert!(!host_allowed(&allowed, "localhost"));
        assert!(!host_allowed(&allowed, "evil.example"));
        let v6 = vec!["[::1]".to_owned()];
        assert!(host_allowed(&v6, "[::1]:8200"));
        assert!(host_allowed(&v6, "[::1]"));
    }
}
