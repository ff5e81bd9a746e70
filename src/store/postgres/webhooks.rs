//! `WebhookStore` on PostgreSQL, where several replicas share the rows. As
//! for audit streams (`postgres::streams`), the lease is one conditional
//! UPDATE judged by the database's clock, so one replica at a time delivers
//! a webhook, and the cursor moves only by compare-and-set under the lease:
//! each change is delivered by one replica.

use super::super::webhooks::{webhook_events_sql, WebhookRow, WebhookStore, WEBHOOK_COLS};
use super::rows::{audit, AUDIT_COLS};
use super::{backend, exec_one, first, insert_audit, map_rows, tx_exec, tx_query, PostgresStore};
use crate::store::{AuditEvent, AuditRow, StoreError, StoreResult};
use async_trait::async_trait;
use tokio_postgres::{Error, Row};

fn webhook_row(r: &Row) -> Result<WebhookRow, Error> {
    Ok(WebhookRow {
        id: r.try_get(0)?,
        project_id: r.try_get(1)?,
        env_id: r.try_get(2)?,
        environment: r.try_get(3)?,
        secret_path: r.try_get(4)?,
        kind: r.try_get(5)?,
        url_shown: r.try_get(6)?,
        signed: r.try_get(7)?,
        key_wrapped: r.try_get(8)?,
        sealed: r.try_get(9)?,
        disabled: r.try_get(10)?,
        cursor_seq: r.try_get(11)?,
        created_at: r.try_get(12)?,
        created_by: r.try_get(13)?,
        updated_at: r.try_get(14)?,
        lease_owner: r.try_get(15)?,
        lease_until: r.try_get(16)?,
        last_attempt_at: r.try_get(17)?,
        last_status: r.try_get(18)?,
        last_error: r.try_get(19)?,
        failures: r.try_get(20)?,
    })
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn create_webhook(
        &self,
        w: WebhookRow,
        max_per_project: i64,
        max_total: i64,
        audit_event: AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            // Serialises adds between replicas, so the count below stays
            // true until this commits.
            tx_exec(tx, "LOCK TABLE webhooks IN SHARE ROW EXCLUSIVE MODE", &[]).await?;
            let (n, total): (i64, i64) = first(
                tx_query(
                    tx,
                    "SELECT (SELECT COUNT(*) FROM webhooks WHERE project_id = $1)::bigint,
                            (SELECT COUNT(*) FROM webhooks)::bigint",
                    &[&w.project_id],
                )
                .await?,
                |r| Ok((r.try_get(0)?, r.try_get(1)?)),
            )?
            .unwrap_or((0, 0));
            if let Some(text) =
                super::super::webhooks::over_limit(n, max_per_project, total, max_total)
            {
                return Err(StoreError::NotEmpty(text));
            }
            tx_exec(
                tx,
                &format!(
                    "INSERT INTO webhooks ({WEBHOOK_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
                     $9, $10, $11, $12, $13, $14, $15, NULL, 0, NULL, NULL, NULL, 0)"
                ),
                &[
                    &w.id,
                    &w.project_id,
                    &w.env_id,
                    &w.environment,
                    &w.secret_path,
                    &w.kind,
                    &w.url_shown,
                    &w.signed,
                    &w.key_wrapped,
                    &w.sealed,
                    &w.disabled,
                    &w.cursor_seq,
                    &w.created_at,
                    &w.created_by,
                    &w.updated_at,
                ],
            )
            .await?;
            insert_audit(tx, &self.audit_key, &audit_event).await?;
            Ok(())
        })
    }

    async fn webhooks(&self, project_id: Option<&str>) -> StoreResult<Vec<WebhookRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {WEBHOOK_COLS} FROM webhooks
                     WHERE $1::text IS NULL OR project_id = $1 ORDER BY created_at, id"
                ),
                &[&project_id],
            )
            .await?;
        map_rows(rows, webhook_row)
    }

    async fn webhook(&self, id: &str) -> StoreResult<Option<WebhookRow>> {
        let rows = self
            .read(
                &format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE id = $1"),
                &[&id],
            )
            .await?;
        first(rows, webhook_row)
    }

    async fn delete_webhook(&self, id: &str, audit_event: AuditEvent) -> StoreResult<()> {
        self.change_one(
            "DELETE FROM webhooks WHERE id = $1",
            &[&id],
            "webhook",
            &audit_event,
        )
        .await
    }

    async fn set_webhook_disabled(
        &self,
        id: &str,
        disabled: bool,
        cursor_seq: i64,
        updated_at: i64,
        audit_event: AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            exec_one(
                tx,
                "UPDATE webhooks SET disabled = $2, cursor_seq = $3, updated_at = $4 WHERE id = $1",
                &[&id, &disabled, &cursor_seq, &updated_at],
                "webhook",
            )
            .await?;
            insert_audit(tx, &self.audit_key, &audit_event).await?;
            Ok(())
        })
    }

    async fn lease_webhook(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> StoreResult<Option<WebhookRow>> {
        // The streams' lease, judged by the database's clock.
        let span = until - now;
        let rows = self
            .read(
                &super::streams::lease_sql("webhooks", WEBHOOK_COLS),
                &[&id, &owner, &span],
            )
            .await?;
        if let Some(row) = first(rows, webhook_row)? {
            return Ok(Some(row));
        }
        match self.webhook(id).await? {
            Some(_) => Ok(None),
            None => Err(StoreError::NotFound("webhook")),
        }
    }

    async fn advance_webhook(
        &self,
        id: &str,
        owner: &str,
        from: i64,
        to: i64,
        delivered: bool,
        now: i64,
    ) -> StoreResult<bool> {
        let rows = self
            .read(
                "UPDATE webhooks SET cursor_seq = $4,
                   last_attempt_at = CASE WHEN $5 THEN $6 ELSE last_attempt_at END,
                   last_status = CASE WHEN $5 THEN 'success' ELSE last_status END,
                   last_error = CASE WHEN $5 THEN NULL ELSE last_error END,
                   failures = CASE WHEN $5 THEN 0 ELSE failures END
                 WHERE id = $1 AND lease_owner = $2 AND cursor_seq = $3
                 RETURNING id",
                &[&id, &owner, &from, &to, &delivered, &now],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    async fn webhook_attempted(
        &self,
        id: &str,
        owner: Option<&str>,
        error: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        self.read(
            "UPDATE webhooks SET
               last_status = CASE WHEN $3::text IS NULL THEN 'success' ELSE 'failed' END,
               last_error = $3, last_attempt_at = $4,
               failures = CASE WHEN $3::text IS NULL THEN 0 ELSE failures + 1 END
             WHERE id = $1 AND ($2::text IS NULL OR lease_owner = $2)
             RETURNING id",
            &[&id, &owner, &error, &now],
        )
        .await
        .map(drop)
    }

    async fn release_webhook(&self, id: &str, owner: &str) -> StoreResult<()> {
        self.read(
            "UPDATE webhooks SET lease_owner = NULL, lease_until = 0
             WHERE id = $1 AND lease_owner = $2
             RETURNING id",
            &[&id, &owner],
        )
        .await
        .map(drop)
    }

    async fn rewrap_webhook_keys(&self, keys: Vec<(String, Vec<u8>)>) -> StoreResult<()> {
        in_tx!(self, |tx| {
            for (id, wrapped) in &keys {
                tx_exec(
                    tx,
                    "UPDATE webhooks SET key_wrapped = $2 WHERE id = $1",
                    &[id, wrapped],
                )
                .await?;
            }
            Ok(())
        })
    }

    async fn webhook_events_after(
        &self,
        project_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>> {
        // In `seq` order, as for streams: appenders hold the audit head's
        // lock until they commit, so no earlier event shows up later.
        let rows = self
            .read(
                &format!(
                    "SELECT {AUDIT_COLS} FROM audit_events
                     WHERE seq > $1 AND project_id = $2 AND {}
                     ORDER BY seq LIMIT $3",
                    webhook_events_sql()
                ),
                &[&after_seq, &project_id, &limit.max(1)],
            )
            .await?;
        map_rows(rows, audit)
    }
}
