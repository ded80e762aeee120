-- Issue 16, "who was really there": a session counts as a reception of this petitioner only if
-- someone confirmed who the petitioner is. `identity_confirmed_how` is `in_room` (the local
-- court's staff in the video room saw the identity card) or `on_camera` (the host court's
-- officer saw it on camera, for a petitioner who joined from their own device); by whom and when
-- are kept beside it, and the timeline has an `identity_confirmed` event. Held sessions without
-- it are counted apart in the statistics.
ALTER TABLE sessions ADD COLUMN identity_confirmed_how TEXT
    CHECK (identity_confirmed_how IN ('in_room', 'on_camera'));
ALTER TABLE sessions ADD COLUMN identity_confirmed_by TEXT;
ALTER TABLE sessions ADD COLUMN identity_confirmed_by_name TEXT;
ALTER TABLE sessions ADD COLUMN identity_confirmed_at TIMESTAMPTZ;
