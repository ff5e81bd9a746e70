//! Folders of an environment. A folder exists when it was created explicitly
//! (a `folders` row) or implicitly, because a live secret is stored at or below
//! its path (`hush set api/KEY=...` makes `/api` exist). Listings show both.
//!
//! Deleting a folder that still holds live secrets is refused unless the caller
//! forces it; then those secrets are soft-deleted with it, in one transaction,
//! and stay recoverable with `hush restore` for the recovery window.

use super::secrets::Scope;
use super::{Action, Ctx, Service, ServiceError, ServiceResult};
use crate::secret::SecretPath;
use crate::store::{DeleteFolder, EnvRow, FolderRow, StoreError};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct FolderView {
    pub id: String,
    pub name: String,
    /// The folder's full path, e.g. `/prod/api`.
    pub path: String,
    pub parent_id: String,
    pub env_id: String,
    /// None for an implicit folder (no row of its own).
    pub created_at: Option<i64>,
    pub implicit: bool,
    /// Newest write to a live secret directly in this folder.
    pub last_secret_modified: Option<i64>,
}

/// A stable id for a folder that has no row: implicit folders and the root
/// still need an `id` in Infisical's folder object.
fn synthetic_id(env_id: &str, path: &str) -> String {
    let digest = Sha256::digest(format!("{env_id}\0{path}").as_bytes());
    let h = hex::encode(&digest[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Service {
    /// Every folder of the environment (explicit and implicit), by path;
    /// excludes the root.
    async fn folder_index(&self, env: &EnvRow) -> ServiceResult<BTreeMap<String, FolderView>> {
        let rows = self.store.folders(&env.id).await?;
        let explicit: BTreeMap<String, FolderRow> =
            rows.into_iter().map(|r| (r.path.clone(), r)).collect();
        // Secret paths make folders too. This reads the environment's heads;
        // fine at the sizes hush targets, and keeps the Store trait small.
        let secrets = self.store.secrets(&env.id, "/", true).await?;
        let mut last_modified: BTreeMap<String, i64> = BTreeMap::new();
        for s in &secrets {
            let t = last_modified.entry(s.head.path.clone()).or_insert(0);
            *t = (*t).max(s.version.created_at);
        }
        let mut paths: Vec<SecretPath> = Vec::new();
        for p in explicit.keys().chain(last_modified.keys()) {
            if let Ok(path) = SecretPath::parse(p) {
                paths.extend(path.with_ancestors());
            }
        }
        let id_of = |path: &str| {
            explicit
                .get(path)
                .map(|r| r.id.clone())
                .unwrap_or_else(|| synthetic_id(&env.id, path))
        };
        let mut out = BTreeMap::new();
        for path in paths {
            if path.is_root() || out.contains_key(path.as_str()) {
                continue;
            }
            let parent = path.parent().unwrap_or_else(SecretPath::root);
            let row = explicit.get(path.as_str());
            out.insert(
                path.as_str().to_owned(),
                FolderView {
                    id: id_of(path.as_str()),
                    name: path.name().to_owned(),
                    path: path.as_str().to_owned(),
                    parent_id: id_of(parent.as_str()),
                    env_id: env.id.clone(),
                    created_at: row.map(|r| r.created_at),
                    implicit: row.is_none(),
                    last_secret_modified: last_modified.get(path.as_str()).copied(),
                },
            );
        }
        Ok(out)
    }

    fn missing_folder(scope: &Scope, path: &str) -> ServiceError {
        ServiceError::NotFound(format!(
            "Folder with path {path:?} not found in environment {:?}",
            scope.env.slug
        ))
    }

    /// Folders directly in `scope.path` (or anywhere below it when `recursive`)
    /// that the caller may see: a folder it may read, or one on the way to a
    /// folder it may read (its name is in that folder's path anyway). Only a
    /// readable folder shows when its secrets last changed.
    pub async fn list_folders(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        recursive: bool,
    ) -> ServiceResult<Vec<FolderView>> {
        let index = self.folder_index(&scope.env).await?;
        let base = &scope.path;
        if !base.is_root() && !index.contains_key(base.as_str()) {
            return Err(Self::missing_folder(scope, base.as_str()));
        }
        let readable: Vec<&str> = index
            .keys()
            .map(String::as_str)
            .filter(|p| scope.allows(Action::Read, p))
            .collect();
        let on_the_way = |path: &str| {
            let below = format!("{path}/");
            readable.iter().any(|r| r.starts_with(&below))
        };
        let listed: Vec<FolderView> = index
            .values()
            .filter(|f| {
                let Ok(p) = SecretPath::parse(&f.path) else {
                    return false;
                };
                if recursive {
                    p != *base && base.contains(&p)
                } else {
                    p.parent().as_ref() == Some(base)
                }
            })
            .filter_map(|f| {
                if readable.contains(&f.path.as_str()) {
                    Some(f.clone())
                } else if on_the_way(&f.path) {
                    Some(FolderView {
                        last_secret_modified: None,
                        ..f.clone()
                    })
                } else {
                    None
                }
            })
            .collect();
        let mut event = self.scoped_event(ctx, scope, "list-folders", Vec::new());
        event.keys = listed.iter().map(|f| f.path.clone()).collect();
        self.store.append_audit(event).await?;
        Ok(listed)
    }

    /// Creates folder `name` inside `scope.path` (which must exist).
    pub async fn create_folder(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        name: &str,
    ) -> ServiceResult<FolderView> {
        if name.contains('/') {
            return Err(ServiceError::Validation(format!(
                "invalid folder name {name:?}: a name is one path segment; pass the parent as path"
            )));
        }
        let path = scope.path.join(name)?;
        // The new folder is a path the write touches: a caller denied it
        // learns nothing, not even whether it exists.
        self.authorize_path(ctx, scope, path.as_str(), Action::Write)
            .await?;
        let index = self.folder_index(&scope.env).await?;
        if !scope.path.is_root() && !index.contains_key(scope.path.as_str()) {
            return Err(Self::missing_folder(scope, scope.path.as_str()));
        }
        if index.contains_key(path.as_str()) {
            return Err(ServiceError::BadRequest(format!(
                "Folder {path} already exists in environment {:?}",
                scope.env.slug
            )));
        }
        let row = FolderRow {
            id: super::new_id(),
            project_id: scope.project.id.clone(),
            env_id: scope.env.id.clone(),
            path: path.as_str().to_owned(),
            created_at: self.now_ms(),
        };
        let mut event = self.scoped_event(ctx, scope, "create-folder", Vec::new());
        event.path = Some(path.as_str().to_owned());
        self.store.create_folder(row.clone(), event).await?;
        let parent = scope.path.as_str();
        Ok(FolderView {
            id: row.id,
            name: path.name().to_owned(),
            path: row.path,
            parent_id: index
                .get(parent)
                .map(|f| f.id.clone())
                .unwrap_or_else(|| synthetic_id(&scope.env.id, parent)),
            env_id: scope.env.id.clone(),
            created_at: Some(row.created_at),
            implicit: false,
            last_secret_modified: None,
        })
    }

    /// Deletes the folder called (or with id) `id_or_name` inside `scope.path`.
    /// Returns it and the keys soft-deleted with it (`force` only).
    pub async fn delete_folder(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        id_or_name: &str,
        force: bool,
    ) -> ServiceResult<(FolderView, Vec<String>)> {
        let index = self.folder_index(&scope.env).await?;
        let index_paths: Vec<String> = index.keys().cloned().collect();
        let folder = index
            .into_values()
            .find(|f| {
                SecretPath::parse(&f.path)
                    .ok()
                    .and_then(|p| p.parent())
                    .as_ref()
                    == Some(&scope.path)
                    && (f.id == id_or_name || f.name == id_or_name)
            })
            .ok_or_else(|| {
                let shown = scope.path.join(id_or_name).map(|p| p.to_string());
                Self::missing_folder(scope, shown.as_deref().unwrap_or(id_or_name))
            })?;
        // The whole subtree goes: every folder in it must be the caller's to
        // write (a secret's folder is in the index, so this covers them all).
        let below = format!("{}/", folder.path);
        let checked_paths: Vec<String> = index_paths
            .into_iter()
            .filter(|p| *p == folder.path || p.starts_with(&below))
            .collect();
        if let Some(denied) = checked_paths
            .iter()
            .find(|p| !scope.allows(Action::Write, p))
        {
            self.authorize_path(ctx, scope, denied, Action::Write)
                .await?;
        }
        let mut event = self.scoped_event(ctx, scope, "delete-folder", Vec::new());
        event.path = Some(folder.path.clone());
        let now = self.now_ms();
        let deleted = self
            .store
            .delete_folder(
                DeleteFolder {
                    env_id: scope.env.id.clone(),
                    path: folder.path.clone(),
                    force,
                    now,
                    purge_after: now + self.recovery_window_ms(&scope.project),
                    checked_paths,
                },
                event,
            )
            .await
            .map_err(|e| match e {
                StoreError::NotEmpty(m) => ServiceError::BadRequest(format!(
                    "{m}; pass forceDelete=true to soft-delete them with the folder (recoverable)"
                )),
                other => other.into(),
            })?;
        Ok((folder, deleted))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn synthetic_ids_are_stable_and_distinct() {
        let a = super::synthetic_id("env", "/a");
        assert_eq!(a, super::synthetic_id("env", "/a"));
        assert_ne!(a, super::synthetic_id("env", "/b"));
        assert_eq!(a.len(), 36);
    }
}
