-- CourtLink schema, SQLite flavour. Timestamps are UTC, stored by sqlx as RFC 3339 text with
-- whole seconds, so that text comparison orders them.

CREATE TABLE courts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    level TEXT NOT NULL CHECK (level IN ('supreme', 'high', 'intermediate', 'basic')),
    parent_id INTEGER REFERENCES courts (id)
);

CREATE TABLE host_rooms (
    id INTEGER PRIMARY KEY,
    court_id INTEGER NOT NULL REFERENCES courts (id),
    name TEXT NOT NULL,
    UNIQUE (court_id, name)
);

CREATE TABLE local_rooms (
    id INTEGER PRIMARY KEY,
    court_id INTEGER NOT NULL REFERENCES courts (id),
    name TEXT NOT NULL,
    UNIQUE (court_id, name)
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    court_id INTEGER NOT NULL REFERENCES courts (id),
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'coordinator', 'officer', 'supervisor')),
    password_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    court_id INTEGER NOT NULL REFERENCES courts (id),
    case_number TEXT NOT NULL,
    petitioner_name TEXT NOT NULL,
    petitioner_id_number TEXT NOT NULL,
    subject TEXT NOT NULL,
    status TEXT NOT NULL,
    tier INTEGER NOT NULL CHECK (tier IN (1, 2, 3)),
    lead TEXT,
    deadline TEXT,
    escalation_risk BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TEXT NOT NULL,
    UNIQUE (court_id, case_number)
);

CREATE TABLE slots (
    id INTEGER PRIMARY KEY,
    host_room_id INTEGER NOT NULL REFERENCES host_rooms (id),
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    CHECK (ends_at > starts_at),
    UNIQUE (host_room_id, starts_at)
);
CREATE INDEX slots_by_time ON slots (starts_at);

CREATE TABLE bookings (
    id INTEGER PRIMARY KEY,
    slot_id INTEGER NOT NULL REFERENCES slots (id),
    case_id INTEGER NOT NULL REFERENCES cases (id),
    local_room_id INTEGER NOT NULL REFERENCES local_rooms (id),
    -- Copied from the slot so that the database can forbid overlaps by itself.
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('booked', 'cancelled', 'completed')),
    created_by INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    CHECK (ends_at > starts_at)
);

-- No two live bookings share a slot.
CREATE UNIQUE INDEX bookings_one_live_per_slot ON bookings (slot_id) WHERE status <> 'cancelled';
CREATE INDEX bookings_by_local_room ON bookings (local_room_id, starts_at);

-- No local room is in two overlapping live bookings. SQLite has no exclusion constraints; these
-- triggers are the database's own guard, whatever the handler did before.
CREATE TRIGGER bookings_local_room_no_overlap_insert
BEFORE INSERT ON bookings
WHEN NEW.status <> 'cancelled' AND EXISTS (
    -- A second booking of the same slot is left to the unique index, which names it better.
    SELECT 1 FROM bookings b
    WHERE b.local_room_id = NEW.local_room_id AND b.status <> 'cancelled'
      AND b.slot_id <> NEW.slot_id
      AND b.starts_at < NEW.ends_at AND NEW.starts_at < b.ends_at)
BEGIN
    SELECT RAISE(ABORT, 'local_room_overlap');
END;

CREATE TRIGGER bookings_local_room_no_overlap_update
BEFORE UPDATE OF status, local_room_id, starts_at, ends_at ON bookings
WHEN NEW.status <> 'cancelled' AND EXISTS (
    SELECT 1 FROM bookings b
    WHERE b.id <> NEW.id AND b.local_room_id = NEW.local_room_id AND b.status <> 'cancelled'
      AND b.starts_at < NEW.ends_at AND NEW.starts_at < b.ends_at)
BEGIN
    SELECT RAISE(ABORT, 'local_room_overlap');
END;

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    booking_id INTEGER NOT NULL UNIQUE REFERENCES bookings (id),
    status TEXT NOT NULL CHECK (status IN ('scheduled', 'waiting', 'live', 'interrupted', 'ended', 'no_show')),
    join_code_hash TEXT NOT NULL UNIQUE,
    started_at TEXT,
    ended_at TEXT,
    outcome TEXT CHECK (outcome IN ('reply', 'assign', 'transfer', 'supervise', 'review_filed', 'stop_notice', 'reschedule')),
    outcome_note TEXT
);

CREATE TABLE session_events (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX session_events_by_session ON session_events (session_id, id);

CREATE TABLE ledger_entries (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    at TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('local_visit', 'letter', 'online', 'video_spc', 'video_high', 'video_intermediate', 'to_province', 'to_beijing')),
    counted_as TEXT NOT NULL CHECK (counted_as IN ('local', 'province', 'beijing')),
    session_id INTEGER UNIQUE REFERENCES sessions (id),
    note TEXT NOT NULL
);
CREATE INDEX ledger_entries_by_case ON ledger_entries (case_id, at);
