-- hush schema v6 (SQLite): the audit chain is keyed (HMAC-SHA256 under a key
-- derived from the root key). `scheme` says which links the table holds; the
-- server re-links an older log once at start-up (src/store/audit_upgrade.rs),
-- which also turns the rows of v4's bursts into one row per event and drops
-- their `repeats` column.
CREATE TABLE IF NOT EXISTS audit_chain_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    scheme TEXT NOT NULL
);
