//! The audit retention job: every hour (or every retention period, if that
//! is shorter), events older than the retention period move from the
//! database to signed archive segments (`audit_archive`).

use crate::service::{now_ms, Service};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub fn spawn(
    service: Arc<Service>,
    dir: PathBuf,
    retention: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = retention.min(Duration::from_secs(3600));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        loop {
            tick.tick().await;
            let cutoff = now_ms().saturating_sub(retention_ms);
            match service.archive_audit(cutoff, &dir).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("archived {n} audit event(s) to {}", dir.display()),
                Err(e) => {
                    tracing::error!("audit archive failed (events stay in the database): {e}")
                }
            }
        }
    })
}
