-- hush schema v13 (SQLite): online re-keying (issue 25). Same as
-- migrations/postgres/0012_rekey.sql.
-- A root key generation: a random generation key wrapped by the root key
-- provider (`provider` names which). Data keys of generation N are wrapped
-- under generation N's key; generation 0 (no row) is the layout before
-- generations, data keys wrapped by the root key directly. The newest row is
-- the current generation; a rotation replaces every older row.
CREATE TABLE IF NOT EXISTS root_generations (
    generation INTEGER PRIMARY KEY,
    provider TEXT NOT NULL,
    wrapped BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
ALTER TABLE data_keys ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
-- Set when a newer data key replaced this one: nothing new is sealed under
-- it, and it is destroyed once nothing sealed under it remains.
ALTER TABLE data_keys ADD COLUMN retired_at INTEGER;
-- One re-encryption job per project (`hush keys rotate-data`): every
-- ciphertext sealed under a retired data key is sealed again under
-- `target_key_id`. A replica works on it while it holds the claim.
CREATE TABLE IF NOT EXISTS rekey_jobs (
    project_id TEXT PRIMARY KEY,
    target_key_id INTEGER NOT NULL,
    total INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    requested_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    claim_owner TEXT,
    claim_until INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
