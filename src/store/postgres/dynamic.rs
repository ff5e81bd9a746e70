//! `DynamicStore` on PostgreSQL, where several replicas share the rows. A
//! lease is claimed for revocation by one conditional UPDATE (atomic under
//! READ COMMITTED: a second replica's UPDATE waits for the first to commit,
//! then re-checks its WHERE clause), and only the holder may delete it or
//! record its failure: each expired lease is revoked by one replica.

use super::super::dynamic::{
    DynamicRow, DynamicStore, LeaseRow, ACTIVE, DYNAMIC_COLS, FAILED, LEASE_COLS, REVOKING,
};
use super::{backend, first, insert_audit, map_rows, tx_query, PostgresStore};
use crate::store::{AuditEvent, StoreError, StoreResult};
use async_trait::async_trait;
use tokio_postgres::{Error, Row};

fn dynamic_row(r: &Row) -> Result<DynamicRow, Error> {
    Ok(DynamicRow {
        id: r.try_get(0)?,
        project_id: r.try_get(1)?,
        env_id: r.try_get(2)?,
        path: r.try_get(3)?,
        name: r.try_get(4)?,
        provider: r.try_get(5)?,
        config: r.try_get(6)?,
        key_id: r.try_get(7)?,
        secret_ct: r.try_get(8)?,
        default_ttl: r.try_get(9)?,
        max_ttl: r.try_get(10)?,
        created_at: r.try_get(11)?,
        updated_at: r.try_get(12)?,
        created_by: r.try_get(13)?,
    })
}

fn lease_row(r: &Row) -> Result<LeaseRow, Error> {
    Ok(LeaseRow {
        id: r.try_get(0)?,
        dynamic_id: r.try_get(1)?,
        project_id: r.try_get(2)?,
        username: r.try_get(3)?,
        expire_at: r.try_get(4)?,
        status: r.try_get(5)?,
        status_details: r.try_get(6)?,
        failures: r.try_get(7)?,
        next_attempt_at: r.try_get(8)?,
        claim_owner: r.try_get(9)?,
        claim_until: r.try_get(10)?,
        version: r.try_get(11)?,
        created_at: r.try_get(12)?,
        updated_at: r.try_get(13)?,
        created_by: r.try_get(14)?,
    })
}

#[async_trait]
impl DynamicStore for PostgresStore {
    async fn create_dynamic(&self, row: DynamicRow, audit_event: AuditEvent) -> StoreResult<()> {
        in_tx!(self, |tx| {
            super::rekey::check_live_key(tx, &row.project_id, row.key_id).await?;
            let inserted = tx_query(
                tx,
                &format!(
                    "INSERT INTO dynamic_secrets ({DYNAMIC_COLS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                     ON CONFLICT (env_id, path, name) DO NOTHING RETURNING id"
                ),
                &[
                    &row.id,
                    &row.project_id,
                    &row.env_id,
                    &row.path,
                    &row.name,
                    &row.provider,
                    &row.config,
                    &row.key_id,
                    &row.secret_ct,
                    &row.default_ttl,
                    &row.max_ttl,
                    &row.created_at,
                    &row.updated_at,
                    &row.created_by,
                ],
            )
            .await?;
            if inserted.is_empty() {
                return Err(StoreError::Duplicate(format!(
                    "a dynamic secret named {:?} in this folder",
                    row.name
                )));
            }
            insert_audit(tx, &self.audit_key, &audit_event).await?;
            Ok(())
        })
    }

    async fn dynamic_secrets(&self, project_id: &str) -> StoreResult<Vec<DynamicRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {DYNAMIC_COLS} FROM dynamic_secrets WHERE project_id = $1
                     ORDER BY path, name, env_id"
                ),
                &[&project_id],
            )
            .await?;
        map_rows(rows, dynamic_row)
    }

    async fn dynamic_secret(&self, id: &str) -> StoreResult<Option<DynamicRow>> {
        let rows = self
            .read(
                &format!("SELECT {DYNAMIC_COLS} FROM dynamic_secrets WHERE id = $1"),
                &[&id],
            )
            .await?;
        first(rows, dynamic_row)
    }

    async fn dynamic_secret_named(
        &self,
        env_id: &str,
        path: &str,
        name: &str,
    ) -> StoreResult<Option<DynamicRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {DYNAMIC_COLS} FROM dynamic_secrets
                     WHERE env_id = $1 AND path = $2 AND name = $3"
                ),
                &[&env_id, &path, &name],
            )
            .await?;
        first(rows, dynamic_row)
    }

    async fn update_dynamic(&self, row: DynamicRow, audit_event: AuditEvent) -> StoreResult<()> {
        in_tx!(self, |tx| {
            let taken = tx_query(
                tx,
                "SELECT id FROM dynamic_secrets
                 WHERE env_id = $1 AND path = $2 AND name = $3 AND id <> $4",
                &[&row.env_id, &row.path, &row.name, &row.id],
            )
            .await?;
            if !taken.is_empty() {
                return Err(StoreError::Duplicate(format!(
                    "a dynamic secret named {:?} in this folder",
                    row.name
                )));
            }
            super::rekey::check_live_key(tx, &row.project_id, row.key_id).await?;
            let changed = tx_query(
                tx,
                "UPDATE dynamic_secrets SET name = $2, config = $3, key_id = $4,
                   secret_ct = $5, default_ttl = $6, max_ttl = $7, updated_at = $8
                 WHERE id = $1 RETURNING id",
                &[
                    &row.id,
                    &row.name,
                    &row.config,
                    &row.key_id,
                    &row.secret_ct,
                    &row.default_ttl,
                    &row.max_ttl,
                    &row.updated_at,
                ],
            )
            .await?;
            if changed.is_empty() {
                return Err(StoreError::NotFound("dynamic secret"));
            }
            insert_audit(tx, &self.audit_key, &audit_event).await?;
            Ok(())
        })
    }

    async fn delete_dynamic(&self, id: &str, audit_event: AuditEvent) -> StoreResult<()> {
        in_tx!(self, |tx| {
            tx_query(
                tx,
                "DELETE FROM dynamic_leases WHERE dynamic_id = $1",
                &[&id],
            )
            .await?;
            let gone = tx_query(
                tx,
                "DELETE FROM dynamic_secrets WHERE id = $1 RETURNING id",
                &[&id],
            )
            .await?;
            if gone.is_empty() {
                return Err(StoreError::NotFound("dynamic secret"));
            }
            insert_audit(tx, &self.audit_key, &audit_event).await?;
            Ok(())
        })
    }

    async fn create_lease(&self, row: LeaseRow, audit_event: AuditEvent) -> StoreResult<()> {
        in_tx!(self, |tx| {
            tx_query(
                tx,
                &format!(
                    "INSERT INTO dynamic_leases ({LEASE_COLS})
                     VALUES ($1, $2, $3, $4, $5, $6, NULL, 0, 0, NULL, 0, 1, $7, $7, $8)"
                ),
                &[
                    &row.id,
                    &row.dynamic_id,
                    &row.project_id,
                    &row.username,
                    &row.expire_at,
                    &row.status,
                    &row.created_at,
                    &row.created_by,
                ],
            )
            .await?;
            insert_audit(tx, &self.audit_key, &audit_event).await?;
            Ok(())
        })
    }

    async fn leases(&self, dynamic_id: &str) -> StoreResult<Vec<LeaseRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {LEASE_COLS} FROM dynamic_leases WHERE dynamic_id = $1
                     ORDER BY created_at, id"
                ),
                &[&dynamic_id],
            )
            .await?;
        map_rows(rows, lease_row)
    }

    async fn lease(&self, id: &str) -> StoreResult<Option<LeaseRow>> {
        let rows = self
            .read(
                &format!("SELECT {LEASE_COLS} FROM dynamic_leases WHERE id = $1"),
                &[&id],
            )
            .await?;
        first(rows, lease_row)
    }

    async fn renew_lease(
        &self,
        id: &str,
        expire_at: i64,
        now: i64,
        audit_event: AuditEvent,
    ) -> StoreResult<bool> {
        in_tx!(self, |tx| {
            let rows = tx_query(
                tx,
                "UPDATE dynamic_leases SET expire_at = $2, updated_at = $3, version = version + 1
                 WHERE id = $1 AND status = $4 AND expire_at > $3
                   AND (claim_owner IS NULL OR claim_until <= $3)
                 RETURNING id",
                &[&id, &expire_at, &now, &ACTIVE],
            )
            .await?;
            if rows.is_empty() {
                return Ok(false);
            }
            insert_audit(tx, &self.audit_key, &audit_event).await?;
            Ok(true)
        })
    }

    async fn due_leases(&self, now: i64, limit: i64) -> StoreResult<Vec<String>> {
        let rows = self
            .read(
                "SELECT id FROM dynamic_leases
                 WHERE (expire_at <= $1 OR status <> $2) AND next_attempt_at <= $1
                   AND (claim_owner IS NULL OR claim_until <= $1)
                 ORDER BY expire_at, id LIMIT $3",
                &[&now, &ACTIVE, &limit.max(1)],
            )
            .await?;
        map_rows(rows, |r| r.try_get(0))
    }

    async fn claim_lease(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
        force: bool,
    ) -> StoreResult<Option<LeaseRow>> {
        let rows = self
            .read(
                &format!(
                    "UPDATE dynamic_leases SET claim_owner = $2, claim_until = $4, status =
                       CASE WHEN status = $6 THEN $7 ELSE status END, updated_at = $3
                     WHERE id = $1
                       AND (claim_owner IS NULL OR claim_owner = $2 OR claim_until <= $3)
                       AND ($5::boolean
                            OR ((expire_at <= $3 OR status <> $6) AND next_attempt_at <= $3))
                     RETURNING {LEASE_COLS}"
                ),
                &[&id, &owner, &now, &until, &force, &ACTIVE, &REVOKING],
            )
            .await?;
        first(rows, lease_row)
    }

    async fn lease_revoked(
        &self,
        id: &str,
        owner: &str,
        audit_event: AuditEvent,
    ) -> StoreResult<bool> {
        in_tx!(self, |tx| {
            let rows = tx_query(
                tx,
                "DELETE FROM dynamic_leases WHERE id = $1 AND claim_owner = $2 RETURNING id",
                &[&id, &owner],
            )
            .await?;
            if rows.is_empty() {
                return Ok(false);
            }
            insert_audit(tx, &self.audit_key, &audit_event).await?;
            Ok(true)
        })
    }

    async fn lease_revoke_failed(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        next_attempt_at: i64,
        now: i64,
        audit_event: AuditEvent,
    ) -> StoreResult<bool> {
        in_tx!(self, |tx| {
            let rows = tx_query(
                tx,
                "UPDATE dynamic_leases SET status = $3, status_details = $4,
                   failures = failures + 1, next_attempt_at = $5, updated_at = $6,
                   claim_owner = NULL, claim_until = 0
                 WHERE id = $1 AND claim_owner = $2 RETURNING id",
                &[&id, &owner, &FAILED, &error, &next_attempt_at, &now],
            )
            .await?;
            if rows.is_empty() {
                return Ok(false);
            }
            insert_audit(tx, &self.audit_key, &audit_event).await?;
            Ok(true)
        })
    }
}
