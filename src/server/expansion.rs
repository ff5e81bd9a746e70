//! Server-side expansion of `${KEY}` / `${env.path.KEY}` references for the
//! Infisical routes (`expandSecretReferences`, on by default in the SDKs). Each
//! other folder it needs is read with the caller's own rights, and audited.

use super::error::ApiError;
use super::AppState;
use crate::run::references::{expand_all, has_references, RefError, ScopeId};
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
    for home in homes {
        let expanded = loop {
            match expand_all(&home, &scopes) {
                Ok(values) => break values,
                Err(RefError::NeedScope(needed)) => {
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
                Err(e) => {
                    return Err(ApiError::bad_request(format!(
                        "cannot expand secret references: {e}"
                    )))
                }
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
