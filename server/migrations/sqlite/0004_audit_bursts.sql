-- hush schema v4 (SQLite): bursts of repeated audit events in one row, and
-- the audit journal's commit mark (src/store/sqlite_audit.rs).
-- A burst's row holds its first event; `repeats` is the JSON list
-- [[id, time], ...] of the events after it, which take the sequence numbers
-- after the row's. NULL for a row of one event.
ALTER TABLE audit_events ADD COLUMN repeats TEXT;
-- The newest audit journal file whose events are committed, written in the
-- same transaction: a replay after a crash skips files up to it (their events
-- in bursts have no row of their own to look up by id).
CREATE TABLE IF NOT EXISTS audit_journal_mark (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
