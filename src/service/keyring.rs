//! Unwrapped project data keys, cached in memory; the root key never leaves
//! here. With an external root key provider the cache is also what keeps
//! reads going through a short outage: `availability` says how long.

use super::{now_ms, ServiceError, ServiceResult};
use crate::crypto::{Key, MAX_ENCRYPTIONS_PER_KEY};
use crate::keys::availability::{Availability, Verdict};
use crate::keys::{ProviderError, RootKeys};
use crate::store::rekey::GenerationRow;
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
    /// The newest live key id per project, for new encryptions.
    current: RwLock<HashMap<String, i64>>,
    generations: RwLock<Generations>,
}

/// Root key generations this replica holds: their unwrapped keys and which
/// one is current (`None` until read from the database).
#[derive(Default)]
struct Generations {
    current: Option<i64>,
    keys: HashMap<i64, Key>,
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
            generations: RwLock::new(Generations::default()),
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
        if let Ok(mut g) = self.generations.write() {
            g.keys.clear();
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

    /// The current root key generation (read from the database once, then
    /// whenever a write finds it stale).
    pub async fn generation(&self, store: &Arc<dyn Store>) -> ServiceResult<i64> {
        let known = self.generations.read().map_err(|_| poisoned())?.current;
        match known {
            Some(g) => Ok(g),
            None => self.reload_generations(store).await,
        }
    }

    /// Reads the generation rows again, unwraps the ones not yet held and
    /// drops the keys of generations that are gone. Returns the current one.
    pub async fn reload_generations(&self, store: &Arc<dyn Store>) -> ServiceResult<i64> {
        let rows = store.rekey().root_generations().await?;
        let held: Vec<i64> = {
            let g = self.generations.read().map_err(|_| poisoned())?;
            g.keys.keys().copied().collect()
        };
        let mut opened = HashMap::new();
        for row in &rows {
            if held.contains(&row.generation) {
                continue;
            }
            self.usable()?;
            let key = self
                .root
                .unwrap_generation_key(row.generation, &row.wrapped)
                .await
                .map_err(|e| {
                    self.provider_failed(
                        e,
                        format!("root key generation {} does not open", row.generation),
                    )
                })?;
            opened.insert(row.generation, key);
        }
        let current = rows.iter().map(|r| r.generation).max().unwrap_or(0);
        let mut g = self.generations.write().map_err(|_| poisoned())?;
        g.keys.extend(opened);
        g.keys
            .retain(|k, _| rows.iter().any(|r| r.generation == *k));
        g.current = Some(current);
        Ok(current)
    }

    /// Holds a generation key this replica made (a rotation), as current.
    pub(super) fn adopt_generation(&self, generation: i64, key: Key) -> ServiceResult<()> {
        let mut g = self.generations.write().map_err(|_| poisoned())?;
        g.keys.retain(|k, _| *k >= generation);
        g.keys.insert(generation, key);
        g.current = Some(generation);
        Ok(())
    }

    async fn generation_key(&self, store: &Arc<dyn Store>, generation: i64) -> ServiceResult<Key> {
        let cached = self
            .generations
            .read()
            .map_err(|_| poisoned())?
            .keys
            .get(&generation)
            .cloned();
        if let Some(k) = cached {
            return Ok(k);
        }
        self.reload_generations(store).await?;
        self.generations
            .read()
            .map_err(|_| poisoned())?
            .keys
            .get(&generation)
            .cloned()
            .ok_or_else(|| {
                ServiceError::Integrity(format!(
                    "root key generation {generation} is not in the database"
                ))
            })
    }

    /// Opens a stored data key, whichever generation wrapped it.
    pub(super) async fn unwrap_row(
        &self,
        store: &Arc<dyn Store>,
        row: &DataKeyRow,
    ) -> ServiceResult<Key> {
        let what = || {
            format!(
                "data key {} of project {} does not open under the root key",
                row.key_id, row.project_id
            )
        };
        if row.generation == 0 {
            return self
                .root
                .unwrap_data_key(&row.project_id, row.key_id, &row.wrapped)
                .await
                .map_err(|e| self.provider_failed(e, what()));
        }
        self.generation_key(store, row.generation)
            .await?
            .unwrap_key(&row.project_id, row.key_id, &row.wrapped)
            .map_err(|_| ServiceError::Integrity(what()))
    }

    /// Wraps `key` under `generation` (0: the root key itself).
    pub(super) async fn wrap_under(
        &self,
        store: &Arc<dyn Store>,
        generation: i64,
        project_id: &str,
        key_id: i64,
        key: &Key,
    ) -> ServiceResult<Vec<u8>> {
        if generation == 0 {
            return self
                .root
                .wrap_data_key(project_id, key_id, key)
                .await
                .map_err(|e| {
                    self.provider_failed(
                        e,
                        format!("wrapping data key {key_id} of project {project_id}"),
                    )
                });
        }
        self.generation_key(store, generation)
            .await?
            .wrap(project_id, key_id, key)
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// A fresh data key, wrapped under the current root key generation.
    pub async fn new_data_key(
        &self,
        store: &Arc<dyn Store>,
        project_id: &str,
        key_id: i64,
    ) -> ServiceResult<DataKeyRow> {
        self.usable()?;
        let key = Key::generate().map_err(|e| ServiceError::Internal(e.to_string()))?;
        let generation = self.generation(store).await?;
        let wrapped = self
            .wrap_under(store, generation, project_id, key_id, &key)
            .await?;
        Ok(DataKeyRow {
            project_id: project_id.to_owned(),
            key_id,
            wrapped,
            enc_count: 0,
            created_at: now_ms(),
            generation,
            retired_at: None,
        })
    }

    /// Forgets what a stale-key refusal showed to be out of date: the
    /// generation and the project's current data key. The next use reads
    /// both again.
    pub async fn refresh(&self, store: &Arc<dyn Store>, project_id: &str) -> ServiceResult<()> {
        self.reload_generations(store).await?;
        self.load(store, project_id).await
    }

    async fn load(&self, store: &Arc<dyn Store>, project_id: &str) -> ServiceResult<()> {
        let rows = store.data_keys(project_id).await?;
        let mut newest = None;
        let mut opened = Vec::with_capacity(rows.len());
        // Unwrapped before the cache lock is taken: an external provider
        // answers over the network.
        for row in &rows {
            let key = self.unwrap_row(store, row).await?;
            if row.retired_at.is_none() {
                newest = newest.max(Some(row.key_id));
            }
            opened.push(((row.project_id.clone(), row.key_id), key));
        }
        {
            let mut cache = self.cache.write().map_err(|_| poisoned())?;
            // Destroyed keys leave the cache (zeroed as they drop).
            cache.retain(|(p, id), _| p != project_id || rows.iter().any(|r| r.key_id == *id));
            cache.extend(opened);
        }
        let mut current = self.current.write().map_err(|_| poisoned())?;
        match newest {
            Some(id) => current.insert(project_id.to_owned(), id),
            None => current.remove(project_id),
        };
        Ok(())
    }

    /// The data key this replica seals new ciphertexts of the project with,
    /// if it has loaded the project's keys.
    pub fn known_current(&self, project_id: &str) -> ServiceResult<Option<i64>> {
        Ok(self
            .current
            .read()
            .map_err(|_| poisoned())?
            .get(project_id)
            .copied())
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
        let row = self.new_data_key(store, project_id, key_id + 1).await?;
        match store.add_data_key(row).await {
            // Another writer (or replica) rotated first: use theirs.
            Ok(()) | Err(crate::store::StoreError::Duplicate(_)) => {}
            // The root key generation changed meanwhile: the next write
            // finds the key count still high and tries again.
            Err(crate::store::StoreError::StaleKey(_)) => {
                self.reload_generations(store).await?;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(
            project_id,
            new_key_id = key_id + 1,
            "rotated project data key after {count} encryptions"
        );
        self.load(store, project_id).await
    }

    /// What an offline change of an in-process root key to `new_root`
    /// re-wraps: the data keys the root key wraps itself (generation 0) and
    /// the generation keys; data keys of later generations stay as they are.
    pub async fn rewrap_all(
        &self,
        store: &Arc<dyn Store>,
        new_root: &Key,
    ) -> ServiceResult<(Vec<DataKeyRow>, Vec<GenerationRow>)> {
        let new_root = RootKeys::in_process(new_root.clone());
        let fail = |e: ProviderError| ServiceError::Internal(e.to_string());
        let mut keys = Vec::new();
        for mut row in store.all_data_keys().await? {
            if row.generation != 0 {
                continue;
            }
            let key = self.unwrap_row(store, &row).await?;
            row.wrapped = new_root
                .wrap_data_key(&row.project_id, row.key_id, &key)
                .await
                .map_err(fail)?;
            keys.push(row);
        }
        let mut generations = Vec::new();
        for mut row in store.rekey().root_generations().await? {
            let key = self.generation_key(store, row.generation).await?;
            row.wrapped = new_root
                .wrap_generation_key(row.generation, &key)
                .await
                .map_err(fail)?;
            row.provider = new_root.kind().to_owned();
            generations.push(row);
        }
        Ok((keys, generations))
    }
}

fn poisoned() -> ServiceError {
    ServiceError::Internal("keyring lock poisoned".into())
}
