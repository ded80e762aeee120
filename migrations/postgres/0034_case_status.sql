-- A case's stored status is a closed set (issue 14, item 6; docs/ledger.md, "A case's status"):
-- `registered` (已登记) when opened, `accepted` (已受理) once its acceptance is recorded. Its third
-- value, `concluded` (终结), is read from the ledger and never stored (store::rows::CASE_STATUS).
-- Earlier versions wrote `handling` for the demo's and the load tools' cases: such a case is
-- accepted if its acceptance date is known, registered if not. No version wrote anything else.
UPDATE cases SET status = CASE WHEN accepted_on IS NOT NULL THEN 'accepted' ELSE 'registered' END
WHERE status NOT IN ('registered', 'accepted');
ALTER TABLE cases ADD CONSTRAINT cases_status_check CHECK (status IN ('registered', 'accepted'));
