-- hush schema (SQLite): webhooks (issue 24). Same as
-- migrations/postgres/0010_webhooks.sql.
-- One row per webhook of a project: which changes fire it (an environment
-- and a folder glob), where it posts (`sealed`: the URL and the signing key,
-- under a data key of its own, `key_wrapped`; `url_shown` is the URL cut to
-- scheme://host[:port]/... for lists and the audit log, since a URL may
-- carry a token), and its delivery state: the cursor (`cursor_seq`, the last
-- audit event it is done with), the lease (`lease_owner` until
-- `lease_until`, one replica at a time) and the last result.
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    env_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    secret_path TEXT NOT NULL,
    kind TEXT NOT NULL,
    url_shown TEXT NOT NULL,
    signed INTEGER NOT NULL,
    key_wrapped BLOB NOT NULL,
    sealed BLOB NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    cursor_seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER,
    last_status TEXT,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS webhooks_project ON webhooks (project_id);
