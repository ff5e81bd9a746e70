//! `GET /api/v1/hush/changes`: the change feed (long-poll) that
//! `hush run --watch` waits on instead of re-fetching every interval.
//!
//! `?workspaceId=P` answers the current cursor; `?workspaceId=P&after=N&wait=S`
//! answers the changes after N as soon as there are any, or an empty list
//! after S seconds (at most `MAX_WAIT_SECS`).

use super::error::ApiError;
use super::extract::{ApiQuery, Auth};
use super::wire::ResolveScope;
use super::AppState;
use crate::api::secrets::{ChangePage, ChangesQuery};
use axum::extract::State;
use axum::Json;
use std::time::Duration;

/// Below the idle timeouts of common proxies and load balancers (60 s).
pub const MAX_WAIT_SECS: u64 = 55;

fn number(name: &str, value: &Option<String>) -> Result<Option<u64>, ApiError> {
    match value.as_deref().filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
            ApiError::validation(format!("{name} must be a non-negative integer, got {v:?}"))
        }),
    }
}

pub async fn changes(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<ChangesQuery>,
) -> Result<Json<ChangePage>, ApiError> {
    let project = q.scope.project_or_400()?;
    let after = number("after", &q.after)?.map(|n| n.min(i64::MAX as u64) as i64);
    let wait = number("wait", &q.wait)?.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        return Err(ApiError::validation(format!(
            "wait is at most {MAX_WAIT_SECS} seconds, got {wait}"
        )));
    }
    let mut stopping = state.stopping.subscribe();
    let stop = async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    let page = state
        .service
        .changes(&ctx, project, after, Duration::from_secs(wait), stop)
        .await?;
    Ok(Json(page))
}
