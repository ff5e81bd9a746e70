//! `awskms`: AWS KMS holds the root key (a symmetric KMS key); hush wraps a
//! data key with `Encrypt` and unwraps it with `Decrypt`, the project and
//! key id bound as the encryption context. hush makes its data keys itself
//! (32 bytes from the system's generator), so `GenerateDataKey` is not
//! needed. Requests are signed with SigV4 (`sigv4`), credentials come from
//! the standard chain (`aws_credentials`) and are looked up again when AWS
//! refuses them (rotated keys, a renewed session) and, for temporary
//! credentials (container endpoint, instance metadata), before they expire.

use super::aws_credentials;
use super::http::{self, error_summary};
use super::settings::AwsKmsSettings;
use super::sigv4::{self, Credentials, Scope};
use super::{ProviderError, RootKeyProvider};
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};
use base64::Engine as _;
use reqwest::header::HeaderValue;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime};
use zeroize::Zeroizing;

/// Temporary credentials are replaced this long before they expire. The
/// metadata service has new ones ready at least five minutes ahead, so
/// asking earlier than that may bring back the same ones.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);
/// Within that window, how often a lookup is tried again (when it brought
/// back the same credentials, or failed).
const REFRESH_RETRY: Duration = Duration::from_secs(10);

const PROBE: &[u8] = b"hush-health-probe";
/// The encryption context's one entry: the AAD, base64url (it holds NULs).
const CONTEXT_KEY: &str = "hush-aad";

pub struct AwsKms {
    client: reqwest::Client,
    /// `https://kms.REGION.amazonaws.com/` or the configured endpoint.
    endpoint: reqwest::Url,
    /// What `host` is signed as: host, and the port when not the default.
    host: String,
    region: String,
    key_id: String,
    profile: Option<String>,
    credentials: tokio::sync::RwLock<Current>,
}

/// The credentials in use, their expiry, and when a refresh was last tried.
struct Current {
    credentials: Credentials,
    expires: Option<SystemTime>,
    tried: Option<Instant>,
}

impl Current {
    fn new(resolved: aws_credentials::Resolved) -> Self {
        Current {
            credentials: resolved.credentials,
            expires: resolved.expires,
            tried: None,
        }
    }

    /// Inside the refresh window and not tried in the last few seconds.
    fn due(&self, now: SystemTime) -> bool {
        let Some(expires) = self.expires else {
            return false;
        };
        now + REFRESH_BEFORE_EXPIRY >= expires
            && self.tried.is_none_or(|t| t.elapsed() >= REFRESH_RETRY)
    }

    fn expired(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|e| now >= e)
    }
}

impl AwsKms {
    pub async fn connect(s: &AwsKmsSettings) -> Result<Self, ProviderError> {
        let refused = ProviderError::Refused;
        if s.key_id.trim().is_empty() {
            return Err(refused("[awskms] key_id is empty".into()));
        }
        let region = aws_credentials::region(s.region.as_deref(), s.profile.as_deref())
            .ok_or_else(|| {
                refused(
                    "no AWS region: set [awskms] region, AWS_REGION or a profile's region".into(),
                )
            })?;
        if !region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(refused(format!("invalid AWS region {region:?}")));
        }
        let endpoint = s
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://kms.{region}.amazonaws.com/"));
        let endpoint = reqwest::Url::parse(&endpoint)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| {
                refused(format!(
                    "[awskms] endpoint {endpoint:?} is not an http(s) URL"
                ))
            })?;
        http::warn_if_plain_http(&endpoint, "the AWS KMS endpoint");
        let host = match endpoint.port() {
            Some(port) => format!("{}:{port}", endpoint.host_str().unwrap_or_default()),
            None => endpoint.host_str().unwrap_or_default().to_owned(),
        };
        let resolved = aws_credentials::resolve(s.profile.as_deref())
            .await
            .map_err(refused)?;
        tracing::info!("awskms: credentials from {}", resolved.source);
        Ok(Self {
            client: http::client(s.timeout, None).map_err(refused)?,
            endpoint,
            host,
            region,
            key_id: s.key_id.clone(),
            profile: s.profile.clone(),
            credentials: tokio::sync::RwLock::new(Current::new(resolved)),
        })
    }

    /// The credentials to sign with, refreshed first when they are about
    /// to expire. A failed refresh keeps the old ones while they last.
    async fn credentials(&self) -> Result<Credentials, ProviderError> {
        let now = SystemTime::now();
        {
            let current = self.credentials.read().await;
            if !current.due(now) {
                return Ok(current.credentials.clone());
            }
        }
        // One refresh at a time: the others wait here, then see it done.
        let mut current = self.credentials.write().await;
        if current.due(now) {
            current.tried = Some(Instant::now());
            match aws_credentials::resolve(self.profile.as_deref()).await {
                Ok(fresh) => {
                    tracing::info!("awskms: credentials renewed from {}", fresh.source);
                    *current = Current::new(fresh);
                    current.tried = Some(Instant::now());
                }
                Err(e) if !current.expired(now) => {
                    tracing::warn!("awskms: cannot renew credentials before they expire: {e}");
                }
                Err(e) => return Err(ProviderError::Unavailable(e)),
            }
        }
        if current.expired(SystemTime::now()) {
            return Err(ProviderError::Unavailable(
                "the AWS credentials expired and no fresh ones could be found".into(),
            ));
        }
        Ok(current.credentials.clone())
    }

    fn signed(
        &self,
        target: &str,
        payload: &[u8],
        creds: &Credentials,
    ) -> Result<reqwest::RequestBuilder, ProviderError> {
        let amz_date = sigv4::amz_date(std::time::SystemTime::now());
        let mut headers = vec![
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.1".to_owned(),
            ),
            ("host".to_owned(), self.host.clone()),
            ("x-amz-date".to_owned(), amz_date.clone()),
            ("x-amz-target".to_owned(), format!("TrentService.{target}")),
        ];
        if let Some(token) = &creds.session_token {
            headers.push(("x-amz-security-token".into(), token.as_str().to_owned()));
        }
        let authorization = sigv4::authorization(
            creds,
            &Scope {
                region: &self.region,
                service: "kms",
                amz_date: &amz_date,
            },
            &sigv4::Request {
                method: "POST",
                path: self.endpoint.path(),
                query: "",
                headers: &headers,
                payload,
            },
        );
        let mut req = self.client.post(self.endpoint.clone());
        for (name, value) in headers.iter().filter(|(n, _)| n != "host") {
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                ProviderError::Refused(format!(
                    "AWS header {name} has characters a header cannot carry"
                ))
            })?;
            value.set_sensitive(name == "x-amz-security-token");
            req = req.header(name, value);
        }
        let mut auth = HeaderValue::from_str(&authorization).map_err(|_| {
            ProviderError::Refused("the AWS access key id is not valid in a header".into())
        })?;
        auth.set_sensitive(true);
        Ok(req.header("authorization", auth).body(payload.to_vec()))
    }

    /// One KMS call; credentials AWS refuses are looked up again once.
    async fn call(&self, target: &str, body: &Value) -> Result<Zeroizing<Vec<u8>>, ProviderError> {
        let what = format!("KMS {target} with key {:?}", self.key_id);
        let payload = Zeroizing::new(
            serde_json::to_vec(body).map_err(|e| ProviderError::Refused(e.to_string()))?,
        );
        let mut refreshed = false;
        loop {
            let req = {
                let creds = self.credentials().await?;
                self.signed(target, &payload, &creds)?
            };
            let (status, answer) = http::send(req, &what).await?;
            let answer = Zeroizing::new(answer);
            if status.is_success() {
                return Ok(answer);
            }
            let kind = error_type(&answer);
            if !refreshed && is_credential_error(status, &kind) {
                refreshed = true;
                let fresh = aws_credentials::resolve(self.profile.as_deref())
                    .await
                    .map_err(ProviderError::Unavailable)?;
                *self.credentials.write().await = Current::new(fresh);
                continue;
            }
            return Err(classify(status, &kind, &answer, &what));
        }
    }

    fn context(aad: &[u8]) -> Value {
        json!({ CONTEXT_KEY: URL_SAFE_NO_PAD.encode(aad) })
    }
}

/// `__type` of an AWS JSON error, without its namespace
/// (`com.amazonaws.kms#DisabledException` → `DisabledException`).
fn error_type(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["__type"].as_str().map(str::to_owned))
        .map(|t| t.rsplit('#').next().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

fn is_credential_error(status: StatusCode, kind: &str) -> bool {
    status == StatusCode::FORBIDDEN
        || matches!(
            kind,
            "ExpiredTokenException"
                | "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "IncompleteSignature"
        )
}

/// A ciphertext KMS will not open (not its own, another key, another
/// context) is refused; everything else — throttling, a disabled or
/// deleted key, denied access (revocation is the kill switch), 5xx — makes
/// the provider unavailable.
fn classify(status: StatusCode, kind: &str, body: &[u8], what: &str) -> ProviderError {
    let text = format!(
        "{what}: {}{}",
        if kind.is_empty() {
            String::new()
        } else {
            format!("{kind}, ")
        },
        error_summary(status, body)
    );
    match kind {
        "InvalidCiphertextException"
        | "IncorrectKeyException"
        | "InvalidKeyUsageException"
        | "ValidationException"
        | "SerializationException" => ProviderError::Refused(text),
        _ => ProviderError::Unavailable(text),
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Encrypted {
    ciphertext_blob: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Decrypted {
    plaintext: String,
}

fn parse<T: serde::de::DeserializeOwned>(answer: &[u8], what: &str) -> Result<T, ProviderError> {
    serde_json::from_slice(answer)
        .map_err(|_| ProviderError::Unavailable(format!("{what}: unexpected answer")))
}

#[async_trait::async_trait]
impl RootKeyProvider for AwsKms {
    fn kind(&self) -> &'static str {
        "awskms"
    }

    fn describe(&self) -> String {
        format!(
            "AWS KMS key {:?} in {} at {}",
            self.key_id, self.region, self.endpoint
        )
    }

    async fn wrap(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, ProviderError> {
        let plaintext = Zeroizing::new(B64.encode(plaintext));
        let mut body = json!({
            "KeyId": self.key_id,
            "Plaintext": plaintext.as_str(),
            "EncryptionContext": Self::context(aad),
        });
        let answer = self.call("Encrypt", &body).await;
        // The request body held the key (base64): scrub our copy of it.
        if let Some(Value::String(s)) = body.get_mut("Plaintext") {
            zeroize::Zeroize::zeroize(s);
        }
        let answer: Encrypted = parse(&answer?, "KMS Encrypt")?;
        B64.decode(answer.ciphertext_blob)
            .map_err(|_| ProviderError::Unavailable("KMS Encrypt: blob is not base64".into()))
    }

    async fn unwrap(
        &self,
        aad: &[u8],
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, ProviderError> {
        let body = json!({
            "KeyId": self.key_id,
            "CiphertextBlob": B64.encode(wrapped),
            "EncryptionContext": Self::context(aad),
        });
        let answer: Decrypted = parse(&self.call("Decrypt", &body).await?, "KMS Decrypt")?;
        let plaintext = Zeroizing::new(answer.plaintext);
        B64.decode(plaintext.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| ProviderError::Refused("KMS Decrypt: plaintext is not base64".into()))
    }

    async fn health(&self) -> Result<(), ProviderError> {
        let body = json!({ "KeyId": self.key_id, "Plaintext": B64.encode(PROBE) });
        self.call("Encrypt", &body).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds() {
        let body =
            br#"{"__type":"com.amazonaws.kms#DisabledException","message":"key is disabled"}"#;
        let kind = error_type(body);
        assert_eq!(kind, "DisabledException");
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, &kind, body, "x"),
            ProviderError::Unavailable(m) if m.contains("disabled")
        ));
        assert!(matches!(
            classify(
                StatusCode::BAD_REQUEST,
                "InvalidCiphertextException",
                b"",
                "x"
            ),
            ProviderError::Refused(_)
        ));
        assert!(is_credential_error(
            StatusCode::BAD_REQUEST,
            "ExpiredTokenException"
        ));
    }
}
