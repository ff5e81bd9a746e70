//! Folds SQLite's write-ahead log back into the main database file on a
//! thread of its own.
//!
//! SQLite's default checkpoint runs inside the commit that grows the WAL past
//! 1,000 pages, on the writer's thread: under a stream of audited reads it
//! copied megabytes several times a second and held every waiting request
//! meanwhile (measured: two fifths of the writer's system calls). A PASSIVE
//! checkpoint from another connection runs beside the writer instead (it never
//! takes the write lock), so the writer only appends. The writer keeps a large
//! automatic checkpoint as a backstop should this thread fall behind. A
//! round with nothing new in the WAL reads its header and returns (no I/O).

use rusqlite::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// WAL pages after which the writer checkpoints by itself (16 MiB).
pub const WRITER_BACKSTOP_PAGES: u32 = 4_000;

pub struct Checkpointer {
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Checkpoints on `conn` every `every`.
    pub fn start(conn: Connection, every: Duration) -> std::io::Result<Checkpointer> {
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = stopping.clone();
        let thread = std::thread::Builder::new()
            .name("hush-sqlite-ckpt".into())
            .spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    std::thread::park_timeout(every);
                    // Busy readers only make it stop early; the next round
                    // (or the writer's backstop) picks up the rest.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })?;
        Ok(Checkpointer {
            stopping,
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it (a checkpoint in progress finishes).
    pub fn stop(&mut self) {
        self.stopping.store(true, Ordering::Release);
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
