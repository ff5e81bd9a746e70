-- hush schema v7 (SQLite): audit log streams (issue 20). Same as
-- migrations/postgres/0006_audit_streams.sql.
-- One row per stream. Header values are credentials: they are sealed under
-- the stream's own data key (`key_wrapped`, wrapped under the root key);
-- only their names are stored in the clear. `cursor_seq` is the last event
-- the collector acknowledged; the lease (`lease_owner` until `lease_until`)
-- lets one replica at a time deliver a stream. `ca_cert` (PEM, optional) is
-- the only CA a TLS connection to the collector then trusts.
CREATE TABLE IF NOT EXISTS audit_streams (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    header_names TEXT NOT NULL,
    key_wrapped BLOB NOT NULL,
    headers_ct BLOB NOT NULL,
    ca_cert TEXT,
    cursor_seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER,
    last_delivered_at INTEGER,
    last_error TEXT,
    last_error_at INTEGER,
    failures INTEGER NOT NULL DEFAULT 0
);
