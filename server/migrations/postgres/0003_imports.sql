-- hush schema v3 (PostgreSQL). Same as migrations/sqlite/0003_imports.sql:
-- secret imports, personal overrides, the client kind of audit events.
ALTER TABLE audit_events ADD COLUMN client TEXT;
CREATE TABLE secret_imports (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    env_id TEXT NOT NULL REFERENCES environments(id),
    path TEXT NOT NULL,
    import_env_id TEXT NOT NULL REFERENCES environments(id),
    import_path TEXT NOT NULL,
    position BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (env_id, path, import_env_id, import_path)
);
CREATE TABLE personal_secrets (
    id TEXT PRIMARY KEY,
    secret_id TEXT NOT NULL REFERENCES secrets(id),
    owner_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    key_id BIGINT NOT NULL,
    value_ct BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (secret_id, owner_id)
);
