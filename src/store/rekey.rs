//! Storage of online re-keying (issue 25): root key generations, retired
//! data keys and the re-encryption jobs of `hush keys rotate-data`. Like the
//! rest of the store it only ever sees wrapped keys and ciphertexts.
//!
//! Replicas agree through these rows, not through memory:
//! - a data key is inserted only under the current generation (the newest
//!   `root_generations` row, 0 when there is none); a replica that wraps
//!   under an older one gets `StoreError::StaleKey` and reloads;
//! - nothing is sealed under a retired data key: each write re-checks its
//!   key in the same transaction (`StaleKey` again);
//! - a job is worked on by the replica holding its claim, and each batch
//!   commits only while that claim holds.

use super::{AuditEvent, DataKeyRow, StoreResult};
use async_trait::async_trait;

/// One root key generation: its key, wrapped by the root key provider.
#[derive(Clone)]
pub struct GenerationRow {
    pub generation: i64,
    /// The provider kind that wrapped it (`file`, `transit`, ...).
    pub provider: String,
    pub wrapped: Vec<u8>,
    pub created_at: i64,
    pub created_by: String,
}

impl std::fmt::Debug for GenerationRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerationRow")
            .field("generation", &self.generation)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

/// The re-encryption of one project's ciphertexts under its newest data key.
#[derive(Clone, Debug)]
pub struct RekeyJob {
    pub project_id: String,
    pub target_key_id: i64,
    /// Ciphertexts under retired keys when the job started (or restarted).
    pub total: i64,
    pub done: i64,
    pub requested_by: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub claim_owner: Option<String>,
    pub claim_until: i64,
    pub last_error: Option<String>,
}

/// The SQL column list both backends read a `RekeyJob` with.
pub const REKEY_JOB_COLS: &str = "project_id, target_key_id, total, done, requested_by, \
     created_at, finished_at, claim_owner, claim_until, last_error";

/// Where a ciphertext lives; decides its AAD and its row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealedKind {
    /// A secret version: value, comment and tags.
    Version,
    /// A user's personal override: its value.
    Personal,
    /// A dynamic secret's admin credentials.
    Dynamic,
    /// A KMS key (bound to its data key id, so its AAD changes too).
    Kms,
}

/// One row sealed under a retired data key, with what its AAD is made of.
#[derive(Clone)]
pub struct SealedRow {
    pub kind: SealedKind,
    /// secret id, personal override id, dynamic secret id or KMS key id.
    pub id: String,
    /// The secret version (or the version a personal override is for).
    pub version: i64,
    pub key_id: i64,
    pub env_id: String,
    pub path: String,
    pub key: String,
    /// The owner of a personal override.
    pub owner: String,
    /// The ciphertexts, in the kind's order (a version: value, comment, tags).
    pub fields: Vec<Vec<u8>>,
}

impl std::fmt::Debug for SealedRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedRow")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .field("version", &self.version)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Ciphertexts to store in place of a `SealedRow`'s, if it is still sealed
/// under `old_key_id`.
#[derive(Clone)]
pub struct Resealed {
    pub kind: SealedKind,
    pub id: String,
    pub version: i64,
    pub old_key_id: i64,
    pub new_key_id: i64,
    pub fields: Vec<Vec<u8>>,
}

/// The project a job works on and the claim it works under.
#[derive(Clone, Debug)]
pub struct JobClaim {
    pub project_id: String,
    pub owner: String,
    pub now: i64,
    pub until: i64,
}

#[async_trait]
pub trait RekeyStore: Send + Sync {
    /// Every generation row, oldest first (empty: generation 0).
    async fn root_generations(&self) -> StoreResult<Vec<GenerationRow>>;
    /// Makes `generation` current: inserts it, replaces every data key with
    /// its row in `rewrapped` (wrapped under the new generation), deletes the
    /// older generation rows, with its audit event, in one transaction.
    /// `StaleKey` when `generation` is not the current one plus one or a
    /// data key is missing from `rewrapped` (added meanwhile): read again.
    async fn rotate_root(
        &self,
        generation: GenerationRow,
        rewrapped: Vec<DataKeyRow>,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Adds `new_key` (under the current generation, else `StaleKey`),
    /// retires the project's older data keys and (re)starts its job, with
    /// the audit event. Returns the number of ciphertexts to re-seal.
    async fn start_rekey(
        &self,
        new_key: DataKeyRow,
        requested_by: &str,
        audit: AuditEvent,
    ) -> StoreResult<i64>;
    /// Every job, newest first.
    async fn rekey_jobs(&self) -> StoreResult<Vec<RekeyJob>>;
    /// Claims the oldest unfinished job whose claim is free, expired or
    /// `owner`'s, until `until`. `None` when there is none.
    async fn claim_rekey_job(
        &self,
        owner: &str,
        now: i64,
        until: i64,
    ) -> StoreResult<Option<RekeyJob>>;
    /// Up to `limit` rows of the project sealed under a retired data key.
    async fn sealed_under_retired(
        &self,
        project_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<SealedRow>>;
    /// Stores `items` (each only if still under its old key), counts them
    /// as done and extends the claim, in one transaction. False (nothing
    /// written) when the claim was lost.
    async fn reseal(&self, claim: &JobClaim, items: Vec<Resealed>) -> StoreResult<bool>;
    /// When nothing is sealed under a retired key any more: deletes the
    /// retired data keys, marks the job finished, with the audit event, and
    /// returns how many keys were destroyed. `None` when rows remain or the
    /// claim was lost.
    async fn finish_rekey(&self, claim: &JobClaim, audit: AuditEvent) -> StoreResult<Option<i64>>;
    /// Records why a batch failed and releases the claim (another replica,
    /// or this one later, tries again).
    async fn rekey_failed(&self, claim: &JobClaim, error: &str) -> StoreResult<()>;
}

/// The statements both backends run, written with `?N` placeholders
/// (PostgreSQL's `$N` are made from them by `postgres::rekey`).
pub mod sql {
    /// The current generation: the newest row, 0 when there is none.
    pub const CURRENT_GENERATION: &str =
        "SELECT COALESCE(MAX(generation), 0) FROM root_generations";
    pub const GENERATIONS: &str = "SELECT generation, provider, wrapped, created_at, created_by \
         FROM root_generations ORDER BY generation";
    pub const INSERT_GENERATION: &str = "INSERT INTO root_generations \
         (generation, provider, wrapped, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5)";
    pub const DELETE_OLDER_GENERATIONS: &str = "DELETE FROM root_generations WHERE generation < ?1";
    pub const COUNT_DATA_KEYS: &str = "SELECT COUNT(*) FROM data_keys";
    pub const REWRAP_DATA_KEY: &str = "UPDATE data_keys SET wrapped = ?3, generation = ?4 \
         WHERE project_id = ?1 AND key_id = ?2";
    pub const RETIRE_OLDER_KEYS: &str = "UPDATE data_keys SET retired_at = ?3 \
         WHERE project_id = ?1 AND key_id <> ?2 AND retired_at IS NULL";
    /// A data key nothing new may be sealed under any more, or gone.
    pub const KEY_IS_LIVE: &str = "SELECT COUNT(*) FROM data_keys \
         WHERE project_id = ?1 AND key_id = ?2 AND retired_at IS NULL";
    /// The same for the project of secret `?1`.
    pub const KEY_IS_LIVE_FOR_SECRET: &str = "SELECT COUNT(*) FROM data_keys d \
         JOIN secrets s ON s.project_id = d.project_id \
         WHERE s.id = ?1 AND d.key_id = ?2 AND d.retired_at IS NULL";
    const RETIRED: &str =
        "(SELECT key_id FROM data_keys WHERE project_id = ?1 AND retired_at IS NOT NULL)";

    /// `(kind, select up to ?2 rows, count rows)` per place ciphertexts live.
    pub fn sealed_queries() -> [(super::SealedKind, String, String); 4] {
        use super::SealedKind::*;
        let versions = format!(
            "FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
             WHERE s.project_id = ?1 AND v.key_id IN {RETIRED}"
        );
        let personal = format!(
            "FROM personal_secrets p JOIN secrets s ON s.id = p.secret_id \
             WHERE s.project_id = ?1 AND p.key_id IN {RETIRED}"
        );
        let dynamic = format!("FROM dynamic_secrets WHERE project_id = ?1 AND key_id IN {RETIRED}");
        let kms = format!("FROM kms_keys WHERE project_id = ?1 AND dek_id IN {RETIRED}");
        let pair = |cols: &str, from: &str| {
            (
                format!("SELECT {cols} {from} LIMIT ?2"),
                format!("SELECT COUNT(*) {from}"),
            )
        };
        let (v, vc) = pair(
            "v.secret_id, v.version, v.key_id, s.env_id, s.path, s.key, '', \
             v.value_ct, v.comment_ct, v.tags_ct",
            &versions,
        );
        let (p, pc) = pair(
            "p.id, p.version, p.key_id, s.env_id, s.path, s.key, p.owner_id, p.value_ct",
            &personal,
        );
        let (d, dc) = pair(
            "id, CAST(0 AS BIGINT), key_id, env_id, path, name, '', secret_ct",
            &dynamic,
        );
        let (k, kc) = pair(
            "id, CAST(0 AS BIGINT), dek_id, '', '', name, '', sealed",
            &kms,
        );
        [
            (Version, v, vc),
            (Personal, p, pc),
            (Dynamic, d, dc),
            (Kms, k, kc),
        ]
    }

    /// Stores new ciphertexts if the row is still under its old key. A
    /// version or personal override: `?1` id, `?2` version, `?3` new key id,
    /// `?4` old key id, `?5..` fields; the others have no `?2` version, so
    /// their parameters are `?1` id, `?2` new, `?3` old, `?4` field.
    pub fn reseal(kind: super::SealedKind) -> &'static str {
        use super::SealedKind::*;
        match kind {
            Version => "UPDATE secret_versions SET key_id = ?3, value_ct = ?5, comment_ct = ?6, \
                 tags_ct = ?7 WHERE secret_id = ?1 AND version = ?2 AND key_id = ?4",
            Personal => "UPDATE personal_secrets SET key_id = ?3, value_ct = ?5 \
                 WHERE id = ?1 AND version = ?2 AND key_id = ?4",
            Dynamic => {
                "UPDATE dynamic_secrets SET key_id = ?2, secret_ct = ?4 WHERE id = ?1 AND key_id = ?3"
            }
            Kms => "UPDATE kms_keys SET dek_id = ?2, sealed = ?4 WHERE id = ?1 AND dek_id = ?3",
        }
    }

    pub const UPSERT_JOB: &str = "INSERT INTO rekey_jobs \
         (project_id, target_key_id, total, done, requested_by, created_at, finished_at, \
          claim_owner, claim_until, last_error) \
         VALUES (?1, ?2, ?3, 0, ?4, ?5, NULL, NULL, 0, NULL) \
         ON CONFLICT (project_id) DO UPDATE SET target_key_id = excluded.target_key_id, \
           total = excluded.total, done = 0, requested_by = excluded.requested_by, \
           created_at = excluded.created_at, finished_at = NULL, claim_owner = NULL, \
           claim_until = 0, last_error = NULL";
    /// `?1` owner, `?2` now, `?3` until.
    pub fn claim_job() -> String {
        let free = "finished_at IS NULL AND (claim_owner IS NULL OR claim_owner = ?1 \
                    OR claim_until <= ?2)";
        format!(
            "UPDATE rekey_jobs SET claim_owner = ?1, claim_until = ?3 \
             WHERE {free} AND project_id = (SELECT project_id FROM rekey_jobs WHERE {free} \
               ORDER BY created_at, project_id LIMIT 1) \
             RETURNING {}",
            super::REKEY_JOB_COLS
        )
    }
    /// Extends the claim and counts `?4` more done: `?1` project, `?2`
    /// owner, `?3` until. Touches no row when the claim is lost.
    pub const HOLD_CLAIM: &str = "UPDATE rekey_jobs SET claim_until = ?3, done = done + ?4 \
         WHERE project_id = ?1 AND claim_owner = ?2 AND finished_at IS NULL";
    pub const COUNT_USE: &str = "UPDATE data_keys SET enc_count = enc_count + ?3 \
         WHERE project_id = ?1 AND key_id = ?2";
    pub const DESTROY_RETIRED: &str =
        "DELETE FROM data_keys WHERE project_id = ?1 AND retired_at IS NOT NULL";
    pub const FINISH_JOB: &str = "UPDATE rekey_jobs SET finished_at = ?2, claim_owner = NULL, \
         claim_until = 0, last_error = NULL, done = total WHERE project_id = ?1";
    pub const JOB_FAILED: &str = "UPDATE rekey_jobs SET last_error = ?3, claim_owner = NULL, \
         claim_until = 0 WHERE project_id = ?1 AND claim_owner = ?2";
    pub fn jobs() -> String {
        format!(
            "SELECT {} FROM rekey_jobs ORDER BY created_at DESC, project_id",
            super::REKEY_JOB_COLS
        )
    }
}
