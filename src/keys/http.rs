//! Bounded JSON over HTTP for the network providers (`transit`, `awskms`):
//! every call has a timeout, redirects are not followed (a redirect would
//! carry the token elsewhere) and answers are read up to a size bound.

use super::ProviderError;
use reqwest::StatusCode;
use std::path::Path;
use std::time::Duration;

/// Largest provider answer read; wrap and unwrap answers are a few hundred bytes.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

pub fn client(timeout: Duration, ca_file: Option<&Path>) -> Result<reqwest::Client, String> {
    builder(timeout, ca_file)?
        .build()
        .map_err(|e| e.to_string())
}

/// `client`'s settings, for a caller that adds its own before building.
pub fn builder(
    timeout: Duration,
    ca_file: Option<&Path>,
) -> Result<reqwest::ClientBuilder, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .use_rustls_tls();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("invalid CA file {}: {e}", path.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    Ok(builder)
}

/// Sends `request` and reads at most `MAX_RESPONSE_BYTES` of the answer.
/// Transport failures are `Unavailable`; the status is the caller's to judge.
pub async fn send(
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<(StatusCode, Vec<u8>), ProviderError> {
    let unavailable = |e: reqwest::Error| {
        // Without the URL: it may carry a query the caller did not mean to log.
        ProviderError::Unavailable(format!("{what}: {}", e.without_url()))
    };
    let mut response = request.send().await.map_err(unavailable)?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unavailable)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ProviderError::Unavailable(format!(
                "{what}: answer larger than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// A secret-free summary of an error answer: the status and, when the body
/// is a JSON list of `errors` (Vault) or a `message` (AWS), its first line,
/// cut short.
pub fn error_summary(status: StatusCode, body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let text = parsed.as_ref().and_then(|v| {
        v.get("errors")
            .and_then(|e| e.get(0))
            .or_else(|| v.get("message"))
            .or_else(|| v.get("Message"))
            .and_then(|m| m.as_str())
            .map(str::to_owned)
    });
    match text {
        Some(t) => {
            let line: String = t.lines().next().unwrap_or("").chars().take(200).collect();
            format!("HTTP {status}: {line}")
        }
        None => format!("HTTP {status}"),
    }
}

/// Plain HTTP to a host other than this one carries credentials and data
/// keys in the clear: allowed (a sidecar, a test mock) but logged.
pub fn warn_if_plain_http(url: &reqwest::Url, what: &str) {
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if url.scheme() == "http" && !loopback {
        tracing::warn!("{what} at {url} is plain HTTP: data keys and credentials cross the network unencrypted; use https://");
    }
}
