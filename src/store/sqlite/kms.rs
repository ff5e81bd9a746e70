//! `KmsStore` on SQLite: every change goes through the writer thread, so the
//! name and limit checks and the insert are one step.

use super::super::kms::{over_limit, KmsKeyChange, KmsKeyRow, KmsStore, KMS_KEY_COLS};
use super::{backend, insert_audit, SqliteStore};
use crate::store::{AuditEvent, StoreError, StoreResult};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};

fn kms_row(r: &Row) -> rusqlite::Result<KmsKeyRow> {
    Ok(KmsKeyRow {
        id: r.get(0)?,
        project_id: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        disabled: r.get(4)?,
        version: r.get(5)?,
        dek_id: r.get(6)?,
        sealed: r.get(7)?,
        created_at: r.get(8)?,
        created_by: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

fn name_taken(
    c: &rusqlite::Connection,
    project_id: &str,
    name: &str,
    id: &str,
) -> StoreResult<bool> {
    c.query_row(
        "SELECT EXISTS (SELECT 1 FROM kms_keys WHERE project_id = ?1 AND name = ?2 AND id <> ?3)",
        params![project_id, name, id],
        |r| r.get(0),
    )
    .map_err(backend)
}

#[async_trait]
impl KmsStore for SqliteStore {
    async fn create_kms_key(
        &self,
        k: KmsKeyRow,
        max_per_project: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.write(move |c, head| {
            if name_taken(c, &k.project_id, &k.name, &k.id)? {
                return Err(StoreError::Duplicate(format!("KMS key {:?}", k.name)));
            }
            super::rekey::check_live_key(c, &k.project_id, k.dek_id)?;
            let n: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM kms_keys WHERE project_id = ?1",
                    params![k.project_id],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if let Some(text) = over_limit(n, max_per_project) {
                return Err(StoreError::NotEmpty(text));
            }
            c.execute(
                &format!(
                    "INSERT INTO kms_keys ({KMS_KEY_COLS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ),
                params![
                    k.id,
                    k.project_id,
                    k.name,
                    k.description,
                    k.disabled,
                    k.version,
                    k.dek_id,
                    k.sealed,
                    k.created_at,
                    k.created_by,
                    k.updated_at
                ],
            )
            .map_err(backend)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn kms_keys(&self, project_id: &str) -> StoreResult<Vec<KmsKeyRow>> {
        let project_id = project_id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {KMS_KEY_COLS} FROM kms_keys WHERE project_id = ?1 ORDER BY name, id"
            ))?
            .query_map(params![project_id], kms_row)?
            .collect()
        })
        .await
    }

    async fn kms_key(&self, id: &str) -> StoreResult<Option<KmsKeyRow>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {KMS_KEY_COLS} FROM kms_keys WHERE id = ?1"
            ))?
            .query_row(params![id], kms_row)
            .optional()
        })
        .await
    }

    async fn update_kms_key(
        &self,
        id: &str,
        change: KmsKeyChange,
        updated_at: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |c, head| {
            let project_id: Option<String> = c
                .query_row(
                    "SELECT project_id FROM kms_keys WHERE id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            let Some(project_id) = project_id else {
                return Err(StoreError::NotFound("KMS key"));
            };
            if let Some(name) = &change.name {
                if name_taken(c, &project_id, name, &id)? {
                    return Err(StoreError::Duplicate(format!("KMS key {name:?}")));
                }
            }
            c.execute(
                "UPDATE kms_keys SET name = COALESCE(?2, name),
                     description = COALESCE(?3, description),
                     disabled = COALESCE(?4, disabled), updated_at = ?5
                 WHERE id = ?1",
                params![
                    id,
                    change.name,
                    change.description,
                    change.disabled,
                    updated_at
                ],
            )
            .map_err(backend)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn delete_kms_key(&self, id: &str, audit: AuditEvent) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |c, head| {
            let n = c
                .execute("DELETE FROM kms_keys WHERE id = ?1", params![id])
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound("KMS key"));
            }
            insert_audit(c, head, &audit)
        })
        .await
    }
}
