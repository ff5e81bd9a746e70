//! Bootstrap, password login with brute-force protection, token authentication,
//! renewal and logout.

use super::access::TokenScope;
use super::lockout::LoginKind;
use super::{iso, new_id, tokens, Actor, ActorKind, Ctx, Service, ServiceError, ServiceResult};
use crate::net;
use crate::store::{Bootstrap, IdentityRow, ProjectRow, TokenRow, UserRow};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::net::IpAddr;
use zeroize::Zeroizing;

pub const MIN_PASSWORD_LEN: usize = 12;
/// Why a disabled or deleted user's session or login is refused.
pub const ACCOUNT_DISABLED: &str =
    "this account is disabled or deleted: its sessions no longer work; ask a server admin (hush users enable)";

/// Why a password login is refused on a server without password logins.
pub const PASSWORD_LOGIN_DISABLED: &str =
    "password login is disabled on this server (--password-login=false): log in with single sign-on, or ask a server admin";

/// A token just issued; the text is shown once.
pub struct IssuedToken {
    pub token: Zeroizing<String>,
    pub token_id: String,
    pub expires_in: i64,
    pub max_ttl: i64,
    /// When it was issued or renewed (the service clock): `expires_in`
    /// counts from here.
    pub issued_at: i64,
}

pub struct BootstrapResult {
    pub user_id: String,
    pub email: String,
    pub project: ProjectRow,
    pub token: IssuedToken,
}

pub(super) fn hash_password(password: &str) -> ServiceResult<String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(e.to_string()))
}

/// Always runs one argon2 verification, even without a stored hash, so timing
/// does not tell an unknown account from a wrong password.
pub(super) fn verify_password(password: &str, phc: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy =
        DUMMY.get_or_init(|| hash_password("timing-equaliser-password").unwrap_or_default());
    let (hash, real) = match phc.filter(|h| !h.is_empty()) {
        Some(h) => (h, true),
        None => (dummy.as_str(), false),
    };
    let ok = PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false);
    ok && real
}

pub(super) fn check_password_policy(password: &str) -> ServiceResult<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ServiceError::Validation(format!(
            "password too short: use at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    Ok(())
}

pub(crate) fn normalise_email(email: &str) -> ServiceResult<String> {
    let email = email.trim().to_lowercase();
    let mut parts = email.split('@');
    let ok = matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && d.contains('.'))
        && !email.contains(char::is_whitespace)
        && email.len() <= 254;
    if ok {
        Ok(email)
    } else {
        Err(ServiceError::Validation(format!(
            "invalid email address {email:?}"
        )))
    }
}

/// A fresh token row and its text.
pub(super) fn issue_token(
    now: i64,
    kind: &str,
    subject_id: &str,
    name: &str,
    ttl_secs: i64,
    max_ttl_secs: i64,
) -> ServiceResult<(TokenRow, IssuedToken)> {
    let prefix = if kind == "service" {
        tokens::SERVICE_PREFIX
    } else {
        tokens::ACCESS_PREFIX
    };
    let token = tokens::generate(prefix).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let row = TokenRow {
        id: new_id(),
        token_hash: tokens::hash(&token),
        kind: kind.to_owned(),
        subject_id: subject_id.to_owned(),
        name: name.to_owned(),
        project_id: None,
        scope: "null".into(),
        expires_at: (ttl_secs > 0).then_some(now + ttl_secs * 1000),
        revoked_at: None,
        created_at: now,
        uses: 0,
        uses_limit: None,
        max_expires_at: (max_ttl_secs > 0).then_some(now + max_ttl_secs * 1000),
        client_secret_id: None,
    };
    let issued = IssuedToken {
        token,
        token_id: row.id.clone(),
        expires_in: ttl_secs,
        max_ttl: max_ttl_secs,
        issued_at: now,
    };
    Ok((row, issued))
}

impl Service {
    pub(super) fn session_token(&self, user: &UserRow) -> ServiceResult<(TokenRow, IssuedToken)> {
        let ttl = self.settings.session_ttl_secs;
        // A session can be renewed for up to 30 days, then the user logs in again.
        issue_token(
            self.now_ms(),
            "session",
            &user.id,
            &user.email,
            ttl,
            (30 * 24 * 3600).max(ttl),
        )
    }

    /// Creates the first admin and the `default` project; refused once any user exists.
    pub async fn bootstrap(
        &self,
        ctx: &Ctx,
        email: &str,
        password: &str,
    ) -> ServiceResult<BootstrapResult> {
        let email = normalise_email(email)?;
        check_password_policy(password)?;
        // Checked before hashing, so a bootstrapped server spends no argon2
        // on bootstrap requests; the store checks again in the transaction.
        if self.store.is_bootstrapped().await? {
            return Err(crate::store::StoreError::AlreadyBootstrapped.into());
        }
        let user = UserRow {
            id: new_id(),
            email: email.clone(),
            password_hash: super::passwords::hash_password_off_thread(password).await?,
            is_admin: true,
            created_at: self.now_ms(),
            disabled_at: None,
        };
        let owner_ctx = Ctx {
            actor: Actor {
                kind: ActorKind::User,
                id: user.id.clone(),
                name: email.clone(),
                token_id: String::new(),
                server_admin: true,
                token_scope: None,
            },
            ..ctx.clone()
        };
        let project = self.new_project(&owner_ctx, "default", &user.id).await?;
        let project_row = project.project.clone();
        let (token_row, issued) = self.session_token(&user)?;
        let user_id = user.id.clone();
        self.store
            .bootstrap(Bootstrap {
                user,
                project,
                token: token_row,
            })
            .await?;
        Ok(BootstrapResult {
            user_id,
            email,
            project: project_row,
            token: issued,
        })
    }

    /// Email + password login.
    pub async fn login_password(
        &self,
        ctx: &Ctx,
        email: &str,
        password: &str,
    ) -> ServiceResult<IssuedToken> {
        let email = email.trim().to_lowercase();
        let break_glass = self.settings.break_glass_admins.contains(&email);
        if !self.settings.password_login && !break_glass {
            // Refused before any lookup or hashing: the answer is the same
            // for every account.
            let mut event = ctx.event("login");
            event.actor_name = email.chars().take(254).collect();
            event.result = "denied".into();
            event.keys = vec!["password-login-disabled".into()];
            self.audit_refusal(
                format!(
                    "login|password-disabled|{}",
                    super::lockout::client_bucket(ctx)
                ),
                event,
            )
            .await?;
            return Err(ServiceError::Forbidden(PASSWORD_LOGIN_DISABLED.into()));
        }
        let attempt = self
            .begin_attempt(ctx, &email, LoginKind::User, "login")
            .await?;
        let user = self.store.user_by_email(&email).await?;
        let phc = user.as_ref().map(|u| u.password_hash.clone());
        let ok = super::passwords::verify_password_off_thread(password, phc).await?;
        if !ok {
            self.attempt_failed(ctx, attempt, &email, "login").await?;
            return Err(ServiceError::Unauthorized(
                "invalid email or password".into(),
            ));
        }
        self.attempt_succeeded(attempt).await?;
        match user {
            // A break-glass login is a server admin's, or none.
            Some(user) if !self.settings.password_login && !user.is_admin => {
                let mut event = ctx.event("login");
                event.actor_id = user.id.clone();
                event.actor_name = email;
                event.result = "denied".into();
                event.keys = vec!["password-login-disabled".into()];
                self.store.append_audit(event).await?;
                Err(ServiceError::Forbidden(PASSWORD_LOGIN_DISABLED.into()))
            }
            Some(user) if user.disabled_at.is_some() => {
                let mut event = ctx.event("login");
                event.actor_id = user.id.clone();
                event.actor_name = email;
                event.result = "denied".into();
                self.store.append_audit(event).await?;
                Err(ServiceError::Unauthorized(ACCOUNT_DISABLED.into()))
            }
            Some(user) => {
                let (row, issued) = self.session_token(&user)?;
                let mut event = ctx.event("login");
                event.actor_type = "user".into();
                event.actor_id = user.id.clone();
                event.actor_name = email;
                self.store.insert_token(row, event).await?;
                Ok(issued)
            }
            // `verify_password` is never true without a stored hash.
            None => Err(ServiceError::Internal(
                "a password matched for an unknown account".into(),
            )),
        }
    }

    /// The user a session belongs to, refused (and audited) when the account
    /// is disabled or deleted.
    async fn session_user(&self, row: &TokenRow, ctx: &Ctx) -> ServiceResult<UserRow> {
        match self.store.user_by_id(&row.subject_id).await? {
            Some(user) if user.disabled_at.is_none() => Ok(user),
            _ => {
                let mut event = ctx.event("authenticate");
                event.actor_id = row.subject_id.clone();
                event.actor_name = row.name.clone();
                event.result = "denied".into();
                // Whoever kept the token can repeat this at will: aggregated
                // per account like the other repeatable refusals.
                let key = format!("authenticate:{}", row.subject_id);
                self.audit_refusal(key, event).await?;
                Err(ServiceError::Unauthorized(ACCOUNT_DISABLED.into()))
            }
        }
    }

    /// Maps a bearer token to its actor: 401 for missing/unknown/revoked/used-up,
    /// 403 `TokenError` for expired.
    pub async fn authenticate(&self, token: &str, client_ip: Option<&str>) -> ServiceResult<Actor> {
        let unknown = || ServiceError::Unauthorized("invalid token: unknown or revoked".into());
        if !tokens::well_formed(token) {
            return Err(ServiceError::Unauthorized(
                "invalid token: it is not a hush token".into(),
            ));
        }
        let row = self
            .store
            .token_by_hash(&tokens::hash(token))
            .await?
            .ok_or_else(unknown)?;
        // A disabled or deleted user's session says so (their sessions are
        // also revoked), checked before anything else about the token.
        let session_user = match row.kind.as_str() {
            "session" => {
                let ctx = subject_ctx(&row, ActorKind::User, client_ip);
                Some(self.session_user(&row, &ctx).await?)
            }
            _ => None,
        };
        if row.revoked_at.is_some() {
            return Err(unknown());
        }
        if row.expires_at.is_some_and(|t| t <= self.now_ms()) {
            return Err(ServiceError::TokenExpired(
                "Your token has expired. Please re-authenticate.".into(),
            ));
        }
        if row.uses_limit.is_some() && !self.store.use_token(&row.id).await? {
            return Err(ServiceError::Unauthorized(
                "invalid token: its number of uses is exhausted".into(),
            ));
        }
        match row.kind.as_str() {
            "session" => {
                let user = session_user.ok_or_else(unknown)?;
                Ok(Actor {
                    kind: ActorKind::User,
                    id: user.id,
                    name: user.email,
                    token_id: row.id,
                    server_admin: user.is_admin,
                    token_scope: None,
                })
            }
            "identity" => {
                let identity = self
                    .store
                    .identity(&row.subject_id)
                    .await?
                    .ok_or_else(unknown)?;
                check_trusted_ip(&identity, client_ip)?;
                Ok(Actor {
                    kind: ActorKind::Identity,
                    id: identity.id,
                    name: identity.name,
                    token_id: row.id,
                    server_admin: false,
                    token_scope: None,
                })
            }
            "service" => {
                let scope: TokenScope = serde_json::from_str(&row.scope).map_err(|_| {
                    ServiceError::Internal(format!(
                        "service token {} has an unreadable scope",
                        row.id
                    ))
                })?;
                Ok(Actor {
                    kind: ActorKind::Service,
                    id: row.id.clone(),
                    name: row.name,
                    token_id: row.id,
                    server_admin: false,
                    token_scope: Some(scope),
                })
            }
            other => Err(ServiceError::Internal(format!(
                "token {} has unknown kind {other}",
                row.id
            ))),
        }
    }

    /// Extends a session or identity token within its max TTL (Infisical's
    /// `POST /api/v1/auth/token/renew`). Refused (401, audited) past the max
    /// TTL or the uses limit, when the subject is disabled or gone, and (for
    /// an identity) from outside its trusted addresses (403).
    pub async fn renew_token(&self, ctx: &Ctx, token: &str) -> ServiceResult<IssuedToken> {
        let row = self
            .store
            .token_by_hash(&tokens::hash(token))
            .await?
            .filter(|r| r.revoked_at.is_none() && r.kind != "service")
            .ok_or_else(|| {
                ServiceError::Unauthorized("invalid token: unknown or revoked".into())
            })?;
        let kind = if row.kind == "identity" {
            ActorKind::Identity
        } else {
            ActorKind::User
        };
        let subject = Ctx {
            client_ip: ctx.client_ip.clone(),
            user_agent: ctx.user_agent.clone(),
            ..subject_ctx(&row, kind, None)
        };
        let now = self.now_ms();
        let ttl = match self.renewal_check(&row, &subject, now).await {
            Ok(ttl) => ttl,
            Err(err) => {
                let mut event = subject.event("renew-token");
                event.result = "denied".into();
                self.store.append_audit(event).await?;
                return Err(err);
            }
        };
        let max = row.max_expires_at.unwrap_or(i64::MAX);
        let expires_at = (now + ttl * 1000).min(max);
        let event = subject.event("renew-token");
        self.store.renew_token(&row.id, expires_at, event).await?;
        Ok(IssuedToken {
            token: Zeroizing::new(token.to_owned()),
            token_id: row.id,
            expires_in: (expires_at - now) / 1000,
            max_ttl: row
                .max_expires_at
                .map(|m| (m - row.created_at) / 1000)
                .unwrap_or(0),
            issued_at: now,
        })
    }

    /// Everything a renewal re-checks; the TTL to extend by when it passes.
    async fn renewal_check(&self, row: &TokenRow, subject: &Ctx, now: i64) -> ServiceResult<i64> {
        if row.expires_at.is_some_and(|t| t <= now) {
            return Err(ServiceError::Unauthorized(
                "the token has expired and can no longer be renewed; log in again".into(),
            ));
        }
        if row.max_expires_at.is_some_and(|m| now >= m) {
            return Err(ServiceError::Unauthorized(
                "the token reached its maximum lifetime (max TTL); log in again".into(),
            ));
        }
        if row.uses_limit.is_some_and(|limit| row.uses >= limit) {
            return Err(ServiceError::Unauthorized(
                "the token's number of uses is exhausted; log in again".into(),
            ));
        }
        if row.kind == "identity" {
            let identity = self.store.identity(&row.subject_id).await?.ok_or_else(|| {
                ServiceError::Unauthorized(
                    "the token's machine identity was deleted; it can no longer be renewed".into(),
                )
            })?;
            check_trusted_ip(&identity, subject.client_ip.as_deref())?;
            return Ok(identity.access_token_ttl);
        }
        match self.store.user_by_id(&row.subject_id).await? {
            Some(user) if user.disabled_at.is_none() => {
                // An SSO session: the provider must still sign the person in.
                self.sso_renewal_check(&row.id).await?;
                Ok(self.settings.session_ttl_secs)
            }
            _ => Err(ServiceError::Unauthorized(ACCOUNT_DISABLED.into())),
        }
    }

    /// Revokes the caller's own token (logout).
    pub async fn revoke_own_token(&self, ctx: &Ctx) -> ServiceResult<()> {
        let event = ctx.event("logout");
        self.store
            .revoke_token(&ctx.actor.token_id, self.now_ms(), event)
            .await?;
        Ok(())
    }

    /// The caller's own token row (for `whoami`).
    pub async fn own_token(&self, ctx: &Ctx) -> ServiceResult<Option<TokenRow>> {
        Ok(self.store.token_by_id(&ctx.actor.token_id).await?)
    }
}

/// The context of a token's own subject (for events about it when no
/// authenticated caller is there).
pub(super) fn subject_ctx(row: &TokenRow, kind: ActorKind, client_ip: Option<&str>) -> Ctx {
    Ctx {
        actor: Actor {
            kind,
            id: row.subject_id.clone(),
            name: row.name.clone(),
            token_id: row.id.clone(),
            server_admin: false,
            token_scope: None,
        },
        client_ip: client_ip.map(str::to_owned),
        user_agent: None,
    }
}

pub fn expires_iso(issued: &IssuedToken) -> String {
    iso(issued.issued_at + issued.expires_in * 1000)
}

/// Refuses a request from outside the identity's trusted ranges (if any are set).
pub fn check_trusted_ip(identity: &IdentityRow, client_ip: Option<&str>) -> ServiceResult<()> {
    let ranges: Vec<String> = serde_json::from_str(&identity.trusted_ips).unwrap_or_default();
    if ranges.is_empty() {
        return Ok(());
    }
    let ip = client_ip.and_then(|i| i.parse::<IpAddr>().ok());
    let trusted = ip.is_some_and(|ip| {
        ranges
            .iter()
            .filter_map(|r| net::parse_range(r))
            .any(|r| net::in_range(ip, &r))
    });
    if trusted {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!(
            "requests for identity {:?} are not allowed from {}",
            identity.name,
            client_ip.unwrap_or("this address")
        )))
    }
}
