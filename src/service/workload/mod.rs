//! Workload identity (issue 23): machine identities log in with a token
//! their platform already gives them — an OIDC ID token (GitHub Actions,
//! GitLab CI, any OIDC issuer), a JWT checked against static keys or a
//! JWKS, or a Kubernetes service-account token — instead of a long-lived
//! client secret. Routes and shapes are Infisical's (`oidc-auth`,
//! `jwt-auth`, `kubernetes-auth`), so the official SDKs log in unchanged.
//!
//! - `config`: each method's settings, checked at the edge;
//! - `jwt`: signature and time checks (algorithm pinned to the key type);
//! - `claims`: bound issuer, audiences, subject and claims (globs);
//! - `jwks`: the bounded cache of issuers' keys; `fetch`: bounded requests;
//! - `kubernetes`: TokenReview and the namespace/name checks;
//! - `sealed`: the one stored credential (Kubernetes' reviewer token);
//! - `admin` (configure) and `login` (the login routes' service side).
//!
//! Every refusal writes an audit event naming the failed check
//! (`check=audience`, ...), aggregated per identity, check and address so
//! a flood costs a bounded number of rows; the token is never recorded.

mod admin;
pub mod claims;
pub mod config;
pub mod fetch;
pub mod jwks;
pub mod jwt;
pub mod kubernetes;
mod login;
pub mod sealed;

pub use admin::MethodView;
pub use config::{Config, Method};

/// What logins share: the issuers' key cache.
#[derive(Default)]
pub struct Workload {
    pub keys: jwks::KeyCache,
}
