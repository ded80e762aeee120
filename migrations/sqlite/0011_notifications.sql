-- Delivery of the outbox (0008): in-app notifications for coordinators and officers, signed
-- webhooks per court with a delivery row (and its own retries) per receiver, and the markers
-- the worker uses to enqueue reminders and no-show notices exactly once.

-- A no-show notice has been enqueued for this session. Sessions already marked no-show when
-- this migration runs are old news: they get none.
ALTER TABLE sessions ADD COLUMN no_show_noticed BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE sessions SET no_show_noticed = TRUE WHERE status = 'no_show';
CREATE INDEX sessions_no_show_pending ON sessions (id) WHERE status = 'no_show' AND NOT no_show_noticed;
CREATE INDEX bookings_reminder_pending ON bookings (starts_at) WHERE status = 'booked' AND reminded_at IS NULL;

CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    -- The outbox row it came from: one notification per user and event, however often the
    -- worker retries.
    outbox_id INTEGER NOT NULL,
    event TEXT NOT NULL,
    -- JSON: the event's payload.
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    read_at TEXT,
    UNIQUE (outbox_id, user_id)
);
CREATE INDEX notifications_by_user ON notifications (user_id, id);

CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    court_id INTEGER NOT NULL REFERENCES courts (id),
    url TEXT NOT NULL,
    -- The HMAC key; never returned by the API.
    secret TEXT NOT NULL,
    -- JSON array of event names; empty: every event.
    topics TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_by INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX webhooks_by_court ON webhooks (court_id) WHERE active;

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    webhook_id INTEGER NOT NULL REFERENCES webhooks (id),
    outbox_id INTEGER NOT NULL,
    event TEXT NOT NULL,
    -- The exact body POSTed, the same on every attempt.
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    UNIQUE (webhook_id, outbox_id)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
