//! `POST /api/v1/auth/{oidc,jwt,kubernetes}-auth/login`: a platform token
//! exchanged for a short-lived hush access token.
//!
//! Failed logins do not count toward the account lockout of universal auth:
//! a signed token cannot be guessed, and anyone who knows an identity's id
//! could otherwise lock a CI pipeline out by posting garbage for it. The
//! per-address rate limit of the public auth routes still applies, and the
//! key cache refetches at most once per interval for unknown key ids.

use super::claims::{self, Bounds};
use super::config::{Config, Method};
use super::jwks::KeySource;
use super::jwt::{self, Check, KeySet, MAX_TOKEN_BYTES};
use super::kubernetes;
use super::sealed;
use crate::service::identity::{check_trusted_ip, issue_token, IssuedToken};
use crate::service::{Ctx, Service, ServiceError, ServiceResult};
use crate::store::IdentityRow;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A refused login: the check (audited) and a one-line reason for the caller.
struct Refused(Check, String);

impl From<(Check, String)> for Refused {
    fn from((c, m): (Check, String)) -> Self {
        Refused(c, m)
    }
}

fn reason(check: Check) -> &'static str {
    match check {
        Check::Malformed => "the token is not a well-formed JWT",
        Check::Alg => "the token's algorithm (alg) does not fit the issuer's key; none and HMAC algorithms are never accepted",
        Check::Kid => "the token's key id (kid) is not among the issuer's keys",
        Check::Signature => "the token's signature does not verify",
        Check::Expired => "the token has expired (exp) or has no expiry",
        Check::NotYetValid => "the token is not valid yet (nbf)",
        Check::IssuedInFuture => "the token was issued in the future (iat)",
        Check::Issuer => "the token's issuer (iss) is not the bound issuer",
        Check::Audience => "the token's audience (aud) is not one this identity accepts",
        Check::Subject => "the token's subject (sub) does not match the bound subject",
        Check::Claim => "a claim of the token does not match the identity's bound claims",
        Check::Unavailable => "the issuer's keys could not be fetched",
        Check::TokenReview => "the cluster did not authenticate this token",
        Check::Namespace => "the service account's namespace is not allowed",
        Check::ServiceAccount => "the service account is not allowed",
        Check::NotConfigured => "invalid identity id, or this auth method is not configured for it",
        Check::TrustedIp => "logins for this identity are not allowed from this address",
    }
}

fn refused(check: Check) -> Refused {
    Refused(check, reason(check).to_owned())
}

/// What a successful check knows of the caller, for the audit event.
struct Proven {
    metadata: Vec<String>,
}

impl Service {
    /// Now in Unix seconds by the service's clock, for `exp`/`nbf`/`iat`.
    fn now_secs(&self) -> u64 {
        (self.now_ms() / 1000).max(0) as u64
    }

    pub async fn workload_login(
        &self,
        ctx: &Ctx,
        method: Method,
        identity_id: &str,
        jwt: &str,
    ) -> ServiceResult<IssuedToken> {
        let event_name = format!("login-identity-{}", method.route());
        let identity = self
            .store
            .identity(identity_id)
            .await?
            .filter(|i| i.id == identity_id);
        let row = match &identity {
            Some(i) => {
                self.store
                    .identity_auth_methods()
                    .identity_auth(&i.id, method.as_str())
                    .await?
            }
            None => None,
        };
        let (Some(identity), Some(row)) = (identity, row) else {
            return Err(self
                .refuse(
                    ctx,
                    &event_name,
                    method,
                    None,
                    identity_id,
                    refused(Check::NotConfigured),
                )
                .await);
        };
        let stored: Value = serde_json::from_str(&row.config)
            .map_err(|e| ServiceError::Internal(format!("stored auth config: {e}")))?;
        let config = Config::parse(method, stored)
            .map_err(|e| ServiceError::Internal(format!("stored auth config: {e}")))?;
        let token = config.token().clone();
        let login_ips = IdentityRow {
            trusted_ips: token.ranges_json(),
            ..identity.clone()
        };
        if check_trusted_ip(&login_ips, ctx.client_ip.as_deref()).is_err() {
            return Err(self
                .refuse(
                    ctx,
                    &event_name,
                    method,
                    Some(&identity),
                    identity_id,
                    refused(Check::TrustedIp),
                )
                .await);
        }
        let reviewer = match (&row.key_wrapped, &row.secret_ct) {
            (Some(w), Some(s)) => Some(
                sealed::open(self.keys.root(), &identity.id, method.as_str(), w, s)
                    .map_err(|e| ServiceError::Integrity(e.to_string()))?,
            ),
            _ => None,
        };
        let proven = match self
            .prove(&config, jwt, reviewer.as_ref().map(|r| r.as_str()))
            .await
        {
            Ok(p) => p,
            Err(r) => {
                return Err(self
                    .refuse(ctx, &event_name, method, Some(&identity), identity_id, r)
                    .await)
            }
        };
        let (mut token_row, issued) = issue_token(
            self.now_ms(),
            "identity",
            &identity.id,
            &identity.name,
            token.ttl,
            token.max_ttl,
        )?;
        token_row.uses_limit = (token.num_uses_limit > 0).then_some(token.num_uses_limit);
        let mut event = ctx.event(&event_name);
        event.actor_type = "identity".into();
        event.actor_id = identity.id.clone();
        event.actor_name = identity.name.clone();
        event.keys = proven.metadata;
        self.store.insert_token(token_row, event).await?;
        Ok(issued)
    }

    /// Writes the refusal's audit event (aggregated: see `refusals`) and
    /// returns the caller's error.
    async fn refuse(
        &self,
        ctx: &Ctx,
        event_name: &str,
        method: Method,
        identity: Option<&IdentityRow>,
        identity_id: &str,
        Refused(check, message): Refused,
    ) -> ServiceError {
        let mut event = ctx.event(event_name);
        event.actor_type = "identity".into();
        // An unknown id is the caller's text: bounded before it is recorded.
        event.actor_id =
            identity.map_or_else(|| identity_id.chars().take(64).collect(), |i| i.id.clone());
        event.actor_name = identity.map(|i| i.name.clone()).unwrap_or_default();
        event.result = "denied".into();
        event.keys = vec![format!("check={}", check.as_str())];
        let key = format!(
            "{event_name}|{}|{}|{}",
            event.actor_id,
            check.as_str(),
            crate::service::lockout::client_bucket(ctx)
        );
        if let Err(e) = self.audit_refusal(key, event).await {
            return e;
        }
        let label = match method {
            Method::Oidc => "OIDC",
            Method::Jwt => "JWT",
            Method::Kubernetes => "Kubernetes",
        };
        let text = format!("{label} login refused: {message}");
        match check {
            Check::TrustedIp => ServiceError::Forbidden(text),
            Check::Unavailable => ServiceError::Unavailable(text),
            _ => ServiceError::Unauthorized(text),
        }
    }

    /// Runs the method's checks on `jwt`.
    async fn prove(
        &self,
        config: &Config,
        jwt: &str,
        reviewer: Option<&str>,
    ) -> Result<Proven, Refused> {
        if jwt.is_empty() || jwt.len() > MAX_TOKEN_BYTES {
            return Err(refused(Check::Malformed));
        }
        match config {
            Config::Oidc(c) => {
                let source = KeySource {
                    url: c.oidc_discovery_url.clone(),
                    discovery: true,
                    ca: Some(c.ca_cert.clone()).filter(|s| !s.trim().is_empty()),
                };
                let (claims, issuer) = self.verify_with(&source, jwt).await?;
                // Without a bound issuer, the one discovery named.
                let bound = if c.binding.bound_issuer.is_empty() {
                    issuer.unwrap_or_default()
                } else {
                    c.binding.bound_issuer.clone()
                };
                bound_claims(&claims, &bound, &c.binding)
            }
            Config::Jwt(c) => {
                let claims = if c.configuration_type == "static" {
                    let keys = KeySet::from_pems(&c.public_keys)
                        .map_err(|e| Refused(Check::Unavailable, e))?;
                    let header = jwt::header(jwt).map_err(refused)?;
                    jwt::verify(jwt, &header, &keys, self.now_secs()).map_err(refused)?
                } else {
                    let source = KeySource {
                        url: c.jwks_url.clone(),
                        discovery: false,
                        ca: Some(c.jwks_ca_cert.clone()).filter(|s| !s.trim().is_empty()),
                    };
                    self.verify_with(&source, jwt).await?.0
                };
                bound_claims(&claims, &c.binding.bound_issuer, &c.binding)
            }
            Config::Kubernetes(c) => {
                let account = if c.token_review_mode == "jwks" {
                    let source = KeySource {
                        url: c.jwks_url.clone(),
                        discovery: false,
                        ca: Some(c.ca_cert.clone()).filter(|s| !s.trim().is_empty()),
                    };
                    let (claims, _) = self.verify_with(&source, jwt).await?;
                    let audiences = vec![c.allowed_audience.clone()];
                    let none = BTreeMap::new();
                    claims::check(
                        &claims,
                        &Bounds {
                            issuer: &c.bound_issuer,
                            audiences: &audiences,
                            subject: "",
                            claims: &none,
                        },
                    )
                    .map_err(refused)?;
                    kubernetes::from_claims(&claims)
                        .ok_or_else(|| refused(Check::ServiceAccount))?
                } else {
                    kubernetes::token_review(c, reviewer, jwt).await?
                };
                kubernetes::check_allowed(c, &account)?;
                Ok(Proven {
                    metadata: vec![
                        format!("namespace={}", account.namespace),
                        format!("serviceAccount={}", account.name),
                    ],
                })
            }
        }
    }

    /// Verifies `jwt` with the source's keys; an unknown `kid` refetches
    /// them (at most once per interval, joining a fetch in flight, see
    /// `jwks`). Returns the claims and
    /// the issuer discovery named.
    async fn verify_with(
        &self,
        source: &KeySource,
        jwt: &str,
    ) -> Result<(Map<String, Value>, Option<String>), Refused> {
        let header = jwt::header(jwt).map_err(refused)?;
        let cache = &self.workload.keys;
        let unavailable = |e: String| {
            Refused(
                Check::Unavailable,
                format!("{}: {e}", reason(Check::Unavailable)),
            )
        };
        let mut resolved = cache.keys(source).await.map_err(unavailable)?;
        if let Some(kid) = &header.kid {
            if !resolved.keys.has_kid(kid) {
                resolved = cache
                    .refresh_for_unknown_kid(source)
                    .await
                    .map_err(unavailable)?;
            }
        }
        let claims = jwt::verify(jwt, &header, &resolved.keys, self.now_secs()).map_err(refused)?;
        Ok((claims, resolved.issuer.clone()))
    }
}

impl Service {
    /// Verifies an ID token with the issuer's keys (single sign-on reuses
    /// the workload checks: alg pinned, times, unknown-`kid` refetch).
    /// Returns the claims and the issuer discovery named; Err: the failed
    /// check and a one-line reason.
    pub(crate) async fn verify_id_token(
        &self,
        source: &KeySource,
        jwt: &str,
    ) -> Result<(Map<String, Value>, Option<String>), (Check, String)> {
        if jwt.is_empty() || jwt.len() > MAX_TOKEN_BYTES {
            return Err((Check::Malformed, reason(Check::Malformed).to_owned()));
        }
        self.verify_with(source, jwt)
            .await
            .map_err(|Refused(c, m)| (c, m))
    }
}

fn bound_claims(
    claims: &Map<String, Value>,
    issuer: &str,
    binding: &super::config::Binding,
) -> Result<Proven, Refused> {
    let audiences = binding.audiences();
    claims::check(
        claims,
        &Bounds {
            issuer,
            audiences: &audiences,
            subject: &binding.bound_subject,
            claims: &binding.bound_claims,
        },
    )
    .map_err(refused)?;
    Ok(Proven {
        metadata: claims::metadata(claims, &binding.claim_metadata_mapping),
    })
}
