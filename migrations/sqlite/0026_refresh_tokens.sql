-- Refresh tokens (issue 21, item 2): a member of staff signs in once a day; the short staff token
-- is renewed with a refresh token kept in an HttpOnly cookie (docs/security.md). Only the
-- SHA-256 of a token is stored. One sign-in is one `family`: each use rotates the token (the
-- old row is marked `used_at`), every rotation keeps the family's `expires_at`, and a used token
-- presented again revokes the whole family. `ver` is the user's token version at the sign-in:
-- a logout, a disabled account, a new password, role or court moves the user's version on, and
-- the family stops with every other token.
CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    family TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    ver BIGINT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id, expires_at);
