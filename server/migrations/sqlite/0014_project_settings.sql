-- hush schema v14 (SQLite): per-project settings (issue 27). Same as
-- migrations/postgres/0013_project_settings.sql.
-- How long a secret deleted in this project stays recoverable, in
-- milliseconds; NULL: the server's --recovery-window. A delete computes its
-- purge_after from it, so a change applies to deletions made after it.
ALTER TABLE projects ADD COLUMN recovery_window_ms INTEGER;
