-- A case's stored status is a closed set (issue 14, item 6; docs/ledger.md, "A case's status"):
-- `registered` (已登记) when opened, `accepted` (已受理) once its acceptance is recorded. Its third
-- value, `concluded` (终结), is read from the ledger and never stored (store::rows::CASE_STATUS).
-- Earlier versions wrote `handling` for the demo's and the load tools' cases: such a case is
-- accepted if its acceptance date is known, registered if not. No version wrote anything else.
-- SQLite cannot add a CHECK to a table; rebuilding `cases` would mean rebuilding every table and
-- trigger that refers to it, so two triggers hold the same rule as PostgreSQL's CHECK.
UPDATE cases SET status = CASE WHEN accepted_on IS NOT NULL THEN 'accepted' ELSE 'registered' END
WHERE status NOT IN ('registered', 'accepted');
CREATE TRIGGER cases_status_check_insert BEFORE INSERT ON cases
WHEN NEW.status NOT IN ('registered', 'accepted')
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: cases_status_check');
END;
CREATE TRIGGER cases_status_check_update BEFORE UPDATE OF status ON cases
WHEN NEW.status NOT IN ('registered', 'accepted')
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: cases_status_check');
END;
