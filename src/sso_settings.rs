//! The settings of one single sign-on provider (the config file's
//! `[[sso_providers]]`), as `config` parses them; `service::sso` checks and
//! uses them. A leaf, so `config` does not import the service.

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// What users pass to `hush login --sso NAME`.
    pub name: String,
    /// `oidc` or `github` (GitHub OAuth apps, github.com or Enterprise).
    #[serde(default = "default_kind")]
    pub kind: String,
    /// OIDC: the issuer; its `/.well-known/openid-configuration` is read.
    #[serde(default)]
    pub issuer: String,
    /// GitHub: the web URL (Enterprise: `https://github.example.com`).
    #[serde(default = "default_github_url")]
    pub github_url: String,
    /// GitHub: the API URL (Enterprise: `https://github.example.com/api/v3`).
    #[serde(default = "default_github_api_url")]
    pub github_api_url: String,
    /// GitHub: organizations whose members may log in; empty: any account.
    #[serde(default)]
    pub allowed_orgs: Vec<String>,
    pub client_id: String,
    /// The environment variable holding the client secret.
    pub client_secret_env: Option<String>,
    /// Or a file holding it.
    pub client_secret_file: Option<PathBuf>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Users' email domains allowed in; empty: any verified email.
    #[serde(default)]
    pub allowed_email_domains: Vec<String>,
    /// OIDC: claims the ID token must carry, name = value; a list claim
    /// (e.g. `groups`) must contain the value. Empty: no claim required.
    #[serde(default)]
    pub required_claims: std::collections::BTreeMap<String, String>,
    /// Create unknown users on their first login (else invite-only).
    #[serde(default)]
    pub jit: bool,
    /// With `jit`: the project and role a new user gets.
    #[serde(default = "default_project")]
    pub default_project: String,
    #[serde(default = "default_role")]
    pub default_role: String,
    /// PEM CA bundle to trust for the provider (else the public web PKI).
    pub ca_cert_file: Option<PathBuf>,
}

fn default_kind() -> String {
    "oidc".into()
}

fn default_github_url() -> String {
    "https://github.com".into()
}

fn default_github_api_url() -> String {
    "https://api.github.com".into()
}

pub(crate) fn default_scopes() -> Vec<String> {
    vec!["openid".into(), "email".into(), "profile".into()]
}

fn default_project() -> String {
    "default".into()
}

fn default_role() -> String {
    "viewer".into()
}
