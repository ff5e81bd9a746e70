//! The PostgreSQL side of `audit_upgrade`: re-links an unkeyed audit log
//! under the audit key, once, in one transaction that holds the chain's head
//! row (so replicas starting together upgrade it once, and no appender
//! links an event meanwhile).

use super::rows::{audit, AUDIT_COLS};
use super::{backend, insert_audit, map_rows, tx_exec, tx_query};
use crate::audit::{AuditKey, GENESIS};
use crate::store::audit_upgrade::{LegacyWalk, KEYED_SCHEME};
use crate::store::StoreResult;

/// Rows re-linked per query.
const BATCH: i64 = 5_000;

pub async fn upgrade(client: &mut deadpool_postgres::Client, key: &AuditKey) -> StoreResult<()> {
    let tx = client.transaction().await.map_err(backend)?;
    tx_query(
        &tx,
        "SELECT hash FROM audit_head WHERE id = 1 FOR UPDATE",
        &[],
    )
    .await?;
    let scheme = tx_query(&tx, "SELECT scheme FROM audit_chain_meta WHERE id = 1", &[])
        .await?
        .first()
        .map(|r| r.try_get::<_, String>(0))
        .transpose()
        .map_err(backend)?;
    if scheme.as_deref() == Some(KEYED_SCHEME) {
        return tx.commit().await.map_err(backend);
    }
    let mut walk = LegacyWalk::new();
    let mut prev = GENESIS.to_vec();
    let mut after = 0i64;
    loop {
        let rows = tx_query(
            &tx,
            &format!("SELECT {AUDIT_COLS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"),
            &[&after, &BATCH],
        )
        .await?;
        let rows = map_rows(rows, audit)?;
        let Some(last) = rows.last().map(|r| r.seq) else {
            break;
        };
        for row in &rows {
            walk.check(row)?;
            let hash = key.link_event(&prev, &row.event);
            tx_exec(
                &tx,
                "UPDATE audit_events SET prev_hash = $2, hash = $3 WHERE seq = $1",
                &[&row.seq, &prev, &hash],
            )
            .await?;
            prev = hash;
        }
        after = last;
    }
    tx_exec(
        &tx,
        "UPDATE audit_head SET hash = $1 WHERE id = 1",
        &[&prev],
    )
    .await?;
    if let Some(event) = walk.record(crate::time_ids::now_ms()) {
        insert_audit(&tx, key, &event).await?;
    }
    tx_exec(
        &tx,
        "INSERT INTO audit_chain_meta (id, scheme) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET scheme = excluded.scheme",
        &[&KEYED_SCHEME],
    )
    .await?;
    tx.commit().await.map_err(backend)
}
