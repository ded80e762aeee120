-- Connectivity tests (联通测试): every echo test against the server's own WebRTC peer, and the
-- campaigns in which a higher court orders the courts below it to test their rooms by a deadline.

CREATE TABLE connectivity_tests (
    id INTEGER PRIMARY KEY,
    -- A room terminal's test names its local room; a petitioner's device check names its session.
    local_room_id INTEGER REFERENCES local_rooms (id),
    session_id INTEGER REFERENCES sessions (id),
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
    CHECK (local_room_id IS NOT NULL OR session_id IS NOT NULL)
);
CREATE INDEX connectivity_tests_by_room ON connectivity_tests (local_room_id, started_at);
CREATE INDEX connectivity_tests_running ON connectivity_tests (status, started_at);

CREATE TABLE connectivity_campaigns (
    id INTEGER PRIMARY KEY,
    -- The court that orders the tests; the campaign covers every court below it.
    court_id INTEGER NOT NULL REFERENCES courts (id),
    title TEXT NOT NULL,
    deadline TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX connectivity_campaigns_by_court ON connectivity_campaigns (court_id);

-- Each court's contact person (联络人员) and technical-support person (技术保障人员).
CREATE TABLE connectivity_contacts (
    campaign_id INTEGER NOT NULL REFERENCES connectivity_campaigns (id),
    court_id INTEGER NOT NULL REFERENCES courts (id),
    contact_name TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    tech_name TEXT NOT NULL,
    tech_phone TEXT NOT NULL,
    updated_by INTEGER NOT NULL REFERENCES users (id),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (campaign_id, court_id)
);
