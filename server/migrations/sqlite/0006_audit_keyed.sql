-- hush schema v6 (SQLite): the audit chain is keyed (HMAC-SHA256 under a key
-- derived from the root key). `scheme` says which links the table holds; the
-- server re-links an older log once at start-up (src/store/audit_upgrade.rs),
-- which also turns the rows of v4's bursts into one row per event and drops
-- their `repeats` column.
CREATE TABLE IF NOT EXISTS audit_chain_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    scheme TEXT NOT NULL
);
-- The audit keys of earlier root keys, oldest first (epoch 0 = the first
-- root key), each sealed under the current root key: verification of the
-- events before a root-key rotation needs them; `hush server
-- rotate-root-key` re-seals them and adds the outgoing key's.
CREATE TABLE IF NOT EXISTS audit_key_epochs (
    epoch INTEGER PRIMARY KEY,
    sealed BLOB NOT NULL
);
-- Where the live audit log starts once older events were archived
-- (--audit-retention, src/audit_archive.rs): the last archived event's
-- sequence number and link, the key epoch after it, and a MAC under that
-- epoch's audit key (so the mark cannot be moved without the root key).
CREATE TABLE IF NOT EXISTS audit_archive_mark (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash BLOB NOT NULL,
    epoch BIGINT NOT NULL,
    mac BLOB NOT NULL
);
