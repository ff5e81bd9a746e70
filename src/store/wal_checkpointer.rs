//! Folds SQLite's write-ahead log back into the main database file on a
//! thread of its own.
//!
//! SQLite's default checkpoint runs inside the commit that grows the WAL past
//! 1,000 pages, on the writer's thread: under a stream of audited reads it
//! copied megabytes several times a second and held every waiting request
//! meanwhile (measured: two fifths of the writer's system calls). A PASSIVE
//! checkpoint from another connection runs beside the writer instead (it never
//! takes the write lock), so the writer only appends. The writer keeps a large
//! automatic checkpoint as a backstop should this thread fall behind.

use rusqlite::Connection;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// WAL pages after which the writer checkpoints by itself (16 MiB).
pub const WRITER_BACKSTOP_PAGES: u32 = 4_000;

pub struct Checkpointer {
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

struct State {
    /// Commits so far; the writer adds one per commit.
    commits: AtomicU64,
    stop: AtomicBool,
}

/// What the writer holds: counts its commits for the checkpointer.
#[derive(Clone)]
pub struct CommitCounter(Arc<State>);

impl CommitCounter {
    pub fn committed(&self) {
        self.0.commits.fetch_add(1, Ordering::Relaxed);
    }
}

impl Checkpointer {
    /// Checkpoints on `conn` every `every` while commits keep coming.
    pub fn start(conn: Connection, every: Duration) -> std::io::Result<Checkpointer> {
        let state = Arc::new(State {
            commits: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("hush-sqlite-ckpt".into())
            .spawn(move || {
                let mut seen = 0;
                while !shared.stop.load(Ordering::Acquire) {
                    std::thread::park_timeout(every);
                    let commits = shared.commits.load(Ordering::Relaxed);
                    if commits != seen {
                        seen = commits;
                        // Busy readers only make it stop early; the next round
                        // (or the writer's backstop) picks up the rest.
                        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    }
                }
            })?;
        Ok(Checkpointer {
            state,
            thread: Some(thread),
        })
    }

    pub fn counter(&self) -> CommitCounter {
        CommitCounter(self.state.clone())
    }

    /// Stops the thread and waits for it (a checkpoint in progress finishes).
    pub fn stop(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}
