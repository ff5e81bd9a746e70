-- hush schema v3 (SQLite): secret imports, personal overrides, the client kind
-- of audit events.
ALTER TABLE audit_events ADD COLUMN client TEXT;
CREATE TABLE IF NOT EXISTS secret_imports (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    env_id TEXT NOT NULL REFERENCES environments(id),
    path TEXT NOT NULL,
    import_env_id TEXT NOT NULL REFERENCES environments(id),
    import_path TEXT NOT NULL,
    position INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (env_id, path, import_env_id, import_path)
);
CREATE TABLE IF NOT EXISTS personal_secrets (
    id TEXT PRIMARY KEY,
    secret_id TEXT NOT NULL REFERENCES secrets(id),
    owner_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    value_ct BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (secret_id, owner_id)
);
