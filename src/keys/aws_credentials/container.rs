//! The container credentials endpoint (ECS task roles, EKS Pod Identity):
//! `GET` of `http://169.254.170.2` + `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`,
//! or of `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with the `Authorization`
//! header from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read each time: EKS
//! rotates it) or `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
//!
//! A full URI over plain HTTP must point at this host (loopback) or at the
//! ECS and EKS agents' link-local addresses, as the SDKs require: anywhere
//! else, the authorization token and the credentials would cross the
//! network in the clear. Host names over plain HTTP are resolved and every
//! address must qualify; the request then goes to those very addresses
//! (no second lookup a changed DNS answer could redirect) and never through
//! an `HTTP_PROXY`, which would carry the token across the network too.

use super::{env, fetch_bounded, parse_served, Resolved};
use reqwest::header::HeaderValue;
use std::net::IpAddr;
use std::time::Duration;
use zeroize::Zeroizing;

const ECS_HOST: &str = "http://169.254.170.2";
const MAX_CREDENTIALS: usize = 16 * 1024;
const MAX_TOKEN_FILE: u64 = 16 * 1024;

/// The endpoint to ask, when the environment names one.
pub(super) fn configured() -> Result<Option<reqwest::Url>, String> {
    if let Some(relative) = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        let relative = relative.trim();
        let url = relative
            .starts_with('/')
            .then(|| reqwest::Url::parse(&format!("{ECS_HOST}{relative}")).ok())
            .flatten()
            .filter(|u| u.host_str() == Some("169.254.170.2"))
            .ok_or_else(|| {
                format!("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI {relative:?} is not a path")
            })?;
        return Ok(Some(url));
    }
    let Some(full) = env("AWS_CONTAINER_CREDENTIALS_FULL_URI") else {
        return Ok(None);
    };
    let full = full.trim();
    let url = reqwest::Url::parse(full)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| {
            format!("AWS_CONTAINER_CREDENTIALS_FULL_URI {full:?} is not an http(s) URL")
        })?;
    Ok(Some(url))
}

/// Loopback, the ECS agent (169.254.170.2) and the EKS Pod Identity agent
/// (169.254.170.23, fd00:ec2::23).
fn allowed_plain(ip: IpAddr) -> bool {
    ip.is_loopback()
        || ip == IpAddr::from([169, 254, 170, 2])
        || ip == IpAddr::from([169, 254, 170, 23])
        || ip == IpAddr::from([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23])
}

/// Where a plain-HTTP request may go: `Ok(None)` for https (TLS checks the
/// host) or an address literal that qualifies; `Ok(Some((name, addresses)))`
/// for a name, every address it resolves to qualifying.
async fn check_plain_http(
    url: &reqwest::Url,
) -> Result<Option<(String, Vec<std::net::SocketAddr>)>, String> {
    if url.scheme() == "https" {
        return Ok(None);
    }
    let refuse = || {
        format!(
            "the container credentials endpoint {} is plain HTTP to a host other than this one or the ECS/EKS agent; use https://",
            url.host_str().unwrap_or_default()
        )
    };
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return allowed_plain(ip).then_some(None).ok_or_else(refuse);
    }
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<_> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|e| format!("cannot resolve the container credentials host {bare:?}: {e}"))?
        .collect();
    if addrs.is_empty() || !addrs.iter().all(|a| allowed_plain(a.ip())) {
        return Err(refuse());
    }
    Ok(Some((bare.to_owned(), addrs)))
}

/// The authorization token, from the file (preferred) or the variable.
fn authorization() -> Result<Option<Zeroizing<String>>, String> {
    if let Some(path) = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        let shown = path.clone();
        let meta = std::fs::metadata(&path).map_err(|e| {
            format!("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {shown}: {e}")
        })?;
        if meta.len() > MAX_TOKEN_FILE {
            return Err(format!(
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {shown} is larger than {MAX_TOKEN_FILE} bytes"
            ));
        }
        let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(|e| {
            format!("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {shown}: {e}")
        })?);
        return Ok(Some(Zeroizing::new(text.trim().to_owned())));
    }
    Ok(env("AWS_CONTAINER_AUTHORIZATION_TOKEN").map(|t| Zeroizing::new(t.trim().to_owned())))
}

pub(super) async fn fetch(url: &reqwest::Url, timeout: Duration) -> Result<Resolved, String> {
    let shown = format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    );
    let fail =
        |e: String| format!("no AWS credentials: container credentials endpoint {shown}: {e}");
    let pinned = check_plain_http(url).await.map_err(fail)?;
    let mut builder = crate::keys::http::builder(timeout, None)
        .map_err(fail)?
        .no_proxy();
    if let Some((name, addrs)) = &pinned {
        builder = builder.resolve_to_addrs(name, addrs);
    }
    let client = builder.build().map_err(|e| fail(e.to_string()))?;
    let mut request = client.get(url.clone());
    if let Some(token) = authorization().map_err(fail)? {
        let mut value = HeaderValue::from_str(&token).map_err(|_| {
            fail("the authorization token has characters a header cannot carry".into())
        })?;
        value.set_sensitive(true);
        request = request.header(reqwest::header::AUTHORIZATION, value);
    }
    let (status, body) = fetch_bounded(request, MAX_CREDENTIALS)
        .await
        .map_err(fail)?;
    if !status.is_success() {
        return Err(fail(format!("HTTP {status}")));
    }
    // The path may carry an identifier; the log names only the host.
    parse_served(&body, format!("the container credentials endpoint {shown}")).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_this_host_or_the_agents() {
        assert!(allowed_plain("127.0.0.1".parse().unwrap()));
        assert!(allowed_plain("::1".parse().unwrap()));
        assert!(allowed_plain("169.254.170.2".parse().unwrap()));
        assert!(allowed_plain("169.254.170.23".parse().unwrap()));
        assert!(allowed_plain("fd00:ec2::23".parse().unwrap()));
        assert!(!allowed_plain("169.254.169.254".parse().unwrap()));
        assert!(!allowed_plain("10.0.0.1".parse().unwrap()));
    }

    #[tokio::test]
    async fn plain_http_elsewhere_is_refused() {
        let url = reqwest::Url::parse("http://10.1.2.3/creds").unwrap();
        assert!(check_plain_http(&url).await.is_err());
        let url = reqwest::Url::parse("http://127.0.0.1:9/creds").unwrap();
        assert!(check_plain_http(&url).await.is_ok());
        let url = reqwest::Url::parse("https://creds.example/creds").unwrap();
        assert!(check_plain_http(&url).await.is_ok());
        // A name is pinned to the loopback addresses it was checked on.
        let url = reqwest::Url::parse("http://localhost:9/creds").unwrap();
        let (name, addrs) = check_plain_http(&url).await.unwrap().expect("pinned");
        assert_eq!(name, "localhost");
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
