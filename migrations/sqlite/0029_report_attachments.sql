-- Issue 16, "follow-ups": a completion report (办结报告) may carry papers. They are attachments of
-- the task's case (case_attachments: checked by content, stored with their SHA-256, every
-- download audited); the report names them. Written with the report, in its transaction, and
-- never changed afterwards, like the report itself.
CREATE TABLE assignment_report_attachments (
    assignment_id INTEGER NOT NULL REFERENCES assignments (id),
    attachment_id INTEGER NOT NULL REFERENCES case_attachments (id),
    PRIMARY KEY (assignment_id, attachment_id)
);
CREATE TRIGGER assignment_report_attachments_no_update BEFORE UPDATE ON assignment_report_attachments
BEGIN
    SELECT RAISE(ABORT, 'a report''s attachments are append-only');
END;
CREATE TRIGGER assignment_report_attachments_no_delete BEFORE DELETE ON assignment_report_attachments
BEGIN
    SELECT RAISE(ABORT, 'a report''s attachments are append-only');
END;
