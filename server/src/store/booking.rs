//! Booking: a host room's slot and a local room (and the accompanying local officer) taken
//! together, in one transaction, under the host court's rules. The rules that count (weekly
//! limits, a petitioner's active bookings) are checked inside the transaction that inserts, so
//! that concurrent requests cannot all pass them; the database's own constraints are the last
//! guard against overlaps.

use chrono::{DateTime, Datelike, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::schedule::HostSettings;
use super::{BookingRow, CaseRow, SlotRow, Store, StoreError, audit};
use crate::domain::{BookingId, BookingStatus, CaseId, SessionId, SlotId, UserId};
use crate::schedule::{self, Category};
use courtlink_parsers::error::ErrorCode;

/// Everything needed to book, already checked for scope by the caller, with the rows it read to
/// check it: the store reads again only what may have changed since (whether the slot is still
/// offered and free), and in the transaction what is counted.
pub struct Book<'a> {
    pub slot: &'a SlotRow,
    pub settings: &'a HostSettings,
    pub case: &'a CaseRow,
    /// The local court, whose video room it is.
    pub local_court_id: i64,
    pub local_room_id: i64,
    pub local_officer_id: Option<UserId>,
    pub joint_court_id: Option<i64>,
    pub created_by: UserId,
    pub join_code_hash: &'a str,
    pub join_code_sealed: Option<String>,
    /// Approving an application: its id and the version the caller saw; it becomes `approved`
    /// in the same transaction.
    pub application: Option<(i64, i32)>,
    /// Rescheduling: the live booking this one replaces, cancelled in the same transaction.
    pub replaces: Option<Replaced<'a>>,
    pub at: DateTime<Utc>,
    /// The request's `Idempotency-Key`, if it had one: its answer is stored in the booking's own
    /// transaction, so a crash between the two cannot leave a booking whose key says "still
    /// running" (and a retry that never learns its join code).
    pub idempotency: Option<Answered<'a>>,
}

pub struct Answered<'a> {
    pub user_id: UserId,
    pub key: &'a str,
    /// The answer's status and JSON body, made from the booking.
    pub render: &'a (dyn Fn(&BookingRow) -> (u16, String) + Send + Sync),
}

pub struct Replaced<'a> {
    pub booking_id: BookingId,
    pub expected_version: i32,
    pub reason: &'a str,
}

/// A booking as the coordinator and the host court see it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct BookingDetail {
    #[schema(value_type = i64)]
    pub id: BookingId,
    #[schema(value_type = i64)]
    pub session_id: SessionId,
    #[schema(value_type = i64)]
    pub slot_id: SlotId,
    #[schema(value_type = i64)]
    pub case_id: CaseId,
    pub case_number: String,
    pub local_room_id: i64,
    pub local_court_id: i64,
    pub host_room_id: i64,
    pub host_court_id: i64,
    #[schema(value_type = Option<i64>)]
    pub local_officer_id: Option<UserId>,
    /// `booked`, `cancelled` or `completed` (the API documents it as text, as it always has).
    #[schema(value_type = String)]
    pub status: BookingStatus,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// A published change removed this booking's slot: the officer should move it.
    pub needs_move: bool,
    pub cancel_reason: Option<String>,
    pub rescheduled_from: Option<i64>,
    pub application_id: Option<i64>,
    pub version: i32,
}

/// A booking as `GET /bookings/{id}` and the list show it; a query goes on with its `WHERE`.
const BOOKING_DETAIL: &str = "SELECT b.id, s.id AS session_id, b.slot_id, b.case_id, c.case_number, \
     b.local_room_id, lr.court_id AS local_court_id, b.host_room_id, hr.court_id AS host_court_id, \
     b.local_officer_id, b.status, b.starts_at, b.ends_at, b.needs_move, b.cancel_reason, \
     b.rescheduled_from, b.application_id, b.version \
     FROM bookings b JOIN sessions s ON s.booking_id = b.id JOIN cases c ON c.id = b.case_id \
     JOIN local_rooms lr ON lr.id = b.local_room_id JOIN host_rooms hr ON hr.id = b.host_room_id";

/// Whose bookings: a local court's (the ones it made) or a host court's (the ones it receives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingSide {
    Local(i64),
    Host(i64),
}

/// The filters of a list of bookings, checked by the caller.
#[derive(Debug, Clone)]
pub struct BookingFilter {
    pub side: BookingSide,
    /// Scheduled start in `[from, to)`.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub case_id: Option<CaseId>,
    /// `booked`, `cancelled` or `completed`.
    pub status: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// Monday 00:00 Asia/Shanghai of the week holding `at`, as UTC.
pub fn week_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let day = schedule::local_day(at);
    let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
    crate::app::clock::day_start(monday)
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> StoreError {
    StoreError::Rule {
        code,
        message: message.into(),
    }
}

fn slot_gone() -> StoreError {
    conflict(
        ErrorCode::SlotWithdrawn,
        "the host court no longer offers this slot; choose another",
    )
}

fn conflict(code: ErrorCode, message: impl Into<String>) -> StoreError {
    StoreError::Conflict {
        code,
        message: message.into(),
    }
}

impl Store {
    /// Books under the host court's rules; transient conflicts are retried a few times.
    pub async fn book(&self, req: &Book<'_>) -> Result<BookingRow, StoreError> {
        let mut attempt = 0;
        loop {
            match self.try_book(req).await {
                Err(StoreError::Retryable(e)) if attempt < 6 => {
                    attempt += 1;
                    tracing::debug!(attempt, error = %e, "booking retried after a transient conflict");
                    tokio::time::sleep(std::time::Duration::from_millis(10 << attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn try_book(&self, req: &Book<'_>) -> Result<BookingRow, StoreError> {
        // The slot, the host court's settings, the case and the local court come from the use
        // case, which has just read them; only what may have changed since is read here, in one
        // round trip: the morning's slowest bookings spent their time in ~16 steps done one after
        // another, four of them reads of these same rows again (docs/benchmarks.md).
        let slot = req.slot;
        let settings = req.settings;
        let now: Option<(bool, bool)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT s.withdrawn, EXISTS (SELECT 1 FROM bookings b \
             WHERE b.slot_id = s.id AND b.status <> 'cancelled') FROM slots s WHERE s.id = $1"
        )
        .bind(slot.id)
        .fetch_optional(p)
        .await)?;
        // A template change may have removed or withdrawn the slot since the caller looked it up.
        let Some((false, booked)) = now else {
            return Err(slot_gone());
        };
        let category = req.case.category.as_str();
        // The same petitioner is found by the keyed hash of their identity number: the case's
        // own, or made from the number (opened as read) on a case from before sealing.
        let petitioner = match &req.case.petitioner_id_hash {
            Some(hash) => hash.clone(),
            None => crate::crypto::sealer()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?
                .lookup(&req.case.petitioner_id_number),
        };
        let local_court_id = req.local_court_id;

        if slot.ends_at <= req.at {
            return Err(conflict(ErrorCode::SlotPast, "this slot is already over"));
        }
        let notice = Duration::hours(i64::from(settings.min_notice_hours));
        if slot.starts_at < req.at + notice {
            return Err(refuse(
                ErrorCode::TooSoon,
                format!(
                    "this host court takes bookings at least {} hours ahead",
                    settings.min_notice_hours
                ),
            ));
        }
        if slot.starts_at > req.at + Duration::days(i64::from(settings.horizon_days)) {
            return Err(refuse(
                ErrorCode::BeyondHorizon,
                format!(
                    "this host court takes bookings up to {} days ahead",
                    settings.horizon_days
                ),
            ));
        }
        if let Some(theme) = slot.theme.as_deref() {
            if theme != category {
                let label = Category::parse(theme).map_or("other", Category::as_str);
                return Err(refuse(
                    ErrorCode::ThemeMismatch,
                    format!("this day receives {label} cases only; this case is {category}"),
                ));
            }
        }

        // A slot that is already booked is refused here, before the host court's lock: in a rush
        // most attempts are for slots just taken, and each would otherwise wait its turn for the
        // lock holding one of the pool's few connections, until requests queued behind them gave
        // up with 503 (1,000 attempts at 100 slots, tests/server/contention.rs). The unique
        // index still decides a race between two attempts that both pass this read.
        if booked {
            return Err(StoreError::SlotTaken);
        }
        let created_at = req.at;
        let week = week_start(slot.starts_at);
        let booking = in_write_tx!(self, |tx, chain| {
            if self.on_postgres() {
                // The host court's lock, shared: bookings of the court go on side by side, and a
                // publish of its slots (which takes it alone, `publish_room`) waits for them
                // and they for it. Then what the counted limits below count is decided one
                // booking at a time: the local court's share of this host court's week, and the
                // petitioner's live bookings with it. Taken in this order by every booking, so
                // that two never wait for each other. A collision of two keys only makes two
                // bookings wait in turn. (SQLite's write lock already orders everything.)
                sqlx::query("SELECT pg_advisory_xact_lock_shared(7227012, $1::int)")
                    .bind(i32::try_from(slot.court_id).unwrap_or(i32::MAX))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7227013))")
                    .bind(format!("share:{}:{local_court_id}", slot.court_id))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7227014))")
                    .bind(format!("petitioner:{}:{petitioner}", slot.court_id))
                    .execute(&mut *tx)
                    .await?;
            }
            // The slot is read again inside the transaction: a template change that committed
            // since the read above may have withdrawn or deleted it, and inserting a booking of
            // a deleted slot failed its foreign key (a 500 in the template race). On PostgreSQL
            // `FOR SHARE` also keeps a publish from withdrawing or deleting it until this commits;
            // SQLite's write lock already does.
            let still_offered: Option<(bool,)> = sqlx::query_as(if self.on_postgres() {
                "SELECT withdrawn FROM slots WHERE id = $1 FOR SHARE"
            } else {
                "SELECT withdrawn FROM slots WHERE id = $1"
            })
            .bind(req.slot.id)
            .fetch_optional(&mut *tx)
            .await?;
            if !matches!(still_offered, Some((false,))) {
                return Err(slot_gone());
            }
            if let Some(replaced) = &req.replaces {
                let done = sqlx::query(
                    "UPDATE bookings SET status = 'cancelled', cancel_reason = $2, cancelled_by = $3, \
                     cancelled_at = $4, version = version + 1 \
                     WHERE id = $1 AND status = 'booked' AND version = $5",
                )
                .bind(replaced.booking_id)
                .bind(replaced.reason)
                .bind(req.created_by)
                .bind(created_at)
                .bind(replaced.expected_version)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::Stale);
                }
            }
            if let Some(limit) = settings.weekly_limit_per_local_court {
                let (count,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM bookings WHERE local_court_id = $1 AND host_court_id = $2 \
                     AND status <> 'cancelled' AND starts_at >= $3 AND starts_at < $4",
                )
                .bind(local_court_id)
                .bind(slot.court_id)
                .bind(week)
                .bind(week + Duration::days(7))
                .fetch_one(&mut *tx)
                .await?;
                if count >= i64::from(limit) {
                    return Err(conflict(
                        ErrorCode::WeeklyLimitReached,
                        format!(
                            "your court already has {count} sessions with this host court that week; its share is {limit}"
                        ),
                    ));
                }
            }
            let (active,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM bookings b JOIN cases c ON c.id = b.case_id \
                 WHERE c.petitioner_id_hash = $1 AND b.status = 'booked' AND b.ends_at > $2 \
                 AND b.host_court_id = $3",
            )
            .bind(&petitioner)
            .bind(created_at)
            .bind(slot.court_id)
            .fetch_one(&mut *tx)
            .await?;
            if active >= i64::from(settings.active_limit_per_petitioner) {
                return Err(conflict(
                    ErrorCode::PetitionerLimitReached,
                    format!(
                        "this petitioner already has {active} sessions booked with this court; the limit is {}",
                        settings.active_limit_per_petitioner
                    ),
                ));
            }
            let (booking_id,): (BookingId,) = sqlx::query_as(
                "INSERT INTO bookings (slot_id, case_id, local_room_id, starts_at, ends_at, status, \
                 created_by, created_at, joint_court_id, host_room_id, local_officer_id, \
                 application_id, rescheduled_from) \
                 VALUES ($1, $2, $3, $4, $5, 'booked', $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            )
            .bind(req.slot.id)
            .bind(req.case.id)
            .bind(req.local_room_id)
            .bind(slot.starts_at)
            .bind(slot.ends_at)
            .bind(req.created_by)
            .bind(created_at)
            .bind(req.joint_court_id)
            .bind(slot.host_room_id)
            .bind(req.local_officer_id)
            .bind(req.application.map(|(id, _)| id))
            .bind(req.replaces.as_ref().map(|r| r.booking_id))
            .fetch_one(&mut *tx)
            .await?;
            let (session_id,): (SessionId,) = sqlx::query_as(
                "INSERT INTO sessions (booking_id, status, join_code_hash, join_code_sealed) \
                 VALUES ($1, 'scheduled', $2, $3) RETURNING id",
            )
            .bind(booking_id)
            .bind(req.join_code_hash)
            .bind(req.join_code_sealed.as_deref())
            .fetch_one(&mut *tx)
            .await?;
            let detail = serde_json::json!({
                "slot_id": req.slot.id, "case_id": req.case.id, "local_room_id": req.local_room_id,
                "session_id": session_id, "joint_court_id": req.joint_court_id,
                "local_officer_id": req.local_officer_id, "application_id": req.application.map(|(id, _)| id),
                "replaces": req.replaces.as_ref().map(|r| r.booking_id),
            });
            if let Some((application, version)) = req.application {
                let done = sqlx::query(
                    "UPDATE applications SET status = 'approved', booking_id = $2, updated_at = $3, \
                     version = version + 1 WHERE id = $1 AND version = $4 \
                     AND status IN ('pending', 'proposed', 'more_info')",
                )
                .bind(application)
                .bind(booking_id)
                .bind(created_at)
                .bind(version)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::Stale);
                }
            }
            let (action, topic) = match &req.replaces {
                Some(_) => ("booking.reschedule", "booking.rescheduled"),
                None => ("booking.create", "booking.created"),
            };
            let entry = audit::AuditEntry::new(
                format!("user-{}", req.created_by),
                action,
                format!("booking:{booking_id}"),
                detail,
            );
            chain.push(self.now(), &entry);
            enqueue!(
                self,
                tx,
                topic,
                serde_json::json!({
                    "booking_id": booking_id, "session_id": session_id,
                    "host_court_id": slot.court_id, "local_court_id": local_court_id,
                    "starts_at": slot.starts_at, "ends_at": slot.ends_at,
                    "replaces": req.replaces.as_ref().map(|r| r.booking_id),
                    "reason": req.replaces.as_ref().map(|r| r.reason),
                })
            );
            let row = BookingRow {
                id: booking_id,
                session_id,
                slot_id: req.slot.id,
                case_id: req.case.id,
                local_room_id: req.local_room_id,
                status: BookingStatus::Booked,
                starts_at: slot.starts_at,
                ends_at: slot.ends_at,
            };
            if let Some(answered) = &req.idempotency {
                let (status, body) = (answered.render)(&row);
                sqlx::query(
                    "UPDATE idempotency_keys SET state = 'done', status = $3, body = $4 \
                     WHERE user_id = $1 AND key = $2",
                )
                .bind(answered.user_id)
                .bind(answered.key)
                .bind(i32::from(status))
                .bind(body)
                .execute(&mut *tx)
                .await?;
            }
            row
        });
        Ok(booking)
    }

    pub async fn booking_detail(&self, id: BookingId) -> Result<BookingDetail, StoreError> {
        let sql = format!("{BOOKING_DETAIL} WHERE b.id = $1");
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    /// One page of a court's bookings, in the order they take place (`GET /bookings`).
    pub async fn bookings_page(&self, f: &BookingFilter) -> Result<Vec<BookingDetail>, StoreError> {
        let (column, court) = match f.side {
            BookingSide::Local(c) => ("b.local_court_id", c),
            BookingSide::Host(c) => ("b.host_court_id", c),
        };
        let sql = format!(
            "{BOOKING_DETAIL} WHERE {column} = $1 \
             AND ($2 IS NULL OR b.starts_at >= $2) AND ($3 IS NULL OR b.starts_at < $3) \
             AND ($4 IS NULL OR b.case_id = $4) AND ($5 IS NULL OR b.status = $5) \
             ORDER BY b.starts_at, b.id LIMIT $6 OFFSET $7"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(court)
            .bind(f.from)
            .bind(f.to)
            .bind(f.case_id)
            .bind(f.status.as_deref())
            .bind(f.limit)
            .bind(f.offset)
            .fetch_all(p)
            .await)?)
    }

    pub async fn slot_is_booked(&self, slot_id: SlotId) -> Result<bool, StoreError> {
        let (n,): (i64,) = on_pool!(self, |p| sqlx::query_as(
            "SELECT COUNT(*) FROM bookings WHERE slot_id = $1 AND status <> 'cancelled'"
        )
        .bind(slot_id)
        .fetch_one(p)
        .await)?;
        Ok(n > 0)
    }

    pub async fn booking_joint_court(
        &self,
        booking_id: BookingId,
    ) -> Result<Option<i64>, StoreError> {
        let (joint,): (Option<i64>,) = on_pool!(self, |p| sqlx::query_as(
            "SELECT joint_court_id FROM bookings WHERE id = $1"
        )
        .bind(booking_id)
        .fetch_one(p)
        .await)?;
        Ok(joint)
    }

    /// Cancels a live booking (with the version the caller saw) and says why.
    pub async fn cancel_booking(
        &self,
        id: BookingId,
        expected_version: i32,
        reason: &str,
        user_id: UserId,
        by_host: bool,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let b = self.booking_detail(id).await?;
        if b.status != BookingStatus::Booked {
            return Err(conflict(
                ErrorCode::BookingNotLive,
                "this booking is not live",
            ));
        }
        if b.starts_at <= at {
            return Err(conflict(
                ErrorCode::SessionStarted,
                "this session's time has come; end it with an outcome instead",
            ));
        }
        in_write_tx!(self, |tx, chain| {
            let done = sqlx::query(
                "UPDATE bookings SET status = 'cancelled', cancel_reason = $2, cancelled_by = $3, \
                 cancelled_at = $4, version = version + 1 WHERE id = $1 AND status = 'booked' AND version = $5",
            )
            .bind(id)
            .bind(reason)
            .bind(user_id)
            .bind(at)
            .bind(expected_version)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Stale);
            }
            let entry = audit::AuditEntry::new(
                format!("user-{user_id}"),
                "booking.cancel",
                format!("booking:{id}"),
                serde_json::json!({ "reason": reason, "by_host": by_host }),
            );
            chain.push(self.now(), &entry);
            enqueue!(
                self,
                tx,
                "booking.cancelled",
                serde_json::json!({
                    "booking_id": id, "session_id": b.session_id, "host_court_id": b.host_court_id,
                    "local_court_id": b.local_court_id, "starts_at": b.starts_at, "ends_at": b.ends_at,
                    "reason": reason, "by_host": by_host,
                })
            );
        });
        Ok(())
    }

    /// Free slots of a host court from `from` on (`at` is now), matching `theme` where the slot has one,
    /// bookable under the court's notice and horizon: what a cancelled booking is offered.
    pub async fn next_free_slots(
        &self,
        host_court_id: i64,
        category: Category,
        from: DateTime<Utc>,
        at: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<super::SlotRow>, StoreError> {
        let settings = self.host_settings(host_court_id).await?;
        let earliest = from.max(at + Duration::hours(i64::from(settings.min_notice_hours)));
        let latest = at + Duration::days(i64::from(settings.horizon_days));
        let sql = "SELECT s.id, s.host_room_id, hr.name AS host_room_name, c.id AS court_id, \
                   c.name AS court_name, c.level AS court_level, s.starts_at, s.ends_at, s.theme \
                   FROM slots s JOIN host_rooms hr ON hr.id = s.host_room_id JOIN courts c ON c.id = hr.court_id \
                   WHERE hr.court_id = $1 AND s.starts_at >= $2 AND s.starts_at <= $3 AND NOT s.withdrawn \
                   AND (s.theme IS NULL OR s.theme = $4) \
                   AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.slot_id = s.id AND b.status <> 'cancelled') \
                   ORDER BY s.starts_at, hr.id LIMIT $5";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(host_court_id)
            .bind(earliest)
            .bind(latest)
            .bind(category.as_str())
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }
}

/// What a booking POST's `Idempotency-Key` found.
#[derive(Debug)]
pub enum Idempotency {
    /// First use: go ahead, then `finish` or `abandon`.
    Fresh,
    /// Done before with the same body: answer the same.
    Replay { status: u16, body: String },
    /// The same key with another body.
    Mismatch,
    /// The first request with this key is still running.
    InFlight,
}

/// A stored key: request hash, state, answer status and body, when it was first used.
type KeyRow = (String, String, Option<i32>, Option<String>, DateTime<Utc>);

/// An in-flight key older than this was left by a crashed request and may be taken over.
const IN_FLIGHT_ABANDONED_SECS: i64 = 120;

impl Store {
    pub async fn idempotency_begin(
        &self,
        user_id: UserId,
        key: &str,
        request_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<Idempotency, StoreError> {
        // A write, so it takes its turn at SQLite's write lock like every other
        // (`sqlite_write_turn`): as a bare statement it met the busy handler's sleeps.
        let inserted = in_write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO idempotency_keys (user_id, key, request_hash, state, created_at) \
                 VALUES ($1, $2, $3, 'in_flight', $4) ON CONFLICT (user_id, key) DO NOTHING",
            )
            .bind(user_id)
            .bind(key)
            .bind(request_hash)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        if inserted == 1 {
            return Ok(Idempotency::Fresh);
        }
        let row: Option<KeyRow> = on_pool!(self, |p| sqlx::query_as(
            "SELECT request_hash, state, status, body, created_at FROM idempotency_keys \
                 WHERE user_id = $1 AND key = $2"
        )
        .bind(user_id)
        .bind(key)
        .fetch_optional(p)
        .await)?;
        let Some((hash, state, status, body, created_at)) = row else {
            // Forgotten between the two statements: start again.
            return Box::pin(self.idempotency_begin(user_id, key, request_hash, at)).await;
        };
        if hash != request_hash {
            return Ok(Idempotency::Mismatch);
        }
        match (state.as_str(), status, body) {
            ("done", Some(status), Some(body)) => Ok(Idempotency::Replay {
                status: u16::try_from(status).unwrap_or(200),
                body,
            }),
            _ if created_at < at - Duration::seconds(IN_FLIGHT_ABANDONED_SECS) => {
                let taken = on_pool!(self, |p| {
                    sqlx::query(
                    "UPDATE idempotency_keys SET created_at = $3 WHERE user_id = $1 AND key = $2 \
                     AND state = 'in_flight' AND created_at = $4"
                )
                .bind(user_id)
                .bind(key)
                .bind(at)
                .bind(created_at)
                .execute(p)
                .await
                .map(|r| r.rows_affected())
                })?;
                Ok(if taken == 1 {
                    Idempotency::Fresh
                } else {
                    Idempotency::InFlight
                })
            }
            _ => Ok(Idempotency::InFlight),
        }
    }

    pub async fn idempotency_finish(
        &self,
        user_id: UserId,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, |p| sqlx::query(
            "UPDATE idempotency_keys SET state = 'done', status = $3, body = $4 \
             WHERE user_id = $1 AND key = $2"
        )
        .bind(user_id)
        .bind(key)
        .bind(i32::from(status))
        .bind(body)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The request failed without a lasting effect: a retry with the same key runs again.
    pub async fn idempotency_abandon(&self, user_id: UserId, key: &str) -> Result<(), StoreError> {
        on_pool!(self, |p| sqlx::query(
            "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND state = 'in_flight'"
        )
        .bind(user_id)
        .bind(key)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn forget_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = on_pool!(self, |p| sqlx::query(
            "DELETE FROM idempotency_keys WHERE created_at < $1"
        )
        .bind(before)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done)
    }
}
