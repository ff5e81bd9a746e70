//! The EC2 instance metadata service, IMDSv2 only: a session token by
//! `PUT /latest/api/token` (with its TTL header), then the role name from
//! `GET /latest/meta-data/iam/security-credentials/` and the role's
//! temporary credentials from `.../security-credentials/ROLE`, both with
//! the token. There is no IMDSv1 fallback: v1 answers any GET, which is
//! what server-side request forgery abuses, and an instance that still
//! allows it serves v2 too.
//!
//! The endpoint is `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else the profile's
//! `ec2_metadata_service_endpoint`, else `http://169.254.169.254` (or
//! `http://[fd00:ec2::254]` when `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`
//! or the profile's `ec2_metadata_service_endpoint_mode` is `IPv6`) — the
//! AWS SDKs' names and defaults. Every answer is read up to a small bound,
//! every call has the metadata timeout, redirects are not followed, and no
//! proxy is used.

use super::{env, fetch_bounded, parse_served, profile_setting, Resolved};
use reqwest::header::HeaderValue;
use reqwest::StatusCode;
use std::time::Duration;

const DEFAULT_V4: &str = "http://169.254.169.254";
const DEFAULT_V6: &str = "http://[fd00:ec2::254]";
const TOKEN_PATH: &str = "/latest/api/token";
const ROLES_PATH: &str = "/latest/meta-data/iam/security-credentials/";
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
/// The session token lives six hours, the SDKs' choice; hush asks for a
/// new one at each lookup, which is rare (start, and before credentials
/// expire).
const TOKEN_TTL_SECONDS: &str = "21600";

/// Bounds on the three answers: a token is about 60 bytes, a role name at
/// most 64 characters, the credentials JSON a few kilobytes.
const MAX_TOKEN: usize = 1024;
const MAX_ROLES: usize = 4096;
const MAX_CREDENTIALS: usize = 16 * 1024;

/// The metadata service's base URL, checked: http(s) with a host, no
/// query or fragment.
pub(super) fn endpoint(profile: &str) -> Result<String, String> {
    let configured = env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .or_else(|| profile_setting(profile, "ec2_metadata_service_endpoint"));
    let text = match configured {
        Some(t) => t.trim().to_owned(),
        None => {
            let mode = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
                .or_else(|| profile_setting(profile, "ec2_metadata_service_endpoint_mode"))
                .unwrap_or_else(|| "IPv4".into());
            match mode.trim().to_ascii_lowercase().as_str() {
                "ipv4" => DEFAULT_V4.into(),
                "ipv6" => DEFAULT_V6.into(),
                _ => {
                    return Err(format!(
                        "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE {mode:?}: use IPv4 or IPv6"
                    ))
                }
            }
        }
    };
    let url = reqwest::Url::parse(&text)
        .ok()
        .filter(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.query().is_none()
                && u.fragment().is_none()
                && u.username().is_empty()
                && u.password().is_none()
        })
        .ok_or_else(|| {
            format!("AWS_EC2_METADATA_SERVICE_ENDPOINT {text:?} is not an http(s) URL")
        })?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The instance role's credentials, retried `attempts` times on failures
/// that may pass (transport errors, 5xx).
pub(super) async fn fetch(
    endpoint: &str,
    timeout: Duration,
    attempts: u32,
) -> Result<Resolved, String> {
    // Link-local and the instance's own: never through an HTTP_PROXY, which
    // would see the role's credentials (or answer with its own host's).
    let client = crate::keys::http::builder(timeout, None)?
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let mut last = String::new();
    for _ in 0..attempts {
        match once(&client, endpoint).await {
            Ok(found) => return Ok(found),
            Err(Failure::Final(e)) => return Err(e),
            Err(Failure::Retry(e)) => last = e,
        }
    }
    Err(last)
}

enum Failure {
    /// The service answered no: trying again will not help.
    Final(String),
    /// Unreachable, slow or a 5xx.
    Retry(String),
}

/// A transport failure of step `what`: worth another attempt.
fn retry(what: &'static str) -> impl Fn(String) -> Failure {
    move |e| Failure::Retry(format!("{what}: {e}"))
}

fn judge(status: StatusCode, what: &str) -> Failure {
    let text = format!("{what}: HTTP {status}");
    if status.is_server_error() {
        Failure::Retry(text)
    } else {
        Failure::Final(text)
    }
}

async fn once(client: &reqwest::Client, endpoint: &str) -> Result<Resolved, Failure> {
    let (status, token) = fetch_bounded(
        client
            .put(format!("{endpoint}{TOKEN_PATH}"))
            .header(TTL_HEADER, TOKEN_TTL_SECONDS),
        MAX_TOKEN,
    )
    .await
    .map_err(retry("session token"))?;
    if status == StatusCode::FORBIDDEN {
        // IMDS says 403 to a token request when it is turned off, or when the
        // request came through a proxy (X-Forwarded-For).
        return Err(Failure::Final(
            "session token: HTTP 403 (the metadata service is turned off for this instance, or the request went through a proxy)".into(),
        ));
    }
    if !status.is_success() {
        return Err(judge(status, "session token"));
    }
    let mut token = HeaderValue::from_bytes(token.trim_ascii())
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Failure::Final("session token: not a valid header value".into()))?;
    token.set_sensitive(true);

    let (status, roles) = fetch_bounded(
        client
            .get(format!("{endpoint}{ROLES_PATH}"))
            .header(TOKEN_HEADER, token.clone()),
        MAX_ROLES,
    )
    .await
    .map_err(retry("role name"))?;
    if status == StatusCode::NOT_FOUND {
        return Err(Failure::Final(
            "no IAM role is attached to this instance (HTTP 404 for the role name)".into(),
        ));
    }
    if !status.is_success() {
        return Err(judge(status, "role name"));
    }
    let role = role_name(&roles)
        .ok_or_else(|| Failure::Final("role name: the answer is not an IAM role name".into()))?;

    let (status, body) = fetch_bounded(
        client
            .get(format!("{endpoint}{ROLES_PATH}{role}"))
            .header(TOKEN_HEADER, token),
        MAX_CREDENTIALS,
    )
    .await
    .map_err(retry("credentials"))?;
    if !status.is_success() {
        return Err(judge(status, &format!("credentials of role {role:?}")));
    }
    parse_served(&body, format!("instance metadata (role {role:?})"))
        .map_err(|e| Failure::Final(format!("credentials of role {role:?}: {e}")))
}

/// The first line of the role listing, when it is an IAM role name
/// (letters, digits and `+=,.@_-`, 1 to 64 characters): it goes into the
/// next URL's path, so nothing else is let through.
fn role_name(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let valid = first.len() <= 64
        && first
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    valid.then(|| first.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names() {
        assert_eq!(role_name(b"hush-server\n").as_deref(), Some("hush-server"));
        assert_eq!(role_name(b"\n a.b@c \nother").as_deref(), Some("a.b@c"));
        assert_eq!(role_name(b"../../latest/api/token"), None);
        assert_eq!(role_name(b"role?x=1"), None);
        assert_eq!(role_name(&[b'r'; 65]), None);
        assert_eq!(role_name(b""), None);
    }
}
