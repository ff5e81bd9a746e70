//! Session renewal asks the provider again (issue 23): a person disabled
//! at the provider loses hush at the next renewal, not only at expiry.
//! The sign-in's provider credential (an OIDC refresh token, a GitHub user
//! token) is kept sealed under the SSO key, bound to its sign-in; sessions
//! without one (the provider issued no refresh token) are not re-checked
//! there. After a root-key rotation the stored credentials no longer open:
//! renewal then asks the person to sign in again.

use super::flow::discover;
use crate::service::workload::fetch;
use crate::service::{Service, ServiceError, ServiceResult};
use serde_json::Value;

fn aad(id: &str) -> Vec<u8> {
    format!("hush-sso-grant\0{id}").into_bytes()
}

fn refused(why: &str) -> ServiceError {
    ServiceError::Unauthorized(format!(
        "single sign-on: {why}; log in again with hush login --sso"
    ))
}

impl Service {
    /// Stores a sign-in's provider credential, sealed.
    pub(super) async fn store_sso_grant(
        &self,
        id: &str,
        provider: &str,
        grant: &str,
    ) -> ServiceResult<()> {
        let sealed = self.seal_sso(&aad(id), &grant)?;
        self.store
            .identity_auth_methods()
            .put_sso_grant(id, provider, sealed.into_bytes(), self.now_ms())
            .await?;
        Ok(())
    }

    /// Ok when session `token_id` was no SSO sign-in with a credential, or
    /// its provider still signs the person in.
    pub(crate) async fn sso_renewal_check(&self, token_id: &str) -> ServiceResult<()> {
        let store = self.store.identity_auth_methods();
        let Some((id, provider, sealed)) = store.sso_grant(token_id).await? else {
            return Ok(());
        };
        let Some(p) = self.sso.provider(&provider) else {
            return Err(refused(
                "the provider is no longer configured on this server",
            ));
        };
        let grant = std::str::from_utf8(&sealed)
            .ok()
            .and_then(|t| self.open_sso::<String>(&aad(&id), t))
            .ok_or_else(|| refused("the stored provider credential no longer opens"))?;
        if p.config.kind == "github" {
            return match super::github::still_allowed(p, &grant).await? {
                true => Ok(()),
                false => Err(refused("GitHub no longer vouches for this account")),
            };
        }
        let endpoints = discover(p).await?;
        let unavailable = |e: String| {
            ServiceError::Unavailable(format!("the SSO provider's token endpoint: {e}"))
        };
        let client = fetch::client(&endpoints.token, p.ca.as_deref()).map_err(unavailable)?;
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", grant.as_str()),
            ("client_id", p.config.client_id.as_str()),
            ("client_secret", p.client_secret.as_str()),
        ];
        let answer = fetch::send(client.post(&endpoints.token).form(&form))
            .await
            .map_err(unavailable)?;
        match answer.status {
            200 => {}
            400 | 401 | 403 => return Err(refused("the provider no longer signs this account in")),
            other => return Err(unavailable(format!("HTTP {other}"))),
        }
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        // A provider that rotates refresh tokens: keep the new one.
        if let Some(next) = body["refresh_token"]
            .as_str()
            .filter(|t| !t.is_empty() && t.len() <= 4096 && *t != grant)
        {
            let sealed = self.seal_sso(&aad(&id), &next)?;
            store.set_sso_grant(&id, sealed.into_bytes()).await?;
        }
        Ok(())
    }
}
