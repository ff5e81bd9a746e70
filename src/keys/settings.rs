//! The root key provider settings `config` parses: `root_key_provider` (or
//! `--root-key-provider`) names one, its section of the config file
//! (`[transit]`, `[pkcs11]`, `[awskms]`) configures it. Paths and names
//! only: credentials are read from files when the provider connects.

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Default time cached data keys keep serving while the provider is down.
pub const DEFAULT_CACHE_GRACE: Duration = Duration::from_secs(300);
/// Default time one provider call may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderName {
    File,
    Env,
    Transit,
    Pkcs11,
    AwsKms,
}

impl std::str::FromStr for ProviderName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.trim() {
            "file" => Self::File,
            "env" => Self::Env,
            "transit" => Self::Transit,
            "pkcs11" => Self::Pkcs11,
            "awskms" => Self::AwsKms,
            other => {
                return Err(format!(
                    "unknown root key provider {other:?}: use file, env, transit, pkcs11 or awskms"
                ))
            }
        })
    }
}

/// HashiCorp Vault / OpenBao Transit: `[transit]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitSettings {
    /// `https://bao.example.com:8200`
    pub address: String,
    /// The Transit key's name.
    pub key: String,
    /// Where the Transit engine is mounted [default: transit].
    #[serde(default = "default_transit_mount")]
    pub mount: String,
    /// File holding a token (mode 0600); or use `[transit.approle]`.
    pub token_file: Option<PathBuf>,
    pub approle: Option<AppRoleSettings>,
    /// Vault Enterprise / OpenBao namespace.
    pub namespace: Option<String>,
    /// PEM CA certificate to trust for `address` (besides the system roots).
    pub ca_file: Option<PathBuf>,
    /// Longest time one call may take, e.g. 5s or 500ms [default: 5s].
    #[serde(default = "default_timeout", deserialize_with = "timeout")]
    pub timeout: Duration,
}

fn default_transit_mount() -> String {
    "transit".into()
}

/// AppRole login for Transit: `[transit.approle]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppRoleSettings {
    pub role_id: String,
    /// File holding the secret id (mode 0600).
    pub secret_id_file: PathBuf,
    /// Where the AppRole auth method is mounted [default: approle].
    #[serde(default = "default_approle_mount")]
    pub mount: String,
}

fn default_approle_mount() -> String {
    "approle".into()
}

/// A PKCS#11 token (HSM): `[pkcs11]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Settings {
    /// The vendor's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so
    pub module: PathBuf,
    /// The token's label; or `slot`.
    pub token_label: Option<String>,
    pub slot: Option<u64>,
    /// The label of the AES key (CKA_LABEL) [default: hush-root].
    #[serde(default = "default_key_label")]
    pub key_label: String,
    /// File holding the user PIN (mode 0600).
    pub pin_file: PathBuf,
}

fn default_key_label() -> String {
    "hush-root".into()
}

/// AWS KMS: `[awskms]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsKmsSettings {
    /// Key id, key ARN, alias name (alias/hush) or alias ARN.
    pub key_id: String,
    /// Region [default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region].
    pub region: Option<String>,
    /// Endpoint URL [default: https://kms.REGION.amazonaws.com].
    pub endpoint: Option<String>,
    /// Shared config/credentials profile [default: AWS_PROFILE or default].
    pub profile: Option<String>,
    /// Longest time one call may take, e.g. 5s or 500ms [default: 5s].
    #[serde(default = "default_timeout", deserialize_with = "timeout")]
    pub timeout: Duration,
}

fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}

/// `500ms`, `5s` or `1m`, between 100ms and 2m: a provider call that takes
/// longer holds a request (or the start) for too long.
fn timeout<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    let bad = || {
        serde::de::Error::custom(format!(
            "timeout {text:?}: use e.g. 500ms, 5s or 1m (100ms to 2m)"
        ))
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let n: u64 = text[..split].parse().map_err(|_| bad())?;
    let t = match &text[split..] {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        _ => return Err(bad()),
    };
    if t < Duration::from_millis(100) || t > Duration::from_secs(120) {
        return Err(bad());
    }
    Ok(t)
}

/// An external provider and its settings.
#[derive(Clone, Debug)]
pub enum External {
    Transit(TransitSettings),
    Pkcs11(Pkcs11Settings),
    AwsKms(AwsKmsSettings),
}

impl External {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Transit(_) => "transit",
            Self::Pkcs11(_) => "pkcs11",
            Self::AwsKms(_) => "awskms",
        }
    }
}
