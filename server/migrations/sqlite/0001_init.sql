-- hush schema v1 (SQLite). Secret content is ciphertext only (see src/crypto.rs).
CREATE TABLE IF NOT EXISTS meta (
    k TEXT PRIMARY KEY,
    v BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    name TEXT NOT NULL,
    project_id TEXT,
    scope TEXT NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    max_versions INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS data_keys (
    project_id TEXT NOT NULL REFERENCES projects(id),
    key_id INTEGER NOT NULL,
    wrapped BLOB NOT NULL,
    enc_count INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, key_id)
);
CREATE TABLE IF NOT EXISTS memberships (
    project_id TEXT NOT NULL REFERENCES projects(id),
    subject_id TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (project_id, subject_id)
);
CREATE TABLE IF NOT EXISTS environments (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    protected INTEGER NOT NULL DEFAULT 0,
    position INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (project_id, slug)
);
CREATE TABLE IF NOT EXISTS folders (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    env_id TEXT NOT NULL REFERENCES environments(id),
    path TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (env_id, path)
);
CREATE TABLE IF NOT EXISTS secrets (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    env_id TEXT NOT NULL REFERENCES environments(id),
    path TEXT NOT NULL,
    key TEXT NOT NULL,
    current_version INTEGER NOT NULL,
    deleted_at INTEGER,
    purge_after INTEGER,
    created_at INTEGER NOT NULL,
    UNIQUE (env_id, path, key)
);
CREATE INDEX IF NOT EXISTS secrets_purge ON secrets (purge_after) WHERE deleted_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS secret_versions (
    secret_id TEXT NOT NULL REFERENCES secrets(id),
    version INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    value_ct BLOB NOT NULL,
    comment_ct BLOB NOT NULL,
    tags_ct BLOB NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (secret_id, version)
);
CREATE TABLE IF NOT EXISTS audit_events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    time INTEGER NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    project_id TEXT,
    environment TEXT,
    path TEXT,
    keys TEXT NOT NULL,
    from_version INTEGER,
    to_version INTEGER,
    client_ip TEXT,
    user_agent TEXT,
    result TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_time ON audit_events (time);
