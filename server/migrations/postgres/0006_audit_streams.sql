-- hush schema v6 (PostgreSQL): audit log streams (issue 20). Same as
-- migrations/sqlite/0007_audit_streams.sql.
-- One row per stream. Header values are credentials: they are sealed under
-- the stream's own data key (`key_wrapped`, wrapped under the root key);
-- only their names are stored in the clear. `cursor_seq` is the last event
-- the collector acknowledged; the lease (`lease_owner` until `lease_until`)
-- lets one replica at a time deliver a stream. `ca_cert` (PEM, optional) is
-- the only CA a TLS connection to the collector then trusts.
CREATE TABLE audit_streams (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    header_names TEXT NOT NULL,
    key_wrapped BYTEA NOT NULL,
    headers_ct BYTEA NOT NULL,
    ca_cert TEXT,
    cursor_seq BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_attempt_at BIGINT,
    last_delivered_at BIGINT,
    last_error TEXT,
    last_error_at BIGINT,
    failures BIGINT NOT NULL DEFAULT 0
);
