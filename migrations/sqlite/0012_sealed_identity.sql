-- Petitioners' identity and phone numbers are sealed at rest by the application (see
-- server/src/crypto.rs): the columns keep their names and hold `v1:`-prefixed sealed text. This
-- keyed hash of the identity number lets the store find the same petitioner without opening
-- anything. Rows written before sealing are sealed by the server's background pass, which finds
-- them by their missing hash.
ALTER TABLE cases ADD COLUMN petitioner_id_hash TEXT;
CREATE INDEX cases_by_petitioner_hash ON cases (petitioner_id_hash);
