//! `GET /api/v1/hush/audit/export?since&until&project&format=ndjson|csv`:
//! the events of a time range, oldest first, as one streamed answer (a page
//! of the log at a time, see `service::audit_export`). A failure part-way
//! aborts the answer (no clean end of the chunked body), so a client never
//! takes a cut-off export for a whole one.

use super::error::ApiError;
use super::extract::{ApiQuery, Auth};
use super::AppState;
use crate::api::audit::ExportQuery;
use crate::store::AuditRow;
use crate::streams::payload::event_json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Ndjson,
    Csv,
}

/// The CSV columns, in order (the JSON field names of an event).
const CSV_COLUMNS: [&str; 20] = [
    "seq",
    "id",
    "time",
    "timeIso",
    "actorType",
    "actorId",
    "actorName",
    "action",
    "projectId",
    "environment",
    "path",
    "keys",
    "fromVersion",
    "toVersion",
    "clientIp",
    "userAgent",
    "client",
    "result",
    "prevHash",
    "hash",
];

/// One CSV field (RFC 4180 quoting). Text a spreadsheet would run as a
/// formula (a user agent is whatever a caller sent) gets a leading `'`.
fn csv_field(out: &mut String, v: &Value) {
    let text = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(";"),
        other => other.to_string(),
    };
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) && !v.is_number() {
        format!("'{text}")
    } else {
        text
    };
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&text);
    }
}

fn render(rows: &[AuditRow], format: Format) -> Vec<u8> {
    let mut out = String::new();
    for row in rows {
        let v = event_json(row);
        match format {
            Format::Ndjson => {
                out.push_str(&v.to_string());
                out.push('\n');
            }
            Format::Csv => {
                for (i, col) in CSV_COLUMNS.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    csv_field(&mut out, &v[*col]);
                }
                out.push_str("\r\n");
            }
        }
    }
    out.into_bytes()
}

pub async fn export(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let format = match q.format.as_deref().unwrap_or("ndjson") {
        "ndjson" | "jsonl" => Format::Ndjson,
        "csv" => Format::Csv,
        other => {
            return Err(ApiError::validation(format!(
                "unknown format {other:?}: use ndjson or csv"
            )))
        }
    };
    let export = state
        .service
        .export_audit(&ctx, q.project.as_deref(), q.since, q.until)
        .await?;
    let head = (format == Format::Csv).then(|| format!("{}\r\n", CSV_COLUMNS.join(",")));
    let pages = futures_util::stream::unfold(
        (export, head, false),
        move |(mut export, head, done)| async move {
            if done {
                return None;
            }
            if let Some(h) = head {
                return Some((Ok(h.into_bytes()), (export, None, false)));
            }
            match export.next_page().await {
                Ok(Some(rows)) => Some((Ok(render(&rows, format)), (export, None, false))),
                Ok(None) => None,
                Err(e) => {
                    tracing::error!("audit export failed part-way: {e:?}");
                    Some((
                        Err(std::io::Error::other("audit export failed")),
                        (export, None, true),
                    ))
                }
            }
        },
    );
    let content_type = match format {
        Format::Ndjson => "application/x-ndjson",
        Format::Csv => "text/csv; charset=utf-8",
    };
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(pages),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        let mut out = String::new();
        csv_field(&mut out, &json!("=HYPERLINK(\"x\")"));
        assert_eq!(out, "\"'=HYPERLINK(\"\"x\"\")\"");
        let mut out = String::new();
        csv_field(&mut out, &json!(["/A", "/B"]));
        assert_eq!(out, "/A;/B");
        let mut out = String::new();
        csv_field(&mut out, &json!(-5));
        assert_eq!(out, "-5");
    }
}
