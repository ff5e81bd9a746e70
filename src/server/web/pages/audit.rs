//! A project's audit log (project admins and server admins, as the API's
//! `/api/v1/hush/audit`): filters by actor, action, key and time range,
//! newest first, paged with the service's cursor; and its live tail
//! (`tail`): the rows after a sequence number, which the page's script
//! polls for (no inline script, no other origin). Reading it is itself
//! audited, by the service, as on the API (a tail poll that finds nothing
//! new is not an event).

use super::super::error::WebError;
use super::super::extract::PagePath;
use super::super::extract::PageQuery;
use super::super::html::{url_part, Html};
use super::super::layout::page;
use super::super::session::WebSession;
use super::{bounded, when};
use crate::server::AppState;
use crate::store::AuditRow;
use crate::store::{AuditCursor, AuditFilter};
use axum::extract::State;
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Events per page (and per tail poll).
const PAGE_SIZE: i64 = 50;

/// How often the page's script polls the tail.
const TAIL_EVERY_SECS: i64 = 5;

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    key: Option<String>,
    /// Start and end of the time range: `2026-01-31T00:00` (UTC, as a
    /// browser's date-time field sends it), RFC 3339, `24h`, or Unix ms.
    since: Option<String>,
    until: Option<String>,
    /// `TIME.SEQ` of the last event of the previous page.
    before: Option<String>,
    /// The tail: events after this sequence number.
    after: Option<i64>,
}

/// A time-range field as milliseconds; a date-time field's value (no zone)
/// is read as UTC, which the page says.
fn time_field(name: &str, text: &str) -> Result<Option<i64>, WebError> {
    if text.is_empty() {
        return Ok(None);
    }
    let zoned = match text.len() {
        16 if text.as_bytes()[10] == b'T' => format!("{text}:00Z"),
        19 if text.as_bytes()[10] == b'T' => format!("{text}Z"),
        _ => text.to_owned(),
    };
    crate::cli::audit_export::parse_time(&zoned, crate::time_ids::now_ms())
        .map(Some)
        .map_err(|_| {
            WebError::bad_request(format!(
                "the {name} time is not one this page reads: pick it with the date field, or write e.g. 2026-01-31T00:00 or 24h"
            ))
        })
}

impl AuditQuery {
    /// The filters as text (bounded) and as the store's filter.
    fn filter(&self) -> Result<(Fields<'_>, AuditFilter), WebError> {
        let f = Fields {
            actor: bounded(self.actor.as_deref()),
            action: bounded(self.action.as_deref()),
            key: bounded(self.key.as_deref()),
            since: bounded(self.since.as_deref()),
            until: bounded(self.until.as_deref()),
        };
        let filter = AuditFilter {
            actor: some(f.actor),
            action: some(f.action),
            key: some(f.key),
            since: time_field("From", f.since)?,
            until: time_field("To", f.until)?,
            before: cursor(bounded(self.before.as_deref()))?,
            after_seq: self.after,
            limit: PAGE_SIZE,
            ..AuditFilter::default()
        };
        Ok((f, filter))
    }
}

/// The filter fields as typed.
struct Fields<'a> {
    actor: &'a str,
    action: &'a str,
    key: &'a str,
    since: &'a str,
    until: &'a str,
}

impl Fields<'_> {
    /// The query string of these filters (for links and the tail).
    fn query(&self) -> String {
        format!(
            "actor={}&action={}&key={}&since={}&until={}",
            url_part(self.actor),
            url_part(self.action),
            url_part(self.key),
            url_part(self.since),
            url_part(self.until)
        )
    }
}

fn cursor(text: &str) -> Result<Option<AuditCursor>, WebError> {
    if text.is_empty() {
        return Ok(None);
    }
    let bad =
        || WebError::bad_request("the page link is malformed; start again from the first page");
    let (time, seq) = text.split_once('.').ok_or_else(bad)?;
    Ok(Some(AuditCursor {
        time: time.parse().map_err(|_| bad())?,
        seq: seq.parse().map_err(|_| bad())?,
    }))
}

fn some(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

fn rows(h: &mut Html, rows: &[AuditRow]) {
    for row in rows {
        let e = &row.event;
        h.raw("<tr data-seq=\"")
            .num(row.seq)
            .raw("\"><td>")
            .text(&when(e.time))
            .raw("</td><td>")
            .text(&e.actor_name)
            .raw("</td><td>")
            .text(&e.action)
            .raw("</td><td>")
            .text(e.environment.as_deref().unwrap_or(""))
            .raw(" ")
            .text(e.path.as_deref().unwrap_or(""))
            .raw("</td><td>")
            .text(&e.keys.join(", "))
            .raw("</td><td>")
            .text(&e.result)
            .raw("</td></tr>");
    }
}

pub async fn show(
    State(state): State<AppState>,
    session: WebSession,
    PagePath(project): PagePath<String>,
    PageQuery(q): PageQuery<AuditQuery>,
) -> Result<Response, WebError> {
    let (f, mut filter) = q.filter()?;
    // The page reads newest first; only the tail reads after a number.
    filter.after_seq = None;
    let first_page = filter.before.is_none();
    let project = bounded(Some(&project)).to_owned();
    let events = state
        .service
        .audit_events(&session.ctx, filter, Some(&project))
        .await?;
    let mut h = Html::new();
    h.raw("<h1>Audit log <small>")
        .text(&project)
        .raw("</small></h1>");
    h.raw("<form method=\"get\" class=\"filter\" role=\"search\">")
        .raw("<label for=\"f-actor\">Actor</label><input id=\"f-actor\" name=\"actor\" maxlength=\"256\" value=\"").text(f.actor)
        .raw("\"><label for=\"f-action\">Action</label><input id=\"f-action\" name=\"action\" maxlength=\"256\" placeholder=\"e.g. get-secret\" value=\"").text(f.action)
        .raw("\"><label for=\"f-key\">Key</label><input id=\"f-key\" name=\"key\" maxlength=\"256\" value=\"").text(f.key)
        .raw("\"><label for=\"f-since\">From (UTC)</label><input id=\"f-since\" name=\"since\" type=\"datetime-local\" value=\"").text(f.since)
        .raw("\"><label for=\"f-until\">To (UTC)</label><input id=\"f-until\" name=\"until\" type=\"datetime-local\" value=\"").text(f.until)
        .raw("\"><button type=\"submit\">Filter</button></form>");
    // The tail follows from the newest event this page read; it is offered
    // on the first page of an open-ended range only.
    let tail_from = events.rows.iter().map(|r| r.seq).max().unwrap_or(0);
    let tail = first_page && f.until.is_empty();
    if events.rows.is_empty() && !tail {
        h.raw("<p class=\"empty\">No events match. Clear the filters, or check the whole log from a terminal: <code>hush audit --project ")
            .text(&project)
            .raw("</code>.</p>");
    } else {
        if tail {
            h.raw("<p class=\"tail\"><label class=\"check\"><input type=\"checkbox\" id=\"live-tail\"> Live: add new events as they happen (every ")
                .num(TAIL_EVERY_SECS)
                .raw(" seconds)</label> <span id=\"tail-status\" role=\"status\"></span></p>");
        }
        h.raw("<div class=\"scroll\"><table class=\"audit\"");
        if tail {
            h.raw(" data-tail=\"")
                .text(&format!(
                    "/p/{}/audit/tail?{}",
                    url_part(&project),
                    f.query()
                ))
                .raw("\" data-after=\"")
                .num(tail_from)
                .raw("\" data-every=\"")
                .num(TAIL_EVERY_SECS)
                .raw("\"");
        }
        h.raw("><caption>Events, newest first</caption><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Actor</th><th scope=\"col\">Action</th><th scope=\"col\">Where</th><th scope=\"col\">Keys</th><th scope=\"col\">Result</th></tr></thead><tbody>");
        rows(&mut h, &events.rows);
        h.raw("</tbody></table></div>");
        if events.rows.is_empty() {
            h.raw("<p class=\"empty\">No events match yet.</p>");
        }
    }
    // A page may show fewer events than it read (folders the reader may not
    // see are left out), so "older" is offered whenever the store read any.
    if let (Some(next), false) = (events.next_before, events.rows.is_empty()) {
        let href = format!(
            "/p/{}/audit?{}&before={}.{}",
            url_part(&project),
            f.query(),
            next.time,
            next.seq
        );
        h.raw("<p>").link(&href, "Older events").raw("</p>");
    }
    Ok(page(StatusCode::OK, "Audit log", Some(session.viewer()), h))
}

/// The live tail: the events after `after` (oldest first, as the page's
/// script prepends each), as table rows; `X-Hush-After` says where the
/// next poll starts. The same reader check and filters as the page.
pub async fn tail(
    State(state): State<AppState>,
    session: WebSession,
    PagePath(project): PagePath<String>,
    PageQuery(q): PageQuery<AuditQuery>,
) -> Result<Response, WebError> {
    let Some(after) = q.after.filter(|a| *a >= 0) else {
        return Err(WebError::bad_request(
            "the live tail needs after=SEQ; open the audit page instead",
        ));
    };
    let (_, mut filter) = q.filter()?;
    filter.before = None;
    let project = bounded(Some(&project)).to_owned();
    let events = state
        .service
        .audit_events(&session.ctx, filter, Some(&project))
        .await?;
    let mut h = Html::new();
    h.raw("<table><tbody>");
    rows(&mut h, &events.rows);
    h.raw("</tbody></table>");
    let next = events.seen_through.unwrap_or(after).max(after);
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (HeaderName::from_static("x-hush-after"), next.to_string()),
        ],
        h.into_string(),
    )
        .into_response())
}
