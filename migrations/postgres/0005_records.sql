-- What higher courts see: session logs and statistics over the court hierarchy.
--
-- A reader's scope is a court and every court below it. So that a province's or a city's log
-- page and its statistics are one index range and not a walk over a hundred courts, each booking
-- and each ledger entry carries where it sits: its local court, the intermediate (city) court and
-- the high (province) court at or above it, and (bookings) the host court. Triggers fill them on
-- insert, whatever code inserts; the hierarchy is supreme > high > intermediate > basic, so a
-- court and its three nearest ancestors hold every level. (A court moved to another parent keeps
-- its old places on past rows: refill them with the UPDATEs below.)
--
-- A case's first contact ever (初信初访) is flagged on its ledger entry, and a collective
-- petition (集体访: five or more petitioners on one matter) on its case; both feed the 三高三低
-- statistics.
ALTER TABLE cases ADD COLUMN collective BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE bookings ADD COLUMN local_court_id BIGINT;
ALTER TABLE bookings ADD COLUMN city_court_id BIGINT;
ALTER TABLE bookings ADD COLUMN province_court_id BIGINT;
ALTER TABLE bookings ADD COLUMN host_court_id BIGINT;
ALTER TABLE ledger_entries ADD COLUMN court_id BIGINT;
ALTER TABLE ledger_entries ADD COLUMN city_court_id BIGINT;
ALTER TABLE ledger_entries ADD COLUMN province_court_id BIGINT;
ALTER TABLE ledger_entries ADD COLUMN first_contact BOOLEAN NOT NULL DEFAULT FALSE;

-- What is already there.
UPDATE bookings SET
    local_court_id = (SELECT court_id FROM local_rooms WHERE id = bookings.local_room_id),
    host_court_id = (SELECT hr.court_id FROM slots s JOIN host_rooms hr ON hr.id = s.host_room_id
                     WHERE s.id = bookings.slot_id);
UPDATE bookings SET
    city_court_id = (SELECT CASE WHEN c0.level = 'intermediate' THEN c0.id WHEN c1.level = 'intermediate' THEN c1.id
                WHEN c2.level = 'intermediate' THEN c2.id WHEN c3.level = 'intermediate' THEN c3.id END
         FROM courts c0 LEFT JOIN courts c1 ON c1.id = c0.parent_id
         LEFT JOIN courts c2 ON c2.id = c1.parent_id LEFT JOIN courts c3 ON c3.id = c2.parent_id
         WHERE c0.id = bookings.local_court_id),
    province_court_id = (SELECT CASE WHEN c0.level = 'high' THEN c0.id WHEN c1.level = 'high' THEN c1.id
                WHEN c2.level = 'high' THEN c2.id WHEN c3.level = 'high' THEN c3.id END
         FROM courts c0 LEFT JOIN courts c1 ON c1.id = c0.parent_id
         LEFT JOIN courts c2 ON c2.id = c1.parent_id LEFT JOIN courts c3 ON c3.id = c2.parent_id
         WHERE c0.id = bookings.local_court_id);
UPDATE ledger_entries SET court_id = (SELECT court_id FROM cases WHERE id = ledger_entries.case_id);
UPDATE ledger_entries SET
    city_court_id = (SELECT CASE WHEN c0.level = 'intermediate' THEN c0.id WHEN c1.level = 'intermediate' THEN c1.id
                WHEN c2.level = 'intermediate' THEN c2.id WHEN c3.level = 'intermediate' THEN c3.id END
         FROM courts c0 LEFT JOIN courts c1 ON c1.id = c0.parent_id
         LEFT JOIN courts c2 ON c2.id = c1.parent_id LEFT JOIN courts c3 ON c3.id = c2.parent_id
         WHERE c0.id = ledger_entries.court_id),
    province_court_id = (SELECT CASE WHEN c0.level = 'high' THEN c0.id WHEN c1.level = 'high' THEN c1.id
                WHEN c2.level = 'high' THEN c2.id WHEN c3.level = 'high' THEN c3.id END
         FROM courts c0 LEFT JOIN courts c1 ON c1.id = c0.parent_id
         LEFT JOIN courts c2 ON c2.id = c1.parent_id LEFT JOIN courts c3 ON c3.id = c2.parent_id
         WHERE c0.id = ledger_entries.court_id);
-- The first contact of a case: no earlier entry (and none at the same instant entered before).
UPDATE ledger_entries SET first_contact = NOT EXISTS (
    SELECT 1 FROM ledger_entries o WHERE o.case_id = ledger_entries.case_id
    AND (o.at < ledger_entries.at OR (o.at = ledger_entries.at AND o.id < ledger_entries.id)));

-- And what comes.
CREATE FUNCTION courtlink_place_booking() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.local_court_id := (SELECT court_id FROM local_rooms WHERE id = NEW.local_room_id);
    NEW.host_court_id := (SELECT hr.court_id FROM slots s JOIN host_rooms hr ON hr.id = s.host_room_id
                          WHERE s.id = NEW.slot_id);
    NEW.city_court_id := (SELECT CASE WHEN c0.level = 'intermediate' THEN c0.id WHEN c1.level = 'intermediate' THEN c1.id
                WHEN c2.level = 'intermediate' THEN c2.id WHEN c3.level = 'intermediate' THEN c3.id END
         FROM courts c0 LEFT JOIN courts c1 ON c1.id = c0.parent_id
         LEFT JOIN courts c2 ON c2.id = c1.parent_id LEFT JOIN courts c3 ON c3.id = c2.parent_id
         WHERE c0.id = NEW.local_court_id);
    NEW.province_court_id := (SELECT CASE WHEN c0.level = 'high' THEN c0.id WHEN c1.level = 'high' THEN c1.id
                WHEN c2.level = 'high' THEN c2.id WHEN c3.level = 'high' THEN c3.id END
         FROM courts c0 LEFT JOIN courts c1 ON c1.id = c0.parent_id
         LEFT JOIN courts c2 ON c2.id = c1.parent_id LEFT JOIN courts c3 ON c3.id = c2.parent_id
         WHERE c0.id = NEW.local_court_id);
    RETURN NEW;
END $$;
CREATE TRIGGER bookings_place BEFORE INSERT OR UPDATE OF local_room_id, slot_id ON bookings
    FOR EACH ROW EXECUTE FUNCTION courtlink_place_booking();

CREATE FUNCTION courtlink_place_ledger_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.court_id := (SELECT court_id FROM cases WHERE id = NEW.case_id);
    NEW.city_court_id := (SELECT CASE WHEN c0.level = 'intermediate' THEN c0.id WHEN c1.level = 'intermediate' THEN c1.id
                WHEN c2.level = 'intermediate' THEN c2.id WHEN c3.level = 'intermediate' THEN c3.id END
         FROM courts c0 LEFT JOIN courts c1 ON c1.id = c0.parent_id
         LEFT JOIN courts c2 ON c2.id = c1.parent_id LEFT JOIN courts c3 ON c3.id = c2.parent_id
         WHERE c0.id = NEW.court_id);
    NEW.province_court_id := (SELECT CASE WHEN c0.level = 'high' THEN c0.id WHEN c1.level = 'high' THEN c1.id
                WHEN c2.level = 'high' THEN c2.id WHEN c3.level = 'high' THEN c3.id END
         FROM courts c0 LEFT JOIN courts c1 ON c1.id = c0.parent_id
         LEFT JOIN courts c2 ON c2.id = c1.parent_id LEFT JOIN courts c3 ON c3.id = c2.parent_id
         WHERE c0.id = NEW.court_id);
    -- One writer per case at a time, so that two entries cannot both be its first.
    PERFORM 1 FROM cases WHERE id = NEW.case_id FOR UPDATE;
    NEW.first_contact := NOT EXISTS (
        SELECT 1 FROM ledger_entries o WHERE o.case_id = NEW.case_id AND o.at <= NEW.at);
    IF NEW.first_contact THEN
        UPDATE ledger_entries SET first_contact = FALSE WHERE case_id = NEW.case_id AND first_contact;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_entries_place BEFORE INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION courtlink_place_ledger_entry();

-- Logs, newest first and paged by (starts_at, id), for everyone, a province, a city, a court,
-- or a host court; statistics of a period for the same scopes, read from the indexes alone.
CREATE INDEX bookings_by_start ON bookings (starts_at, id)
    INCLUDE (status, local_court_id, city_court_id, province_court_id, host_court_id);
CREATE INDEX bookings_by_province ON bookings (province_court_id, starts_at, id)
    INCLUDE (status, local_court_id, city_court_id, host_court_id);
CREATE INDEX bookings_by_city ON bookings (city_court_id, starts_at, id)
    INCLUDE (status, local_court_id, host_court_id);
CREATE INDEX bookings_by_local_court ON bookings (local_court_id, starts_at, id)
    INCLUDE (status, host_court_id);
CREATE INDEX bookings_by_host_court ON bookings (host_court_id, starts_at, id);
CREATE INDEX sessions_by_booking_facts ON sessions (booking_id)
    INCLUDE (status, started_at, ended_at, satisfaction, interrupted_seconds);
CREATE INDEX ledger_entries_by_time ON ledger_entries (at)
    INCLUDE (case_id, channel, counted_as, first_contact, court_id, city_court_id, province_court_id);
CREATE INDEX ledger_entries_by_province ON ledger_entries (province_court_id, at)
    INCLUDE (case_id, channel, counted_as, first_contact, court_id, city_court_id);
CREATE INDEX ledger_entries_by_city ON ledger_entries (city_court_id, at)
    INCLUDE (case_id, channel, counted_as, first_contact, court_id);
CREATE INDEX ledger_entries_by_court ON ledger_entries (court_id, at)
    INCLUDE (case_id, channel, counted_as, first_contact);
CREATE INDEX cases_collective ON cases (id) WHERE collective;
-- Log filters by case number.
CREATE INDEX cases_by_number ON cases (case_number);
CREATE INDEX bookings_by_case ON bookings (case_id);
-- Walking the hierarchy down.
CREATE INDEX courts_by_parent ON courts (parent_id);
