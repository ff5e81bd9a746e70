//! `DynamicStore` on SQLite. Rows change through the writer thread like
//! every other write; the claim follows the same rules as on PostgreSQL so
//! the backends stay one.

use super::super::dynamic::{
    DynamicRow, DynamicStore, LeaseRow, ACTIVE, DYNAMIC_COLS, FAILED, LEASE_COLS, REVOKING,
};
use super::{backend, insert_audit, SqliteStore};
use crate::store::{AuditEvent, StoreError, StoreResult};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};

fn dynamic_row(r: &Row) -> rusqlite::Result<DynamicRow> {
    Ok(DynamicRow {
        id: r.get(0)?,
        project_id: r.get(1)?,
        env_id: r.get(2)?,
        path: r.get(3)?,
        name: r.get(4)?,
        provider: r.get(5)?,
        config: r.get(6)?,
        key_id: r.get(7)?,
        secret_ct: r.get(8)?,
        default_ttl: r.get(9)?,
        max_ttl: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
        created_by: r.get(13)?,
    })
}

fn lease_row(r: &Row) -> rusqlite::Result<LeaseRow> {
    Ok(LeaseRow {
        id: r.get(0)?,
        dynamic_id: r.get(1)?,
        project_id: r.get(2)?,
        username: r.get(3)?,
        expire_at: r.get(4)?,
        status: r.get(5)?,
        status_details: r.get(6)?,
        failures: r.get(7)?,
        next_attempt_at: r.get(8)?,
        claim_owner: r.get(9)?,
        claim_until: r.get(10)?,
        version: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
        created_by: r.get(14)?,
    })
}

#[async_trait]
impl DynamicStore for SqliteStore {
    async fn create_dynamic(&self, row: DynamicRow, audit: AuditEvent) -> StoreResult<()> {
        self.write(move |c, head| {
            super::rekey::check_live_key(c, &row.project_id, row.key_id)?;
            let n = c
                .execute(
                    &format!(
                        "INSERT INTO dynamic_secrets ({DYNAMIC_COLS})
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                         ON CONFLICT (env_id, path, name) DO NOTHING"
                    ),
                    params![
                        row.id,
                        row.project_id,
                        row.env_id,
                        row.path,
                        row.name,
                        row.provider,
                        row.config,
                        row.key_id,
                        row.secret_ct,
                        row.default_ttl,
                        row.max_ttl,
                        row.created_at,
                        row.updated_at,
                        row.created_by
                    ],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::Duplicate(format!(
                    "a dynamic secret named {:?} in this folder",
                    row.name
                )));
            }
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn dynamic_secrets(&self, project_id: &str) -> StoreResult<Vec<DynamicRow>> {
        let project_id = project_id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {DYNAMIC_COLS} FROM dynamic_secrets WHERE project_id = ?1
                 ORDER BY path, name, env_id"
            ))?
            .query_map(params![project_id], dynamic_row)?
            .collect()
        })
        .await
    }

    async fn dynamic_secret(&self, id: &str) -> StoreResult<Option<DynamicRow>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {DYNAMIC_COLS} FROM dynamic_secrets WHERE id = ?1"
            ))?
            .query_row(params![id], dynamic_row)
            .optional()
        })
        .await
    }

    async fn dynamic_secret_named(
        &self,
        env_id: &str,
        path: &str,
        name: &str,
    ) -> StoreResult<Option<DynamicRow>> {
        let (env_id, path, name) = (env_id.to_owned(), path.to_owned(), name.to_owned());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {DYNAMIC_COLS} FROM dynamic_secrets
                 WHERE env_id = ?1 AND path = ?2 AND name = ?3"
            ))?
            .query_row(params![env_id, path, name], dynamic_row)
            .optional()
        })
        .await
    }

    async fn update_dynamic(&self, row: DynamicRow, audit: AuditEvent) -> StoreResult<()> {
        self.write(move |c, head| {
            let taken: Option<String> = c
                .query_row(
                    "SELECT id FROM dynamic_secrets
                     WHERE env_id = ?1 AND path = ?2 AND name = ?3 AND id <> ?4",
                    params![row.env_id, row.path, row.name, row.id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            if taken.is_some() {
                return Err(StoreError::Duplicate(format!(
                    "a dynamic secret named {:?} in this folder",
                    row.name
                )));
            }
            super::rekey::check_live_key(c, &row.project_id, row.key_id)?;
            let n = c
                .execute(
                    "UPDATE dynamic_secrets SET name = ?2, config = ?3, key_id = ?4,
                       secret_ct = ?5, default_ttl = ?6, max_ttl = ?7, updated_at = ?8
                     WHERE id = ?1",
                    params![
                        row.id,
                        row.name,
                        row.config,
                        row.key_id,
                        row.secret_ct,
                        row.default_ttl,
                        row.max_ttl,
                        row.updated_at
                    ],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound("dynamic secret"));
            }
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn delete_dynamic(&self, id: &str, audit: AuditEvent) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |c, head| {
            c.execute(
                "DELETE FROM dynamic_leases WHERE dynamic_id = ?1",
                params![id],
            )
            .map_err(backend)?;
            let n = c
                .execute("DELETE FROM dynamic_secrets WHERE id = ?1", params![id])
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound("dynamic secret"));
            }
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn create_lease(&self, row: LeaseRow, audit: AuditEvent) -> StoreResult<()> {
        self.write(move |c, head| {
            c.execute(
                &format!(
                    "INSERT INTO dynamic_leases ({LEASE_COLS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, 0, 0, NULL, 0, 1, ?7, ?7, ?8)"
                ),
                params![
                    row.id,
                    row.dynamic_id,
                    row.project_id,
                    row.username,
                    row.expire_at,
                    row.status,
                    row.created_at,
                    row.created_by
                ],
            )
            .map_err(backend)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn leases(&self, dynamic_id: &str) -> StoreResult<Vec<LeaseRow>> {
        let dynamic_id = dynamic_id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {LEASE_COLS} FROM dynamic_leases WHERE dynamic_id = ?1
                 ORDER BY created_at, id"
            ))?
            .query_map(params![dynamic_id], lease_row)?
            .collect()
        })
        .await
    }

    async fn lease(&self, id: &str) -> StoreResult<Option<LeaseRow>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {LEASE_COLS} FROM dynamic_leases WHERE id = ?1"
            ))?
            .query_row(params![id], lease_row)
            .optional()
        })
        .await
    }

    async fn renew_lease(
        &self,
        id: &str,
        expire_at: i64,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(move |c, head| {
            let n = c
                .execute(
                    "UPDATE dynamic_leases SET expire_at = ?2, updated_at = ?3,
                       version = version + 1
                     WHERE id = ?1 AND status = ?4 AND expire_at > ?3
                       AND (claim_owner IS NULL OR claim_until <= ?3)",
                    params![id, expire_at, now, ACTIVE],
                )
                .map_err(backend)?;
            if n == 0 {
                return Ok(false);
            }
            insert_audit(c, head, &audit)?;
            Ok(true)
        })
        .await
    }

    async fn due_leases(&self, now: i64, limit: i64) -> StoreResult<Vec<String>> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT id FROM dynamic_leases
                 WHERE (expire_at <= ?1 OR status <> ?2) AND next_attempt_at <= ?1
                   AND (claim_owner IS NULL OR claim_until <= ?1)
                 ORDER BY expire_at, id LIMIT ?3",
            )?
            .query_map(params![now, ACTIVE, limit.max(1)], |r| r.get(0))?
            .collect()
        })
        .await
    }

    async fn claim_lease(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
        force: bool,
    ) -> StoreResult<Option<LeaseRow>> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.write(move |c, _| {
            let taken = c
                .execute(
                    "UPDATE dynamic_leases SET claim_owner = ?2, claim_until = ?4, status =
                       CASE WHEN status = ?6 THEN ?7 ELSE status END, updated_at = ?3
                     WHERE id = ?1
                       AND (claim_owner IS NULL OR claim_owner = ?2 OR claim_until <= ?3)
                       AND (?5 OR ((expire_at <= ?3 OR status <> ?6) AND next_attempt_at <= ?3))",
                    params![id, owner, now, until, force, ACTIVE, REVOKING],
                )
                .map_err(backend)?;
            if taken == 0 {
                return Ok(None);
            }
            c.query_row(
                &format!("SELECT {LEASE_COLS} FROM dynamic_leases WHERE id = ?1"),
                params![id],
                lease_row,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn lease_revoked(&self, id: &str, owner: &str, audit: AuditEvent) -> StoreResult<bool> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.write(move |c, head| {
            let n = c
                .execute(
                    "DELETE FROM dynamic_leases WHERE id = ?1 AND claim_owner = ?2",
                    params![id, owner],
                )
                .map_err(backend)?;
            if n == 0 {
                return Ok(false);
            }
            insert_audit(c, head, &audit)?;
            Ok(true)
        })
        .await
    }

    async fn lease_revoke_failed(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        next_attempt_at: i64,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<bool> {
        let (id, owner, error) = (id.to_owned(), owner.to_owned(), error.to_owned());
        self.write(move |c, head| {
            let n = c
                .execute(
                    "UPDATE dynamic_leases SET status = ?3, status_details = ?4,
                       failures = failures + 1, next_attempt_at = ?5, updated_at = ?6,
                       claim_owner = NULL, claim_until = 0
                     WHERE id = ?1 AND claim_owner = ?2",
                    params![id, owner, FAILED, error, next_attempt_at, now],
                )
                .map_err(backend)?;
            if n == 0 {
                return Ok(false);
            }
            insert_audit(c, head, &audit)?;
            Ok(true)
        })
        .await
    }
}
