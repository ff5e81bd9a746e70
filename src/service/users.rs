//! Users created by admins, who set their password with a one-time invite.

use super::identity::{check_password_policy, normalise_email};
use super::{new_id, tokens, Ctx, Service, ServiceError, ServiceResult};
use crate::store::{UserRow, INVITE};
use zeroize::Zeroizing;

/// How long an invite stays valid.
const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

pub struct Invite {
    pub user: UserRow,
    pub token: Zeroizing<String>,
    pub expires_at: i64,
}

impl Service {
    /// Creates a user without a password and returns the one-time invite token.
    pub async fn create_user(
        &self,
        ctx: &Ctx,
        email: &str,
        server_admin: bool,
    ) -> ServiceResult<Invite> {
        self.require_server_admin(ctx, "create-user", email).await?;
        let email = normalise_email(email)?;
        let user = UserRow {
            id: new_id(),
            email: email.clone(),
            password_hash: String::new(),
            is_admin: server_admin,
            created_at: self.now_ms(),
            disabled_at: None,
        };
        let token =
            tokens::generate("hush_iv_").map_err(|e| ServiceError::Internal(e.to_string()))?;
        let expires_at = self.now_ms() + INVITE_TTL_MS;
        let mut event = ctx.event("create-user");
        event.keys = vec![email];
        self.store
            .create_user(user.clone(), tokens::hash(&token), expires_at, event)
            .await?;
        Ok(Invite {
            user,
            token,
            expires_at,
        })
    }

    pub async fn list_users(&self, ctx: &Ctx) -> ServiceResult<Vec<UserRow>> {
        self.require_server_admin(ctx, "list-users", "").await?;
        Ok(self.store.users().await?)
    }

    /// Sets the invited user's password; the invite works once.
    pub async fn accept_invite(
        &self,
        ctx: &Ctx,
        invite: &str,
        password: &str,
    ) -> ServiceResult<UserRow> {
        const EVENT: &str = "accept-invite";
        check_password_policy(password)?;
        let unknown = || {
            ServiceError::Unauthorized(
                "the invite is unknown, used or expired; ask an admin for a new one".into(),
            )
        };
        // Looked up before hashing: an unknown invite costs no argon2.
        let invite_hash = tokens::hash(invite);
        if !self
            .store
            .password_token_pending(INVITE, invite_hash.clone(), self.now_ms())
            .await?
        {
            return Err(self.token_refused(ctx, EVENT, unknown()).await);
        }
        let password_hash = super::passwords::hash_password_off_thread(password).await?;
        let result = self
            .store
            .accept_invite(invite_hash, password_hash, self.now_ms(), ctx.event(EVENT))
            .await;
        match result {
            Ok(user) => Ok(user),
            Err(crate::store::StoreError::NotFound(_)) => {
                Err(self.token_refused(ctx, EVENT, unknown()).await)
            }
            Err(other) => Err(other.into()),
        }
    }
}
