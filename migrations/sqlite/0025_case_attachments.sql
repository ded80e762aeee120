-- Issue 16, "the case file": attachments uploaded by the case's own court (PDF and images by
-- default; the permitted types and the size limit are settings, docs/ledger.md). The bytes are
-- kept in the database, not under a data directory, so that every instance behind the load
-- balancer serves them and a backup of the database holds the whole case file. The type is the
-- one read from the content (magic bytes), never from the name; `sha256` is of the bytes as
-- received. Attachments are append-only like the ledger: no update, no delete.
CREATE TABLE case_attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    file_name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL CHECK (size_bytes > 0),
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_by_name TEXT NOT NULL,
    uploaded_at TEXT NOT NULL
);
CREATE INDEX case_attachments_case ON case_attachments (case_id, id);
CREATE TRIGGER case_attachments_no_update BEFORE UPDATE ON case_attachments
BEGIN
    SELECT RAISE(ABORT, 'case attachments are append-only');
END;
CREATE TRIGGER case_attachments_no_delete BEFORE DELETE ON case_attachments
BEGIN
    SELECT RAISE(ABORT, 'case attachments are append-only');
END;
