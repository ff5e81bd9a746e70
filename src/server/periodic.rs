//! A pass every so often, on every replica, until told to stop: the shape
//! the rotation scheduler, the lease expiry job and the re-keying job share.
//! Their own claims and leases in the database keep replicas from doing the
//! same work twice; this module only runs the passes and stops them.

use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

pub struct Periodic {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Runs `pass` every `every` (a pass that overran delays the next one).
pub fn spawn<F, Fut>(every: Duration, mut pass: F) -> Periodic
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                _ = tick.tick() => {}
            }
            pass().await;
        }
    });
    Periodic { stop, task }
}

impl Periodic {
    /// Lets a pass in progress finish (up to `grace`), then aborts it. Work
    /// cut off is safe for every job here: it is claimed in the database
    /// and taken over by the next holder once the claim expires.
    pub async fn stop(self, grace: Duration) {
        self.stop.send_replace(true);
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
        }
    }
}
