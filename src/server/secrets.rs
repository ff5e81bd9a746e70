//! Secrets routes: Infisical's v3 `secrets/raw` face and hush's extensions
//! (upsert with `ifVersion`, history, rollback, restore, purge, deleted list).
//! Both call the same service functions.

use super::error::ApiError;
use super::expansion;
use super::extract::{flag, ApiJson, ApiPath, ApiQuery, Auth};
use super::list_cache::{self, CachedList, ListKey};
use super::wire::{secret_json, ScopeParams, SecretWire};
use super::AppState;
use crate::references::has_references;
use crate::secret::{SecretKey, SecretValue};
use crate::service::imports::ImportedSecrets;
use crate::service::rename::RenameInput;
use crate::service::secrets::{SecretView, Tag, WriteInput, WriteMode};
use crate::service::{iso, Action, Ctx};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    #[serde(flatten)]
    scope: ScopeParams,
    recursive: Option<String>,
    #[serde(rename = "include_imports")]
    include_imports: Option<String>,
    expand_secret_references: Option<String>,
    view_secret_value: Option<String>,
    tag_slugs: Option<String>,
    /// Node's SDK and the Go CLI send camelCase.
    #[serde(rename = "includeImports")]
    include_imports_camel: Option<String>,
    /// hush's extension: `key,value` answers each secret as only its key and
    /// value (see `PairWire`).
    fields: Option<String>,
}

/// Which fields each secret of a list carries.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum ListFields {
    /// Infisical's whole secret object.
    All,
    /// `{secretKey, secretValue}`: what `hush run` needs, a small fraction of
    /// the bytes to send and parse. Infisical ignores the parameter, so a
    /// client that asks for it reads either answer with the same fields.
    KeyValue,
}

fn list_fields(fields: &Option<String>) -> Result<ListFields, ApiError> {
    match fields.as_deref().map(str::trim) {
        None | Some("") => Ok(ListFields::All),
        Some("key,value") => Ok(ListFields::KeyValue),
        Some(other) => Err(ApiError::validation(format!(
            "fields: expected 'key,value' (or no fields parameter for whole secrets), got {other:?}"
        ))),
    }
}

pub async fn list(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let body = list_body(&state, &ctx, &q).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImportWire<'a, S> {
    secret_path: &'a str,
    environment: &'a str,
    folder_id: &'a str,
    secrets: Vec<S>,
}

#[derive(Serialize)]
struct ListWire<'a, S> {
    secrets: Vec<S>,
    imports: Vec<ImportWire<'a, S>>,
}

/// A secret of a `fields=key,value` list.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PairWire<'a> {
    secret_key: &'a str,
    secret_value: &'a str,
}

impl<'a> PairWire<'a> {
    fn new(s: &'a SecretView, with_value: bool) -> Self {
        PairWire {
            secret_key: &s.key,
            secret_value: if with_value { s.value.expose() } else { "" },
        }
    }
}

/// The list's JSON, each secret shaped by `wire`.
fn list_json<'a, S: Serialize>(
    secrets: &'a [SecretView],
    imported: &'a [ImportedSecrets],
    with_value: bool,
    wire: impl Fn(&'a SecretView, bool) -> S,
) -> Result<Vec<u8>, ApiError> {
    let list = ListWire {
        secrets: secrets.iter().map(|s| wire(s, with_value)).collect(),
        imports: imported
            .iter()
            .map(|i| ImportWire {
                secret_path: &i.path,
                environment: &i.env,
                folder_id: &i.import.id,
                secrets: i.secrets.iter().map(|s| wire(s, with_value)).collect(),
            })
            .collect(),
    };
    // Roughly 600 bytes a whole secret: one allocation instead of a dozen doublings.
    let mut json = Vec::with_capacity(64 + 640 * (secrets.len() + imported.len()));
    serde_json::to_writer(&mut json, &list).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(json)
}

/// The body of a list: `{secrets, imports}`, shared by v3 and v4; from the
/// list cache when this caller just asked the same (see `list_cache`).
async fn list_body(state: &AppState, ctx: &Ctx, q: &ListQuery) -> Result<Bytes, ApiError> {
    let recursive = flag(&q.recursive, false)?;
    let view_value = flag(&q.view_secret_value, true)?;
    let include_imports =
        flag(&q.include_imports, false)? || flag(&q.include_imports_camel, false)?;
    let expand = flag(&q.expand_secret_references, true)?;
    let fields = list_fields(&q.fields)?;
    let scope = q.scope.resolve(state, ctx, Action::Read).await?;
    let generation = state.service.store.write_generation();
    let key = ListKey {
        token_id: ctx.actor.token_id.clone(),
        env_id: scope.env.id.clone(),
        path: scope.path.as_str().to_owned(),
        flags: [
            recursive,
            view_value,
            include_imports,
            expand,
            fields == ListFields::KeyValue,
        ],
        tags: q.tag_slugs.clone().filter(|t| !t.is_empty()),
    };
    if let Some(hit) = generation.and_then(|g| state.lists.get(&key, g)) {
        state
            .service
            .audit_list_again(ctx, &scope, &hit.audit)
            .await?;
        return Ok(hit.body.clone());
    }
    // Where lists are kept (SQLite), the committed event is kept with the
    // list: each repeat is it with a new id and time.
    let (secrets, audit) = if generation.is_some() {
        let (secrets, audit) = state
            .service
            .list_secrets_to_keep(ctx, &scope, recursive, "get-secrets")
            .await?;
        (secrets, Some(audit))
    } else {
        let secrets = state
            .service
            .list_secrets(ctx, &scope, recursive, "get-secrets")
            .await?;
        (secrets, None)
    };
    let mut secrets = state.service.personalised(ctx, &scope, secrets).await?;
    if let Some(tags) = key.tags.as_deref() {
        let wanted: Vec<&str> = tags.split(',').map(str::trim).collect();
        secrets.retain(|s| {
            s.tags.iter().any(|t| {
                wanted.contains(&t.key.as_str())
                    || wanted.contains(&format!("{}={}", t.key, t.value).as_str())
            })
        });
    }
    // Both read other folders (and audit those reads): such lists are not kept.
    let mut single_read = true;
    if expand && view_value {
        single_read &= !secrets.iter().any(|s| has_references(s.value.expose()));
        expansion::expand_views(state, ctx, &scope, &mut secrets).await?;
    }
    let imported = if include_imports {
        single_read &= state.service.list_imports(&scope).await?.is_empty();
        state.service.imported_secrets(ctx, &scope).await?
    } else {
        Vec::new()
    };
    let json = match fields {
        ListFields::All => list_json(&secrets, &imported, view_value, SecretWire::new)?,
        ListFields::KeyValue => list_json(&secrets, &imported, view_value, PairWire::new)?,
    };
    let body = list_cache::secret_body(json);
    if let (Some(g), Some(audit), true) = (generation, audit, single_read) {
        state.lists.put(
            key,
            g,
            CachedList {
                body: body.clone(),
                audit,
            },
        );
    }
    Ok(body)
}

/// Infisical's Go CLI read path: the same list under `projectId`, with an ETag
/// so unchanged sets can be answered with 304.
pub async fn list_v4(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    ApiQuery(mut q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    if q.include_imports.is_none() {
        q.include_imports = q.include_imports_camel.clone();
    }
    let body = list_body(&state, &ctx, &q).await?;
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&body)[..16]));
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    Ok(response)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct GetQuery {
    #[serde(flatten)]
    scope: ScopeParams,
    version: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    view_secret_value: Option<String>,
    expand_secret_references: Option<String>,
}

fn parse_key(name: &str) -> Result<SecretKey, ApiError> {
    SecretKey::parse(name).map_err(|e| ApiError::validation(e.to_string()))
}

pub async fn get(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<GetQuery>,
) -> Result<Json<Value>, ApiError> {
    let key = parse_key(&name)?;
    let version = match q.version.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(v.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
            ApiError::validation(format!("version must be a positive integer, got {v:?}"))
        })?),
    };
    let personal = is_personal(q.kind.as_deref())?;
    let view_value = flag(&q.view_secret_value, true)?;
    let scope = q.scope.resolve(&state, &ctx, Action::Read).await?;
    let mut secret = if personal {
        state.service.get_personal(&ctx, &scope, &key).await?
    } else {
        state
            .service
            .get_secret(&ctx, &scope, &key, version)
            .await?
    };
    if flag(&q.expand_secret_references, true)? && view_value && version.is_none() {
        let mut one = vec![secret];
        expansion::expand_views(&state, &ctx, &scope, &mut one).await?;
        secret = one.remove(0);
    }
    Ok(Json(json!({ "secret": secret_json(&secret, view_value) })))
}

/// `type`: `shared` (the default) or `personal` (the caller's own override).
fn is_personal(kind: Option<&str>) -> Result<bool, ApiError> {
    match kind {
        None | Some("") | Some("shared") => Ok(false),
        Some("personal") => Ok(true),
        Some(other) => Err(ApiError::validation(format!(
            "type must be shared or personal, got {other:?}"
        ))),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct WriteBody {
    #[serde(flatten)]
    scope: ScopeParams,
    secret_value: Option<String>,
    secret_comment: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    new_secret_name: Option<String>,
    /// hush: `key=value` tags.
    tags: Option<Vec<String>>,
    /// hush: optimistic concurrency (0 = create only if absent).
    if_version: Option<i64>,
    /// Infisical fields accepted and ignored.
    #[serde(default)]
    #[allow(dead_code)]
    tag_ids: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    skip_multiline_encoding: Option<Value>,
}

/// Infisical trims values but keeps one trailing newline; hush's own upsert
/// route stores bytes exactly.
fn infisical_trim(value: String) -> String {
    let keep_newline = value.ends_with('\n');
    let mut out = value.trim().to_owned();
    if keep_newline {
        out.push('\n');
    }
    out
}

fn parse_tags(tags: Option<Vec<String>>) -> Result<Option<Vec<Tag>>, ApiError> {
    tags.map(|list| {
        list.iter()
            .map(|t| Tag::parse(t))
            .collect::<Result<Vec<_>, _>>()
    })
    .transpose()
    .map_err(ApiError::from)
}

async fn write(
    state: &AppState,
    ctx: &Ctx,
    name: &str,
    body: WriteBody,
    mode: WriteMode,
    trim: bool,
) -> Result<Value, ApiError> {
    let key = parse_key(name)?;
    let personal = is_personal(body.kind.as_deref())?;
    let value = match body.secret_value {
        Some(v) => Some(SecretValue::new(if trim { infisical_trim(v) } else { v })),
        None if mode == WriteMode::Update => None,
        None => return Err(ApiError::validation("secretValue is required")),
    };
    // The answer carries the value only when the caller sent it: a write
    // right is not a read right, and an update of a comment must not reveal
    // (unaudited) the value it kept.
    let echo_value = value.is_some();
    if personal {
        // A personal override is the caller's own value: reading rights suffice.
        let scope = body.scope.resolve(state, ctx, Action::Read).await?;
        let value = value
            .ok_or_else(|| ApiError::validation("secretValue is required for a personal secret"))?;
        let secret = state.service.set_personal(ctx, &scope, &key, value).await?;
        return Ok(json!({ "secret": secret_json(&secret, true) }));
    }
    let scope = body.scope.resolve(state, ctx, Action::Write).await?;
    if let Some(new_name) = body
        .new_secret_name
        .as_deref()
        .filter(|n| *n != name && !n.is_empty())
    {
        let input = RenameInput {
            key,
            new_key: parse_key(new_name)?,
            value,
            comment: body.secret_comment,
            tags: parse_tags(body.tags)?,
            if_version: body.if_version,
        };
        let outcome = state.service.rename_secret(ctx, &scope, input).await?;
        return Ok(
            json!({ "secret": secret_json(&outcome.secret, echo_value), "previousVersion": outcome.previous_version }),
        );
    }
    let event = match mode {
        WriteMode::Create => "create-secret",
        _ => "update-secret",
    };
    let outcome = state
        .service
        .write_secret(
            ctx,
            &scope,
            WriteInput {
                key,
                value,
                comment: body.secret_comment,
                tags: parse_tags(body.tags)?,
                mode,
                if_version: body.if_version,
                event,
            },
        )
        .await?;
    Ok(
        json!({ "secret": secret_json(&outcome.secret, echo_value), "previousVersion": outcome.previous_version }),
    )
}

pub async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<WriteBody>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        write(&state, &ctx, &name, body, WriteMode::Create, true).await?,
    ))
}

pub async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<WriteBody>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        write(&state, &ctx, &name, body, WriteMode::Update, true).await?,
    ))
}

/// hush: create or update, byte-exact value, optional `ifVersion`.
pub async fn upsert(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<WriteBody>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        write(&state, &ctx, &name, body, WriteMode::Upsert, false).await?,
    ))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DeleteBody {
    #[serde(flatten)]
    scope: ScopeParams,
    #[serde(rename = "type")]
    kind: Option<String>,
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<ScopeParams>,
    ApiJson(body): ApiJson<DeleteBody>,
) -> Result<Json<Value>, ApiError> {
    let key = parse_key(&name)?;
    if is_personal(body.kind.as_deref())? {
        let scope = body.scope.or(q).resolve(&state, &ctx, Action::Read).await?;
        let secret = state.service.delete_personal(&ctx, &scope, &key).await?;
        return Ok(Json(json!({ "secret": secret_json(&secret, false) })));
    }
    let scope = body
        .scope
        .or(q)
        .resolve(&state, &ctx, Action::Write)
        .await?;
    let secret = state
        .service
        .delete_secret(&ctx, &scope, &key, "delete-secret")
        .await?;
    // Deleting needs a write right only: the answer names the secret, not its value.
    let mut out = secret_json(&secret, false);
    out["deletedAt"] = json!(secret.deleted_at.map(iso));
    out["recoverableUntil"] = json!(secret.purge_after.map(iso));
    Ok(Json(json!({ "secret": out })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct HistoryQuery {
    #[serde(flatten)]
    scope: ScopeParams,
    reveal: Option<String>,
}

pub async fn history(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    let key = parse_key(&name)?;
    let reveal = flag(&q.reveal, false)?;
    let scope = q.scope.resolve(&state, &ctx, Action::Read).await?;
    let versions = state.service.history(&ctx, &scope, &key, reveal).await?;
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| {
            let mut j = secret_json(v, reveal);
            j["actor"] = json!(v.actor);
            j["action"] = json!(v.action);
            if let Some(f) = &v.fingerprint {
                j["valueFingerprint"] = json!(f);
            }
            j
        })
        .collect();
    Ok(Json(json!({ "versions": versions })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RollbackBody {
    #[serde(flatten)]
    scope: ScopeParams,
    version: i64,
}

pub async fn rollback(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<RollbackBody>,
) -> Result<Json<Value>, ApiError> {
    let key = parse_key(&name)?;
    let scope = body.scope.resolve(&state, &ctx, Action::Write).await?;
    let outcome = state
        .service
        .rollback(&ctx, &scope, &key, body.version)
        .await?;
    Ok(Json(
        json!({ "secret": secret_json(&outcome.secret, false), "previousVersion": outcome.previous_version, "rolledBackTo": body.version }),
    ))
}

pub async fn restore(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<ScopeParams>,
) -> Result<Json<Value>, ApiError> {
    let key = parse_key(&name)?;
    let scope = body.resolve(&state, &ctx, Action::Write).await?;
    let secret = state.service.restore_secret(&ctx, &scope, &key).await?;
    Ok(Json(json!({ "secret": secret_json(&secret, false) })))
}

pub async fn purge(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<ScopeParams>,
) -> Result<Json<Value>, ApiError> {
    let key = parse_key(&name)?;
    let scope = body.resolve(&state, &ctx, Action::Write).await?;
    state.service.purge_secret(&ctx, &scope, &key).await?;
    Ok(Json(json!({ "purged": key.as_str() })))
}

pub async fn deleted(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<ScopeParams>,
) -> Result<Json<Value>, ApiError> {
    let scope = q.resolve(&state, &ctx, Action::Read).await?;
    let heads = state.service.deleted_secrets(&ctx, &scope).await?;
    let list: Vec<Value> = heads
        .iter()
        .map(|h| {
            json!({
                "id": h.secret_id, "secretKey": h.key, "secretPath": h.path, "environment": scope.env.slug,
                "version": h.current_version, "deletedAt": h.deleted_at.map(iso), "recoverableUntil": h.purge_after.map(iso),
            })
        })
        .collect();
    Ok(Json(json!({ "secrets": list })))
}
