-- Clocks that stop, extensions that a person in charge approves, and the years whose calendar
-- is loaded (docs/clocks.md).

-- The re-review (复核) clock stops when the re-review is decided. The review (复查) decision
-- records which court decided it: a high court's review is what an SPC reception needs.
ALTER TABLE cases ADD COLUMN rereview_decided_on TEXT;
ALTER TABLE cases ADD COLUMN review_decided_by_court_id INTEGER REFERENCES courts (id);

-- An extension of the handling period (信访工作条例: once, up to 30 days, with the approval of
-- the person in charge, 负责人批准). A request changes nothing; `cases.extension_days` is set
-- only when a supervisor other than the requester approves it.
CREATE TABLE case_extensions (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    days INTEGER NOT NULL CHECK (days BETWEEN 1 AND 30),
    reason TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    -- NULL only for the extensions migrated below, which nobody approved.
    requested_by INTEGER REFERENCES users (id),
    requested_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'refused')),
    decided_by INTEGER REFERENCES users (id),
    decided_at TEXT,
    decision_note TEXT,
    CHECK ((status = 'pending') = (decided_by IS NULL)),
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK (decided_by IS NULL OR requested_by IS NULL OR decided_by <> requested_by)
);
-- One live request or approval per case: the handling period is extended once.
CREATE UNIQUE INDEX case_extensions_once ON case_extensions (case_id) WHERE status IN ('pending', 'approved');

-- Extensions recorded before approvals existed had none: they stop applying and wait, as
-- requests, for a person in charge.
INSERT INTO case_extensions (case_id, days, reason, requested_by, requested_at, status)
    SELECT id, extension_days, COALESCE(NULLIF(trim(extension_reason), ''), '(迁移: 原延期未经批准)'),
           NULL, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'pending'
    FROM cases WHERE extension_days > 0;
UPDATE cases SET extension_days = 0 WHERE extension_days > 0;

-- The years whose national calendar is loaded. A day of any other year is not known to be a
-- working day: no slot is published on it unless an admin allows the year, and a clock that
-- ends in it is provisional.
CREATE TABLE calendar_years (
    year INTEGER PRIMARY KEY CHECK (year BETWEEN 2000 AND 2100),
    loaded BOOLEAN NOT NULL DEFAULT FALSE,
    loaded_by TEXT,
    loaded_at TEXT,
    -- An admin's explicit leave to publish slots on the plain Monday–Friday pattern.
    allow_unloaded BOOLEAN NOT NULL DEFAULT FALSE,
    allowed_by TEXT,
    allowed_at TEXT
);
INSERT INTO calendar_years (year, loaded, loaded_by, loaded_at)
    SELECT DISTINCT CAST(substr(day, 1, 4) AS INTEGER), TRUE, 'migration', strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
    FROM calendar_days;
