//! Deleting a folder with everything below it, inside the caller's
//! savepoint.

use super::*;

/// Removes folder `del.path` and every folder row below it; live secrets
/// under it are soft-deleted with `del.force`, else `NotEmpty`. Returns the
/// keys (`path/KEY`) soft-deleted.
pub(super) fn delete_folder(c: &Connection, del: &DeleteFolder) -> StoreResult<Vec<String>> {
    let prefix = format!("{}/", del.path);
    let live: Vec<(String, String, String)> = {
        let mut stmt = c
            .prepare_cached(
                "SELECT id, path, key FROM secrets WHERE env_id = ?1 AND deleted_at IS NULL
                 AND (path = ?2 OR substr(path, 1, length(?3)) = ?3) ORDER BY path, key",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![del.env_id, del.path, prefix], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(backend)?;
        rows
    };
    if !live.is_empty() && !del.force {
        return Err(StoreError::NotEmpty(format!(
            "folder {} is not empty: it holds {} secret(s)",
            del.path,
            live.len()
        )));
    }
    let folders: Vec<String> = {
        let mut stmt = c
            .prepare_cached(
                "SELECT path FROM folders WHERE env_id = ?1
                 AND (path = ?2 OR substr(path, 1, length(?3)) = ?3)",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![del.env_id, del.path, prefix], |r| r.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(backend)?;
        rows
    };
    let touched = live.iter().map(|(_, path, _)| path).chain(&folders);
    if let Some(refusal) = touched.filter_map(|p| del.unchecked(p)).next() {
        return Err(refusal);
    }
    for (id, _, _) in &live {
        c.execute(
            "UPDATE secrets SET deleted_at = ?2, purge_after = ?3 WHERE id = ?1",
            params![id, del.now, del.purge_after],
        )
        .map_err(backend)?;
    }
    c.execute(
        "DELETE FROM folders WHERE env_id = ?1 AND (path = ?2 OR substr(path, 1, length(?3)) = ?3)",
        params![del.env_id, del.path, prefix],
    )
    .map_err(backend)?;
    Ok(live
        .iter()
        .map(|(_, path, key)| format!("{path}/{key}"))
        .collect())
}
