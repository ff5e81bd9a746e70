//! Configuring an identity's workload auth methods (server admins, like the
//! rest of identity management).

use super::config::{Config, Method};
use super::jwt::MAX_TOKEN_BYTES;
use super::sealed;
use crate::service::{Ctx, Service, ServiceError, ServiceResult};
use crate::store::{IdentityAuthRow, IdentityRow};
use serde_json::Value;

/// A method as answered: its settings (never the reviewer token: only
/// whether one is set).
pub struct MethodView {
    pub identity: IdentityRow,
    pub method: Method,
    pub config: Value,
    pub reviewer_token_set: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

const REVIEWER_FIELD: &str = "tokenReviewerJwt";

fn view(identity: IdentityRow, method: Method, row: &IdentityAuthRow) -> MethodView {
    MethodView {
        identity,
        method,
        config: serde_json::from_str(&row.config).unwrap_or(Value::Null),
        reviewer_token_set: row.secret_ct.is_some(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

impl Service {
    /// Sets `method` on `identity` from `body` (Infisical's attach shape).
    /// `patch`: the method must exist, and fields not in `body` keep their
    /// stored values (the reviewer token too, unless given; "" removes it).
    pub async fn set_identity_auth(
        &self,
        ctx: &Ctx,
        identity: &str,
        method: Method,
        mut body: Value,
        patch: bool,
    ) -> ServiceResult<MethodView> {
        let identity = self.identity_for_admin(ctx, identity).await?;
        let store = self.store.identity_auth_methods();
        let existing = store.identity_auth(&identity.id, method.as_str()).await?;
        if patch && existing.is_none() {
            return Err(ServiceError::NotFound(format!(
                "identity {:?} has no {} configured: POST it first",
                identity.name,
                method.route()
            )));
        }
        let Some(fields) = body.as_object_mut() else {
            return Err(ServiceError::Validation(
                "the body must be a JSON object".into(),
            ));
        };
        // Infisical's path parameter may be repeated in the body.
        fields.remove("identityId");
        let reviewer = match fields.remove(REVIEWER_FIELD) {
            Some(Value::String(s)) => Some(s),
            Some(Value::Null) | None => None,
            Some(_) => {
                return Err(ServiceError::Validation(format!(
                    "{REVIEWER_FIELD} must be a string"
                )))
            }
        };
        if reviewer.is_some() && method != Method::Kubernetes {
            return Err(ServiceError::Validation(format!(
                "{REVIEWER_FIELD} belongs to kubernetes-auth only"
            )));
        }
        if reviewer.as_ref().is_some_and(|r| r.len() > MAX_TOKEN_BYTES) {
            return Err(ServiceError::Validation(format!(
                "{REVIEWER_FIELD} is longer than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let merged = match (&existing, patch) {
            (Some(row), true) => {
                let mut stored: Value = serde_json::from_str(&row.config)
                    .map_err(|e| ServiceError::Internal(format!("stored auth config: {e}")))?;
                if let Some(obj) = stored.as_object_mut() {
                    for (k, v) in fields.iter() {
                        obj.insert(k.clone(), v.clone());
                    }
                }
                stored
            }
            _ => body.clone(),
        };
        let config = Config::parse(method, merged).map_err(ServiceError::Validation)?;
        let (key_wrapped, secret_ct) = match reviewer.as_deref() {
            Some("") => (None, None),
            Some(token) => {
                let (w, s) = sealed::seal(self.keys.root(), &identity.id, method.as_str(), token)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?;
                (Some(w), Some(s))
            }
            None if patch => existing
                .as_ref()
                .map(|r| (r.key_wrapped.clone(), r.secret_ct.clone()))
                .unwrap_or_default(),
            None => (None, None),
        };
        let now = self.now_ms();
        let row = IdentityAuthRow {
            identity_id: identity.id.clone(),
            method: method.as_str().to_owned(),
            config: config.to_json().to_string(),
            key_wrapped,
            secret_ct,
            created_at: existing.as_ref().map_or(now, |r| r.created_at),
            updated_at: now,
        };
        let mut event = ctx.event("set-identity-auth");
        event.keys = vec![identity.name.clone(), method.route().to_owned()];
        store.put_identity_auth(row.clone(), event).await?;
        Ok(view(identity, method, &row))
    }

    pub async fn identity_auth(
        &self,
        ctx: &Ctx,
        identity: &str,
        method: Method,
    ) -> ServiceResult<MethodView> {
        let identity = self.identity_for_admin(ctx, identity).await?;
        let row = self
            .store
            .identity_auth_methods()
            .identity_auth(&identity.id, method.as_str())
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "identity {:?} has no {} configured",
                    identity.name,
                    method.route()
                ))
            })?;
        Ok(view(identity, method, &row))
    }

    /// Removes `method` from `identity`; tokens it issued keep their own
    /// expiry (revoke them with `hush identities revoke-token`).
    pub async fn remove_identity_auth(
        &self,
        ctx: &Ctx,
        identity: &str,
        method: Method,
    ) -> ServiceResult<MethodView> {
        let found = self.identity_auth(ctx, identity, method).await?;
        let mut event = ctx.event("remove-identity-auth");
        event.keys = vec![found.identity.name.clone(), method.route().to_owned()];
        self.store
            .identity_auth_methods()
            .delete_identity_auth(&found.identity.id, method.as_str(), event)
            .await?;
        Ok(found)
    }
}
