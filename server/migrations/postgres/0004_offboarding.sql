-- hush schema v4 (PostgreSQL). Same as migrations/sqlite/0005_offboarding.sql:
-- disabled users, the client secret that issued an identity's access token,
-- and password-reset tokens beside invites.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
ALTER TABLE tokens ADD COLUMN client_secret_id TEXT;
CREATE INDEX tokens_client_secret ON tokens (client_secret_id)
    WHERE client_secret_id IS NOT NULL;
ALTER TABLE invites ADD COLUMN kind TEXT NOT NULL DEFAULT 'invite';
CREATE INDEX invites_user ON invites (user_id);
