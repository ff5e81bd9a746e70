//! LISTEN/NOTIFY for the change feed: a write's transaction notifies
//! `CHANNEL` (PostgreSQL delivers it at commit, never for a rollback) and every
//! replica keeps one connection listening on it, so a `hush run --watch` waiting
//! on replica B wakes when replica A commits a change.
//!
//! A notification carries nothing: waiters re-read the audit log, which is the
//! truth. So a lost connection loses nothing either: after reconnecting, the
//! listener ticks once and every waiter re-reads.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_postgres::AsyncMessage;

pub const CHANNEL: &str = "hush_changes";

/// Starts the listener task; it runs until aborted.
pub fn spawn(
    pg: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    changes: Arc<watch::Sender<u64>>,
) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match listen(&pg, &tls, &changes).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(e) => {
                    tracing::warn!(
                        "change notifications: {e}; retrying in {} ms",
                        backoff.as_millis()
                    );
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
            tokio::time::sleep(backoff).await;
        }
    })
    .abort_handle()
}

fn tick(changes: &watch::Sender<u64>) {
    changes.send_modify(|t| *t = t.wrapping_add(1));
}

/// One listening connection, until it drops.
async fn listen(
    pg: &tokio_postgres::Config,
    tls: &tokio_postgres_rustls::MakeRustlsConnect,
    changes: &Arc<watch::Sender<u64>>,
) -> Result<(), String> {
    let (client, mut connection) = pg.connect(tls.clone()).await.map_err(|e| e.to_string())?;
    let sink = changes.clone();
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => tick(&sink),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Ok(()),
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .map_err(|e| e.to_string())?;
    // Whatever was committed while this connection was not listening.
    tick(changes);
    let ended = driver.await.map_err(|e| e.to_string())?;
    drop(client);
    ended.map_err(|e| format!("connection lost: {e}"))
}
