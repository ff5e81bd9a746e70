//! `KmsStore` on PostgreSQL. Adds and renames take a table lock for the
//! length of their transaction, so two replicas cannot both pass the name
//! and limit checks; the unique index on (project, name) backs this up.

use super::super::kms::{over_limit, KmsKeyChange, KmsKeyRow, KmsStore, KMS_KEY_COLS};
use super::{backend, exec_one, first, insert_audit, map_rows, tx_exec, tx_query, PostgresStore};
use crate::store::{AuditEvent, StoreError, StoreResult};
use async_trait::async_trait;
use deadpool_postgres::Transaction;
use tokio_postgres::{Error, Row};

fn kms_row(r: &Row) -> Result<KmsKeyRow, Error> {
    Ok(KmsKeyRow {
        id: r.try_get(0)?,
        project_id: r.try_get(1)?,
        name: r.try_get(2)?,
        description: r.try_get(3)?,
        disabled: r.try_get(4)?,
        version: r.try_get(5)?,
        dek_id: r.try_get(6)?,
        sealed: r.try_get(7)?,
        created_at: r.try_get(8)?,
        created_by: r.try_get(9)?,
        updated_at: r.try_get(10)?,
    })
}

/// Serialises adds and renames between replicas until the commit.
async fn lock(tx: &Transaction<'_>) -> StoreResult<()> {
    tx_exec(tx, "LOCK TABLE kms_keys IN SHARE ROW EXCLUSIVE MODE", &[]).await?;
    Ok(())
}

async fn name_taken(
    tx: &Transaction<'_>,
    project_id: &str,
    name: &str,
    id: &str,
) -> StoreResult<bool> {
    let rows = tx_query(
        tx,
        "SELECT EXISTS (SELECT 1 FROM kms_keys WHERE project_id = $1 AND name = $2 AND id <> $3)",
        &[&project_id, &name, &id],
    )
    .await?;
    Ok(first(rows, |r| r.try_get::<_, bool>(0))?.unwrap_or(false))
}

#[async_trait]
impl KmsStore for PostgresStore {
    async fn create_kms_key(
        &self,
        k: KmsKeyRow,
        max_per_project: i64,
        audit_event: AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            lock(tx).await?;
            if name_taken(tx, &k.project_id, &k.name, &k.id).await? {
                return Err(StoreError::Duplicate(format!("KMS key {:?}", k.name)));
            }
            super::rekey::check_live_key(tx, &k.project_id, k.dek_id).await?;
            let n: i64 = first(
                tx_query(
                    tx,
                    "SELECT COUNT(*)::bigint FROM kms_keys WHERE project_id = $1",
                    &[&k.project_id],
                )
                .await?,
                |r| r.try_get(0),
            )?
            .unwrap_or(0);
            if let Some(text) = over_limit(n, max_per_project) {
                return Err(StoreError::NotEmpty(text));
            }
            tx_exec(
                tx,
                &format!(
                    "INSERT INTO kms_keys ({KMS_KEY_COLS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ),
                &[
                    &k.id,
                    &k.project_id,
                    &k.name,
                    &k.description,
                    &k.disabled,
                    &k.version,
                    &k.dek_id,
                    &k.sealed,
                    &k.created_at,
                    &k.created_by,
                    &k.updated_at,
                ],
            )
            .await?;
            insert_audit(tx, &self.audit_key, &audit_event).await?;
            Ok(())
        })
    }

    async fn kms_keys(&self, project_id: &str) -> StoreResult<Vec<KmsKeyRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {KMS_KEY_COLS} FROM kms_keys WHERE project_id = $1 ORDER BY name, id"
                ),
                &[&project_id],
            )
            .await?;
        map_rows(rows, kms_row)
    }

    async fn kms_key(&self, id: &str) -> StoreResult<Option<KmsKeyRow>> {
        let rows = self
            .read(
                &format!("SELECT {KMS_KEY_COLS} FROM kms_keys WHERE id = $1"),
                &[&id],
            )
            .await?;
        first(rows, kms_row)
    }

    async fn update_kms_key(
        &self,
        id: &str,
        change: KmsKeyChange,
        updated_at: i64,
        audit_event: AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            if let Some(name) = &change.name {
                lock(tx).await?;
                let project: Option<String> = first(
                    tx_query(tx, "SELECT project_id FROM kms_keys WHERE id = $1", &[&id]).await?,
                    |r| r.try_get(0),
                )?;
                let Some(project) = project else {
                    return Err(StoreError::NotFound("KMS key"));
                };
                if name_taken(tx, &project, name, id).await? {
                    return Err(StoreError::Duplicate(format!("KMS key {name:?}")));
                }
            }
            exec_one(
                tx,
                "UPDATE kms_keys SET name = COALESCE($2, name),
                     description = COALESCE($3, description),
                     disabled = COALESCE($4, disabled), updated_at = $5
                 WHERE id = $1",
                &[
                    &id,
                    &change.name,
                    &change.description,
                    &change.disabled,
                    &updated_at,
                ],
                "KMS key",
            )
            .await?;
            insert_audit(tx, &self.audit_key, &audit_event).await?;
            Ok(())
        })
    }

    async fn delete_kms_key(&self, id: &str, audit_event: AuditEvent) -> StoreResult<()> {
        self.change_one(
            "DELETE FROM kms_keys WHERE id = $1",
            &[&id],
            "KMS key",
            &audit_event,
        )
        .await
    }
}
