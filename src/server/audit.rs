//! Audit log queries and chain verification.

use super::error::ApiError;
use super::extract::{ApiQuery, Auth};
use super::AppState;
use crate::api::audit::{
    AuditEntry, AuditPage, AuditQuery, ChainHead, ChainStart, CheckpointResult, Quarantined,
    Verification, VerifyQuery,
};
use crate::audit_checkpoint::{Checkpoint, Pinned};
use crate::service::{iso, now_ms};
use crate::store::{AuditCursor, AuditFilter, AuditRow};
use axum::extract::State;
use axum::Json;

/// An event of the chain as the API shows it.
fn entry(r: &AuditRow) -> AuditEntry {
    let e = &r.event;
    AuditEntry {
        seq: r.seq,
        id: e.id.clone(),
        time: e.time,
        time_iso: iso(e.time),
        actor_type: e.actor_type.clone(),
        actor_id: e.actor_id.clone(),
        actor_name: e.actor_name.clone(),
        action: e.action.clone(),
        project_id: e.project_id.clone(),
        environment: e.environment.clone(),
        path: e.path.clone(),
        keys: e.keys.clone(),
        from_version: e.from_version,
        to_version: e.to_version,
        client_ip: e.client_ip.clone(),
        user_agent: e.user_agent.clone(),
        result: e.result.clone(),
        client: e.client.clone(),
        prev_hash: hex::encode(&r.prev_hash),
        hash: hex::encode(&r.hash),
    }
}

/// `24h`, `30m`, `7d`, `90s` back from now, or absolute Unix milliseconds.
/// Anything else, including a duration too large to subtract from now, is a
/// 422 (the unit is the last character, which need not be ASCII).
fn parse_since(text: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let invalid = || ApiError::validation(format!("invalid since {text:?}: use e.g. 24h, 30m, 7d"));
    // Split off the last character, not the last byte: the text is the
    // caller's, and a multi-byte character there must not panic.
    let mut chars = text.chars();
    let unit = chars.next_back().ok_or_else(invalid)?;
    let n: i64 = chars.as_str().parse().map_err(|_| invalid())?;
    let secs_per_unit = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => return Err(invalid()),
    };
    // Checked: `since=9999999999999999d` must be a 422, not an overflow.
    let back_ms = n
        .checked_mul(secs_per_unit * 1000)
        .filter(|ms| *ms >= 0)
        .ok_or_else(invalid)?;
    Ok(now_ms().saturating_sub(back_ms))
}

pub async fn query(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let filter = AuditFilter {
        project_id: None,
        environment: q.environment,
        actor: q.actor,
        action: q.action,
        key: q.key,
        since: q.since.as_deref().map(parse_since).transpose()?,
        until: q.until,
        before: q
            .before
            .as_deref()
            .map(|b| {
                AuditCursor::parse(b).ok_or_else(|| {
                    ApiError::validation(format!(
                        "invalid before {b:?}: pass a page's nextBefore as it is"
                    ))
                })
            })
            .transpose()?,
        after_seq: q.after,
        limit: q.limit.unwrap_or(50),
    };
    let page = state
        .service
        .audit_events(&ctx, filter, q.project.as_deref())
        .await?;
    let next = page.next_before.map(AuditCursor::to_text);
    Ok(Json(AuditPage {
        events: page.rows.iter().map(entry).collect(),
        next_before: next,
        seen_through: page.seen_through,
    }))
}

pub async fn verify(
    State(state): State<AppState>,
    Auth(ctx): Auth,
    ApiQuery(q): ApiQuery<VerifyQuery>,
) -> Result<Json<Verification>, ApiError> {
    let pinned = match (q.checkpoint_seq, q.checkpoint_head.as_deref()) {
        (None, None) => None,
        (Some(seq), Some(head)) => Some(Pinned {
            seq,
            head: hex::decode(head)
                .ok()
                .filter(|h| h.len() == 32)
                .ok_or_else(|| ApiError::validation("checkpointHead must be 64 hex digits"))?,
            time: 0,
        }),
        _ => {
            return Err(ApiError::validation(
                "pass checkpointSeq and checkpointHead together",
            ))
        }
    };
    let checked_against = pinned.as_ref().map(|p| p.seq);
    let found = state.service.verify_audit(&ctx, pinned).await?;
    let quarantined = found
        .quarantined
        .iter()
        .map(|r| Quarantined {
            seq: r.seq,
            time: r.event.time,
            time_iso: iso(r.event.time),
            what: r.event.keys.clone(),
        })
        .collect();
    let head = found.head.as_ref().map(|r| ChainHead {
        seq: r.seq,
        hash: hex::encode(&r.hash),
    });
    let checkpoint = checked_against.map(|seq| CheckpointResult {
        seq,
        ok: found.against_checkpoint.is_none(),
        archived: found.checkpoint_archived,
        broken_at: found.against_checkpoint.clone(),
    });
    let start = found.start.as_ref().map(|(seq, hash)| ChainStart {
        after_seq: *seq,
        hash: hex::encode(hash),
    });
    Ok(Json(Verification {
        ok: found.broken.is_none() && found.against_checkpoint.is_none(),
        events: found.events,
        broken_at: found.broken.or(found.against_checkpoint.clone()),
        quarantined,
        head,
        start,
        checkpoint,
    }))
}

/// A signed checkpoint of the audit chain's end (server admins).
pub async fn checkpoint(
    State(state): State<AppState>,
    Auth(ctx): Auth,
) -> Result<Json<Checkpoint>, ApiError> {
    Ok(Json(state.service.audit_checkpoint(&ctx).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_durations_and_milliseconds() {
        assert_eq!(parse_since("1700000000000").ok(), Some(1_700_000_000_000));
        let day_ago = parse_since("1d").expect("1d");
        let expected = now_ms() - 86_400_000;
        assert!((expected - 1000..=expected).contains(&day_ago));
    }

    /// Issue 19 (also a seed of the `requests` fuzz target): a multi-byte last
    /// character panicked (split inside it), and a huge count overflowed.
    #[test]
    fn since_refuses_what_it_cannot_read_without_panicking() {
        for bad in [
            "5é",
            "é",
            "",
            "h",
            "-5h",
            "5\u{1F600}",
            "5x",
            "9999999999999999d",
            "9223372036854775807d",
            "-9223372036854775807d",
            "9223372036854776s",
            "-9223372036854775s",
        ] {
            assert!(parse_since(bad).is_err(), "{bad:?}");
        }
    }
}
