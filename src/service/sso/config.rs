//! The SSO providers a server trusts (its config file's
//! `[[sso_providers]]`), checked at start-up.

use zeroize::Zeroizing;

use crate::sso_settings::default_scopes;
pub use crate::sso_settings::ProviderConfig;

/// The most claims one provider may require.
const MAX_REQUIRED_CLAIMS: usize = 16;

/// A provider ready to use: its settings, secret and CA.
pub struct Provider {
    pub config: ProviderConfig,
    pub client_secret: Zeroizing<String>,
    pub ca: Option<String>,
}

/// Every provider, and how the server's callback URL is made.
#[derive(Default)]
pub struct Sso {
    pub providers: Vec<Provider>,
    /// The server's URL as browsers reach it (`sso_public_url`); else the
    /// `Host` of the CLI's start request.
    pub public_url: Option<String>,
    /// Whether the server serves HTTPS (for the callback URL from `Host`).
    pub tls: bool,
}

impl Sso {
    /// Reads each provider's secret and CA; Err names what is wrong.
    pub fn load(
        configs: Vec<ProviderConfig>,
        public_url: Option<String>,
        tls: bool,
    ) -> Result<Sso, String> {
        let mut providers = Vec::new();
        for c in configs {
            let name = c.name.clone();
            let fail = |e: String| format!("sso provider {name:?}: {e}");
            match c.kind.as_str() {
                "oidc" => {
                    crate::service::workload::fetch::check_url("issuer", &c.issuer)
                        .map_err(fail)?;
                }
                "github" => {
                    for (field, url) in [
                        ("github_url", &c.github_url),
                        ("github_api_url", &c.github_api_url),
                    ] {
                        crate::service::workload::fetch::check_url(field, url).map_err(fail)?;
                    }
                }
                other => return Err(fail(format!("kind {other:?}: use oidc or github"))),
            }
            if c.kind == "github" && !c.required_claims.is_empty() {
                return Err(fail(
                    "required_claims: only an OIDC provider has claims (use allowed_orgs for GitHub)"
                        .into(),
                ));
            }
            if c.required_claims.len() > MAX_REQUIRED_CLAIMS
                || c.required_claims
                    .iter()
                    .any(|(k, v)| k.is_empty() || k.len() > 256 || v.len() > 256)
            {
                return Err(fail(format!(
                    "required_claims: at most {MAX_REQUIRED_CLAIMS}, names and values of 1-256 bytes"
                )));
            }
            if name.is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            {
                return Err(fail("name: use letters, digits, '-' and '_'".into()));
            }
            if !["admin", "developer", "viewer", "no-access"].contains(&c.default_role.as_str()) {
                return Err(fail(format!(
                    "default_role {:?}: use admin, developer, viewer or no-access",
                    c.default_role
                )));
            }
            let secret = match (&c.client_secret_env, &c.client_secret_file) {
                (Some(var), None) => std::env::var(var)
                    .map_err(|_| fail(format!("the environment variable {var} is not set")))?,
                (None, Some(path)) => std::fs::read_to_string(path)
                    .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?
                    .trim()
                    .to_owned(),
                _ => {
                    return Err(fail(
                        "give exactly one of client_secret_env and client_secret_file".into(),
                    ))
                }
            };
            let ca = match &c.ca_cert_file {
                Some(path) => {
                    let pem = std::fs::read_to_string(path)
                        .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
                    crate::service::workload::fetch::check_ca("ca_cert_file", &pem)
                        .map_err(fail)?;
                    Some(pem)
                }
                None => None,
            };
            let mut c = c;
            if c.kind == "github" && c.scopes == default_scopes() {
                c.scopes = vec!["read:user".into(), "user:email".into(), "read:org".into()];
            }
            providers.push(Provider {
                client_secret: Zeroizing::new(secret),
                ca,
                config: c,
            });
        }
        Ok(Sso {
            providers,
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
            tls,
        })
    }

    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.config.name == name)
    }
}
