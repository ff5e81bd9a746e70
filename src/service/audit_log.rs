//! Reading and verifying the audit log.

use super::access::{readable_keys, Grant};
use super::{now_ms, Ctx, Service, ServiceError, ServiceResult};
use crate::audit::{verify_from, AuditKeyring, ChainBreak, GENESIS, QUARANTINE_ACTION};
use crate::audit_archive::{remove_segments_after, write_segment};
use crate::audit_checkpoint::{check_against, Checkpoint, Pinned, Signer};
use crate::store::{ArchiveMark, AuditCursor, AuditFilter, AuditRow, EnvRow};
use std::path::Path;

/// One page of the audit log.
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    /// Where the next (older) page starts: the oldest event this page read,
    /// whether or not the caller may see it.
    pub next_before: Option<AuditCursor>,
    /// Following (`after`): the newest sequence number this page read,
    /// whether or not it was shown: where the next poll starts.
    pub seen_through: Option<i64>,
}

/// What a verification of the whole chain found.
pub struct Verification {
    /// Events checked.
    pub events: usize,
    /// The first event where the chain breaks.
    pub broken: Option<ChainBreak>,
    /// The events that record quarantined journal lines (forged or moved
    /// lines found at start-up, never linked).
    pub quarantined: Vec<AuditRow>,
    /// The chain's last event, where a checkpoint would be taken.
    pub head: Option<AuditRow>,
    /// Where the log fails the checkpoint it was verified against.
    pub against_checkpoint: Option<ChainBreak>,
    /// The checkpoint's event is archived: check it with the archive.
    pub checkpoint_archived: bool,
    /// Where the live log starts when older events were archived: the last
    /// archived event's sequence number and link.
    pub start: Option<(i64, Vec<u8>)>,
}

/// Most events archived per segment file.
const MAX_SEGMENT_EVENTS: usize = 100_000;
/// Events read per pass of the archiver.
const ARCHIVE_BATCH: i64 = 20_000;
const DAY_MS: i64 = 86_400_000;

/// Most events one query returns.
pub const MAX_AUDIT_PAGE: i64 = 1000;

impl Service {
    /// Events matching `filter`, newest first. Server admins see everything;
    /// project admins see their project's events, less those of folders an
    /// override denies them (then a page may hold fewer than `limit` events:
    /// page on from `next_before`).
    pub async fn audit_events(
        &self,
        ctx: &Ctx,
        mut filter: AuditFilter,
        project: Option<&str>,
    ) -> ServiceResult<AuditPage> {
        let seen_through = self
            .audit_reader(ctx, project, &mut filter, "query-audit-log", "read")
            .await?;
        filter.limit = filter.limit.clamp(1, MAX_AUDIT_PAGE);
        let mut rows = self.store.query_audit(filter.clone()).await?;
        let next_before = rows.last().map(AuditCursor::of);
        let read_through = filter
            .after_seq
            .map(|after| rows.iter().map(|r| r.seq).max().unwrap_or(after));
        if let Some((grant, envs)) = &seen_through {
            rows.retain_mut(|row| match readable_keys(grant, envs, &row.event) {
                Some(keys) => {
                    row.event.keys = keys;
                    true
                }
                None => false,
            });
        }
        // Following the log (`after`): the caller's own reads of it are left
        // out, and a poll that finds nothing new is not itself an event, so a
        // follower's polls cannot feed each other; what it is shown is on
        // record, as any read of the log.
        if filter.after_seq.is_some() {
            rows.retain(|r| {
                !(r.event.action == "query-audit-log" && r.event.actor_id == ctx.actor.id)
            });
            if rows.is_empty() {
                return Ok(AuditPage {
                    rows,
                    next_before: None,
                    seen_through: read_through,
                });
            }
        }
        // Reading the log is itself an event: who looked, at which project
        // (the filter's free text is not copied into the log).
        let mut event = ctx.event("query-audit-log");
        event.project_id = filter.project_id;
        self.store.append_audit(event).await?;
        Ok(AuditPage {
            rows,
            next_before,
            seen_through: read_through,
        })
    }

    /// Who may read the log: server admins all of it, project admins their
    /// project's (narrowing `filter` to it; the returned grant and
    /// environments then filter each event). A refusal is audited as
    /// `action`; `verb` says what was refused.
    pub(super) async fn audit_reader(
        &self,
        ctx: &Ctx,
        project: Option<&str>,
        filter: &mut AuditFilter,
        action: &str,
        verb: &str,
    ) -> ServiceResult<Option<(Grant, Vec<EnvRow>)>> {
        match project {
            Some(p) => {
                let (project, grant) = self.visible_project(ctx, p).await?;
                self.authorize(ctx, &project, &grant, None, None, super::Action::Admin)
                    .await?;
                let envs = self.store.environments(&project.id).await?;
                filter.project_id = Some(project.id);
                Ok(Some((grant, envs)))
            }
            None if !ctx.actor.server_admin => {
                let err = ServiceError::Forbidden(format!(
                    "only server admins may {verb} the whole audit log; pass a project you administer"
                ));
                Err(self.refused(ctx, action, vec![], "denied", err).await)
            }
            None => Ok(None),
        }
    }

    /// The keys of every root key the chain was linked under, oldest first.
    pub async fn audit_keyring(&self) -> ServiceResult<AuditKeyring> {
        let sealed = self.store.audit_key_epochs().await?;
        AuditKeyring::open(self.keys.root(), &sealed).map_err(|e| {
            ServiceError::Integrity(format!("a stored audit key of an earlier root key: {e}"))
        })
    }

    /// The key that signs this server's audit checkpoints.
    pub fn checkpoint_signer(&self) -> Signer {
        Signer::from_root(self.keys.root())
    }

    /// A signed checkpoint of the chain's end, which includes the event that
    /// records this checkpoint (server admins only).
    pub async fn audit_checkpoint(&self, ctx: &Ctx) -> ServiceResult<Checkpoint> {
        self.require_server_admin(ctx, "create-audit-checkpoint", "")
            .await?;
        self.store
            .append_audit(ctx.event("create-audit-checkpoint"))
            .await?;
        self.checkpoint_now()
            .await?
            .ok_or_else(|| ServiceError::Internal("the audit log is empty after an append".into()))
    }

    /// A signed checkpoint of the chain's end as it is (`None` for an empty
    /// log); not itself audited (the periodic job's).
    pub async fn checkpoint_now(&self) -> ServiceResult<Option<Checkpoint>> {
        let head = self.store.audit_head().await?;
        Ok(head.map(|(seq, hash)| self.checkpoint_signer().sign(seq, &hash, now_ms())))
    }

    /// Recomputes the whole keyed chain (server admins only), and compares
    /// it with a checkpoint whose signature the caller has checked.
    pub async fn verify_audit(
        &self,
        ctx: &Ctx,
        pinned: Option<Pinned>,
    ) -> ServiceResult<Verification> {
        self.require_server_admin(ctx, "verify-audit-log", "")
            .await?;
        let rows = self.store.audit_chain().await?;
        let keyring = self.audit_keyring().await?;
        let mark = self.store.audit_archive_mark().await?;
        let (start, epoch, mark_break) = live_start(&keyring, mark.as_ref());
        let checked = match mark_break {
            Some(b) => Err(b),
            None => verify_from(&rows, &keyring, &start, epoch).map(drop),
        };
        let archived_through = mark.as_ref().map_or(0, |m| m.seq);
        let checkpoint_archived = pinned.as_ref().is_some_and(|p| p.seq <= archived_through);
        let against_checkpoint = pinned
            .filter(|p| p.seq > archived_through)
            .and_then(|p| check_against(&rows, &p).err());
        let quarantined = rows
            .iter()
            .filter(|r| r.event.action == QUARANTINE_ACTION)
            .cloned()
            .collect();
        Ok(Verification {
            events: rows.len(),
            broken: checked.err(),
            quarantined,
            head: rows.last().cloned(),
            against_checkpoint,
            checkpoint_archived,
            start: mark.map(|m| (m.seq, m.hash)),
        })
    }

    /// Moves the events older than `cutoff` (Unix ms) out of the database
    /// into signed archive segments in `dir` (see `audit_archive`), after
    /// verifying their links; the newest event always stays. Returns how
    /// many were archived.
    pub async fn archive_audit(&self, cutoff: i64, dir: &Path) -> ServiceResult<u64> {
        let keyring = self.audit_keyring().await?;
        let signer = self.checkpoint_signer();
        let mut archived = 0u64;
        loop {
            let mark = self.store.audit_archive_mark().await?;
            let (start, epoch, mark_break) = live_start(&keyring, mark.as_ref());
            if let Some(b) = mark_break {
                return Err(ServiceError::Integrity(b.reason));
            }
            let after = mark.as_ref().map_or(0, |m| m.seq);
            let Some((last_seq, _)) = self.store.audit_head().await? else {
                return Ok(archived);
            };
            let batch = self.store.audit_range(after, ARCHIVE_BATCH).await?;
            let old: Vec<AuditRow> = batch
                .into_iter()
                .take_while(|r| r.event.time < cutoff && r.seq < last_seq)
                .collect();
            if old.is_empty() {
                return Ok(archived);
            }
            // Tampered history is not laundered into signed segments.
            let (_, end_epoch) = verify_from(&old, &keyring, &start, epoch).map_err(|b| {
                ServiceError::Integrity(format!(
                    "not archiving: the audit chain is broken at event #{} ({})",
                    b.seq, b.reason
                ))
            })?;
            // Segments of an interrupted earlier pass (written, not yet
            // removed from the database) are written again.
            remove_segments_after(dir, after).map_err(|e| {
                ServiceError::Internal(format!("audit archive {}: {e}", dir.display()))
            })?;
            for segment in segments(&old) {
                write_segment(dir, segment, &signer).map_err(|e| {
                    ServiceError::Internal(format!(
                        "cannot write to the audit archive {}: {e}",
                        dir.display()
                    ))
                })?;
            }
            let last = &old[old.len() - 1];
            let end_epoch = end_epoch as i64;
            let key = keyring.epochs.get(end_epoch as usize).ok_or_else(|| {
                ServiceError::Internal("no audit key for the archive mark's epoch".into())
            })?;
            self.store
                .remove_archived(ArchiveMark {
                    seq: last.seq,
                    hash: last.hash.clone(),
                    epoch: end_epoch,
                    mac: key.mark_mac(last.seq, &last.hash, end_epoch),
                })
                .await?;
            archived += old.len() as u64;
        }
    }
}

/// Where the live log's chain starts: after the archive mark (checked
/// under its epoch's key), else at the genesis. A mark whose MAC fails is
/// returned as the break.
fn live_start(
    keyring: &AuditKeyring,
    mark: Option<&ArchiveMark>,
) -> (Vec<u8>, usize, Option<ChainBreak>) {
    let Some(m) = mark else {
        return (GENESIS.to_vec(), 0, None);
    };
    let epoch = usize::try_from(m.epoch).unwrap_or(usize::MAX);
    let genuine = keyring
        .epochs
        .get(epoch)
        .is_some_and(|k| k.mark_mac(m.seq, &m.hash, m.epoch) == m.mac);
    let broken = (!genuine).then(|| ChainBreak {
        seq: m.seq + 1,
        event_id: String::new(),
        reason: "the archive mark (where the live log starts) was changed outside hush".into(),
    });
    (m.hash.clone(), epoch, broken)
}

/// `rows` cut into segments: one per UTC day of event time, at most
/// `MAX_SEGMENT_EVENTS` each.
fn segments(rows: &[AuditRow]) -> Vec<&[AuditRow]> {
    let mut out = Vec::new();
    let mut rest = rows;
    while let Some(first) = rest.first() {
        let day = first.event.time.div_euclid(DAY_MS);
        let len = rest
            .iter()
            .take(MAX_SEGMENT_EVENTS)
            .take_while(|r| r.event.time.div_euclid(DAY_MS) == day)
            .count()
            .max(1);
        let (segment, after) = rest.split_at(len);
        out.push(segment);
        rest = after;
    }
    out
}
