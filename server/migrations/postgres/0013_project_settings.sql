-- hush schema 13 (PostgreSQL): per-project settings (issue 27). Same as
-- migrations/sqlite/0014_project_settings.sql.
-- How long a secret deleted in this project stays recoverable, in
-- milliseconds; NULL: the server's --recovery-window. A delete computes its
-- purge_after from it, so a change applies to deletions made after it.
ALTER TABLE projects ADD COLUMN IF NOT EXISTS recovery_window_ms BIGINT;
