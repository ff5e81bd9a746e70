-- hush schema (PostgreSQL): webhooks (issue 24). Same as
-- migrations/sqlite/0011_webhooks.sql.
-- One row per webhook of a project: which changes fire it (an environment
-- and a folder glob), where it posts (`sealed`: the URL and the signing key,
-- under a data key of its own, `key_wrapped`; `url_shown` is the URL cut to
-- scheme://host[:port]/... for lists and the audit log, since a URL may
-- carry a token), and its delivery state: the cursor (`cursor_seq`, the last
-- audit event it is done with), the lease (`lease_owner` until
-- `lease_until`, one replica at a time) and the last result.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    env_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    secret_path TEXT NOT NULL,
    kind TEXT NOT NULL,
    url_shown TEXT NOT NULL,
    signed BOOLEAN NOT NULL,
    key_wrapped BYTEA NOT NULL,
    sealed BYTEA NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    cursor_seq BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_attempt_at BIGINT,
    last_status TEXT,
    last_error TEXT,
    failures BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webhooks_project ON webhooks (project_id);
