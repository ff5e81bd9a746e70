//! Machine identities and universal auth: a client id and secret exchanged for a
//! short-lived access token, with TTL, max TTL, a number-of-uses limit and
//! trusted address ranges.

use super::identity::{check_trusted_ip, issue_token, IssuedToken};
use super::lockout::LoginKind;
use super::{new_id, now_ms, tokens, Ctx, Service, ServiceError, ServiceResult};
use crate::net;
use crate::store::{IdentityRow, IdentitySecretRow};
use zeroize::Zeroizing;

pub const CLIENT_SECRET_PREFIX: &str = "hush_cs_";

pub struct IdentitySettings {
    pub access_token_ttl: i64,
    pub access_token_max_ttl: i64,
    pub num_uses_limit: i64,
    pub trusted_ips: Vec<String>,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            access_token_ttl: 3600,
            access_token_max_ttl: 30 * 24 * 3600,
            num_uses_limit: 0,
            trusted_ips: Vec::new(),
        }
    }
}

fn new_client_secret(identity_id: &str) -> ServiceResult<(IdentitySecretRow, Zeroizing<String>)> {
    let secret = tokens::generate(CLIENT_SECRET_PREFIX)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let row = IdentitySecretRow {
        id: new_id(),
        identity_id: identity_id.to_owned(),
        secret_hash: tokens::hash(&secret),
        prefix: secret
            .chars()
            .take(CLIENT_SECRET_PREFIX.len() + 4)
            .collect(),
        created_at: now_ms(),
        revoked_at: None,
    };
    Ok((row, secret))
}

impl Service {
    pub async fn create_identity(
        &self,
        ctx: &Ctx,
        name: &str,
        settings: IdentitySettings,
    ) -> ServiceResult<(IdentityRow, Zeroizing<String>)> {
        self.require_server_admin(ctx, "create-identity", name)
            .await?;
        let name = name.trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(ServiceError::Validation(format!(
                "invalid identity name {name:?}: use letters, digits, '-', '_', '.'"
            )));
        }
        for r in &settings.trusted_ips {
            net::parse_range(r).ok_or_else(|| {
                ServiceError::Validation(format!(
                    "invalid trusted IP range {r:?}: use e.g. 10.0.0.0/8"
                ))
            })?;
        }
        if settings.access_token_ttl <= 0
            || settings.access_token_max_ttl < settings.access_token_ttl
        {
            return Err(ServiceError::Validation(
                "access token TTL must be positive and not above the max TTL".into(),
            ));
        }
        let identity = IdentityRow {
            id: new_id(),
            name: name.to_owned(),
            access_token_ttl: settings.access_token_ttl,
            access_token_max_ttl: settings.access_token_max_ttl,
            num_uses_limit: settings.num_uses_limit.max(0),
            trusted_ips: serde_json::to_string(&settings.trusted_ips)
                .unwrap_or_else(|_| "[]".into()),
            created_by: ctx.actor.id.clone(),
            created_at: self.now_ms(),
        };
        let (secret_row, secret) = new_client_secret(&identity.id)?;
        let mut event = ctx.event("create-identity");
        event.keys = vec![identity.name.clone()];
        self.store
            .create_identity(identity.clone(), secret_row, event)
            .await?;
        Ok((identity, secret))
    }

    pub async fn identities(&self, ctx: &Ctx) -> ServiceResult<Vec<IdentityRow>> {
        self.require_server_admin(ctx, "list-identities", "")
            .await?;
        Ok(self.store.identities().await?)
    }

    async fn identity_for_admin(&self, ctx: &Ctx, id_or_name: &str) -> ServiceResult<IdentityRow> {
        self.require_server_admin(ctx, "manage-machine-identities", id_or_name)
            .await?;
        self.store
            .identity(id_or_name)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("identity {id_or_name:?} not found")))
    }

    /// A new client secret (rotation: create the new one, deploy it, revoke the old).
    pub async fn add_client_secret(
        &self,
        ctx: &Ctx,
        identity: &str,
    ) -> ServiceResult<(IdentitySecretRow, Zeroizing<String>)> {
        let identity = self.identity_for_admin(ctx, identity).await?;
        let (row, secret) = new_client_secret(&identity.id)?;
        let mut event = ctx.event("create-identity-client-secret");
        event.keys = vec![identity.name.clone(), row.prefix.clone()];
        self.store.add_identity_secret(row.clone(), event).await?;
        Ok((row, secret))
    }

    pub async fn client_secrets(
        &self,
        ctx: &Ctx,
        identity: &str,
    ) -> ServiceResult<(IdentityRow, Vec<IdentitySecretRow>)> {
        let identity = self.identity_for_admin(ctx, identity).await?;
        let secrets = self.store.identity_secrets(&identity.id).await?;
        Ok((identity, secrets))
    }

    pub async fn revoke_client_secret(
        &self,
        ctx: &Ctx,
        identity: &str,
        secret_id: &str,
    ) -> ServiceResult<()> {
        let identity = self.identity_for_admin(ctx, identity).await?;
        let mut event = ctx.event("revoke-identity-client-secret");
        event.keys = vec![identity.name.clone(), secret_id.to_owned()];
        self.store
            .revoke_identity_secret(&identity.id, secret_id, self.now_ms(), event)
            .await?;
        Ok(())
    }

    /// `POST /api/v1/auth/universal-auth/login`.
    pub async fn universal_auth_login(
        &self,
        ctx: &Ctx,
        client_id: &str,
        client_secret: &str,
    ) -> ServiceResult<IssuedToken> {
        const EVENT: &str = "login-identity-universal-auth";
        let account = format!("identity:{client_id}");
        let attempt = self
            .begin_attempt(ctx, &account, LoginKind::Identity, EVENT)
            .await?;
        let identity = self
            .store
            .identity(client_id)
            .await?
            .filter(|i| i.id == client_id);
        let secret = self
            .store
            .identity_secret_by_hash(&tokens::hash(client_secret))
            .await?;
        let valid = match (&identity, &secret) {
            (Some(i), Some(s)) => s.identity_id == i.id && s.revoked_at.is_none(),
            _ => false,
        };
        let Some(identity) = identity.filter(|_| valid) else {
            self.attempt_failed(ctx, attempt, &account, EVENT).await?;
            return Err(ServiceError::Unauthorized(
                "invalid client id or client secret".into(),
            ));
        };
        self.attempt_succeeded(attempt).await?;
        if let Err(e) = check_trusted_ip(&identity, ctx.client_ip.as_deref()) {
            let mut event = ctx.event(EVENT);
            event.actor_type = "identity".into();
            event.actor_id = identity.id.clone();
            event.actor_name = identity.name.clone();
            event.result = "denied".into();
            self.store.append_audit(event).await?;
            return Err(e);
        }
        let (mut row, issued) = issue_token(
            self.now_ms(),
            "identity",
            &identity.id,
            &identity.name,
            identity.access_token_ttl,
            identity.access_token_max_ttl,
        )?;
        row.uses_limit = (identity.num_uses_limit > 0).then_some(identity.num_uses_limit);
        row.client_secret_id = secret.map(|s| s.id);
        let mut event = ctx.event(EVENT);
        event.actor_type = "identity".into();
        event.actor_id = identity.id.clone();
        event.actor_name = identity.name.clone();
        self.store.insert_token(row, event).await?;
        Ok(issued)
    }
}
