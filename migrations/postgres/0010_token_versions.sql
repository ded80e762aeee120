-- Revocation: every staff token carries its user's token_version (`ver`); a token of an older
-- version is refused. Logging out bumps it; so does disabling the user, changing the
-- password, the role or the court (a token carries role and court), here in the database,
-- whatever code makes the change.
ALTER TABLE users ADD COLUMN token_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION users_revoke_tokens() RETURNS trigger AS $$
BEGIN
    IF NEW.disabled IS DISTINCT FROM OLD.disabled OR NEW.password_hash IS DISTINCT FROM OLD.password_hash
       OR NEW.role IS DISTINCT FROM OLD.role OR NEW.court_id IS DISTINCT FROM OLD.court_id THEN
        NEW.token_version := OLD.token_version + 1;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER users_revoke_tokens
BEFORE UPDATE OF disabled, password_hash, role, court_id ON users
FOR EACH ROW EXECUTE FUNCTION users_revoke_tokens();
