//! Reading and verifying the audit log.

use super::access::readable_keys;
use super::{now_ms, Ctx, Service, ServiceError, ServiceResult};
use crate::audit::{verify_chain, AuditKeyring, ChainBreak, QUARANTINE_ACTION};
use crate::audit_checkpoint::{check_against, Checkpoint, Pinned, Signer};
use crate::store::{AuditCursor, AuditFilter, AuditRow};

/// One page of the audit log.
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    /// Where the next (older) page starts: the oldest event this page read,
    /// whether or not the caller may see it.
    pub next_before: Option<AuditCursor>,
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
}

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
        let mut seen_through = None;
        match project {
            Some(p) => {
                let (project, grant) = self.visible_project(ctx, p).await?;
                self.authorize(ctx, &project, &grant, None, None, super::Action::Admin)
                    .await?;
                let envs = self.store.environments(&project.id).await?;
                seen_through = Some((grant, envs));
                filter.project_id = Some(project.id);
            }
            None if !ctx.actor.server_admin => {
                let err = ServiceError::Forbidden(
                    "only server admins may read the whole audit log; pass a project you administer"
                        .into(),
                );
                return Err(self
                    .refused(ctx, "query-audit-log", vec![], "denied", err)
                    .await);
            }
            None => {}
        }
        filter.limit = filter.limit.clamp(1, MAX_AUDIT_PAGE);
        let mut rows = self.store.query_audit(filter.clone()).await?;
        let next_before = rows.last().map(AuditCursor::of);
        if let Some((grant, envs)) = &seen_through {
            rows.retain_mut(|row| match readable_keys(grant, envs, &row.event) {
                Some(keys) => {
                    row.event.keys = keys;
                    true
                }
                None => false,
            });
        }
        // Reading the log is itself an event: who looked, at which project
        // (the filter's free text is not copied into the log).
        let mut event = ctx.event("query-audit-log");
        event.project_id = filter.project_id;
        self.store.append_audit(event).await?;
        Ok(AuditPage { rows, next_before })
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
        let checked = verify_chain(&rows, &self.audit_keyring().await?);
        let against_checkpoint = pinned.and_then(|p| check_against(&rows, &p).err());
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
        })
    }
}
