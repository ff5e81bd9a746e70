//! Leases of dynamic secrets (issue 24): each makes a fresh database user
//! (`dynamic::template::fresh`) that lives until it is revoked: on request,
//! when the definition is deleted, or when it expires.
//!
//! The lease row is written before the user is made, so a crash in between
//! leaves a row that the expiry pass revokes (revocation statements should
//! say `IF EXISTS`). The user's password is returned once and never stored.
//! Revocation takes the lease's claim (`claim_lease`: one replica at a
//! time); success deletes the row, failure records its error and a retry
//! time (backoff) on it, which `hush dynamic lease list` shows.

use super::dynamic::{dynamic_view, kind_of, stored};
use super::secrets::Scope;
use super::{iso, new_id, Ctx, Service, ServiceError, ServiceResult};
use crate::api::dynamic::{Lease, LeaseCreated};
use crate::dynamic::limits::{
    retry_after_ms, BATCH, CLAIM, MAX_LEASES_PER_DEFINITION, MAX_TTL_SECS,
};
use crate::dynamic::template::{self, Credential};
use crate::dynamic::{Kind, Step};
use crate::store::dynamic::{DynamicRow, LeaseRow, ACTIVE, FAILED, REVOKING};
use crate::store::AuditEvent;
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// A lease as the API shows it (Infisical's status words).
pub(super) fn lease_view(row: &LeaseRow) -> Lease {
    let status = match row.status.as_str() {
        ACTIVE => None,
        REVOKING => Some("Revoking".to_owned()),
        FAILED => Some("FailedDeletion".to_owned()),
        other => Some(other.to_owned()),
    };
    Lease {
        id: row.id.clone(),
        expire_at: iso(row.expire_at),
        created_at: iso(row.created_at),
        updated_at: iso(row.updated_at),
        version: row.version,
        dynamic_secret_id: row.dynamic_id.clone(),
        external_entity_id: row.username.clone(),
        status,
        status_details: row.status_details.clone(),
        failures: row.failures,
        next_attempt_at: (row.failures > 0).then(|| iso(row.next_attempt_at)),
        dynamic_secret: None,
    }
}

/// The credential of an existing lease for renewal and revocation: its
/// name (checked again: a tampered row cannot inject) and no password.
fn known_user(lease: &LeaseRow, expires_at: i64) -> Result<Credential, String> {
    if !template::is_generated_user(&lease.username) {
        return Err("the lease's user name is not one hush made; revoke it by hand".into());
    }
    Ok(Credential {
        username: lease.username.clone(),
        password: Zeroizing::new(String::new()),
        expires_at,
    })
}

/// How a revocation went: `None` when another server holds the lease.
pub(super) type Revoked = Option<Result<(), String>>;

impl Service {
    /// An audit event about a lease of a definition (its folder named by
    /// `env`): the definition's name and the lease's database user (a name
    /// hush made, no secret), so database logs can be matched to it.
    fn dynamic_event(
        &self,
        ctx: &Ctx,
        def: &DynamicRow,
        env: &str,
        action: &str,
        user: &str,
    ) -> AuditEvent {
        let mut e = ctx.event(action);
        e.project_id = Some(def.project_id.clone());
        e.environment = Some(env.to_owned());
        e.path = Some(def.path.clone());
        e.keys = vec![def.name.clone(), user.to_owned()];
        e
    }

    async fn env_slug(&self, def: &DynamicRow) -> String {
        match self.store.environments(&def.project_id).await {
            Ok(envs) => envs
                .into_iter()
                .find(|e| e.id == def.env_id)
                .map(|e| e.slug)
                .unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// A lease of a definition in `scope`'s folder, or a 404.
    async fn lease_in(&self, scope: &Scope, id: &str) -> ServiceResult<(DynamicRow, LeaseRow)> {
        let missing = || {
            ServiceError::NotFound(format!(
                "no lease {:?} in environment {:?}, path {:?}; see hush dynamic lease list",
                crate::limits::cut_to(id.to_owned(), 64),
                scope.env.slug,
                scope.path.as_str()
            ))
        };
        let lease = self.store.dynamic().lease(id).await?.ok_or_else(missing)?;
        let def = self
            .store
            .dynamic()
            .dynamic_secret(&lease.dynamic_id)
            .await?
            .ok_or_else(missing)?;
        // Per item: the lease's own definition must be in the folder the
        // caller was authorized for.
        if def.env_id != scope.env.id || def.path != scope.path.as_str() {
            return Err(missing());
        }
        Ok((def, lease))
    }

    /// A TTL asked for, within the definition's maximum.
    fn lease_ttl(def: &DynamicRow, ttl: Option<i64>) -> ServiceResult<i64> {
        let ttl = ttl.unwrap_or(def.default_ttl);
        if ttl > def.max_ttl.min(MAX_TTL_SECS) {
            return Err(ServiceError::BadRequest(format!(
                "the TTL is longer than the dynamic secret's max TTL ({})",
                crate::dynamic::limits::show_ttl(def.max_ttl)
            )));
        }
        Ok(ttl)
    }

    /// `scope` was resolved for `Action::Write`. Makes a user and answers
    /// its credential (the only time it is seen).
    pub async fn create_lease(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        name: &str,
        ttl: Option<i64>,
    ) -> ServiceResult<LeaseCreated> {
        let def = self.definition(scope, name).await?;
        let ttl = Self::lease_ttl(&def, ttl)?;
        let existing = self.store.dynamic().leases(&def.id).await?;
        if existing.len() >= MAX_LEASES_PER_DEFINITION {
            return Err(ServiceError::BadRequest(format!(
                "{name} already has {MAX_LEASES_PER_DEFINITION} leases; revoke some first"
            )));
        }
        let now = self.now_ms();
        let cred = template::fresh(now + ttl * 1000).map_err(ServiceError::Internal)?;
        let row = LeaseRow {
            id: new_id(),
            dynamic_id: def.id.clone(),
            project_id: def.project_id.clone(),
            username: cred.username.clone(),
            expire_at: cred.expires_at,
            status: ACTIVE.into(),
            status_details: None,
            failures: 0,
            next_attempt_at: 0,
            claim_owner: None,
            claim_until: 0,
            version: 1,
            created_at: now,
            updated_at: now,
            created_by: ctx.actor.name.clone(),
        };
        let event = self.dynamic_event(
            ctx,
            &def,
            &scope.env.slug,
            "create-dynamic-lease",
            &row.username,
        );
        self.store
            .dynamic()
            .create_lease(row.clone(), event)
            .await?;
        if let Err(error) = self.run_step(&def, Step::Create, &cred).await {
            tracing::warn!(dynamic = %def.id, "creating a lease failed: {error}");
            // Undo whatever part of the creation ran. PostgreSQL runs the
            // statements in one transaction, so nothing was made there and
            // the row can go whatever the revocation says.
            let owner = format!("create-{}", row.id);
            let undone = self.revoke_one(ctx, &def, &row.id, &owner, now).await?;
            if !matches!(undone, Some(Ok(()))) && kind_of(&def)? == Kind::Postgres {
                let event = self.dynamic_event(
                    ctx,
                    &def,
                    &scope.env.slug,
                    "revoke-dynamic-lease",
                    &row.username,
                );
                self.store
                    .dynamic()
                    .claim_lease(&row.id, &owner, now, now + 1, true)
                    .await?;
                self.store
                    .dynamic()
                    .lease_revoked(&row.id, &owner, event)
                    .await?;
            }
            return Err(ServiceError::Unavailable(format!(
                "creating a lease of {name} failed: {error}; check the dynamic secret's connection and statements"
            )));
        }
        let view = dynamic_view(&def, &scope.env.slug)?;
        let keys = stored(&def)?.output_keys;
        let mut data = BTreeMap::new();
        data.insert(keys.username, cred.username.clone());
        data.insert(keys.password, cred.password.to_string());
        Ok(LeaseCreated {
            lease: lease_view(&row),
            dynamic_secret: view,
            data,
        })
    }

    /// `scope` was resolved for `Action::Read`: the leases of `name`.
    pub async fn list_leases(&self, scope: &Scope, name: &str) -> ServiceResult<Vec<Lease>> {
        let def = self.definition(scope, name).await?;
        let rows = self.store.dynamic().leases(&def.id).await?;
        Ok(rows.iter().map(lease_view).collect())
    }

    /// `scope` was resolved for `Action::Read`.
    pub async fn get_lease(&self, scope: &Scope, id: &str) -> ServiceResult<Lease> {
        let (def, lease) = self.lease_in(scope, id).await?;
        let mut view = lease_view(&lease);
        view.dynamic_secret = Some(dynamic_view(&def, &scope.env.slug)?);
        Ok(view)
    }

    /// `scope` was resolved for `Action::Write`. Moves the lease's end to
    /// `ttl` from now, never past its creation + the max TTL.
    pub async fn renew_lease(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        id: &str,
        ttl: Option<i64>,
    ) -> ServiceResult<Lease> {
        let (def, lease) = self.lease_in(scope, id).await?;
        let ttl = Self::lease_ttl(&def, ttl)?;
        let now = self.now_ms();
        if lease.status != ACTIVE || lease.expire_at <= now {
            return Err(ServiceError::BadRequest(
                "the lease expired or is being revoked; create a new one".into(),
            ));
        }
        let cap = lease.created_at + def.max_ttl * 1000;
        let expire_at = (now + ttl * 1000).min(cap);
        if expire_at <= lease.expire_at {
            return Err(ServiceError::BadRequest(format!(
                "the lease reached its max TTL ({}); create a new one",
                crate::dynamic::limits::show_ttl(def.max_ttl)
            )));
        }
        let cred = known_user(&lease, expire_at).map_err(ServiceError::Internal)?;
        self.run_step(&def, Step::Renew, &cred)
            .await
            .map_err(|e| ServiceError::Unavailable(format!("renewing the lease failed: {e}")))?;
        let event = self.dynamic_event(
            ctx,
            &def,
            &scope.env.slug,
            "renew-dynamic-lease",
            &lease.username,
        );
        if !self
            .store
            .dynamic()
            .renew_lease(&lease.id, expire_at, now, event)
            .await?
        {
            return Err(ServiceError::BadRequest(
                "the lease expired or is being revoked; create a new one".into(),
            ));
        }
        let mut row = lease;
        row.expire_at = expire_at;
        row.updated_at = now;
        row.version += 1;
        Ok(lease_view(&row))
    }

    /// `scope` was resolved for `Action::Write`. Revokes the lease's user
    /// now (`forced`: forgets the lease without asking the database).
    pub async fn revoke_lease(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        id: &str,
        forced: bool,
        owner: &str,
    ) -> ServiceResult<Lease> {
        let (def, lease) = self.lease_in(scope, id).await?;
        let now = self.now_ms();
        let outcome = if forced {
            self.forget_one(ctx, &def, &lease.id, owner, now).await?
        } else {
            self.revoke_one(ctx, &def, &lease.id, owner, now).await?
        };
        match outcome {
            Some(Ok(())) => {
                let mut view = lease_view(&lease);
                view.status = Some("Revoked".into());
                Ok(view)
            }
            Some(Err(e)) => Err(ServiceError::Unavailable(format!(
                "revoking the lease failed: {e}; the server retries it (see hush dynamic lease list)"
            ))),
            None => Err(ServiceError::Unavailable(
                "another server is revoking this lease; try again in a minute".into(),
            )),
        }
    }

    /// Claims lease `id` (whatever its expiry) and revokes its user.
    pub(super) async fn revoke_one(
        &self,
        ctx: &Ctx,
        def: &DynamicRow,
        id: &str,
        owner: &str,
        now: i64,
    ) -> ServiceResult<Revoked> {
        let until = now + CLAIM.as_millis() as i64;
        let Some(lease) = self
            .store
            .dynamic()
            .claim_lease(id, owner, now, until, true)
            .await?
        else {
            return Ok(None);
        };
        self.revoke_claimed(ctx, def, lease, owner, now)
            .await
            .map(Some)
    }

    /// Claims lease `id` and deletes it without asking the database.
    async fn forget_one(
        &self,
        ctx: &Ctx,
        def: &DynamicRow,
        id: &str,
        owner: &str,
        now: i64,
    ) -> ServiceResult<Revoked> {
        let until = now + CLAIM.as_millis() as i64;
        let Some(lease) = self
            .store
            .dynamic()
            .claim_lease(id, owner, now, until, true)
            .await?
        else {
            return Ok(None);
        };
        let env = self.env_slug(def).await;
        let event = self.dynamic_event(ctx, def, &env, "forget-dynamic-lease", &lease.username);
        self.store.dynamic().lease_revoked(id, owner, event).await?;
        Ok(Some(Ok(())))
    }

    /// Revokes a lease `owner` holds: deletes it when the database took the
    /// revocation, else records the failure and the next attempt.
    async fn revoke_claimed(
        &self,
        ctx: &Ctx,
        def: &DynamicRow,
        lease: LeaseRow,
        owner: &str,
        now: i64,
    ) -> ServiceResult<Result<(), String>> {
        let outcome = match known_user(&lease, lease.expire_at) {
            Ok(cred) => self.run_step(def, Step::Revoke, &cred).await,
            Err(e) => Err(e),
        };
        let env = self.env_slug(def).await;
        match outcome {
            Ok(()) => {
                let event =
                    self.dynamic_event(ctx, def, &env, "revoke-dynamic-lease", &lease.username);
                if !self
                    .store
                    .dynamic()
                    .lease_revoked(&lease.id, owner, event)
                    .await?
                {
                    tracing::warn!(lease = %lease.id, "lost the lease's claim before recording its revocation");
                }
                Ok(Ok(()))
            }
            Err(error) => {
                tracing::warn!(lease = %lease.id, "revoking a lease failed: {error}");
                let mut event = self.dynamic_event(
                    ctx,
                    def,
                    &env,
                    "revoke-dynamic-lease-failed",
                    &lease.username,
                );
                event.result = "failure".into();
                let next = now + retry_after_ms(lease.failures);
                self.store
                    .dynamic()
                    .lease_revoke_failed(&lease.id, owner, &error, next, now, event)
                    .await?;
                Ok(Err(error))
            }
        }
    }

    /// One expiry pass at `now`: revokes each expired lease (and each
    /// whose revocation is due again) that this replica can claim (`owner`
    /// names the replica). Returns how many were revoked.
    pub async fn revoke_due_leases(&self, owner: &str, now: i64) -> ServiceResult<usize> {
        let store = self.store.dynamic();
        let until = now + CLAIM.as_millis() as i64;
        let mut revoked = 0;
        for id in store.due_leases(now, BATCH).await? {
            let Some(lease) = store.claim_lease(&id, owner, now, until, false).await? else {
                continue; // another replica took it
            };
            let Some(def) = store.dynamic_secret(&lease.dynamic_id).await? else {
                continue; // deleted with its definition
            };
            if self
                .revoke_claimed(&Ctx::system(), &def, lease, owner, now)
                .await?
                .is_ok()
            {
                revoked += 1;
            }
        }
        Ok(revoked)
    }
}
