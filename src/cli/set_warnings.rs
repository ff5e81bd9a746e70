//! Warnings `hush set` prints after a write, about values that will not work
//! the way the writer probably expects (names and keys only, never values).

use super::context::Resolved;
use crate::references::{has_references, targets, ScopeId, MAX_SCOPES};
use crate::run::dangerous;
use std::collections::{BTreeSet, HashMap};

/// `hush run` does not inject a secret with a loader/interpreter hook name.
pub fn dangerous_name(key: &str) {
    if let Some(family) = dangerous::family(key) {
        eprintln!(
            "hush: warning: {key} is {family}: 'hush run' will not inject it unless allowed with --allow-env {key} (or \"allowEnv\" in .hush.json)"
        );
    }
}

/// Warns when `value` (just stored as `key` in `home`) holds a `${...}` that
/// does not resolve: an unterminated one, or one naming a key that does not
/// exist. `hush run` refuses to start on it; lists show it as written. Checks
/// key existence only (`viewSecretValue=false`: no values are read, so the
/// check reads nothing it did not need), in at most `MAX_SCOPES` folders.
pub async fn unresolvable_references(ctx: &Resolved, home: &ScopeId, key: &str, value: &str) {
    if !has_references(value) {
        return;
    }
    let hint = "to store a literal '${', write '$${' (e.g. '$${PATH}')";
    let Ok(refs) = targets(value, home) else {
        eprintln!("hush: warning: {key} has a '${{' without '}}': 'hush run' will refuse to start until it is fixed; {hint}");
        return;
    };
    let mut keys: HashMap<ScopeId, Option<BTreeSet<String>>> = HashMap::new();
    let mut missing = Vec::new();
    for (scope, name) in refs {
        if !keys.contains_key(&scope) {
            if keys.len() >= MAX_SCOPES {
                break;
            }
            let listed = list_keys(ctx, &scope).await;
            keys.insert(scope.clone(), listed);
        }
        // A folder we could not list (no access, server trouble) proves nothing.
        if let Some(Some(present)) = keys.get(&scope) {
            if !present.contains(&name) {
                missing.push(label(&scope, &name, home));
            }
        }
    }
    if !missing.is_empty() {
        eprintln!(
            "hush: warning: {key} references {}, which does not exist: 'hush run' will refuse to start until it does (lists show the text as written); {hint}",
            missing.join(", ")
        );
    }
}

fn label(scope: &ScopeId, key: &str, home: &ScopeId) -> String {
    if scope == home {
        key.to_owned()
    } else {
        format!("{}:{}/{key}", scope.0, scope.1.trim_end_matches('/'))
    }
}

async fn list_keys(ctx: &Resolved, scope: &ScopeId) -> Option<BTreeSet<String>> {
    let q = vec![
        ("workspaceId", ctx.project.clone()),
        ("environment", scope.0.clone()),
        ("secretPath", scope.1.clone()),
        ("viewSecretValue", "false".to_owned()),
        ("expandSecretReferences", "false".to_owned()),
        ("include_imports", "true".to_owned()),
    ];
    match ctx
        .client
        .get_as::<crate::api::secrets::SecretList>("/api/v3/secrets/raw", &q)
        .await
    {
        Ok(resp) => {
            let lists =
                std::iter::once(&resp.secrets).chain(resp.imports.iter().map(|i| &i.secrets));
            Some(lists.flatten().map(|s| s.key().to_owned()).collect())
        }
        // A folder that does not exist has no keys.
        Err(e) if e.status() == Some(404) => Some(BTreeSet::new()),
        Err(_) => None,
    }
}
