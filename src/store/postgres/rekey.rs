//! `RekeyStore` on PostgreSQL. Replicas write concurrently, so each check
//! takes the lock that makes it hold until its transaction commits:
//! - inserting a data key takes `root_generations` in SHARE mode (many may
//!   insert at once) and a rotation takes it in SHARE ROW EXCLUSIVE mode
//!   (it waits for them, and they for it, then see its generation);
//! - sealing under a data key holds that row FOR SHARE (or updates it),
//!   and retiring it updates the row, so a write either commits before the
//!   retirement, and the job then finds it, or sees the key retired.

use super::super::rekey::{
    sql, GenerationRow, JobClaim, RekeyJob, RekeyStore, Resealed, SealedKind, SealedRow,
};
use super::{backend, insert_audit, insert_data_key, map_rows, tx_exec, tx_query, PostgresStore};
use crate::store::{AuditEvent, DataKeyRow, StoreError, StoreResult};
use async_trait::async_trait;
use deadpool_postgres::Transaction;
use tokio_postgres::{Error, Row};

/// `?N` placeholders as PostgreSQL's `$N`.
fn pg(sql: &str) -> String {
    sql.replace('?', "$")
}

fn job_row(r: &Row) -> Result<RekeyJob, Error> {
    Ok(RekeyJob {
        project_id: r.try_get(0)?,
        target_key_id: r.try_get(1)?,
        total: r.try_get(2)?,
        done: r.try_get(3)?,
        requested_by: r.try_get(4)?,
        created_at: r.try_get(5)?,
        finished_at: r.try_get(6)?,
        claim_owner: r.try_get(7)?,
        claim_until: r.try_get(8)?,
        last_error: r.try_get(9)?,
    })
}

fn generation_row(r: &Row) -> Result<GenerationRow, Error> {
    Ok(GenerationRow {
        generation: r.try_get(0)?,
        provider: r.try_get(1)?,
        wrapped: r.try_get(2)?,
        created_at: r.try_get(3)?,
        created_by: r.try_get(4)?,
    })
}

async fn count(tx: &Transaction<'_>, sql: &str, p: super::Params<'_>) -> StoreResult<i64> {
    let rows = tx_query(tx, &pg(sql), p).await?;
    rows.first()
        .ok_or_else(|| StoreError::Backend("COUNT returned no row".into()))?
        .try_get(0)
        .map_err(backend)
}

async fn sealed_count(tx: &Transaction<'_>, project_id: &str) -> StoreResult<i64> {
    let mut total = 0;
    for (_, _, count_sql) in sql::sealed_queries() {
        total += count(tx, &count_sql, &[&project_id]).await?;
    }
    Ok(total)
}

/// Refuses a data key wrapped under anything but the current generation.
pub(super) async fn check_generation(tx: &Transaction<'_>, key: &DataKeyRow) -> StoreResult<()> {
    tx_exec(tx, "LOCK TABLE root_generations IN SHARE MODE", &[]).await?;
    let current = count(tx, sql::CURRENT_GENERATION, &[]).await?;
    if key.generation != current {
        return Err(StoreError::StaleKey(format!(
            "root key generation {} is not the current one ({current})",
            key.generation
        )));
    }
    Ok(())
}

fn live_or_stale(rows: Vec<Row>) -> StoreResult<()> {
    match rows.is_empty() {
        true => Err(StoreError::StaleKey("the data key was retired".into())),
        false => Ok(()),
    }
}

/// Refuses to seal under a retired (or destroyed) data key, and keeps it
/// from being retired until this transaction ends.
pub(super) async fn check_live_key(
    tx: &Transaction<'_>,
    project_id: &str,
    key_id: i64,
) -> StoreResult<()> {
    live_or_stale(
        tx_query(
            tx,
            "SELECT 1 FROM data_keys WHERE project_id = $1 AND key_id = $2
               AND retired_at IS NULL FOR SHARE",
            &[&project_id, &key_id],
        )
        .await?,
    )
}

/// `check_live_key` for the project of secret `secret_id`.
pub(super) async fn check_live_key_of_secret(
    tx: &Transaction<'_>,
    secret_id: &str,
    key_id: i64,
) -> StoreResult<()> {
    live_or_stale(
        tx_query(
            tx,
            "SELECT 1 FROM data_keys d JOIN secrets s ON s.project_id = d.project_id
             WHERE s.id = $1 AND d.key_id = $2 AND d.retired_at IS NULL FOR SHARE OF d",
            &[&secret_id, &key_id],
        )
        .await?,
    )
}

fn sealed_row(kind: SealedKind, r: &Row) -> Result<SealedRow, Error> {
    let fields = match kind {
        SealedKind::Version => vec![r.try_get(7)?, r.try_get(8)?, r.try_get(9)?],
        _ => vec![r.try_get(7)?],
    };
    Ok(SealedRow {
        kind,
        id: r.try_get(0)?,
        version: r.try_get(1)?,
        key_id: r.try_get(2)?,
        env_id: r.try_get(3)?,
        path: r.try_get(4)?,
        key: r.try_get(5)?,
        owner: r.try_get(6)?,
        fields,
    })
}

async fn reseal_one(tx: &Transaction<'_>, item: &Resealed) -> StoreResult<bool> {
    let stmt = pg(sql::reseal(item.kind));
    let f = &item.fields;
    let (id, v, new, old) = (&item.id, &item.version, &item.new_key_id, &item.old_key_id);
    let n = match item.kind {
        SealedKind::Version => tx_exec(tx, &stmt, &[id, v, new, old, &f[0], &f[1], &f[2]]).await?,
        SealedKind::Personal => tx_exec(tx, &stmt, &[id, v, new, old, &f[0]]).await?,
        SealedKind::Dynamic | SealedKind::Kms => tx_exec(tx, &stmt, &[id, new, old, &f[0]]).await?,
    };
    Ok(n == 1)
}

async fn hold_claim(tx: &Transaction<'_>, claim: &JobClaim, done: i64) -> StoreResult<bool> {
    let n = tx_exec(
        tx,
        &pg(sql::HOLD_CLAIM),
        &[&claim.project_id, &claim.owner, &claim.until, &done],
    )
    .await?;
    Ok(n == 1)
}

#[async_trait]
impl RekeyStore for PostgresStore {
    async fn root_generations(&self) -> StoreResult<Vec<GenerationRow>> {
        let rows = self.read(sql::GENERATIONS, &[]).await?;
        map_rows(rows, generation_row)
    }

    async fn rotate_root(
        &self,
        g: GenerationRow,
        rewrapped: Vec<DataKeyRow>,
        audit_event: AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            tx_exec(
                tx,
                "LOCK TABLE root_generations IN SHARE ROW EXCLUSIVE MODE",
                &[],
            )
            .await?;
            let current = count(tx, sql::CURRENT_GENERATION, &[]).await?;
            let keys = count(tx, sql::COUNT_DATA_KEYS, &[]).await?;
            if g.generation != current + 1 || keys != rewrapped.len() as i64 {
                return Err(StoreError::StaleKey(
                    "the keys changed while the rotation ran".into(),
                ));
            }
            let rewrap = pg(sql::REWRAP_DATA_KEY);
            for k in &rewrapped {
                let n = tx_exec(
                    tx,
                    &rewrap,
                    &[&k.project_id, &k.key_id, &k.wrapped, &g.generation],
                )
                .await?;
                if n != 1 {
                    return Err(StoreError::StaleKey(format!(
                        "data key {} of project {} is gone",
                        k.key_id, k.project_id
                    )));
                }
            }
            tx_exec(
                tx,
                &pg(sql::INSERT_GENERATION),
                &[
                    &g.generation,
                    &g.provider,
                    &g.wrapped,
                    &g.created_at,
                    &g.created_by,
                ],
            )
            .await?;
            tx_exec(tx, &pg(sql::DELETE_OLDER_GENERATIONS), &[&g.generation]).await?;
            insert_audit(tx, &self.audit_key, &audit_event).await
        })
    }

    async fn start_rekey(
        &self,
        new_key: DataKeyRow,
        requested_by: &str,
        audit_event: AuditEvent,
    ) -> StoreResult<i64> {
        in_tx!(self, |tx| {
            insert_data_key(tx, &new_key).await?;
            let p = &new_key.project_id;
            tx_exec(
                tx,
                &pg(sql::RETIRE_OLDER_KEYS),
                &[p, &new_key.key_id, &new_key.created_at],
            )
            .await?;
            let total = sealed_count(tx, p).await?;
            tx_exec(
                tx,
                &pg(sql::UPSERT_JOB),
                &[
                    p,
                    &new_key.key_id,
                    &total,
                    &requested_by,
                    &new_key.created_at,
                ],
            )
            .await?;
            insert_audit(tx, &self.audit_key, &audit_event).await?;
            Ok(total)
        })
    }

    async fn rekey_jobs(&self) -> StoreResult<Vec<RekeyJob>> {
        let rows = self.read(&sql::jobs(), &[]).await?;
        map_rows(rows, job_row)
    }

    async fn claim_rekey_job(
        &self,
        owner: &str,
        now: i64,
        until: i64,
    ) -> StoreResult<Option<RekeyJob>> {
        let rows = self
            .read(&pg(&sql::claim_job()), &[&owner, &now, &until])
            .await?;
        Ok(map_rows(rows, job_row)?.pop())
    }

    async fn sealed_under_retired(
        &self,
        project_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<SealedRow>> {
        let mut out = Vec::new();
        for (kind, select, _) in sql::sealed_queries() {
            let room = limit - out.len() as i64;
            if room <= 0 {
                break;
            }
            for r in self.read(&pg(&select), &[&project_id, &room]).await? {
                out.push(sealed_row(kind, &r).map_err(backend)?);
            }
        }
        Ok(out)
    }

    async fn reseal(&self, claim: &JobClaim, items: Vec<Resealed>) -> StoreResult<bool> {
        in_tx!(self, |tx| {
            if !hold_claim(tx, claim, 0).await? {
                return Ok(false);
            }
            let mut done = 0i64;
            for item in &items {
                if reseal_one(tx, item).await? {
                    done += 1;
                }
            }
            if let Some(first) = items.first() {
                tx_exec(
                    tx,
                    &pg(sql::COUNT_USE),
                    &[&claim.project_id, &first.new_key_id, &done],
                )
                .await?;
            }
            hold_claim(tx, claim, done).await
        })
    }

    async fn finish_rekey(
        &self,
        claim: &JobClaim,
        audit_event: AuditEvent,
    ) -> StoreResult<Option<i64>> {
        in_tx!(self, |tx| {
            if !hold_claim(tx, claim, 0).await? || sealed_count(tx, &claim.project_id).await? > 0 {
                return Ok(None);
            }
            let destroyed = tx_exec(tx, &pg(sql::DESTROY_RETIRED), &[&claim.project_id]).await?;
            tx_exec(tx, &pg(sql::FINISH_JOB), &[&claim.project_id, &claim.now]).await?;
            let mut audit_event = audit_event;
            audit_event.keys = vec![format!("destroyed {destroyed} data key(s)")];
            insert_audit(tx, &self.audit_key, &audit_event).await?;
            Ok(Some(destroyed as i64))
        })
    }

    async fn rekey_failed(&self, claim: &JobClaim, error: &str) -> StoreResult<()> {
        let c = self.conn().await?;
        let stmt = c
            .prepare_cached(&pg(sql::JOB_FAILED))
            .await
            .map_err(backend)?;
        c.execute(&stmt, &[&claim.project_id, &claim.owner, &error])
            .await
            .map_err(backend)?;
        Ok(())
    }
}
