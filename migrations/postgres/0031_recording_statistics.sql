-- Recordings (issue 20): what the statistics count, and what a salvage kept.
--
-- What the statistics count of each held session's recording (docs/statistics.md):
-- whether it has a gap (`recording_gap`, migration 0027) and whether any file of it was kept
-- (`recorded`: set when a part's file closes, in the same transaction). Both are read from the
-- covering index of the statistics' session scan, like every other figure.
ALTER TABLE sessions ADD COLUMN recorded BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE sessions SET recorded = TRUE
WHERE id IN (SELECT session_id FROM recordings WHERE state IN ('closed', 'stored', 'purged'));

DROP INDEX sessions_by_booking_facts;
CREATE INDEX sessions_by_booking_facts ON sessions (booking_id)
    INCLUDE (status, started_at, ended_at, satisfaction, interrupted_seconds, identity_confirmed_how,
             recording_gap, recorded);

-- A part closed by a salvage after a hard crash (docs/recording.md, "Crashes"): its file holds
-- what the full chunks on disk held, muxed again into a finished WebM; `duration_ms` and
-- `bytes` say how much that was.
ALTER TABLE recordings ADD COLUMN salvaged BOOLEAN NOT NULL DEFAULT FALSE;
