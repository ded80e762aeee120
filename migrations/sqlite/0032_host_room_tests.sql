-- A host court tests its own reception rooms too (issue 18, item 5): the officer's 联通测试 page
-- runs the same echo test from the host court's room, and a test names that room. The table is
-- rebuilt (SQLite cannot change a CHECK) with the new column and the CHECK that a test names
-- exactly one thing under test: a local room, a petitioner's session, or a host room.

CREATE TABLE connectivity_tests_0032 (
    id INTEGER PRIMARY KEY,
    local_room_id INTEGER REFERENCES local_rooms (id),
    session_id INTEGER REFERENCES sessions (id),
    host_room_id INTEGER REFERENCES host_rooms (id),
    run_by TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('media', 'data')),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'passed', 'failed')),
    reason_code TEXT,
    reason TEXT,
    local_candidate TEXT,
    remote_candidate TEXT,
    connect_ms INTEGER,
    rtt_ms REAL,
    loss_percent REAL,
    jitter_ms REAL,
    bitrate_kbps REAL,
    client_report TEXT,
    CHECK (local_room_id IS NOT NULL OR session_id IS NOT NULL OR host_room_id IS NOT NULL),
    CHECK (host_room_id IS NULL OR (local_room_id IS NULL AND session_id IS NULL))
);
INSERT INTO connectivity_tests_0032 (id, local_room_id, session_id, run_by, kind, started_at,
    finished_at, status, reason_code, reason, local_candidate, remote_candidate, connect_ms, rtt_ms,
    loss_percent, jitter_ms, bitrate_kbps, client_report)
SELECT id, local_room_id, session_id, run_by, kind, started_at, finished_at, status, reason_code,
    reason, local_candidate, remote_candidate, connect_ms, rtt_ms, loss_percent, jitter_ms,
    bitrate_kbps, client_report
FROM connectivity_tests;
DROP TABLE connectivity_tests;
ALTER TABLE connectivity_tests_0032 RENAME TO connectivity_tests;
CREATE INDEX connectivity_tests_by_room ON connectivity_tests (local_room_id, started_at);
CREATE INDEX connectivity_tests_running ON connectivity_tests (status, started_at);
CREATE INDEX connectivity_tests_by_host_room ON connectivity_tests (host_room_id, started_at)
    WHERE host_room_id IS NOT NULL;
