-- Revocation: every staff token carries its user's token_version (`ver`); a token of an older
-- version is refused. Logging out bumps it; so does disabling the user, changing the
-- password, the role or the court (a token carries role and court), here in the database,
-- whatever code makes the change.
ALTER TABLE users ADD COLUMN token_version BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER users_revoke_tokens
AFTER UPDATE OF disabled, password_hash, role, court_id ON users
WHEN NEW.disabled IS NOT OLD.disabled OR NEW.password_hash IS NOT OLD.password_hash
    OR NEW.role IS NOT OLD.role OR NEW.court_id IS NOT OLD.court_id
BEGIN
    UPDATE users SET token_version = token_version + 1 WHERE id = NEW.id;
END;
