-- Append-only, hash-chained audit log: every change and every unmasked read.
-- hash = SHA-256 over prev_hash and the row's fields (see store::audit); a row edited or deleted
-- behind the application's back breaks the chain, which `courtlink audit verify` checks.
CREATE TABLE audit_entries (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
