//! The agent's access token: universal auth with the client id and secret
//! read from files (the secret optionally removed after the first read and
//! then kept in memory only), or a token read from a file. A universal-auth
//! token is replaced before it expires (`client::credentials::renew_after`);
//! each new token is written to the sinks (0600). A new token never causes a
//! render: templates render on secret changes only.

use super::config::{read_bounded, AuthConfig};
use super::files::write_atomic;
use crate::api::auth::TokenResponse;
use crate::client::credentials::renew_after;
use crate::client::ApiClient;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use zeroize::Zeroizing;

/// Client ids, client secrets and tokens are short; a bigger file is a mistake.
const MAX_CREDENTIAL_BYTES: u64 = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Reading a credential file failed: retrying will not help until it is fixed.
    #[error("{0}")]
    Credentials(String),
    #[error("login failed: {0}")]
    Login(#[from] crate::client::ClientError),
}

pub struct Auth {
    config: AuthConfig,
    anonymous: ApiClient,
    sinks: Vec<PathBuf>,
    /// The client secret after a read that removed its file.
    kept_secret: Option<Zeroizing<String>>,
    /// When the current token should be replaced (None: never, a token file).
    pub renew_at: Option<Instant>,
}

fn read_credential(path: &std::path::Path, what: &str) -> Result<Zeroizing<String>, AuthError> {
    let bytes = Zeroizing::new(
        read_bounded(path, MAX_CREDENTIAL_BYTES, what).map_err(|e| AuthError::Credentials(e.0))?,
    );
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| AuthError::Credentials(format!("{what} {} is not UTF-8", path.display())))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(AuthError::Credentials(format!(
            "{what} {} is empty",
            path.display()
        )));
    }
    Ok(Zeroizing::new(text.to_owned()))
}

impl Auth {
    pub fn new(config: AuthConfig, anonymous: ApiClient, sinks: Vec<PathBuf>) -> Auth {
        Auth {
            config,
            anonymous,
            sinks,
            kept_secret: None,
            renew_at: None,
        }
    }

    /// The same credentials (a reload keeps the in-memory client secret).
    pub fn same_config(&self, other: &AuthConfig) -> bool {
        &self.config == other
    }

    pub fn set_sinks(&mut self, sinks: Vec<PathBuf>) {
        self.sinks = sinks;
    }

    /// Logs in (or reads the token file) and returns a client carrying the token.
    pub async fn login(&mut self) -> Result<Arc<ApiClient>, AuthError> {
        let (token, expires_in) = match &self.config {
            AuthConfig::TokenFile(path) => (read_credential(path, "token file")?, None),
            AuthConfig::Universal {
                client_id,
                client_secret,
                remove_secret_on_read,
            } => {
                let id = read_credential(client_id, "client id file")?;
                let secret = match read_credential(client_secret, "client secret file") {
                    Ok(s) => {
                        if *remove_secret_on_read {
                            if let Err(e) = std::fs::remove_file(client_secret) {
                                tracing::warn!(
                                    "could not remove the client secret file {}: {e}",
                                    client_secret.display()
                                );
                            }
                            self.kept_secret = Some(s.clone());
                        }
                        s
                    }
                    Err(e) => match &self.kept_secret {
                        Some(kept) => kept.clone(),
                        None => return Err(e),
                    },
                };
                let resp: TokenResponse = self
                    .anonymous
                    .send_as(
                        reqwest::Method::POST,
                        "/api/v1/auth/universal-auth/login",
                        &json!({ "clientId": id.as_str(), "clientSecret": secret.as_str() }),
                    )
                    .await?;
                (Zeroizing::new(resp.access_token), Some(resp.expires_in))
            }
        };
        self.renew_at = expires_in.map(|s| Instant::now() + renew_after(s));
        for sink in &self.sinks {
            if let Err(e) = write_atomic(sink, token.as_bytes(), 0o600) {
                eprintln!(
                    "hush agent: warning: could not write the token sink {}: {e}",
                    sink.display()
                );
            }
        }
        Ok(Arc::new(self.anonymous.with_token(Some(token))))
    }

    /// After a failed login, the next try (used by the caller's backoff).
    pub fn retry_in(&mut self, wait: Duration) {
        self.renew_at = Some(Instant::now() + wait);
    }
}
