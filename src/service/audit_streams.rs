//! Managing audit log streams (server admins only; every call is audited,
//! refusals too). Header values go in sealed and never come out: answers
//! carry header names only.

use super::{new_id, now_ms, Ctx, Service, ServiceError, ServiceResult};
use crate::store::streams::StreamRow;
use crate::streams::limits::MAX_STREAMS;
use crate::streams::sealed;
use crate::streams::target::{check_headers, HeaderSpec, Target};
use crate::streams::tls::parse_ca;

/// What an admin gives to add a stream.
pub struct NewStream {
    pub url: String,
    pub headers: Vec<HeaderSpec>,
    /// PEM of the only CA to trust for TLS (default: the public web PKI).
    pub ca_cert: Option<String>,
    /// Deliver the whole existing log first.
    pub from_start: bool,
}

/// A change of a stream (Infisical's PATCH): each field given replaces the
/// stream's; `headers` replaces all of them; an empty `ca_cert` removes it.
pub struct StreamChange {
    pub url: Option<String>,
    pub headers: Option<Vec<HeaderSpec>>,
    pub ca_cert: Option<String>,
}

/// A checked CA bundle (`None` for none).
fn checked_ca(pem: Option<String>) -> ServiceResult<Option<String>> {
    match pem.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(p) => {
            parse_ca(&p).map_err(ServiceError::Validation)?;
            Ok(Some(p))
        }
    }
}

pub use crate::api::streams::{HeaderName, StreamView};

fn view(row: StreamRow, last_seq: i64) -> StreamView {
    let iso = |ms: Option<i64>| ms.map(super::iso);
    StreamView {
        lag: (last_seq - row.cursor_seq).max(0),
        last_delivered_seq: row.cursor_seq,
        headers: row
            .header_names
            .into_iter()
            .map(|key| HeaderName { key })
            .collect(),
        created_at: super::iso(row.created_at),
        updated_at: super::iso(row.updated_at),
        ca_cert: row.ca_cert.is_some(),
        created_by: row.created_by,
        last_attempt_at: iso(row.last_attempt_at),
        last_delivered_at: iso(row.last_delivered_at),
        last_error: row.last_error,
        last_error_at: iso(row.last_error_at),
        failures: row.failures,
        leased: row.lease_owner.is_some() && row.lease_until > now_ms(),
        id: row.id,
        kind: row.kind,
        url: row.url,
    }
}

impl Service {
    /// Adds a stream that starts after the newest event now in the log (its
    /// own `create-audit-stream` event is the first it delivers), unless
    /// `from_start`: then it delivers the whole log first.
    /// Authorization comes before any check of the input, so a caller who
    /// may not add streams learns nothing from the answer.
    pub async fn add_audit_stream(&self, ctx: &Ctx, new: NewStream) -> ServiceResult<StreamView> {
        self.require_server_admin(ctx, "add-audit-stream", "")
            .await?;
        let target = Target::parse(&new.url).map_err(ServiceError::Validation)?;
        check_headers(&new.headers).map_err(ServiceError::Validation)?;
        let ca_cert = checked_ca(new.ca_cert)?;
        let headers = new.headers;
        let id = new_id();
        let (key_wrapped, headers_ct) = sealed::seal(self.keys.root(), &id, &headers)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let cursor_seq = if new.from_start {
            0
        } else {
            self.store.last_seq().await?
        };
        let mut event = ctx.event("create-audit-stream");
        event.path = Some(format!("/audit-streams/{id}"));
        event.keys = vec![target.url.clone()];
        let row = StreamRow {
            id: id.clone(),
            kind: target.kind.as_str().to_owned(),
            url: target.url,
            header_names: headers.iter().map(|h| h.name.clone()).collect(),
            key_wrapped,
            headers_ct,
            ca_cert,
            cursor_seq,
            created_at: event.time,
            created_by: ctx.actor.name.clone(),
            updated_at: event.time,
            lease_owner: None,
            lease_until: 0,
            last_attempt_at: None,
            last_delivered_at: None,
            last_error: None,
            last_error_at: None,
            failures: 0,
        };
        drop(headers);
        let streams = self.store.audit_streams();
        streams.create_stream(row, MAX_STREAMS, event).await?;
        let row = streams
            .stream(&id)
            .await?
            .ok_or_else(|| ServiceError::Internal("a stream vanished after its insert".into()))?;
        Ok(view(row, self.store.last_seq().await?))
    }

    pub async fn audit_streams(&self, ctx: &Ctx) -> ServiceResult<Vec<StreamView>> {
        self.require_server_admin(ctx, "list-audit-streams", "")
            .await?;
        let rows = self.store.audit_streams().streams().await?;
        let last_seq = self.store.last_seq().await?;
        self.store
            .append_audit(ctx.event("list-audit-streams"))
            .await?;
        Ok(rows.into_iter().map(|r| view(r, last_seq)).collect())
    }

    pub async fn audit_stream(&self, ctx: &Ctx, id: &str) -> ServiceResult<StreamView> {
        self.require_server_admin(ctx, "read-audit-stream", id)
            .await?;
        let row = self
            .store
            .audit_streams()
            .stream(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("audit stream not found".into()))?;
        let mut event = ctx.event("read-audit-stream");
        event.path = Some(format!("/audit-streams/{id}"));
        self.store.append_audit(event).await?;
        Ok(view(row, self.store.last_seq().await?))
    }

    /// Changes where and how a stream delivers; it goes on from its cursor.
    pub async fn update_audit_stream(
        &self,
        ctx: &Ctx,
        id: &str,
        change: StreamChange,
    ) -> ServiceResult<StreamView> {
        self.require_server_admin(ctx, "update-audit-stream", id)
            .await?;
        let streams = self.store.audit_streams();
        let mut row = streams
            .stream(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("audit stream not found".into()))?;
        if let Some(url) = change.url {
            let target = Target::parse(&url).map_err(ServiceError::Validation)?;
            row.kind = target.kind.as_str().to_owned();
            row.url = target.url;
        }
        if let Some(headers) = change.headers {
            check_headers(&headers).map_err(ServiceError::Validation)?;
            let (key_wrapped, headers_ct) = sealed::seal(self.keys.root(), id, &headers)
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            row.header_names = headers.iter().map(|h| h.name.clone()).collect();
            row.key_wrapped = key_wrapped;
            row.headers_ct = headers_ct;
        }
        if change.ca_cert.is_some() {
            row.ca_cert = checked_ca(change.ca_cert)?;
        }
        let mut event = ctx.event("update-audit-stream");
        event.path = Some(format!("/audit-streams/{id}"));
        event.keys = vec![row.url.clone()];
        // Strictly later than the settings it replaces, so the deliverer
        // sees a change even within one millisecond.
        row.updated_at = event.time.max(row.updated_at + 1);
        streams.update_stream(row, event).await?;
        let row = streams
            .stream(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("audit stream not found".into()))?;
        Ok(view(row, self.store.last_seq().await?))
    }

    /// Deletes a stream; returns it as it was.
    pub async fn delete_audit_stream(&self, ctx: &Ctx, id: &str) -> ServiceResult<StreamView> {
        self.require_server_admin(ctx, "delete-audit-stream", id)
            .await?;
        let streams = self.store.audit_streams();
        let row = streams
            .stream(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("audit stream not found".into()))?;
        let mut event = ctx.event("delete-audit-stream");
        event.path = Some(format!("/audit-streams/{id}"));
        event.keys = vec![row.url.clone()];
        streams.delete_stream(id, event).await?;
        Ok(view(row, self.store.last_seq().await?))
    }
}
