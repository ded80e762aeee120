-- Issue 15 item 9: a session counts as held only with the petitioner and the host connected with
-- media for a minimum time inside its window; the record keeps how long that was. Null on
-- sessions ended before this was kept.
ALTER TABLE sessions ADD COLUMN connected_seconds BIGINT;
ALTER TABLE ledger_entries ADD COLUMN connected_minutes BIGINT;
