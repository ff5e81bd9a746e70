-- hush schema v7 (PostgreSQL): rotation policies (issue 24). Same as
-- migrations/sqlite/0008_rotations.sql.
-- One row per rotated secret (environment, folder, key). `schedule` is
-- `every:SECONDS` or `cron:EXPR`; `generator` says how a new value is made
-- (`hex:32`, `chars:40:alnum`, `uuid`, ...); `provider` is `value` (a
-- generated value only) or a database whose credential is rotated, with its
-- settings in `config` (JSON naming secrets, never holding a value). `state`
-- and `state_data` are the rotation's persisted step, so a rotation cut
-- short by a crash is resumed or rolled back; the lease (`lease_owner`
-- until `lease_until`) lets one replica at a time run a rotation.
CREATE TABLE rotations (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    env_id TEXT NOT NULL,
    path TEXT NOT NULL,
    key TEXT NOT NULL,
    schedule TEXT NOT NULL,
    generator TEXT NOT NULL,
    provider TEXT NOT NULL,
    config TEXT NOT NULL,
    next_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    state_data TEXT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_attempt_at BIGINT,
    last_rotated_at BIGINT,
    last_result TEXT,
    last_error TEXT,
    failures BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (env_id, path, key)
);
CREATE INDEX rotations_project ON rotations (project_id);
