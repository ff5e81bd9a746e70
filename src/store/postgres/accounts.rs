//! Account lifecycle on PostgreSQL: disabling, deleting and demoting users,
//! passwords and their one-time tokens, deleting identities. Each function
//! runs inside the caller's transaction; the caller appends the audit event
//! and commits.

use super::connect::LOCK_USERS;
use super::rows::{user, USER_COLS};
use super::{exec_one, first, insert_audit, tx_exec, tx_query};
use crate::audit::AuditKey;
use crate::store::*;
use deadpool_postgres::Transaction;

/// Revokes a user's live sessions, except `keep`.
async fn revoke_sessions(
    tx: &Transaction<'_>,
    user_id: &str,
    keep: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    tx_exec(
        tx,
        "UPDATE tokens SET revoked_at = $3 WHERE subject_id = $1 AND kind = 'session'
         AND revoked_at IS NULL AND id IS DISTINCT FROM $2",
        &[&user_id, &keep, &now],
    )
    .await?;
    Ok(())
}

pub(super) async fn redeem_password_token(
    tx: &Transaction<'_>,
    key: &AuditKey,
    kind: &'static str,
    token_hash: &[u8],
    password_hash: &str,
    now: i64,
    mut audit: AuditEvent,
) -> StoreResult<UserRow> {
    // The conditional update is the one-time check: a second redemption
    // waits for the first and then matches no row.
    let rows = tx_query(
        tx,
        "UPDATE invites SET used_at = $2
         WHERE token_hash = $1 AND kind = $3 AND used_at IS NULL AND expires_at > $2
         RETURNING user_id",
        &[&token_hash, &now, &kind],
    )
    .await?;
    let user_id: String =
        first(rows, |r| r.try_get(0))?.ok_or(StoreError::NotFound("valid one-time token"))?;
    let rows = tx_query(
        tx,
        &format!("UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING {USER_COLS}"),
        &[&user_id, &password_hash],
    )
    .await?;
    let u = first(rows, user)?.ok_or(StoreError::NotFound("user"))?;
    if kind == PASSWORD_RESET {
        revoke_sessions(tx, &u.id, None, now).await?;
    }
    audit.actor_id = u.id.clone();
    audit.actor_name = u.email.clone();
    insert_audit(tx, key, &audit).await?;
    Ok(u)
}

pub(super) async fn create_password_reset(
    tx: &Transaction<'_>,
    user_id: &str,
    token_hash: &[u8],
    expires_at: i64,
    now: i64,
) -> StoreResult<()> {
    tx_exec(
        tx,
        "UPDATE invites SET used_at = $2 WHERE user_id = $1 AND kind = $3 AND used_at IS NULL",
        &[&user_id, &now, &PASSWORD_RESET],
    )
    .await?;
    tx_exec(
        tx,
        "INSERT INTO invites (token_hash, user_id, expires_at, kind) VALUES ($1, $2, $3, $4)",
        &[&token_hash, &user_id, &expires_at, &PASSWORD_RESET],
    )
    .await?;
    Ok(())
}

pub(super) async fn set_password(
    tx: &Transaction<'_>,
    user_id: &str,
    password_hash: &str,
    keep_token: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    exec_one(
        tx,
        "UPDATE users SET password_hash = $2 WHERE id = $1",
        &[&user_id, &password_hash],
        "user",
    )
    .await?;
    revoke_sessions(tx, user_id, keep_token, now).await
}

/// Applies `change`; returns the user as it was. Every change takes
/// `LOCK_USERS` first, so the count of other enabled admins cannot change
/// between the check and the update (two admins demoting each other on two
/// replicas: the second waits, then counts none).
pub(super) async fn change_user(
    tx: &Transaction<'_>,
    user_id: &str,
    change: UserChange,
    now: i64,
) -> StoreResult<UserRow> {
    tx_exec(tx, "SELECT pg_advisory_xact_lock($1)", &[&LOCK_USERS]).await?;
    let rows = tx_query(
        tx,
        &format!("SELECT {USER_COLS} FROM users WHERE id = $1"),
        &[&user_id],
    )
    .await?;
    let before = first(rows, user)?.ok_or(StoreError::NotFound("user"))?;
    if before.enabled_admin() && change.removes_admin() {
        let others: i64 = tx_query(
            tx,
            "SELECT COUNT(*) FROM users WHERE is_admin AND disabled_at IS NULL AND id <> $1",
            &[&user_id],
        )
        .await?
        .first()
        .ok_or_else(|| StoreError::Backend("count returned no row".into()))?
        .try_get(0)
        .map_err(super::backend)?;
        if others == 0 {
            return Err(StoreError::LastAdmin);
        }
    }
    match change {
        UserChange::Disable => {
            tx_exec(
                tx,
                "UPDATE users SET disabled_at = COALESCE(disabled_at, $2) WHERE id = $1",
                &[&user_id, &now],
            )
            .await?;
        }
        UserChange::Enable => {
            tx_exec(
                tx,
                "UPDATE users SET disabled_at = NULL WHERE id = $1",
                &[&user_id],
            )
            .await?;
        }
        UserChange::SetAdmin(admin) => {
            tx_exec(
                tx,
                "UPDATE users SET is_admin = $2 WHERE id = $1",
                &[&user_id, &admin],
            )
            .await?;
        }
        UserChange::Delete => {
            for sql in [
                "DELETE FROM memberships WHERE subject_id = $1",
                "DELETE FROM personal_secrets WHERE owner_id = $1",
                "DELETE FROM invites WHERE user_id = $1",
                "DELETE FROM users WHERE id = $1",
            ] {
                tx_exec(tx, sql, &[&user_id]).await?;
            }
        }
    }
    if matches!(change, UserChange::Disable | UserChange::Delete) {
        revoke_sessions(tx, user_id, None, now).await?;
    }
    Ok(before)
}

pub(super) async fn delete_identity(
    tx: &Transaction<'_>,
    identity_id: &str,
    now: i64,
) -> StoreResult<()> {
    tx_exec(
        tx,
        "UPDATE tokens SET revoked_at = $2
         WHERE subject_id = $1 AND kind = 'identity' AND revoked_at IS NULL",
        &[&identity_id, &now],
    )
    .await?;
    for sql in [
        "DELETE FROM memberships WHERE subject_id = $1",
        "DELETE FROM identity_secrets WHERE identity_id = $1",
        "DELETE FROM identity_auth_methods WHERE identity_id = $1",
    ] {
        tx_exec(tx, sql, &[&identity_id]).await?;
    }
    exec_one(
        tx,
        "DELETE FROM identities WHERE id = $1",
        &[&identity_id],
        "identity",
    )
    .await?;
    Ok(())
}
