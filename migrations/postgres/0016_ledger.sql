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
ALTER TABLE cases ADD COLUMN opened_at TIMESTAMPTZ;

-- What is already there: the summary stands for the matter, the first contact for the channel,
-- and a case already flagged collective holds five petitioners so that the derived flag agrees.
UPDATE cases SET matter = subject, opened_at = created_at,
    petitioner_count = CASE WHEN collective THEN 5 ELSE 1 END,
    intake_channel = (SELECT l.channel FROM ledger_entries l WHERE l.case_id = cases.id
                      ORDER BY l.at, l.id LIMIT 1);
CREATE INDEX cases_by_original_number ON cases (original_case_number)
    WHERE original_case_number IS NOT NULL;

-- Session outcomes: the new set, the old values mapped (docs/outcomes.md).
ALTER TABLE sessions DROP CONSTRAINT sessions_outcome_check;
UPDATE sessions SET outcome = CASE outcome
    WHEN 'reply' THEN 'explained_law'
    WHEN 'assign' THEN 'assign'
    WHEN 'transfer' THEN 'assign'
    WHEN 'supervise' THEN 'supervise'
    WHEN 'review_filed' THEN 'review_filed'
    WHEN 'stop_notice' THEN 'withdrawn'
    WHEN 'reschedule' THEN 'reception_stopped'
    END
WHERE outcome IS NOT NULL;
ALTER TABLE sessions ADD CONSTRAINT sessions_outcome_check CHECK (outcome IN ('explained_law',
    'into_procedure', 'review_filed', 'not_within_scope', 'no_longer_accepted', 'concluded',
    'judicial_aid', 'assign', 'supervise', 'reception_stopped', 'withdrawn'));

-- Ledger entries ---------------------------------------------------------------------------------
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_channel_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_channel_check CHECK (channel IN ('local_visit',
    'letter', 'phone', 'online', 'video_spc', 'video_high', 'video_intermediate', 'to_province',
    'to_beijing'));
ALTER TABLE ledger_entries
    -- Who received the contact (a name or office), and which body: a court (receiving_court_id)
    -- or a non-court organ above (provincial or central petition bureau), for 越级访.
    ADD COLUMN received_by TEXT,
    ADD COLUMN receiving_court_id BIGINT REFERENCES courts (id),
    ADD COLUMN receiving_organ TEXT NOT NULL DEFAULT 'court'
        CHECK (receiving_organ IN ('court', 'provincial_organ', 'central_organ')),
    -- A contact the court made or arranged itself (its video receptions, its follow-up calls):
    -- never a repeat petition.
    ADD COLUMN court_initiated BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN outcome TEXT CHECK (outcome IN ('explained_law', 'into_procedure', 'review_filed',
        'not_within_scope', 'no_longer_accepted', 'concluded', 'judicial_aid', 'assign',
        'supervise', 'reception_stopped', 'withdrawn')),
    -- A correction is a new entry pointing at the one it corrects, with its reason.
    ADD COLUMN corrects_id BIGINT REFERENCES ledger_entries (id),
    ADD COLUMN correction_reason TEXT,
    ADD COLUMN recorded_by TEXT,
    ADD COLUMN recorded_at TIMESTAMPTZ;

-- What is already there. A video reception was received by its host court; a petition in
-- person at the province by the high court, in Beijing by the SPC; anything else by the case's
-- own court.
UPDATE ledger_entries l SET
    court_initiated = l.session_id IS NOT NULL,
    receiving_court_id = CASE
        WHEN l.session_id IS NOT NULL THEN (SELECT hr.court_id FROM sessions s
            JOIN bookings b ON b.id = s.booking_id JOIN slots sl ON sl.id = b.slot_id
            JOIN host_rooms hr ON hr.id = sl.host_room_id WHERE s.id = l.session_id)
        WHEN l.channel = 'to_province' THEN l.province_court_id
        WHEN l.channel = 'to_beijing' THEN (SELECT id FROM courts WHERE level = 'supreme' ORDER BY id LIMIT 1)
        ELSE l.court_id
    END,
    outcome = (SELECT s.outcome FROM sessions s WHERE s.id = l.session_id),
    recorded_at = l.at;

ALTER TABLE ledger_entries
    ADD CONSTRAINT ledger_entries_correction_has_reason CHECK ((corrects_id IS NULL) = (correction_reason IS NULL)),
    ADD CONSTRAINT ledger_entries_organ_or_court CHECK (receiving_organ = 'court' OR receiving_court_id IS NULL),
    ADD CONSTRAINT ledger_entries_session_is_court_initiated CHECK (session_id IS NULL OR court_initiated);
CREATE INDEX ledger_entries_corrections ON ledger_entries (corrects_id) WHERE corrects_id IS NOT NULL;

-- 有访必录: what was recorded stays. Only the derived placement and first-contact columns may be
-- written after the insert (by courtlink_place_ledger_entry); a mistake is corrected by a new entry.
CREATE FUNCTION courtlink_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (OLD.id, OLD.case_id, OLD.at, OLD.channel, OLD.counted_as, OLD.session_id,
            OLD.note, OLD.connected_minutes, OLD.received_by, OLD.receiving_court_id,
            OLD.receiving_organ, OLD.court_initiated, OLD.outcome, OLD.corrects_id,
            OLD.correction_reason, OLD.recorded_by, OLD.recorded_at)
        IS NOT DISTINCT FROM (NEW.id, NEW.case_id, NEW.at, NEW.channel, NEW.counted_as, NEW.session_id,
            NEW.note, NEW.connected_minutes, NEW.received_by, NEW.receiving_court_id,
            NEW.receiving_organ, NEW.court_initiated, NEW.outcome, NEW.corrects_id,
            NEW.correction_reason, NEW.recorded_by, NEW.recorded_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'ledger_entries is append-only: record a correction instead'
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION courtlink_ledger_append_only();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION courtlink_ledger_append_only();
