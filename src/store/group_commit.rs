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

use super::audit_flush::AuditFlush;
use super::audit_journal::{AuditJournal, Sealed};
use super::sqlite::backend;
use super::{StoreError, StoreResult};
use rusqlite::{params, Connection};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;
use tokio::sync::{oneshot, watch};

/// Most jobs the writer thread commits together; bounds the latency a write
/// can add to others.
const MAX_BATCH: usize = 256;

/// What the writer knows about the end of the audit chain.
#[derive(Clone)]
pub(super) struct ChainHead {
    pub hash: Vec<u8>,
}

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

/// The write connection and the state of its commits.
struct Writer {
    conn: Connection,
    head: ChainHead,
    /// Whether the connection is at `synchronous=FULL` (see `set_synchronous`).
    full: bool,
    flush: AuditFlush,
    journal: Option<Journal>,
}

/// The writer's side of the audit journal.
struct Journal {
    journal: Arc<AuditJournal>,
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
    /// `open_connection` sets it), whose chain ends at `head`.
    pub fn start(
        conn: Connection,
        head: ChainHead,
        flush: AuditFlush,
        journal: Option<Arc<AuditJournal>>,
        changes: Arc<watch::Sender<u64>>,
    ) -> std::io::Result<(GroupCommit, std::thread::JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel();
        let journal = journal.map(|journal| Journal {
            journal,
            retry: None,
            next_drain: Instant::now() + flush.interval(),
        });
        let writer = Writer {
            conn,
            head,
            full: true,
            flush,
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
        let deadline = match (w.flush.deadline(), w.journal.as_ref().map(|j| j.next_drain)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let received = match deadline {
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            Some(deadline) => rx.recv_timeout(deadline.saturating_duration_since(Instant::now())),
        };
        let first = match received {
            Ok(job) => job,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Idle with audit events not yet on disk: fsync them now.
                if w.flush.deadline().is_some_and(|d| Instant::now() >= d) {
                    fsync_due(&mut w);
                }
                continue;
            }
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
        let writes_data = batch.iter().any(|job| job.kind == JobKind::Write);
        let durable = w.flush.must_sync(writes_data, Instant::now());
        commit_group(&mut w, batch, durable, changes);
    }
    // All senders are gone: put every commit on disk, then fold the WAL into
    // the main file.
    let _ = drain_journal(&mut w);
    if w.flush.deadline().is_some() {
        fsync_due(&mut w);
    }
    let _ = w.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
}

fn fsync_due(w: &mut Writer) {
    let Writer {
        conn, full, flush, ..
    } = w;
    match sync_now(conn, full) {
        Ok(()) => flush.committed(true, Instant::now()),
        Err(e) => {
            tracing::error!("cannot fsync the audit log: {e}");
            flush.postpone(Instant::now());
        }
    }
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
    // From the end of this drain: a drain slower than the interval must not
    // leave the writer draining back to back.
    j.next_drain = Instant::now() + w.flush.interval();
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
    let Writer {
        conn,
        head,
        full,
        flush,
        ..
    } = w;
    let start_head = head.clone();
    let committed = set_synchronous(conn, full, true)
        .and_then(|()| run(conn, "BEGIN IMMEDIATE"))
        .map_err(backend)
        .and_then(|()| sealed.events.iter().try_for_each(|e| e.insert(conn, head)))
        .and_then(|()| run(conn, "COMMIT").map_err(backend));
    match committed {
        Ok(()) => {
            flush.committed(true, Instant::now());
            if let Err(e) = sealed.discard() {
                // Harmless: a replay skips events already in the chain.
                tracing::warn!("cannot delete a committed audit journal file: {e}");
            }
            Ok(())
        }
        Err(e) => {
            tracing::error!("cannot move the audit journal into the audit log (will retry): {e}");
            let _ = conn.execute_batch("ROLLBACK");
            *head = start_head;
            Err((sealed, e))
        }
    }
}

/// One statement of the writer's transaction control, prepared once: parsing
/// them anew for every job of every group commit was most of the writer's CPU.
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Runs `batch` in one transaction (fsynced if `durable`) and tells every
/// job's waiter how it went.
fn commit_group(w: &mut Writer, batch: Vec<Job>, durable: bool, changes: &watch::Sender<u64>) {
    let Writer {
        conn,
        head,
        full,
        flush,
        ..
    } = w;
    let conn: &Connection = conn;
    let start_head = head.clone();
    let begun = set_synchronous(conn, full, durable).and_then(|()| run(conn, "BEGIN IMMEDIATE"));
    if let Err(e) = begun {
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
    } else {
        flush.committed(durable, Instant::now());
        if changed {
            // Before any waiter hears "done": from then on no memo entry older
            // than this commit is served.
            changes.send_modify(|tick| *tick = tick.wrapping_add(1));
        }
    }
    for (done, own_error) in completions {
        match (&commit, own_error) {
            (Err(e), _) => done(Err(e.clone())),
            (Ok(()), Some(e)) => done(Err(e)),
            (Ok(()), None) => done(Ok(())),
        }
    }
}

/// Sets the connection's `synchronous` for the next commit: FULL fsyncs the
/// WAL, NORMAL only writes it (durable against a killed process, not a power
/// loss). `full` tracks the setting so the pragma runs only when it changes.
fn set_synchronous(conn: &Connection, full: &mut bool, durable: bool) -> rusqlite::Result<()> {
    if *full != durable {
        run(
            conn,
            if durable {
                "PRAGMA synchronous=FULL"
            } else {
                "PRAGMA synchronous=NORMAL"
            },
        )?;
        *full = durable;
    }
    Ok(())
}

/// Fsyncs every earlier commit: a commit with `synchronous=FULL` syncs the
/// whole WAL up to it, so it takes a (one-row) write to make one.
fn sync_now(conn: &Connection, full: &mut bool) -> rusqlite::Result<()> {
    set_synchronous(conn, full, true)?;
    run(conn, "BEGIN IMMEDIATE")?;
    let stamp = crate::service::now_ms().to_string();
    let written = conn
        .prepare_cached("INSERT OR REPLACE INTO meta (k, v) VALUES ('audit_synced_at', ?1)")
        .and_then(|mut stmt| stmt.execute(params![stamp.as_bytes()]));
    match written {
        Ok(_) => run(conn, "COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}
