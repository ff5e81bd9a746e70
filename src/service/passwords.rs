//! Passwords after the first one: a user changes their own (`hush passwd`,
//! the old password required), or a server admin issues a one-time reset
//! token (like an invite) that sets a new one and revokes every session.
//!
//! argon2 runs on the blocking pool, at most one hash per core at a time, so
//! a burst of logins or password changes never stalls the async workers.

use super::identity::{check_password_policy, hash_password, verify_password};
use super::lockout::LoginKind;
use super::{tokens, ActorKind, Ctx, Service, ServiceError, ServiceResult};
use crate::store::{StoreError, UserRow, PASSWORD_RESET};
use std::sync::OnceLock;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// How long a password reset token stays valid.
pub const RESET_TTL_MS: i64 = 24 * 3600 * 1000;
pub const RESET_PREFIX: &str = "hush_rs_";

pub struct PasswordReset {
    pub user: UserRow,
    pub token: Zeroizing<String>,
    pub expires_at: i64,
}

/// Runs `work` (an argon2 hash or verification) on the blocking pool, behind
/// a limit of one per core.
async fn argon2_work<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> ServiceResult<T> {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    });
    let _permit = slots
        .acquire()
        .await
        .map_err(|e| ServiceError::Internal(format!("argon2 limit: {e}")))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ServiceError::Internal(format!("argon2 task failed: {e}")))
}

/// `hash_password` off the async workers.
pub(super) async fn hash_password_off_thread(password: &str) -> ServiceResult<String> {
    let password = Zeroizing::new(password.to_owned());
    argon2_work(move || hash_password(&password)).await?
}

/// `verify_password` off the async workers.
pub(super) async fn verify_password_off_thread(
    password: &str,
    phc: Option<String>,
) -> ServiceResult<bool> {
    let password = Zeroizing::new(password.to_owned());
    argon2_work(move || verify_password(&password, phc.as_deref())).await
}

impl Service {
    /// Audits an unknown, used or expired one-time token (aggregated per
    /// address: anyone can send these) and returns `err`.
    pub(super) async fn token_refused(
        &self,
        ctx: &Ctx,
        action: &str,
        err: ServiceError,
    ) -> ServiceError {
        let mut event = ctx.event(action);
        event.result = "failure".into();
        let key = format!("{action}|address:{}", super::lockout::client_bucket(ctx));
        match self.audit_refusal(key, event).await {
            Ok(()) => err,
            Err(e) => e,
        }
    }

    /// Changes the caller's own password; their other sessions are revoked,
    /// the one making the change is kept.
    pub async fn change_password(&self, ctx: &Ctx, old: &str, new: &str) -> ServiceResult<()> {
        const EVENT: &str = "change-password";
        if ctx.actor.kind != ActorKind::User || ctx.actor.token_scope.is_some() {
            let err = ServiceError::Forbidden(
                "only a user logged in with a password can change it; log in with 'hush login --email'"
                    .into(),
            );
            return Err(self.refused(ctx, EVENT, vec![], "denied", err).await);
        }
        if let Err(err) = check_password_policy(new) {
            return Err(self.refused(ctx, EVENT, vec![], "failure", err).await);
        }
        if old == new {
            let err = ServiceError::Validation(
                "the new password is the same as the current one; choose another".into(),
            );
            return Err(self.refused(ctx, EVENT, vec![], "failure", err).await);
        }
        let account = ctx.actor.name.clone();
        let attempt = self
            .begin_attempt(ctx, &account, LoginKind::User, EVENT)
            .await?;
        let user =
            self.store.user_by_id(&ctx.actor.id).await?.ok_or_else(|| {
                ServiceError::Unauthorized("your account no longer exists".into())
            })?;
        if !verify_password_off_thread(old, Some(user.password_hash.clone())).await? {
            self.attempt_failed(ctx, attempt, &account, EVENT).await?;
            return Err(ServiceError::BadRequest(
                "the current password is wrong; type it again (5 failures lock the account for 15 minutes)"
                    .into(),
            ));
        }
        self.attempt_succeeded(attempt).await?;
        let hash = hash_password_off_thread(new).await?;
        let mut event = ctx.event(EVENT);
        event.keys = vec![user.email.clone()];
        self.store
            .set_password(
                &user.id,
                hash,
                Some(ctx.actor.token_id.clone()),
                self.now_ms(),
                event,
            )
            .await?;
        Ok(())
    }

    /// A one-time token that sets `who`'s password (server admins). An
    /// earlier unused reset of the same user stops working.
    pub async fn issue_password_reset(&self, ctx: &Ctx, who: &str) -> ServiceResult<PasswordReset> {
        const EVENT: &str = "issue-password-reset";
        let user = self.user_for_admin(ctx, who, EVENT).await?;
        let token =
            tokens::generate(RESET_PREFIX).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let now = self.now_ms();
        let expires_at = now + RESET_TTL_MS;
        let mut event = ctx.event(EVENT);
        event.keys = vec![user.email.clone()];
        self.store
            .create_password_reset(&user.id, tokens::hash(&token), expires_at, now, event)
            .await?;
        Ok(PasswordReset {
            user,
            token,
            expires_at,
        })
    }

    /// Sets a new password with a reset token (unauthenticated: the token is
    /// the credential). It works once, before it expires, and revokes every
    /// session of the user.
    pub async fn redeem_password_reset(
        &self,
        ctx: &Ctx,
        token: &str,
        password: &str,
    ) -> ServiceResult<UserRow> {
        const EVENT: &str = "reset-password";
        let unknown = || {
            ServiceError::Unauthorized(
                "the reset token is unknown, used or expired; ask a server admin for a new one (hush users reset-password)"
                    .into(),
            )
        };
        // Looked up before hashing: an unknown token costs no argon2.
        let token_hash = tokens::hash(token);
        if !self
            .store
            .password_token_pending(PASSWORD_RESET, token_hash.clone(), self.now_ms())
            .await?
        {
            return Err(self.token_refused(ctx, EVENT, unknown()).await);
        }
        // After the token check: only a token holder gets a per-request event.
        if let Err(err) = check_password_policy(password) {
            return Err(self.refused(ctx, EVENT, vec![], "failure", err).await);
        }
        let hash = hash_password_off_thread(password).await?;
        let event = ctx.event(EVENT);
        let result = self
            .store
            .redeem_password_token(PASSWORD_RESET, token_hash, hash, self.now_ms(), event)
            .await;
        match result {
            Ok(user) => Ok(user),
            Err(StoreError::NotFound(_)) => Err(self.token_refused(ctx, EVENT, unknown()).await),
            Err(other) => Err(other.into()),
        }
    }
}
