//! Secret operations: list, get, write (create/update/upsert), delete, restore,
//! purge, history, rollback. Each authorises first, seals or opens with the
//! project's data key, and commits its audit event with the change (writes) or
//! before answering (reads: fail-closed).

use super::access::Grant;
use super::{new_event_id, now_ms, Action, Ctx, Service, ServiceError, ServiceResult};
use crate::crypto::{secret_aad, Field};
use crate::secret::{SecretKey, SecretPath, SecretValue};
use crate::store::{AuditEvent, EnvRow, ProjectRow, PutVersion, SecretHead, SecretRow, VersionRow};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Writes retried after losing a race when the caller gave no `ifVersion`.
const WRITE_RETRIES: usize = 16;

/// Where an operation happens, already resolved and authorised.
#[derive(Clone, Debug)]
pub struct Scope {
    pub project: ProjectRow,
    pub grant: Grant,
    pub env: EnvRow,
    pub path: SecretPath,
}

impl Service {
    /// `authorize` (audited when refused) for folder `path` of `scope`'s
    /// environment, a folder the request touches besides its own.
    pub(super) async fn authorize_path(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        path: &str,
        action: Action,
    ) -> ServiceResult<()> {
        self.authorize(
            ctx,
            &scope.project,
            &scope.grant,
            Some(&scope.env),
            Some(path),
            action,
        )
        .await
    }
}

impl Scope {
    /// Whether the caller may `action` folder `path` of this scope's
    /// environment: the check every item of an answer passes, whatever folder
    /// the request named.
    pub fn allows(&self, action: Action, path: &str) -> bool {
        self.grant.allows(action, Some(&self.env), Some(path))
    }
}

/// `key=value` metadata on a secret (encrypted at rest like the value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn parse(text: &str) -> ServiceResult<Tag> {
        let (k, v) = text.split_once('=').unwrap_or((text, ""));
        let k = k.trim();
        if k.is_empty()
            || k.len() > 64
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(ServiceError::Validation(format!(
                "invalid tag {text:?}: use key=value with a key of letters, digits, '_', '-', '.'"
            )));
        }
        Ok(Tag {
            key: k.to_owned(),
            value: v.to_owned(),
        })
    }
}

/// A decrypted secret version as the API returns it.
#[derive(Clone, Debug)]
pub struct SecretView {
    pub id: String,
    pub project_id: String,
    pub env: String,
    pub path: String,
    pub key: String,
    pub version: i64,
    pub value: SecretValue,
    pub comment: String,
    pub tags: Vec<Tag>,
    pub created_at: i64,
    pub updated_at: i64,
    pub actor: String,
    pub action: String,
    pub deleted_at: Option<i64>,
    pub purge_after: Option<i64>,
    /// The caller's personal override, not the shared value.
    pub personal: bool,
    /// History without values: a keyed digest of the value, equal for equal
    /// values within ONE response only (the key is random per request), so
    /// `hush diff` can say "changed" without the values leaving the server.
    pub fingerprint: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Fails when the key exists.
    Create,
    /// Fails when the key does not exist.
    Update,
    /// Either.
    Upsert,
}

pub struct WriteInput {
    pub key: SecretKey,
    /// None keeps the current value (updates only).
    pub value: Option<SecretValue>,
    pub comment: Option<String>,
    pub tags: Option<Vec<Tag>>,
    pub mode: WriteMode,
    /// Optimistic concurrency: the version the caller expects (0: absent).
    pub if_version: Option<i64>,
    /// Audit event name (`create-secret`, `update-secret`, `rollback-secret`...).
    pub event: &'static str,
}

pub struct WriteOutcome {
    pub secret: SecretView,
    /// 0 when the write created the secret.
    pub previous_version: i64,
}

pub(super) struct Content {
    pub(super) value: SecretValue,
    pub(super) comment: String,
    pub(super) tags: Vec<Tag>,
}

impl Service {
    /// Resolves project, environment and path, and checks `action` on them.
    pub async fn scope(
        &self,
        ctx: &Ctx,
        project: &str,
        env: &str,
        path: &str,
        action: Action,
    ) -> ServiceResult<Scope> {
        let path = SecretPath::parse(path)?;
        let (project, grant) = self.visible_project(ctx, project).await?;
        let env = self.environment(&project, env).await?;
        self.authorize(
            ctx,
            &project,
            &grant,
            Some(&env),
            Some(path.as_str()),
            action,
        )
        .await?;
        Ok(Scope {
            project,
            grant,
            env,
            path,
        })
    }

    pub(super) fn scoped_event(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        action: &str,
        keys: Vec<String>,
    ) -> AuditEvent {
        let mut e = ctx.event(action);
        e.project_id = Some(scope.project.id.clone());
        e.environment = Some(scope.env.slug.clone());
        e.path = Some(scope.path.as_str().to_owned());
        e.keys = keys;
        e
    }

    pub(super) async fn open_row(
        &self,
        project: &ProjectRow,
        env: &EnvRow,
        head: &SecretHead,
        v: &VersionRow,
    ) -> ServiceResult<Content> {
        let key = self.keys.key(&self.store, &project.id, v.key_id).await?;
        let aad = |field| {
            secret_aad(
                &project.id,
                &env.id,
                &head.path,
                &head.key,
                v.version,
                field,
            )
        };
        let integrity = || {
            tracing::error!(secret_id = %head.secret_id, version = v.version, "ciphertext failed authentication: tampered or misplaced row");
            ServiceError::Integrity(format!("secret {} version {}", head.secret_id, v.version))
        };
        let value = key
            .open(&aad(Field::Value), &v.value_ct)
            .map_err(|_| integrity())?;
        let comment = key
            .open(&aad(Field::Comment), &v.comment_ct)
            .map_err(|_| integrity())?;
        let tags = key
            .open(&aad(Field::Tags), &v.tags_ct)
            .map_err(|_| integrity())?;
        // Moved out of their buffers, not copied: a list opens hundreds of these.
        let text = |mut bytes: zeroize::Zeroizing<Vec<u8>>| {
            String::from_utf8(std::mem::take(&mut *bytes)).map_err(|_| integrity())
        };
        let tags = if tags.as_slice() == b"[]" {
            Vec::new()
        } else {
            serde_json::from_slice(&tags).map_err(|_| integrity())?
        };
        Ok(Content {
            value: SecretValue::new(text(value)?),
            comment: text(comment)?,
            tags,
        })
    }

    pub(super) async fn view(
        &self,
        project: &ProjectRow,
        env: &EnvRow,
        row: &SecretRow,
    ) -> ServiceResult<SecretView> {
        let content = self.open_row(project, env, &row.head, &row.version).await?;
        Ok(SecretView {
            id: row.head.secret_id.clone(),
            project_id: project.id.clone(),
            env: env.slug.clone(),
            path: row.head.path.clone(),
            key: row.head.key.clone(),
            version: row.version.version,
            value: content.value,
            comment: content.comment,
            tags: content.tags,
            created_at: row.head.created_at,
            updated_at: row.version.created_at,
            actor: row.version.actor.clone(),
            action: row.version.action.clone(),
            deleted_at: row.head.deleted_at,
            purge_after: row.head.purge_after,
            personal: false,
            fingerprint: None,
        })
    }

    /// The live secrets of a folder (and its subfolders when `recursive`).
    pub async fn list_secrets(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        recursive: bool,
        event: &str,
    ) -> ServiceResult<Vec<SecretView>> {
        let (out, keys) = self.folder_views(scope, recursive).await?;
        self.audit_list(ctx, scope, event, keys).await?;
        Ok(out)
    }

    /// `list_secrets` for a list that may be answered again from memory: its
    /// audit event is handed back as the template of the repeats
    /// (`audit_list_again`).
    pub async fn list_secrets_to_keep(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        recursive: bool,
        event: &str,
    ) -> ServiceResult<(Vec<SecretView>, Arc<AuditEvent>)> {
        let (out, keys) = self.folder_views(scope, recursive).await?;
        let event = self.scoped_event(ctx, scope, event, keys);
        self.store.append_audit(event.clone()).await?;
        Ok((out, Arc::new(event)))
    }

    /// The folder's live secrets, opened, and their keys qualified by folder
    /// (what a list's audit event names).
    async fn folder_views(
        &self,
        scope: &Scope,
        recursive: bool,
    ) -> ServiceResult<(Vec<SecretView>, Vec<String>)> {
        let mut rows = self
            .store
            .secrets(&scope.env.id, scope.path.as_str(), recursive)
            .await?;
        // A recursive list reaches folders the request's base check did not
        // cover: each row passes the caller's grant for its own folder. (Path
        // globs do not translate to SQL, so this filter runs here.)
        if recursive {
            // Rows come ordered by folder: one check per folder, not per row.
            let mut last: Option<(String, bool)> = None;
            rows.retain(|row| match &last {
                Some((path, allowed)) if *path == row.head.path => *allowed,
                _ => {
                    let allowed = scope.allows(Action::Read, &row.head.path);
                    last = Some((row.head.path.clone(), allowed));
                    allowed
                }
            });
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.view(&scope.project, &scope.env, row).await?);
        }
        let keys = out.iter().map(|s| qualified(&s.path, &s.key)).collect();
        Ok((out, keys))
    }

    /// The audit event of a list of `keys` (qualified by folder), committed
    /// before the list may be answered.
    pub async fn audit_list(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        event: &str,
        keys: Vec<String>,
    ) -> ServiceResult<()> {
        self.store
            .append_audit(self.scoped_event(ctx, scope, event, keys))
            .await?;
        Ok(())
    }

    /// `audit_list` of a list answered again: `template` (the first list's
    /// event) with a new id and time, when `ctx` and `scope` are the
    /// template's; otherwise a new event of its action and keys.
    pub async fn audit_list_again(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        template: &AuditEvent,
    ) -> ServiceResult<()> {
        let same_scope = template.project_id.as_deref() == Some(scope.project.id.as_str())
            && template.environment.as_deref() == Some(scope.env.slug.as_str())
            && template.path.as_deref() == Some(scope.path.as_str());
        if !(same_scope && ctx.stamped(template)) {
            return self
                .audit_list(ctx, scope, &template.action, template.keys.clone())
                .await;
        }
        let time = now_ms();
        let event = AuditEvent {
            id: new_event_id(time),
            time,
            ..template.clone()
        };
        self.store.append_audit(event).await?;
        Ok(())
    }

    /// One secret, at its current version or at `version`.
    pub async fn get_secret(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        key: &SecretKey,
        version: Option<i64>,
    ) -> ServiceResult<SecretView> {
        let row = self
            .store
            .secret(&scope.env.id, scope.path.as_str(), key.as_str(), version)
            .await?
            .ok_or_else(|| not_found(scope, key, version))?;
        let view = self.view(&scope.project, &scope.env, &row).await?;
        let mut event = self.scoped_event(ctx, scope, "get-secret", vec![key.to_string()]);
        event.to_version = Some(view.version);
        self.store.append_audit(event).await?;
        Ok(view)
    }

    /// Writes a new version. Without `if_version`, a lost race is retried; with it,
    /// a mismatch is a `Conflict` naming the current version.
    pub async fn write_secret(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        input: WriteInput,
    ) -> ServiceResult<WriteOutcome> {
        self.check_content(
            &input.key,
            input.value.as_ref(),
            input.comment.as_deref(),
            input.tags.as_deref(),
        )?;
        let _serialised = self
            .write_locks
            .lock(format!("{}\0{}\0{}", scope.env.id, scope.path, input.key))
            .await;
        for _ in 0..WRITE_RETRIES {
            let head = self
                .store
                .secret_head(&scope.env.id, scope.path.as_str(), input.key.as_str())
                .await?;
            let (secret_id, stored, visible) = head_state(head.as_ref());
            match input.mode {
                WriteMode::Create if visible > 0 => {
                    return Err(ServiceError::BadRequest(format!(
                        "Secret already exist: {} (version {visible})",
                        input.key
                    )))
                }
                WriteMode::Update if visible == 0 => {
                    return Err(not_found(scope, &input.key, None))
                }
                _ => {}
            }
            if let Some(expected) = input.if_version {
                if expected != visible {
                    return Err(ServiceError::Conflict { current: visible });
                }
            }
            if visible == 0 {
                self.check_room(scope, 1).await?;
            }
            // Fields the caller left out carry over from the current version.
            let previous = match (&head, visible) {
                (Some(h), v)
                    if v > 0
                        && (input.value.is_none()
                            || input.comment.is_none()
                            || input.tags.is_none()) =>
                {
                    match self
                        .store
                        .secret(&scope.env.id, &h.path, &h.key, None)
                        .await?
                    {
                        Some(row) => Some(
                            self.open_row(&scope.project, &scope.env, &row.head, &row.version)
                                .await?,
                        ),
                        None => continue, // deleted meanwhile: start over
                    }
                }
                _ => None,
            };
            let content = Content {
                value: input
                    .value
                    .clone()
                    .or_else(|| previous.as_ref().map(|p| p.value.clone()))
                    .unwrap_or_default(),
                comment: input
                    .comment
                    .clone()
                    .or_else(|| previous.as_ref().map(|p| p.comment.clone()))
                    .unwrap_or_default(),
                tags: input
                    .tags
                    .clone()
                    .or_else(|| previous.as_ref().map(|p| p.tags.clone()))
                    .unwrap_or_default(),
            };
            let new_version = stored + 1;
            // An upsert that creates is audited as a creation.
            let event_name = if input.event == "update-secret" && visible == 0 {
                "create-secret"
            } else {
                input.event
            };
            let (key_id, version) = self
                .seal(
                    scope,
                    &input.key,
                    new_version,
                    &content,
                    &ctx.actor.name,
                    event_name,
                )
                .await?;
            let now = self.now_ms();
            let mut event = self.scoped_event(ctx, scope, event_name, vec![input.key.to_string()]);
            event.from_version = (visible > 0).then_some(visible);
            event.to_version = Some(new_version);
            let put = PutVersion {
                secret_id: secret_id.clone(),
                project_id: scope.project.id.clone(),
                env_id: scope.env.id.clone(),
                path: scope.path.as_str().to_owned(),
                key: input.key.to_string(),
                expected_current: stored,
                version,
                max_versions: scope.project.max_versions,
                now,
            };
            match self.store.put_version(put, event).await {
                Ok(count) => {
                    self.keys
                        .note_usage(&self.store, &scope.project.id, key_id, count)
                        .await?;
                    let created_at = head.as_ref().map(|h| h.created_at).unwrap_or(now);
                    return Ok(WriteOutcome {
                        secret: SecretView {
                            id: secret_id,
                            project_id: scope.project.id.clone(),
                            env: scope.env.slug.clone(),
                            path: scope.path.as_str().to_owned(),
                            key: input.key.to_string(),
                            version: new_version,
                            value: content.value,
                            comment: content.comment,
                            tags: content.tags,
                            created_at,
                            updated_at: now,
                            actor: ctx.actor.name.clone(),
                            action: event_name.to_owned(),
                            deleted_at: None,
                            purge_after: None,
                            personal: false,
                            fingerprint: None,
                        },
                        previous_version: visible,
                    });
                }
                Err(crate::store::StoreError::Conflict { current }) => {
                    if input.if_version.is_some() {
                        return Err(ServiceError::Conflict { current });
                    }
                }
                // Its data key was retired meanwhile: seal again under the new one.
                Err(crate::store::StoreError::StaleKey(_)) => {
                    self.keys.refresh(&self.store, &scope.project.id).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict { current: -1 })
    }

    pub(super) async fn seal(
        &self,
        scope: &Scope,
        key: &SecretKey,
        version: i64,
        content: &Content,
        actor: &str,
        action: &str,
    ) -> ServiceResult<(i64, VersionRow)> {
        let (key_id, data_key) = self.keys.current(&self.store, &scope.project.id).await?;
        let aad = |field| {
            secret_aad(
                &scope.project.id,
                &scope.env.id,
                scope.path.as_str(),
                key.as_str(),
                version,
                field,
            )
        };
        let fail = |e: crate::crypto::CryptoError| ServiceError::Internal(e.to_string());
        let tags =
            serde_json::to_vec(&content.tags).map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok((
            key_id,
            VersionRow {
                version,
                key_id,
                value_ct: data_key
                    .seal(&aad(Field::Value), content.value.expose().as_bytes())
                    .map_err(fail)?,
                comment_ct: data_key
                    .seal(&aad(Field::Comment), content.comment.as_bytes())
                    .map_err(fail)?,
                tags_ct: data_key.seal(&aad(Field::Tags), &tags).map_err(fail)?,
                action: action.to_owned(),
                actor: actor.to_owned(),
                created_at: self.now_ms(),
            },
        ))
    }

    /// Soft delete: hidden from reads, recoverable until the returned deadline.
    pub async fn delete_secret(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        key: &SecretKey,
        event_name: &str,
    ) -> ServiceResult<SecretView> {
        let row = self
            .store
            .secret(&scope.env.id, scope.path.as_str(), key.as_str(), None)
            .await?
            .ok_or_else(|| not_found(scope, key, None))?;
        let mut view = self.view(&scope.project, &scope.env, &row).await?;
        let now = self.now_ms();
        let purge_after = now + self.recovery_window_ms(&scope.project);
        let mut event = self.scoped_event(ctx, scope, event_name, vec![key.to_string()]);
        event.from_version = Some(view.version);
        self.store
            .soft_delete(&view.id, now, purge_after, event)
            .await?;
        view.deleted_at = Some(now);
        view.purge_after = Some(purge_after);
        Ok(view)
    }

    pub async fn restore_secret(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        key: &SecretKey,
    ) -> ServiceResult<SecretView> {
        let head = self
            .store
            .secret_head(&scope.env.id, scope.path.as_str(), key.as_str())
            .await?
            .filter(|h| h.deleted_at.is_some())
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "no deleted secret {key} in {} {} (it may have been purged)",
                    scope.env.slug, scope.path
                ))
            })?;
        self.check_room(scope, 1).await?;
        let mut event = self.scoped_event(ctx, scope, "restore-secret", vec![key.to_string()]);
        event.to_version = Some(head.current_version);
        self.store
            .restore(&head.secret_id, self.now_ms(), event)
            .await?;
        self.get_secret_unaudited(scope, key).await
    }

    async fn get_secret_unaudited(
        &self,
        scope: &Scope,
        key: &SecretKey,
    ) -> ServiceResult<SecretView> {
        let row = self
            .store
            .secret(&scope.env.id, scope.path.as_str(), key.as_str(), None)
            .await?
            .ok_or_else(|| not_found(scope, key, None))?;
        self.view(&scope.project, &scope.env, &row).await
    }

    /// Irreversible removal of a secret and its history (admins only).
    pub async fn purge_secret(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        key: &SecretKey,
    ) -> ServiceResult<()> {
        self.authorize(
            ctx,
            &scope.project,
            &scope.grant,
            Some(&scope.env),
            Some(scope.path.as_str()),
            Action::Admin,
        )
        .await?;
        let head = self
            .store
            .secret_head(&scope.env.id, scope.path.as_str(), key.as_str())
            .await?
            .ok_or_else(|| not_found(scope, key, None))?;
        let mut event = self.scoped_event(ctx, scope, "purge-secret", vec![key.to_string()]);
        event.from_version = Some(head.current_version);
        self.store.purge(&head.secret_id, event).await?;
        Ok(())
    }

    /// Soft-deleted secrets of a folder, without values.
    pub async fn deleted_secrets(
        &self,
        ctx: &Ctx,
        scope: &Scope,
    ) -> ServiceResult<Vec<SecretHead>> {
        let rows = self
            .store
            .deleted_secrets(&scope.env.id, scope.path.as_str())
            .await?;
        let keys = rows.iter().map(|r| r.head.key.clone()).collect();
        self.store
            .append_audit(self.scoped_event(ctx, scope, "list-deleted-secrets", keys))
            .await?;
        Ok(rows.into_iter().map(|r| r.head).collect())
    }

    /// All retained versions, oldest first; values only when `reveal`.
    pub async fn history(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        key: &SecretKey,
        reveal: bool,
    ) -> ServiceResult<Vec<SecretView>> {
        let head = self
            .store
            .secret_head(&scope.env.id, scope.path.as_str(), key.as_str())
            .await?
            .filter(|h| h.deleted_at.is_none())
            .ok_or_else(|| not_found(scope, key, None))?;
        let versions = self.store.history(&head.secret_id).await?;
        let mut nonce = [0u8; 32];
        getrandom::getrandom(&mut nonce).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let mut out = Vec::with_capacity(versions.len());
        for v in versions {
            let row = SecretRow {
                head: head.clone(),
                version: v,
            };
            let mut view = self.view(&scope.project, &scope.env, &row).await?;
            if !reveal {
                view.fingerprint = Some(fingerprint(&nonce, &view.value));
                view.value = SecretValue::default();
            }
            out.push(view);
        }
        let event = if reveal {
            "get-secret-history-values"
        } else {
            "get-secret-history"
        };
        self.store
            .append_audit(self.scoped_event(ctx, scope, event, vec![key.to_string()]))
            .await?;
        Ok(out)
    }

    /// Writes a new version whose content is version `version`'s.
    pub async fn rollback(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        key: &SecretKey,
        version: i64,
    ) -> ServiceResult<WriteOutcome> {
        let old = self
            .store
            .secret(
                &scope.env.id,
                scope.path.as_str(),
                key.as_str(),
                Some(version),
            )
            .await?
            .ok_or_else(|| not_found(scope, key, Some(version)))?;
        let content = self
            .open_row(&scope.project, &scope.env, &old.head, &old.version)
            .await?;
        self.write_secret(
            ctx,
            scope,
            WriteInput {
                key: key.clone(),
                value: Some(content.value),
                comment: Some(content.comment),
                tags: Some(content.tags),
                mode: WriteMode::Update,
                if_version: None,
                event: "rollback-secret",
            },
        )
        .await
    }

    /// The background job: purge secrets whose recovery window has passed.
    pub async fn purge_expired(&self) -> ServiceResult<usize> {
        let ctx = Ctx::system();
        let audit_for = Box::new(move |h: &SecretHead| {
            let mut e = ctx.event("purge-expired-secret");
            e.project_id = Some(h.project_id.clone());
            e.path = Some(h.path.clone());
            e.keys = vec![h.key.clone()];
            e.from_version = Some(h.current_version);
            e
        });
        Ok(self.store.purge_expired(self.now_ms(), audit_for).await?)
    }
}

pub(super) fn fingerprint(key: &[u8; 32], value: &SecretValue) -> String {
    use hmac::{Hmac, Mac};
    match <Hmac<sha2::Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(value.expose().as_bytes());
            hex::encode(&mac.finalize().into_bytes()[..16])
        }
        Err(_) => String::new(),
    }
}

/// (secret id, stored current version, version visible to readers) of a
/// secret's head: a deleted secret is invisible (0) but keeps its id and
/// version counter, so a write revives it; a missing one gets a fresh id.
pub(super) fn head_state(head: Option<&SecretHead>) -> (String, i64, i64) {
    match head {
        Some(h) if h.deleted_at.is_none() => {
            (h.secret_id.clone(), h.current_version, h.current_version)
        }
        Some(h) => (h.secret_id.clone(), h.current_version, 0),
        None => (super::new_id(), 0, 0),
    }
}

/// `KEY` for the root folder, `/api/KEY` elsewhere (for audit rows).
pub fn qualified(path: &str, key: &str) -> String {
    if path == "/" {
        key.to_owned()
    } else {
        format!("{path}/{key}")
    }
}

fn not_found(scope: &Scope, key: &SecretKey, version: Option<i64>) -> ServiceError {
    let v = version.map(|v| format!(" version {v}")).unwrap_or_default();
    ServiceError::NotFound(format!(
        "Secret not found: {key}{v} in environment {:?}, path {:?}",
        scope.env.slug,
        scope.path.as_str()
    ))
}
