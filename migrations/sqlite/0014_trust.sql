-- Join tokens are bound to the join code they were minted from: each session's join_version
-- moves on whenever its code is replaced, here in the database whatever code replaces it, and a
-- join token of an older version is refused (auth.rs, `Petitioner`).
ALTER TABLE sessions ADD COLUMN join_version BIGINT NOT NULL DEFAULT 0;

CREATE TRIGGER sessions_revoke_join_tokens
AFTER UPDATE OF join_code_hash ON sessions
WHEN NEW.join_code_hash IS NOT OLD.join_code_hash
BEGIN
    UPDATE sessions SET join_version = join_version + 1 WHERE id = NEW.id;
END;

-- Addresses a user has logged in from with the right password: a slowed-down account still
-- lets its owner in from one of them (auth.rs, login throttling).
CREATE TABLE login_addresses (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    last_login_at TEXT NOT NULL,
    PRIMARY KEY (user_id, address)
);
