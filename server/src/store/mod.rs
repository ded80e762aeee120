//! The store: every record lives here, in SQLite (embedded default) or PostgreSQL (production).
//!
//! Both backends run the same SQL wherever the dialects agree (parameters as `$1`, `RETURNING`,
//! `ON CONFLICT`, recursive CTEs); the schemas differ only where each database guards against
//! overlapping bookings in its own way (an exclusion constraint in PostgreSQL, triggers in
//! SQLite). So the two implementations are one enum and a macro that type-checks each query once
//! per backend, rather than a trait with two copies of every query.

pub mod audit;
mod rows;

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use rows::*;

use crate::app::clock::Clock;
use crate::domain::{
    BookingId, CaseId, CaseStatus, Channel, EventKind, Outcome, Satisfaction, SessionId,
    SessionStatus, SlotId, TranscriptDecision, UserId,
};
use courtlink_parsers::error::ErrorCode;
use sha2::Digest;

/// The records, and the clock that stamps them: every instant the store writes of its own
/// (an entry's `recorded_at`, an outbox message, an audit entry) is read from `clock`, the
/// application's, so that a test that starts the application at a given instant gets records
/// stamped on that same clock.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    clock: Clock,
}

/// The database behind the store: SQLite (embedded default) or PostgreSQL (production).
#[derive(Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Store {
    pub fn new(pool: Pool, clock: Clock) -> Store {
        Store { pool, clock }
    }

    /// The same database on another clock (the application's: see `Application::build_with_clock`).
    pub fn with_clock(self, clock: Clock) -> Store {
        Store { clock, ..self }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Whether the store is PostgreSQL, for the few statements that differ (row locks taken
    /// with `FOR UPDATE … SKIP LOCKED`, where SQLite's one write lock already orders writers).
    pub(crate) fn on_postgres(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// Now on the store's clock, to the whole second (stored timestamps compare as text in
    /// SQLite).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// Runs `$body` with `$pool` bound to whichever pool the store holds.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store.pool() {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` inside a write transaction and commits it. SQLite takes the write lock up front
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes can fail at once with
/// SQLITE_BUSY under contention, whatever the busy timeout.
macro_rules! in_write_tx {
    ($store:expr, |$tx:ident| $body:block) => {
        in_write_tx!($store, |$tx, _audit| $body)
    };
    // `$audit` is the transaction's audit queue (`chain.push(at, &entry)`): its entries join the
    // chain after `$body`, just before the commit.
    ($store:expr, |$tx:ident, $audit:ident| $body:block) => {
        match $store.pool() {
            $crate::store::Pool::Sqlite(pool) => {
                // BEGIN IMMEDIATE already holds the database's one write lock.
                #[allow(unused_mut)]
                let mut $audit = $crate::store::audit::Queue::new("SELECT 1");
                let _turn = $crate::store::sqlite_write_turn(pool).await?;
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                append_queued!($tx, $audit);
                $tx.commit().await?;
                out
            }
            $crate::store::Pool::Postgres(pool) => {
                #[allow(unused_mut)]
                let mut $audit =
                    $crate::store::audit::Queue::new("SELECT pg_advisory_xact_lock(7227011)");
                let mut $tx = pool.begin().await?;
                let out = $body;
                append_queued!($tx, $audit);
                $tx.commit().await?;
                out
            }
        }
    };
}

/// How long a writer waits for SQLite's write lock before the request is answered 503 `busy`.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The turn of one of this process's writers at a SQLite database's one write lock.
///
/// A writer that finds SQLite's lock taken sleeps in the busy handler (1, 2, 5, 10 … 100 ms) and
/// tries again, so a lock freed just after a poll stays unused until the next one: under a
/// burst of bookings about two of the server's threads were asleep there (docs/benchmarks.md,
/// bookings under contention). This process's write transactions queue here instead, first come
/// first served, each asking SQLite only once the one before it has committed, and none holds a
/// pooled connection while it waits. Other processes (the command line) and single autocommit
/// writes still meet the busy handler. One queue per database file.
pub(crate) async fn sqlite_write_turn(
    pool: &SqlitePool,
) -> Result<tokio::sync::OwnedMutexGuard<()>, sqlx::Error> {
    type Queues = std::sync::Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>;
    static QUEUES: OnceLock<Queues> = OnceLock::new();
    let file = pool.connect_options().get_filename().to_path_buf();
    let queue = {
        let mut queues = QUEUES
            .get_or_init(Queues::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(queues.entry(file).or_default())
    };
    // As long as the busy handler would have waited, and then the same answer.
    tokio::time::timeout(SQLITE_BUSY_TIMEOUT, queue.lock_owned())
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)
}

/// Appends the transaction's queued audit entries to the chain, each chained to the one before.
/// Every writer of the database shares the chain, so its lock (the one statement that orders
/// appenders in this backend) is taken here, last, and held only for these few statements and
/// the commit: taken where each entry was made, it was held for the rest of the transaction
/// too, and PostgreSQL bookings spent about half their time waiting for it (docs/benchmarks.md).
macro_rules! append_queued {
    ($tx:ident, $audit:ident) => {{
        if !$audit.is_empty() {
            sqlx::query($audit.lock()).execute(&mut *$tx).await?;
            let last: Option<(String,)> =
                sqlx::query_as("SELECT hash FROM audit_entries ORDER BY id DESC LIMIT 1")
                    .fetch_optional(&mut *$tx)
                    .await?;
            let mut prev = last
                .map(|(h,)| h)
                .unwrap_or_else(|| $crate::store::audit::GENESIS.to_owned());
            for (at, entry) in $audit.entries() {
                let hash = entry.hash(&prev, at);
                sqlx::query(
                    "INSERT INTO audit_entries (at, actor, action, subject, detail, prev_hash, hash) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(at)
                .bind(&entry.actor)
                .bind(entry.action)
                .bind(&entry.subject)
                .bind(&entry.detail)
                .bind(&prev)
                .bind(&hash)
                .execute(&mut *$tx)
                .await?;
                prev = hash;
            }
        }
    }};
}

/// Writes a notification into the outbox inside the current write transaction, so that it is
/// sent if and only if the change it announces commits.
macro_rules! enqueue {
    ($store:expr, $tx:ident, $topic:expr, $payload:expr) => {{
        let at = $store.now();
        sqlx::query(
            "INSERT INTO outbox (topic, payload, created_at, next_attempt_at) VALUES ($1, $2, $3, $3)",
        )
        .bind($topic)
        .bind(serde_json::Value::to_string(&$payload))
        .bind(at)
        .execute(&mut *$tx)
        .await?;
    }};
}

// Submodules that add queries to `Store` come after the macros they use.
pub mod admin;
pub mod applications;
pub mod assignments;
pub mod attachments;
pub mod booking;
pub mod clocks;
pub mod connectivity;
pub mod directory;
pub mod identity;
pub mod leaders;
pub mod ledger;
pub mod notify;
pub mod recording;
pub mod records;
pub mod refresh;
pub mod schedule;
mod tree;
pub mod trust;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("that slot is already booked")]
    SlotTaken,
    #[error("that local room is already booked for an overlapping time")]
    LocalRoomBusy,
    #[error("the session has already ended")]
    SessionEnded,
    #[error("record not found")]
    NotFound,
    #[error("that is already done, and can be done only once")]
    AlreadyDone,
    #[error("not yet: the session has not ended")]
    NotYet,
    #[error("the host wrote no transcript: there is nothing to confirm")]
    NothingToConfirm,
    /// A booking rule refused the request (422), e.g. `too_soon`, `theme_mismatch`.
    #[error("{message}")]
    Rule { code: ErrorCode, message: String },
    /// The request conflicts with what is there now (409), e.g. `weekly_limit_reached`.
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    /// The record changed since the caller read it (its version, the ETag, moved on).
    #[error("the record has changed since you read it; reload it and try again")]
    Stale,
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("transient conflict in the database")]
    Retryable(#[source] sqlx::Error),
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error")]
    Other(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        classify(e)
    }
}

fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            StoreError::Unavailable(e)
        }
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            let message = db.message();
            let constraint = db.constraint().unwrap_or_default();
            if constraint == "bookings_one_live_per_slot" || message.contains("bookings.slot_id") {
                StoreError::SlotTaken
            } else if constraint == "applications_one_open_per_case"
                || message.contains("applications.case_id")
            {
                StoreError::Conflict {
                    code: ErrorCode::ApplicationOpen,
                    message: "this case already has an open application".into(),
                }
            } else if constraint == "bookings_host_room_no_overlap"
                || message.contains("host_room_overlap")
            {
                StoreError::Conflict {
                    code: ErrorCode::HostRoomBusy,
                    message: "the host room is already booked for an overlapping time".into(),
                }
            } else if constraint == "bookings_officer_no_overlap"
                || message.contains("local_officer_overlap")
            {
                StoreError::Conflict {
                    code: ErrorCode::LocalOfficerBusy,
                    message: "the accompanying officer is already booked for an overlapping time"
                        .into(),
                }
            } else if code == "23P01" || message.contains("local_room_overlap") {
                StoreError::LocalRoomBusy
            } else if matches!(code.as_ref(), "40001" | "40P01" | "5" | "6" | "517" | "261") {
                StoreError::Retryable(e)
            } else if matches!(code.as_ref(), "22021" | "22P05") {
                // PostgreSQL cannot store a NUL in text (SQLite can): refuse the input, not 500.
                StoreError::Rule {
                    code: ErrorCode::InvalidInput,
                    message: "the text holds a character that cannot be stored (NUL)".into(),
                }
            } else if code.starts_with("08") || code.starts_with("57P") {
                // Connection failures, and the server shutting down, crashing or starting.
                StoreError::Unavailable(e)
            } else {
                StoreError::Other(e)
            }
        }
        _ => StoreError::Other(e),
    }
}

/// A case as read, with its petitioner's numbers opened (they are sealed at rest).
fn opened(mut row: CaseRow) -> Result<CaseRow, StoreError> {
    let sealer = crate::crypto::sealer().map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let open = |text: &str| {
        sealer
            .open(text)
            .map_err(|e| StoreError::Corrupt(format!("case {}: {e}", row.id)))
    };
    let number = open(&row.petitioner_id_number)?;
    let phone = open(&row.petitioner_phone)?;
    row.petitioner_id_number = number;
    row.petitioner_phone = phone;
    Ok(row)
}

impl Store {
    /// Connects and runs the embedded migrations of the backend the URL names.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Store> {
        use anyhow::Context;
        let store = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .context("database.url is not a valid SQLite URL")?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            if let Some(parent) = options.get_filename().parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).with_context(|| {
                        format!("cannot create the database folder {}", parent.display())
                    })?;
                }
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(15))
                .connect_with(options)
                .await
                .context("cannot open the SQLite database")?;
            Pool::Sqlite(pool)
        } else {
            let options = PgConnectOptions::from_str(url)
                .context("database.url is not a valid PostgreSQL URL")?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await
                .context("cannot connect to PostgreSQL")?;
            Pool::Postgres(pool)
        };
        Ok(Store::new(store, Clock::system()))
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        match &self.pool {
            Pool::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Pool::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> &'static str {
        match &self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, |p| p.close().await)
    }

    // --- courts, rooms, users ---------------------------------------------------------------

    pub async fn court(&self, id: i64) -> Result<CourtRow, StoreError> {
        let sql = "SELECT id, name, level, parent_id FROM courts WHERE id = $1";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    /// The courts above `court_id`, nearest first.
    pub async fn court_ancestors(&self, court_id: i64) -> Result<Vec<CourtRow>, StoreError> {
        let sql = format!(
            "{}SELECT c.id, c.name, c.level, c.parent_id FROM courts c JOIN up ON c.id = up.id \
             WHERE up.depth > 0 ORDER BY up.depth",
            tree::LINE
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(court_id)
            .fetch_all(p)
            .await)?)
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        let sql = "SELECT u.id, u.court_id, u.username, u.display_name, u.role, u.password_hash, \
                   u.disabled, c.name AS court_name, c.level AS court_level, u.failed_logins, u.locked_until, u.must_change_password \
                   FROM users u JOIN courts c ON c.id = u.court_id WHERE u.username = $1";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(username)
            .fetch_optional(p)
            .await)?)
    }

    /// A user's token version (see `auth::TokenVersions`); `None` when there is no such user.
    pub async fn token_version(&self, user_id: UserId) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT token_version FROM users WHERE id = $1"
        )
        .bind(user_id)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(v,)| v))
    }

    /// Revokes every token the user holds (a logout): their version moves on.
    pub async fn revoke_tokens(&self, user_id: UserId, actor: &str) -> Result<(), StoreError> {
        in_write_tx!(self, |tx, chain| {
            sqlx::query("UPDATE users SET token_version = token_version + 1 WHERE id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            let entry = audit::AuditEntry::new(
                actor,
                "auth.logout",
                format!("user:{user_id}"),
                serde_json::json!({}),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    pub async fn user_by_id(&self, id: UserId) -> Result<UserRow, StoreError> {
        let sql = "SELECT u.id, u.court_id, u.username, u.display_name, u.role, u.password_hash, \
                   u.disabled, c.name AS court_name, c.level AS court_level, u.failed_logins, u.locked_until, u.must_change_password \
                   FROM users u JOIN courts c ON c.id = u.court_id WHERE u.id = $1";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    pub async fn local_rooms(&self, court_id: i64) -> Result<Vec<RoomRow>, StoreError> {
        let sql = "SELECT id, court_id, name FROM local_rooms WHERE court_id = $1 ORDER BY id";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(court_id)
            .fetch_all(p)
            .await)?)
    }

    pub async fn local_room(&self, id: i64) -> Result<RoomRow, StoreError> {
        let sql = "SELECT id, court_id, name FROM local_rooms WHERE id = $1";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    // --- cases and the ledger ---------------------------------------------------------------

    pub async fn cases_of_court(&self, court_id: i64) -> Result<Vec<CaseRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM cases k WHERE k.court_id = $1 \
             ORDER BY k.escalation_risk DESC, k.id",
            case_columns()
        );
        let rows: Vec<CaseRow> = on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(court_id)
            .fetch_all(p)
            .await)?;
        rows.into_iter().map(opened).collect()
    }

    pub async fn case(&self, id: CaseId) -> Result<CaseRow, StoreError> {
        let sql = format!("SELECT {} FROM cases k WHERE k.id = $1", case_columns());
        opened(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    /// Seals up to `batch` cases written before sealing existed; returns how many it sealed.
    pub async fn seal_legacy_cases(&self, batch: i64) -> Result<usize, StoreError> {
        let sealer = crate::crypto::sealer().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let rows: Vec<(i64, String, String)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT id, petitioner_id_number, petitioner_phone FROM cases \
             WHERE petitioner_id_hash IS NULL ORDER BY id LIMIT $1"
        )
        .bind(batch)
        .fetch_all(p)
        .await)?;
        let count = rows.len();
        in_write_tx!(self, |tx| {
            for (id, number, phone) in rows {
                let number = sealer
                    .open(&number)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let phone = sealer
                    .open(&phone)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query(
                    "UPDATE cases SET petitioner_id_number = $2, petitioner_phone = $3, \
                     petitioner_id_hash = $4 WHERE id = $1 AND petitioner_id_hash IS NULL",
                )
                .bind(id)
                .bind(sealer.seal(&number))
                .bind(if phone.is_empty() {
                    String::new()
                } else {
                    sealer.seal(&phone)
                })
                .bind(sealer.lookup(&number))
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(count)
    }

    pub async fn ledger(&self, case_id: CaseId) -> Result<Vec<LedgerRow>, StoreError> {
        let sql = "SELECT l.id, l.case_id, l.at, l.channel, l.counted_as, l.session_id, l.note, \
                   COALESCE(l.outcome, s.outcome) AS outcome, s.outcome_note, l.received_by, \
                   l.receiving_court_id, rc.name AS receiving_court_name, l.receiving_organ, \
                   l.court_initiated, l.corrects_id, l.correction_reason, \
                   (SELECT MIN(k.id) FROM ledger_entries k WHERE k.corrects_id = l.id) AS corrected_by, \
                   l.recorded_by, l.recorded_at, l.connected_minutes \
                   FROM ledger_entries l LEFT JOIN sessions s ON s.id = l.session_id \
                   LEFT JOIN courts rc ON rc.id = l.receiving_court_id \
                   WHERE l.case_id = $1 ORDER BY l.at, l.id";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(case_id)
            .fetch_all(p)
            .await)?)
    }

    // --- slots and bookings -----------------------------------------------------------------

    /// Open slots (not ended, not booked) in `[from, to)` of the courts above `court_id`.
    pub async fn open_slots_above(
        &self,
        court_id: i64,
        now: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SlotRow>, StoreError> {
        let sql = format!(
            "{}SELECT s.id, s.host_room_id, hr.name AS host_room_name, c.id AS court_id, \
             c.name AS court_name, c.level AS court_level, s.starts_at, s.ends_at, s.theme \
             FROM slots s JOIN host_rooms hr ON hr.id = s.host_room_id \
             JOIN courts c ON c.id = hr.court_id \
             WHERE hr.court_id IN (SELECT id FROM up WHERE depth > 0) \
             AND s.ends_at > $2 AND s.starts_at < $3 AND NOT s.withdrawn \
             AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.slot_id = s.id AND b.status <> 'cancelled') \
             ORDER BY s.starts_at, c.id, hr.id",
            tree::LINE
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(court_id)
            .bind(now)
            .bind(to)
            .fetch_all(p)
            .await)?)
    }

    pub async fn slot(&self, id: SlotId) -> Result<SlotRow, StoreError> {
        let sql = "SELECT s.id, s.host_room_id, hr.name AS host_room_name, c.id AS court_id, \
                   c.name AS court_name, c.level AS court_level, s.starts_at, s.ends_at, s.theme \
                   FROM slots s JOIN host_rooms hr ON hr.id = s.host_room_id \
                   JOIN courts c ON c.id = hr.court_id WHERE s.id = $1";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    pub async fn booking(&self, id: BookingId) -> Result<BookingRow, StoreError> {
        let sql = "SELECT b.id, s.id AS session_id, b.slot_id, b.case_id, b.local_room_id, b.status, \
                   b.starts_at, b.ends_at FROM bookings b JOIN sessions s ON s.booking_id = b.id \
                   WHERE b.id = $1";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    pub async fn set_join_code(
        &self,
        session_id: SessionId,
        code: &crate::domain::JoinCode,
        actor: &str,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE sessions SET join_code_hash = $2, join_code_sealed = $3 WHERE id = $1 AND status <> 'ended'";
        let (hash, sealed) = (code.hash(), code.sealed());
        in_write_tx!(self, |tx, chain| {
            let done = sqlx::query(sql)
                .bind(session_id)
                .bind(&hash)
                .bind(sealed.as_deref())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::SessionEnded);
            }
            let entry = audit::AuditEntry::new(
                actor,
                "session.join_code_reissued",
                format!("session:{session_id}"),
                serde_json::json!({}),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    // --- sessions and their timeline --------------------------------------------------------

    const SESSION_SELECT: &'static str = "SELECT se.id, se.status, se.booking_id, b.case_id, ca.case_number, \
        hc.id AS host_court_id, hc.name AS host_court_name, hc.level AS host_court_level, \
        hr.name AS host_room_name, lc.id AS local_court_id, lc.name AS local_court_name, \
        lr.name AS local_room_name, sl.starts_at, sl.ends_at, se.started_at, se.ended_at, \
        se.outcome, se.outcome_note, b.joint_court_id, se.transcript, se.transcript_decision, \
        se.transcript_sha256, se.transcript_decided_at, se.follow_up_deadline, se.follow_up_person, \
        se.satisfaction, se.rated_at, se.interrupted_seconds, se.connected_seconds, b.status AS booking_status \
        FROM sessions se JOIN bookings b ON b.id = se.booking_id \
        JOIN slots sl ON sl.id = b.slot_id JOIN host_rooms hr ON hr.id = sl.host_room_id \
        JOIN courts hc ON hc.id = hr.court_id JOIN local_rooms lr ON lr.id = b.local_room_id \
        JOIN courts lc ON lc.id = lr.court_id JOIN cases ca ON ca.id = b.case_id";

    pub async fn session(&self, id: SessionId) -> Result<SessionRow, StoreError> {
        let sql = format!("{} WHERE se.id = $1", Self::SESSION_SELECT);
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    pub async fn session_by_code_hash(&self, hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let sql = format!("{} WHERE se.join_code_hash = $1", Self::SESSION_SELECT);
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(hash)
            .fetch_optional(p)
            .await)?)
    }

    /// Sessions starting in `[from, to)`, hosted by (or booked by) `court_id`.
    pub async fn sessions_in(
        &self,
        scope: SessionScope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SessionRow>, StoreError> {
        // A joint reception's second court takes part as co-host: it sees the session too.
        let (condition, court_id) = match scope {
            SessionScope::HostedBy(id) => ("(hc.id = $1 OR b.joint_court_id = $1)", id),
            SessionScope::BookedBy(id) => ("lc.id = $1", id),
        };
        let sql = format!(
            "{} WHERE {condition} AND b.starts_at >= $2 AND b.starts_at < $3 \
             AND b.status <> 'cancelled' ORDER BY b.starts_at, se.id",
            Self::SESSION_SELECT
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(court_id)
            .bind(from)
            .bind(to)
            .fetch_all(p)
            .await)?)
    }

    /// Appends an event to a session's timeline and, in the same transaction, moves the
    /// session's status when `lifecycle` calls for it, recording the change as a
    /// `status_changed` event by the same actor.
    pub async fn add_event(
        &self,
        session_id: SessionId,
        kind: EventKind,
        actor: &str,
        data: &serde_json::Value,
        lifecycle: Lifecycle,
    ) -> Result<EventRow, StoreError> {
        let at = self.now();
        let text = data.to_string();
        let insert = "INSERT INTO session_events (session_id, at, kind, actor, data) \
                      VALUES ($1, $2, $3, $4, $5) RETURNING id";
        let id = in_write_tx!(self, |tx| {
            let (id,): (i64,) = sqlx::query_as(insert)
                .bind(session_id)
                .bind(at)
                .bind(kind.as_str())
                .bind(actor)
                .bind(&text)
                .fetch_one(&mut *tx)
                .await?;
            let (current,): (String,) = sqlx::query_as("SELECT status FROM sessions WHERE id = $1")
                .bind(session_id)
                .fetch_one(&mut *tx)
                .await?;
            // The schema's CHECK holds the status to the closed set; a status this build does
            // not know (a newer instance's) moves nothing.
            let next = current
                .parse::<SessionStatus>()
                .ok()
                .and_then(|from| lifecycle(kind, actor, data, from));
            if let Some(next) = next {
                // The gap of an interruption, for the record.
                let mut gap = 0i64;
                if current == SessionStatus::Interrupted.as_str() {
                    let since: Option<(DateTime<Utc>,)> = sqlx::query_as(
                        "SELECT at FROM session_events WHERE session_id = $1 AND kind = 'status_changed' \
                         AND data LIKE '%\"to\":\"interrupted\"%' ORDER BY id DESC LIMIT 1",
                    )
                    .bind(session_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    gap = since.map(|(t,)| (at - t).num_seconds().max(0)).unwrap_or(0);
                }
                sqlx::query(
                    "UPDATE sessions SET status = $2, \
                     started_at = CASE WHEN $2 = 'live' THEN COALESCE(started_at, $3) ELSE started_at END, \
                     interrupted_seconds = interrupted_seconds + $4 WHERE id = $1 AND status = $5",
                )
                .bind(session_id)
                .bind(next.as_str())
                .bind(at)
                .bind(gap)
                .bind(&current)
                .execute(&mut *tx)
                .await?;
                let change = serde_json::json!({"from": current, "to": next.as_str(), "because": kind.as_str(), "gap_seconds": gap});
                sqlx::query(
                    "INSERT INTO session_events (session_id, at, kind, actor, data) VALUES ($1, $2, $5, $3, $4)",
                )
                .bind(session_id)
                .bind(at)
                .bind(actor)
                .bind(change.to_string())
                .bind(EventKind::StatusChanged.as_str())
                .execute(&mut *tx)
                .await?;
            }
            id
        });
        Ok(EventRow {
            id,
            session_id,
            at,
            kind: kind.as_str().to_owned(),
            actor: actor.to_owned(),
            data: text,
        })
    }

    pub async fn events(&self, session_id: SessionId) -> Result<Vec<EventRow>, StoreError> {
        let sql = "SELECT id, session_id, at, kind, actor, data FROM session_events \
                   WHERE session_id = $1 ORDER BY id";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(session_id)
            .fetch_all(p)
            .await)?)
    }

    /// Ends a session with its outcome: the session, its booking, the ledger entry and the
    /// `ended` event are written in one transaction, so the case's ledger never misses a session.
    pub async fn end_session(&self, end: &EndSession<'_>) -> Result<(), StoreError> {
        let at = self.now();
        let counted_as = end.channel.counted_as();
        let data =
            serde_json::json!({"outcome": end.outcome.as_str(), "note": end.note}).to_string();
        in_write_tx!(self, |tx, chain| {
            let current: Option<(String,)> =
                sqlx::query_as("SELECT status FROM sessions WHERE id = $1")
                    .bind(end.session_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((current,)) = current.filter(|(c,)| c != "ended") else {
                return Err(StoreError::SessionEnded);
            };
            sqlx::query(
                "UPDATE sessions SET status = 'ended', ended_at = $2, outcome = $3, outcome_note = $4, \
                 follow_up_deadline = $5, follow_up_person = $6, started_at = COALESCE(started_at, $2), \
                 connected_seconds = $7 WHERE id = $1",
            )
            .bind(end.session_id)
            .bind(at)
            .bind(end.outcome.as_str())
            .bind(end.note)
            .bind(end.follow_up_deadline)
            .bind(end.follow_up_person)
            .bind(end.connected_seconds)
            .execute(&mut *tx)
            .await?;
            let change = serde_json::json!({"from": current, "to": "ended", "because": "ended"});
            sqlx::query(
                "INSERT INTO session_events (session_id, at, kind, actor, data) VALUES ($1, $2, $5, $3, $4)",
            )
            .bind(end.session_id)
            .bind(at)
            .bind(end.actor)
            .bind(change.to_string())
            .bind(EventKind::StatusChanged.as_str())
            .execute(&mut *tx)
            .await?;
            // A reception that ends early frees its local room for the rest of the window.
            sqlx::query(
                "UPDATE bookings SET status = 'completed', \
                 ends_at = CASE WHEN $2 > starts_at AND $2 < ends_at THEN $2 ELSE ends_at END WHERE id = $1",
            )
            .bind(end.booking_id)
            .bind(at)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                // A reception the court arranged: court-initiated (never a repeat petition),
                // received by the host court, carrying the session's outcome.
                "INSERT INTO ledger_entries (case_id, at, channel, counted_as, session_id, note, connected_minutes, \
                 court_initiated, receiving_organ, receiving_court_id, outcome, received_by, recorded_by, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, 'court', \
                 (SELECT host_court_id FROM bookings WHERE id = $8), $9, $10, $11, $2)",
            )
            .bind(end.case_id)
            .bind(at)
            .bind(end.channel.as_str())
            .bind(counted_as.as_str())
            .bind(end.session_id)
            .bind(end.ledger_note)
            .bind(end.connected_seconds / 60)
            .bind(end.booking_id)
            .bind(end.outcome.as_str())
            .bind(end.actor_name)
            .bind(end.actor)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO session_events (session_id, at, kind, actor, data) VALUES ($1, $2, $5, $3, $4)",
            )
            .bind(end.session_id)
            .bind(at)
            .bind(end.actor)
            .bind(&data)
            .bind(EventKind::Ended.as_str())
            .execute(&mut *tx)
            .await?;
            let entry = audit::AuditEntry::new(
                end.actor,
                "session.end",
                format!("session:{}", end.session_id),
                serde_json::json!({"outcome": end.outcome.as_str(), "case_id": end.case_id, "channel": end.channel.as_str(), "connected_seconds": end.connected_seconds}),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    /// Live or waiting sessions in which everyone has left (or dropped past the grace period)
    /// and nobody has come back since `cutoff`, each with whether it had started (the
    /// petitioner had been let in).
    pub async fn sessions_everyone_lost(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<(SessionId, bool)>, StoreError> {
        let sql = "SELECT s.id, s.started_at IS NOT NULL FROM sessions s WHERE s.status IN ('live', 'waiting') \
            AND EXISTS (SELECT 1 FROM session_events l WHERE l.session_id = s.id AND l.kind = 'left') \
            AND NOT EXISTS ( \
                SELECT 1 FROM session_events e WHERE e.session_id = s.id AND e.kind IN ('joined', 'resumed') \
                AND NOT EXISTS (SELECT 1 FROM session_events x WHERE x.session_id = s.id AND x.actor = e.actor \
                                AND x.kind IN ('left', 'removed') AND x.id > e.id)) \
            AND (SELECT MAX(at) FROM session_events m WHERE m.session_id = s.id AND m.kind = 'left') < $1";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(cutoff)
            .fetch_all(p)
            .await)?)
    }

    /// Sessions whose slot ended before `cutoff` without the petitioner ever joining.
    pub async fn sessions_without_petitioner(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<SessionId>, StoreError> {
        // Only the last week: older open sessions were swept long ago (or predate the sweeper).
        let sql = "SELECT s.id FROM sessions s JOIN bookings b ON b.id = s.booking_id \
            WHERE s.status IN ('scheduled', 'waiting') AND b.status = 'booked' AND b.ends_at < $1 \
            AND b.ends_at > $2 \
            AND NOT EXISTS (SELECT 1 FROM session_events e WHERE e.session_id = s.id AND e.actor = 'petitioner' \
                            AND e.kind = 'joined')";
        let rows: Vec<(SessionId,)> = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(cutoff)
            .bind(cutoff - chrono::Duration::days(7))
            .fetch_all(p)
            .await)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// The host's transcript, while the session is not over.
    pub async fn set_transcript(
        &self,
        session_id: SessionId,
        text: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE sessions SET transcript = $2 WHERE id = $1 AND status NOT IN ('ended', 'no_show')";
        in_write_tx!(self, |tx, chain| {
            let done = sqlx::query(sql)
                .bind(session_id)
                .bind(text)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::SessionEnded);
            }
            // The text itself is on the session; the audit keeps who changed it, when, and its digest.
            let digest = hex::encode(sha2::Sha256::digest(text.as_bytes()));
            let entry = audit::AuditEntry::new(
                actor,
                "session.transcript_written",
                format!("session:{session_id}"),
                serde_json::json!({"sha256": digest}),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    /// The petitioner confirms (or refuses to sign) the transcript of an ended session, once:
    /// the text's SHA-256 and the time are kept with the decision, which is audited.
    pub async fn decide_transcript(
        &self,
        session_id: SessionId,
        decision: TranscriptDecision,
    ) -> Result<String, StoreError> {
        let at = self.now();
        in_write_tx!(self, |tx, chain| {
            let (status, text, decided): (String, String, Option<String>) = sqlx::query_as(
                "SELECT status, transcript, transcript_decision FROM sessions WHERE id = $1",
            )
            .bind(session_id)
            .fetch_one(&mut *tx)
            .await?;
            if status != "ended" {
                return Err(StoreError::NotYet);
            }
            if decided.is_some() {
                return Err(StoreError::AlreadyDone);
            }
            if text.trim().is_empty() {
                return Err(StoreError::NothingToConfirm);
            }
            let digest = hex::encode(sha2::Sha256::digest(text.as_bytes()));
            sqlx::query(
                "UPDATE sessions SET transcript_decision = $2, transcript_sha256 = $3, transcript_decided_at = $4 WHERE id = $1",
            )
            .bind(session_id)
            .bind(decision.as_str())
            .bind(&digest)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let data = serde_json::json!({"decision": decision.as_str(), "sha256": digest});
            sqlx::query("INSERT INTO session_events (session_id, at, kind, actor, data) VALUES ($1, $2, $4, 'petitioner', $3)")
                .bind(session_id)
                .bind(at)
                .bind(data.to_string())
                .bind(EventKind::TranscriptDecided.as_str())
                .execute(&mut *tx)
                .await?;
            let entry = audit::AuditEntry::new(
                format!("petitioner:{session_id}"),
                "session.transcript_decided",
                format!("session:{session_id}"),
                data,
            );
            chain.push(self.now(), &entry);
            Ok(digest)
        })
    }

    /// The petitioner's satisfaction with an ended session, once.
    pub async fn rate(
        &self,
        session_id: SessionId,
        rating: Satisfaction,
    ) -> Result<(), StoreError> {
        let at = self.now();
        in_write_tx!(self, |tx, chain| {
            let (status, rated): (String, Option<String>) =
                sqlx::query_as("SELECT status, satisfaction FROM sessions WHERE id = $1")
                    .bind(session_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if status != "ended" {
                return Err(StoreError::NotYet);
            }
            if rated.is_some() {
                return Err(StoreError::AlreadyDone);
            }
            sqlx::query("UPDATE sessions SET satisfaction = $2, rated_at = $3 WHERE id = $1")
                .bind(session_id)
                .bind(rating.as_str())
                .bind(at)
                .execute(&mut *tx)
                .await?;
            let data = serde_json::json!({"satisfaction": rating.as_str()});
            sqlx::query("INSERT INTO session_events (session_id, at, kind, actor, data) VALUES ($1, $2, $4, 'petitioner', $3)")
                .bind(session_id)
                .bind(at)
                .bind(data.to_string())
                .bind(EventKind::Rated.as_str())
                .execute(&mut *tx)
                .await?;
            let entry = audit::AuditEntry::new(
                format!("petitioner:{session_id}"),
                "session.rated",
                format!("session:{session_id}"),
                data,
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    pub async fn event(
        &self,
        session_id: SessionId,
        event_id: i64,
    ) -> Result<EventRow, StoreError> {
        let sql = "SELECT id, session_id, at, kind, actor, data FROM session_events WHERE session_id = $1 AND id = $2";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(session_id)
            .bind(event_id)
            .fetch_one(p)
            .await)?)
    }

    /// Extends a case's handling period once, by up to 30 days, with a reason; audited.
    pub async fn extend_case(
        &self,
        case_id: CaseId,
        days: i32,
        reason: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        in_write_tx!(self, |tx, chain| {
            let done = sqlx::query(
                "UPDATE cases SET extension_days = $2, extension_reason = $3 \
                 WHERE id = $1 AND extension_days = 0 AND accepted_on IS NOT NULL",
            )
            .bind(case_id)
            .bind(days)
            .bind(reason)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::AlreadyDone);
            }
            let entry = audit::AuditEntry::new(
                actor,
                "case.extended",
                format!("case:{case_id}"),
                serde_json::json!({"days": days, "reason": reason}),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    /// Counts a failed login; at `max` in a row the account is locked until `until` (audited).
    /// Returns the lock's end when this failure locked it.
    pub async fn record_login_failure(
        &self,
        user_id: UserId,
        max: i32,
        until: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        in_write_tx!(self, |tx, chain| {
            let (failed,): (i32,) = sqlx::query_as(
                "UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins",
            )
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
            if failed >= max {
                sqlx::query("UPDATE users SET locked_until = $2, failed_logins = 0 WHERE id = $1")
                    .bind(user_id)
                    .bind(until)
                    .execute(&mut *tx)
                    .await?;
                let entry = audit::AuditEntry::new(
                    "system",
                    "auth.account_locked",
                    format!("user:{user_id}"),
                    serde_json::json!({"failed_logins": failed, "until": until}),
                );
                chain.push(self.now(), &entry);
                Ok(Some(until))
            } else {
                Ok(None)
            }
        })
    }

    pub async fn reset_login_failures(&self, user_id: UserId) -> Result<(), StoreError> {
        let sql = "UPDATE users SET failed_logins = 0 WHERE id = $1 AND failed_logins <> 0";
        on_pool!(self, |p| sqlx::query(sql)
            .bind(user_id)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// An admin lifts a lockout (audited).
    pub async fn unlock_user(&self, user_id: UserId, actor: &str) -> Result<(), StoreError> {
        in_write_tx!(self, |tx, chain| {
            let done = sqlx::query(
                "UPDATE users SET locked_until = NULL, failed_logins = 0 WHERE id = $1",
            )
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let entry = audit::AuditEntry::new(
                actor,
                "auth.account_unlocked",
                format!("user:{user_id}"),
                serde_json::json!({}),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    // --- the audit log ---------------------------------------------------------------------

    /// Records an auditable fact on its own (a login, a refusal).
    pub async fn audit(&self, entry: &audit::AuditEntry) -> Result<(), StoreError> {
        in_write_tx!(self, |tx, chain| {
            chain.push(self.now(), entry);
        });
        Ok(())
    }

    /// A petitioner's identity number, unmasked: read and audited in one transaction.
    pub async fn read_identity_audited(
        &self,
        case_id: CaseId,
        actor: &str,
    ) -> Result<String, StoreError> {
        in_write_tx!(self, |tx, chain| {
            let (sealed,): (String,) =
                sqlx::query_as("SELECT petitioner_id_number FROM cases WHERE id = $1")
                    .bind(case_id)
                    .fetch_one(&mut *tx)
                    .await?;
            let number = crate::crypto::sealer()
                .and_then(|s| s.open(&sealed))
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let entry = audit::AuditEntry::new(
                actor,
                "case.identity_read",
                format!("case:{case_id}"),
                serde_json::json!({}),
            );
            chain.push(self.now(), &entry);
            Ok(number)
        })
    }

    /// The booking's join code opened for its notice, if it was kept sealed and its session has
    /// not ended; each such read is written to the audit log, as an identity number's is.
    pub async fn read_join_code_audited(
        &self,
        booking_id: BookingId,
        actor: &str,
    ) -> Result<Option<crate::domain::JoinCode>, StoreError> {
        in_write_tx!(self, |tx, chain| {
            let row: Option<(i64, Option<String>)> = sqlx::query_as(
                "SELECT id, join_code_sealed FROM sessions WHERE booking_id = $1 AND status <> 'ended'",
            )
            .bind(booking_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((session_id, Some(sealed))) = row else {
                return Ok(None);
            };
            let code = crate::domain::JoinCode::unseal(&sealed)
                .ok_or_else(|| StoreError::Corrupt("a sealed join code does not open".into()))?;
            let entry = audit::AuditEntry::new(
                actor,
                "session.join_code_read",
                format!("session:{session_id}"),
                serde_json::json!({}),
            );
            chain.push(self.now(), &entry);
            Ok(Some(code))
        })
    }

    pub async fn audit_rows(&self) -> Result<Vec<audit::AuditRow>, StoreError> {
        let sql = "SELECT id, at, actor, action, subject, detail, prev_hash, hash FROM audit_entries ORDER BY id";
        Ok(on_pool!(self, |p| sqlx::query_as(sql).fetch_all(p).await)?)
    }

    // --- seeding (demo data and tests) ------------------------------------------------------

    pub async fn count_courts(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = on_pool!(self, |p| sqlx::query_as("SELECT COUNT(*) FROM courts")
            .fetch_one(p)
            .await)?;
        Ok(n)
    }

    pub async fn insert_court(
        &self,
        name: &str,
        level: &str,
        parent_id: Option<i64>,
    ) -> Result<i64, StoreError> {
        let sql = "INSERT INTO courts (name, level, parent_id) VALUES ($1, $2, $3) RETURNING id";
        let (id,): (i64,) = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(name)
            .bind(level)
            .bind(parent_id)
            .fetch_one(p)
            .await)?;
        Ok(id)
    }

    pub async fn insert_room(
        &self,
        kind: RoomKind,
        court_id: i64,
        name: &str,
    ) -> Result<i64, StoreError> {
        let sql = match kind {
            RoomKind::Host => {
                "INSERT INTO host_rooms (court_id, name) VALUES ($1, $2) RETURNING id"
            }
            RoomKind::Local => {
                "INSERT INTO local_rooms (court_id, name) VALUES ($1, $2) RETURNING id"
            }
        };
        let (id,): (i64,) = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(court_id)
            .bind(name)
            .fetch_one(p)
            .await)?;
        Ok(id)
    }

    pub async fn insert_user(&self, user: &NewUser<'_>) -> Result<i64, StoreError> {
        let sql = "INSERT INTO users (court_id, username, display_name, role, password_hash) \
                   VALUES ($1, $2, $3, $4, $5) RETURNING id";
        let (id,): (i64,) = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(user.court_id)
            .bind(user.username)
            .bind(user.display_name)
            .bind(user.role.as_str())
            .bind(user.password_hash)
            .fetch_one(p)
            .await)?;
        Ok(id)
    }

    /// What kind of matter a case is (a themed day admits only its kind).
    pub async fn set_case_category(
        &self,
        case_id: CaseId,
        category: crate::schedule::Category,
        actor: &str,
    ) -> Result<(), StoreError> {
        in_write_tx!(self, |tx, chain| {
            let done = sqlx::query("UPDATE cases SET category = $2 WHERE id = $1")
                .bind(case_id)
                .bind(category.as_str())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let entry = audit::AuditEntry::new(
                actor,
                "case.category",
                format!("case:{case_id}"),
                serde_json::json!({ "category": category.as_str() }),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    pub async fn insert_case(&self, case: &NewCase<'_>) -> Result<CaseId, StoreError> {
        let sql = "INSERT INTO cases (court_id, case_number, petitioner_name, petitioner_id_number, \
                   subject, status, tier, lead, deadline, escalation_risk, created_at, petitioner_phone, \
                   measures, goal, received_on, accepted_on, petitioner_id_hash) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id";
        let sealer = crate::crypto::sealer().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id_sealed = sealer.seal(case.petitioner_id_number);
        let phone_sealed = match case.petitioner_phone {
            "" => String::new(),
            phone => sealer.seal(phone),
        };
        let id_hash = sealer.lookup(case.petitioner_id_number);
        let (id,): (CaseId,) = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(case.court_id)
            .bind(case.case_number)
            .bind(case.petitioner_name)
            .bind(&id_sealed)
            .bind(case.subject)
            .bind(case.status.as_str())
            .bind(case.tier)
            .bind(case.lead)
            .bind(case.deadline)
            .bind(case.escalation_risk)
            .bind(self.now())
            .bind(&phone_sealed)
            .bind(case.measures)
            .bind(case.goal)
            .bind(case.received_on)
            .bind(case.accepted_on)
            .bind(&id_hash)
            .fetch_one(p)
            .await)?;
        Ok(id)
    }

    pub async fn insert_ledger_entry(
        &self,
        case_id: CaseId,
        at: DateTime<Utc>,
        channel: Channel,
        note: &str,
    ) -> Result<i64, StoreError> {
        // Seeds and tests: a contact received by the case's own court.
        let sql = "INSERT INTO ledger_entries (case_id, at, channel, counted_as, note, receiving_court_id, recorded_at) \
                   VALUES ($1, $2, $3, $4, $5, (SELECT court_id FROM cases WHERE id = $1), $2) RETURNING id";
        let (id,): (i64,) = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(case_id)
            .bind(at)
            .bind(channel.as_str())
            .bind(channel.counted_as().as_str())
            .bind(note)
            .fetch_one(p)
            .await)?;
        Ok(id)
    }

    /// Adds a slot unless the room already has one starting then. Returns whether it was new.
    pub async fn ensure_slot(
        &self,
        host_room_id: i64,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO slots (host_room_id, starts_at, ends_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (host_room_id, starts_at) DO NOTHING";
        let done = on_pool!(self, |p| sqlx::query(sql)
            .bind(host_room_id)
            .bind(starts_at)
            .bind(ends_at)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Host rooms without a weekly template: their slots are made by hand (the demo's).
    pub async fn host_room_ids(&self) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT id FROM host_rooms WHERE template_version = 0 ORDER BY id"
        )
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}

/// The rule that moves a session's status when an event is recorded: given the event's kind,
/// actor and data and the current status, the next status, if any. The application layer owns
/// it (`app::session::transition`); the store applies it inside the event's transaction.
pub type Lifecycle =
    fn(EventKind, &str, &serde_json::Value, SessionStatus) -> Option<SessionStatus>;

pub enum SessionScope {
    HostedBy(i64),
    BookedBy(i64),
}

pub enum RoomKind {
    Host,
    Local,
}

pub struct EndSession<'a> {
    pub session_id: SessionId,
    pub booking_id: BookingId,
    pub case_id: CaseId,
    pub outcome: Outcome,
    pub note: &'a str,
    pub channel: Channel,
    pub ledger_note: &'a str,
    pub actor: &'a str,
    pub actor_name: &'a str,
    pub follow_up_deadline: Option<&'a str>,
    pub follow_up_person: Option<&'a str>,
    /// Seconds the petitioner and the host were connected with media inside the window (see
    /// `app::session::reception`): kept on the session, and in whole minutes on the ledger.
    pub connected_seconds: i64,
}

pub struct NewUser<'a> {
    pub court_id: i64,
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: crate::domain::Role,
    pub password_hash: &'a str,
}

pub struct NewCase<'a> {
    pub court_id: i64,
    pub case_number: &'a str,
    pub petitioner_name: &'a str,
    pub petitioner_id_number: &'a str,
    pub subject: &'a str,
    /// Registered or accepted: a conclusion is the ledger's (`CASE_STATUS`).
    pub status: CaseStatus,
    pub tier: i32,
    pub lead: Option<&'a str>,
    pub deadline: Option<&'a str>,
    pub escalation_risk: bool,
    pub petitioner_phone: &'a str,
    pub measures: Option<&'a str>,
    pub goal: Option<&'a str>,
    pub received_on: Option<&'a str>,
    pub accepted_on: Option<&'a str>,
}

/// The columns of a `CaseRow`, for a query whose `cases` row is `k`.
fn case_columns() -> String {
    format!(
        "k.id, k.court_id, k.case_number, k.petitioner_name, k.petitioner_id_number, k.subject, \
         {CASE_STATUS}, k.tier, k.lead, k.deadline, k.escalation_risk, k.petitioner_phone, k.measures, \
         k.goal, k.received_on, k.accepted_on, k.extension_days, k.extension_reason, k.answered_on, \
         k.review_requested_on, k.review_decided_on, k.rereview_requested_on, k.rereview_decided_on, \
         k.category, k.case_class, k.petitioner_count, k.collective, k.representative, \
         k.original_case_number, k.original_court, k.original_case_kind, k.matter, k.intake_channel, \
         k.opened_by, k.opened_at, k.petitioner_id_hash"
    )
}
