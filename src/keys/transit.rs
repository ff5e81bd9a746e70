//! `transit`: HashiCorp Vault / OpenBao Transit holds the root key; hush
//! sends a data key to `encrypt` and gets back a `vault:vN:...` ciphertext,
//! sends that to `decrypt` to get the key back. The key never leaves the
//! Transit engine; `associated_data` binds each wrapped key to its project
//! and key id. Auth: a token from a file, or AppRole (role id + secret id
//! file), logged in again when the token is refused.

use super::http::{self, error_summary};
use super::settings::TransitSettings;
use super::{ProviderError, RootKeyProvider};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use reqwest::header::HeaderValue;
use reqwest::StatusCode;
use serde_json::{json, Value};
use zeroize::Zeroizing;

/// What the health check encrypts: proves the key exists and the token may
/// use it, with the one permission hush needs anyway.
const PROBE: &[u8] = b"hush-health-probe";

enum Auth {
    /// Read again when the token is refused: an agent (Vault Agent, a
    /// sidecar) may have written a renewed one.
    Token(std::path::PathBuf),
    AppRole {
        mount: String,
        role_id: String,
        secret_id: Zeroizing<String>,
    },
}

pub struct Transit {
    client: reqwest::Client,
    address: String,
    mount: String,
    key: String,
    namespace: Option<String>,
    auth: Auth,
    token: tokio::sync::RwLock<Zeroizing<String>>,
}

/// A key or mount name: a path segment Vault accepts, nothing that could
/// climb out of the mount.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

impl Transit {
    /// Reads the credentials and, with AppRole, logs in. Network failures
    /// here are the caller's start-up error.
    pub async fn connect(s: &TransitSettings) -> Result<Self, ProviderError> {
        let refused = ProviderError::Refused;
        let client = http::client(s.timeout, s.ca_file.as_deref()).map_err(refused)?;
        let address = s.address.trim_end_matches('/').to_owned();
        if !(address.starts_with("http://") || address.starts_with("https://")) {
            return Err(refused(format!(
                "[transit] address {address:?} must start with https:// (or http:// on a trusted network)"
            )));
        }
        match reqwest::Url::parse(&address) {
            Ok(url) => http::warn_if_plain_http(&url, "the transit address"),
            Err(_) => {
                return Err(refused(format!(
                    "[transit] address {address:?} is not a URL"
                )))
            }
        }
        for (what, name) in [("key", &s.key), ("mount", &s.mount)] {
            if !valid_name(name) {
                return Err(refused(format!(
                    "[transit] {what} {name:?} is not a valid name"
                )));
            }
        }
        let (auth, token) = match (&s.token_file, &s.approle) {
            (Some(path), None) => (
                Auth::Token(path.clone()),
                super::secret_file::read(path, "transit token").map_err(refused)?,
            ),
            (None, Some(a)) => {
                if !valid_name(&a.mount) {
                    return Err(refused(format!(
                        "[transit.approle] mount {:?} is not a valid name",
                        a.mount
                    )));
                }
                (
                    Auth::AppRole {
                        mount: a.mount.clone(),
                        role_id: a.role_id.clone(),
                        secret_id: super::secret_file::read(&a.secret_id_file, "AppRole secret id")
                            .map_err(refused)?,
                    },
                    Zeroizing::new(String::new()),
                )
            }
            _ => {
                return Err(refused(
                    "[transit] needs exactly one of token_file or [transit.approle]".into(),
                ))
            }
        };
        let transit = Self {
            client,
            address,
            mount: s.mount.clone(),
            key: s.key.clone(),
            namespace: s.namespace.clone(),
            auth,
            token: tokio::sync::RwLock::new(token),
        };
        if matches!(transit.auth, Auth::AppRole { .. }) {
            transit.login().await?;
        }
        Ok(transit)
    }

    fn request(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> Result<reqwest::RequestBuilder, ProviderError> {
        let mut req = self.client.post(format!("{}/v1/{path}", self.address));
        if let Some(ns) = &self.namespace {
            req = req.header("X-Vault-Namespace", ns);
        }
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(token).map_err(|_| {
                ProviderError::Refused(
                    "the transit token has characters a header cannot carry".into(),
                )
            })?;
            value.set_sensitive(true);
            req = req.header("X-Vault-Token", value);
        }
        Ok(req.header("Content-Type", "application/json"))
    }

    /// A fresh token: AppRole logs in again; a token file is read again
    /// (an agent may have renewed it). Network failures are `Unavailable`.
    async fn login(&self) -> Result<(), ProviderError> {
        let (mount, role_id, secret_id) = match &self.auth {
            Auth::Token(path) => {
                let fresh = super::secret_file::read(path, "transit token")
                    .map_err(ProviderError::Unavailable)?;
                *self.token.write().await = fresh;
                return Ok(());
            }
            Auth::AppRole {
                mount,
                role_id,
                secret_id,
            } => (mount, role_id, secret_id),
        };
        let body = Zeroizing::new(
            serde_json::to_vec(&json!({ "role_id": role_id, "secret_id": secret_id.as_str() }))
                .map_err(|e| ProviderError::Refused(e.to_string()))?,
        );
        let req = self
            .request(&format!("auth/{mount}/login"), None)?
            .body(body.to_vec());
        let what = "transit AppRole login";
        let (status, answer) = http::send(req, what).await?;
        let answer = Zeroizing::new(answer);
        if !status.is_success() {
            return Err(classify(status, &answer, what));
        }
        let login: Login = parse(&answer, what)?;
        *self.token.write().await = Zeroizing::new(login.auth.client_token);
        Ok(())
    }

    /// POST `{mount}/{op}/{key}`; a refused token is renewed (`login`) once
    /// and the call retried. Returns the answer's bytes (they may hold a key).
    async fn call(&self, op: &str, body: &Value) -> Result<Zeroizing<Vec<u8>>, ProviderError> {
        let what = format!("transit {op} with key {:?}", self.key);
        let body = Zeroizing::new(
            serde_json::to_vec(body).map_err(|e| ProviderError::Refused(e.to_string()))?,
        );
        let mut relogged = false;
        loop {
            let req = {
                let token = self.token.read().await;
                self.request(&format!("{}/{op}/{}", self.mount, self.key), Some(&token))?
                    .body(body.to_vec())
            };
            let (status, answer) = http::send(req, &what).await?;
            let answer = Zeroizing::new(answer);
            if status == StatusCode::FORBIDDEN && !relogged {
                relogged = true;
                self.login().await?;
                continue;
            }
            if !status.is_success() {
                return Err(classify(status, &answer, &what));
            }
            return Ok(answer);
        }
    }
}

#[derive(serde::Deserialize)]
struct Answer<T> {
    data: T,
}

#[derive(serde::Deserialize)]
struct Encrypted {
    ciphertext: String,
}

#[derive(serde::Deserialize)]
struct Decrypted {
    plaintext: String,
}

#[derive(serde::Deserialize)]
struct Login {
    auth: LoginAuth,
}

#[derive(serde::Deserialize)]
struct LoginAuth {
    client_token: String,
}

fn parse<T: serde::de::DeserializeOwned>(answer: &[u8], what: &str) -> Result<T, ProviderError> {
    serde_json::from_slice(answer)
        .map_err(|_| ProviderError::Unavailable(format!("{what}: unexpected answer")))
}

/// Overwrites the strings of a request body that held key material.
fn zeroize_json(value: Value) {
    use zeroize::Zeroize as _;
    if let Value::Object(map) = value {
        for (_, v) in map {
            if let Value::String(mut s) = v {
                s.zeroize();
            }
        }
    }
}

/// 5xx (sealed, standby, overloaded), 429 and a refused token (revoked,
/// expired: the operator's kill switch, or a lapse they will fix) make the
/// provider unavailable; other 4xx mean it refused this ciphertext.
fn classify(status: StatusCode, body: &[u8], what: &str) -> ProviderError {
    let text = format!("{what}: {}", error_summary(status, body));
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::FORBIDDEN
        || status == StatusCode::UNAUTHORIZED
    {
        ProviderError::Unavailable(text)
    } else {
        ProviderError::Refused(text)
    }
}

#[async_trait::async_trait]
impl RootKeyProvider for Transit {
    fn kind(&self) -> &'static str {
        "transit"
    }

    fn describe(&self) -> String {
        format!(
            "transit key {:?} (mount {:?}) at {}",
            self.key, self.mount, self.address
        )
    }

    async fn wrap(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, ProviderError> {
        let plaintext = Zeroizing::new(B64.encode(plaintext));
        let body = json!({
            "plaintext": plaintext.as_str(),
            "associated_data": B64.encode(aad),
        });
        let answer = self.call("encrypt", &body).await;
        // The request body held the key (base64): scrub our copy of it.
        zeroize_json(body);
        let answer: Answer<Encrypted> = parse(&answer?, "transit encrypt")?;
        Ok(answer.data.ciphertext.into_bytes())
    }

    async fn unwrap(
        &self,
        aad: &[u8],
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, ProviderError> {
        let ciphertext = std::str::from_utf8(wrapped)
            .map_err(|_| ProviderError::Refused("not a transit ciphertext".into()))?;
        let body = json!({
            "ciphertext": ciphertext,
            "associated_data": B64.encode(aad),
        });
        let answer: Answer<Decrypted> =
            parse(&self.call("decrypt", &body).await?, "transit decrypt")?;
        let plaintext = Zeroizing::new(answer.data.plaintext);
        B64.decode(plaintext.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| ProviderError::Refused("transit decrypt: plaintext is not base64".into()))
    }

    async fn health(&self) -> Result<(), ProviderError> {
        self.call("encrypt", &json!({ "plaintext": B64.encode(PROBE) }))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_statuses() {
        assert!(valid_name("hush") && valid_name("team/transit"));
        assert!(!valid_name("../sys") && !valid_name("a b") && !valid_name(""));
        let body = br#"{"errors":["permission denied"]}"#;
        assert!(matches!(
            classify(StatusCode::FORBIDDEN, body, "x"),
            ProviderError::Unavailable(m) if m.contains("permission denied")
        ));
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, b"", "x"),
            ProviderError::Unavailable(_)
        ));
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, b"", "x"),
            ProviderError::Refused(_)
        ));
    }
}
