//! Audit log queries and chain verification.

use super::error::ApiError;
use super::extract::{ApiQuery, Auth};
use super::AppState;
use crate::service::{iso, now_ms};
use crate::store::AuditFilter;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AuditQuery {
    project: Option<String>,
    environment: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    key: Option<String>,
    /// Unix milliseconds, or a duration back from now like `24h`.
    since: Option<String>,
    until: Option<i64>,
    before: Option<i64>,
    limit: Option<i64>,
}

/// `24h`, `30m`, `7d`, `90s` back from now, or absolute Unix milliseconds.
fn parse_since(text: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let (num, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = num.parse().map_err(|_| {
        ApiError::validation(format!("invalid since {text:?}: use e.g. 24h, 30m, 7d"))
    })?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => {
            return Err(ApiError::validation(format!(
                "invalid since {text:?}: use e.g. 24h, 30m, 7d"
            )))
        }
    };
    Ok(now_ms() - secs * 1000)
}

pub async fn query(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = AuditFilter {
        project_id: None,
        environment: q.environment,
        actor: q.actor,
        action: q.action,
        key: q.key,
        since: q.since.as_deref().map(parse_since).transpose()?,
        until: q.until,
        before_seq: q.before,
        limit: q.limit.unwrap_or(50),
    };
    let page = state
        .service
        .audit_events(&ctx, filter, q.project.as_deref())
        .await?;
    let next = page.next_before;
    let events: Vec<Value> = page
        .rows
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            v["timeIso"] = json!(iso(r.event.time));
            v
        })
        .collect();
    Ok(Json(json!({ "events": events, "nextBefore": next })))
}

pub async fn verify(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(match state.service.verify_audit(&ctx).await? {
        Ok(n) => json!({ "ok": true, "events": n }),
        Err(b) => json!({ "ok": false, "brokenAt": b }),
    }))
}
