-- hush schema v8 (SQLite): rotation policies (issue 24). Same as
-- migrations/postgres/0007_rotations.sql.
-- One row per rotated secret (environment, folder, key). `schedule` is
-- `every:SECONDS` or `cron:EXPR`; `generator` says how a new value is made
-- (`hex:32`, `chars:40:alnum`, `uuid`, ...); `provider` is `value` (a
-- generated value only) or a database whose credential is rotated, with its
-- settings in `config` (JSON naming secrets, never holding a value). `state`
-- and `state_data` are the rotation's persisted step, so a rotation cut
-- short by a crash is resumed or rolled back; the lease (`lease_owner`
-- until `lease_until`) lets one replica at a time run a rotation.
CREATE TABLE IF NOT EXISTS rotations (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    env_id TEXT NOT NULL,
    path TEXT NOT NULL,
    key TEXT NOT NULL,
    schedule TEXT NOT NULL,
    generator TEXT NOT NULL,
    provider TEXT NOT NULL,
    config TEXT NOT NULL,
    next_at INTEGER NOT NULL,
    state TEXT NOT NULL,
    state_data TEXT NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER,
    last_rotated_at INTEGER,
    last_result TEXT,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (env_id, path, key)
);
CREATE INDEX IF NOT EXISTS rotations_project ON rotations (project_id);
