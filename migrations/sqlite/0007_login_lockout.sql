-- Consecutive failed logins per account, and the lockout they lead to (an admin can lift it).
ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until TEXT;
