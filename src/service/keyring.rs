//! Unwrapped project data keys, cached in memory; the root key never leaves here.

use super::{now_ms, ServiceError, ServiceResult};
use crate::crypto::{Key, MAX_ENCRYPTIONS_PER_KEY};
use crate::store::{DataKeyRow, Store};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub struct Keyring {
    root: Key,
    /// (project id, key id) -> data key. Entries are immutable, so a cache is safe
    /// across replicas; a key made elsewhere is fetched on first sight.
    cache: RwLock<HashMap<(String, i64), Key>>,
    /// The newest key id per project, for new encryptions.
    current: RwLock<HashMap<String, i64>>,
}

impl Keyring {
    pub fn new(root: Key) -> Self {
        Self {
            root,
            cache: RwLock::new(HashMap::new()),
            current: RwLock::new(HashMap::new()),
        }
    }

    pub fn root(&self) -> &Key {
        &self.root
    }

    /// A fresh data key for a new project, wrapped under the root key.
    pub fn new_data_key(&self, project_id: &str, key_id: i64) -> ServiceResult<DataKeyRow> {
        let key = Key::generate().map_err(|e| ServiceError::Internal(e.to_string()))?;
        let wrapped = self
            .root
            .wrap(project_id, key_id, &key)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(DataKeyRow {
            project_id: project_id.to_owned(),
            key_id,
            wrapped,
            enc_count: 0,
            created_at: now_ms(),
        })
    }

    async fn load(&self, store: &Arc<dyn Store>, project_id: &str) -> ServiceResult<()> {
        let rows = store.data_keys(project_id).await?;
        let mut newest = None;
        let mut cache = self.cache.write().map_err(|_| poisoned())?;
        for row in rows {
            let key = self
                .root
                .unwrap_key(&row.project_id, row.key_id, &row.wrapped)
                .map_err(|_| {
                    ServiceError::Integrity(format!(
                        "data key {} of project {project_id} does not open under the root key",
                        row.key_id
                    ))
                })?;
            cache.insert((row.project_id.clone(), row.key_id), key);
            newest = newest.max(Some(row.key_id));
        }
        if let Some(id) = newest {
            self.current
                .write()
                .map_err(|_| poisoned())?
                .insert(project_id.to_owned(), id);
        }
        Ok(())
    }

    /// The key that opens ciphertexts sealed under `key_id`.
    pub async fn key(
        &self,
        store: &Arc<dyn Store>,
        project_id: &str,
        key_id: i64,
    ) -> ServiceResult<Key> {
        let id = (project_id.to_owned(), key_id);
        if let Some(k) = self.cache.read().map_err(|_| poisoned())?.get(&id) {
            return Ok(k.clone());
        }
        self.load(store, project_id).await?;
        self.cache
            .read()
            .map_err(|_| poisoned())?
            .get(&id)
            .cloned()
            .ok_or_else(|| {
                ServiceError::Integrity(format!("project {project_id} has no data key {key_id}"))
            })
    }

    /// The key new ciphertexts of this project are sealed with.
    pub async fn current(
        &self,
        store: &Arc<dyn Store>,
        project_id: &str,
    ) -> ServiceResult<(i64, Key)> {
        let known = self
            .current
            .read()
            .map_err(|_| poisoned())?
            .get(project_id)
            .copied();
        let key_id = match known {
            Some(id) => id,
            None => {
                self.load(store, project_id).await?;
                self.current
                    .read()
                    .map_err(|_| poisoned())?
                    .get(project_id)
                    .copied()
                    .ok_or_else(|| {
                        ServiceError::Integrity(format!("project {project_id} has no data key"))
                    })?
            }
        };
        Ok((key_id, self.key(store, project_id, key_id).await?))
    }

    /// Called with a key's encryption count after each write: past the limit, a new
    /// data key is made so no key comes near the AES-GCM random-nonce bound.
    pub async fn note_usage(
        &self,
        store: &Arc<dyn Store>,
        project_id: &str,
        key_id: i64,
        count: i64,
    ) -> ServiceResult<()> {
        if count < MAX_ENCRYPTIONS_PER_KEY {
            return Ok(());
        }
        let row = self.new_data_key(project_id, key_id + 1)?;
        match store.add_data_key(row).await {
            // Another writer (or replica) rotated first: use theirs.
            Ok(()) | Err(crate::store::StoreError::Duplicate(_)) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(
            project_id,
            new_key_id = key_id + 1,
            "rotated project data key after {count} encryptions"
        );
        self.load(store, project_id).await
    }

    /// Re-wraps every data key under `new_root`; returns the rows to store.
    pub async fn rewrap_all(
        &self,
        store: &Arc<dyn Store>,
        new_root: &Key,
    ) -> ServiceResult<Vec<DataKeyRow>> {
        let mut out = Vec::new();
        for mut row in store.all_data_keys().await? {
            let key = self
                .root
                .unwrap_key(&row.project_id, row.key_id, &row.wrapped)
                .map_err(|_| {
                    ServiceError::Integrity(format!(
                        "data key {} of project {} does not open under the current root key",
                        row.key_id, row.project_id
                    ))
                })?;
            row.wrapped = new_root
                .wrap(&row.project_id, row.key_id, &key)
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            out.push(row);
        }
        Ok(out)
    }
}

fn poisoned() -> ServiceError {
    ServiceError::Internal("keyring lock poisoned".into())
}
