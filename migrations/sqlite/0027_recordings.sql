-- Recordings of each video reception (issue 20, docs/recording.md): one row per part, a part
-- being one participant's uninterrupted connection to the server's recorder (a reconnect after
-- a gap is a new part). The file is sealed at rest; `sha256` is the hash of the sealed file,
-- also written to the audit chain when the file is closed. `object_key` names the file in the
-- spool (state `recording`, `closed`) or in the store (`stored`); `purged` keeps the row and its
-- hash after the retention purge deleted the file.
CREATE TABLE recordings (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    participant_id TEXT NOT NULL,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    part INTEGER NOT NULL,
    media_type TEXT NOT NULL CHECK (media_type IN ('video/webm', 'audio/webm')),
    started_at TEXT NOT NULL,
    ended_at TEXT,
    duration_ms BIGINT,
    bytes BIGINT,
    sha256 TEXT,
    state TEXT NOT NULL CHECK (state IN ('recording', 'closed', 'stored', 'failed', 'purged')),
    object_key TEXT NOT NULL,
    purged_at TEXT,
    UNIQUE (session_id, participant_id, part)
);
CREATE INDEX recordings_by_session ON recordings (session_id, id);
CREATE INDEX recordings_by_state ON recordings (state, ended_at);

-- A gap: a participant's stream that the recorder lost (no RTP for 3 s, or the connection
-- failed or closed) while the session ran. Also on the timeline as recording_gap_started /
-- recording_gap_ended; here for the recording list and the `interrupted` state.
CREATE TABLE recording_gaps (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    recording_id INTEGER NOT NULL REFERENCES recordings (id),
    participant_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX recording_gaps_by_session ON recording_gaps (session_id, ended_at);

-- The session's record says whether its recording has a gap.
ALTER TABLE sessions ADD COLUMN recording_gap BOOLEAN NOT NULL DEFAULT FALSE;
