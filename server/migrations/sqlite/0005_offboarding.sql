-- hush schema v5 (SQLite): offboarding and credential lifecycle.
-- A disabled user keeps their row (and can be enabled again); their sessions
-- are refused while `disabled_at` is set.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
-- The client secret an identity's access token was issued with: revoking the
-- secret revokes its tokens. NULL for other tokens (and identity tokens issued
-- before this version).
ALTER TABLE tokens ADD COLUMN client_secret_id TEXT;
CREATE INDEX IF NOT EXISTS tokens_client_secret ON tokens (client_secret_id)
    WHERE client_secret_id IS NOT NULL;
-- One-time tokens that set a password: `invite` (a new user's first
-- password) or `reset` (issued by an admin; redeeming it revokes the user's
-- sessions).
ALTER TABLE invites ADD COLUMN kind TEXT NOT NULL DEFAULT 'invite';
CREATE INDEX IF NOT EXISTS invites_user ON invites (user_id);
