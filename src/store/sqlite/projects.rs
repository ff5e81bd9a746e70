//! Rows of a new project: the project, its environments, its first data
//! key and its owner's membership, inside the caller's savepoint; and the
//! changes a project admin makes to them later.

use super::*;

pub(super) fn insert_project(
    conn: &Connection,
    head: &mut ChainHead,
    data: &NewProject,
) -> StoreResult<()> {
    let p = &data.project;
    conn.execute(
        "INSERT INTO projects (id, slug, name, max_versions, created_at, recovery_window_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![p.id, p.slug, p.name, p.max_versions, p.created_at, p.recovery_window_ms],
    )
    .map_err(|e| map_unique(e, format!("project {:?}", p.slug)))?;
    for env in &data.environments {
        insert_env(conn, env)?;
    }
    insert_data_key(conn, &data.data_key)?;
    conn.execute(
        "INSERT INTO memberships (project_id, subject_id, role) VALUES (?1, ?2, ?3)",
        params![p.id, data.owner.0, data.owner.1],
    )
    .map_err(backend)?;
    insert_audit(conn, head, &data.audit)
}

pub(super) fn insert_env(conn: &Connection, env: &EnvRow) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO environments (id, project_id, slug, name, protected, position, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            env.id,
            env.project_id,
            env.slug,
            env.name,
            env.protected,
            env.position,
            env.created_at
        ],
    )
    .map_err(|e| map_unique(e, format!("environment {:?}", env.slug)))?;
    Ok(())
}

pub(super) fn insert_data_key(conn: &Connection, key: &DataKeyRow) -> StoreResult<()> {
    super::rekey::check_generation(conn, key)?;
    conn.execute(
        "INSERT INTO data_keys (project_id, key_id, wrapped, enc_count, created_at, generation) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![key.project_id, key.key_id, key.wrapped, key.enc_count, key.created_at, key.generation],
    )
    .map_err(|e| map_unique(e, "data key".into()))?;
    Ok(())
}

pub(super) fn update_project_settings(
    conn: &Connection,
    project_id: &str,
    change: &ProjectSettingsChange,
) -> StoreResult<()> {
    let n = conn
        .execute(
            "UPDATE projects SET max_versions = COALESCE(?2, max_versions),
                 recovery_window_ms = CASE WHEN ?3 THEN ?4 ELSE recovery_window_ms END
             WHERE id = ?1",
            params![
                project_id,
                change.max_versions,
                change.recovery_window_ms.is_some(),
                change.recovery_window_ms.flatten()
            ],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound("project"));
    }
    Ok(())
}

pub(super) fn rename_environment(conn: &Connection, env_id: &str, name: &str) -> StoreResult<()> {
    let n = conn
        .execute(
            "UPDATE environments SET name = ?2 WHERE id = ?1",
            params![env_id, name],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound("environment"));
    }
    Ok(())
}
