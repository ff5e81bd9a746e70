//! One POST to one receiver, and whether it took it: a 2xx answer.
//! Anything else (a redirect, which is not followed, a 4xx, a 5xx, a
//! timeout, a refused address) is a failure. The receiver's body is never
//! read; error texts never carry the URL (it may hold a token), the key or
//! the payload.

use super::limits::{CONNECT_TIMEOUT, REQUEST_TIMEOUT};
use super::payload::{Delivery, Project};
use super::sealed::Secrets;
use super::sign;
use super::target::GuardedResolver;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use std::sync::Arc;

/// The innermost cause of an error (reqwest's own text is generic and,
/// with its URL, could show a token).
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}

pub fn client(allow_private: bool) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // An environment proxy would take the request past the resolver's
        // address checks.
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { allow_private }))
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("hush/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", cause(&e)))
}

/// Posts `delivery`, stamped and signed at `now_ms`, to the sealed URL.
pub async fn post(
    client: &reqwest::Client,
    secrets: &Secrets,
    kind: &str,
    project: &Project<'_>,
    delivery: &Delivery,
    allow_private: bool,
    now_ms: i64,
) -> Result<(), String> {
    // The address rule again, for a URL with an IP literal (the resolver
    // sees names only), in case the setting changed since it was added.
    let target = super::target::Target::parse(&secrets.url, allow_private)?;
    let body = delivery.body(kind, project, now_ms);
    let mut request = client
        .post(target.url)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(key) = secrets.secret_key.as_deref() {
        let mut value = HeaderValue::from_str(&sign::signature(key.as_bytes(), now_ms, &body))
            .map_err(|_| "cannot build the signature header".to_owned())?;
        value.set_sensitive(true);
        request = request.header(sign::HEADER, value);
    }
    let answer = request.body(body).send().await.map_err(|e| {
        let e = e.without_url();
        if e.is_timeout() {
            format!(
                "the receiver did not answer within {}s",
                REQUEST_TIMEOUT.as_secs()
            )
        } else {
            format!("cannot deliver: {}", cause(&e))
        }
    })?;
    let status = answer.status();
    if status.is_success() {
        Ok(())
    } else if status.is_redirection() {
        Err(format!(
            "the receiver answered HTTP {status} (redirects are not followed; give the final URL)"
        ))
    } else {
        Err(format!("the receiver answered HTTP {status}"))
    }
}
