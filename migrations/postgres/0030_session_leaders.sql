-- Issue 16, "directories and leaders": a local court's leader taking part in a session (领导包案).
-- The booking court's coordinator names a leader of that court (a user with the supervisor role)
-- before or during the session; the leader joins from their own device, waits to be admitted like
-- the petitioner, and is shown on the timeline (`leader_added`, then joined and admitted).
CREATE TABLE session_leaders (
    session_id BIGINT NOT NULL REFERENCES sessions (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    added_by TEXT NOT NULL,
    added_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (session_id, user_id)
);
CREATE INDEX session_leaders_user ON session_leaders (user_id, session_id);
