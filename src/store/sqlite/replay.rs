//! Start-up replay of the audit journal: files a killed or crashed server
//! journaled but did not move into the chain are linked in (lines whose MAC
//! holds) or quarantined.

use super::*;

pub(super) fn journal_error(dir: &Path, e: std::io::Error) -> StoreError {
    backend(format!(
        "cannot use the audit journal {}: {e}",
        dir.display()
    ))
}

/// Moves journal files an earlier run left into the chain, oldest first,
/// one transaction each, and deletes them. A file up to the generation the
/// database records as committed was moved before the crash: its events are
/// not linked again (its lines are still checked).
pub(super) fn replay_journal(
    conn: &Connection,
    head: &mut ChainHead,
    dir: &Path,
) -> StoreResult<()> {
    let files = audit_journal::leftovers(dir).map_err(|e| journal_error(dir, e))?;
    for (generation, file) in files {
        let committed = sqlite_audit::committed_journal(conn).map_err(backend)?;
        replay_file(conn, head, dir, &file, generation, generation <= committed)?;
        std::fs::remove_file(&file).map_err(|e| journal_error(&file, e))?;
    }
    Ok(())
}

/// Links one left-over journal file's authentic events into the chain and
/// marks it committed, in one transaction. Lines whose MAC fails (forged,
/// or moved from another file or place) are never linked: the file is
/// copied to the journal's quarantine folder and an event names it and the
/// lines, so `hush audit verify` reports it. A file whose every line fails
/// (a forged file, or one renamed to another generation) is not marked
/// committed: its name says nothing true.
pub(super) fn replay_file(
    conn: &Connection,
    head: &mut ChainHead,
    dir: &Path,
    file: &Path,
    generation: u64,
    committed: bool,
) -> StoreResult<()> {
    let mut leftover = audit_journal::read_leftover(file, generation, &head.key)
        .map_err(|e| journal_error(file, e))?;
    if committed {
        leftover.events.clear();
    }
    let quarantined = if leftover.rejected.is_empty() {
        None
    } else {
        let name = audit_journal::quarantine_copy(dir, file).map_err(|e| journal_error(file, e))?;
        tracing::error!(
            "audit journal {}: {} line(s) failed their MAC check (forged or moved); not linked, kept as quarantine/{name}",
            file.display(),
            leftover.rejected.len()
        );
        Some(quarantine_event(&name, &leftover.rejected))
    };
    let authentic = !leftover.events.is_empty();
    chain_transaction(conn, head, |conn, head| {
        for event in &leftover.events {
            insert_audit(conn, head, event)?;
        }
        if let Some(event) = &quarantined {
            insert_audit(conn, head, event)?;
        }
        if authentic {
            sqlite_audit::mark_journal_committed(conn, generation)?;
        }
        Ok(())
    })
}

/// The event that records a quarantined journal file.
pub(super) fn quarantine_event(name: &str, lines: &[usize]) -> AuditEvent {
    const SHOWN: usize = 20;
    let mut listed: Vec<String> = lines.iter().take(SHOWN).map(usize::to_string).collect();
    if lines.len() > SHOWN {
        listed.push(format!("and {} more", lines.len() - SHOWN));
    }
    let time = crate::time_ids::now_ms();
    AuditEvent {
        id: uuid::Uuid::now_v7().to_string(),
        time,
        actor_type: "system".into(),
        actor_id: "system".into(),
        actor_name: "hush".into(),
        action: crate::audit::QUARANTINE_ACTION.into(),
        keys: vec![
            format!("quarantine/{name}"),
            format!("lines {}", listed.join(", ")),
        ],
        result: "failure".into(),
        ..Default::default()
    }
}
