//! The audit log: append-only and hash-chained. Each entry's hash covers the previous entry's
//! hash and its own fields, so editing or deleting a row behind the application's back breaks
//! the chain from that row on. Entries are appended inside the transaction of the change they
//! record, after a lock that orders appenders (SQLite's write lock; a PostgreSQL advisory lock).

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One auditable fact: who did what to which record. When is the store's: it stamps the entry
/// on its clock as it queues it for the transaction's chain (`audit::Queue::push`).
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// `user-<id>`, `petitioner:<session>`, `anonymous` or `system`.
    pub actor: String,
    /// Dotted verb, e.g. `booking.create`, `case.identity_read`, `auth.login_failed`.
    pub action: &'static str,
    /// The record, e.g. `booking:12`.
    pub subject: String,
    /// JSON with what else matters; never a secret (no passwords, tokens or join codes).
    pub detail: String,
}

impl AuditEntry {
    pub fn new(
        actor: impl Into<String>,
        action: &'static str,
        subject: impl Into<String>,
        detail: serde_json::Value,
    ) -> AuditEntry {
        AuditEntry {
            actor: actor.into(),
            action,
            subject: subject.into(),
            detail: detail.to_string(),
        }
    }

    /// The chain's hash of this entry appended at `at` after `prev_hash`.
    pub fn hash(&self, prev_hash: &str, at: &DateTime<Utc>) -> String {
        chain_hash(
            prev_hash,
            at,
            &self.actor,
            self.action,
            &self.subject,
            &self.detail,
        )
    }
}

/// The audit entries of one write transaction, in the order they were made, and the statement
/// that orders appenders in its backend (see `append_queued!`).
pub struct Queue {
    lock: &'static str,
    entries: Vec<(DateTime<Utc>, AuditEntry)>,
}

impl Queue {
    pub fn new(lock: &'static str) -> Queue {
        Queue {
            lock,
            entries: Vec::new(),
        }
    }

    pub fn push(&mut self, at: DateTime<Utc>, entry: &AuditEntry) {
        self.entries.push((at, entry.clone()));
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn lock(&self) -> &'static str {
        self.lock
    }

    pub fn entries(&self) -> impl Iterator<Item = &(DateTime<Utc>, AuditEntry)> {
        self.entries.iter()
    }
}

pub fn chain_hash(
    prev: &str,
    at: &DateTime<Utc>,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &at.to_rfc3339_opts(SecondsFormat::Secs, true),
        actor,
        action,
        subject,
        detail,
    ] {
        h.update(part.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum AuditVerdict {
    Intact {
        entries: usize,
        last_hash: String,
    },
    /// The first entry that does not fit the chain, and why.
    Broken {
        id: i64,
        reason: String,
    },
}

/// Checks the chain over rows in id order.
pub fn verify(rows: &[AuditRow]) -> AuditVerdict {
    let mut prev = GENESIS.to_owned();
    for r in rows {
        if r.prev_hash != prev {
            return AuditVerdict::Broken {
                id: r.id,
                reason: "its prev_hash is not the hash of the entry before it (an entry was deleted or edited)".into(),
            };
        }
        let expected = chain_hash(&prev, &r.at, &r.actor, &r.action, &r.subject, &r.detail);
        if r.hash != expected {
            return AuditVerdict::Broken {
                id: r.id,
                reason: "its fields do not match its hash (it was edited)".into(),
            };
        }
        prev = r.hash.clone();
    }
    AuditVerdict::Intact {
        entries: rows.len(),
        last_hash: prev,
    }
}
