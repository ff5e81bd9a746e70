//! Resolved and authorised scopes of recent requests, kept like the list
//! cache: for the same token and the same request parameters, while no write
//! has committed since and for at most the memo TTL (1 s).
//!
//! Resolving a scope reads the project, the caller's membership and the
//! project's environments (each a memo lookup that copies its row), parses
//! the membership's overrides and checks the grant: a twentieth of a cached
//! list's CPU, for an answer that only a write can change. The token id
//! decides the caller (its kind, id and, for a service token, its scope), and
//! nothing else of the request enters the decision, so an entry is exactly
//! what resolving again would give. Only successes are kept: a denial is
//! resolved (and audited) every time.
//!
//! Only on a store that sees every write (SQLite), like the list cache.

use super::error::ApiError;
use super::wire::ScopeParams;
use super::AppState;
use crate::service::secrets::Scope;
use crate::service::{Action, Ctx};
use crate::store::memo::Memo;
use std::sync::Arc;

#[derive(PartialEq, Eq, Hash)]
struct ScopeKey {
    token_id: String,
    /// Project, environment and folder as the request spelt them.
    params: ScopeParams,
    action: Action,
}

#[derive(Default)]
pub struct ScopeCache(Memo<ScopeKey, Arc<Scope>>);

/// `params.resolve`, from the cache when it can be.
pub async fn resolve(
    state: &AppState,
    ctx: &Ctx,
    params: &ScopeParams,
    action: Action,
) -> Result<Arc<Scope>, ApiError> {
    // Read before resolving, so a write racing this request leaves the entry
    // stale (as the store's memo does).
    let Some(generation) = state.service.store.write_generation() else {
        return Ok(Arc::new(params.resolve(state, ctx, action).await?));
    };
    let key = ScopeKey {
        token_id: ctx.actor.token_id.clone(),
        params: params.clone(),
        action,
    };
    if let Some(scope) = state.scopes.0.get(&key, generation) {
        return Ok(scope);
    }
    let scope = Arc::new(params.resolve(state, ctx, action).await?);
    state.scopes.0.put(key, generation, scope.clone());
    Ok(scope)
}
