-- hush schema (SQLite): KMS keys, encryption as a service (issue 25). Same
-- as migrations/postgres/0011_kms_keys.sql.
-- One row per key of a project. The key itself (256 random bits) is never
-- stored in the clear: `sealed` is it under the project's data key `dek_id`
-- (AES-256-GCM, bound to project, key id and data key id), so a rotation of
-- the root key re-wraps data keys and leaves these rows alone.
CREATE TABLE IF NOT EXISTS kms_keys (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL,
    dek_id INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS kms_keys_project_name ON kms_keys (project_id, name);
