//! `RekeyStore` on SQLite. Every change runs on the one writer thread, so a
//! check and the write it guards cannot interleave with another writer.

use super::super::rekey::{
    sql, GenerationRow, JobClaim, RekeyJob, RekeyStore, Resealed, SealedKind, SealedRow,
};
use super::{backend, insert_audit, projects::insert_data_key, query_vec, SqliteStore};
use crate::store::{AuditEvent, DataKeyRow, StoreError, StoreResult};
use async_trait::async_trait;
use rusqlite::{params, Connection, Row};

fn job_row(r: &Row) -> rusqlite::Result<RekeyJob> {
    Ok(RekeyJob {
        project_id: r.get(0)?,
        target_key_id: r.get(1)?,
        total: r.get(2)?,
        done: r.get(3)?,
        requested_by: r.get(4)?,
        created_at: r.get(5)?,
        finished_at: r.get(6)?,
        claim_owner: r.get(7)?,
        claim_until: r.get(8)?,
        last_error: r.get(9)?,
    })
}

fn count(c: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<i64> {
    c.query_row(sql, p, |r| r.get(0)).map_err(backend)
}

/// Ciphertexts of the project still sealed under a retired data key.
fn sealed_count(c: &Connection, project_id: &str) -> StoreResult<i64> {
    let mut total = 0;
    for (_, _, count_sql) in sql::sealed_queries() {
        total += count(c, &count_sql, params![project_id])?;
    }
    Ok(total)
}

/// Refuses a data key wrapped under anything but the current generation.
pub(super) fn check_generation(c: &Connection, key: &DataKeyRow) -> StoreResult<()> {
    let current = count(c, sql::CURRENT_GENERATION, [])?;
    if key.generation != current {
        return Err(StoreError::StaleKey(format!(
            "root key generation {} is not the current one ({current})",
            key.generation
        )));
    }
    Ok(())
}

/// Refuses to seal under a retired (or destroyed) data key.
pub(super) fn check_live_key(c: &Connection, project_id: &str, key_id: i64) -> StoreResult<()> {
    live_or_stale(count(c, sql::KEY_IS_LIVE, params![project_id, key_id])?)
}

/// `check_live_key` for the project of secret `secret_id`.
pub(super) fn check_live_key_of_secret(
    c: &Connection,
    secret_id: &str,
    key_id: i64,
) -> StoreResult<()> {
    live_or_stale(count(
        c,
        sql::KEY_IS_LIVE_FOR_SECRET,
        params![secret_id, key_id],
    )?)
}

fn live_or_stale(n: i64) -> StoreResult<()> {
    match n {
        0 => Err(StoreError::StaleKey("the data key was retired".into())),
        _ => Ok(()),
    }
}

/// The enc_count update of a write found no live key: it was retired.
pub(super) fn retired_or_backend(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::QueryReturnedNoRows => {
            StoreError::StaleKey("the data key was retired".into())
        }
        other => backend(other),
    }
}

fn sealed_row(kind: SealedKind, r: &Row) -> rusqlite::Result<SealedRow> {
    let fields = match kind {
        SealedKind::Version => vec![r.get(7)?, r.get(8)?, r.get(9)?],
        _ => vec![r.get(7)?],
    };
    Ok(SealedRow {
        kind,
        id: r.get(0)?,
        version: r.get(1)?,
        key_id: r.get(2)?,
        env_id: r.get(3)?,
        path: r.get(4)?,
        key: r.get(5)?,
        owner: r.get(6)?,
        fields,
    })
}

/// Stores one re-sealed row; false when it moved on meanwhile.
fn reseal_one(c: &Connection, item: &Resealed) -> StoreResult<bool> {
    let stmt = sql::reseal(item.kind);
    let f = &item.fields;
    let n = match item.kind {
        SealedKind::Version => c.execute(
            stmt,
            params![
                item.id,
                item.version,
                item.new_key_id,
                item.old_key_id,
                f[0],
                f[1],
                f[2]
            ],
        ),
        SealedKind::Personal => c.execute(
            stmt,
            params![
                item.id,
                item.version,
                item.new_key_id,
                item.old_key_id,
                f[0]
            ],
        ),
        SealedKind::Dynamic | SealedKind::Kms => c.execute(
            stmt,
            params![item.id, item.new_key_id, item.old_key_id, f[0]],
        ),
    }
    .map_err(backend)?;
    Ok(n == 1)
}

fn hold_claim(c: &Connection, claim: &JobClaim, done: i64) -> StoreResult<bool> {
    let n = c
        .execute(
            sql::HOLD_CLAIM,
            params![claim.project_id, claim.owner, claim.until, done],
        )
        .map_err(backend)?;
    Ok(n == 1)
}

#[async_trait]
impl RekeyStore for SqliteStore {
    async fn root_generations(&self) -> StoreResult<Vec<GenerationRow>> {
        self.read(|c| {
            query_vec(c, sql::GENERATIONS, [], |r| {
                Ok(GenerationRow {
                    generation: r.get(0)?,
                    provider: r.get(1)?,
                    wrapped: r.get(2)?,
                    created_at: r.get(3)?,
                    created_by: r.get(4)?,
                })
            })
        })
        .await
    }

    async fn rotate_root(
        &self,
        g: GenerationRow,
        rewrapped: Vec<DataKeyRow>,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.write(move |c, head| {
            let current = count(c, sql::CURRENT_GENERATION, [])?;
            let keys = count(c, sql::COUNT_DATA_KEYS, [])?;
            if g.generation != current + 1 || keys != rewrapped.len() as i64 {
                return Err(StoreError::StaleKey(
                    "the keys changed while the rotation ran".into(),
                ));
            }
            for k in &rewrapped {
                let n = c
                    .execute(
                        sql::REWRAP_DATA_KEY,
                        params![k.project_id, k.key_id, k.wrapped, g.generation],
                    )
                    .map_err(backend)?;
                if n != 1 {
                    return Err(StoreError::StaleKey(format!(
                        "data key {} of project {} is gone",
                        k.key_id, k.project_id
                    )));
                }
            }
            c.execute(
                sql::INSERT_GENERATION,
                params![
                    g.generation,
                    g.provider,
                    g.wrapped,
                    g.created_at,
                    g.created_by
                ],
            )
            .map_err(backend)?;
            c.execute(sql::DELETE_OLDER_GENERATIONS, params![g.generation])
                .map_err(backend)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn start_rekey(
        &self,
        new_key: DataKeyRow,
        requested_by: &str,
        audit: AuditEvent,
    ) -> StoreResult<i64> {
        let requested_by = requested_by.to_owned();
        self.write(move |c, head| {
            check_generation(c, &new_key)?;
            insert_data_key(c, &new_key)?;
            let p = &new_key.project_id;
            c.execute(
                sql::RETIRE_OLDER_KEYS,
                params![p, new_key.key_id, new_key.created_at],
            )
            .map_err(backend)?;
            let total = sealed_count(c, p)?;
            c.execute(
                sql::UPSERT_JOB,
                params![p, new_key.key_id, total, requested_by, new_key.created_at],
            )
            .map_err(backend)?;
            insert_audit(c, head, &audit)?;
            Ok(total)
        })
        .await
    }

    async fn rekey_jobs(&self) -> StoreResult<Vec<RekeyJob>> {
        self.read(|c| query_vec(c, &sql::jobs(), [], job_row)).await
    }

    async fn claim_rekey_job(
        &self,
        owner: &str,
        now: i64,
        until: i64,
    ) -> StoreResult<Option<RekeyJob>> {
        let owner = owner.to_owned();
        self.write(move |c, _| {
            let mut rows = query_vec(c, &sql::claim_job(), params![owner, now, until], job_row)
                .map_err(backend)?;
            Ok(rows.pop())
        })
        .await
    }

    async fn sealed_under_retired(
        &self,
        project_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<SealedRow>> {
        let p = project_id.to_owned();
        self.read(move |c| {
            let mut out = Vec::new();
            for (kind, select, _) in sql::sealed_queries() {
                let room = limit - out.len() as i64;
                if room <= 0 {
                    break;
                }
                out.extend(query_vec(c, &select, params![p, room], |r| {
                    sealed_row(kind, r)
                })?);
            }
            Ok(out)
        })
        .await
    }

    async fn reseal(&self, claim: &JobClaim, items: Vec<Resealed>) -> StoreResult<bool> {
        let claim = claim.clone();
        self.write(move |c, _| {
            if !hold_claim(c, &claim, 0)? {
                return Ok(false);
            }
            let mut done = 0;
            for item in &items {
                if reseal_one(c, item)? {
                    done += 1;
                }
            }
            if let Some(first) = items.first() {
                c.execute(
                    sql::COUNT_USE,
                    params![claim.project_id, first.new_key_id, done],
                )
                .map_err(backend)?;
            }
            hold_claim(c, &claim, done)
        })
        .await
    }

    async fn finish_rekey(&self, claim: &JobClaim, audit: AuditEvent) -> StoreResult<Option<i64>> {
        let claim = claim.clone();
        self.write(move |c, head| {
            if !hold_claim(c, &claim, 0)? || sealed_count(c, &claim.project_id)? > 0 {
                return Ok(None);
            }
            let destroyed = c
                .execute(sql::DESTROY_RETIRED, params![claim.project_id])
                .map_err(backend)?;
            c.execute(sql::FINISH_JOB, params![claim.project_id, claim.now])
                .map_err(backend)?;
            let mut audit = audit;
            audit.keys = vec![format!("destroyed {destroyed} data key(s)")];
            insert_audit(c, head, &audit)?;
            Ok(Some(destroyed as i64))
        })
        .await
    }

    async fn rekey_failed(&self, claim: &JobClaim, error: &str) -> StoreResult<()> {
        let (claim, error) = (claim.clone(), error.to_owned());
        self.write(move |c, _| {
            c.execute(
                sql::JOB_FAILED,
                params![claim.project_id, claim.owner, error],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }
}
