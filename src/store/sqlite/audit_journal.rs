//! The SQLite store's journal of audit events that change nothing: reads,
//! logins, denials.
//!
//! Fail-closed auditing answers a read only once its event is somewhere a
//! killed server cannot lose it. Committing every such event through the
//! writer's group commit would put a commit on every read's path (figures in
//! BENCHMARKS.md), so the HTTP worker appends the event as one line to an `O_APPEND` file with one `write(2)`
//! (the page cache then keeps it if the process dies), and the writer thread
//! moves the journal into the keyed `audit_events` chain in one fsynced
//! transaction every flush interval.
//!
//! A line is `MAC SPACE EVENT NEWLINE`: the event's canonical JSON, and in
//! hex the HMAC of it bound to its file and line (`AuditKey::journal_mac`).
//! At start-up a left-over line is linked into the chain only if its MAC
//! holds: a line someone dropped into the directory, or a genuine line moved
//! to another file or place, is quarantined, never linked.
//!
//! The loss bound: events still outside the chain longer than `bound` (the
//! database locked, its disk full) make appends fail, and so the reads that
//! need them, until the writer catches up: the page cache never holds more
//! than that window of events whose answers went out.
//!
//! Files: `<database>.audit-journal/<generation>.jsonl`, mode 0600. The writer
//! seals the active file by switching appends to the next generation, inserts
//! the sealed events and records the file's generation as committed
//! (`audit_journal_mark`) in one transaction, and only then deletes the file.
//! At start every file left over is replayed in generation order, except one
//! up to the recorded generation (committed, not yet deleted), so a crash at
//! any point neither loses nor doubles an event.

use super::chain::PreparedAudit;
use crate::audit::AuditKey;
use crate::store::{AuditEvent, StoreError, StoreResult};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A file the writer took out of the appenders' way, with its events.
pub(in crate::store) struct Sealed {
    path: PathBuf,
    pub generation: u64,
    pub events: Vec<PreparedAudit>,
    /// When its first event was appended.
    pub oldest: Instant,
}

impl Sealed {
    /// Deletes the file once its events are committed to the database.
    pub fn discard(self) -> io::Result<()> {
        fs::remove_file(&self.path)
    }
}

struct Active {
    file: File,
    generation: u64,
    events: Vec<PreparedAudit>,
    /// When the first of `events` was appended.
    oldest: Option<Instant>,
    /// Where a line is formatted (reused: one per read).
    line: Vec<u8>,
}

impl Active {
    fn new(file: File, generation: u64) -> Active {
        Active {
            file,
            generation,
            events: Vec::new(),
            oldest: None,
            line: Vec::new(),
        }
    }
}

pub(in crate::store) struct AuditJournal {
    dir: PathBuf,
    key: AuditKey,
    active: Mutex<Active>,
    /// The first append time of the oldest sealed file whose events are not
    /// committed yet (the writer's retry, or the file it is committing).
    unsettled: Mutex<Option<Instant>>,
    /// The loss bound: how long an event may stay outside the chain.
    bound: Duration,
}

impl AuditJournal {
    /// The journal directory of the database at `db_path`.
    pub fn dir_for(db_path: &Path) -> PathBuf {
        let mut name = db_path.file_name().unwrap_or_default().to_owned();
        name.push(".audit-journal");
        db_path.with_file_name(name)
    }

    /// Opens the journal in `dir` (created 0700) with a new, empty active
    /// file after generation `after` (the newest the database records as
    /// moved into the chain, or replayed): generations never repeat, so that
    /// record never covers a file it has not seen.
    pub fn open(
        dir: &Path,
        after: u64,
        key: AuditKey,
        bound: Duration,
    ) -> io::Result<AuditJournal> {
        create_dir(dir)?;
        let generation = next_generation(after)?;
        let file = create_file(dir, generation)?;
        Ok(AuditJournal {
            dir: dir.to_owned(),
            key,
            active: Mutex::new(Active::new(file, generation)),
            unsettled: Mutex::new(None),
            bound,
        })
    }

    /// Appends `event`; once this returns, a killed process cannot lose it.
    /// Refused while events older than the loss bound are still outside the
    /// chain.
    pub fn append(&self, event: PreparedAudit) -> StoreResult<()> {
        let mut guard = self.lock().map_err(journal_failure)?;
        let active = &mut *guard;
        // Checked under the one lock an append takes anyway.
        if let Some(behind) = self.past_bound(active.oldest) {
            return Err(StoreError::Unavailable(format!(
                "audit events have waited {}s to reach the audit log (the bound is {}s): the database is not accepting them; reads resume once it does",
                behind.as_secs(),
                self.bound.as_secs_f64()
            )));
        }
        let index = active.events.len() as u64;
        let canonical = event.canonical();
        let mac = self.key.journal_mac(active.generation, index, canonical);
        let line = &mut active.line;
        line.clear();
        line.reserve(canonical.len() + 66);
        for b in mac {
            let _ = write!(line, "{b:02x}");
        }
        line.push(b' ');
        line.extend_from_slice(canonical);
        line.push(b'\n');
        // One write(2): an O_APPEND write of a regular file is not split.
        active.file.write_all(line).map_err(journal_failure)?;
        active.oldest.get_or_insert_with(Instant::now);
        active.events.push(event);
        Ok(())
    }

    /// How long the oldest event outside the chain has waited, when that is
    /// past the loss bound.
    pub fn behind(&self) -> Option<Duration> {
        let active = self.active.lock().ok()?.oldest;
        self.past_bound(active)
    }

    /// How long the oldest event outside the chain has waited (the active
    /// file's oldest is `active`), when that is past the loss bound.
    fn past_bound(&self, active: Option<Instant>) -> Option<Duration> {
        let sealed = *self.unsettled.lock().ok()?;
        let oldest = match (active, sealed) {
            (Some(a), Some(s)) => a.min(s),
            (a, s) => a.or(s)?,
        };
        let waited = oldest.elapsed();
        (waited > self.bound).then_some(waited)
    }

    /// Switches appends to a new file and hands back the old one with its
    /// events; `None` when nothing was appended since the last seal. Only the
    /// writer thread calls this.
    pub fn seal(&self) -> io::Result<Option<Sealed>> {
        let next = {
            let active = self.lock()?;
            if active.events.is_empty() {
                return Ok(None);
            }
            next_generation(active.generation)?
        };
        // Created outside the lock: appenders wait only for the swap.
        let file = create_file(&self.dir, next)?;
        let mut active = self.lock()?;
        let old = std::mem::replace(&mut *active, Active::new(file, next));
        let oldest = old.oldest.unwrap_or_else(Instant::now);
        // Still outside the chain until the writer says it is settled.
        if let Ok(mut unsettled) = self.unsettled.lock() {
            *unsettled = Some(unsettled.map_or(oldest, |u| u.min(oldest)));
        }
        drop(active);
        Ok(Some(Sealed {
            path: file_path(&self.dir, old.generation),
            generation: old.generation,
            events: old.events,
            oldest,
        }))
    }

    /// The writer has committed every sealed file but `pending` (a file it
    /// will retry), if any.
    pub fn settled(&self, pending: Option<&Sealed>) {
        if let Ok(mut unsettled) = self.unsettled.lock() {
            *unsettled = pending.map(|s| s.oldest);
        }
    }

    fn lock(&self) -> io::Result<MutexGuard<'_, Active>> {
        self.active
            .lock()
            .map_err(|_| io::Error::other("the audit journal's lock is poisoned"))
    }
}

fn journal_failure(e: io::Error) -> StoreError {
    StoreError::Backend(format!("cannot append to the audit journal: {e}"))
}

/// The generation after `generation`; an error (never a wrap-around or a
/// panic) at the end of the range.
fn next_generation(generation: u64) -> io::Result<u64> {
    generation
        .checked_add(1)
        .filter(|g| i64::try_from(*g).is_ok())
        .ok_or_else(|| io::Error::other("the audit journal's generation numbers are used up"))
}

/// The journal files in `dir`, oldest generation first.
pub(in crate::store) fn leftovers(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if let Some(generation) = generation_of(&path) {
            files.push((generation, path));
        }
    }
    files.sort();
    Ok(files)
}

/// The generation a journal file's name gives (`<generation>.jsonl`).
fn generation_of(path: &Path) -> Option<u64> {
    path.file_name()?
        .to_str()?
        .strip_suffix(".jsonl")?
        .parse::<u64>()
        .ok()
}

/// A left-over journal file, read: the events whose MAC holds, in order, and
/// the numbers (from 1) of the whole lines that failed. A last line without
/// its newline was cut off mid-write and never acknowledged; it is dropped.
pub(in crate::store) struct Leftover {
    pub events: Vec<AuditEvent>,
    pub rejected: Vec<usize>,
}

/// Reads the journal file of `generation` at `path`, checking each line
/// under `key`. Nothing of a rejected line is kept or printed: it may name
/// keys.
pub(in crate::store) fn read_leftover(
    path: &Path,
    generation: u64,
    key: &AuditKey,
) -> io::Result<Leftover> {
    let bytes = fs::read(path)?;
    let mut out = Leftover {
        events: Vec::new(),
        rejected: Vec::new(),
    };
    for (index, line) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
        let Some(line) = line.strip_suffix(b"\n") else {
            break;
        };
        match authentic_event(line, generation, index as u64, key) {
            Some(event) => out.events.push(event),
            None => out.rejected.push(index + 1),
        }
    }
    Ok(out)
}

/// The event of one journal line, if its MAC holds and it parses.
fn authentic_event(line: &[u8], generation: u64, index: u64, key: &AuditKey) -> Option<AuditEvent> {
    let (tag_hex, canonical) = line.split_at_checked(64)?;
    let canonical = canonical.strip_prefix(b" ")?;
    let tag = hex::decode(tag_hex).ok()?;
    if !key.journal_mac_matches(generation, index, canonical, &tag) {
        return None;
    }
    serde_json::from_slice(canonical).ok()
}

/// Copies a journal file that failed its check into the journal directory's
/// `quarantine` folder, for an investigator (the original is deleted once
/// its authentic events are committed). Returns the name it is kept under.
pub(in crate::store) fn quarantine_copy(dir: &Path, file: &Path) -> io::Result<String> {
    let folder = dir.join("quarantine");
    create_dir(&folder)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Never overwrite an earlier quarantined file of the same name.
    let mut kept = name.clone();
    let mut n = 1;
    while folder.join(&kept).exists() {
        kept = format!("{name}.{n}");
        n += 1;
    }
    fs::copy(file, folder.join(&kept))?;
    Ok(kept)
}

fn create_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn file_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("{generation:020}.jsonl"))
}

fn create_file(dir: &Path, generation: u64) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o600)
        .open(file_path(dir, generation))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AuditKey {
        crate::audit::tests::test_keyring().epochs[0].clone()
    }

    fn event_fields(id: &str) -> AuditEvent {
        AuditEvent {
            id: id.into(),
            action: "get-secrets".into(),
            keys: vec!["A\nB".into()],
            result: "success".into(),
            ..Default::default()
        }
    }

    fn event(id: &str) -> PreparedAudit {
        PreparedAudit::new(event_fields(id)).unwrap()
    }

    fn open(dir: &Path) -> AuditJournal {
        AuditJournal::open(dir, 0, key(), Duration::from_secs(60)).unwrap()
    }

    fn ids(path: &Path, generation: u64) -> Vec<String> {
        read_leftover(path, generation, &key())
            .unwrap()
            .events
            .into_iter()
            .map(|e| e.id)
            .collect()
    }

    #[test]
    fn sealed_files_hold_exactly_their_events_and_leftovers_replay_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let journal = open(dir.path());
        assert!(journal.seal().unwrap().is_none(), "nothing to seal yet");
        journal.append(event("e1")).unwrap();
        journal.append(event("e2")).unwrap();
        let first = journal.seal().unwrap().unwrap();
        assert_eq!(first.events.len(), 2);
        journal.append(event("e3")).unwrap();
        // As after a crash: both files are still there.
        let files = leftovers(dir.path()).unwrap();
        assert_eq!(files.len(), 2);
        let all: Vec<String> = files.iter().flat_map(|(g, p)| ids(p, *g)).collect();
        assert_eq!(all, ["e1", "e2", "e3"]);
        first.discard().unwrap();
        assert_eq!(leftovers(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn every_line_is_one_whole_event_with_its_mac() {
        let dir = tempfile::tempdir().unwrap();
        let journal = open(dir.path());
        journal.append(event("e1")).unwrap();
        let (generation, path) = leftovers(dir.path()).unwrap().pop().unwrap();
        let bytes = fs::read(&path).unwrap();
        let canonical = crate::audit::canonical(&event_fields("e1"));
        let tag = hex::encode(key().journal_mac(generation, 0, &canonical));
        let mut expected = format!("{tag} ").into_bytes();
        expected.extend_from_slice(&canonical);
        expected.push(b'\n');
        assert_eq!(bytes, expected);
    }

    #[test]
    fn forged_moved_and_torn_lines_are_not_events() {
        let dir = tempfile::tempdir().unwrap();
        let journal = open(dir.path());
        journal.append(event("ok")).unwrap();
        journal.append(event("second")).unwrap();
        let (generation, path) = leftovers(dir.path()).unwrap().pop().unwrap();
        let genuine = fs::read(&path).unwrap();
        let first_line: Vec<u8> = genuine
            .split_inclusive(|b| *b == b'\n')
            .next()
            .unwrap()
            .to_vec();
        let mut bytes = genuine.clone();
        // A forged event with a made-up MAC.
        let forged = crate::audit::canonical(&event_fields("forged"));
        bytes.extend_from_slice(format!("{} ", "ab".repeat(32)).as_bytes());
        bytes.extend_from_slice(&forged);
        bytes.push(b'\n');
        // A genuine line copied to another place.
        bytes.extend_from_slice(&first_line);
        bytes.extend_from_slice(b"{not json}\n");
        // Cut off mid-write.
        bytes.extend_from_slice(&first_line[..10]);
        fs::write(&path, &bytes).unwrap();
        let read = read_leftover(&path, generation, &key()).unwrap();
        let ids: Vec<&str> = read.events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["ok", "second"]);
        assert_eq!(read.rejected, [3, 4, 5]);
        // The same file under another generation (renamed) holds nothing.
        let renamed = read_leftover(&path, generation + 1, &key()).unwrap();
        assert!(renamed.events.is_empty());
        assert_eq!(renamed.rejected.len(), 5);
    }

    #[test]
    fn appends_are_refused_once_events_wait_past_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let journal = AuditJournal::open(dir.path(), 0, key(), Duration::from_millis(50)).unwrap();
        journal.append(event("e1")).unwrap();
        std::thread::sleep(Duration::from_millis(80));
        assert!(matches!(
            journal.append(event("e2")),
            Err(StoreError::Unavailable(_))
        ));
        // Sealed but not committed still counts.
        let sealed = journal.seal().unwrap().unwrap();
        assert!(journal.behind().is_some());
        journal.settled(Some(&sealed));
        assert!(journal.behind().is_some());
        journal.settled(None);
        assert!(journal.behind().is_none());
        journal.append(event("e3")).unwrap();
    }

    #[test]
    fn generations_end_in_an_error_not_a_wrap() {
        assert!(next_generation(i64::MAX as u64).is_err());
        assert!(next_generation(u64::MAX).is_err());
        assert_eq!(next_generation(1).unwrap(), 2);
    }

    #[test]
    fn journal_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let journal_dir = dir.path().join("j");
        let journal = open(&journal_dir);
        journal.append(event("e1")).unwrap();
        let (_, file) = &leftovers(&journal_dir).unwrap()[0];
        let mode = fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = fs::metadata(&journal_dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
