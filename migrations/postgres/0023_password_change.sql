-- A password that an administrator set (a new account, a reset) is known to someone other than
-- its owner: the owner must replace it at the next login before anything else (issue 18 item 14).
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;
