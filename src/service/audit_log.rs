//! Reading and verifying the audit log.

use super::{Ctx, Service, ServiceError, ServiceResult};
use crate::audit::{verify_chain, ChainBreak};
use crate::store::{AuditFilter, AuditRow};

/// Most events one query returns.
pub const MAX_AUDIT_PAGE: i64 = 1000;

impl Service {
    /// Events matching `filter`, newest first. Server admins see everything;
    /// project admins see their project's events.
    pub async fn audit_events(
        &self,
        ctx: &Ctx,
        mut filter: AuditFilter,
        project: Option<&str>,
    ) -> ServiceResult<Vec<AuditRow>> {
        match project {
            Some(p) => {
                let (project, grant) = self.visible_project(ctx, p).await?;
                self.authorize(ctx, &project, &grant, None, None, super::Action::Admin)
                    .await?;
                filter.project_id = Some(project.id);
            }
            None if !ctx.actor.server_admin => {
                let mut event = ctx.event("permission-denied");
                event.result = "denied".into();
                event.keys = vec!["audit-log".into()];
                self.store.append_audit(event).await?;
                return Err(ServiceError::Forbidden(
                    "only server admins may read the whole audit log; pass a project you administer"
                        .into(),
                ));
            }
            None => {}
        }
        filter.limit = filter.limit.clamp(1, MAX_AUDIT_PAGE);
        let rows = self.store.query_audit(filter.clone()).await?;
        // Reading the log is itself an event: who looked, at which project
        // (the filter's free text is not copied into the log).
        let mut event = ctx.event("query-audit-log");
        event.project_id = filter.project_id;
        self.store.append_audit(event).await?;
        Ok(rows)
    }

    /// Recomputes the whole hash chain (server admins only).
    pub async fn verify_audit(&self, ctx: &Ctx) -> ServiceResult<Result<usize, ChainBreak>> {
        if !ctx.actor.server_admin {
            return Err(ServiceError::Forbidden(
                "only server admins may verify the audit log".into(),
            ));
        }
        let rows = self.store.audit_chain().await?;
        Ok(verify_chain(&rows))
    }
}
