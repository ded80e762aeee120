-- Monthly tallies for the statistics (issue 21, item 4; docs/statistics.md, "How the figures are
-- kept fast"). A report on one calendar month (Beijing time) reads these instead of the month's
-- bookings and ledger entries: one row per (month, court, host court, class) that had any, kept
-- in the same transaction as every change that moves a figure.
--
-- Each row of bookings+sessions and each ledger entry adds what it counts to its month's tally
-- row; a change subtracts what the old row counted and adds what the new one counts. The
-- definitions are the ones of the report's own queries (store::records, `sessions_sql` and
-- `contacts_sql`); a test (tools: `tallies_equal_a_recount`) checks the tallies against those
-- queries on generated data with late entries, corrections and class changes.
--
-- Rows are never deleted from bookings, sessions or ledger entries (the ledger refuses it;
-- bookings and sessions are the records): there is no delete trigger. A court moved to another
-- parent needs the backfill of migration 0005 rerun, which moves its rows' tallies with them.

-- `cases` counts distinct cases, which does not add up from rows: each entry says whether it is
-- its case's first standing entry of its month (Beijing time), kept with the case's other facts
-- (0021).
ALTER TABLE ledger_entries ADD COLUMN month_first BOOLEAN NOT NULL DEFAULT FALSE;

UPDATE ledger_entries SET month_first = TRUE
WHERE id IN (
    SELECT id FROM (
        SELECT e.id, e.replaced,
            ROW_NUMBER() OVER (PARTITION BY e.case_id, strftime('%Y-%m', e.at, '+8 hours')
                               ORDER BY e.replaced, e.at, e.id) AS month_rank
        FROM ledger_entries e
    )
    WHERE NOT replaced AND month_rank = 1
);

DROP TRIGGER ledger_entries_case_facts;
CREATE TRIGGER ledger_entries_case_facts AFTER INSERT ON ledger_entries
BEGIN
    UPDATE ledger_entries SET replaced = TRUE WHERE id = NEW.corrects_id AND NOT replaced;
    UPDATE ledger_entries SET case_class = f.case_class, case_collective = f.case_collective,
        repeat_petition = f.repeat_petition, first_visit = f.first_visit, case_closed = f.case_closed,
        month_first = f.month_first
    FROM (
        SELECT s.id, s.case_class, s.case_collective,
            COALESCE(NOT s.court_initiated AND s.first_answer < s.at, FALSE) AS repeat_petition,
            (NOT s.replaced AND s.rank = 1) AS first_visit,
            (s.first_answer IS NOT NULL AND (s.last_petition IS NULL OR s.last_petition <= s.first_answer))
                AS case_closed,
            (NOT s.replaced AND s.month_rank = 1) AS month_first
        FROM (
            SELECT e.id, e.at, e.replaced, e.court_initiated, c.case_class,
                c.collective AS case_collective,
                MIN(CASE WHEN NOT e.replaced AND e.outcome IN ('explained_law', 'into_procedure',
                    'review_filed', 'not_within_scope', 'no_longer_accepted', 'concluded', 'withdrawn')
                    THEN e.at END) OVER w AS first_answer,
                MAX(CASE WHEN NOT e.replaced AND NOT e.court_initiated THEN e.at END) OVER w
                    AS last_petition,
                ROW_NUMBER() OVER (ORDER BY e.replaced, e.at, e.id) AS rank,
                ROW_NUMBER() OVER (PARTITION BY strftime('%Y-%m', e.at, '+8 hours')
                                   ORDER BY e.replaced, e.at, e.id) AS month_rank
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
        OR ledger_entries.case_closed IS NOT f.case_closed
        OR ledger_entries.month_first IS NOT f.month_first);
END;

-- The tallies. A court id of 0 stands for none (a high court's own rows have no province above
-- them): the upsert's key cannot hold NULLs. The views below give the NULLs back for the queries.
CREATE TABLE session_month_tallies (
    month TEXT NOT NULL,
    province_court_id INTEGER NOT NULL,
    city_court_id INTEGER NOT NULL,
    local_court_id INTEGER NOT NULL,
    host_court_id INTEGER NOT NULL,
    case_class TEXT NOT NULL,
    booked INTEGER NOT NULL,
    cancelled INTEGER NOT NULL,
    held INTEGER NOT NULL,
    held_unconfirmed INTEGER NOT NULL,
    held_recording_gap INTEGER NOT NULL,
    held_unrecorded INTEGER NOT NULL,
    no_show INTEGER NOT NULL,
    interrupted INTEGER NOT NULL,
    timed INTEGER NOT NULL,
    duration_seconds REAL NOT NULL,
    rated INTEGER NOT NULL,
    satisfied INTEGER NOT NULL,
    PRIMARY KEY (month, province_court_id, city_court_id, local_court_id, host_court_id, case_class)
) WITHOUT ROWID;

CREATE TABLE contact_month_tallies (
    month TEXT NOT NULL,
    province_court_id INTEGER NOT NULL,
    city_court_id INTEGER NOT NULL,
    court_id INTEGER NOT NULL,
    case_class TEXT NOT NULL,
    contacts INTEGER NOT NULL,
    petitions INTEGER NOT NULL,
    cases INTEGER NOT NULL,
    repeat INTEGER NOT NULL,
    skip_level INTEGER NOT NULL,
    collective INTEGER NOT NULL,
    video_spc INTEGER NOT NULL,
    video_high INTEGER NOT NULL,
    to_beijing INTEGER NOT NULL,
    to_province INTEGER NOT NULL,
    first_visits INTEGER NOT NULL,
    first_visits_closed INTEGER NOT NULL,
    PRIMARY KEY (month, province_court_id, city_court_id, court_id, case_class)
) WITHOUT ROWID;

CREATE VIEW session_tallies AS
SELECT month, NULLIF(province_court_id, 0) AS province_court_id,
    NULLIF(city_court_id, 0) AS city_court_id, local_court_id,
    NULLIF(host_court_id, 0) AS host_court_id, case_class, booked, cancelled, held,
    held_unconfirmed, held_recording_gap, held_unrecorded, no_show, interrupted, timed,
    duration_seconds, rated, satisfied
FROM session_month_tallies;

CREATE VIEW contact_tallies AS
SELECT month, NULLIF(province_court_id, 0) AS province_court_id,
    NULLIF(city_court_id, 0) AS city_court_id, NULLIF(court_id, 0) AS court_id, case_class,
    contacts, petitions, cases, repeat, skip_level, collective, video_spc, video_high, to_beijing,
    to_province, first_visits, first_visits_closed
FROM contact_month_tallies;

-- A report reads one month in one scope: the country reads the month's rows (the key's first
-- column); a province, a city or a court reads its own through these (the views' NULLIFs,
-- indexed as the queries write them: 38 ms against 7 ms p99 for a province's month).
CREATE INDEX session_month_tallies_by_province
    ON session_month_tallies (month, NULLIF(province_court_id, 0));
CREATE INDEX session_month_tallies_by_city ON session_month_tallies (month, NULLIF(city_court_id, 0));
CREATE INDEX session_month_tallies_by_local_court ON session_month_tallies (month, local_court_id);
CREATE INDEX contact_month_tallies_by_province
    ON contact_month_tallies (month, NULLIF(province_court_id, 0));
CREATE INDEX contact_month_tallies_by_city ON contact_month_tallies (month, NULLIF(city_court_id, 0));
CREATE INDEX contact_month_tallies_by_court ON contact_month_tallies (month, NULLIF(court_id, 0));

-- SQLite has no functions of its own: what one row counts is written once, in the trigger of a
-- scratch table. A change inserts the row as it was (factor -1) and as it is (factor 1); the
-- trigger adds what each counts to its month, and takes the scratch row out again.
CREATE TABLE session_tally_moves (
    factor INTEGER NOT NULL,
    starts_at TEXT,
    booking_status TEXT,
    province_court_id INTEGER,
    city_court_id INTEGER,
    local_court_id INTEGER,
    host_court_id INTEGER,
    case_class TEXT,
    status TEXT,
    started_at TEXT,
    ended_at TEXT,
    identity_confirmed_how TEXT,
    recording_gap BOOLEAN,
    recorded BOOLEAN,
    interrupted_seconds INTEGER,
    satisfaction TEXT
);

CREATE TRIGGER session_tally_moves_apply AFTER INSERT ON session_tally_moves
BEGIN
    INSERT INTO session_month_tallies
    SELECT strftime('%Y-%m', NEW.starts_at, '+8 hours'), COALESCE(NEW.province_court_id, 0),
        COALESCE(NEW.city_court_id, 0), COALESCE(NEW.local_court_id, 0),
        COALESCE(NEW.host_court_id, 0), COALESCE(NEW.case_class, ''),
        NEW.factor * (CASE WHEN f.live THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN NEW.booking_status = 'cancelled' THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN f.held THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN f.held AND NEW.identity_confirmed_how IS NULL THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN f.held AND NEW.recording_gap THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN f.held AND NOT NEW.recorded THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN f.live AND NEW.status = 'no_show' THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN f.live AND (NEW.status = 'interrupted' OR NEW.interrupted_seconds > 0)
            THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN f.held AND f.timed THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN f.held AND f.timed
            THEN (julianday(NEW.ended_at) - julianday(NEW.started_at)) * 86400.0 ELSE 0.0 END),
        NEW.factor * (CASE WHEN f.held AND NEW.satisfaction IS NOT NULL THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN f.held AND NEW.satisfaction IN ('satisfied', 'basically_satisfied')
            THEN 1 ELSE 0 END)
    FROM (SELECT NEW.booking_status <> 'cancelled' AS live,
                 NEW.booking_status <> 'cancelled' AND NEW.status = 'ended' AS held,
                 NEW.started_at IS NOT NULL AND NEW.ended_at IS NOT NULL AS timed) f
    WHERE TRUE
    ON CONFLICT (month, province_court_id, city_court_id, local_court_id, host_court_id, case_class)
    DO UPDATE SET booked = booked + excluded.booked, cancelled = cancelled + excluded.cancelled,
        held = held + excluded.held, held_unconfirmed = held_unconfirmed + excluded.held_unconfirmed,
        held_recording_gap = held_recording_gap + excluded.held_recording_gap,
        held_unrecorded = held_unrecorded + excluded.held_unrecorded,
        no_show = no_show + excluded.no_show, interrupted = interrupted + excluded.interrupted,
        timed = timed + excluded.timed,
        duration_seconds = duration_seconds + excluded.duration_seconds,
        rated = rated + excluded.rated, satisfied = satisfied + excluded.satisfied;
    DELETE FROM session_tally_moves WHERE rowid = NEW.rowid;
END;

CREATE TABLE contact_tally_moves (
    factor INTEGER NOT NULL,
    at TEXT,
    province_court_id INTEGER,
    city_court_id INTEGER,
    court_id INTEGER,
    case_class TEXT,
    case_collective BOOLEAN,
    replaced BOOLEAN,
    repeat_petition BOOLEAN,
    first_visit BOOLEAN,
    case_closed BOOLEAN,
    month_first BOOLEAN,
    court_initiated BOOLEAN,
    channel TEXT,
    receiving_organ TEXT,
    receiving_court_id INTEGER
);

CREATE TRIGGER contact_tally_moves_apply AFTER INSERT ON contact_tally_moves
BEGIN
    INSERT INTO contact_month_tallies
    SELECT strftime('%Y-%m', NEW.at, '+8 hours'), COALESCE(NEW.province_court_id, 0),
        COALESCE(NEW.city_court_id, 0), COALESCE(NEW.court_id, 0), COALESCE(NEW.case_class, ''),
        NEW.factor,
        NEW.factor * (CASE WHEN NOT NEW.court_initiated THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN NEW.month_first THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN NEW.repeat_petition THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN NOT NEW.court_initiated AND f.received - f.own >= 2 THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN NOT NEW.court_initiated AND NEW.case_collective THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN NEW.channel = 'video_spc' THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN NEW.channel = 'video_high' THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN NEW.channel = 'to_beijing' THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN NEW.channel = 'to_province' THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN NEW.first_visit THEN 1 ELSE 0 END),
        NEW.factor * (CASE WHEN NEW.first_visit AND NEW.case_closed THEN 1 ELSE 0 END)
    FROM (
        SELECT own.level AS own,
            CASE WHEN NEW.receiving_organ = 'central_organ' THEN 3
                 WHEN NEW.receiving_organ = 'provincial_organ' THEN 2
                 WHEN rc.id IS NOT NULL THEN rc.level ELSE own.level END AS received
        FROM (SELECT 1) one
        LEFT JOIN (SELECT id, CASE level WHEN 'basic' THEN 0 WHEN 'intermediate' THEN 1
                       WHEN 'high' THEN 2 WHEN 'supreme' THEN 3 END AS level FROM courts) own
            ON own.id = NEW.court_id
        LEFT JOIN (SELECT id, CASE level WHEN 'basic' THEN 0 WHEN 'intermediate' THEN 1
                       WHEN 'high' THEN 2 WHEN 'supreme' THEN 3 END AS level FROM courts) rc
            ON rc.id = NEW.receiving_court_id
    ) f
    WHERE NOT NEW.replaced
    ON CONFLICT (month, province_court_id, city_court_id, court_id, case_class)
    DO UPDATE SET contacts = contacts + excluded.contacts,
        petitions = petitions + excluded.petitions, cases = cases + excluded.cases,
        repeat = repeat + excluded.repeat, skip_level = skip_level + excluded.skip_level,
        collective = collective + excluded.collective,
        video_spc = video_spc + excluded.video_spc, video_high = video_high + excluded.video_high,
        to_beijing = to_beijing + excluded.to_beijing,
        to_province = to_province + excluded.to_province,
        first_visits = first_visits + excluded.first_visits,
        first_visits_closed = first_visits_closed + excluded.first_visits_closed;
    DELETE FROM contact_tally_moves WHERE rowid = NEW.rowid;
END;

-- What is already there.
INSERT INTO session_tally_moves
SELECT 1, b.starts_at, b.status, b.province_court_id, b.city_court_id, b.local_court_id,
    b.host_court_id, b.case_class, s.status, s.started_at, s.ended_at, s.identity_confirmed_how,
    s.recording_gap, s.recorded, s.interrupted_seconds, s.satisfaction
FROM bookings b JOIN sessions s ON s.booking_id = b.id;
INSERT INTO contact_tally_moves
SELECT 1, l.at, l.province_court_id, l.city_court_id, l.court_id, l.case_class, l.case_collective,
    l.replaced, l.repeat_petition, l.first_visit, l.case_closed, l.month_first, l.court_initiated,
    l.channel, l.receiving_organ, l.receiving_court_id
FROM ledger_entries l;

-- And what comes. NEW and OLD are the row as the event left it and as it was before, whatever
-- other triggers then did to it, so the order in which triggers fire does not matter.
CREATE TRIGGER sessions_tallies_insert AFTER INSERT ON sessions
BEGIN
    INSERT INTO session_tally_moves
    SELECT 1, b.starts_at, b.status, b.province_court_id, b.city_court_id, b.local_court_id,
        b.host_court_id, b.case_class, NEW.status, NEW.started_at, NEW.ended_at,
        NEW.identity_confirmed_how, NEW.recording_gap, NEW.recorded, NEW.interrupted_seconds,
        NEW.satisfaction
    FROM bookings b WHERE b.id = NEW.booking_id;
END;
CREATE TRIGGER sessions_tallies_update AFTER UPDATE ON sessions
WHEN OLD.status IS NOT NEW.status OR OLD.started_at IS NOT NEW.started_at
    OR OLD.ended_at IS NOT NEW.ended_at
    OR OLD.identity_confirmed_how IS NOT NEW.identity_confirmed_how
    OR OLD.recording_gap IS NOT NEW.recording_gap OR OLD.recorded IS NOT NEW.recorded
    OR OLD.interrupted_seconds IS NOT NEW.interrupted_seconds
    OR OLD.satisfaction IS NOT NEW.satisfaction
BEGIN
    INSERT INTO session_tally_moves
    SELECT -1, b.starts_at, b.status, b.province_court_id, b.city_court_id, b.local_court_id,
        b.host_court_id, b.case_class, OLD.status, OLD.started_at, OLD.ended_at,
        OLD.identity_confirmed_how, OLD.recording_gap, OLD.recorded, OLD.interrupted_seconds,
        OLD.satisfaction
    FROM bookings b WHERE b.id = OLD.booking_id;
    INSERT INTO session_tally_moves
    SELECT 1, b.starts_at, b.status, b.province_court_id, b.city_court_id, b.local_court_id,
        b.host_court_id, b.case_class, NEW.status, NEW.started_at, NEW.ended_at,
        NEW.identity_confirmed_how, NEW.recording_gap, NEW.recorded, NEW.interrupted_seconds,
        NEW.satisfaction
    FROM bookings b WHERE b.id = NEW.booking_id;
END;
CREATE TRIGGER bookings_tallies AFTER UPDATE ON bookings
WHEN OLD.status IS NOT NEW.status OR OLD.starts_at IS NOT NEW.starts_at
    OR OLD.local_court_id IS NOT NEW.local_court_id OR OLD.city_court_id IS NOT NEW.city_court_id
    OR OLD.province_court_id IS NOT NEW.province_court_id
    OR OLD.host_court_id IS NOT NEW.host_court_id OR OLD.case_class IS NOT NEW.case_class
BEGIN
    INSERT INTO session_tally_moves
    SELECT -1, OLD.starts_at, OLD.status, OLD.province_court_id, OLD.city_court_id,
        OLD.local_court_id, OLD.host_court_id, OLD.case_class, s.status, s.started_at, s.ended_at,
        s.identity_confirmed_how, s.recording_gap, s.recorded, s.interrupted_seconds, s.satisfaction
    FROM sessions s WHERE s.booking_id = OLD.id;
    INSERT INTO session_tally_moves
    SELECT 1, NEW.starts_at, NEW.status, NEW.province_court_id, NEW.city_court_id,
        NEW.local_court_id, NEW.host_court_id, NEW.case_class, s.status, s.started_at, s.ended_at,
        s.identity_confirmed_how, s.recording_gap, s.recorded, s.interrupted_seconds, s.satisfaction
    FROM sessions s WHERE s.booking_id = NEW.id;
END;
CREATE TRIGGER ledger_entries_tallies_insert AFTER INSERT ON ledger_entries
BEGIN
    INSERT INTO contact_tally_moves VALUES (1, NEW.at, NEW.province_court_id, NEW.city_court_id,
        NEW.court_id, NEW.case_class, NEW.case_collective, NEW.replaced, NEW.repeat_petition,
        NEW.first_visit, NEW.case_closed, NEW.month_first, NEW.court_initiated, NEW.channel,
        NEW.receiving_organ, NEW.receiving_court_id);
END;
CREATE TRIGGER ledger_entries_tallies_update AFTER UPDATE ON ledger_entries
WHEN OLD.court_id IS NOT NEW.court_id OR OLD.city_court_id IS NOT NEW.city_court_id
    OR OLD.province_court_id IS NOT NEW.province_court_id OR OLD.case_class IS NOT NEW.case_class
    OR OLD.case_collective IS NOT NEW.case_collective OR OLD.replaced IS NOT NEW.replaced
    OR OLD.repeat_petition IS NOT NEW.repeat_petition OR OLD.first_visit IS NOT NEW.first_visit
    OR OLD.case_closed IS NOT NEW.case_closed OR OLD.month_first IS NOT NEW.month_first
BEGIN
    INSERT INTO contact_tally_moves VALUES (-1, OLD.at, OLD.province_court_id, OLD.city_court_id,
        OLD.court_id, OLD.case_class, OLD.case_collective, OLD.replaced, OLD.repeat_petition,
        OLD.first_visit, OLD.case_closed, OLD.month_first, OLD.court_initiated, OLD.channel,
        OLD.receiving_organ, OLD.receiving_court_id);
    INSERT INTO contact_tally_moves VALUES (1, NEW.at, NEW.province_court_id, NEW.city_court_id,
        NEW.court_id, NEW.case_class, NEW.case_collective, NEW.replaced, NEW.repeat_petition,
        NEW.first_visit, NEW.case_closed, NEW.month_first, NEW.court_initiated, NEW.channel,
        NEW.receiving_organ, NEW.receiving_court_id);
END;

ANALYZE session_month_tallies;
ANALYZE contact_month_tallies;
