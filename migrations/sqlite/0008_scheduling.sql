-- Scheduling a host court runs on: weekly templates per reception room, date overrides, a
-- working-day calendar with statutory holidays and make-up days (调休), host-court settings,
-- applications and their review, holds (Redis or in-process, not here), idempotent booking
-- POSTs, ETags, and the notification outbox.
--
-- Times of day and calendar days are Asia/Shanghai wall-clock text ('09:00', '2026-10-01');
-- instants stay UTC as everywhere else.

-- What kind of matter a case is; a themed day (e.g. criminal cases on Tuesdays) admits only its kind.
ALTER TABLE cases ADD COLUMN category TEXT NOT NULL DEFAULT 'other'
    CHECK (category IN ('criminal', 'civil', 'administrative', 'enforcement', 'compensation', 'other'));

CREATE TABLE host_court_settings (
    court_id INTEGER PRIMARY KEY REFERENCES courts (id),
    horizon_days INTEGER NOT NULL DEFAULT 28 CHECK (horizon_days BETWEEN 1 AND 180),
    min_notice_hours INTEGER NOT NULL DEFAULT 24 CHECK (min_notice_hours BETWEEN 0 AND 720),
    auto_approve BOOLEAN NOT NULL DEFAULT FALSE,
    -- Live bookings one local court may hold with this host court in one ISO week; NULL: no limit.
    weekly_limit_per_local_court INTEGER CHECK (weekly_limit_per_local_court BETWEEN 1 AND 1000),
    -- Live future bookings one petitioner (identity number) may hold here at once.
    active_limit_per_petitioner INTEGER NOT NULL DEFAULT 2 CHECK (active_limit_per_petitioner BETWEEN 1 AND 100),
    version INTEGER NOT NULL DEFAULT 1
);

-- A room's weekly template, replaced as a whole (version on host_rooms is its ETag).
ALTER TABLE host_rooms ADD COLUMN template_version INTEGER NOT NULL DEFAULT 0;
CREATE TABLE template_windows (
    id INTEGER PRIMARY KEY,
    host_room_id INTEGER NOT NULL REFERENCES host_rooms (id),
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 5),
    opens TEXT NOT NULL,
    closes TEXT NOT NULL,
    slot_minutes INTEGER NOT NULL CHECK (slot_minutes BETWEEN 30 AND 120),
    buffer_minutes INTEGER NOT NULL CHECK (buffer_minutes BETWEEN 0 AND 120),
    CHECK (closes > opens)
);
CREATE INDEX template_windows_by_room ON template_windows (host_room_id, weekday);
CREATE TABLE template_themes (
    host_room_id INTEGER NOT NULL REFERENCES host_rooms (id),
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 5),
    theme TEXT NOT NULL CHECK (theme IN ('criminal', 'civil', 'administrative', 'enforcement', 'compensation', 'other')),
    PRIMARY KEY (host_room_id, weekday)
);

-- A date's exception for one room: closed all day, or an extra opening (also on a day off).
CREATE TABLE room_overrides (
    id INTEGER PRIMARY KEY,
    host_room_id INTEGER NOT NULL REFERENCES host_rooms (id),
    day TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('closed', 'open')),
    opens TEXT,
    closes TEXT,
    slot_minutes INTEGER CHECK (slot_minutes BETWEEN 30 AND 120),
    buffer_minutes INTEGER CHECK (buffer_minutes BETWEEN 0 AND 120),
    theme TEXT CHECK (theme IN ('criminal', 'civil', 'administrative', 'enforcement', 'compensation', 'other')),
    note TEXT NOT NULL DEFAULT '',
    created_by INTEGER NOT NULL REFERENCES users (id),
    CHECK ((kind = 'closed' AND opens IS NULL AND closes IS NULL)
        OR (kind = 'open' AND opens IS NOT NULL AND closes > opens AND slot_minutes IS NOT NULL AND buffer_minutes IS NOT NULL))
);
CREATE INDEX room_overrides_by_room ON room_overrides (host_room_id, day);

-- The national working-day calendar: statutory holidays, and weekend days that are worked (调休),
-- each following the timetable of the weekday it stands in for.
CREATE TABLE calendar_days (
    day TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name TEXT NOT NULL,
    follows_weekday INTEGER CHECK (follows_weekday BETWEEN 1 AND 5),
    CHECK ((kind = 'workday') = (follows_weekday IS NOT NULL))
);

-- Slots are computed from the templates, overrides and calendar and published into `slots`. A
-- slot that a change no longer yields is withdrawn, never deleted while a booking points at it.
ALTER TABLE slots ADD COLUMN theme TEXT;
ALTER TABLE slots ADD COLUMN withdrawn BOOLEAN NOT NULL DEFAULT FALSE;
-- Rooms without a template keep hand-made slots (the demo's round-the-clock rooms).

ALTER TABLE bookings ADD COLUMN host_room_id INTEGER REFERENCES host_rooms (id);
ALTER TABLE bookings ADD COLUMN local_officer_id INTEGER REFERENCES users (id);
ALTER TABLE bookings ADD COLUMN needs_move BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE bookings ADD COLUMN cancel_reason TEXT;
ALTER TABLE bookings ADD COLUMN cancelled_by INTEGER REFERENCES users (id);
ALTER TABLE bookings ADD COLUMN cancelled_at TEXT;
ALTER TABLE bookings ADD COLUMN rescheduled_from INTEGER REFERENCES bookings (id);
ALTER TABLE bookings ADD COLUMN application_id INTEGER;
ALTER TABLE bookings ADD COLUMN reminded_at TEXT;
ALTER TABLE bookings ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
UPDATE bookings SET host_room_id = (SELECT host_room_id FROM slots WHERE slots.id = bookings.slot_id);
CREATE INDEX bookings_by_host_room ON bookings (host_room_id, starts_at);
CREATE INDEX bookings_by_officer ON bookings (local_officer_id, starts_at);

-- A host room is never in two overlapping live bookings, even across a republished template
-- whose slots moved; nor is the accompanying local officer.
CREATE TRIGGER bookings_host_room_no_overlap_insert
BEFORE INSERT ON bookings
WHEN NEW.status <> 'cancelled' AND EXISTS (
    SELECT 1 FROM bookings b
    WHERE b.host_room_id = NEW.host_room_id AND b.status <> 'cancelled'
      AND b.slot_id <> NEW.slot_id
      AND b.starts_at < NEW.ends_at AND NEW.starts_at < b.ends_at)
BEGIN
    SELECT RAISE(ABORT, 'host_room_overlap');
END;

CREATE TRIGGER bookings_officer_no_overlap_insert
BEFORE INSERT ON bookings
WHEN NEW.status <> 'cancelled' AND NEW.local_officer_id IS NOT NULL AND EXISTS (
    SELECT 1 FROM bookings b
    WHERE b.local_officer_id = NEW.local_officer_id AND b.status <> 'cancelled'
      AND b.starts_at < NEW.ends_at AND NEW.starts_at < b.ends_at)
BEGIN
    SELECT RAISE(ABORT, 'local_officer_overlap');
END;

CREATE TABLE applications (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    local_court_id INTEGER NOT NULL REFERENCES courts (id),
    host_court_id INTEGER NOT NULL REFERENCES courts (id),
    local_room_id INTEGER NOT NULL REFERENCES local_rooms (id),
    local_officer_id INTEGER REFERENCES users (id),
    joint_court_id INTEGER REFERENCES courts (id),
    -- JSON: [{"from": instant, "to": instant}, …]
    preferred TEXT NOT NULL,
    reason TEXT NOT NULL,
    -- JSON: {"high_court_reviewed": bool, "joint_with_high_court": bool, "note": text}
    facts TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'proposed', 'more_info', 'approved', 'rejected', 'withdrawn')),
    proposed_slot_id INTEGER REFERENCES slots (id),
    decision_note TEXT,
    booking_id INTEGER REFERENCES bookings (id),
    created_by INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX applications_by_host ON applications (host_court_id, status, created_at);
CREATE INDEX applications_by_local ON applications (local_court_id, created_at);
CREATE INDEX applications_by_case ON applications (case_id);
-- One open application per case, whatever races the handler's own check.
CREATE UNIQUE INDEX applications_one_open_per_case ON applications (case_id)
    WHERE status IN ('pending', 'proposed', 'more_info');

-- `Idempotency-Key` on booking POSTs: the first request's answer, replayed to a retry.
CREATE TABLE idempotency_keys (
    user_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
    status INTEGER,
    body TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);

-- Written in the same transaction as the change it announces; a worker delivers it.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    delivered_at TEXT,
    last_error TEXT
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

-- Statutory holidays and make-up working days of 2026 (国务院办公厅关于2026年部分节假日安排的通知).
-- Other years are loaded with `PUT /api/v1/calendar/{year}`.
INSERT INTO calendar_days (day, kind, name, follows_weekday) VALUES
    ('2026-01-01', 'holiday', '元旦', NULL),
    ('2026-01-02', 'holiday', '元旦', NULL),
    ('2026-01-03', 'holiday', '元旦', NULL),
    ('2026-01-04', 'workday', '元旦调休上班', 5),
    ('2026-02-14', 'workday', '春节调休上班', 1),
    ('2026-02-15', 'holiday', '春节', NULL),
    ('2026-02-16', 'holiday', '春节', NULL),
    ('2026-02-17', 'holiday', '春节', NULL),
    ('2026-02-18', 'holiday', '春节', NULL),
    ('2026-02-19', 'holiday', '春节', NULL),
    ('2026-02-20', 'holiday', '春节', NULL),
    ('2026-02-21', 'holiday', '春节', NULL),
    ('2026-02-22', 'holiday', '春节', NULL),
    ('2026-02-23', 'holiday', '春节', NULL),
    ('2026-02-28', 'workday', '春节调休上班', 2),
    ('2026-04-04', 'holiday', '清明节', NULL),
    ('2026-04-05', 'holiday', '清明节', NULL),
    ('2026-04-06', 'holiday', '清明节', NULL),
    ('2026-05-01', 'holiday', '劳动节', NULL),
    ('2026-05-02', 'holiday', '劳动节', NULL),
    ('2026-05-03', 'holiday', '劳动节', NULL),
    ('2026-05-04', 'holiday', '劳动节', NULL),
    ('2026-05-05', 'holiday', '劳动节', NULL),
    ('2026-05-09', 'workday', '劳动节调休上班', 2),
    ('2026-06-19', 'holiday', '端午节', NULL),
    ('2026-06-20', 'holiday', '端午节', NULL),
    ('2026-06-21', 'holiday', '端午节', NULL),
    ('2026-09-20', 'workday', '国庆节调休上班', 4),
    ('2026-09-25', 'holiday', '中秋节', NULL),
    ('2026-09-26', 'holiday', '中秋节', NULL),
    ('2026-09-27', 'holiday', '中秋节', NULL),
    ('2026-10-01', 'holiday', '国庆节', NULL),
    ('2026-10-02', 'holiday', '国庆节', NULL),
    ('2026-10-03', 'holiday', '国庆节', NULL),
    ('2026-10-04', 'holiday', '国庆节', NULL),
    ('2026-10-05', 'holiday', '国庆节', NULL),
    ('2026-10-06', 'holiday', '国庆节', NULL),
    ('2026-10-07', 'holiday', '国庆节', NULL),
    ('2026-10-10', 'workday', '国庆节调休上班', 5);
