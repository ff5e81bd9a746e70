//! Opening a connection to the database file and migrating its schema.

use super::*;

/// Applied in order; `PRAGMA user_version` records how many ran.
pub(crate) const MIGRATIONS: [&str; 14] = [
    include_str!("../../../server/migrations/sqlite/0001_init.sql"),
    include_str!("../../../server/migrations/sqlite/0002_identity.sql"),
    include_str!("../../../server/migrations/sqlite/0003_imports.sql"),
    include_str!("../../../server/migrations/sqlite/0004_audit_bursts.sql"),
    include_str!("../../../server/migrations/sqlite/0005_offboarding.sql"),
    include_str!("../../../server/migrations/sqlite/0006_audit_keyed.sql"),
    include_str!("../../../server/migrations/sqlite/0007_audit_streams.sql"),
    include_str!("../../../server/migrations/sqlite/0008_identity_auth.sql"),
    include_str!("../../../server/migrations/sqlite/0009_rotations.sql"),
    include_str!("../../../server/migrations/sqlite/0010_dynamic_secrets.sql"),
    include_str!("../../../server/migrations/sqlite/0011_webhooks.sql"),
    include_str!("../../../server/migrations/sqlite/0012_kms_keys.sql"),
    include_str!("../../../server/migrations/sqlite/0013_rekey.sql"),
    include_str!("../../../server/migrations/sqlite/0014_project_settings.sql"),
];

pub(super) fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Room for every statement a connection runs (the default 16 made the
    // writer re-parse its hot statements).
    conn.set_prepared_statement_cache_capacity(256);
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;",
    )?;
    Ok(conn)
}

pub(super) fn migrate(conn: &Connection) -> StoreResult<()> {
    let applied: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(backend)? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {}; COMMIT;",
            i + 1
        ))
        .map_err(|e| StoreError::Backend(format!("migration {} failed: {e}", i + 1)))?;
    }
    Ok(())
}
