//! Rows of a new project: the project, its environments, its first data
//! key and its owner's membership, inside the caller's savepoint.

use super::*;

pub(super) fn insert_project(
    conn: &Connection,
    head: &mut ChainHead,
    data: &NewProject,
) -> StoreResult<()> {
    let p = &data.project;
    conn.execute(
        "INSERT INTO projects (id, slug, name, max_versions, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![p.id, p.slug, p.name, p.max_versions, p.created_at],
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
