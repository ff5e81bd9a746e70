//! Secrets and their versions: the columns read, one version's write with
//! the shared rules (`store::rules`), and a purge, inside the caller's
//! savepoint.

use super::*;

pub(super) const HEAD_COLS: &str = "s.id, s.project_id, s.env_id, s.path, s.key, s.current_version, s.deleted_at, s.purge_after, s.created_at";
pub(super) const VERSION_COLS: &str =
    "v.version, v.key_id, v.value_ct, v.comment_ct, v.tags_ct, v.action, v.actor, v.created_at";

pub(super) fn head_by_id(conn: &Connection, secret_id: &str) -> StoreResult<SecretHead> {
    conn.query_row(
        &format!("SELECT {HEAD_COLS} FROM secrets s WHERE s.id = ?1"),
        params![secret_id],
        head_from_row,
    )
    .optional()
    .map_err(backend)?
    .ok_or(StoreError::NotFound("secret"))
}

pub(super) fn purge_secret(conn: &Connection, secret_id: &str) -> StoreResult<()> {
    // Personal overrides reference the secret (foreign key): they go with it.
    conn.execute(
        "DELETE FROM personal_secrets WHERE secret_id = ?1",
        params![secret_id],
    )
    .map_err(backend)?;
    conn.execute(
        "DELETE FROM secret_versions WHERE secret_id = ?1",
        params![secret_id],
    )
    .map_err(backend)?;
    conn.execute("DELETE FROM secrets WHERE id = ?1", params![secret_id])
        .map_err(backend)?;
    Ok(())
}

/// One `put_version` inside the caller's savepoint.
pub(super) fn put_one(
    c: &Connection,
    head: &mut ChainHead,
    put: &PutVersion,
    audit: &AuditEvent,
) -> StoreResult<i64> {
    let current: Option<(String, i64, Option<i64>)> = c
            .prepare_cached("SELECT id, current_version, deleted_at FROM secrets WHERE env_id = ?1 AND path = ?2 AND key = ?3")
            .and_then(|mut s| s.query_row(params![put.env_id, put.path, put.key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
            .map_err(backend)?;
    let new_version = put.version.version;
    rules::check_put(
        current
            .as_ref()
            .map(|(id, v, d)| (id.as_str(), *v, d.is_some())),
        put,
    )?;
    match current {
        None => {
            c.prepare_cached(
                    "INSERT INTO secrets (id, project_id, env_id, path, key, current_version, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)",
                )
                .and_then(|mut s| s.execute(params![put.secret_id, put.project_id, put.env_id, put.path, put.key, put.now]))
                .map_err(backend)?;
        }
        Some((id, _, _)) => {
            c.prepare_cached(
                    "UPDATE secrets SET current_version = ?2, deleted_at = NULL, purge_after = NULL WHERE id = ?1",
                )
                .and_then(|mut s| s.execute(params![id, new_version]))
                .map_err(backend)?;
        }
    }
    let v = &put.version;
    // The primary key (secret_id, version) is the final guard against two
    // writers allocating the same version.
    c.prepare_cached(
            "INSERT INTO secret_versions (secret_id, version, key_id, value_ct, comment_ct, tags_ct, action, actor, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .and_then(|mut s| s.execute(params![put.secret_id, v.version, v.key_id, v.value_ct, v.comment_ct, v.tags_ct, v.action, v.actor, v.created_at]))
        .map_err(|e| match map_unique(e, String::new()) {
            StoreError::Duplicate(_) => StoreError::Conflict { current: new_version },
            other => other,
        })?;
    c.prepare_cached("DELETE FROM secret_versions WHERE secret_id = ?1 AND version <= ?2")
        .and_then(|mut s| {
            s.execute(params![
                put.secret_id,
                rules::prune_through(new_version, put.max_versions)
            ])
        })
        .map_err(backend)?;
    let count: i64 = c
            .prepare_cached(
                "UPDATE data_keys SET enc_count = enc_count + ?3 WHERE project_id = ?1 AND key_id = ?2 AND retired_at IS NULL RETURNING enc_count",
            )
            .and_then(|mut s| s.query_row(params![put.project_id, v.key_id, rules::encryptions(1)], |r| r.get(0)))
            .map_err(super::rekey::retired_or_backend)?;
    insert_audit(c, head, audit)?;
    Ok(count)
}

/// Moves secret `id` to `new_key`, replaces its versions' ciphertexts with
/// `resealed` and adds `next`, if its version is still the one expected.
/// Returns the data key's encryption count.
pub(super) fn rename_secret(
    c: &Connection,
    id: &str,
    new_key: &str,
    resealed: &[VersionRow],
    next: &PutVersion,
) -> StoreResult<i64> {
    let (stored, deleted): (i64, Option<i64>) = c
        .query_row(
            "SELECT current_version, deleted_at FROM secrets WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(backend)?
        .ok_or(StoreError::NotFound("secret"))?;
    if stored != next.expected_current || deleted.is_some() {
        return Err(StoreError::Conflict {
            current: rules::visible_version(stored, deleted.is_some()),
        });
    }
    c.execute(
        "UPDATE secrets SET key = ?2, current_version = ?3 WHERE id = ?1",
        params![id, new_key, next.version.version],
    )
    .map_err(|e| map_unique(e, format!("secret {new_key:?}")))?;
    for v in resealed {
        let n = c
            .execute(
                "UPDATE secret_versions SET value_ct = ?3, comment_ct = ?4, tags_ct = ?5, key_id = ?6 WHERE secret_id = ?1 AND version = ?2",
                params![id, v.version, v.value_ct, v.comment_ct, v.tags_ct, v.key_id],
            )
            .map_err(backend)?;
        if n != 1 {
            return Err(StoreError::Conflict { current: stored });
        }
    }
    // Personal overrides were sealed for the old name; they do not follow a rename.
    c.execute(
        "DELETE FROM personal_secrets WHERE secret_id = ?1",
        params![id],
    )
    .map_err(backend)?;
    let v = &next.version;
    c.execute(
        "INSERT INTO secret_versions (secret_id, version, key_id, value_ct, comment_ct, tags_ct, action, actor, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![id, v.version, v.key_id, v.value_ct, v.comment_ct, v.tags_ct, v.action, v.actor, v.created_at],
    )
    .map_err(backend)?;
    c.execute(
        "DELETE FROM secret_versions WHERE secret_id = ?1 AND version <= ?2",
        params![id, rules::prune_through(v.version, next.max_versions)],
    )
    .map_err(backend)?;
    let count: i64 = c
        .query_row(
            "UPDATE data_keys SET enc_count = enc_count + ?3 WHERE project_id = ?1 AND key_id = ?2 AND retired_at IS NULL RETURNING enc_count",
            params![next.project_id, v.key_id, rules::encryptions(resealed.len() as i64 + 1)],
            |r| r.get(0),
        )
        .map_err(super::rekey::retired_or_backend)?;
    Ok(count)
}

/// The head row of the secret at `e`/`p`/`k`, deleted or not.
pub(super) fn head(
    c: &Connection,
    e: &str,
    p: &str,
    k: &str,
) -> rusqlite::Result<Option<SecretHead>> {
    c.prepare_cached(&format!(
        "SELECT {HEAD_COLS} FROM secrets s WHERE s.env_id = ?1 AND s.path = ?2 AND s.key = ?3"
    ))?
    .query_row(params![e, p, k], head_from_row)
    .optional()
}

/// Version `version` (else the current one) of the live secret at `e`/`p`/`k`.
pub(super) fn live_version(
    c: &Connection,
    e: &str,
    p: &str,
    k: &str,
    version: Option<i64>,
) -> rusqlite::Result<Option<SecretRow>> {
    c.prepare_cached(&format!(
        "SELECT {HEAD_COLS}, {VERSION_COLS} FROM secrets s JOIN secret_versions v
         ON v.secret_id = s.id AND v.version = COALESCE(?4, s.current_version)
         WHERE s.env_id = ?1 AND s.path = ?2 AND s.key = ?3 AND s.deleted_at IS NULL"
    ))?
    .query_row(params![e, p, k, version], secret_from_row)
    .optional()
}

/// The soft-deleted secrets directly in folder `p` of `e`.
pub(super) fn deleted(c: &Connection, e: &str, p: &str) -> rusqlite::Result<Vec<SecretRow>> {
    query_vec(
        c,
        &format!(
            "SELECT {HEAD_COLS}, {VERSION_COLS} FROM secrets s JOIN secret_versions v
         ON v.secret_id = s.id AND v.version = s.current_version
         WHERE s.env_id = ?1 AND s.path = ?2 AND s.deleted_at IS NOT NULL ORDER BY s.key"
        ),
        params![e, p],
        secret_from_row,
    )
}

/// Every retained version of a secret, oldest first.
pub(super) fn history(c: &Connection, id: &str) -> rusqlite::Result<Vec<VersionRow>> {
    query_vec(
        c,
        &format!(
        "SELECT {VERSION_COLS} FROM secret_versions v WHERE v.secret_id = ?1 ORDER BY v.version"
    ),
        params![id],
        |r| version_from_row(r, 0),
    )
}

/// Creates or replaces a personal override if its version is still
/// `expected_version` (0: none yet).
pub(super) fn put_personal(
    c: &Connection,
    row: &PersonalRow,
    expected_version: i64,
) -> StoreResult<()> {
    let current: Option<i64> = c
        .query_row(
            "SELECT version FROM personal_secrets WHERE secret_id = ?1 AND owner_id = ?2",
            params![row.secret_id, row.owner_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    if current.unwrap_or(0) != expected_version {
        return Err(StoreError::Conflict {
            current: current.unwrap_or(0),
        });
    }
    super::rekey::check_live_key_of_secret(c, &row.secret_id, row.key_id)?;
    c.execute(
        "INSERT INTO personal_secrets (id, secret_id, owner_id, version, key_id, value_ct, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(secret_id, owner_id) DO UPDATE SET version = excluded.version, key_id = excluded.key_id,
           value_ct = excluded.value_ct, updated_at = excluded.updated_at",
        params![row.id, row.secret_id, row.owner_id, row.version, row.key_id, row.value_ct, row.created_at, row.updated_at],
    )
    .map_err(backend)?;
    Ok(())
}

/// The soft-deleted secrets whose recovery window ended by `now`.
pub(super) fn expired(c: &Connection, now: i64) -> StoreResult<Vec<SecretHead>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {HEAD_COLS} FROM secrets s WHERE s.deleted_at IS NOT NULL AND s.purge_after <= ?1"
        ))
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![now], head_from_row)
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(backend)?;
    Ok(rows)
}
