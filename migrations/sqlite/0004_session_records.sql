-- The session record (笔录, outcome follow-up, satisfaction) and the case's 四包四定 fields.
ALTER TABLE sessions ADD COLUMN transcript TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN transcript_decision TEXT CHECK (transcript_decision IN ('confirmed', 'refused'));
ALTER TABLE sessions ADD COLUMN transcript_sha256 TEXT;
ALTER TABLE sessions ADD COLUMN transcript_decided_at TEXT;
ALTER TABLE sessions ADD COLUMN follow_up_deadline TEXT;
ALTER TABLE sessions ADD COLUMN follow_up_person TEXT;
ALTER TABLE sessions ADD COLUMN satisfaction TEXT CHECK (satisfaction IN ('satisfied', 'basically_satisfied', 'dissatisfied'));
ALTER TABLE sessions ADD COLUMN rated_at TEXT;
ALTER TABLE sessions ADD COLUMN interrupted_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN petitioner_phone TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN measures TEXT;
ALTER TABLE cases ADD COLUMN goal TEXT;
ALTER TABLE cases ADD COLUMN received_on TEXT;
ALTER TABLE cases ADD COLUMN accepted_on TEXT;
ALTER TABLE cases ADD COLUMN extension_days INTEGER NOT NULL DEFAULT 0 CHECK (extension_days BETWEEN 0 AND 30);
ALTER TABLE cases ADD COLUMN extension_reason TEXT;

-- A session's timeline is append-only: corrections are new events that point at what they correct.
CREATE TRIGGER session_events_append_only_update BEFORE UPDATE ON session_events
BEGIN
    SELECT RAISE(ABORT, 'session_events is append-only');
END;
CREATE TRIGGER session_events_append_only_delete BEFORE DELETE ON session_events
BEGIN
    SELECT RAISE(ABORT, 'session_events is append-only');
END;

-- The records sweeper looks only at sessions still open.
CREATE INDEX sessions_by_status ON sessions (status);
