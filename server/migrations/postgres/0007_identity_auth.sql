-- hush schema v7 (PostgreSQL): workload identity auth methods of machine
-- identities (issue 23). Same as migrations/sqlite/0008_identity_auth.sql.
-- One row per (identity, method): `method` is `oidc`, `jwt` or `kubernetes`;
-- `config` is the method's settings as JSON and holds no credential. The
-- one credential a method may hold (Kubernetes' token reviewer JWT) is
-- sealed under a data key of its own (`key_wrapped`, wrapped under the root
-- key) in `secret_ct`.
CREATE TABLE identity_auth_methods (
    identity_id TEXT NOT NULL REFERENCES identities(id),
    method TEXT NOT NULL,
    config TEXT NOT NULL,
    key_wrapped BYTEA,
    secret_ct BYTEA,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (identity_id, method)
);
-- Single sign-on (issue 23): the flow steps already used (an SSO state,
-- a one-time login code), so a replayed callback or code is refused on
-- every replica. Rows are removed once past `expires_at`.
CREATE TABLE sso_used (
    id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
-- The provider credential of an SSO session (an OIDC refresh token or a
-- GitHub user token), sealed under a key derived from the root key, so a
-- session renewal can ask the provider whether the person may still sign
-- in. `id` is the sign-in's; `token_id` the session's, once redeemed.
CREATE TABLE sso_sessions (
    id TEXT PRIMARY KEY,
    token_id TEXT,
    provider TEXT NOT NULL,
    grant_ct BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sso_sessions_token ON sso_sessions (token_id);
