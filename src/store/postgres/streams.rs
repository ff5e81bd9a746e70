//! `AuditStreamStore` on PostgreSQL, where several replicas share the rows.
//! The lease is one conditional UPDATE (atomic under READ COMMITTED: a
//! second replica's UPDATE waits for the first to commit, then re-checks its
//! WHERE clause against the new row), so one replica at a time delivers a
//! stream; the cursor moves only by compare-and-set under that lease.

use super::super::streams::{
    names_from_text, names_to_text, AuditStreamStore, StreamRow, STREAM_COLS,
};
use super::rows::{audit, AUDIT_COLS};
use super::{backend, exec_one, first, insert_audit, map_rows, tx_exec, tx_query, PostgresStore};
use crate::store::{AuditEvent, AuditRow, StoreError, StoreResult};
use async_trait::async_trait;
use tokio_postgres::{Error, Row};

/// Takes or renews the lease of row `$1` of `table` for owner `$2` for `$3`
/// ms, when it is free, expired or already `$2`'s, returning `cols`. (Audit
/// streams' and webhooks' leases.) Expiry is judged by the database's
/// clock, not the replicas': two replicas whose clocks disagree still agree
/// on who holds a lease.
pub(super) fn lease_sql(table: &str, cols: &str) -> String {
    let returning = cols
        .split(',')
        .map(|c| format!("{table}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now)
         UPDATE {table} SET lease_owner = $2, lease_until = clock.now + $3
         FROM clock
         WHERE id = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until <= clock.now)
         RETURNING {returning}"
    )
}

fn stream_row(r: &Row) -> Result<StreamRow, Error> {
    Ok(StreamRow {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        url: r.try_get(2)?,
        header_names: names_from_text(&r.try_get::<_, String>(3)?),
        key_wrapped: r.try_get(4)?,
        headers_ct: r.try_get(5)?,
        ca_cert: r.try_get(6)?,
        cursor_seq: r.try_get(7)?,
        created_at: r.try_get(8)?,
        created_by: r.try_get(9)?,
        updated_at: r.try_get(10)?,
        lease_owner: r.try_get(11)?,
        lease_until: r.try_get(12)?,
        last_attempt_at: r.try_get(13)?,
        last_delivered_at: r.try_get(14)?,
        last_error: r.try_get(15)?,
        last_error_at: r.try_get(16)?,
        failures: r.try_get(17)?,
    })
}

#[async_trait]
impl AuditStreamStore for PostgresStore {
    async fn create_stream(
        &self,
        s: StreamRow,
        max_streams: i64,
        audit_event: AuditEvent,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            // Serialises adds between replicas, so the count below stays true
            // until this commits (released at commit or rollback).
            tx_exec(
                tx,
                "LOCK TABLE audit_streams IN SHARE ROW EXCLUSIVE MODE",
                &[],
            )
            .await?;
            let n: i64 = first(
                tx_query(tx, "SELECT COUNT(*)::bigint FROM audit_streams", &[]).await?,
                |r| r.try_get(0),
            )?
            .unwrap_or(0);
            if n >= max_streams {
                return Err(StoreError::NotEmpty(format!(
                "this server already has {n} audit streams (the limit is {max_streams}); delete one first"
            )));
            }
            let names = names_to_text(&s.header_names);
            tx_exec(
            tx,
            &format!(
                "INSERT INTO audit_streams ({STREAM_COLS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, 0, NULL, NULL, NULL, NULL, 0)"
            ),
            &[
                &s.id,
                &s.kind,
                &s.url,
                &names,
                &s.key_wrapped,
                &s.headers_ct,
                &s.ca_cert,
                &s.cursor_seq,
                &s.created_at,
                &s.created_by,
                &s.updated_at,
            ],
        )
        .await?;
            insert_audit(tx, &self.audit_key, &audit_event).await?;
            Ok(())
        })
    }

    async fn streams(&self) -> StoreResult<Vec<StreamRow>> {
        let rows = self
            .read(
                &format!("SELECT {STREAM_COLS} FROM audit_streams ORDER BY created_at, id"),
                &[],
            )
            .await?;
        map_rows(rows, stream_row)
    }

    async fn stream(&self, id: &str) -> StoreResult<Option<StreamRow>> {
        let rows = self
            .read(
                &format!("SELECT {STREAM_COLS} FROM audit_streams WHERE id = $1"),
                &[&id],
            )
            .await?;
        first(rows, stream_row)
    }

    async fn delete_stream(&self, id: &str, audit_event: AuditEvent) -> StoreResult<()> {
        self.change_one(
            "DELETE FROM audit_streams WHERE id = $1",
            &[&id],
            "audit stream",
            &audit_event,
        )
        .await
    }

    async fn update_stream(&self, s: StreamRow, audit_event: AuditEvent) -> StoreResult<()> {
        in_tx!(self, |tx| {
            let names = names_to_text(&s.header_names);
            exec_one(
                tx,
                "UPDATE audit_streams SET kind = $2, url = $3, header_names = $4,
               key_wrapped = $5, headers_ct = $6, ca_cert = $7, updated_at = $8
             WHERE id = $1",
                &[
                    &s.id,
                    &s.kind,
                    &s.url,
                    &names,
                    &s.key_wrapped,
                    &s.headers_ct,
                    &s.ca_cert,
                    &s.updated_at,
                ],
                "audit stream",
            )
            .await?;
            insert_audit(tx, &self.audit_key, &audit_event).await?;
            Ok(())
        })
    }

    async fn lease_stream(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> StoreResult<Option<StreamRow>> {
        let span = until - now;
        let rows = self
            .read(
                &lease_sql("audit_streams", STREAM_COLS),
                &[&id, &owner, &span],
            )
            .await?;
        if let Some(row) = first(rows, stream_row)? {
            return Ok(Some(row));
        }
        match self.stream(id).await? {
            Some(_) => Ok(None),
            None => Err(StoreError::NotFound("audit stream")),
        }
    }

    async fn advance_stream(
        &self,
        id: &str,
        owner: &str,
        from: i64,
        to: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let rows = self
            .read(
                "UPDATE audit_streams
                 SET cursor_seq = $4, last_attempt_at = $5, last_delivered_at = $5, failures = 0
                 WHERE id = $1 AND lease_owner = $2 AND cursor_seq = $3
                 RETURNING id",
                &[&id, &owner, &from, &to, &now],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    async fn stream_failed(&self, id: &str, owner: &str, error: &str, now: i64) -> StoreResult<()> {
        self.read(
            "UPDATE audit_streams
             SET last_error = $3, last_error_at = $4, last_attempt_at = $4, failures = failures + 1
             WHERE id = $1 AND lease_owner = $2
             RETURNING id",
            &[&id, &owner, &error, &now],
        )
        .await
        .map(drop)
    }

    async fn release_stream(&self, id: &str, owner: &str) -> StoreResult<()> {
        self.read(
            "UPDATE audit_streams SET lease_owner = NULL, lease_until = 0
             WHERE id = $1 AND lease_owner = $2
             RETURNING id",
            &[&id, &owner],
        )
        .await
        .map(drop)
    }

    async fn rewrap_stream_keys(&self, keys: Vec<(String, Vec<u8>)>) -> StoreResult<()> {
        in_tx!(self, |tx| {
            for (id, wrapped) in &keys {
                tx_exec(
                    tx,
                    "UPDATE audit_streams SET key_wrapped = $2 WHERE id = $1",
                    &[id, wrapped],
                )
                .await?;
            }
            Ok(())
        })
    }

    async fn audit_after(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>> {
        // Appenders hold the audit head's row lock from taking their `seq`
        // to their commit, so a reader never sees a later event before an
        // earlier one: delivering in `seq` order skips nothing.
        let rows = self
            .read(
                &format!(
                    "SELECT {AUDIT_COLS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
                ),
                &[&after_seq, &limit.max(1)],
            )
            .await?;
        map_rows(rows, audit)
    }
}
