//! `AuditStreamStore` on SQLite. Stream rows change through the writer
//! thread like every other write; only one process opens a SQLite data dir,
//! so the lease never has a rival here, but the same rules as on PostgreSQL
//! keep the two backends' behaviour one.

use super::super::streams::{
    names_from_text, names_to_text, AuditStreamStore, StreamRow, STREAM_COLS,
};
use super::{backend, insert_audit, SqliteStore};
use crate::store::{AuditEvent, AuditRow, Store, StoreError, StoreResult};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};

fn stream_row(r: &Row) -> rusqlite::Result<StreamRow> {
    Ok(StreamRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        url: r.get(2)?,
        header_names: names_from_text(&r.get::<_, String>(3)?),
        key_wrapped: r.get(4)?,
        headers_ct: r.get(5)?,
        ca_cert: r.get(6)?,
        cursor_seq: r.get(7)?,
        created_at: r.get(8)?,
        created_by: r.get(9)?,
        updated_at: r.get(10)?,
        lease_owner: r.get(11)?,
        lease_until: r.get(12)?,
        last_attempt_at: r.get(13)?,
        last_delivered_at: r.get(14)?,
        last_error: r.get(15)?,
        last_error_at: r.get(16)?,
        failures: r.get(17)?,
    })
}

#[async_trait]
impl AuditStreamStore for SqliteStore {
    async fn create_stream(
        &self,
        s: StreamRow,
        max_streams: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.write(move |c, head| {
            let n: i64 = c
                .query_row("SELECT COUNT(*) FROM audit_streams", [], |r| r.get(0))
                .map_err(backend)?;
            if n >= max_streams {
                return Err(StoreError::NotEmpty(format!(
                    "this server already has {n} audit streams (the limit is {max_streams}); delete one first"
                )));
            }
            c.execute(
                &format!(
                    "INSERT INTO audit_streams ({STREAM_COLS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, 0, NULL, NULL, NULL, NULL, 0)"
                ),
                params![
                    s.id,
                    s.kind,
                    s.url,
                    names_to_text(&s.header_names),
                    s.key_wrapped,
                    s.headers_ct,
                    s.ca_cert,
                    s.cursor_seq,
                    s.created_at,
                    s.created_by,
                    s.updated_at
                ],
            )
            .map_err(backend)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn streams(&self) -> StoreResult<Vec<StreamRow>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {STREAM_COLS} FROM audit_streams ORDER BY created_at, id"
            ))?
            .query_map([], stream_row)?
            .collect()
        })
        .await
    }

    async fn stream(&self, id: &str) -> StoreResult<Option<StreamRow>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {STREAM_COLS} FROM audit_streams WHERE id = ?1"
            ))?
            .query_row(params![id], stream_row)
            .optional()
        })
        .await
    }

    async fn delete_stream(&self, id: &str, audit: AuditEvent) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |c, head| {
            let n = c
                .execute("DELETE FROM audit_streams WHERE id = ?1", params![id])
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound("audit stream"));
            }
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn update_stream(&self, s: StreamRow, audit: AuditEvent) -> StoreResult<()> {
        self.write(move |c, head| {
            let n = c
                .execute(
                    "UPDATE audit_streams SET kind = ?2, url = ?3, header_names = ?4,
                       key_wrapped = ?5, headers_ct = ?6, ca_cert = ?7, updated_at = ?8
                     WHERE id = ?1",
                    params![
                        s.id,
                        s.kind,
                        s.url,
                        names_to_text(&s.header_names),
                        s.key_wrapped,
                        s.headers_ct,
                        s.ca_cert,
                        s.updated_at
                    ],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound("audit stream"));
            }
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn lease_stream(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> StoreResult<Option<StreamRow>> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.write(move |c, _| {
            let taken = c
                .execute(
                    "UPDATE audit_streams SET lease_owner = ?2, lease_until = ?4
                     WHERE id = ?1 AND (lease_owner IS NULL OR lease_owner = ?2 OR lease_until <= ?3)",
                    params![id, owner, now, until],
                )
                .map_err(backend)?;
            let row = c
                .query_row(
                    &format!("SELECT {STREAM_COLS} FROM audit_streams WHERE id = ?1"),
                    params![id],
                    stream_row,
                )
                .optional()
                .map_err(backend)?;
            match row {
                None => Err(StoreError::NotFound("audit stream")),
                Some(row) if taken == 1 => Ok(Some(row)),
                Some(_) => Ok(None),
            }
        })
        .await
    }

    async fn advance_stream(
        &self,
        id: &str,
        owner: &str,
        from: i64,
        to: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.write(move |c, _| {
            c.execute(
                "UPDATE audit_streams
                 SET cursor_seq = ?4, last_attempt_at = ?5, last_delivered_at = ?5, failures = 0
                 WHERE id = ?1 AND lease_owner = ?2 AND cursor_seq = ?3",
                params![id, owner, from, to, now],
            )
            .map(|n| n == 1)
            .map_err(backend)
        })
        .await
    }

    async fn stream_failed(&self, id: &str, owner: &str, error: &str, now: i64) -> StoreResult<()> {
        let (id, owner, error) = (id.to_owned(), owner.to_owned(), error.to_owned());
        self.write(move |c, _| {
            c.execute(
                "UPDATE audit_streams
                 SET last_error = ?3, last_error_at = ?4, last_attempt_at = ?4, failures = failures + 1
                 WHERE id = ?1 AND lease_owner = ?2",
                params![id, owner, error, now],
            )
            .map(drop)
            .map_err(backend)
        })
        .await
    }

    async fn release_stream(&self, id: &str, owner: &str) -> StoreResult<()> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.write(move |c, _| {
            c.execute(
                "UPDATE audit_streams SET lease_owner = NULL, lease_until = 0
                 WHERE id = ?1 AND lease_owner = ?2",
                params![id, owner],
            )
            .map(drop)
            .map_err(backend)
        })
        .await
    }

    async fn rewrap_stream_keys(&self, keys: Vec<(String, Vec<u8>)>) -> StoreResult<()> {
        self.write(move |c, _| {
            for (id, wrapped) in &keys {
                c.execute(
                    "UPDATE audit_streams SET key_wrapped = ?2 WHERE id = ?1",
                    params![id, wrapped],
                )
                .map_err(backend)?;
            }
            Ok(())
        })
        .await
    }

    async fn audit_after(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>> {
        self.audit_range(after_seq, limit.max(1)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn event(i: usize) -> AuditEvent {
        AuditEvent {
            id: format!("ev-{i:03}"),
            time: 1000 + i as i64,
            action: "test".into(),
            result: "success".into(),
            ..Default::default()
        }
    }

    async fn seqs(store: &SqliteStore, after: i64, limit: i64) -> Vec<i64> {
        store
            .audit_after(after, limit)
            .await
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect()
    }

    #[tokio::test]
    async fn audit_after_pages_in_order_and_steps_over_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(
            &dir.path().join("t.db"),
            crate::store::sqlite::tests::test_options(Duration::from_secs(10)),
        )
        .unwrap();
        for i in 1..=300 {
            store.append_audit(event(i)).await.unwrap();
        }
        assert_eq!(seqs(&store, 0, 10).await, (1..=10).collect::<Vec<_>>());
        assert_eq!(seqs(&store, 295, 10).await, (296..=300).collect::<Vec<_>>());
        assert!(seqs(&store, 300, 10).await.is_empty());
        // Removed events (a gap much wider than a page) are stepped over,
        // and nothing after the gap is skipped: paging on from each
        // answer's last event yields every remaining event once, in order.
        store
            .read(|c| c.execute("DELETE FROM audit_events WHERE seq BETWEEN 26 AND 269", []))
            .await
            .unwrap();
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = seqs(&store, after, 10).await;
            let Some(&last) = page.last() else { break };
            assert!(page.len() <= 10);
            all.extend(page);
            after = last;
        }
        let want: Vec<i64> = (1..=25).chain(270..=300).collect();
        assert_eq!(all, want);
        assert_eq!(
            seqs(&store, 25, 1000).await,
            (270..=300).collect::<Vec<_>>()
        );
        store.close().await;
    }
}
