//! `RotationStore` on PostgreSQL, where several replicas share the rows. The
//! claim is one conditional UPDATE (atomic under READ COMMITTED: a second
//! replica's UPDATE waits for the first to commit, then re-checks its WHERE
//! clause against the new row), so one replica at a time runs a rotation;
//! its steps and its end are written only while it holds the lease.

use super::super::rotations::{RotationOutcome, RotationRow, RotationStore, IDLE, ROTATION_COLS};
use super::{backend, first, insert_audit, map_rows, tx_query, PostgresStore};
use crate::store::{AuditEvent, StoreError, StoreResult};
use async_trait::async_trait;
use tokio_postgres::{Error, Row};

fn rotation_row(r: &Row) -> Result<RotationRow, Error> {
    Ok(RotationRow {
        id: r.try_get(0)?,
        project_id: r.try_get(1)?,
        env_id: r.try_get(2)?,
        path: r.try_get(3)?,
        key: r.try_get(4)?,
        schedule: r.try_get(5)?,
        generator: r.try_get(6)?,
        provider: r.try_get(7)?,
        config: r.try_get(8)?,
        next_at: r.try_get(9)?,
        state: r.try_get(10)?,
        state_data: r.try_get(11)?,
        lease_owner: r.try_get(12)?,
        lease_until: r.try_get(13)?,
        last_attempt_at: r.try_get(14)?,
        last_rotated_at: r.try_get(15)?,
        last_result: r.try_get(16)?,
        last_error: r.try_get(17)?,
        failures: r.try_get(18)?,
        created_at: r.try_get(19)?,
        created_by: r.try_get(20)?,
    })
}

#[async_trait]
impl RotationStore for PostgresStore {
    async fn create_rotation(&self, row: RotationRow, audit_event: AuditEvent) -> StoreResult<()> {
        in_tx!(self, |tx| {
            let inserted = tx_query(
                tx,
                &format!(
                    "INSERT INTO rotations ({ROTATION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7,
                     $8, $9, $10, $11, $12, NULL, 0, NULL, NULL, NULL, NULL, 0, $13, $14)
                     ON CONFLICT (env_id, path, key) DO NOTHING RETURNING id"
                ),
                &[
                    &row.id,
                    &row.project_id,
                    &row.env_id,
                    &row.path,
                    &row.key,
                    &row.schedule,
                    &row.generator,
                    &row.provider,
                    &row.config,
                    &row.next_at,
                    &row.state,
                    &row.state_data,
                    &row.created_at,
                    &row.created_by,
                ],
            )
            .await?;
            if inserted.is_empty() {
                return Err(StoreError::Duplicate(
                    "a rotation policy for this secret".into(),
                ));
            }
            insert_audit(tx, &self.audit_key, &audit_event).await?;
            Ok(())
        })
    }

    async fn rotations(&self, project_id: Option<&str>) -> StoreResult<Vec<RotationRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {ROTATION_COLS} FROM rotations
                     WHERE $1::text IS NULL OR project_id = $1 ORDER BY path, key, env_id"
                ),
                &[&project_id],
            )
            .await?;
        map_rows(rows, rotation_row)
    }

    async fn rotation(&self, id: &str) -> StoreResult<Option<RotationRow>> {
        let rows = self
            .read(
                &format!("SELECT {ROTATION_COLS} FROM rotations WHERE id = $1"),
                &[&id],
            )
            .await?;
        first(rows, rotation_row)
    }

    async fn rotation_of(
        &self,
        env_id: &str,
        path: &str,
        key: &str,
    ) -> StoreResult<Option<RotationRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {ROTATION_COLS} FROM rotations WHERE env_id = $1 AND path = $2 AND key = $3"
                ),
                &[&env_id, &path, &key],
            )
            .await?;
        first(rows, rotation_row)
    }

    async fn delete_rotation(&self, id: &str, audit_event: AuditEvent) -> StoreResult<()> {
        self.change_one(
            "DELETE FROM rotations WHERE id = $1",
            &[&id],
            "rotation policy",
            &audit_event,
        )
        .await
    }

    async fn due_rotations(&self, now: i64, limit: i64) -> StoreResult<Vec<String>> {
        let rows = self
            .read(
                "SELECT id FROM rotations
                 WHERE (next_at <= $1 OR state <> $2) AND (lease_owner IS NULL OR lease_until <= $1)
                 ORDER BY next_at, id LIMIT $3",
                &[&now, &IDLE, &limit.max(1)],
            )
            .await?;
        map_rows(rows, |r| r.try_get(0))
    }

    async fn claim_rotation(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
        force: bool,
    ) -> StoreResult<Option<RotationRow>> {
        let rows = self
            .read(
                &format!(
                    "UPDATE rotations SET lease_owner = $2, lease_until = $4
                     WHERE id = $1
                       AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until <= $3)
                       AND ($5::boolean OR next_at <= $3 OR state <> $6)
                     RETURNING {ROTATION_COLS}"
                ),
                &[&id, &owner, &now, &until, &force, &IDLE],
            )
            .await?;
        first(rows, rotation_row)
    }

    async fn rotation_step(
        &self,
        id: &str,
        owner: &str,
        state: &str,
        state_data: &str,
    ) -> StoreResult<bool> {
        let rows = self
            .read(
                "UPDATE rotations SET state = $3, state_data = $4
                 WHERE id = $1 AND lease_owner = $2 RETURNING id",
                &[&id, &owner, &state, &state_data],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    async fn finish_rotation(
        &self,
        id: &str,
        owner: &str,
        o: RotationOutcome,
        audit_event: Option<AuditEvent>,
    ) -> StoreResult<bool> {
        in_tx!(self, |tx| {
            let rows = tx_query(
                tx,
                "UPDATE rotations SET next_at = $3, state = $4, state_data = $5,
                   last_rotated_at = COALESCE($6, last_rotated_at), last_result = $7,
                   last_error = $8, last_attempt_at = $9,
                   failures = CASE WHEN $8::text IS NULL THEN 0 ELSE failures + 1 END,
                   lease_owner = NULL, lease_until = 0
                 WHERE id = $1 AND lease_owner = $2 RETURNING id",
                &[
                    &id,
                    &owner,
                    &o.next_at,
                    &o.state,
                    &o.state_data,
                    &o.rotated_at,
                    &o.result,
                    &o.error,
                    &o.now,
                ],
            )
            .await?;
            if rows.is_empty() {
                return Ok(false);
            }
            if let Some(audit_event) = &audit_event {
                insert_audit(tx, &self.audit_key, audit_event).await?;
            }
            Ok(true)
        })
    }
}
