//! Group commit for the audit events that have no write of their own (a
//! read's, a login's, a denial's). Every append locks the one chain head row
//! until its transaction commits, so one event per transaction serialises all
//! readers of all replicas behind one commit (one WAL flush) each. This task
//! takes every event queued meanwhile and appends them in one transaction, one
//! commit: each request still waits until its own event is committed
//! (fail-closed), but N concurrent readers share one flush.

use super::{backend, insert_audit, pool_error};
use crate::audit::AuditKey;
use crate::store::{AuditEvent, StoreError, StoreResult};
use deadpool_postgres::Pool;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most events committed together.
const MAX_BATCH: usize = 256;

pub type Waiter = oneshot::Sender<StoreResult<()>>;

/// Starts the batcher; it runs until every sender is dropped or it is aborted.
pub fn spawn(
    pool: Pool,
    key: Arc<AuditKey>,
) -> (
    mpsc::UnboundedSender<(AuditEvent, Waiter)>,
    tokio::task::AbortHandle,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(AuditEvent, Waiter)>();
    let task = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let (events, waiters): (Vec<AuditEvent>, Vec<Waiter>) = batch.drain(..).unzip();
            let result = commit(&pool, &key, &events).await;
            for waiter in waiters {
                let _ = waiter.send(result.clone());
            }
        }
    });
    (tx, task.abort_handle())
}

async fn commit(pool: &Pool, key: &AuditKey, events: &[AuditEvent]) -> StoreResult<()> {
    let mut c = pool.get().await.map_err(pool_error)?;
    let tx = c.transaction().await.map_err(backend)?;
    for event in events {
        insert_audit(&tx, key, event).await?;
    }
    tx.commit().await.map_err(backend)
}

/// Queues `event` and waits for the commit that holds it.
pub async fn append(
    queue: &mpsc::UnboundedSender<(AuditEvent, Waiter)>,
    event: AuditEvent,
) -> StoreResult<()> {
    let (done, wait) = oneshot::channel();
    queue
        .send((event, done))
        .map_err(|_| StoreError::Backend("audit batcher has stopped".into()))?;
    wait.await
        .map_err(|_| StoreError::Backend("audit batcher dropped an event".into()))?
}
