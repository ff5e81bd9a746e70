-- hush schema v10 (SQLite): dynamic secrets and their leases (issue 24).
-- One definition per name in a folder: the database (`provider`), its
-- connection and statements (`config`, JSON, no password) and the admin
-- password sealed under the project's data key `key_id` (`secret_ct`).
-- TTLs are in seconds.
CREATE TABLE IF NOT EXISTS dynamic_secrets (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    env_id TEXT NOT NULL,
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    provider TEXT NOT NULL,
    config TEXT NOT NULL,
    key_id INTEGER NOT NULL,
    secret_ct BLOB NOT NULL,
    default_ttl INTEGER NOT NULL,
    max_ttl INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (env_id, path, name)
);
CREATE INDEX IF NOT EXISTS dynamic_secrets_project ON dynamic_secrets (project_id);
-- One lease per database user made; the row is deleted once the user is
-- revoked. `status` is active, revoking or revoke-failed; a replica
-- revoking it holds the claim (`claim_owner` until `claim_until`).
CREATE TABLE IF NOT EXISTS dynamic_leases (
    id TEXT PRIMARY KEY,
    dynamic_id TEXT NOT NULL REFERENCES dynamic_secrets (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    username TEXT NOT NULL,
    expire_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    status_details TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    claim_owner TEXT,
    claim_until INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dynamic_leases_definition ON dynamic_leases (dynamic_id);
CREATE INDEX IF NOT EXISTS dynamic_leases_expiry ON dynamic_leases (expire_at);
