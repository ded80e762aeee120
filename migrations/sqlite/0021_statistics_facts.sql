-- The 三高三低 statistics without a case per row (docs/statistics.md, "How the figures are kept
-- fast"). The country's month read each session's and each contact's case for its class, and
-- probed each contact's case history for the repeat and first-visit tests: 84 000 sessions and
-- 113 000 contacts, one case lookup and a few history probes each. Now every booking carries its
-- case's class, and every ledger entry its case's class and collective flag and the facts that
-- depend on the rest of the case's ledger, so that a report reads index ranges only:
--
--   replaced         a correction replaced the entry (it no longer stands);
--   repeat_petition  a petition (not court_initiated) after the case's first standing answer;
--   first_visit      the case's first standing entry (of two at one instant, the one entered
--                    first): the case was first received (初访) at this entry's time;
--   case_closed      the case has a standing answer and no standing petition after the first
--                    one (read on the first visit: 初访结案).
--
-- Triggers keep them: an insert recomputes its case's entries (a case has a handful); a class or
-- collective change (app::ledger::change_class) rewrites the case's bookings and entries. The
-- definitions are the ones docs/statistics.md gives; the list of answering outcomes is
-- store::records::ANSWERS (a unit test there checks that each list below is the same).

ALTER TABLE bookings ADD COLUMN case_class TEXT;
ALTER TABLE ledger_entries ADD COLUMN case_class TEXT;
ALTER TABLE ledger_entries ADD COLUMN case_collective BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE ledger_entries ADD COLUMN replaced BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE ledger_entries ADD COLUMN repeat_petition BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE ledger_entries ADD COLUMN first_visit BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE ledger_entries ADD COLUMN case_closed BOOLEAN NOT NULL DEFAULT FALSE;

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
UPDATE bookings SET case_class = (SELECT case_class FROM cases WHERE id = bookings.case_id);
UPDATE ledger_entries SET replaced = TRUE
WHERE id IN (SELECT corrects_id FROM ledger_entries WHERE corrects_id IS NOT NULL);
UPDATE ledger_entries SET case_class = f.case_class, case_collective = f.case_collective,
    repeat_petition = f.repeat_petition, first_visit = f.first_visit, case_closed = f.case_closed
FROM (
    SELECT s.id, s.case_class, s.case_collective,
        COALESCE(NOT s.court_initiated AND s.first_answer < s.at, FALSE) AS repeat_petition,
        (NOT s.replaced AND s.rank = 1) AS first_visit,
        (s.first_answer IS NOT NULL AND (s.last_petition IS NULL OR s.last_petition <= s.first_answer))
            AS case_closed
    FROM (
        SELECT e.id, e.at, e.replaced, e.court_initiated, c.case_class, c.collective AS case_collective,
            MIN(CASE WHEN NOT e.replaced AND e.outcome IN ('explained_law', 'into_procedure',
                'review_filed', 'not_within_scope', 'no_longer_accepted', 'concluded', 'withdrawn')
                THEN e.at END) OVER w AS first_answer,
            MAX(CASE WHEN NOT e.replaced AND NOT e.court_initiated THEN e.at END) OVER w AS last_petition,
            ROW_NUMBER() OVER (PARTITION BY e.case_id ORDER BY e.replaced, e.at, e.id) AS rank
        FROM ledger_entries e JOIN cases c ON c.id = e.case_id
        WINDOW w AS (PARTITION BY e.case_id)
    ) s
) f
WHERE ledger_entries.id = f.id;

-- And what comes. (SQLite: a BEFORE trigger cannot set NEW, so these update the row after.)
CREATE TRIGGER bookings_case_class_insert AFTER INSERT ON bookings
BEGIN
    UPDATE bookings SET case_class = (SELECT case_class FROM cases WHERE id = NEW.case_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER bookings_case_class_update AFTER UPDATE OF case_id ON bookings
BEGIN
    UPDATE bookings SET case_class = (SELECT case_class FROM cases WHERE id = NEW.case_id)
    WHERE id = NEW.id;
END;
CREATE TRIGGER cases_class_to_rows AFTER UPDATE OF case_class, collective ON cases
WHEN OLD.case_class IS NOT NEW.case_class OR OLD.collective IS NOT NEW.collective
BEGIN
    UPDATE bookings SET case_class = NEW.case_class
    WHERE case_id = NEW.id AND case_class IS NOT NEW.case_class;
    UPDATE ledger_entries SET case_class = NEW.case_class, case_collective = NEW.collective
    WHERE case_id = NEW.id
      AND (case_class IS NOT NEW.case_class OR case_collective IS NOT NEW.collective);
END;
-- A new entry: the entry it corrects no longer stands, and the case's facts are recounted (the
-- new entry may be earlier than others, an answer, a petition after an answer, or a correction
-- that takes an answer or a first contact away).
CREATE TRIGGER ledger_entries_case_facts AFTER INSERT ON ledger_entries
BEGIN
    UPDATE ledger_entries SET replaced = TRUE WHERE id = NEW.corrects_id AND NOT replaced;
    UPDATE ledger_entries SET case_class = f.case_class, case_collective = f.case_collective,
        repeat_petition = f.repeat_petition, first_visit = f.first_visit, case_closed = f.case_closed
    FROM (
        SELECT s.id, s.case_class, s.case_collective,
            COALESCE(NOT s.court_initiated AND s.first_answer < s.at, FALSE) AS repeat_petition,
            (NOT s.replaced AND s.rank = 1) AS first_visit,
            (s.first_answer IS NOT NULL AND (s.last_petition IS NULL OR s.last_petition <= s.first_answer))
                AS case_closed
        FROM (
            SELECT e.id, e.at, e.replaced, e.court_initiated, c.case_class,
                c.collective AS case_collective,
                MIN(CASE WHEN NOT e.replaced AND e.outcome IN ('explained_law', 'into_procedure',
                    'review_filed', 'not_within_scope', 'no_longer_accepted', 'concluded', 'withdrawn')
                    THEN e.at END) OVER w AS first_answer,
                MAX(CASE WHEN NOT e.replaced AND NOT e.court_initiated THEN e.at END) OVER w
                    AS last_petition,
                ROW_NUMBER() OVER (ORDER BY e.replaced, e.at, e.id) AS rank
            FROM ledger_entries e JOIN cases c ON c.id = e.case_id
            WHERE e.case_id = NEW.case_id
            WINDOW w AS ()
        ) s
    ) f
    WHERE ledger_entries.id = f.id
      AND (ledger_entries.case_class IS NOT f.case_class
        OR ledger_entries.case_collective IS NOT f.case_collective
        OR ledger_entries.repeat_petition IS NOT f.repeat_petition
        OR ledger_entries.first_visit IS NOT f.first_visit
        OR ledger_entries.case_closed IS NOT f.case_closed);
END;

-- The statistics read these and nothing else: the scope's index range over the period, with
-- every column a report counts (SQLite has no INCLUDE: the extra columns close the keys). The
-- log pages read the same bookings indexes by their leading (scope, starts_at, id).
CREATE INDEX bookings_by_start ON bookings
    (starts_at, id, status, local_court_id, city_court_id, province_court_id, host_court_id, case_class);
CREATE INDEX bookings_by_province ON bookings
    (province_court_id, starts_at, id, status, local_court_id, city_court_id, host_court_id, case_class);
CREATE INDEX bookings_by_city ON bookings
    (city_court_id, starts_at, id, status, local_court_id, host_court_id, case_class);
CREATE INDEX bookings_by_local_court ON bookings
    (local_court_id, starts_at, id, status, host_court_id, case_class);
CREATE INDEX sessions_by_booking_facts ON sessions
    (booking_id, status, started_at, ended_at, satisfaction, interrupted_seconds, identity_confirmed_how);
CREATE INDEX ledger_entries_by_time ON ledger_entries
    (at, replaced, case_class, court_id, city_court_id, province_court_id, case_id, channel,
     court_initiated, receiving_organ, receiving_court_id, case_collective, repeat_petition,
     first_visit, case_closed);
CREATE INDEX ledger_entries_by_province ON ledger_entries
    (province_court_id, at, replaced, case_class, court_id, city_court_id, case_id, channel,
     court_initiated, receiving_organ, receiving_court_id, case_collective, repeat_petition,
     first_visit, case_closed);
CREATE INDEX ledger_entries_by_city ON ledger_entries
    (city_court_id, at, replaced, case_class, court_id, case_id, channel,
     court_initiated, receiving_organ, receiving_court_id, case_collective, repeat_petition,
     first_visit, case_closed);
CREATE INDEX ledger_entries_by_court ON ledger_entries
    (court_id, at, replaced, case_class, case_id, channel,
     court_initiated, receiving_organ, receiving_court_id, case_collective, repeat_petition,
     first_visit, case_closed);

-- The planner's statistics for the new indexes (sampled, as `courtlink generate` does).
PRAGMA analysis_limit = 1000;
ANALYZE bookings;
ANALYZE sessions;
ANALYZE ledger_entries;
