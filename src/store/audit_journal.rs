//! The SQLite store's journal of audit events that change nothing: reads,
//! logins, denials.
//!
//! Fail-closed auditing answers a read only once its event is somewhere a
//! killed server cannot lose it. Committing every such event through the
//! writer's group commit cost half of the list throughput: each request
//! crossed to the writer thread and back, and every small commit rewrote, as
//! whole 4 KiB WAL frames, the last page of the audit table and of its two
//! indexes. The journal is as safe against a killed process and much cheaper:
//! the HTTP worker appends the event's canonical JSON as one line under a
//! mutex (a repeat of a template already whole in the file as a short line
//! naming that line, see `RepeatLine`), copied into a shared mapping of the
//! file (`journal_file`: the page cache, which keeps it if the process dies),
//! and
//! the writer thread moves the journal into the hash-chained `audit_events`
//! table in one fsynced transaction every flush interval. So a power loss can
//! take at most that interval of these events, the bound `audit_flush` gave
//! before, and the chain is linked by the single writer as it always was.
//!
//! Files: `<database>.audit-journal/<generation>.jsonl`, mode 0600. The writer
//! seals the active file by switching appends to the next generation, inserts
//! the sealed events and records the file's generation as committed
//! (`audit_journal_mark`) in one transaction, and only then deletes the file.
//! At start every file left over is replayed in generation order
//! (`leftovers`), except one up to the recorded generation (committed, not yet
//! deleted), so a crash at any point neither loses nor doubles an event.

use super::journal_file::JournalFile;
use super::sqlite_audit::{JournalForm, PreparedAudit};
use crate::store::AuditEvent;
use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A file the writer took out of the appenders' way, with its events.
pub(super) struct Sealed {
    path: PathBuf,
    pub generation: u64,
    pub events: Vec<PreparedAudit>,
}

impl Sealed {
    /// Deletes the file once its events are committed to the database.
    pub fn discard(self) -> io::Result<()> {
        fs::remove_file(&self.path)
    }
}

struct Active {
    file: JournalFile,
    generation: u64,
    events: Vec<PreparedAudit>,
    /// The line (from 0) of this file holding each template's first repeat
    /// whole, by the template's address (its `Arc` lives in `events`).
    templates: HashMap<usize, usize>,
    /// Where a reference line is formatted (reused: one per read).
    reference: Vec<u8>,
}

impl Active {
    fn new(file: JournalFile, generation: u64) -> Active {
        Active {
            file,
            generation,
            events: Vec::new(),
            templates: HashMap::new(),
            reference: Vec::new(),
        }
    }
}

/// A repeat after its template's first, whole line in the same file:
/// `{"of":LINE,"id":ID,"time":TIME}`, about 80 bytes instead of the whole
/// event's 900 (the copy, and the page cache the journal fills, per read).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RepeatLine {
    of: usize,
    id: String,
    time: i64,
}

pub(super) struct AuditJournal {
    dir: PathBuf,
    active: Mutex<Active>,
}

impl AuditJournal {
    /// The journal directory of the database at `db_path`.
    pub fn dir_for(db_path: &Path) -> PathBuf {
        let mut name = db_path.file_name().unwrap_or_default().to_owned();
        name.push(".audit-journal");
        db_path.with_file_name(name)
    }

    /// Opens the journal in `dir` (created 0700) with a new, empty active
    /// file after any left over from an earlier run (`leftovers` lists them)
    /// and after generation `committed`, the newest the database records as
    /// moved into the chain: generations never repeat, so that record never
    /// covers a file it has not seen.
    pub fn open(dir: &Path, committed: u64) -> io::Result<AuditJournal> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let newest = leftovers(dir)?
            .last()
            .map_or(0, |(generation, _)| *generation);
        let generation = newest.max(committed) + 1;
        let file = create_file(dir, generation, 0)?;
        Ok(AuditJournal {
            dir: dir.to_owned(),
            active: Mutex::new(Active::new(file, generation)),
        })
    }

    /// Appends `event`; once this returns, a killed process cannot lose it.
    pub fn append(&self, event: PreparedAudit) -> io::Result<()> {
        let mut guard = self.lock()?;
        let active = &mut *guard;
        let line_number = active.events.len();
        match event.journal_form() {
            JournalForm::Line(line) => active.file.append(line)?,
            JournalForm::Repeat { template, id, time } => {
                let key = Arc::as_ptr(template) as usize;
                match active.templates.get(&key) {
                    Some(&of) => {
                        let reference = &mut active.reference;
                        reference.clear();
                        let _ = write!(reference, r#"{{"of":{of},"id":"#);
                        let _ = serde_json::to_writer(&mut *reference, id);
                        let _ = writeln!(reference, r#","time":{time}}}"#);
                        active.file.append(reference)?;
                    }
                    None => {
                        active.file.append(&template.canonical(id, time, b"\n"))?;
                        active.templates.insert(key, line_number);
                    }
                }
            }
        }
        active.events.push(event);
        Ok(())
    }

    /// Switches appends to a new file and hands back the old one with its
    /// events; `None` when nothing was appended since the last seal. Only the
    /// writer thread calls this.
    pub fn seal(&self) -> io::Result<Option<Sealed>> {
        let (next, used) = {
            let active = self.lock()?;
            if active.events.is_empty() {
                return Ok(None);
            }
            (active.generation + 1, active.file.len())
        };
        // Created outside the lock (appenders wait only for the swap), with
        // room for twice what this one took.
        let file = create_file(&self.dir, next, used.saturating_mul(2))?;
        let mut active = self.lock()?;
        let old = std::mem::replace(&mut *active, Active::new(file, next));
        drop(active);
        let Active {
            file: old_file,
            generation: old_generation,
            events,
            ..
        } = old;
        // Unmapped outside the lock.
        drop(old_file);
        Ok(Some(Sealed {
            path: file_path(&self.dir, old_generation),
            generation: old_generation,
            events,
        }))
    }

    fn lock(&self) -> io::Result<std::sync::MutexGuard<'_, Active>> {
        self.active
            .lock()
            .map_err(|_| io::Error::other("the audit journal's lock is poisoned"))
    }
}

/// The journal files in `dir`, oldest generation first.
pub(super) fn leftovers(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let generation = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".jsonl"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(generation) = generation {
            files.push((generation, path));
        }
    }
    files.sort();
    Ok(files)
}

/// The events of a journal file left over by an earlier run, a repeat line
/// completed from the whole line it refers to. A last line without its
/// newline was cut off by a crash mid-write and was never acknowledged; it is
/// dropped. A whole line that does not parse (or refers to no event) is
/// reported by its number (its content may name keys, so it is not printed).
pub(super) fn read_leftover(path: &Path) -> io::Result<Vec<Result<AuditEvent, usize>>> {
    let bytes = fs::read(path)?;
    let mut events: Vec<Result<AuditEvent, usize>> = Vec::new();
    for (number, line) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
        let Some(json) = line.strip_suffix(b"\n") else {
            break;
        };
        let event = match serde_json::from_slice::<RepeatLine>(json) {
            Ok(repeat) => match events.get(repeat.of) {
                Some(Ok(whole)) if repeat.of < number => Some(AuditEvent {
                    id: repeat.id,
                    time: repeat.time,
                    ..whole.clone()
                }),
                _ => None,
            },
            Err(_) => serde_json::from_slice::<AuditEvent>(json).ok(),
        };
        events.push(event.ok_or(number + 1));
    }
    Ok(events)
}

fn file_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("{generation:020}.jsonl"))
}

fn create_file(dir: &Path, generation: u64, expected: u64) -> io::Result<JournalFile> {
    OpenOptions::new()
        // Read too: a shared writable mapping needs it.
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file_path(dir, generation))
        .map(|file| JournalFile::new(file, expected))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn sealed_files_hold_exactly_their_events_and_leftovers_replay_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let journal = AuditJournal::open(dir.path(), 0).unwrap();
        assert!(journal.seal().unwrap().is_none(), "nothing to seal yet");
        journal.append(event("e1")).unwrap();
        journal.append(event("e2")).unwrap();
        let first = journal.seal().unwrap().unwrap();
        assert_eq!(first.events.len(), 2);
        journal.append(event("e3")).unwrap();
        // As after a crash: both files are still there.
        let files = leftovers(dir.path()).unwrap();
        assert_eq!(files.len(), 2);
        let ids: Vec<String> = files
            .iter()
            .flat_map(|(_, p)| read_leftover(p).unwrap())
            .map(|e| e.unwrap().id)
            .collect();
        assert_eq!(ids, ["e1", "e2", "e3"]);
        first.discard().unwrap();
        assert_eq!(leftovers(dir.path()).unwrap().len(), 1);
        // A new journal starts after the newest leftover.
        let again = AuditJournal::open(dir.path(), 0).unwrap();
        again.append(event("e4")).unwrap();
        let files = leftovers(dir.path()).unwrap();
        assert_eq!(files.len(), 2);
        assert!(files[0].0 < files[1].0);
    }

    #[test]
    fn repeats_after_the_first_are_references_that_replay_whole() {
        use crate::store::audit_template::AuditTemplate;
        let dir = tempfile::tempdir().unwrap();
        let journal = AuditJournal::open(dir.path(), 0).unwrap();
        let fields = AuditEvent {
            actor_name: "lister".into(),
            action: "get-secrets".into(),
            keys: vec!["A".into(), "B".into()],
            result: "success".into(),
            ..Default::default()
        };
        let template = Arc::new(AuditTemplate::new(fields));
        let repeat = |id: &str, time| PreparedAudit::repeat(&template, id.into(), time);
        journal.append(event("own")).unwrap();
        journal.append(repeat("r1", 10)).unwrap();
        journal.append(repeat("r2", 11)).unwrap();
        journal.append(repeat("r3", 12)).unwrap();
        let (_, path) = leftovers(dir.path()).unwrap().pop().unwrap();
        let bytes = fs::read(&path).unwrap();
        let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').take(4).collect();
        assert_eq!(lines[2], b"{\"of\":1,\"id\":\"r2\",\"time\":11}\n");
        let replayed: Vec<AuditEvent> = read_leftover(&path)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            replayed,
            [
                event_fields("own"),
                template.instance("r1", 10),
                template.instance("r2", 11),
                template.instance("r3", 12),
            ]
        );
        // A new file starts with the template's whole line again.
        let sealed = journal.seal().unwrap().unwrap();
        assert_eq!(sealed.events.len(), 4);
        journal.append(repeat("r4", 13)).unwrap();
        let (_, path) = leftovers(dir.path()).unwrap().pop().unwrap();
        let replayed = read_leftover(&path).unwrap();
        assert_eq!(replayed, [Ok(template.instance("r4", 13))]);
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_a_bad_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1.jsonl");
        let good = crate::audit::canonical(&event_fields("ok"));
        let mut bytes = good.clone();
        bytes.push(b'\n');
        bytes.extend_from_slice(b"{not json}\n");
        // A reference forward, and one to a line that did not parse.
        bytes.extend_from_slice(b"{\"of\":4,\"id\":\"x\",\"time\":1}\n");
        bytes.extend_from_slice(b"{\"of\":1,\"id\":\"x\",\"time\":1}\n");
        bytes.extend_from_slice(&good[..10]);
        fs::write(&path, bytes).unwrap();
        let events = read_leftover(&path).unwrap();
        assert_eq!(events.len(), 4);
        assert_eq!(events[0].as_ref().unwrap().id, "ok");
        assert_eq!(events[1].as_ref().unwrap_err(), &2);
        assert_eq!(events[2].as_ref().unwrap_err(), &3);
        assert_eq!(events[3].as_ref().unwrap_err(), &4);
    }

    #[test]
    fn journal_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let journal_dir = dir.path().join("j");
        let journal = AuditJournal::open(&journal_dir, 0).unwrap();
        journal.append(event("e1")).unwrap();
        let (_, file) = &leftovers(&journal_dir).unwrap()[0];
        let mode = fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = fs::metadata(&journal_dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
