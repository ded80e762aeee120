-- Follow-ups (交办 / 督办 / 办结报告, docs/follow-ups.md): a task a higher court hands down to a
-- court at or below it on a case, with a deadline in working days, closed by the completion
-- report (办结报告) of the court it went to. Every step is kept in `assignment_steps`.
CREATE TABLE assignments (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    -- The court that handed it down (交办) and the court it went to.
    assigning_court_id INTEGER NOT NULL REFERENCES courts (id),
    court_id INTEGER NOT NULL REFERENCES courts (id),
    instruction TEXT NOT NULL CHECK (length(trim(instruction)) > 0),
    working_days INTEGER NOT NULL CHECK (working_days BETWEEN 1 AND 250),
    -- Beijing calendar days, YYYY-MM-DD: the day it was handed down and the last day to report.
    assigned_on TEXT NOT NULL,
    due_on TEXT NOT NULL,
    -- What handed it down: a contact on the case's ledger, or a session's end. One task each.
    ledger_entry_id INTEGER UNIQUE REFERENCES ledger_entries (id),
    session_id INTEGER UNIQUE REFERENCES sessions (id),
    assigned_by TEXT NOT NULL,
    assigned_at TEXT NOT NULL,
    -- Each reminder once: set in the transaction that queues it.
    reminded_at TEXT,
    overdue_noticed_at TEXT,
    -- The completion report (办结报告): with it the task is closed.
    report TEXT,
    reported_on TEXT,
    reported_by TEXT,
    reported_at TEXT,
    CHECK ((report IS NULL) = (reported_on IS NULL)),
    CHECK ((report IS NULL) = (reported_at IS NULL))
);
CREATE INDEX assignments_by_court ON assignments (court_id, due_on);
CREATE INDEX assignments_by_case ON assignments (case_id);
CREATE INDEX assignments_open_by_due ON assignments (due_on) WHERE report IS NULL;

-- The task's timeline, append-only: assigned, reminded (due soon), overdue, supervised,
-- reported.
CREATE TABLE assignment_steps (
    id INTEGER PRIMARY KEY,
    assignment_id INTEGER NOT NULL REFERENCES assignments (id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('assigned', 'reminded', 'overdue', 'supervised', 'reported')),
    -- `user-<id>`, or `system` for the reminders.
    actor TEXT NOT NULL,
    note TEXT,
    -- For `supervised`: the contact it wrote on the case's ledger.
    ledger_entry_id INTEGER REFERENCES ledger_entries (id)
);
CREATE INDEX assignment_steps_by_assignment ON assignment_steps (assignment_id, id);

CREATE TRIGGER assignment_steps_append_only_update BEFORE UPDATE ON assignment_steps
BEGIN
    SELECT RAISE(ABORT, 'assignment steps are append-only');
END;
CREATE TRIGGER assignment_steps_append_only_delete BEFORE DELETE ON assignment_steps
BEGIN
    SELECT RAISE(ABORT, 'assignment steps are append-only');
END;
