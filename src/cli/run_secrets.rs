//! What `hush run` (and each `--watch` restart) fetches and hands the child:
//! the scoped secrets with their references expanded, the environment built
//! from them, and the set of values to mask. `run` and `watch` both use it;
//! neither imports the other's internals.

use super::context::Resolved;
use super::run::RunArgs;
use crate::client::ClientError;
use crate::mask::{LazyMaskSet, MaskOptions};
use crate::references::{
    expand, has_references, Budget, ExpandOptions, RefError, ScopeId, DEFAULT_MAX_VALUE_BYTES,
    MAX_SCOPES,
};
use crate::run::cache::Fetched;
use crate::run::environment::{self, BuiltEnv, EnvOptions, Preserve};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What to fetch; the same for the first fetch and every watch poll.
pub(super) struct FetchPlan {
    pub(super) paths: Vec<String>,
    pub(super) recursive: bool,
    pub(super) tags: Vec<String>,
    pub(super) expand: bool,
}

async fn list_scope(
    ctx: &Resolved,
    env: &str,
    path: &str,
    plan: &FetchPlan,
) -> Result<Vec<(String, String)>, ClientError> {
    let mut q = vec![
        ("workspaceId", ctx.project.clone()),
        ("environment", env.to_owned()),
        ("secretPath", path.to_owned()),
        ("recursive", plan.recursive.to_string()),
        ("viewSecretValue", "true".to_owned()),
        ("expandSecretReferences", "false".to_owned()),
    ];
    if !plan.tags.is_empty() {
        q.push(("tagSlugs", plan.tags.join(",")));
    }
    q.push(("include_imports", "true".to_owned()));
    // Only what `run` uses (a hush extension that Infisical ignores): far
    // fewer bytes to receive and parse for a large set.
    q.push(("fields", "key,value".to_owned()));
    let resp: ListWire = ctx
        .client
        .call_typed(reqwest::Method::GET, "/api/v3/secrets/raw", &q, None)
        .await?;
    // Imported secrets first, so the folder's own keys win on a collision.
    let mut out = Vec::new();
    for import in resp.imports {
        out.extend(
            import
                .secrets
                .into_iter()
                .map(|s| (s.secret_key, s.secret_value)),
        );
    }
    out.extend(
        resp.secrets
            .into_iter()
            .map(|s| (s.secret_key, s.secret_value)),
    );
    Ok(out)
}

/// The part of a list answer `hush run` needs.
#[derive(serde::Deserialize)]
struct ListWire {
    secrets: Vec<SecretPair>,
    #[serde(default)]
    imports: Vec<ImportWire>,
}

#[derive(serde::Deserialize)]
struct ImportWire {
    secrets: Vec<SecretPair>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretPair {
    secret_key: String,
    secret_value: String,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum FetchError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Reference(#[from] RefError),
}

/// Fetches every path (later paths win on a key collision) and expands
/// references, keeping each substituted value (`Fetched::pieces`) for masking.
pub(super) async fn fetch(ctx: &Resolved, plan: &FetchPlan) -> Result<Fetched, FetchError> {
    let mut merged = BTreeMap::new();
    let mut pieces = BTreeMap::new();
    // One budget for the whole fetch: the server's default value limit.
    let mut budget = Budget::new(DEFAULT_MAX_VALUE_BYTES);
    for path in &plan.paths {
        let home: ScopeId = (ctx.env.clone(), path.clone());
        let own: BTreeMap<String, String> = list_scope(ctx, &ctx.env, path, plan)
            .await?
            .into_iter()
            .collect();
        if !plan.expand || !own.values().any(|v| has_references(v)) {
            merged.extend(own);
            continue;
        }
        let mut scopes: HashMap<ScopeId, BTreeMap<String, String>> = HashMap::new();
        scopes.insert(home.clone(), own);
        let expanded = loop {
            let opts = ExpandOptions {
                lenient: false,
                collect_pieces: true,
            };
            match expand(&home, &scopes, &mut budget, opts) {
                Ok(expansion) => break expansion,
                Err(RefError::NeedScope(scope)) => {
                    if scopes.len() > MAX_SCOPES {
                        let at = format!("{}:{}", home.0, home.1);
                        return Err(RefError::TooManyScopes(at).into());
                    }
                    let plain = FetchPlan {
                        paths: vec![],
                        recursive: false,
                        tags: vec![],
                        expand: false,
                    };
                    let values =
                        list_scope(ctx, &scope.0, &scope.1, &plain)
                            .await
                            .or_else(|e| match e.status() {
                                // A scope that does not exist (or is not visible) just has no keys.
                                Some(404) => Ok(Vec::new()),
                                _ => Err(e),
                            })?;
                    scopes.insert(scope, values.into_iter().collect());
                }
                Err(e) => return Err(e.into()),
            }
        };
        merged.extend(expanded.values);
        pieces.extend(expanded.pieces);
    }
    Ok(Fetched {
        secrets: merged,
        pieces,
    })
}

fn env_options(args: &RunArgs, ctx: &Resolved) -> EnvOptions {
    let preserve = match args.preserve_env.as_deref() {
        None => Preserve::Nothing,
        Some("") => Preserve::All,
        Some(list) => Preserve::Names(
            list.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        ),
    };
    EnvOptions {
        preserve,
        inherit: !args.no_inherit_env,
        pass_token: args.pass_token,
        allow: args
            .allow_env
            .iter()
            .chain(ctx.project_file.iter().flat_map(|f| f.allow_env.iter()))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    }
}

pub(super) fn build_env(
    secrets: &BTreeMap<String, String>,
    args: &RunArgs,
    ctx: &Resolved,
) -> BuiltEnv {
    environment::build(std::env::vars_os(), secrets, &env_options(args, ctx))
}

/// Everything `hush run` masks: each secret, each value substituted for a
/// reference, and hush's own credentials (should the child find and print
/// them, from the stored login file or otherwise).
pub(super) fn mask_values(fetched: &Fetched, token: &str) -> Vec<(String, Vec<u8>)> {
    let mut values: Vec<(String, Vec<u8>)> = fetched
        .secrets
        .iter()
        .chain(&fetched.pieces)
        .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
        .collect();
    let client_secret = std::env::var("HUSH_CLIENT_SECRET").ok();
    let credentials = [
        ("HUSH_TOKEN", Some(token)),
        ("HUSH_CLIENT_SECRET", client_secret.as_deref()),
    ];
    for (name, value) in credentials {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            values.push((name.to_owned(), value.as_bytes().to_vec()));
        }
    }
    values
}

/// The mask set for one environment, built once the command is spawned (its
/// output waits for it); warns about values too short to mask.
pub(super) fn mask_set(fetched: &Fetched, token: &str, format: &str) -> Arc<LazyMaskSet> {
    LazyMaskSet::deferred(
        mask_values(fetched, token),
        MaskOptions {
            format: format.to_owned(),
            ..MaskOptions::default()
        },
        |set| {
            if !set.skipped_keys().is_empty() {
                eprintln!(
                    "hush: warning: not masking {} (values too short or too common to mask without shredding output)",
                    set.skipped_keys().join(", ")
                );
            }
        },
    )
}
