//! The SQLite store's group commit: one writer thread owns the only write
//! connection and the audit chain's head. It takes every job queued while the
//! previous commit ran and commits them in one transaction: writes of data each
//! in their own savepoint, audit appends as single INSERTs. N concurrent audited
//! reads therefore cost one shared commit, not N.
//!
//! Tried and measured no faster on a 2-core machine under a list load:
//! - committing audit appends inline on the calling HTTP worker (leader-based
//!   group commit, no thread hand-off): its groups were smaller, and every
//!   commit rewrites the last page of the audit table and of each of its
//!   indexes in the WAL, so smaller groups wrote more bytes per event;
//! - holding a group open for 150-400 µs to gather more jobs: the wait cost
//!   more than the larger groups saved.
//!
//! What did pay: taking read-audit events out of the group commit altogether
//! (`audit_journal`). With a journal, this thread also moves the journaled
//! events into the chain, one fsynced transaction per flush interval.

use super::audit_chain::{insert_all, mark_journal_committed};
use super::audit_journal::{AuditJournal, Sealed};
use super::chain::backend;
pub(super) use super::chain::ChainHead;
use crate::store::{StoreError, StoreResult};
use rusqlite::Connection;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// Most jobs the writer thread commits together; bounds the latency a write
/// can add to others.
const MAX_BATCH: usize = 256;

type Completion = Box<dyn FnOnce(StoreResult<()>) + Send>;
/// A job's work: run on the connection (`Some`), or skipped because its group
/// transaction failed (`None`, so nothing runs outside a transaction); either
/// way it hands back whether it succeeded and how to tell its waiter.
type Work = Box<dyn FnOnce(Option<(&Connection, &mut ChainHead)>) -> (bool, Completion) + Send>;

/// What a job of the group commit does.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum JobKind {
    /// A write of data (and its audit events): runs in its own savepoint, its
    /// commit is fsynced and ticks the change signal.
    Write,
    /// One audit event of a read, a login or a denial: a single INSERT, atomic
    /// on its own (the chain head moves only once it succeeded), so it needs
    /// no savepoint.
    AuditAppend,
    /// Nothing of its own: the writer moves the journal into the chain before
    /// its group, so a query after it sees every event answered so far.
    SettleJournal,
}

/// One unit of a group commit.
pub(super) struct Job {
    work: Work,
    kind: JobKind,
}

/// The answer a job's waiter gets once its group committed (or failed).
pub(super) type Outcome<T> = oneshot::Receiver<StoreResult<T>>;

impl Job {
    /// Wraps `f` as a job whose result reaches the returned receiver once the
    /// group holding it has committed.
    pub fn new<T: Send + 'static>(
        kind: JobKind,
        f: impl FnOnce(&Connection, &mut ChainHead) -> StoreResult<T> + Send + 'static,
    ) -> (Job, Outcome<T>) {
        let (tx, rx) = oneshot::channel();
        let work: Work = Box::new(move |step| {
            let result = match step {
                Some((conn, head)) => f(conn, head),
                // Its waiter hears the group's error (`commit`), never this one.
                None => Err(StoreError::Backend("not run".into())),
            };
            let ok = result.is_ok();
            let done: Completion = Box::new(move |commit| {
                let _ = tx.send(commit.and(result));
            });
            (ok, done)
        });
        (Job { work, kind }, rx)
    }

    /// Tells the waiter `err` without running the job.
    fn fail(self, err: StoreError) {
        let (_, done) = (self.work)(None);
        done(Err(err));
    }
}

/// The write connection (`synchronous=FULL`: every commit is fsynced) and
/// the end of the chain it extends.
struct Writer {
    conn: Connection,
    head: ChainHead,
    journal: Option<Journal>,
}

/// The writer's side of the audit journal.
struct Journal {
    journal: Arc<AuditJournal>,
    /// The audit flush interval: how often the journal is drained.
    interval: Duration,
    /// A sealed file whose commit failed: retried before the next seal.
    retry: Option<Sealed>,
    next_drain: Instant,
}

/// The writer thread's handle: where jobs are queued.
pub(super) struct GroupCommit {
    sender: Mutex<Option<mpsc::Sender<Job>>>,
}

impl GroupCommit {
    /// Starts the writer thread on `conn` (`synchronous=FULL`, as
    /// `open_connection` sets it), whose chain ends at `head`; it drains
    /// `journal`, if any, every given interval.
    pub fn start(
        conn: Connection,
        head: ChainHead,
        journal: Option<(Arc<AuditJournal>, Duration)>,
        changes: Arc<watch::Sender<u64>>,
    ) -> std::io::Result<(GroupCommit, std::thread::JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel();
        let journal = journal.map(|(journal, interval)| Journal {
            journal,
            interval,
            retry: None,
            next_drain: Instant::now() + interval,
        });
        let writer = Writer {
            conn,
            head,
            journal,
        };
        let thread = std::thread::Builder::new()
            .name("hush-sqlite-writer".into())
            .spawn(move || writer_thread(writer, rx, &changes))?;
        let group = GroupCommit {
            sender: Mutex::new(Some(tx)),
        };
        Ok((group, thread))
    }

    /// Queues `job`; its outcome reaches the job's receiver. On an error the
    /// job is dropped unrun (its receiver hears nothing more).
    pub fn submit(&self, job: Job) -> StoreResult<()> {
        let sender = self
            .sender
            .lock()
            .map_err(|_| StoreError::Backend("writer handle is poisoned".into()))?
            .clone()
            .ok_or_else(|| StoreError::Backend("store is closed".into()))?;
        sender
            .send(job)
            .map_err(|_| StoreError::Backend("writer thread has stopped".into()))
    }

    /// Stops taking jobs: the writer thread commits what it has and stops.
    pub fn stop(&self) {
        if let Ok(mut sender) = self.sender.lock() {
            sender.take();
        }
    }
}

fn writer_thread(mut w: Writer, rx: mpsc::Receiver<Job>, changes: &watch::Sender<u64>) {
    loop {
        if w.journal
            .as_ref()
            .is_some_and(|j| Instant::now() >= j.next_drain)
        {
            // Errors are logged, and the sealed file kept for the next try.
            let _ = drain_journal(&mut w);
        }
        let received = match w.journal.as_ref().map(|j| j.next_drain) {
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            Some(deadline) => rx.recv_timeout(deadline.saturating_duration_since(Instant::now())),
        };
        let first = match received {
            Ok(job) => job,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            // Time to drain the journal (at the top of the loop).
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (settles, batch): (Vec<Job>, Vec<Job>) = batch
            .into_iter()
            .partition(|job| job.kind == JobKind::SettleJournal);
        if !settles.is_empty() {
            // They need no transaction: each waiter hears how the drain went.
            let drained = drain_journal(&mut w);
            for job in settles {
                let (_, done) = (job.work)(Some((&w.conn, &mut w.head)));
                done(drained.clone());
            }
        }
        if batch.is_empty() {
            continue;
        }
        commit_group(&mut w, batch, changes);
    }
    // All senders are gone: move the journal into the chain, then fold the
    // WAL into the main file.
    let _ = drain_journal(&mut w);
    let _ = w.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
}

/// Moves the journal's events into the chain, one fsynced transaction per
/// sealed file: a file left by a failed drain first, then the active one,
/// deleting each file once committed. The active file is sealed once per
/// drain: events appended while it commits wait for the next drain, so under
/// a steady load a drain is one commit per interval, never a loop of tiny
/// ones. On an error the sealed file stays, on disk and here, and is tried
/// again at the next drain; appends go on meanwhile.
fn drain_journal(w: &mut Writer) -> StoreResult<()> {
    let Some(mut j) = w.journal.take() else {
        return Ok(());
    };
    let drained = drain_sealed(w, &mut j);
    // What is still outside the chain now: the loss bound counts from it.
    j.journal.settled(j.retry.as_ref());
    // From the end of this drain: a drain slower than the interval must not
    // leave the writer draining back to back.
    j.next_drain = Instant::now() + j.interval;
    w.journal = Some(j);
    drained
}

/// The drain itself: the file a failed drain left, then one seal of the
/// active file; a file that fails to commit is kept in `j.retry`.
fn drain_sealed(w: &mut Writer, j: &mut Journal) -> StoreResult<()> {
    if let Some(sealed) = j.retry.take() {
        if let Err((sealed, e)) = commit_sealed(w, sealed) {
            j.retry = Some(sealed);
            return Err(e);
        }
    }
    let sealed = match j.journal.seal() {
        Ok(Some(sealed)) => sealed,
        Ok(None) => return Ok(()),
        Err(e) => {
            tracing::error!("cannot seal the audit journal: {e}");
            return Err(backend(format!("cannot seal the audit journal: {e}")));
        }
    };
    commit_sealed(w, sealed).map_err(|(sealed, e)| {
        j.retry = Some(sealed);
        e
    })
}

/// Commits one sealed journal file's events into the chain (fsynced) and
/// deletes the file; on an error hands the file back to be tried again.
fn commit_sealed(w: &mut Writer, sealed: Sealed) -> Result<(), (Sealed, StoreError)> {
    let committed = chain_transaction(&w.conn, &mut w.head, |conn, head| {
        insert_all(conn, head, &sealed.events)?;
        mark_journal_committed(conn, sealed.generation)
    });
    match committed {
        Ok(()) => {
            if let Err(e) = sealed.discard() {
                // Harmless: a replay skips events already in the chain.
                tracing::warn!("cannot delete a committed audit journal file: {e}");
            }
            Ok(())
        }
        Err(e) => {
            tracing::error!("cannot move the audit journal into the audit log (will retry): {e}");
            Err((sealed, e))
        }
    }
}

/// Runs `f` in a transaction of its own and commits it; on any error rolls it
/// back and puts the chain head back where it was.
pub(super) fn chain_transaction(
    conn: &Connection,
    head: &mut ChainHead,
    f: impl FnOnce(&Connection, &mut ChainHead) -> StoreResult<()>,
) -> StoreResult<()> {
    let start = head.clone();
    let done = run(conn, "BEGIN IMMEDIATE")
        .map_err(backend)
        .and_then(|()| f(conn, head))
        .and_then(|()| run(conn, "COMMIT").map_err(backend));
    if done.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
        *head = start;
    }
    done
}

/// One statement of the writer's transaction control, prepared once: parsing
/// them anew for every job of every group commit was most of the writer's CPU.
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Runs `batch` in one (fsynced) transaction and tells every job's waiter
/// how it went.
fn commit_group(w: &mut Writer, batch: Vec<Job>, changes: &watch::Sender<u64>) {
    let Writer { conn, head, .. } = w;
    let conn: &Connection = conn;
    let start_head = head.clone();
    if let Err(e) = run(conn, "BEGIN IMMEDIATE") {
        let err = backend(e);
        batch.into_iter().for_each(|job| job.fail(err.clone()));
        return;
    }
    let mut completions = Vec::with_capacity(batch.len());
    let mut changed = false;
    // Set when the group transaction is gone (SQLite rolls back the whole
    // transaction on some I/O errors): the jobs after it must not run in
    // autocommit mode, and none of the group commits.
    let mut lost: Option<StoreError> = None;
    for job in batch {
        if lost.is_some() {
            let (_, done) = (job.work)(None);
            completions.push((done, None));
            continue;
        }
        if job.kind == JobKind::AuditAppend {
            let (_, done) = (job.work)(Some((conn, head)));
            completions.push((done, None));
        } else {
            let before = head.clone();
            let step = run(conn, "SAVEPOINT job");
            let (ok, done) = match step {
                Ok(()) => (job.work)(Some((conn, head))),
                Err(_) => (job.work)(None),
            };
            changed |= ok;
            let settled = if ok && step.is_ok() {
                run(conn, "RELEASE job")
            } else {
                *head = before;
                conn.execute_batch("ROLLBACK TO job; RELEASE job")
            };
            match (step, settled) {
                (Ok(()), Ok(())) => completions.push((done, None)),
                (Err(e), _) | (_, Err(e)) => completions.push((done, Some(backend(e)))),
            }
        }
        if conn.is_autocommit() {
            lost = Some(StoreError::Backend(
                "the group transaction was rolled back by the database".into(),
            ));
        }
    }
    let commit = match lost {
        Some(e) => Err(e),
        None => run(conn, "COMMIT").map_err(backend),
    };
    if commit.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
        *head = start_head;
    } else if changed {
        // Before any waiter hears "done": from then on no memo entry older
        // than this commit is served.
        changes.send_modify(|tick| *tick = tick.wrapping_add(1));
    }
    for (done, own_error) in completions {
        match (&commit, own_error) {
            (Err(e), _) => done(Err(e.clone())),
            (Ok(()), Some(e)) => done(Err(e)),
            (Ok(()), None) => done(Ok(())),
        }
    }
}
