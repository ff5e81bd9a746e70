-- hush schema (PostgreSQL): KMS keys, encryption as a service (issue 25).
-- Same as migrations/sqlite/0012_kms_keys.sql.
-- One row per key of a project. The key itself (256 random bits) is never
-- stored in the clear: `sealed` is it under the project's data key `dek_id`
-- (AES-256-GCM, bound to project, key id and data key id), so a rotation of
-- the root key re-wraps data keys and leaves these rows alone.
CREATE TABLE kms_keys (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    version BIGINT NOT NULL,
    dek_id BIGINT NOT NULL,
    sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX kms_keys_project_name ON kms_keys (project_id, name);
