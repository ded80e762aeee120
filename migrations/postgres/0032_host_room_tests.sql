-- A host court tests its own reception rooms too (issue 18, item 5): the officer's 联通测试 page
-- runs the same echo test from the host court's room, and a test names that room. A test names
-- exactly one thing under test: a local room, a petitioner's session, or a host room.

ALTER TABLE connectivity_tests ADD COLUMN host_room_id BIGINT REFERENCES host_rooms (id);
ALTER TABLE connectivity_tests DROP CONSTRAINT connectivity_tests_check;
ALTER TABLE connectivity_tests ADD CONSTRAINT connectivity_tests_subject_check
    CHECK (local_room_id IS NOT NULL OR session_id IS NOT NULL OR host_room_id IS NOT NULL);
ALTER TABLE connectivity_tests ADD CONSTRAINT connectivity_tests_host_room_check
    CHECK (host_room_id IS NULL OR (local_room_id IS NULL AND session_id IS NULL));
CREATE INDEX connectivity_tests_by_host_room ON connectivity_tests (host_room_id, started_at)
    WHERE host_room_id IS NOT NULL;
