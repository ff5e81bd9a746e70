//! The settings of each workload identity auth method, in Infisical's wire
//! shape (camelCase, `boundAudiences` a comma-separated string, trusted IPs
//! as `[{ "ipAddress": ... }]`), checked at the edge: every field bounded,
//! URLs and CA bundles parsed, required fields present. Stored as this JSON;
//! the one credential (Kubernetes' reviewer token) is never in it.

use super::claims::{MAX_BOUND_ENTRIES, MAX_PATTERN_BYTES};
use super::fetch;
use super::jwt::{KeySet, MAX_KEYS, MAX_TOKEN_BYTES};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The methods, by their Infisical route names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Oidc,
    Jwt,
    Kubernetes,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Oidc => "oidc",
            Method::Jwt => "jwt",
            Method::Kubernetes => "kubernetes",
        }
    }

    /// `oidc-auth`, as in `/api/v1/auth/oidc-auth/login`.
    pub fn route(self) -> &'static str {
        match self {
            Method::Oidc => "oidc-auth",
            Method::Jwt => "jwt-auth",
            Method::Kubernetes => "kubernetes-auth",
        }
    }

    /// The key of the configuration in Infisical's answers.
    pub fn answer_key(self) -> &'static str {
        match self {
            Method::Oidc => "identityOidcAuth",
            Method::Jwt => "identityJwtAuth",
            Method::Kubernetes => "identityKubernetesAuth",
        }
    }
}

const MAX_URL: usize = 2048;
const MAX_TRUSTED_IPS: usize = 64;
const MAX_NAME_LIST: usize = 64;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrustedIp {
    pub ip_address: String,
}

/// Token lifetime, uses and login addresses, as universal auth has them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenSettings {
    #[serde(rename = "accessTokenTTL", default = "default_ttl")]
    pub ttl: i64,
    #[serde(rename = "accessTokenMaxTTL", default = "default_max_ttl")]
    pub max_ttl: i64,
    #[serde(rename = "accessTokenNumUsesLimit", default)]
    pub num_uses_limit: i64,
    #[serde(rename = "accessTokenTrustedIps", default)]
    pub trusted_ips: Vec<TrustedIp>,
}

fn default_ttl() -> i64 {
    3600
}

fn default_max_ttl() -> i64 {
    30 * 24 * 3600
}

impl TokenSettings {
    fn check(&self) -> Result<(), String> {
        if self.ttl <= 0 || self.max_ttl < self.ttl || self.max_ttl > 10 * 365 * 24 * 3600 {
            return Err(
                "accessTokenTTL must be positive and not above accessTokenMaxTTL (at most 10 years)"
                    .into(),
            );
        }
        if self.num_uses_limit < 0 {
            return Err("accessTokenNumUsesLimit must be 0 (unlimited) or more".into());
        }
        if self.trusted_ips.len() > MAX_TRUSTED_IPS {
            return Err(format!("at most {MAX_TRUSTED_IPS} accessTokenTrustedIps"));
        }
        for ip in &self.trusted_ips {
            crate::net::parse_range(&ip.ip_address).ok_or_else(|| {
                format!(
                    "invalid trusted IP range {:?}: use e.g. 10.0.0.0/8",
                    ip.ip_address
                )
            })?;
        }
        Ok(())
    }

    /// The ranges, as `check_trusted_ip` reads them (JSON list of text).
    pub fn ranges_json(&self) -> String {
        let list: Vec<&str> = self
            .trusted_ips
            .iter()
            .map(|t| t.ip_address.as_str())
            // Infisical's default of "anywhere" is no restriction.
            .filter(|r| *r != "0.0.0.0/0" && *r != "::/0")
            .collect();
        serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())
    }
}

/// The claims a token is bound to (OIDC and JWT auth).
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    #[serde(default)]
    pub bound_issuer: String,
    /// Comma-separated; required.
    #[serde(default)]
    pub bound_audiences: String,
    #[serde(default)]
    pub bound_subject: String,
    #[serde(default)]
    pub bound_claims: BTreeMap<String, String>,
    #[serde(default)]
    pub claim_metadata_mapping: BTreeMap<String, String>,
}

impl Binding {
    pub fn audiences(&self) -> Vec<String> {
        split_list(&self.bound_audiences)
    }

    fn check(&self) -> Result<(), String> {
        let audiences = self.audiences();
        if audiences.is_empty() {
            return Err("boundAudiences is required: the audience (aud) your tokens are minted for, e.g. https://github.com/ORG or hush".into());
        }
        if audiences.len() > MAX_BOUND_ENTRIES {
            return Err(format!("at most {MAX_BOUND_ENTRIES} boundAudiences"));
        }
        for (field, text) in [
            ("boundIssuer", &self.bound_issuer),
            ("boundAudiences", &self.bound_audiences),
            ("boundSubject", &self.bound_subject),
        ] {
            if text.len() > MAX_PATTERN_BYTES {
                return Err(format!("{field} is longer than {MAX_PATTERN_BYTES} bytes"));
            }
        }
        for (field, map) in [
            ("boundClaims", &self.bound_claims),
            ("claimMetadataMapping", &self.claim_metadata_mapping),
        ] {
            if map.len() > MAX_BOUND_ENTRIES {
                return Err(format!("at most {MAX_BOUND_ENTRIES} entries in {field}"));
            }
            for (k, v) in map {
                if k.is_empty() || k.len() > 128 || v.is_empty() || v.len() > MAX_PATTERN_BYTES {
                    return Err(format!(
                        "{field}: names of 1 to 128 bytes and values of 1 to {MAX_PATTERN_BYTES} bytes"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcConfig {
    pub oidc_discovery_url: String,
    #[serde(default)]
    pub ca_cert: String,
    #[serde(flatten)]
    pub binding: Binding,
    #[serde(flatten)]
    pub token: TokenSettings,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtConfig {
    /// `jwks` or `static`.
    pub configuration_type: String,
    #[serde(default)]
    pub jwks_url: String,
    #[serde(default)]
    pub jwks_ca_cert: String,
    #[serde(default)]
    pub public_keys: Vec<String>,
    #[serde(flatten)]
    pub binding: Binding,
    #[serde(flatten)]
    pub token: TokenSettings,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesConfig {
    /// `api` (TokenReview) or `jwks` (the cluster issuer's keys).
    #[serde(default = "default_review_mode")]
    pub token_review_mode: String,
    #[serde(default)]
    pub kubernetes_host: String,
    #[serde(default)]
    pub ca_cert: String,
    /// `jwks` mode: the cluster's service-account issuer's JWKS URL.
    #[serde(default)]
    pub jwks_url: String,
    /// `jwks` mode: the issuer (`iss`) tokens must carry.
    #[serde(default)]
    pub bound_issuer: String,
    /// Comma-separated; empty: any namespace.
    #[serde(default)]
    pub allowed_namespaces: String,
    /// Comma-separated service-account names; empty: any.
    #[serde(default)]
    pub allowed_names: String,
    #[serde(default)]
    pub allowed_audience: String,
    #[serde(flatten)]
    pub token: TokenSettings,
}

fn default_review_mode() -> String {
    "api".into()
}

impl KubernetesConfig {
    pub fn namespaces(&self) -> Vec<String> {
        split_list(&self.allowed_namespaces)
    }

    pub fn names(&self) -> Vec<String> {
        split_list(&self.allowed_names)
    }
}

pub fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn check_ca(field: &str, pem: &str) -> Result<(), String> {
    if pem.trim().is_empty() {
        return Ok(());
    }
    if pem.len() > fetch::MAX_CA_BYTES {
        return Err(format!(
            "{field} is longer than {} bytes",
            fetch::MAX_CA_BYTES
        ));
    }
    fetch::check_ca(field, pem)
}

/// A URL that must be given; `hint` says what it is.
fn required_url(field: &str, url: &str, hint: &str) -> Result<(), String> {
    if url.trim().is_empty() {
        return Err(format!("{field} is required ({hint})"));
    }
    check_url(field, url)
}

fn check_url(field: &str, url: &str) -> Result<(), String> {
    if url.len() > MAX_URL {
        return Err(format!("{field} is longer than {MAX_URL} bytes"));
    }
    fetch::check_url(field, url).map(|_| ())
}

impl OidcConfig {
    pub fn check(&self) -> Result<(), String> {
        required_url(
            "oidcDiscoveryUrl",
            &self.oidc_discovery_url,
            "the issuer, e.g. https://token.actions.githubusercontent.com",
        )?;
        check_ca("caCert", &self.ca_cert)?;
        self.binding.check()?;
        self.token.check()
    }
}

impl JwtConfig {
    pub fn check(&self) -> Result<(), String> {
        match self.configuration_type.as_str() {
            "jwks" => {
                required_url("jwksUrl", &self.jwks_url, "with configurationType jwks")?;
                check_ca("jwksCaCert", &self.jwks_ca_cert)?;
            }
            "static" => {
                if self.public_keys.is_empty() || self.public_keys.len() > MAX_KEYS {
                    return Err(format!(
                        "publicKeys: give 1 to {MAX_KEYS} public keys (PEM) when configurationType is static"
                    ));
                }
                if self.public_keys.iter().any(|k| k.len() > MAX_TOKEN_BYTES) {
                    return Err(format!(
                        "publicKeys: a key is longer than {MAX_TOKEN_BYTES} bytes"
                    ));
                }
                KeySet::from_pems(&self.public_keys)?;
            }
            other => return Err(format!("configurationType {other:?}: use jwks or static")),
        }
        self.binding.check()?;
        self.token.check()
    }
}

impl KubernetesConfig {
    pub fn check(&self) -> Result<(), String> {
        match self.token_review_mode.as_str() {
            "api" => {
                required_url(
                    "kubernetesHost",
                    &self.kubernetes_host,
                    "the API server, e.g. https://kubernetes.default.svc",
                )?;
            }
            "jwks" => {
                if self.jwks_url.trim().is_empty() || self.bound_issuer.trim().is_empty() {
                    return Err("tokenReviewMode jwks needs jwksUrl and boundIssuer (the cluster's service-account issuer)".into());
                }
                if self.allowed_audience.trim().is_empty() {
                    return Err("tokenReviewMode jwks needs allowedAudience: a projected token minted for hush (audience) is checked offline".into());
                }
                check_url("jwksUrl", &self.jwks_url)?;
            }
            other => return Err(format!("tokenReviewMode {other:?}: use api or jwks")),
        }
        check_ca("caCert", &self.ca_cert)?;
        for (field, list) in [
            ("allowedNamespaces", self.namespaces()),
            ("allowedNames", self.names()),
        ] {
            if list.len() > MAX_NAME_LIST || list.iter().any(|n| n.len() > 253) {
                return Err(format!(
                    "{field}: at most {MAX_NAME_LIST} names of at most 253 bytes"
                ));
            }
        }
        if self.allowed_audience.len() > MAX_PATTERN_BYTES || self.bound_issuer.len() > MAX_URL {
            return Err("allowedAudience or boundIssuer is too long".into());
        }
        self.token.check()
    }
}

/// The settings of one method, parsed from its JSON.
#[derive(Clone, Debug)]
pub enum Config {
    Oidc(OidcConfig),
    Jwt(JwtConfig),
    Kubernetes(KubernetesConfig),
}

impl Config {
    /// Parses and checks `json` as `method`'s settings.
    pub fn parse(method: Method, json: serde_json::Value) -> Result<Config, String> {
        let err = |e: serde_json::Error| format!("invalid {} settings: {e}", method.route());
        let config = match method {
            Method::Oidc => Config::Oidc(serde_json::from_value(json).map_err(err)?),
            Method::Jwt => Config::Jwt(serde_json::from_value(json).map_err(err)?),
            Method::Kubernetes => Config::Kubernetes(serde_json::from_value(json).map_err(err)?),
        };
        match &config {
            Config::Oidc(c) => c.check()?,
            Config::Jwt(c) => c.check()?,
            Config::Kubernetes(c) => c.check()?,
        }
        Ok(config)
    }

    pub fn token(&self) -> &TokenSettings {
        match self {
            Config::Oidc(c) => &c.token,
            Config::Jwt(c) => &c.token,
            Config::Kubernetes(c) => &c.token,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let v = match self {
            Config::Oidc(c) => serde_json::to_value(c),
            Config::Jwt(c) => serde_json::to_value(c),
            Config::Kubernetes(c) => serde_json::to_value(c),
        };
        v.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn audiences_are_required() {
        let base = json!({ "oidcDiscoveryUrl": "https://token.actions.githubusercontent.com", "boundIssuer": "https://token.actions.githubusercontent.com" });
        let e = Config::parse(Method::Oidc, base.clone()).unwrap_err();
        assert!(e.contains("boundAudiences"), "{e}");
        let mut ok = base;
        ok["boundAudiences"] = json!("hush, other");
        let Config::Oidc(c) = Config::parse(Method::Oidc, ok).unwrap() else {
            panic!()
        };
        assert_eq!(c.binding.audiences(), vec!["hush", "other"]);
        assert_eq!(c.token.ttl, 3600);
    }

    #[test]
    fn bad_settings_are_refused() {
        for (method, body) in [
            (
                Method::Oidc,
                json!({ "oidcDiscoveryUrl": "http://issuer.example.com", "boundAudiences": "a" }),
            ),
            (
                Method::Jwt,
                json!({ "configurationType": "static", "publicKeys": ["nope"], "boundAudiences": "a" }),
            ),
            (
                Method::Jwt,
                json!({ "configurationType": "hmac", "boundAudiences": "a" }),
            ),
            (Method::Kubernetes, json!({ "tokenReviewMode": "api" })),
            (
                Method::Oidc,
                json!({ "oidcDiscoveryUrl": "https://a.example", "boundAudiences": "a", "accessTokenTrustedIps": [{ "ipAddress": "nope" }] }),
            ),
        ] {
            assert!(Config::parse(method, body).is_err());
        }
    }
}
