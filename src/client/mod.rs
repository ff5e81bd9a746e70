//! The HTTP API client used by the CLI, `hush run` and the tests.

pub mod changes;
pub mod credentials;
pub mod tls;

use crate::api::error::ErrorBody;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the hush server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The server answered with an error envelope.
    #[error("{message}")]
    Api {
        status: u16,
        kind: String,
        message: String,
    },
    #[error("unexpected answer from the server at {url}: {reason}")]
    Protocol { url: String, reason: String },
    /// The client could not be set up (a bad --cacert or --pin-sha256).
    #[error("{0}")]
    Setup(String),
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub struct ApiClient {
    base: String,
    token: Option<Zeroizing<String>>,
    http: reqwest::Client,
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut reason = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        reason = s.to_string();
        source = s.source();
    }
    reason
}

impl ApiClient {
    /// A client trusting what `HUSH_CA_CERT` / `HUSH_PIN_SHA256` say (see `tls`).
    pub fn new(base: &str, token: Option<Zeroizing<String>>) -> Result<Self, ClientError> {
        Self::with_tls(base, token, &tls::TlsOptions::from_env())
    }

    /// A client with explicit trust settings. Warns (stderr) when `base` is
    /// plain http to a host that is not this machine: whatever it sends (a
    /// token, a password, a client secret) crosses the network in clear.
    pub fn with_tls(
        base: &str,
        token: Option<Zeroizing<String>>,
        tls: &tls::TlsOptions,
    ) -> Result<Self, ClientError> {
        if let Some(host) = tls::cleartext_remote_host(base) {
            eprintln!("hush: warning: {base} is plain http to {host}: credentials and values sent to it can be read on the way; use https (--cacert or --pin-sha256 for a private certificate)");
        }
        let builder = reqwest::Client::builder();
        let builder =
            tls::configure(builder, base, tls).map_err(|e| ClientError::Setup(e.to_string()))?;
        let http = builder
            .user_agent(concat!("hush-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ClientError::Protocol {
                url: base.into(),
                reason: describe(&e),
            })?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The same server and trust settings with another token (no new
    /// connection pool, and the plain-http warning is not repeated).
    pub fn with_token(&self, token: Option<Zeroizing<String>>) -> ApiClient {
        ApiClient {
            base: self.base.clone(),
            token,
            http: self.http.clone(),
        }
    }

    /// Sends a request; `query` pairs go in the URL (never a secret value), `body` as JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        self.call_typed(method, path, query, body).await
    }

    /// Sends a request and parses a successful answer straight into `T` (a typed
    /// parse of a large list is much cheaper than building a JSON tree of it).
    pub async fn call_typed<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<T, ClientError> {
        let url = format!("{}{}", self.base, path);
        let mut req = self.http.request(method, &url).query(query);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token.as_str());
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let unreachable = |e: reqwest::Error| ClientError::Unreachable {
            url: self.base.clone(),
            reason: describe(&e),
        };
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(unreachable)?;
        let not_json = || ClientError::Protocol {
            url: self.base.clone(),
            reason: format!("HTTP {status} with an unexpected body (is this a hush server?)"),
        };
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|_| not_json());
        }
        Err(api_error(status, &bytes).ok_or_else(not_json)?)
    }

    /// A GET whose answer is read piece by piece (`Response::chunk`), for
    /// answers too big to hold (the audit export), with a day's timeout
    /// instead of the client's minute. An error answer is turned into
    /// `ClientError::Api` as `call` does.
    pub async fn get_streamed(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<reqwest::Response, ClientError> {
        let url = format!("{}{}", self.base, path);
        // A day: an export of a huge log may take long; the caller bounds
        // the wait for each piece.
        let mut req = self
            .http
            .get(&url)
            .query(query)
            .timeout(Duration::from_secs(24 * 3600));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token.as_str());
        }
        let resp = req.send().await.map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            reason: describe(&e),
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let bytes = resp.bytes().await.unwrap_or_default();
        Err(
            api_error(status, &bytes).unwrap_or_else(|| ClientError::Api {
                status: status.as_u16(),
                kind: String::new(),
                message: status.canonical_reason().unwrap_or("error").to_owned(),
            }),
        )
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ClientError> {
        self.call(Method::GET, path, query, None).await
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, ClientError> {
        self.call(method, path, &[], Some(body)).await
    }

    /// A GET whose answer is read as `T`, a type of `crate::api`.
    pub async fn get_as<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ClientError> {
        self.call_typed(Method::GET, path, query, None).await
    }

    /// A request with a JSON body whose answer is read as `T`.
    pub async fn send_as<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<T, ClientError> {
        self.call_typed(method, path, &[], Some(body)).await
    }
}

/// The error of an answer: its envelope (`api::error::ErrorBody`), or for
/// other JSON the status's reason; None when the body is not JSON.
fn api_error(status: StatusCode, bytes: &[u8]) -> Option<ClientError> {
    let (kind, message) = match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => (body.error, body.message.text()),
        Err(_) => {
            serde_json::from_slice::<serde::de::IgnoredAny>(bytes).ok()?;
            let reason = status.canonical_reason().unwrap_or("error");
            (String::new(), reason.to_owned())
        }
    };
    Some(ClientError::Api {
        status: status.as_u16(),
        kind,
        message,
    })
}

pub fn is_auth_error(status: u16) -> bool {
    status == StatusCode::UNAUTHORIZED.as_u16() || status == StatusCode::FORBIDDEN.as_u16()
}
