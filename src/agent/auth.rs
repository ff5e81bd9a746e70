//! The agent's access token: universal auth with the client id and secret
//! read from files (the secret optionally removed after the first read and
//! then kept in memory only) or from Infisical Agent's environment
//! overrides, which win over the files as in Infisical; a platform token
//! (`kubernetes`, `oidc-auth`, `jwt-auth`, logged in with the CLI's
//! `hush login --method` code, the token re-read at each login because
//! platforms rotate it); or a token read from a file. A minted token is
//! replaced before it expires (`client::credentials::renew_after`);
//! each new token is written to the sinks (0600). A new token never causes a
//! render: templates render on secret changes only.

use super::config::{read_bounded, AuthConfig, WorkloadMethod};
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
    /// A platform-token login (`hush login --method`'s code) failed.
    #[error("login failed: {msg}")]
    Workload { msg: String, unreachable: bool },
}

/// An environment override, or the file's content.
fn env_or_file(
    env: &[&str],
    path: Option<&std::path::Path>,
    what: &str,
) -> Result<(Zeroizing<String>, bool), AuthError> {
    if let Some(v) = env.iter().find_map(|n| super::config::env_value(n)) {
        return Ok((Zeroizing::new(v.trim().to_owned()), false));
    }
    match path {
        Some(p) => Ok((read_credential(p, what)?, true)),
        None => Err(AuthError::Credentials(format!(
            "no {what}: set {} or name the file in the config",
            env[0]
        ))),
    }
}

/// The client id: `INFISICAL_UNIVERSAL_AUTH_CLIENT_ID`, else the file.
fn client_id_value(path: Option<&std::path::Path>) -> Result<Zeroizing<String>, AuthError> {
    env_or_file(&[super::config::ENV_CLIENT_ID], path, "client id file").map(|(v, _)| v)
}

/// The client secret (env first, as Infisical Agent) and whether it came
/// from the file (only then can `remove_client_secret_on_read` remove it).
fn client_secret_value(
    path: Option<&std::path::Path>,
) -> Result<(Zeroizing<String>, bool), AuthError> {
    env_or_file(
        &super::config::ENV_CLIENT_SECRET,
        path,
        "client secret file",
    )
}

/// A platform-token login with the CLI's code (`hush login --method`): the
/// identity id from INFISICAL_MACHINE_IDENTITY_ID or its file; the token
/// from INFISICAL_JWT (OIDC/JWT), the Kubernetes path override, or its file.
async fn workload_login(
    anonymous: &ApiClient,
    method: WorkloadMethod,
    identity_id: Option<&std::path::Path>,
    token_file: Option<&std::path::Path>,
) -> Result<crate::cli::workload::Obtained, AuthError> {
    use crate::cli::workload::{obtain, LoginMethod, WorkloadLogin, KUBERNETES_TOKEN_FILE};
    let (id, _) = env_or_file(
        &[super::config::ENV_IDENTITY_ID],
        identity_id,
        "identity id file",
    )?;
    let mut args = WorkloadLogin {
        identity_id: Some(id.to_string()),
        ..WorkloadLogin::default()
    };
    let login_method = match method {
        WorkloadMethod::Kubernetes => {
            let path = super::config::env_value(super::config::ENV_KUBERNETES_TOKEN_PATH)
                .map(PathBuf::from)
                .or_else(|| token_file.map(std::path::Path::to_path_buf))
                .unwrap_or_else(|| PathBuf::from(KUBERNETES_TOKEN_FILE));
            args.jwt_file = Some(path);
            LoginMethod::Kubernetes
        }
        WorkloadMethod::Oidc | WorkloadMethod::Jwt => {
            match super::config::ENV_JWT
                .iter()
                .find_map(|n| super::config::env_value(n))
            {
                // "-" would mean stdin to the CLI's code: never here.
                Some(v) if v.trim() != "-" => args.jwt = Some(v.trim().to_owned()),
                _ => args.jwt_file = token_file.map(std::path::Path::to_path_buf),
            }
            if args.jwt.is_none() && args.jwt_file.is_none() {
                return Err(AuthError::Credentials(format!(
                    "no platform token: set {} or auth.config.jwt",
                    super::config::ENV_JWT[0]
                )));
            }
            if method == WorkloadMethod::Oidc {
                LoginMethod::Oidc
            } else {
                LoginMethod::Jwt
            }
        }
    };
    args.method = Some(login_method);
    obtain(anonymous, login_method, &args).await.map_err(|e| {
        let client = e.downcast_ref::<crate::client::ClientError>();
        let unreachable = match client {
            Some(crate::client::ClientError::Unreachable { .. }) => true,
            Some(crate::client::ClientError::Api { status, .. }) => *status >= 500,
            _ => false,
        };
        AuthError::Workload {
            msg: e.to_string(),
            unreachable,
        }
    })
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

impl AuthError {
    /// The server could not be reached (or answered 5xx): worth the
    /// offline cache, unlike a refusal.
    pub fn unreachable(&self) -> bool {
        match self {
            AuthError::Login(crate::client::ClientError::Unreachable { .. }) => true,
            AuthError::Login(crate::client::ClientError::Api { status, .. }) => *status >= 500,
            AuthError::Workload { unreachable, .. } => *unreachable,
            _ => false,
        }
    }
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

    /// A client for the server without a token (before the first login).
    pub fn anonymous(&self) -> ApiClient {
        self.anonymous.with_token(None)
    }

    /// The long-lived credential the offline cache's key is derived from:
    /// the client id and secret, or the token file's token. None when it
    /// cannot be read (then there is no offline cache to open), and for
    /// platform tokens, which are re-issued.
    pub fn cache_credential(&self) -> Option<Zeroizing<String>> {
        match &self.config {
            AuthConfig::TokenFile(path) => read_credential(path, "token file").ok(),
            AuthConfig::Universal {
                client_id,
                client_secret,
                ..
            } => {
                let id = client_id_value(client_id.as_deref()).ok()?;
                let secret = match client_secret_value(client_secret.as_deref()) {
                    Ok((s, _)) => s,
                    Err(_) => self.kept_secret.clone()?,
                };
                Some(Zeroizing::new(format!(
                    "{}\n{}",
                    id.as_str(),
                    secret.as_str()
                )))
            }
            AuthConfig::Workload { .. } => None,
        }
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
                let id = client_id_value(client_id.as_deref())?;
                let secret = match client_secret_value(client_secret.as_deref()) {
                    Ok((s, from_file)) => {
                        if let (true, Some(path)) =
                            (*remove_secret_on_read && from_file, client_secret)
                        {
                            if let Err(e) = std::fs::remove_file(path) {
                                tracing::warn!(
                                    "could not remove the client secret file {}: {e}",
                                    path.display()
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
            AuthConfig::Workload {
                method,
                identity_id,
                token_file,
            } => {
                let got = workload_login(
                    &self.anonymous,
                    *method,
                    identity_id.as_deref(),
                    token_file.as_deref(),
                )
                .await?;
                (got.token, Some(got.expires_in))
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
