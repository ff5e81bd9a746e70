//! Offboarding: disable, enable and delete users, demote server admins,
//! delete machine identities. Server admins only; every change and every
//! refusal is audited (actor, action, the target's name; never a credential).
//!
//! A disabled or deleted user's sessions are revoked in the same transaction,
//! and `authenticate` refuses any session whose user is disabled or gone, so
//! every replica refuses them from its very next request (nothing about a
//! user is kept in memory across a write; see `store::memo`). No change may
//! leave the server without an enabled server admin.

use super::{Ctx, Service, ServiceError, ServiceResult};
use crate::store::{IdentityRow, UserChange, UserRow};

impl Service {
    /// A user by email or id, for a server admin's `action`.
    pub(super) async fn user_for_admin(
        &self,
        ctx: &Ctx,
        who: &str,
        action: &str,
    ) -> ServiceResult<UserRow> {
        self.require_server_admin(ctx, action, who).await?;
        let user = if who.contains('@') {
            self.store.user_by_email(&who.trim().to_lowercase()).await?
        } else {
            self.store.user_by_id(who).await?
        };
        match user {
            Some(u) => Ok(u),
            None => {
                let err = ServiceError::NotFound(format!(
                    "no user {who:?}; see 'hush users list' for the users there are"
                ));
                Err(self
                    .refused(ctx, action, vec![who.to_owned()], "failure", err)
                    .await)
            }
        }
    }

    /// Applies `change` to `who`, audited as `action`; returns the user as it
    /// is afterwards (as it was, for a deletion).
    pub async fn change_user(
        &self,
        ctx: &Ctx,
        who: &str,
        change: UserChange,
    ) -> ServiceResult<UserRow> {
        let action = match change {
            UserChange::Disable => "disable-user",
            UserChange::Enable => "enable-user",
            UserChange::Delete => "delete-user",
            UserChange::SetAdmin(_) => "set-server-admin",
        };
        let user = self.user_for_admin(ctx, who, action).await?;
        let mut keys = vec![user.email.clone()];
        if let UserChange::SetAdmin(on) = change {
            keys.push(if on { "on" } else { "off" }.to_owned());
        }
        let mut event = ctx.event(action);
        event.keys = keys.clone();
        let now = self.now_ms();
        match self.store.change_user(&user.id, change, now, event).await {
            Ok(mut after) => {
                match change {
                    UserChange::Disable => after.disabled_at = after.disabled_at.or(Some(now)),
                    UserChange::Enable => after.disabled_at = None,
                    UserChange::SetAdmin(on) => after.is_admin = on,
                    UserChange::Delete => {}
                }
                Ok(after)
            }
            Err(crate::store::StoreError::LastAdmin) => {
                let err = ServiceError::BadRequest(format!(
                    "refused: {} is the last enabled server admin, and the server must keep one; \
                     first make another user a server admin (hush users set-admin EMAIL)",
                    user.email
                ));
                Err(self.refused(ctx, action, keys, "failure", err).await)
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Deletes a machine identity: its access tokens stop working, its client
    /// secrets and memberships are removed.
    pub async fn delete_identity(&self, ctx: &Ctx, who: &str) -> ServiceResult<IdentityRow> {
        const ACTION: &str = "delete-identity";
        let identity = self.identity_for_offboarding(ctx, who, ACTION).await?;
        let mut event = ctx.event(ACTION);
        event.keys = vec![identity.name.clone()];
        self.store
            .delete_identity(&identity.id, self.now_ms(), event)
            .await?;
        Ok(identity)
    }

    /// An identity by name or id, for a server admin's `action`.
    pub(super) async fn identity_for_offboarding(
        &self,
        ctx: &Ctx,
        who: &str,
        action: &str,
    ) -> ServiceResult<IdentityRow> {
        self.require_server_admin(ctx, action, who).await?;
        match self.store.identity(who).await? {
            Some(i) => Ok(i),
            None => {
                let err = ServiceError::NotFound(format!(
                    "no identity {who:?}; see 'hush identities list' for the identities there are"
                ));
                Err(self
                    .refused(ctx, action, vec![who.to_owned()], "failure", err)
                    .await)
            }
        }
    }
}
