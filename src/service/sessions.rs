//! Listing and revoking live credentials: a user's sessions (their own; a
//! server admin's for anyone), a machine identity's access tokens (server
//! admins), and any token by its text (Infisical's
//! `POST /api/v1/auth/token/revoke`: holding the token is the right to end
//! it). Listings carry ids and times, never a token's text or hash.

use super::{tokens, ActorKind, Ctx, Service, ServiceError, ServiceResult};
use crate::store::{IdentityRow, TokenRow, UserRow};

/// Tokens not revoked and not expired at `now`.
fn live(rows: Vec<TokenRow>, kind: &str, now: i64) -> Vec<TokenRow> {
    rows.into_iter()
        .filter(|t| t.kind == kind && t.revoked_at.is_none())
        .filter(|t| t.expires_at.is_none_or(|e| e > now))
        .collect()
}

impl Service {
    /// The user whose sessions the caller asks about: themselves, or (server
    /// admins) `who`.
    async fn session_owner(
        &self,
        ctx: &Ctx,
        who: Option<&str>,
        action: &str,
    ) -> ServiceResult<UserRow> {
        if ctx.actor.kind != ActorKind::User || ctx.actor.token_scope.is_some() {
            let err = ServiceError::Forbidden(
                "sessions belong to users; log in with 'hush login --email' to manage yours".into(),
            );
            return Err(self.refused(ctx, action, vec![], "denied", err).await);
        }
        let me =
            who.is_none_or(|w| w == ctx.actor.id || w.trim().eq_ignore_ascii_case(&ctx.actor.name));
        if me {
            return self
                .store
                .user_by_id(&ctx.actor.id)
                .await?
                .ok_or_else(|| ServiceError::Unauthorized("your account no longer exists".into()));
        }
        self.user_for_admin(ctx, who.unwrap_or_default(), action)
            .await
    }

    /// A user's live sessions, oldest first.
    pub async fn sessions(
        &self,
        ctx: &Ctx,
        who: Option<&str>,
    ) -> ServiceResult<(UserRow, Vec<TokenRow>)> {
        let user = self.session_owner(ctx, who, "list-sessions").await?;
        let rows = self.store.subject_tokens(&user.id).await?;
        Ok((user, live(rows, "session", self.now_ms())))
    }

    /// Revokes one session of the caller's (or, for a server admin, of `who`).
    pub async fn revoke_session(
        &self,
        ctx: &Ctx,
        who: Option<&str>,
        session_id: &str,
    ) -> ServiceResult<()> {
        const ACTION: &str = "revoke-session";
        let user = self.session_owner(ctx, who, ACTION).await?;
        let token =
            self.store.token_by_id(session_id).await?.filter(|t| {
                t.kind == "session" && t.subject_id == user.id && t.revoked_at.is_none()
            });
        if token.is_none() {
            let err = ServiceError::NotFound(format!(
                "no live session {session_id:?} of {}; see 'hush sessions list'",
                user.email
            ));
            let keys = vec![user.email, session_id.to_owned()];
            return Err(self.refused(ctx, ACTION, keys, "failure", err).await);
        }
        let mut event = ctx.event(ACTION);
        event.keys = vec![user.email, session_id.to_owned()];
        self.store
            .revoke_token(session_id, self.now_ms(), event)
            .await?;
        Ok(())
    }

    /// An identity's live access tokens (server admins).
    pub async fn identity_tokens(
        &self,
        ctx: &Ctx,
        who: &str,
    ) -> ServiceResult<(IdentityRow, Vec<TokenRow>)> {
        let identity = self
            .identity_for_offboarding(ctx, who, "list-identity-tokens")
            .await?;
        let rows = self.store.subject_tokens(&identity.id).await?;
        Ok((identity, live(rows, "identity", self.now_ms())))
    }

    /// Revokes one access token of an identity (server admins).
    pub async fn revoke_identity_token(
        &self,
        ctx: &Ctx,
        who: &str,
        token_id: &str,
    ) -> ServiceResult<()> {
        const ACTION: &str = "revoke-identity-token";
        let identity = self.identity_for_offboarding(ctx, who, ACTION).await?;
        let keys = vec![identity.name.clone(), token_id.to_owned()];
        let found = self.store.token_by_id(token_id).await?.is_some_and(|t| {
            t.kind == "identity" && t.subject_id == identity.id && t.revoked_at.is_none()
        });
        if !found {
            let err = ServiceError::NotFound(format!(
                "no live access token {token_id:?} of identity {}; see 'hush identities tokens {}'",
                identity.name, identity.name
            ));
            return Err(self.refused(ctx, ACTION, keys, "failure", err).await);
        }
        let mut event = ctx.event(ACTION);
        event.keys = keys;
        self.store
            .revoke_token(token_id, self.now_ms(), event)
            .await?;
        Ok(())
    }

    /// Revokes the token `token` (by its text). Audited as its own subject.
    pub async fn revoke_token_by_text(&self, ctx: &Ctx, token: &str) -> ServiceResult<()> {
        let unknown = || ServiceError::Unauthorized("invalid token: unknown or revoked".into());
        if !tokens::well_formed(token) {
            return Err(unknown());
        }
        let row = self
            .store
            .token_by_hash(&tokens::hash(token))
            .await?
            .filter(|r| r.revoked_at.is_none())
            .ok_or_else(unknown)?;
        let kind = match row.kind.as_str() {
            "session" => ActorKind::User,
            "identity" => ActorKind::Identity,
            _ => ActorKind::Service,
        };
        let subject = Ctx {
            user_agent: ctx.user_agent.clone(),
            ..super::identity::subject_ctx(&row, kind, ctx.client_ip.as_deref())
        };
        let mut event = subject.event("revoke-access-token");
        event.keys = vec![row.name.clone(), row.id.clone()];
        self.store
            .revoke_token(&row.id, self.now_ms(), event)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::NotFound(_) => unknown(),
                other => other.into(),
            })
    }
}
