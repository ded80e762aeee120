-- Issue 16, the court's petition ledger (台账). Cases are opened through the API with their class
-- (诉访分离), petitioners, the underlying lawsuit and the matter; every contact is an append-only
-- ledger entry that says who received it and where; outcomes use the terms courts use
-- (docs/outcomes.md, which also lists how the old session outcome values were mapped).

-- Cases ----------------------------------------------------------------------------------------
ALTER TABLE cases ADD COLUMN case_class TEXT NOT NULL DEFAULT 'petition'
    CHECK (case_class IN ('litigation', 'petition'));
-- How many petitioners share the matter; 集体访 (collective) is derived from it: five or more.
ALTER TABLE cases ADD COLUMN petitioner_count INTEGER NOT NULL DEFAULT 1 CHECK (petitioner_count >= 1);
ALTER TABLE cases ADD COLUMN representative TEXT;
-- The underlying lawsuit: 原审案号, 原审法院, 案件类型.
ALTER TABLE cases ADD COLUMN original_case_number TEXT;
ALTER TABLE cases ADD COLUMN original_court TEXT;
ALTER TABLE cases ADD COLUMN original_case_kind TEXT;
-- The matter in the petitioner's words (the existing `subject` is the summary).
ALTER TABLE cases ADD COLUMN matter TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN intake_channel TEXT
    CHECK (intake_channel IN ('local_visit', 'letter', 'phone', 'online', 'video_spc', 'video_high',
                              'video_intermediate', 'to_province', 'to_beijing'));
ALTER TABLE cases ADD COLUMN opened_by TEXT;
ALTER TABLE cases ADD COLUMN opened_at TEXT;

-- What is already there: the summary stands for the matter, the first contact for the channel,
-- and a case already flagged collective holds five petitioners so that the derived flag agrees.
UPDATE cases SET matter = subject, opened_at = created_at,
    petitioner_count = CASE WHEN collective THEN 5 ELSE 1 END,
    intake_channel = (SELECT l.channel FROM ledger_entries l WHERE l.case_id = cases.id
                      ORDER BY l.at, l.id LIMIT 1);
CREATE INDEX cases_by_original_number ON cases (original_case_number)
    WHERE original_case_number IS NOT NULL;

-- Session outcomes: the new set. SQLite cannot change a CHECK in place; the column is renamed,
-- added again with the new CHECK, filled through the mapping, and the old one dropped.
ALTER TABLE sessions RENAME COLUMN outcome TO outcome_before_0016;
ALTER TABLE sessions ADD COLUMN outcome TEXT CHECK (outcome IN ('explained_law', 'into_procedure',
    'review_filed', 'not_within_scope', 'no_longer_accepted', 'concluded', 'judicial_aid', 'assign',
    'supervise', 'reception_stopped', 'withdrawn'));
UPDATE sessions SET outcome = CASE outcome_before_0016
    WHEN 'reply' THEN 'explained_law'
    WHEN 'assign' THEN 'assign'
    WHEN 'transfer' THEN 'assign'
    WHEN 'supervise' THEN 'supervise'
    WHEN 'review_filed' THEN 'review_filed'
    WHEN 'stop_notice' THEN 'withdrawn'
    WHEN 'reschedule' THEN 'reception_stopped'
    END
WHERE outcome_before_0016 IS NOT NULL;
ALTER TABLE sessions DROP COLUMN outcome_before_0016;

-- Ledger entries: rebuilt, to add the phone channel to the CHECK and the new columns. -------
CREATE TABLE ledger_entries_0016 (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    at TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('local_visit', 'letter', 'phone', 'online', 'video_spc',
        'video_high', 'video_intermediate', 'to_province', 'to_beijing')),
    counted_as TEXT NOT NULL CHECK (counted_as IN ('local', 'province', 'beijing')),
    session_id INTEGER UNIQUE REFERENCES sessions (id),
    note TEXT NOT NULL,
    -- Placement of the case's court, filled by the trigger below (0005).
    court_id INTEGER,
    city_court_id INTEGER,
    province_court_id INTEGER,
    first_contact BOOLEAN NOT NULL DEFAULT FALSE,
    connected_minutes BIGINT,
    -- Who received the contact (a name or office), and which body: a court (receiving_court_id)
    -- or a non-court organ above (provincial or central petition bureau), for 越级访.
    received_by TEXT,
    receiving_court_id INTEGER REFERENCES courts (id),
    receiving_organ TEXT NOT NULL DEFAULT 'court'
        CHECK (receiving_organ IN ('court', 'provincial_organ', 'central_organ')),
    -- A contact the court made or arranged itself (its video receptions, its follow-up calls):
    -- never a repeat petition.
    court_initiated BOOLEAN NOT NULL DEFAULT FALSE,
    outcome TEXT CHECK (outcome IN ('explained_law', 'into_procedure', 'review_filed',
        'not_within_scope', 'no_longer_accepted', 'concluded', 'judicial_aid', 'assign',
        'supervise', 'reception_stopped', 'withdrawn')),
    -- A correction is a new entry pointing at the one it corrects, with its reason.
    corrects_id INTEGER REFERENCES ledger_entries (id),
    correction_reason TEXT,
    recorded_by TEXT,
    recorded_at TEXT,
    CHECK ((corrects_id IS NULL) = (correction_reason IS NULL)),
    CHECK (receiving_organ = 'court' OR receiving_court_id IS NULL),
    CHECK (session_id IS NULL OR court_initiated)
);
INSERT INTO ledger_entries_0016 (id, case_id, at, channel, counted_as, session_id, note, court_id,
    city_court_id, province_court_id, first_contact, connected_minutes, received_by,
    receiving_court_id, receiving_organ, court_initiated, outcome, recorded_at)
SELECT l.id, l.case_id, l.at, l.channel, l.counted_as, l.session_id, l.note, l.court_id,
    l.city_court_id, l.province_court_id, l.first_contact, l.connected_minutes, NULL,
    -- A video reception was received by its host court; a petition in person at the province
    -- by the high court, in Beijing by the SPC; anything else by the case's own court.
    CASE
        WHEN l.session_id IS NOT NULL THEN (SELECT hr.court_id FROM sessions s
            JOIN bookings b ON b.id = s.booking_id JOIN slots sl ON sl.id = b.slot_id
            JOIN host_rooms hr ON hr.id = sl.host_room_id WHERE s.id = l.session_id)
        WHEN l.channel = 'to_province' THEN l.province_court_id
        WHEN l.channel = 'to_beijing' THEN (SELECT id FROM courts WHERE level = 'supreme' ORDER BY id LIMIT 1)
        ELSE l.court_id
    END,
    'court', l.session_id IS NOT NULL,
    (SELECT s.outcome FROM sessions s WHERE s.id = l.session_id), l.at
FROM ledger_entries l;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_0016 RENAME TO ledger_entries;

CREATE INDEX ledger_entries_by_case ON ledger_entries (case_id, at);
CREATE INDEX ledger_entries_by_time ON ledger_entries
    (at, case_id, channel, counted_as, first_contact, court_id, city_court_id, province_court_id);
CREATE INDEX ledger_entries_by_province ON ledger_entries
    (province_court_id, at, case_id, channel, counted_as, first_contact, court_id, city_court_id);
CREATE INDEX ledger_entries_by_city ON ledger_entries
    (city_court_id, at, case_id, channel, counted_as, first_contact, court_id);
CREATE INDEX ledger_entries_by_court ON ledger_entries
    (court_id, at, case_id, channel, counted_as, first_contact);
CREATE INDEX ledger_entries_corrections ON ledger_entries (corrects_id) WHERE corrects_id IS NOT NULL;

-- As in 0005: the place of the case's court, and the first contact of the case.
CREATE TRIGGER ledger_entries_place AFTER INSERT ON ledger_entries
BEGIN
    UPDATE ledger_entries SET
        court_id = (SELECT court_id FROM cases WHERE id = NEW.case_id),
        city_court_id = (SELECT CASE WHEN c0.level = 'intermediate' THEN c0.id WHEN c1.level = 'intermediate' THEN c1.id
                WHEN c2.level = 'intermediate' THEN c2.id WHEN c3.level = 'intermediate' THEN c3.id END
         FROM courts c0 LEFT JOIN courts c1 ON c1.id = c0.parent_id
         LEFT JOIN courts c2 ON c2.id = c1.parent_id LEFT JOIN courts c3 ON c3.id = c2.parent_id
         WHERE c0.id = (SELECT court_id FROM cases WHERE id = NEW.case_id)),
        province_court_id = (SELECT CASE WHEN c0.level = 'high' THEN c0.id WHEN c1.level = 'high' THEN c1.id
                WHEN c2.level = 'high' THEN c2.id WHEN c3.level = 'high' THEN c3.id END
         FROM courts c0 LEFT JOIN courts c1 ON c1.id = c0.parent_id
         LEFT JOIN courts c2 ON c2.id = c1.parent_id LEFT JOIN courts c3 ON c3.id = c2.parent_id
         WHERE c0.id = (SELECT court_id FROM cases WHERE id = NEW.case_id))
    WHERE id = NEW.id;
    UPDATE ledger_entries SET first_contact = NOT EXISTS (
        SELECT 1 FROM ledger_entries o WHERE o.case_id = NEW.case_id AND o.id <> NEW.id AND o.at <= NEW.at)
    WHERE id = NEW.id;
    UPDATE ledger_entries SET first_contact = FALSE
    WHERE case_id = NEW.case_id AND id <> NEW.id AND first_contact
      AND (SELECT first_contact FROM ledger_entries WHERE id = NEW.id);
END;

-- 有访必录: what was recorded stays. Only the derived placement and first-contact columns may be
-- written after the insert (by the trigger above); a mistake is corrected by a new entry.
CREATE TRIGGER ledger_entries_append_only_update BEFORE UPDATE ON ledger_entries
WHEN OLD.id IS NOT NEW.id OR OLD.case_id IS NOT NEW.case_id OR OLD.at IS NOT NEW.at
    OR OLD.channel IS NOT NEW.channel OR OLD.counted_as IS NOT NEW.counted_as
    OR OLD.session_id IS NOT NEW.session_id OR OLD.note IS NOT NEW.note
    OR OLD.connected_minutes IS NOT NEW.connected_minutes OR OLD.received_by IS NOT NEW.received_by
    OR OLD.receiving_court_id IS NOT NEW.receiving_court_id
    OR OLD.receiving_organ IS NOT NEW.receiving_organ OR OLD.court_initiated IS NOT NEW.court_initiated
    OR OLD.outcome IS NOT NEW.outcome OR OLD.corrects_id IS NOT NEW.corrects_id
    OR OLD.correction_reason IS NOT NEW.correction_reason OR OLD.recorded_by IS NOT NEW.recorded_by
    OR OLD.recorded_at IS NOT NEW.recorded_at
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append-only: record a correction instead');
END;
CREATE TRIGGER ledger_entries_append_only_delete BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append-only: record a correction instead');
END;
