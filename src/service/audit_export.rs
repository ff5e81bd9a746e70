//! `hush audit export`: every event of a time range, oldest first (chain
//! order), a page at a time, so an export of millions of events holds one
//! page in memory. Who may export is who may read the log
//! (`audit_log::audit_events`): server admins everything, project admins
//! their project less the folders an override denies them. One
//! `export-audit-log` event records the export.
//!
//! The log is read newest first (that is how it is indexed and paged), so an
//! export first walks the range once to note where each page starts (one
//! number per page), then reads the pages again from the oldest. The end is
//! fixed when the export starts: events written meanwhile are not in it.

use super::access::{readable_keys, Grant};
use super::{Ctx, Service, ServiceError, ServiceResult};
use crate::store::{AuditFilter, AuditRow, EnvRow, Store};
use std::sync::Arc;

/// Events per page of an export.
pub const EXPORT_PAGE: i64 = 1000;

pub struct AuditExport {
    store: Arc<dyn Store>,
    filter: AuditFilter,
    /// A project admin's grant: events are filtered (and their keys cut
    /// down) as `audit_events` does.
    seen_through: Option<(Grant, Vec<EnvRow>)>,
    /// Where each page still to send starts (`before_seq`), oldest last.
    pages: Vec<i64>,
    planned: bool,
}

impl Service {
    pub async fn export_audit(
        &self,
        ctx: &Ctx,
        project: Option<&str>,
        since: Option<i64>,
        until: Option<i64>,
    ) -> ServiceResult<AuditExport> {
        let mut filter = AuditFilter {
            since,
            until,
            limit: EXPORT_PAGE,
            ..Default::default()
        };
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
                    "only server admins may export the whole audit log; pass a project you administer"
                        .into(),
                );
                return Err(self
                    .refused(ctx, "export-audit-log", vec![], "denied", err)
                    .await);
            }
            None => {}
        }
        let mut event = ctx.event("export-audit-log");
        event.project_id = filter.project_id.clone();
        self.store.append_audit(event).await?;
        Ok(AuditExport {
            store: self.store.clone(),
            filter,
            seen_through,
            pages: Vec::new(),
            planned: false,
        })
    }
}

impl AuditExport {
    async fn page(&self, before: Option<i64>) -> ServiceResult<Vec<AuditRow>> {
        let filter = AuditFilter {
            before_seq: before,
            ..self.filter.clone()
        };
        Ok(self.store.query_audit(filter).await?)
    }

    /// The first pass: where each page starts, newest first.
    async fn plan(&mut self) -> ServiceResult<()> {
        self.planned = true;
        let mut before = None;
        loop {
            let rows = self.page(before).await?;
            let (Some(newest), Some(oldest)) = (rows.first(), rows.last()) else {
                break;
            };
            self.pages.push(before.unwrap_or(newest.seq + 1));
            before = Some(oldest.seq);
            if (rows.len() as i64) < EXPORT_PAGE {
                break;
            }
        }
        Ok(())
    }

    /// The next page, oldest first; `None` at the end.
    pub async fn next_page(&mut self) -> ServiceResult<Option<Vec<AuditRow>>> {
        if !self.planned {
            self.plan().await?;
        }
        let Some(before) = self.pages.pop() else {
            return Ok(None);
        };
        let mut rows = self.page(Some(before)).await?;
        rows.reverse();
        if let Some((grant, envs)) = &self.seen_through {
            rows.retain_mut(|row| match readable_keys(grant, envs, &row.event) {
                Some(keys) => {
                    row.event.keys = keys;
                    true
                }
                None => false,
            });
        }
        Ok(Some(rows))
    }
}
