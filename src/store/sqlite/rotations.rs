//! `RotationStore` on SQLite. Rows change through the writer thread like
//! every other write; one process opens a SQLite data dir, so the lease has
//! no rival here, but the same rules as on PostgreSQL keep the backends one.

use super::super::rotations::{RotationOutcome, RotationRow, RotationStore, IDLE, ROTATION_COLS};
use super::{backend, insert_audit, SqliteStore};
use crate::store::{AuditEvent, StoreError, StoreResult};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};

fn rotation_row(r: &Row) -> rusqlite::Result<RotationRow> {
    Ok(RotationRow {
        id: r.get(0)?,
        project_id: r.get(1)?,
        env_id: r.get(2)?,
        path: r.get(3)?,
        key: r.get(4)?,
        schedule: r.get(5)?,
        generator: r.get(6)?,
        provider: r.get(7)?,
        config: r.get(8)?,
        next_at: r.get(9)?,
        state: r.get(10)?,
        state_data: r.get(11)?,
        lease_owner: r.get(12)?,
        lease_until: r.get(13)?,
        last_attempt_at: r.get(14)?,
        last_rotated_at: r.get(15)?,
        last_result: r.get(16)?,
        last_error: r.get(17)?,
        failures: r.get(18)?,
        created_at: r.get(19)?,
        created_by: r.get(20)?,
    })
}

#[async_trait]
impl RotationStore for SqliteStore {
    async fn create_rotation(&self, row: RotationRow, audit: AuditEvent) -> StoreResult<()> {
        self.write(move |c, head| {
            let exists: Option<String> = c
                .query_row(
                    "SELECT id FROM rotations WHERE env_id = ?1 AND path = ?2 AND key = ?3",
                    params![row.env_id, row.path, row.key],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            if exists.is_some() {
                return Err(StoreError::Duplicate(
                    "a rotation policy for this secret".into(),
                ));
            }
            c.execute(
                &format!(
                    "INSERT INTO rotations ({ROTATION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,
                     ?8, ?9, ?10, ?11, ?12, NULL, 0, NULL, NULL, NULL, NULL, 0, ?13, ?14)"
                ),
                params![
                    row.id,
                    row.project_id,
                    row.env_id,
                    row.path,
                    row.key,
                    row.schedule,
                    row.generator,
                    row.provider,
                    row.config,
                    row.next_at,
                    row.state,
                    row.state_data,
                    row.created_at,
                    row.created_by
                ],
            )
            .map_err(backend)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn rotations(&self, project_id: Option<&str>) -> StoreResult<Vec<RotationRow>> {
        let project_id = project_id.map(str::to_owned);
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {ROTATION_COLS} FROM rotations
                 WHERE ?1 IS NULL OR project_id = ?1 ORDER BY path, key, env_id"
            ))?
            .query_map(params![project_id], rotation_row)?
            .collect()
        })
        .await
    }

    async fn rotation(&self, id: &str) -> StoreResult<Option<RotationRow>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {ROTATION_COLS} FROM rotations WHERE id = ?1"
            ))?
            .query_row(params![id], rotation_row)
            .optional()
        })
        .await
    }

    async fn rotation_of(
        &self,
        env_id: &str,
        path: &str,
        key: &str,
    ) -> StoreResult<Option<RotationRow>> {
        let (env_id, path, key) = (env_id.to_owned(), path.to_owned(), key.to_owned());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {ROTATION_COLS} FROM rotations WHERE env_id = ?1 AND path = ?2 AND key = ?3"
            ))?
            .query_row(params![env_id, path, key], rotation_row)
            .optional()
        })
        .await
    }

    async fn delete_rotation(&self, id: &str, audit: AuditEvent) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |c, head| {
            let n = c
                .execute("DELETE FROM rotations WHERE id = ?1", params![id])
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound("rotation policy"));
            }
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn due_rotations(&self, now: i64, limit: i64) -> StoreResult<Vec<String>> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT id FROM rotations
                 WHERE (next_at <= ?1 OR state <> ?2) AND (lease_owner IS NULL OR lease_until <= ?1)
                 ORDER BY next_at, id LIMIT ?3",
            )?
            .query_map(params![now, IDLE, limit.max(1)], |r| r.get(0))?
            .collect()
        })
        .await
    }

    async fn claim_rotation(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
        force: bool,
    ) -> StoreResult<Option<RotationRow>> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.write(move |c, _| {
            let taken = c
                .execute(
                    "UPDATE rotations SET lease_owner = ?2, lease_until = ?4
                     WHERE id = ?1
                       AND (lease_owner IS NULL OR lease_owner = ?2 OR lease_until <= ?3)
                       AND (?5 OR next_at <= ?3 OR state <> ?6)",
                    params![id, owner, now, until, force, IDLE],
                )
                .map_err(backend)?;
            if taken == 0 {
                return Ok(None);
            }
            c.query_row(
                &format!("SELECT {ROTATION_COLS} FROM rotations WHERE id = ?1"),
                params![id],
                rotation_row,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn rotation_step(
        &self,
        id: &str,
        owner: &str,
        state: &str,
        state_data: &str,
    ) -> StoreResult<bool> {
        let (id, owner, state, data) = (
            id.to_owned(),
            owner.to_owned(),
            state.to_owned(),
            state_data.to_owned(),
        );
        self.write(move |c, _| {
            c.execute(
                "UPDATE rotations SET state = ?3, state_data = ?4
                 WHERE id = ?1 AND lease_owner = ?2",
                params![id, owner, state, data],
            )
            .map(|n| n == 1)
            .map_err(backend)
        })
        .await
    }

    async fn finish_rotation(
        &self,
        id: &str,
        owner: &str,
        o: RotationOutcome,
        audit: Option<AuditEvent>,
    ) -> StoreResult<bool> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.write(move |c, head| {
            let n = c
                .execute(
                    "UPDATE rotations SET next_at = ?3, state = ?4, state_data = ?5,
                       last_rotated_at = COALESCE(?6, last_rotated_at), last_result = ?7,
                       last_error = ?8, last_attempt_at = ?9,
                       failures = CASE WHEN ?8 IS NULL THEN 0 ELSE failures + 1 END,
                       lease_owner = NULL, lease_until = 0
                     WHERE id = ?1 AND lease_owner = ?2",
                    params![
                        id,
                        owner,
                        o.next_at,
                        o.state,
                        o.state_data,
                        o.rotated_at,
                        o.result,
                        o.error,
                        o.now
                    ],
                )
                .map_err(backend)?;
            if n == 0 {
                return Ok(false);
            }
            if let Some(audit) = &audit {
                insert_audit(c, head, audit)?;
            }
            Ok(true)
        })
        .await
    }
}
