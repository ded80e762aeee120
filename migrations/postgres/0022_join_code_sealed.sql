-- The join code is kept sealed (ChaCha20-Poly1305 under privacy.data_key, as identity numbers
-- are) beside its keyed hash, so that the booking court's coordinator can print or reprint the
-- appointment notice without making a new code, which would silently retire the code the
-- petitioner already holds (issue 18 item 1). Codes issued before this migration have none:
-- their notice is printed again only with a new code.
ALTER TABLE sessions ADD COLUMN join_code_sealed TEXT;
