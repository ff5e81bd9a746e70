//! Online re-keying (issue 25), with the server running on every replica.
//!
//! - `rotate_root`: a new root key generation. A fresh generation key,
//!   wrapped by the root key provider, wraps every data key; the older
//!   generation keys are deleted in the same transaction. Replicas learn it
//!   from the database: one that still wraps under an older generation is
//!   refused (`StaleKey`) and reloads.
//! - `rotate_data`: new data keys. Each project gets a new data key at once
//!   (new writes use it) and its older keys are retired; a background job
//!   (`rekey_step`, on whichever replica claims it) seals every ciphertext
//!   again under the new key, in throttled batches that each commit, and
//!   then destroys the retired keys. A copy of the database taken before,
//!   with the root key of then, opens nothing written after.
//! - a policy (`Settings::root_key_rotation`) does both when the current
//!   generation is older than it says.

use super::{Ctx, Service, ServiceError, ServiceResult};
use crate::crypto::{secret_aad, Field, Key};
use crate::store::rekey::{GenerationRow, JobClaim, RekeyJob, Resealed, SealedKind, SealedRow};
use crate::store::{StoreError, StoreResult};
use std::time::Duration;

/// How long a replica's claim on a job lasts without a batch committing.
const CLAIM_MS: i64 = 15_000;
/// Tries of a rotation that finds the keys changed under it.
const ROTATE_ATTEMPTS: usize = 5;

/// What `rotate_root` did.
#[derive(Clone, Debug)]
pub struct RootRotated {
    pub generation: i64,
    pub provider: String,
    pub data_keys: usize,
}

/// A project whose data key was replaced and whose ciphertexts are being
/// sealed again.
#[derive(Clone, Debug)]
pub struct DataRotated {
    pub project_id: String,
    pub key_id: i64,
    pub to_reseal: i64,
}

/// What `hush keys status` shows.
#[derive(Clone, Debug)]
pub struct KeyStatus {
    pub provider: String,
    pub provider_description: String,
    pub generation: i64,
    /// When the current generation was made (for generation 0, the oldest
    /// data key).
    pub generation_created_at: Option<i64>,
    pub next_rotation_at: Option<i64>,
    pub data_keys: usize,
    pub retired_data_keys: usize,
    /// Keys (generation keys, or data keys of generation 0) still wrapped
    /// by another provider than this server's: a migration is not done
    /// until this is 0 (`hush keys rotate-root` makes it so).
    pub under_previous_provider: usize,
    pub jobs: Vec<RekeyJob>,
}

/// The AAD a stored ciphertext was sealed with (`SealedRow` names where it
/// lives); the KMS key's depends on its data key id.
fn aad_of(project_id: &str, row: &SealedRow, field: usize, key_id: i64) -> Vec<u8> {
    match row.kind {
        SealedKind::Version => {
            let field = [Field::Value, Field::Comment, Field::Tags][field];
            secret_aad(
                project_id,
                &row.env_id,
                &row.path,
                &row.key,
                row.version,
                field,
            )
        }
        SealedKind::Personal => secret_aad(
            project_id,
            &row.env_id,
            &row.path,
            &format!("{}\0personal\0{}", row.key, row.owner),
            row.version,
            Field::Value,
        ),
        SealedKind::Dynamic => super::dynamic::admin_aad(project_id, &row.id),
        SealedKind::Kms => super::kms::key_aad(project_id, &row.id, key_id),
    }
}

impl Service {
    /// A store result after which a stale-key refusal reloads the keys, so
    /// the caller's next try uses the current ones.
    pub(super) async fn stale_keys<T>(
        &self,
        project_id: &str,
        result: StoreResult<T>,
    ) -> ServiceResult<T> {
        if let Err(StoreError::StaleKey(_)) = &result {
            self.keys.refresh(&self.store, project_id).await?;
        }
        Ok(result?)
    }

    /// `hush keys rotate-root` (server admins).
    pub async fn rotate_root(&self, ctx: &Ctx) -> ServiceResult<RootRotated> {
        self.require_server_admin(ctx, "rotate-root-key-generation", "")
            .await?;
        self.rotate_root_as(ctx, None)
            .await?
            .ok_or_else(|| ServiceError::Internal("rotation skipped".into()))
    }

    /// With `from`: only if `from` is still the current generation (None
    /// when another replica rotated first).
    async fn rotate_root_as(
        &self,
        ctx: &Ctx,
        from: Option<i64>,
    ) -> ServiceResult<Option<RootRotated>> {
        for _ in 0..ROTATE_ATTEMPTS {
            let current = self.keys.reload_generations(&self.store).await?;
            if from.is_some_and(|g| g != current) {
                return Ok(None);
            }
            let generation = current + 1;
            let key = Key::generate().map_err(|e| ServiceError::Internal(e.to_string()))?;
            let wrapped = self
                .keys
                .root_keys()
                .wrap_generation_key(generation, &key)
                .await
                .map_err(|e| {
                    ServiceError::Unavailable(format!(
                        "the root key provider cannot wrap a new generation key: {e}"
                    ))
                })?;
            let mut rows = self.store.all_data_keys().await?;
            for row in &mut rows {
                // The cached key when there is one: no provider call per key.
                let data_key = self
                    .keys
                    .key(&self.store, &row.project_id, row.key_id)
                    .await?;
                row.wrapped = key
                    .wrap(&row.project_id, row.key_id, &data_key)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?;
                row.generation = generation;
            }
            let provider = self.keys.root_keys().kind().to_owned();
            let count = rows.len();
            let mut event = ctx.event("rotate-root-key-generation");
            event.keys = vec![format!("generation {generation}"), provider.clone()];
            let row = GenerationRow {
                generation,
                provider: provider.clone(),
                wrapped,
                created_at: self.now_ms(),
                created_by: ctx.actor.name.clone(),
            };
            match self.store.rekey().rotate_root(row, rows, event).await {
                Ok(()) => {
                    self.keys.adopt_generation(generation, key)?;
                    tracing::info!(generation, count, "rotated the root key generation");
                    return Ok(Some(RootRotated {
                        generation,
                        provider,
                        data_keys: count,
                    }));
                }
                Err(StoreError::StaleKey(_)) if from.is_some() => return Ok(None),
                Err(StoreError::StaleKey(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unavailable(
            "the keys kept changing while the rotation ran; try again".into(),
        ))
    }

    /// `hush keys rotate-data [--project P]` (server admins): a new data key
    /// for the project (or every project) and a job sealing its
    /// ciphertexts again.
    pub async fn rotate_data(
        &self,
        ctx: &Ctx,
        project: Option<&str>,
    ) -> ServiceResult<Vec<DataRotated>> {
        self.require_server_admin(ctx, "rotate-data-keys", project.unwrap_or(""))
            .await?;
        // Server admins rotate keys of projects they are no member of: the
        // keys are the server's, not the project's content.
        let projects = match project {
            Some(p) => vec![self
                .store
                .project(p)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("project {p:?} not found")))?],
            None => self.store.projects().await?,
        };
        let mut out = Vec::with_capacity(projects.len());
        for p in projects {
            out.push(self.rotate_project_data(ctx, &p.id).await?);
        }
        Ok(out)
    }

    async fn rotate_project_data(&self, ctx: &Ctx, project_id: &str) -> ServiceResult<DataRotated> {
        for _ in 0..ROTATE_ATTEMPTS {
            let newest = self
                .store
                .data_keys(project_id)
                .await?
                .iter()
                .map(|k| k.key_id)
                .max()
                .unwrap_or(0);
            let row = self
                .keys
                .new_data_key(&self.store, project_id, newest + 1)
                .await?;
            let key_id = row.key_id;
            let mut event = ctx.event("rotate-data-key");
            event.project_id = Some(project_id.to_owned());
            event.keys = vec![format!("data key {key_id}")];
            let started = self
                .store
                .rekey()
                .start_rekey(row, &ctx.actor.name, event)
                .await;
            match started {
                Ok(to_reseal) => {
                    self.keys.refresh(&self.store, project_id).await?;
                    return Ok(DataRotated {
                        project_id: project_id.to_owned(),
                        key_id,
                        to_reseal,
                    });
                }
                // Another rotation (or replica) got there first, or the
                // generation moved on: look again.
                Err(StoreError::Duplicate(_)) => continue,
                Err(StoreError::StaleKey(_)) => {
                    self.keys.reload_generations(&self.store).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unavailable(
            "the project's keys kept changing; try again".into(),
        ))
    }

    /// `hush keys status` (server admins).
    pub async fn key_status(&self, ctx: &Ctx) -> ServiceResult<KeyStatus> {
        self.require_server_admin(ctx, "read-key-status", "")
            .await?;
        self.key_status_inner().await
    }

    async fn key_status_inner(&self) -> ServiceResult<KeyStatus> {
        let generations = self.store.rekey().root_generations().await?;
        let keys = self.store.all_data_keys().await?;
        let current = generations.last();
        let created = match current {
            Some(g) => Some(g.created_at),
            None => keys.iter().map(|k| k.created_at).min(),
        };
        let every = self.settings.root_key_rotation;
        let root = self.keys.root_keys();
        let under_previous = generations
            .iter()
            .filter(|g| !root.wraps(&g.wrapped))
            .count()
            + keys
                .iter()
                .filter(|k| k.generation == 0 && !root.wraps(&k.wrapped))
                .count();
        Ok(KeyStatus {
            under_previous_provider: under_previous,
            provider: self.keys.root_keys().kind().to_owned(),
            provider_description: self.keys.root_keys().provider().describe(),
            generation: current.map(|g| g.generation).unwrap_or(0),
            generation_created_at: created,
            next_rotation_at: every.zip(created).map(|(d, c)| c + d.as_millis() as i64),
            data_keys: keys.len(),
            retired_data_keys: keys.iter().filter(|k| k.retired_at.is_some()).count(),
            jobs: self.store.rekey().rekey_jobs().await?,
        })
    }

    /// Applies the rotation policy: when the current generation is older
    /// than `root_key_rotation`, a new generation and new data keys for
    /// every project. Every replica asks; the database lets one rotation
    /// through per generation (the others find theirs stale, or the
    /// generation moved on, and stop). Returns whether this replica rotated.
    pub async fn apply_rotation_policy(&self) -> ServiceResult<bool> {
        let Some(every) = self.settings.root_key_rotation else {
            return Ok(false);
        };
        let status = self.key_status_inner().await?;
        let due = match status.generation_created_at {
            Some(created) => self.now_ms() >= created + every.as_millis() as i64,
            None => false, // no data key yet: nothing to rotate
        };
        if !due {
            return Ok(false);
        }
        let ctx = Ctx::system();
        // Every replica asks; the one whose rotation lands does the rest.
        let Some(rotated) = self.rotate_root_as(&ctx, Some(status.generation)).await? else {
            return Ok(false);
        };
        for p in self.store.projects().await? {
            self.rotate_project_data(&ctx, &p.id).await?;
        }
        tracing::info!(
            generation = rotated.generation,
            "root key rotation policy: rotated the root key generation and every data key"
        );
        Ok(true)
    }

    /// One pass of the re-encryption worker: claims a job and seals its
    /// ciphertexts again in batches of `batch`, pausing `pause` between
    /// batches, for up to `budget`. Returns how many were sealed again.
    pub async fn rekey_step(
        &self,
        owner: &str,
        batch: i64,
        pause: Duration,
        budget: Duration,
    ) -> ServiceResult<i64> {
        let now = self.now_ms();
        let Some(job) = self
            .store
            .rekey()
            .claim_rekey_job(owner, now, now + CLAIM_MS)
            .await?
        else {
            return Ok(0);
        };
        let started = std::time::Instant::now();
        let mut resealed = 0;
        loop {
            let now = self.now_ms();
            let claim = JobClaim {
                project_id: job.project_id.clone(),
                owner: owner.to_owned(),
                now,
                until: now + CLAIM_MS,
            };
            match self.rekey_batch(&claim, job.target_key_id, batch).await {
                Ok(Some(n)) => resealed += n,
                Ok(None) => return Ok(resealed), // finished, or the claim was lost
                Err(e) => {
                    let text = e.to_string();
                    self.store.rekey().rekey_failed(&claim, &text).await?;
                    return Err(e);
                }
            }
            if started.elapsed() >= budget {
                return Ok(resealed);
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// Seals up to `batch` ciphertexts again; `None` when there were none
    /// left (the job is then finished) or the claim was lost.
    async fn rekey_batch(
        &self,
        claim: &JobClaim,
        target: i64,
        batch: i64,
    ) -> ServiceResult<Option<i64>> {
        let p = &claim.project_id;
        let rows = self.store.rekey().sealed_under_retired(p, batch).await?;
        if rows.is_empty() {
            let mut event = Ctx::system().event("destroy-data-keys");
            event.project_id = Some(p.clone());
            if let Some(n) = self.store.rekey().finish_rekey(claim, event).await? {
                self.keys.refresh(&self.store, p).await?;
                tracing::info!(project_id = %p, destroyed = n, "re-encryption finished");
            }
            return Ok(None);
        }
        let new_key = self.keys.key(&self.store, p, target).await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let old_key = self.keys.key(&self.store, p, row.key_id).await?;
            let mut fields = Vec::with_capacity(row.fields.len());
            for (i, ct) in row.fields.iter().enumerate() {
                let plain = old_key
                    .open(&aad_of(p, row, i, row.key_id), ct)
                    .map_err(|_| {
                        ServiceError::Integrity(format!(
                            "a {:?} ciphertext ({}) of project {p} does not open under data key {}",
                            row.kind, row.id, row.key_id
                        ))
                    })?;
                fields.push(
                    new_key
                        .seal(&aad_of(p, row, i, target), &plain)
                        .map_err(|e| ServiceError::Internal(e.to_string()))?,
                );
            }
            items.push(Resealed {
                kind: row.kind,
                id: row.id.clone(),
                version: row.version,
                old_key_id: row.key_id,
                new_key_id: target,
                fields,
            });
        }
        let n = items.len() as i64;
        match self.store.rekey().reseal(claim, items).await? {
            true => Ok(Some(n)),
            false => Ok(None),
        }
    }

    /// Picks up data keys other replicas made: projects whose job targets a
    /// key newer than the one this replica seals with reload their keys.
    pub async fn follow_data_key_rotations(&self) -> ServiceResult<()> {
        for job in self.store.rekey().rekey_jobs().await? {
            let behind = matches!(
                self.keys.known_current(&job.project_id)?,
                Some(current) if current < job.target_key_id
            );
            if behind {
                self.keys.refresh(&self.store, &job.project_id).await?;
            }
        }
        Ok(())
    }
}
