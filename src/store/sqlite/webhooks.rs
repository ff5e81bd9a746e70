//! `WebhookStore` on SQLite. Rows change through the writer thread like
//! every other write; one process opens a SQLite data dir, so the lease has
//! no rival here, but the same rules as on PostgreSQL keep the backends one.

use super::super::webhooks::{webhook_events_sql, WebhookRow, WebhookStore, WEBHOOK_COLS};
use super::audit_chain::{from_row, COLS as AUDIT_COLS};
use super::{backend, insert_audit, SqliteStore};
use crate::store::{AuditEvent, AuditRow, StoreError, StoreResult};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};

fn webhook_row(r: &Row) -> rusqlite::Result<WebhookRow> {
    Ok(WebhookRow {
        id: r.get(0)?,
        project_id: r.get(1)?,
        env_id: r.get(2)?,
        environment: r.get(3)?,
        secret_path: r.get(4)?,
        kind: r.get(5)?,
        url_shown: r.get(6)?,
        signed: r.get(7)?,
        key_wrapped: r.get(8)?,
        sealed: r.get(9)?,
        disabled: r.get(10)?,
        cursor_seq: r.get(11)?,
        created_at: r.get(12)?,
        created_by: r.get(13)?,
        updated_at: r.get(14)?,
        lease_owner: r.get(15)?,
        lease_until: r.get(16)?,
        last_attempt_at: r.get(17)?,
        last_status: r.get(18)?,
        last_error: r.get(19)?,
        failures: r.get(20)?,
    })
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook(
        &self,
        w: WebhookRow,
        max_per_project: i64,
        max_total: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.write(move |c, head| {
            let (n, total): (i64, i64) = c
                .query_row(
                    "SELECT (SELECT COUNT(*) FROM webhooks WHERE project_id = ?1),
                            (SELECT COUNT(*) FROM webhooks)",
                    params![w.project_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(backend)?;
            if let Some(text) =
                super::super::webhooks::over_limit(n, max_per_project, total, max_total)
            {
                return Err(StoreError::NotEmpty(text));
            }
            c.execute(
                &format!(
                    "INSERT INTO webhooks ({WEBHOOK_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,
                     ?9, ?10, ?11, ?12, ?13, ?14, ?15, NULL, 0, NULL, NULL, NULL, 0)"
                ),
                params![
                    w.id,
                    w.project_id,
                    w.env_id,
                    w.environment,
                    w.secret_path,
                    w.kind,
                    w.url_shown,
                    w.signed,
                    w.key_wrapped,
                    w.sealed,
                    w.disabled,
                    w.cursor_seq,
                    w.created_at,
                    w.created_by,
                    w.updated_at
                ],
            )
            .map_err(backend)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn webhooks(&self, project_id: Option<&str>) -> StoreResult<Vec<WebhookRow>> {
        let project_id = project_id.map(str::to_owned);
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {WEBHOOK_COLS} FROM webhooks WHERE ?1 IS NULL OR project_id = ?1
                 ORDER BY created_at, id"
            ))?
            .query_map(params![project_id], webhook_row)?
            .collect()
        })
        .await
    }

    async fn webhook(&self, id: &str) -> StoreResult<Option<WebhookRow>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {WEBHOOK_COLS} FROM webhooks WHERE id = ?1"
            ))?
            .query_row(params![id], webhook_row)
            .optional()
        })
        .await
    }

    async fn delete_webhook(&self, id: &str, audit: AuditEvent) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |c, head| {
            let n = c
                .execute("DELETE FROM webhooks WHERE id = ?1", params![id])
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound("webhook"));
            }
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn set_webhook_disabled(
        &self,
        id: &str,
        disabled: bool,
        cursor_seq: i64,
        updated_at: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |c, head| {
            let n = c
                .execute(
                    "UPDATE webhooks SET disabled = ?2, cursor_seq = ?3, updated_at = ?4
                     WHERE id = ?1",
                    params![id, disabled, cursor_seq, updated_at],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound("webhook"));
            }
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn lease_webhook(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> StoreResult<Option<WebhookRow>> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.write(move |c, _| {
            let taken = c
                .execute(
                    "UPDATE webhooks SET lease_owner = ?2, lease_until = ?4
                     WHERE id = ?1 AND (lease_owner IS NULL OR lease_owner = ?2 OR lease_until <= ?3)",
                    params![id, owner, now, until],
                )
                .map_err(backend)?;
            let row = c
                .query_row(
                    &format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE id = ?1"),
                    params![id],
                    webhook_row,
                )
                .optional()
                .map_err(backend)?;
            match row {
                None => Err(StoreError::NotFound("webhook")),
                Some(row) if taken == 1 => Ok(Some(row)),
                Some(_) => Ok(None),
            }
        })
        .await
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
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.write(move |c, _| {
            let sql = if delivered {
                "UPDATE webhooks SET cursor_seq = ?4, last_attempt_at = ?5,
                   last_status = 'success', last_error = NULL, failures = 0
                 WHERE id = ?1 AND lease_owner = ?2 AND cursor_seq = ?3"
            } else {
                "UPDATE webhooks SET cursor_seq = ?4
                 WHERE id = ?1 AND lease_owner = ?2 AND cursor_seq = ?3 AND ?5 = ?5"
            };
            c.execute(sql, params![id, owner, from, to, now])
                .map(|n| n == 1)
                .map_err(backend)
        })
        .await
    }

    async fn webhook_attempted(
        &self,
        id: &str,
        owner: Option<&str>,
        error: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        let (id, owner, error) = (
            id.to_owned(),
            owner.map(str::to_owned),
            error.map(str::to_owned),
        );
        self.write(move |c, _| {
            let sql = if error.is_some() {
                "UPDATE webhooks SET last_status = 'failed', last_error = ?3,
                   last_attempt_at = ?4, failures = failures + 1
                 WHERE id = ?1 AND (?2 IS NULL OR lease_owner = ?2)"
            } else {
                "UPDATE webhooks SET last_status = 'success', last_error = ?3,
                   last_attempt_at = ?4, failures = 0
                 WHERE id = ?1 AND (?2 IS NULL OR lease_owner = ?2)"
            };
            c.execute(sql, params![id, owner, error, now])
                .map(drop)
                .map_err(backend)
        })
        .await
    }

    async fn release_webhook(&self, id: &str, owner: &str) -> StoreResult<()> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.write(move |c, _| {
            c.execute(
                "UPDATE webhooks SET lease_owner = NULL, lease_until = 0
                 WHERE id = ?1 AND lease_owner = ?2",
                params![id, owner],
            )
            .map(drop)
            .map_err(backend)
        })
        .await
    }

    async fn rewrap_webhook_keys(&self, keys: Vec<(String, Vec<u8>)>) -> StoreResult<()> {
        self.write(move |c, _| {
            for (id, wrapped) in &keys {
                c.execute(
                    "UPDATE webhooks SET key_wrapped = ?2 WHERE id = ?1",
                    params![id, wrapped],
                )
                .map_err(backend)?;
            }
            Ok(())
        })
        .await
    }

    async fn webhook_events_after(
        &self,
        project_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>> {
        let project_id = project_id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {AUDIT_COLS} FROM audit_events
                 WHERE seq > ?1 AND project_id = ?2 AND {}
                 ORDER BY seq LIMIT ?3",
                webhook_events_sql()
            ))?
            .query_map(params![after_seq, project_id, limit.max(1)], from_row)?
            .collect()
        })
        .await
    }
}
