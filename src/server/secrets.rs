//! Secrets routes: Infisical's v3 `secrets/raw` face and hush's extensions
//! (upsert with `ifVersion`, history, rollback, restore, purge, deleted list).
//! Both call the same service functions.

use super::error::ApiError;
use super::expansion;
use super::extract::{flag, ApiJson, ApiPath, ApiQuery, Auth};
use super::list_cache::{self, CachedList, ListKey};
use super::wire::{secret_wire, ResolveScope, ScopeParams};
use super::AppState;
use crate::api::secrets::{
    DeleteBody, DeletedAnswer, DeletedList, DeletedListed, DeletedSecret, GetQuery, History,
    HistoryQuery, HistoryVersion, ImportedList, ListQuery, Listed, Purged, RollbackBody,
    RolledBack, SecretEnvelope, SecretList, SecretPair, WriteBody, Written,
};
use crate::references::has_references;
use crate::secret::{SecretKey, SecretValue};
use crate::service::imports::ImportedSecrets;
use crate::service::rename::RenameInput;
use crate::service::secrets::{SecretView, Tag, WriteInput, WriteMode, WriteOutcome};
use crate::service::{iso, Action, Ctx};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

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

/// A secret of a `fields=key,value` list.
fn pair_wire(s: &SecretView, with_value: bool) -> Listed<'_> {
    Listed::Pair(SecretPair {
        secret_key: Cow::Borrowed(&s.key),
        secret_value: Cow::Borrowed(if with_value { s.value.expose() } else { "" }),
    })
}

fn whole_wire(s: &SecretView, with_value: bool) -> Listed<'_> {
    Listed::Whole(secret_wire(s, with_value))
}

/// The list's JSON, each secret shaped by `wire`.
fn list_json<'a>(
    secrets: &'a [SecretView],
    imported: &'a [ImportedSecrets],
    with_value: bool,
    wire: impl Fn(&'a SecretView, bool) -> Listed<'a>,
) -> Result<Vec<u8>, ApiError> {
    let list = SecretList {
        secrets: secrets.iter().map(|s| wire(s, with_value)).collect(),
        imports: imported
            .iter()
            .map(|i| ImportedList {
                secret_path: Cow::Borrowed(&i.path),
                environment: Cow::Borrowed(&i.env),
                folder_id: Cow::Borrowed(&i.import.id),
                secrets: i.secrets.iter().map(|s| wire(s, with_value)).collect(),
            })
            .collect(),
    };
    // One allocation of about the answer's size instead of a dozen doublings.
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
        ListFields::All => list_json(&secrets, &imported, view_value, whole_wire)?,
        ListFields::KeyValue => list_json(&secrets, &imported, view_value, pair_wire)?,
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

fn parse_key(name: &str) -> Result<SecretKey, ApiError> {
    SecretKey::parse(name).map_err(|e| ApiError::validation(e.to_string()))
}

pub async fn get(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<GetQuery>,
) -> Result<Json<SecretEnvelope<'static>>, ApiError> {
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
    Ok(Json(SecretEnvelope {
        secret: owned(secret_wire(&secret, view_value)),
    }))
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
) -> Result<Written<'static>, ApiError> {
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
        return Ok(Written {
            secret: owned(secret_wire(&secret, true)),
            previous_version: None,
        });
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
        return Ok(written(&outcome, echo_value));
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
    Ok(written(&outcome, echo_value))
}

fn written(outcome: &WriteOutcome, with_value: bool) -> Written<'static> {
    Written {
        secret: owned(secret_wire(&outcome.secret, with_value)),
        previous_version: Some(outcome.previous_version),
    }
}

/// The secret object with its strings copied: for answers of one secret,
/// where the view it borrows from ends with the handler.
fn owned(s: crate::api::secrets::Secret<'_>) -> crate::api::secrets::Secret<'static> {
    let own = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
    crate::api::secrets::Secret {
        id: own(s.id),
        underscore_id: own(s.underscore_id),
        workspace: own(s.workspace),
        environment: own(s.environment),
        version: s.version,
        kind: own(s.kind),
        secret_key: own(s.secret_key),
        secret_value: own(s.secret_value),
        secret_value_hidden: s.secret_value_hidden,
        secret_comment: own(s.secret_comment),
        secret_path: own(s.secret_path),
        secret_reminder_note: s.secret_reminder_note,
        secret_reminder_repeat_days: s.secret_reminder_repeat_days,
        skip_multiline_encoding: s.skip_multiline_encoding,
        secret_metadata: s.secret_metadata,
        tags: s
            .tags
            .into_iter()
            .map(|t| crate::api::secrets::Tag {
                id: own(t.id),
                slug: own(t.slug),
                name: t.name,
                key: own(t.key),
                value: own(t.value),
            })
            .collect(),
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

pub async fn create(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<WriteBody>,
) -> Result<Json<Written<'static>>, ApiError> {
    Ok(Json(
        write(&state, &ctx, &name, body, WriteMode::Create, true).await?,
    ))
}

pub async fn update(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<WriteBody>,
) -> Result<Json<Written<'static>>, ApiError> {
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
) -> Result<Json<Written<'static>>, ApiError> {
    Ok(Json(
        write(&state, &ctx, &name, body, WriteMode::Upsert, false).await?,
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<ScopeParams>,
    ApiJson(body): ApiJson<DeleteBody>,
) -> Result<Json<DeletedAnswer<'static>>, ApiError> {
    let key = parse_key(&name)?;
    if is_personal(body.kind.as_deref())? {
        let scope = body.scope.or(q).resolve(&state, &ctx, Action::Read).await?;
        let secret = state.service.delete_personal(&ctx, &scope, &key).await?;
        return Ok(Json(DeletedAnswer {
            secret: DeletedSecret {
                secret: owned(secret_wire(&secret, false)),
                deleted_at: None,
                recoverable_until: None,
            },
        }));
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
    Ok(Json(DeletedAnswer {
        secret: DeletedSecret {
            secret: owned(secret_wire(&secret, false)),
            deleted_at: secret.deleted_at.map(iso),
            recoverable_until: secret.purge_after.map(iso),
        },
    }))
}

pub async fn history(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<History<'static>>, ApiError> {
    let key = parse_key(&name)?;
    let reveal = flag(&q.reveal, false)?;
    let scope = q.scope.resolve(&state, &ctx, Action::Read).await?;
    let versions = state.service.history(&ctx, &scope, &key, reveal).await?;
    let versions = versions
        .iter()
        .map(|v| HistoryVersion {
            secret: owned(secret_wire(v, reveal)),
            actor: v.actor.clone(),
            action: v.action.clone(),
            value_fingerprint: v.fingerprint.clone(),
        })
        .collect();
    Ok(Json(History { versions }))
}

pub async fn rollback(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<RollbackBody>,
) -> Result<Json<RolledBack<'static>>, ApiError> {
    let key = parse_key(&name)?;
    let scope = body.scope.resolve(&state, &ctx, Action::Write).await?;
    let outcome = state
        .service
        .rollback(&ctx, &scope, &key, body.version)
        .await?;
    Ok(Json(RolledBack {
        secret: owned(secret_wire(&outcome.secret, false)),
        previous_version: outcome.previous_version,
        rolled_back_to: body.version,
    }))
}

pub async fn restore(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<ScopeParams>,
) -> Result<Json<SecretEnvelope<'static>>, ApiError> {
    let key = parse_key(&name)?;
    let scope = body.resolve(&state, &ctx, Action::Write).await?;
    let secret = state.service.restore_secret(&ctx, &scope, &key).await?;
    Ok(Json(SecretEnvelope {
        secret: owned(secret_wire(&secret, false)),
    }))
}

pub async fn purge(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<ScopeParams>,
) -> Result<Json<Purged>, ApiError> {
    let key = parse_key(&name)?;
    let scope = body.resolve(&state, &ctx, Action::Write).await?;
    state.service.purge_secret(&ctx, &scope, &key).await?;
    Ok(Json(Purged {
        purged: key.as_str().to_owned(),
    }))
}

pub async fn deleted(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<ScopeParams>,
) -> Result<Json<DeletedList>, ApiError> {
    let scope = q.resolve(&state, &ctx, Action::Read).await?;
    let heads = state.service.deleted_secrets(&ctx, &scope).await?;
    let secrets = heads
        .iter()
        .map(|h| DeletedListed {
            id: h.secret_id.clone(),
            secret_key: h.key.clone(),
            secret_path: h.path.clone(),
            environment: scope.env.slug.clone(),
            version: h.current_version,
            deleted_at: h.deleted_at.map(iso),
            recoverable_until: h.purge_after.map(iso),
        })
        .collect();
    Ok(Json(DeletedList { secrets }))
}
