//! `hush audit export`: every event of a time range, oldest first (chain
//! order), a page at a time, so an export of millions of events holds one
//! page in memory. Who may export is who may read the log
//! (`audit_log::audit_events`): server admins everything, project admins
//! their project less the folders an override denies them. One
//! `export-audit-log` event records the export.
//!
//! Pages follow the chain (`after_seq`); the end is fixed when the export
//! starts (the newest event then): events written meanwhile are not in it.

use super::access::{readable_keys, Grant};
use super::{Ctx, Service, ServiceResult};
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
    /// The last event sent (or before the first).
    after: i64,
    /// The newest event when the export started: where it ends.
    end: i64,
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
        let seen_through = self
            .audit_reader(ctx, project, &mut filter, "export-audit-log", "export")
            .await?;
        let mut event = ctx.event("export-audit-log");
        event.project_id = filter.project_id.clone();
        self.store.append_audit(event).await?;
        let end = self.store.audit_head().await?.map_or(0, |(seq, _)| seq);
        Ok(AuditExport {
            store: self.store.clone(),
            filter,
            seen_through,
            after: 0,
            end,
        })
    }
}

impl AuditExport {
    /// The next page, oldest first; `None` at the end.
    pub async fn next_page(&mut self) -> ServiceResult<Option<Vec<AuditRow>>> {
        if self.after >= self.end {
            return Ok(None);
        }
        let filter = AuditFilter {
            after_seq: Some(self.after),
            ..self.filter.clone()
        };
        let mut rows = self.store.query_audit(filter).await?;
        rows.retain(|r| r.seq <= self.end);
        let Some(last) = rows.last() else {
            self.after = self.end;
            return Ok(None);
        };
        self.after = last.seq;
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
