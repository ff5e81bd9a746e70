//! Unwrapped project data keys, cached in memory; the root key never leaves
//! here. With an external root key provider the cache is also what keeps
//! reads going through a short outage: `availability` says how long.

use super::{now_ms, ServiceError, ServiceResult};
use crate::crypto::{Key, MAX_ENCRYPTIONS_PER_KEY};
use crate::keys::availability::{Availability, Verdict};
use crate::keys::{ProviderError, RootKeys};
use crate::store::{DataKeyRow, Store};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub struct Keyring {
    root: RootKeys,
    availability: Availability,
    /// (project id, key id) -> data key. Entries are immutable, so a cache is safe
    /// across replicas; a key made elsewhere is fetched on first sight.
    cache: RwLock<HashMap<(String, i64), Key>>,
    /// The newest key id per project, for new encryptions.
    current: RwLock<HashMap<String, i64>>,
}

impl Keyring {
    /// A keyring on an in-process (`file`/`env`) root key.
    pub fn new(root: Key) -> Self {
        Self::with_provider(
            RootKeys::in_process(root),
            crate::keys::settings::DEFAULT_CACHE_GRACE,
        )
    }

    /// `grace`: how long cached data keys serve while an external provider
    /// is down (unused with `file`/`env`, which cannot be).
    pub fn with_provider(root: RootKeys, grace: Duration) -> Self {
        Self {
            root,
            availability: Availability::new(grace),
            cache: RwLock::new(HashMap::new()),
            current: RwLock::new(HashMap::new()),
        }
    }

    /// The key hush derives its own keys from (audit chain, SSO, sealed
    /// credentials): the root key itself with `file`/`env`.
    pub fn root(&self) -> &Key {
        self.root.local()
    }

    pub fn root_keys(&self) -> &RootKeys {
        &self.root
    }

    /// Why the root key provider is unavailable, while it is.
    pub fn provider_unavailable(&self) -> Option<String> {
        self.availability.reason()
    }

    /// Asks the provider whether it answers (the server's watch job calls
    /// this); past the grace time without it, the cache is dropped.
    pub async fn check_provider(&self) {
        if !self.root.is_external() {
            return;
        }
        match self.root.provider().health().await {
            Ok(()) => self.availability.mark_up(),
            Err(e) => self.availability.mark_down(&e.to_string()),
        }
        if self.availability.verdict() == Verdict::Expired {
            self.forget_all();
        }
    }

    /// Drops every cached data key (each is zeroed as it is dropped).
    fn forget_all(&self) {
        let dropped = match self.cache.write() {
            Ok(mut cache) => std::mem::take(&mut *cache).len(),
            Err(_) => 0,
        };
        if let Ok(mut current) = self.current.write() {
            current.clear();
        }
        if dropped > 0 {
            tracing::warn!(
                "root key provider down for longer than {:?}: dropped {dropped} cached data key(s)",
                self.availability.grace()
            );
        }
    }

    /// What a provider failure means for the request: a 503 while it is
    /// unreachable (and the outage is recorded), an integrity error when it
    /// refused the wrapped key.
    fn provider_failed(&self, e: ProviderError, what: String) -> ServiceError {
        match e {
            ProviderError::Unavailable(reason) => {
                self.availability.mark_down(&reason);
                ServiceError::Unavailable(
                    "the root key provider is unavailable; try again later".into(),
                )
            }
            ProviderError::Refused(reason) => ServiceError::Integrity(format!("{what}: {reason}")),
        }
    }

    /// Refuses (and forgets the cache) once the provider has been down for
    /// longer than the grace time.
    fn usable(&self) -> ServiceResult<()> {
        // `file`/`env` cannot be down: no lock on the read path.
        if !self.root.is_external() {
            return Ok(());
        }
        if self.availability.verdict() == Verdict::Expired {
            self.forget_all();
            return Err(ServiceError::Unavailable(
                "the root key provider is unavailable; try again later".into(),
            ));
        }
        Ok(())
    }

    /// A fresh data key for a new project, wrapped under the root key.
    pub async fn new_data_key(&self, project_id: &str, key_id: i64) -> ServiceResult<DataKeyRow> {
        self.usable()?;
        let key = Key::generate().map_err(|e| ServiceError::Internal(e.to_string()))?;
        let wrapped = self
            .root
            .wrap_data_key(project_id, key_id, &key)
            .await
            .map_err(|e| {
                self.provider_failed(
                    e,
                    format!("wrapping data key {key_id} of project {project_id}"),
                )
            })?;
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
        let mut opened = Vec::with_capacity(rows.len());
        // Unwrapped before the cache lock is taken: an external provider
        // answers over the network.
        for row in rows {
            let key = self
                .root
                .unwrap_data_key(&row.project_id, row.key_id, &row.wrapped)
                .await
                .map_err(|e| {
                    self.provider_failed(
                        e,
                        format!(
                            "data key {} of project {project_id} does not open under the root key",
                            row.key_id
                        ),
                    )
                })?;
            newest = newest.max(Some(row.key_id));
            opened.push(((row.project_id, row.key_id), key));
        }
        self.cache.write().map_err(|_| poisoned())?.extend(opened);
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
        self.usable()?;
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
        self.usable()?;
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
        let row = self.new_data_key(project_id, key_id + 1).await?;
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
                .unwrap_data_key(&row.project_id, row.key_id, &row.wrapped)
                .await
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
