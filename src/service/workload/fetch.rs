//! The server's outbound requests for workload identity: OIDC discovery
//! documents, JWKS and Kubernetes TokenReviews. Every request has a time
//! limit, every answer a size limit; redirects are not followed, proxies
//! from the environment are not used, and names resolve only to addresses
//! audit streams may reach too (`streams::target::check_ip`): no
//! link-local or cloud metadata addresses, plain `http://` only to loopback.

use crate::streams::sink::GuardedResolver;
use crate::streams::target::Target;
use std::sync::Arc;
use std::time::Duration;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest discovery document, JWKS or TokenReview answer read.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// The largest CA bundle an auth method may hold.
pub const MAX_CA_BYTES: usize = crate::streams::limits::MAX_CA_BYTES;

/// A URL an admin configured, checked at the edge: Err says why not.
pub fn check_url(field: &str, url: &str) -> Result<String, String> {
    let target = Target::parse(url).map_err(|e| format!("{field}: {e}"))?;
    if target.kind != crate::streams::target::Kind::Http {
        return Err(format!("{field}: use an https:// URL"));
    }
    Ok(target.url)
}

/// The CA bundle an admin configured, checked: Err says why not.
pub fn check_ca(field: &str, pem: &str) -> Result<(), String> {
    crate::streams::tls::parse_ca(pem)
        .map(|_| ())
        .map_err(|e| format!("{field}: {}", e.replace("caCert", "the CA certificate")))
}

/// A client for one configured endpoint; `ca`: trust only this bundle.
pub fn client(url: &str, ca: Option<&str>) -> Result<reqwest::Client, String> {
    let target = Target::parse(url)?;
    let mut builder = reqwest::Client::builder();
    if let Some(pem) = ca.filter(|c| !c.trim().is_empty()) {
        builder = builder.tls_built_in_root_certs(false);
        for der in crate::streams::tls::parse_ca(pem)? {
            let cert = reqwest::Certificate::from_der(&der)
                .map_err(|_| "the CA certificate is unusable".to_owned())?;
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { tls: target.tls }))
        .https_only(target.tls)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("hush/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| "cannot build the HTTP client".to_owned())
}

/// An answer's status, `Cache-Control: max-age` and body (at most
/// `MAX_ANSWER_BYTES`, else Err).
pub struct Answer {
    pub status: u16,
    pub max_age: Option<Duration>,
    pub body: Vec<u8>,
}

/// Sends `request` and reads its answer within the limits. Errors name the
/// URL's host at most, never a header (the reviewer token travels in one).
pub async fn send(request: reqwest::RequestBuilder) -> Result<Answer, String> {
    let mut resp = request.send().await.map_err(|e| describe(&e))?;
    let status = resp.status().as_u16();
    let max_age = resp
        .headers()
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(max_age);
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(format!(
            "the answer is larger than {MAX_ANSWER_BYTES} bytes"
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!(
                "the answer is larger than {MAX_ANSWER_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        max_age,
        body,
    })
}

fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    match e.url().and_then(|u| u.host_str()) {
        Some(host) => format!("the request to {host} {what}"),
        None => format!("the request {what}"),
    }
}

/// `max-age` of a Cache-Control value; `no-store`/`no-cache` count as 0.
pub fn max_age(value: &str) -> Option<Duration> {
    let mut found = None;
    for part in value.split(',').map(str::trim) {
        let lower = part.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            found = secs
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control() {
        assert_eq!(
            max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("u", "https://token.actions.githubusercontent.com").is_ok());
        assert!(check_url("u", "http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("u", "http://issuer.example.com").is_err());
        assert!(check_url("u", "https://169.254.169.254/").is_err());
        assert!(check_url("u", "syslog+tls://a:1").is_err());
    }
}
