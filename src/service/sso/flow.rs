//! The authorization-code flow (see the module doc of `sso`).

use super::config::Provider;
use crate::crypto::Key;
use crate::service::identity::IssuedToken;
use crate::service::workload::fetch;
use crate::service::workload::jwks::{discovery_document_url, KeySource};
use crate::service::{new_id, tokens, Ctx, Service, ServiceError, ServiceResult};
use crate::store::{MembershipRow, UserRow};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How long a started flow may take (the user signs in at the provider).
const FLOW_TTL_MS: i64 = 10 * 60 * 1000;
/// How long the CLI has to redeem its one-time login code.
const CODE_TTL_MS: i64 = 2 * 60 * 1000;
const MAX_SEALED: usize = 4096;
const CALLBACK_PATH: &str = "/api/v1/hush/sso/callback";
/// The dashboard's page that redeems a login code into its session cookie.
const DASHBOARD_RETURN_PATH: &str = "/sign-in/sso/done";

pub struct Started {
    pub authorization_url: String,
}

/// Where the callback sends the browser with the one-time login code.
#[derive(Clone, Copy)]
pub enum Return<'a> {
    /// The CLI's loopback listener (RFC 8252), as the CLI names it.
    Loopback(&'a str),
    /// This server's own dashboard (`DASHBOARD_RETURN_PATH`), on the origin
    /// of the callback: fixed here, so no request can point it elsewhere.
    Dashboard,
}

/// Where the callback sends the browser: the CLI's loopback, with the
/// one-time login code.
pub struct SsoLogin {
    pub redirect: String,
}

/// What the state parameter carries, sealed.
#[derive(Serialize, Deserialize)]
struct FlowState {
    id: String,
    provider: String,
    /// The server's callback URL, sent again with the code.
    callback: String,
    /// The CLI's loopback; None: the dashboard's return page.
    cli_redirect: Option<String>,
    cli_challenge: String,
    cli_state: String,
    nonce: String,
    verifier: String,
    expires: i64,
}

/// The one-time login code, sealed.
#[derive(Serialize, Deserialize)]
struct LoginCode {
    id: String,
    user_id: String,
    provider: String,
    cli_challenge: String,
    expires: i64,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// 256 random bits, base64url: a PKCE verifier, a nonce.
fn random() -> ServiceResult<String> {
    tokens::generate("")
        .map(|t| t.to_string())
        .map_err(|e| ServiceError::Internal(e.to_string()))
}

/// RFC 7636 S256.
pub fn challenge(verifier: &str) -> String {
    b64(&Sha256::digest(verifier.as_bytes()))
}

fn bad(message: &str) -> ServiceError {
    ServiceError::BadRequest(message.to_owned())
}

/// A loopback redirect (RFC 8252 7.3): http, 127.0.0.1 / ::1 / localhost,
/// an explicit port, no credentials or fragment.
fn check_loopback(url: &str) -> ServiceResult<reqwest::Url> {
    let parsed = reqwest::Url::parse(url)
        .ok()
        .filter(|u| url.len() <= 512 && u.scheme() == "http")
        .filter(|u| matches!(u.host_str(), Some("127.0.0.1" | "[::1]" | "localhost")))
        .filter(|u| u.port().is_some() && u.username().is_empty() && u.password().is_none())
        .filter(|u| u.fragment().is_none());
    parsed.ok_or_else(|| {
        ServiceError::Validation(
            "redirectUri must be a loopback URL, e.g. http://127.0.0.1:PORT/callback".into(),
        )
    })
}

fn url_safe(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
}

/// The endpoints a provider's discovery document names.
pub(super) struct Endpoints {
    pub(super) issuer: String,
    pub(super) authorization: String,
    pub(super) token: String,
    /// RFC 8628's device authorization endpoint, when the provider has one.
    pub(super) device: Option<String>,
}

pub(super) async fn discover(p: &Provider) -> ServiceResult<Endpoints> {
    if p.config.kind == "github" {
        // GitHub OAuth apps have no discovery document.
        let web = p.config.github_url.trim_end_matches('/');
        return Ok(Endpoints {
            issuer: web.to_owned(),
            authorization: format!("{web}/login/oauth/authorize"),
            token: format!("{web}/login/oauth/access_token"),
            device: Some(format!("{web}/login/device/code")),
        });
    }
    let unavailable = |e: String| {
        ServiceError::Unavailable(format!(
            "the SSO provider {:?} could not be reached: {e}",
            p.config.name
        ))
    };
    let url = discovery_document_url(&p.config.issuer);
    let client = fetch::client(&url, p.ca.as_deref()).map_err(unavailable)?;
    let answer = fetch::send(client.get(&url)).await.map_err(unavailable)?;
    if answer.status != 200 {
        return Err(unavailable(format!("HTTP {}", answer.status)));
    }
    let doc: Value = serde_json::from_slice(&answer.body)
        .map_err(|_| unavailable("the discovery document is not JSON".into()))?;
    let field = |name: &str| -> ServiceResult<String> {
        let v = doc[name]
            .as_str()
            .ok_or_else(|| unavailable(format!("the discovery document has no {name}")))?;
        fetch::check_url(name, v).map_err(unavailable)
    };
    Ok(Endpoints {
        issuer: doc["issuer"].as_str().unwrap_or_default().to_owned(),
        authorization: field("authorization_endpoint")?,
        token: field("token_endpoint")?,
        device: match doc.get("device_authorization_endpoint") {
            Some(_) => Some(field("device_authorization_endpoint")?),
            None => None,
        },
    })
}

impl Service {
    fn sso_key(&self) -> ServiceResult<Key> {
        Key::from_bytes(self.keys.root().derive(b"hush-sso-v1").as_ref())
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    pub(super) fn seal_sso<T: Serialize>(&self, aad: &[u8], value: &T) -> ServiceResult<String> {
        let plain = serde_json::to_vec(value).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let sealed = self
            .sso_key()?
            .seal(aad, &plain)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(b64(&sealed))
    }

    pub(super) fn open_sso<T: for<'de> Deserialize<'de>>(
        &self,
        aad: &[u8],
        text: &str,
    ) -> Option<T> {
        if text.len() > MAX_SEALED {
            return None;
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        let plain = self.sso_key().ok()?.open(aad, &bytes).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    pub(super) fn sso_provider(&self, name: &str) -> ServiceResult<&Provider> {
        self.sso.provider(name).ok_or_else(|| {
            ServiceError::NotFound(format!("no SSO provider {name:?} on this server"))
        })
    }

    /// The names of the configured providers.
    pub fn sso_providers(&self) -> Vec<String> {
        self.sso
            .providers
            .iter()
            .map(|p| p.config.name.clone())
            .collect()
    }

    /// Step 1: the provider's authorization URL for this flow. `host`: the
    /// start request's Host, for the callback URL when no public URL is set.
    pub async fn sso_start(
        &self,
        provider: &str,
        host: Option<&str>,
        to: Return<'_>,
        cli_challenge: &str,
        cli_state: &str,
    ) -> ServiceResult<Started> {
        let p = self.sso_provider(provider)?;
        let cli_redirect = match to {
            Return::Loopback(url) => {
                check_loopback(url)?;
                Some(url.to_owned())
            }
            Return::Dashboard => None,
        };
        if !url_safe(cli_challenge, 43, 128) || !url_safe(cli_state, 16, 128) {
            return Err(ServiceError::Validation(
                "codeChallenge (S256, base64url) and state (16 to 128 URL-safe characters) are required".into(),
            ));
        }
        let base = match (&self.sso.public_url, host) {
            (Some(url), _) => url.clone(),
            (None, Some(host)) if !host.is_empty() && host.len() <= 255 => {
                format!("{}://{host}", if self.sso.tls { "https" } else { "http" })
            }
            _ => return Err(bad("set sso_public_url in the server's configuration")),
        };
        let endpoints = discover(p).await?;
        let verifier = random()?;
        let state = FlowState {
            id: new_id(),
            provider: provider.to_owned(),
            callback: format!("{base}{CALLBACK_PATH}"),
            cli_redirect,
            cli_challenge: cli_challenge.to_owned(),
            cli_state: cli_state.to_owned(),
            nonce: random()?,
            verifier: verifier.clone(),
            expires: self.now_ms() + FLOW_TTL_MS,
        };
        let sealed = self.seal_sso(b"hush-sso-state", &state)?;
        let mut url = reqwest::Url::parse(&endpoints.authorization).map_err(|_| {
            ServiceError::Unavailable("the authorization endpoint is not a URL".into())
        })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &p.config.client_id)
            .append_pair("redirect_uri", &state.callback)
            .append_pair("scope", &p.config.scopes.join(" "))
            .append_pair("state", &sealed)
            .append_pair("nonce", &state.nonce)
            .append_pair("code_challenge", &challenge(&verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(Started {
            authorization_url: url.to_string(),
        })
    }

    /// Step 2: the provider's redirect. Refusals are audited (`sso-login`).
    pub async fn sso_callback(
        &self,
        ctx: &Ctx,
        code: Option<&str>,
        state: &str,
        error: Option<&str>,
    ) -> ServiceResult<SsoLogin> {
        let Some(flow) = self.open_sso::<FlowState>(b"hush-sso-state", state) else {
            return Err(bad(
                "invalid SSO state: start the sign-in again (hush login --sso, or the dashboard's sign-in page)",
            ));
        };
        let now = self.now_ms();
        if flow.expires < now {
            return Err(bad(if flow.cli_redirect.is_none() {
                "this sign-in took too long: start again from the sign-in page"
            } else {
                "this sign-in took too long: start again with hush login --sso"
            }));
        }
        // Single use, on every replica: a replayed callback stops here.
        let once = format!("state:{}", flow.id);
        if !self
            .store
            .identity_auth_methods()
            .consume_once(&once, now, flow.expires)
            .await?
        {
            return Err(self
                .sso_refused(
                    ctx,
                    &flow.provider,
                    "",
                    "replayed-callback",
                    bad("this SSO callback was already used"),
                )
                .await);
        }
        if let Some(e) = error {
            let e: String = e
                .chars()
                .take(64)
                .filter(|c| c.is_ascii_graphic())
                .collect();
            return Err(self
                .sso_refused(
                    ctx,
                    &flow.provider,
                    "",
                    "provider-error",
                    ServiceError::Unauthorized(format!(
                        "the SSO provider refused the sign-in ({e})"
                    )),
                )
                .await);
        }
        let code = code
            .filter(|c| !c.is_empty() && c.len() <= 2048)
            .ok_or_else(|| bad("the SSO callback has no code"))?;
        let p = self.sso_provider(&flow.provider)?;
        let endpoints = discover(p).await?;
        // The provider credential a renewal re-checks with, if any.
        let (user, grant) = if p.config.kind == "github" {
            let token =
                super::github::exchange(p, &endpoints, code, &flow.callback, &flow.verifier)
                    .await?;
            let user = self.github_user(ctx, p, &flow.provider, &token).await?;
            (user, Some(token.to_string()))
        } else {
            let (id_token, refresh) = self.exchange_code(p, &endpoints, code, &flow).await?;
            let user = self
                .sso_user(
                    ctx,
                    p,
                    &endpoints,
                    &flow.provider,
                    &id_token,
                    Some(&flow.nonce),
                )
                .await?;
            (user, refresh)
        };
        let login_id = new_id();
        if let Some(grant) = grant {
            self.store_sso_grant(&login_id, &flow.provider, &grant)
                .await?;
        }
        let login = LoginCode {
            id: login_id,
            user_id: user.id,
            provider: flow.provider.clone(),
            cli_challenge: flow.cli_challenge.clone(),
            expires: now + CODE_TTL_MS,
        };
        let sealed = self.seal_sso(b"hush-sso-code", &login)?;
        let mut redirect = match &flow.cli_redirect {
            Some(loopback) => check_loopback(loopback)?,
            None => reqwest::Url::parse(&flow.callback)
                .and_then(|callback| callback.join(DASHBOARD_RETURN_PATH))
                .map_err(|_| ServiceError::Internal("the SSO callback URL is not a URL".into()))?,
        };
        redirect
            .query_pairs_mut()
            .append_pair("code", &sealed)
            .append_pair("state", &flow.cli_state);
        Ok(SsoLogin {
            redirect: redirect.to_string(),
        })
    }

    /// Whether `state` (a callback's) is a dashboard flow's: its errors are
    /// then shown as a dashboard page rather than the API's JSON.
    pub fn sso_state_is_dashboards(&self, state: &str) -> bool {
        self.open_sso::<FlowState>(b"hush-sso-state", state)
            .is_some_and(|flow| flow.cli_redirect.is_none())
    }

    /// Step 3: the CLI redeems its login code with its PKCE verifier.
    pub async fn sso_redeem(
        &self,
        ctx: &Ctx,
        code: &str,
        verifier: &str,
    ) -> ServiceResult<IssuedToken> {
        let refused = || ServiceError::Unauthorized("invalid or expired SSO login code".into());
        let Some(login) = self.open_sso::<LoginCode>(b"hush-sso-code", code) else {
            return Err(refused());
        };
        let now = self.now_ms();
        if login.expires < now
            || !url_safe(verifier, 43, 128)
            || challenge(verifier) != login.cli_challenge
        {
            return Err(self
                .sso_refused(ctx, &login.provider, "", "pkce", refused())
                .await);
        }
        if !self
            .store
            .identity_auth_methods()
            .consume_once(&format!("code:{}", login.id), now, login.expires)
            .await?
        {
            return Err(self
                .sso_refused(ctx, &login.provider, "", "replayed-code", refused())
                .await);
        }
        let user = match self.store.user_by_id(&login.user_id).await? {
            Some(u) if u.disabled_at.is_none() => u,
            _ => {
                return Err(ServiceError::Unauthorized(
                    super::super::identity::ACCOUNT_DISABLED.into(),
                ))
            }
        };
        let (row, issued) = self.session_token(&user)?;
        let mut event = ctx.event("login");
        event.actor_type = "user".into();
        event.actor_id = user.id.clone();
        event.actor_name = user.email.clone();
        event.keys = vec![format!("sso:{}", login.provider)];
        let token_id = row.id.clone();
        self.store.insert_token(row, event).await?;
        self.store
            .identity_auth_methods()
            .link_sso_grant(&login.id, &token_id)
            .await?;
        Ok(issued)
    }

    /// The user an ID token proves: signature, issuer, audience, times and
    /// (browser flow) nonce checked, then the email, its domain, and the
    /// account (found, or created just in time).
    pub(super) async fn sso_user(
        &self,
        ctx: &Ctx,
        p: &Provider,
        endpoints: &Endpoints,
        provider: &str,
        id_token: &str,
        nonce: Option<&str>,
    ) -> ServiceResult<UserRow> {
        let source = KeySource {
            url: p.config.issuer.clone(),
            discovery: true,
            ca: p.ca.clone(),
        };
        let claims = match self.verify_id_token(&source, id_token).await {
            Ok((claims, _)) => claims,
            Err((check, message)) => {
                return Err(self
                    .sso_refused(
                        ctx,
                        provider,
                        "",
                        check.as_str(),
                        ServiceError::Unauthorized(format!("SSO login refused: {message}")),
                    )
                    .await)
            }
        };
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == p.config.client_id,
            Some(Value::Array(l)) => l.iter().any(|a| a.as_str() == Some(&p.config.client_id)),
            _ => false,
        };
        let checks = [
            (
                "issuer",
                claims.get("iss").and_then(Value::as_str) == Some(endpoints.issuer.as_str()),
            ),
            ("audience", aud_ok),
            (
                "nonce",
                nonce.is_none_or(|n| claims.get("nonce").and_then(Value::as_str) == Some(n)),
            ),
        ];
        if let Some((check, _)) = checks.iter().find(|(_, ok)| !ok) {
            return Err(self
                .sso_refused(
                    ctx,
                    provider,
                    "",
                    check,
                    ServiceError::Unauthorized(format!(
                        "SSO login refused: the ID token's {check} does not match"
                    )),
                )
                .await);
        }
        let email = claims
            .get("email")
            .and_then(Value::as_str)
            // Only an email the provider says it verified: an unverified
            // one could be anyone's, and would log in as its owner here.
            .filter(|_| claims.get("email_verified").and_then(Value::as_bool) == Some(true))
            .and_then(|e| super::super::identity::normalise_email(e).ok());
        let Some(email) = email else {
            return Err(self
                .sso_refused(
                    ctx,
                    provider,
                    "",
                    "email",
                    ServiceError::Unauthorized(
                        "SSO login refused: the provider gave no verified email address".into(),
                    ),
                )
                .await);
        };
        let missing = p
            .config
            .required_claims
            .iter()
            .find(|(name, want)| !claim_holds(claims.get(name.as_str()), want));
        if let Some((name, _)) = missing {
            return Err(self
                .sso_refused(
                    ctx,
                    provider,
                    &email,
                    "claim",
                    ServiceError::Forbidden(format!(
                        "SSO login refused: the provider's ID token lacks the required claim {name}"
                    )),
                )
                .await);
        }
        self.sso_account(ctx, p, provider, email).await
    }

    /// The account of a verified `email`: its domain allowed, then found
    /// (enabled) or created just in time, else refused (invite-only).
    pub(super) async fn sso_account(
        &self,
        ctx: &Ctx,
        p: &Provider,
        provider: &str,
        email: String,
    ) -> ServiceResult<UserRow> {
        let domain = email.rsplit('@').next().unwrap_or_default().to_owned();
        let domains = &p.config.allowed_email_domains;
        if !domains.is_empty() && !domains.iter().any(|d| d.eq_ignore_ascii_case(&domain)) {
            return Err(self
                .sso_refused(
                    ctx,
                    provider,
                    &email,
                    "email-domain",
                    ServiceError::Forbidden(format!(
                        "SSO login refused: {domain} is not an allowed email domain on this server"
                    )),
                )
                .await);
        }
        let user = match self.store.user_by_email(&email).await? {
            Some(u) if u.disabled_at.is_some() => {
                return Err(self
                    .sso_refused(ctx, provider, &email, "disabled", ServiceError::Unauthorized(super::super::identity::ACCOUNT_DISABLED.into()))
                    .await)
            }
            Some(u) => u,
            None if p.config.jit => self.jit_user(ctx, p, &email).await?,
            None => {
                return Err(self
                    .sso_refused(ctx, provider, &email, "invite-only", ServiceError::Forbidden("SSO login refused: this server is invite-only; ask a server admin to create your account (hush users create)".into()))
                    .await)
            }
        };
        Ok(user)
    }

    async fn exchange_code(
        &self,
        p: &Provider,
        endpoints: &Endpoints,
        code: &str,
        flow: &FlowState,
    ) -> ServiceResult<(String, Option<String>)> {
        let unavailable = |e: String| {
            ServiceError::Unavailable(format!("the SSO provider's token endpoint: {e}"))
        };
        let client = fetch::client(&endpoints.token, p.ca.as_deref()).map_err(unavailable)?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", flow.callback.as_str()),
            ("client_id", p.config.client_id.as_str()),
            ("client_secret", p.client_secret.as_str()),
            ("code_verifier", flow.verifier.as_str()),
        ];
        let answer = fetch::send(client.post(&endpoints.token).form(&form))
            .await
            .map_err(unavailable)?;
        if answer.status != 200 {
            return Err(ServiceError::Unauthorized(format!(
                "SSO login refused: the provider did not accept the code (HTTP {})",
                answer.status
            )));
        }
        let body: Value = serde_json::from_slice(&answer.body)
            .map_err(|_| unavailable("the answer is not JSON".into()))?;
        let id_token = body["id_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                unavailable("the answer has no id_token (is the openid scope set?)".into())
            })?;
        let refresh = body["refresh_token"]
            .as_str()
            .filter(|t| !t.is_empty() && t.len() <= 4096)
            .map(str::to_owned);
        Ok((id_token, refresh))
    }

    /// A user created at their first SSO login, with the provider's
    /// default role in its default project: one store write, so a crash
    /// cannot leave a user who signs in but belongs nowhere. The user has
    /// no password (and no invite); a password reset can give one.
    async fn jit_user(&self, ctx: &Ctx, p: &Provider, email: &str) -> ServiceResult<UserRow> {
        let missing_project = || {
            ServiceError::Internal(format!(
                "sso provider {:?}: default_project {:?} does not exist",
                p.config.name, p.config.default_project
            ))
        };
        let project = self
            .store
            .project(&p.config.default_project)
            .await?
            .ok_or_else(missing_project)?;
        let user = UserRow {
            id: new_id(),
            email: email.to_owned(),
            password_hash: String::new(),
            is_admin: false,
            created_at: self.now_ms(),
            disabled_at: None,
        };
        let mut created = ctx.event("create-user");
        created.actor_name = email.to_owned();
        created.keys = vec![email.to_owned(), format!("sso:{}", p.config.name)];
        let mut added = ctx.event("add-member");
        added.actor_name = email.to_owned();
        added.project_id = Some(project.id.clone());
        added.keys = vec![email.to_owned(), p.config.default_role.clone()];
        let membership = MembershipRow {
            project_id: project.id,
            subject_id: user.id.clone(),
            role: p.config.default_role.clone(),
            overrides: "[]".into(),
        };
        match self
            .store
            .create_user_with_membership(user.clone(), membership, created, added)
            .await
        {
            Ok(()) => Ok(user),
            // Deleted between the lookup and the write.
            Err(crate::store::StoreError::NotFound("project")) => Err(missing_project()),
            // A concurrent first sign-in of the same person (another tab,
            // another replica) created the account, with its membership,
            // in between: this sign-in uses it rather than failing.
            Err(crate::store::StoreError::Duplicate(_)) => self
                .store
                .user_by_email(email)
                .await?
                .filter(|u| u.disabled_at.is_none())
                .ok_or_else(|| {
                    ServiceError::Unauthorized(super::super::identity::ACCOUNT_DISABLED.into())
                }),
            Err(e) => Err(e.into()),
        }
    }

    /// Audits a refused SSO login (aggregated like other repeatable
    /// refusals) and returns `error`.
    pub(super) async fn sso_refused(
        &self,
        ctx: &Ctx,
        provider: &str,
        email: &str,
        check: &str,
        error: ServiceError,
    ) -> ServiceError {
        let mut event = ctx.event("login");
        event.actor_type = "user".into();
        event.actor_name = email.to_owned();
        event.result = "denied".into();
        event.keys = vec![format!("sso:{provider}"), format!("check={check}")];
        let key = format!(
            "sso|{provider}|{check}|{}",
            crate::service::lockout::client_bucket(ctx)
        );
        match self.audit_refusal(key, event).await {
            Ok(()) => error,
            Err(e) => e,
        }
    }
}

/// Whether an ID token's claim satisfies a required `name = want`: a string
/// (or boolean, number) equal to `want`, or a list containing it.
fn claim_holds(claim: Option<&Value>, want: &str) -> bool {
    match claim {
        Some(Value::String(s)) => s == want,
        Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(want)),
        Some(v @ (Value::Bool(_) | Value::Number(_))) => {
            serde_json::from_str::<Value>(want).is_ok_and(|w| &w == v)
        }
        _ => false,
    }
}
