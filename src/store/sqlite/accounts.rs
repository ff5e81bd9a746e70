//! Users, tokens and machine identities: their columns, the rows they are
//! inserted as, and the account changes that run inside the caller's
//! savepoint (the caller appends the audit event).

use super::*;

pub(super) const TOKEN_COLS: &str =
    "id, token_hash, kind, subject_id, name, project_id, scope, expires_at, revoked_at, created_at, uses, uses_limit, max_expires_at, client_secret_id";

pub(super) const IDENTITY_COLS: &str =
    "id, name, access_token_ttl, access_token_max_ttl, num_uses_limit, trusted_ips, created_by, created_at";

pub(super) const IDENTITY_SECRET_COLS: &str =
    "id, identity_id, secret_hash, prefix, created_at, revoked_at";

pub(super) fn insert_identity_secret(conn: &Connection, s: &IdentitySecretRow) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO identity_secrets (id, identity_id, secret_hash, prefix, created_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![s.id, s.identity_id, s.secret_hash, s.prefix, s.created_at, s.revoked_at],
    )
    .map_err(backend)?;
    Ok(())
}

/// Adds a member, or replaces their role and overrides.
pub(super) fn upsert_membership(conn: &Connection, m: &MembershipRow) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO memberships (project_id, subject_id, role, overrides) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(project_id, subject_id) DO UPDATE SET role = excluded.role, overrides = excluded.overrides",
        params![m.project_id, m.subject_id, m.role, m.overrides],
    )
    .map_err(backend)?;
    Ok(())
}

/// `NotFound("project")` unless project `id` exists (read in the caller's
/// transaction, so it cannot vanish before the caller commits).
pub(super) fn require_project(conn: &Connection, id: &str) -> StoreResult<()> {
    let found: Option<i64> = conn
        .query_row("SELECT 1 FROM projects WHERE id = ?1", params![id], |r| {
            r.get(0)
        })
        .optional()
        .map_err(backend)?;
    found.map(|_| ()).ok_or(StoreError::NotFound("project"))
}

pub(super) fn insert_user_row(conn: &Connection, u: &UserRow) -> StoreResult<()> {
    conn.execute(
        &format!("INSERT INTO users ({USER_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![
            u.id,
            u.email,
            u.password_hash,
            u.is_admin,
            u.created_at,
            u.disabled_at
        ],
    )
    .map_err(|e| map_unique(e, format!("user {:?}", u.email)))?;
    Ok(())
}

pub(super) fn insert_token_row(conn: &Connection, t: &TokenRow) -> StoreResult<()> {
    conn.execute(
        &format!(
            "INSERT INTO tokens ({TOKEN_COLS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        ),
        params![
            t.id,
            t.token_hash,
            t.kind,
            t.subject_id,
            t.name,
            t.project_id,
            t.scope,
            t.expires_at,
            t.revoked_at,
            t.created_at,
            t.uses,
            t.uses_limit,
            t.max_expires_at,
            t.client_secret_id
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) const USER_COLS: &str = "id, email, password_hash, is_admin, created_at, disabled_at";

/// Revokes a user's live sessions, except `keep`.
pub(super) fn revoke_sessions(
    c: &Connection,
    user_id: &str,
    keep: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    c.execute(
        "UPDATE tokens SET revoked_at = ?3 WHERE subject_id = ?1 AND kind = 'session' AND revoked_at IS NULL AND id IS NOT ?2",
        params![user_id, keep, now],
    )
    .map_err(backend)?;
    Ok(())
}

/// Sets the password of the user whose unused, unexpired one-time token of
/// `kind` this is, and spends the token; a reset also revokes the user's
/// sessions.
pub(super) fn redeem_password_token(
    c: &Connection,
    kind: &'static str,
    token_hash: &[u8],
    password_hash: &str,
    now: i64,
) -> StoreResult<UserRow> {
    let n = c
        .execute(
            "UPDATE invites SET used_at = ?2 WHERE token_hash = ?1 AND kind = ?3 AND used_at IS NULL AND expires_at > ?2",
            params![token_hash, now, kind],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound("valid one-time token"));
    }
    let user_id: String = c
        .query_row(
            "SELECT user_id FROM invites WHERE token_hash = ?1",
            params![token_hash],
            |r| r.get(0),
        )
        .map_err(backend)?;
    c.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![user_id, password_hash],
    )
    .map_err(backend)?;
    if kind == PASSWORD_RESET {
        revoke_sessions(c, &user_id, None, now)?;
    }
    let user = c
        .query_row(
            &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
            params![user_id],
            user_from_row,
        )
        .map_err(backend)?;
    Ok(user)
}

/// A new one-time reset for `user_id`; its earlier unused ones are spent.
pub(super) fn create_password_reset(
    c: &Connection,
    user_id: &str,
    token_hash: &[u8],
    expires_at: i64,
    now: i64,
) -> StoreResult<()> {
    c.execute(
        "UPDATE invites SET used_at = ?2 WHERE user_id = ?1 AND kind = ?3 AND used_at IS NULL",
        params![user_id, now, PASSWORD_RESET],
    )
    .map_err(backend)?;
    c.execute(
        "INSERT INTO invites (token_hash, user_id, expires_at, kind) VALUES (?1, ?2, ?3, ?4)",
        params![token_hash, user_id, expires_at, PASSWORD_RESET],
    )
    .map_err(backend)?;
    Ok(())
}

/// Replaces the password hash and revokes the sessions but `keep_token`.
pub(super) fn set_password(
    c: &Connection,
    user_id: &str,
    password_hash: &str,
    keep_token: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            params![user_id, password_hash],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound("user"));
    }
    revoke_sessions(c, user_id, keep_token, now)
}

/// Applies `change` to the user and returns the user as it was; refuses
/// (`LastAdmin`) to leave no enabled server admin. The one writer runs it
/// alone, so the admin count it reads cannot change before the update.
pub(super) fn change_user(
    c: &Connection,
    user_id: &str,
    change: UserChange,
    now: i64,
) -> StoreResult<UserRow> {
    let user = c
        .query_row(
            &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
            params![user_id],
            user_from_row,
        )
        .optional()
        .map_err(backend)?
        .ok_or(StoreError::NotFound("user"))?;
    if user.enabled_admin() && change.removes_admin() {
        let others: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM users WHERE is_admin AND disabled_at IS NULL AND id <> ?1",
                params![user_id],
                |r| r.get(0),
            )
            .map_err(backend)?;
        if others == 0 {
            return Err(StoreError::LastAdmin);
        }
    }
    match change {
        UserChange::Disable => c.execute(
            "UPDATE users SET disabled_at = COALESCE(disabled_at, ?2) WHERE id = ?1",
            params![user_id, now],
        ),
        UserChange::Enable => c.execute(
            "UPDATE users SET disabled_at = NULL WHERE id = ?1",
            params![user_id],
        ),
        UserChange::SetAdmin(admin) => c.execute(
            "UPDATE users SET is_admin = ?2 WHERE id = ?1",
            params![user_id, admin],
        ),
        UserChange::Delete => {
            for sql in [
                "DELETE FROM memberships WHERE subject_id = ?1",
                "DELETE FROM personal_secrets WHERE owner_id = ?1",
                "DELETE FROM invites WHERE user_id = ?1",
                "DELETE FROM users WHERE id = ?1",
            ] {
                c.execute(sql, params![user_id]).map_err(backend)?;
            }
            Ok(1)
        }
    }
    .map_err(backend)?;
    if matches!(change, UserChange::Disable | UserChange::Delete) {
        revoke_sessions(c, user_id, None, now)?;
    }
    Ok(user)
}

/// Revokes a client secret and the access tokens issued with it.
pub(super) fn revoke_identity_secret(
    c: &Connection,
    i: &str,
    s: &str,
    now: i64,
) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE identity_secrets SET revoked_at = ?3 WHERE identity_id = ?1 AND id = ?2 AND revoked_at IS NULL",
            params![i, s, now],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound("client secret"));
    }
    c.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE client_secret_id = ?1 AND revoked_at IS NULL",
        params![s, now],
    )
    .map_err(backend)?;
    Ok(())
}

/// Revokes an identity's access tokens and removes it, its memberships and
/// its client secrets.
pub(super) fn delete_identity(c: &Connection, id: &str, now: i64) -> StoreResult<()> {
    c.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE subject_id = ?1 AND kind = 'identity' AND revoked_at IS NULL",
        params![id, now],
    )
    .map_err(backend)?;
    for sql in [
        "DELETE FROM memberships WHERE subject_id = ?1",
        "DELETE FROM identity_secrets WHERE identity_id = ?1",
        "DELETE FROM identity_auth_methods WHERE identity_id = ?1",
    ] {
        c.execute(sql, params![id]).map_err(backend)?;
    }
    let n = c
        .execute("DELETE FROM identities WHERE id = ?1", params![id])
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound("identity"));
    }
    Ok(())
}
