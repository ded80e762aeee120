-- The 三高三低 statistics without a case per row (docs/statistics.md, "How the figures are kept
-- fast"). The country's month read each session's and each contact's case for its class, and
-- probed each contact's case history for the repeat and first-visit tests. Now every booking
-- carries its case's class, and every ledger entry its case's class and collective flag and the
-- facts that depend on the rest of the case's ledger, so that a report reads index ranges only:
--
--   replaced         a correction replaced the entry (it no longer stands);
--   repeat_petition  a petition (not court_initiated) after the case's first standing answer;
--   first_visit      the case's first standing entry (of two at one instant, the one entered
--                    first): the case was first received (初访) at this entry's time;
--   case_closed      the case has a standing answer and no standing petition after the first
--                    one (read on the first visit: 初访结案).
--
-- Triggers keep them: an insert recounts its cases' entries (a case has a handful); a class or
-- collective change (app::ledger::change_class) rewrites the case's bookings and entries. The
-- definitions are the ones docs/statistics.md gives; the list of answering outcomes is
-- store::records::ANSWERS (a unit test there checks that the list below is the same).

ALTER TABLE bookings ADD COLUMN case_class TEXT;
ALTER TABLE ledger_entries
    ADD COLUMN case_class TEXT,
    ADD COLUMN case_collective BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN replaced BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN repeat_petition BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN first_visit BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN case_closed BOOLEAN NOT NULL DEFAULT FALSE;

-- The facts of every entry, from its case and the case's other entries (`replaced` as stored).
-- A filter on case_id is pushed inside the window (it is the partition).
CREATE VIEW ledger_case_facts AS
SELECT s.id, s.case_id, s.case_class, s.case_collective,
    COALESCE(NOT s.court_initiated AND s.first_answer < s.at, FALSE) AS repeat_petition,
    (NOT s.replaced AND s.rank = 1) AS first_visit,
    (s.first_answer IS NOT NULL AND (s.last_petition IS NULL OR s.last_petition <= s.first_answer))
        AS case_closed
FROM (
    SELECT e.id, e.case_id, e.at, e.replaced, e.court_initiated, c.case_class,
        c.collective AS case_collective,
        MIN(CASE WHEN NOT e.replaced AND e.outcome IN ('explained_law', 'into_procedure',
            'review_filed', 'not_within_scope', 'no_longer_accepted', 'concluded', 'withdrawn')
            THEN e.at END) OVER w AS first_answer,
        MAX(CASE WHEN NOT e.replaced AND NOT e.court_initiated THEN e.at END) OVER w AS last_petition,
        ROW_NUMBER() OVER (PARTITION BY e.case_id ORDER BY e.replaced, e.at, e.id) AS rank
    FROM ledger_entries e JOIN cases c ON c.id = e.case_id
    WINDOW w AS (PARTITION BY e.case_id)
) s;

-- The statistics indexes are rebuilt below with the new columns; dropped first, so that the
-- backfill does not maintain them row by row.
DROP INDEX bookings_by_start;
DROP INDEX bookings_by_province;
DROP INDEX bookings_by_city;
DROP INDEX bookings_by_local_court;
DROP INDEX sessions_by_booking_facts;
DROP INDEX ledger_entries_by_time;
DROP INDEX ledger_entries_by_province;
DROP INDEX ledger_entries_by_city;
DROP INDEX ledger_entries_by_court;

-- What is already there.
UPDATE bookings b SET case_class = c.case_class FROM cases c WHERE c.id = b.case_id;
UPDATE ledger_entries SET replaced = TRUE
WHERE id IN (SELECT corrects_id FROM ledger_entries WHERE corrects_id IS NOT NULL);
UPDATE ledger_entries l SET case_class = f.case_class, case_collective = f.case_collective,
    repeat_petition = f.repeat_petition, first_visit = f.first_visit, case_closed = f.case_closed
FROM ledger_case_facts f
WHERE l.id = f.id;

-- And what comes.
CREATE FUNCTION courtlink_booking_case_class() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.case_class := (SELECT case_class FROM cases WHERE id = NEW.case_id);
    RETURN NEW;
END $$;
CREATE TRIGGER bookings_case_class BEFORE INSERT OR UPDATE OF case_id ON bookings
    FOR EACH ROW EXECUTE FUNCTION courtlink_booking_case_class();

CREATE FUNCTION courtlink_case_class_to_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bookings SET case_class = NEW.case_class
    WHERE case_id = NEW.id AND case_class IS DISTINCT FROM NEW.case_class;
    UPDATE ledger_entries SET case_class = NEW.case_class, case_collective = NEW.collective
    WHERE case_id = NEW.id
      AND (case_class, case_collective) IS DISTINCT FROM (NEW.case_class, NEW.collective);
    RETURN NULL;
END $$;
CREATE TRIGGER cases_class_to_rows AFTER UPDATE OF case_class, collective ON cases
    FOR EACH ROW WHEN (OLD.case_class IS DISTINCT FROM NEW.case_class
                       OR OLD.collective IS DISTINCT FROM NEW.collective)
    EXECUTE FUNCTION courtlink_case_class_to_rows();

-- New entries: the entries they correct no longer stand, and their cases' facts are recounted
-- (a new entry may be earlier than others, an answer, a petition after an answer, or a
-- correction that takes an answer or a first contact away). Once per statement, so that a bulk
-- insert recounts each case once. Writers of one case are serialised by the row lock that
-- courtlink_place_ledger_entry takes on the case.
CREATE FUNCTION courtlink_ledger_case_facts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched BIGINT[];
BEGIN
    UPDATE ledger_entries SET replaced = TRUE
    WHERE id IN (SELECT corrects_id FROM added WHERE corrects_id IS NOT NULL) AND NOT replaced;
    touched := ARRAY(SELECT DISTINCT case_id FROM added);
    UPDATE ledger_entries l SET case_class = f.case_class, case_collective = f.case_collective,
        repeat_petition = f.repeat_petition, first_visit = f.first_visit, case_closed = f.case_closed
    FROM ledger_case_facts f
    WHERE f.case_id = ANY (touched) AND l.id = f.id
      AND (l.case_class, l.case_collective, l.repeat_petition, l.first_visit, l.case_closed)
          IS DISTINCT FROM (f.case_class, f.case_collective, f.repeat_petition, f.first_visit,
                            f.case_closed);
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_case_facts AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION courtlink_ledger_case_facts();

-- The statistics read these and nothing else: the scope's index range over the period, with
-- every column a report counts. The log pages read the same bookings indexes by their keys.
CREATE INDEX bookings_by_start ON bookings (starts_at, id)
    INCLUDE (status, local_court_id, city_court_id, province_court_id, host_court_id, case_class);
CREATE INDEX bookings_by_province ON bookings (province_court_id, starts_at, id)
    INCLUDE (status, local_court_id, city_court_id, host_court_id, case_class);
CREATE INDEX bookings_by_city ON bookings (city_court_id, starts_at, id)
    INCLUDE (status, local_court_id, host_court_id, case_class);
CREATE INDEX bookings_by_local_court ON bookings (local_court_id, starts_at, id)
    INCLUDE (status, host_court_id, case_class);
CREATE INDEX sessions_by_booking_facts ON sessions (booking_id)
    INCLUDE (status, started_at, ended_at, satisfaction, interrupted_seconds, identity_confirmed_how);
CREATE INDEX ledger_entries_by_time ON ledger_entries (at)
    INCLUDE (replaced, case_class, court_id, city_court_id, province_court_id, case_id, channel,
             court_initiated, receiving_organ, receiving_court_id, case_collective, repeat_petition,
             first_visit, case_closed);
CREATE INDEX ledger_entries_by_province ON ledger_entries (province_court_id, at)
    INCLUDE (replaced, case_class, court_id, city_court_id, case_id, channel,
             court_initiated, receiving_organ, receiving_court_id, case_collective, repeat_petition,
             first_visit, case_closed);
CREATE INDEX ledger_entries_by_city ON ledger_entries (city_court_id, at)
    INCLUDE (replaced, case_class, court_id, case_id, channel,
             court_initiated, receiving_organ, receiving_court_id, case_collective, repeat_petition,
             first_visit, case_closed);
CREATE INDEX ledger_entries_by_court ON ledger_entries (court_id, at)
    INCLUDE (replaced, case_class, case_id, channel,
             court_initiated, receiving_organ, receiving_court_id, case_collective, repeat_petition,
             first_visit, case_closed);

-- The planner's statistics for the new columns. (The rewritten rows are not all-visible until
-- the next VACUUM, which autovacuum soon runs after a rewrite of this size: until then the
-- covering indexes still visit the tables.)
ANALYZE bookings, sessions, ledger_entries;
