//! A project's audit log (project admins and server admins, as the API's
//! `/api/v1/hush/audit`): filters by actor, action and key, newest first,
//! paged with the service's cursor. Reading it is itself audited.

use super::super::error::WebError;
use super::super::extract::PagePath;
use super::super::extract::PageQuery;
use super::super::html::{url_part, Html};
use super::super::layout::page;
use super::super::session::WebSession;
use super::{bounded, when};
use crate::server::AppState;
use crate::store::{AuditCursor, AuditFilter};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// Events per page.
const PAGE_SIZE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    key: Option<String>,
    /// `TIME.SEQ` of the last event of the previous page.
    before: Option<String>,
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

pub async fn show(
    State(state): State<AppState>,
    session: WebSession,
    PagePath(project): PagePath<String>,
    PageQuery(q): PageQuery<AuditQuery>,
) -> Result<Response, WebError> {
    let (actor, action, key) = (
        bounded(q.actor.as_deref()),
        bounded(q.action.as_deref()),
        bounded(q.key.as_deref()),
    );
    let filter = AuditFilter {
        actor: some(actor),
        action: some(action),
        key: some(key),
        before: cursor(bounded(q.before.as_deref()))?,
        limit: PAGE_SIZE,
        ..AuditFilter::default()
    };
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
        .raw("<label for=\"f-actor\">Actor</label><input id=\"f-actor\" name=\"actor\" maxlength=\"256\" value=\"").text(actor)
        .raw("\"><label for=\"f-action\">Action</label><input id=\"f-action\" name=\"action\" maxlength=\"256\" placeholder=\"e.g. get-secret\" value=\"").text(action)
        .raw("\"><label for=\"f-key\">Key</label><input id=\"f-key\" name=\"key\" maxlength=\"256\" value=\"").text(key)
        .raw("\"><button type=\"submit\">Filter</button></form>");
    if events.rows.is_empty() {
        h.raw("<p class=\"empty\">No events match. Clear the filters, or check the whole log from a terminal: <code>hush audit --project ")
            .text(&project)
            .raw("</code>.</p>");
    } else {
        h.raw("<div class=\"scroll\"><table class=\"audit\"><caption>Events, newest first</caption><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Actor</th><th scope=\"col\">Action</th><th scope=\"col\">Where</th><th scope=\"col\">Keys</th><th scope=\"col\">Result</th></tr></thead><tbody>");
        for row in &events.rows {
            let e = &row.event;
            h.raw("<tr><td>")
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
        h.raw("</tbody></table></div>");
    }
    // A page may show fewer events than it read (folders the reader may not
    // see are left out), so "older" is offered whenever the store read any.
    if let (Some(next), false) = (events.next_before, events.rows.is_empty()) {
        let href = format!(
            "/p/{}/audit?actor={}&action={}&key={}&before={}.{}",
            url_part(&project),
            url_part(actor),
            url_part(action),
            url_part(key),
            next.time,
            next.seq
        );
        h.raw("<p>").link(&href, "Older events").raw("</p>");
    }
    Ok(page(StatusCode::OK, "Audit log", Some(session.viewer()), h))
}
