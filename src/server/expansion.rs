//! Server-side expansion of `${KEY}` / `${env.path.KEY}` references for the
//! Infisical routes (`expandSecretReferences`, on by default in the SDKs). Each
//! other folder it needs is read with the caller's own rights, and audited.
//!
//! Lenient, as Infisical is: a reference that cannot be resolved (missing,
//! cyclic, too deep, unterminated) stays as its literal text, so one odd value
//! (`$HOME and ${PATH}`) never makes a whole list fail for every SDK. Bounds
//! (value size, bytes copied, substitutions, folders) still refuse with 422.
//! `hush run` expands on the client and stays strict.

use super::error::ApiError;
use super::AppState;
use crate::references::{
    expand, has_references, Budget, ExpandOptions, RefError, ScopeId, MAX_SCOPES,
};
use crate::secret::SecretValue;
use crate::service::secrets::{Scope, SecretView};
use crate::service::{Action, Ctx, ServiceError};
use std::collections::{BTreeMap, HashMap};

pub async fn expand_views(
    state: &AppState,
    ctx: &Ctx,
    scope: &Scope,
    views: &mut [SecretView],
) -> Result<(), ApiError> {
    if !views.iter().any(|v| has_references(v.value.expose())) {
        return Ok(());
    }
    let mut scopes: HashMap<ScopeId, BTreeMap<String, String>> = HashMap::new();
    for v in views.iter() {
        scopes
            .entry((scope.env.slug.clone(), v.path.clone()))
            .or_default()
            .insert(v.key.clone(), v.value.expose().to_owned());
    }
    let homes: Vec<ScopeId> = scopes.keys().cloned().collect();
    let mut budget = Budget::new(state.service.settings.limits.max_value_bytes);
    let mut fetched = 0;
    for home in homes {
        let expanded = loop {
            let lenient = ExpandOptions {
                lenient: true,
                collect_pieces: false,
            };
            match expand(&home, &scopes, &mut budget, lenient) {
                Ok(expansion) => break expansion.values,
                Err(RefError::NeedScope(needed)) => {
                    fetched += 1;
                    if fetched > MAX_SCOPES {
                        return Err(unexpandable(RefError::TooManyScopes(format!(
                            "{}:{}",
                            home.0, home.1
                        ))));
                    }
                    let values = match state
                        .service
                        .scope(ctx, &scope.project.id, &needed.0, &needed.1, Action::Read)
                        .await
                    {
                        Ok(other) => {
                            state
                                .service
                                .list_secrets(ctx, &other, false, "get-secrets")
                                .await?
                        }
                        Err(ServiceError::NotFound(_)) => Vec::new(),
                        Err(e) => return Err(e.into()),
                    };
                    scopes.insert(
                        needed,
                        values
                            .into_iter()
                            .map(|v| (v.key.clone(), v.value.expose().to_owned()))
                            .collect(),
                    );
                }
                Err(e) => return Err(unexpandable(e)),
            }
        };
        for v in views.iter_mut().filter(|v| v.path == home.1) {
            if let Some(value) = expanded.get(&v.key) {
                v.value = SecretValue::new(value.clone());
            }
        }
    }
    Ok(())
}

/// The answer to a list whose references cannot be expanded: 422 when stored
/// data is past a bound (naming the secret, never a value), 400 otherwise.
fn unexpandable(e: RefError) -> ApiError {
    let message = format!("cannot expand secret references: {e}");
    match e {
        RefError::ValueTooLarge { .. }
        | RefError::TooManyBytes(_)
        | RefError::TooManySubstitutions(_)
        | RefError::TooManyScopes(_) => ApiError::validation(message),
        _ => ApiError::bad_request(message),
    }
}
