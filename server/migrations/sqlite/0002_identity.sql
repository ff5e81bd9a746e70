-- hush schema v2 (SQLite): machine identities, invites, token limits,
-- membership overrides, login-failure tracking for brute-force protection.
ALTER TABLE tokens ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN uses_limit INTEGER;
ALTER TABLE tokens ADD COLUMN max_expires_at INTEGER;
ALTER TABLE memberships ADD COLUMN overrides TEXT NOT NULL DEFAULT '[]';
CREATE INDEX IF NOT EXISTS tokens_subject ON tokens (subject_id);
CREATE TABLE IF NOT EXISTS identities (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    access_token_ttl INTEGER NOT NULL,
    access_token_max_ttl INTEGER NOT NULL,
    num_uses_limit INTEGER NOT NULL DEFAULT 0,
    trusted_ips TEXT NOT NULL DEFAULT '[]',
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS identity_secrets (
    id TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities(id),
    secret_hash BLOB NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS invites (
    token_hash BLOB PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE TABLE IF NOT EXISTS login_failures (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    ip TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_account ON login_failures (account, at);
CREATE INDEX IF NOT EXISTS login_failures_ip ON login_failures (ip, at);
