//! The notification tables' queries (outbox, notifications, webhooks and their deliveries,
//! calendar feeds), for both backends, with the store's own transaction macros.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::{Store, StoreError};
use crate::domain::{BookingId, BookingStatus, CaseId, UserId};

/// How long a claimed outbox row is left alone while one instance fans it out.
const OUTBOX_LEASE_SECONDS: i64 = 60;

/// Writes an outbox row on its own (the scheduling code writes its rows inside its own
/// transactions instead). For tests and tools.
pub async fn enqueue(store: &Store, topic: &str, payload: &Value) -> Result<i64, StoreError> {
    let now = store.now();
    let sql = "INSERT INTO outbox (topic, payload, created_at, next_attempt_at) \
               VALUES ($1, $2, $3, $3) RETURNING id";
    let (id,): (i64,) = on_pool!(store, |p| sqlx::query_as(sql)
        .bind(topic)
        .bind(payload.to_string())
        .bind(now)
        .fetch_one(p)
        .await)?;
    Ok(id)
}

const BOOKING_FACTS: &str = "SELECT b.id, se.id, hr.court_id, lr.court_id, b.starts_at, b.ends_at \
     FROM bookings b JOIN sessions se ON se.booking_id = b.id \
     JOIN slots s ON s.id = b.slot_id \
     JOIN host_rooms hr ON hr.id = COALESCE(b.host_room_id, s.host_room_id) \
     JOIN local_rooms lr ON lr.id = b.local_room_id";

type BookingFacts = (i64, i64, i64, i64, DateTime<Utc>, DateTime<Utc>);

fn booking_payload(f: &BookingFacts) -> Value {
    json!({
        "booking_id": f.0, "session_id": f.1, "host_court_id": f.2, "local_court_id": f.3,
        "starts_at": f.4, "ends_at": f.5,
    })
}

/// Enqueues `booking.reminder` for live bookings starting within `lead` of `now` that have had
/// none, setting `reminded_at` in the same transaction. Returns how many.
pub async fn enqueue_reminders(
    store: &Store,
    now: DateTime<Utc>,
    lead: chrono::Duration,
    batch: i64,
) -> Result<usize, StoreError> {
    let until = now + lead;
    let n = in_write_tx!(store, |tx| {
        let pg = store.on_postgres();
        let sql = format!(
            "{BOOKING_FACTS} WHERE b.status = 'booked' AND b.reminded_at IS NULL \
             AND b.starts_at > $1 AND b.starts_at <= $2 ORDER BY b.starts_at LIMIT $3{}",
            if pg {
                " FOR UPDATE OF b SKIP LOCKED"
            } else {
                ""
            }
        );
        let due: Vec<BookingFacts> = sqlx::query_as(&sql)
            .bind(now)
            .bind(until)
            .bind(batch)
            .fetch_all(&mut *tx)
            .await?;
        let mut n = 0;
        for f in &due {
            let done = sqlx::query(
                "UPDATE bookings SET reminded_at = $2 WHERE id = $1 AND reminded_at IS NULL",
            )
            .bind(f.0)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                sqlx::query(
                    "INSERT INTO outbox (topic, payload, created_at, next_attempt_at) \
                     VALUES ('booking.reminder', $1, $2, $2)",
                )
                .bind(booking_payload(f).to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                n += 1;
            }
        }
        n
    });
    Ok(n)
}

/// Enqueues `booking.no_show` for sessions marked no-show that have had no such notice,
/// marking them in the same transaction. Returns how many.
pub async fn enqueue_no_shows(
    store: &Store,
    now: DateTime<Utc>,
    batch: i64,
) -> Result<usize, StoreError> {
    let n = in_write_tx!(store, |tx| {
        let pg = store.on_postgres();
        let sql = format!(
            "{BOOKING_FACTS} WHERE se.status = 'no_show' AND NOT se.no_show_noticed \
             ORDER BY se.id LIMIT $1{}",
            if pg {
                " FOR UPDATE OF se SKIP LOCKED"
            } else {
                ""
            }
        );
        let due: Vec<BookingFacts> = sqlx::query_as(&sql).bind(batch).fetch_all(&mut *tx).await?;
        let mut n = 0;
        for f in &due {
            let done = sqlx::query(
                "UPDATE sessions SET no_show_noticed = TRUE WHERE id = $1 AND NOT no_show_noticed",
            )
            .bind(f.1)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                sqlx::query(
                    "INSERT INTO outbox (topic, payload, created_at, next_attempt_at) \
                     VALUES ('booking.no_show', $1, $2, $2)",
                )
                .bind(booking_payload(f).to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                n += 1;
            }
        }
        n
    });
    Ok(n)
}

/// An outbox row claimed for fan-out.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub topic: String,
    pub payload: String,
    pub created_at: DateTime<Utc>,
    pub attempts: i32,
}

/// Claims up to `batch` due outbox rows: each is leased (its next attempt pushed out) and its
/// attempt counted, so that no other instance takes it meanwhile.
pub async fn claim_outbox(
    store: &Store,
    now: DateTime<Utc>,
    batch: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    let lease = now + chrono::Duration::seconds(OUTBOX_LEASE_SECONDS);
    let rows = in_write_tx!(store, |tx| {
        let pg = store.on_postgres();
        let sql = format!(
            "SELECT id, topic, payload, created_at, attempts FROM outbox \
             WHERE delivered_at IS NULL AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2{}",
            if pg { " FOR UPDATE SKIP LOCKED" } else { "" }
        );
        let mut rows: Vec<OutboxRow> = sqlx::query_as(&sql)
            .bind(now)
            .bind(batch)
            .fetch_all(&mut *tx)
            .await?;
        for row in &mut rows {
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2 WHERE id = $1",
            )
            .bind(row.id)
            .bind(lease)
            .execute(&mut *tx)
            .await?;
            row.attempts += 1;
        }
        rows
    });
    Ok(rows)
}

/// Who an event concerns, and what it says, once resolved against the database.
struct Resolved {
    event: String,
    host_court_id: Option<i64>,
    local_court_id: Option<i64>,
    data: Value,
}

/// Fans one claimed outbox row out, in one transaction, into notifications and webhook
/// deliveries, and marks it delivered. Safe to repeat: both inserts skip what is there.
pub async fn fan_out(store: &Store, row: &OutboxRow, now: DateTime<Utc>) -> Result<(), StoreError> {
    let mut data: Value = serde_json::from_str(&row.payload)
        .map_err(|e| StoreError::Corrupt(format!("outbox row {}: {e}", row.id)))?;
    in_write_tx!(store, |tx| {
        let mut resolved = Resolved {
            event: row.topic.clone(),
            host_court_id: data.get("host_court_id").and_then(Value::as_i64),
            local_court_id: data.get("local_court_id").and_then(Value::as_i64),
            data: Value::Null,
        };
        if let Some(booking_id) = data.get("booking_id").and_then(Value::as_i64) {
            let facts: Option<(i64, i64, Option<i64>, String, String, String)> = sqlx::query_as(
                "SELECT hr.court_id, lr.court_id, b.application_id, c.case_number, hc.name, lc.name \
                 FROM bookings b JOIN slots s ON s.id = b.slot_id \
                 JOIN host_rooms hr ON hr.id = COALESCE(b.host_room_id, s.host_room_id) \
                 JOIN local_rooms lr ON lr.id = b.local_room_id \
                 JOIN cases c ON c.id = b.case_id \
                 JOIN courts hc ON hc.id = hr.court_id JOIN courts lc ON lc.id = lr.court_id \
                 WHERE b.id = $1",
            )
            .bind(booking_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((host, local, application, case_number, host_name, local_name)) = facts {
                resolved.host_court_id = Some(host);
                resolved.local_court_id = Some(local);
                if row.topic == "booking.created" && application.is_some() {
                    resolved.event = "booking.approved".into();
                }
                if let Value::Object(map) = &mut data {
                    map.insert("application_id".into(), json!(application));
                    map.insert("case_number".into(), json!(case_number));
                    map.insert("host_court_name".into(), json!(host_name));
                    map.insert("local_court_name".into(), json!(local_name));
                }
            }
        } else if let Some(application_id) = data.get("application_id").and_then(Value::as_i64) {
            let facts: Option<(i64, i64, String, String, String)> = sqlx::query_as(
                "SELECT a.host_court_id, a.local_court_id, c.case_number, hc.name, lc.name \
                 FROM applications a JOIN cases c ON c.id = a.case_id \
                 JOIN courts hc ON hc.id = a.host_court_id JOIN courts lc ON lc.id = a.local_court_id \
                 WHERE a.id = $1",
            )
            .bind(application_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((host, local, case_number, host_name, local_name)) = facts {
                resolved.host_court_id = Some(host);
                resolved.local_court_id = Some(local);
                if let Value::Object(map) = &mut data {
                    map.insert("case_number".into(), json!(case_number));
                    map.insert("host_court_name".into(), json!(host_name));
                    map.insert("local_court_name".into(), json!(local_name));
                }
            }
        }
        resolved.data = data;
        let data_text = resolved.data.to_string();
        // In-app: the local court's coordinators and the host court's officers.
        sqlx::query(
            "INSERT INTO notifications (user_id, outbox_id, event, data, created_at) \
             SELECT id, $1, $2, $3, $4 FROM users WHERE NOT disabled \
             AND ((court_id = $5 AND role = 'coordinator') OR (court_id = $6 AND role = 'officer')) \
             ON CONFLICT (outbox_id, user_id) DO NOTHING",
        )
        .bind(row.id)
        .bind(&resolved.event)
        .bind(&data_text)
        .bind(row.created_at)
        .bind(resolved.local_court_id.unwrap_or(-1))
        .bind(resolved.host_court_id.unwrap_or(-1))
        .execute(&mut *tx)
        .await?;
        // Webhooks of either court that want this event.
        let hooks: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, topics FROM webhooks WHERE active AND court_id IN ($1, $2) ORDER BY id",
        )
        .bind(resolved.host_court_id.unwrap_or(-1))
        .bind(resolved.local_court_id.unwrap_or(-1))
        .fetch_all(&mut *tx)
        .await?;
        let body = json!({
            "event": resolved.event, "event_id": row.id, "created_at": row.created_at,
            "data": resolved.data,
        })
        .to_string();
        for (hook_id, topics) in hooks {
            if !wants(&topics, &resolved.event) {
                continue;
            }
            sqlx::query(
                "INSERT INTO webhook_deliveries \
                 (webhook_id, outbox_id, event, body, status, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, 'pending', $5, $5) \
                 ON CONFLICT (webhook_id, outbox_id) DO NOTHING",
            )
            .bind(hook_id)
            .bind(row.id)
            .bind(&resolved.event)
            .bind(&body)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE outbox SET delivered_at = $2, last_error = NULL WHERE id = $1")
            .bind(row.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    });
    Ok(())
}

/// Whether a webhook subscribed to `topics` (a JSON array; empty: all) wants `event`.
pub fn wants(topics: &str, event: &str) -> bool {
    match serde_json::from_str::<Vec<String>>(topics) {
        Ok(list) => list.is_empty() || list.iter().any(|t| t == event),
        Err(_) => false,
    }
}

/// Records a failed fan-out: the row comes due again after `retry_at`.
pub async fn outbox_failed(
    store: &Store,
    id: i64,
    retry_at: DateTime<Utc>,
    error: &str,
) -> Result<(), StoreError> {
    let sql = "UPDATE outbox SET next_attempt_at = $2, last_error = $3 WHERE id = $1";
    on_pool!(store, |p| sqlx::query(sql)
        .bind(id)
        .bind(retry_at)
        .bind(truncate(error))
        .execute(p)
        .await
        .map(|_| ()))?;
    Ok(())
}

fn truncate(s: &str) -> String {
    s.chars().take(500).collect()
}

/// A webhook delivery claimed for sending.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub webhook_id: i64,
    pub event: String,
    pub body: String,
    pub attempts: i32,
    pub url: String,
    pub secret: String,
    pub active: bool,
}

/// Claims up to `batch` due webhook deliveries, leased until `lease` with the attempt counted.
pub async fn claim_deliveries(
    store: &Store,
    now: DateTime<Utc>,
    lease: DateTime<Utc>,
    batch: i64,
) -> Result<Vec<DeliveryRow>, StoreError> {
    let rows = in_write_tx!(store, |tx| {
        let pg = store.on_postgres();
        let sql = format!(
            "SELECT d.id, d.webhook_id, d.event, d.body, d.attempts, w.url, w.secret, w.active \
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1 \
             ORDER BY d.next_attempt_at, d.id LIMIT $2{}",
            if pg {
                " FOR UPDATE OF d SKIP LOCKED"
            } else {
                ""
            }
        );
        let mut rows: Vec<DeliveryRow> = sqlx::query_as(&sql)
            .bind(now)
            .bind(batch)
            .fetch_all(&mut *tx)
            .await?;
        for row in &mut rows {
            sqlx::query(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $2 \
                 WHERE id = $1",
            )
            .bind(row.id)
            .bind(lease)
            .execute(&mut *tx)
            .await?;
            row.attempts += 1;
        }
        rows
    });
    Ok(rows)
}

/// What became of one attempt.
pub enum Attempt<'a> {
    Delivered,
    /// Try again at this time.
    Retry(DateTime<Utc>, &'a str),
    /// Give up.
    Failed(&'a str),
}

pub async fn finish_delivery(
    store: &Store,
    id: i64,
    now: DateTime<Utc>,
    attempt: Attempt<'_>,
) -> Result<(), StoreError> {
    on_pool!(store, |p| {
        match attempt {
            Attempt::Delivered => sqlx::query(
                "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = $2, \
                     last_error = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()),
            Attempt::Retry(at, error) => sqlx::query(
                "UPDATE webhook_deliveries SET next_attempt_at = $2, last_error = $3 \
                     WHERE id = $1 AND status = 'pending'",
            )
            .bind(id)
            .bind(at)
            .bind(truncate(error))
            .execute(p)
            .await
            .map(|_| ()),
            Attempt::Failed(error) => sqlx::query(
                "UPDATE webhook_deliveries SET status = 'failed', last_error = $2 \
                     WHERE id = $1 AND status = 'pending'",
            )
            .bind(id)
            .bind(truncate(error))
            .execute(p)
            .await
            .map(|_| ()),
        }
    })?;
    Ok(())
}

// ---- In-app notifications ----

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct NotificationRow {
    pub id: i64,
    /// The event, e.g. `booking.created`, `booking.approved`, `booking.reminder`.
    pub event: String,
    /// The event's data as JSON text (ids, times, case number, court names).
    pub data: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// The newest `limit` notifications of a user, and how many of all theirs are unread.
pub async fn notifications_of(
    store: &Store,
    user_id: UserId,
    limit: i64,
) -> Result<(Vec<NotificationRow>, i64), StoreError> {
    let list = "SELECT id, event, data, created_at, read_at FROM notifications \
                WHERE user_id = $1 ORDER BY id DESC LIMIT $2";
    let unread = "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL";
    Ok(on_pool!(store, |p| {
        let rows: Vec<NotificationRow> = sqlx::query_as(list)
            .bind(user_id)
            .bind(limit)
            .fetch_all(p)
            .await?;
        let (n,): (i64,) = sqlx::query_as(unread).bind(user_id).fetch_one(p).await?;
        (rows, n)
    }))
}

/// Marks one of the user's notifications read; false when it is not theirs (or not there).
pub async fn mark_read(
    store: &Store,
    user_id: UserId,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let sql = "UPDATE notifications SET read_at = COALESCE(read_at, $3) \
               WHERE id = $1 AND user_id = $2";
    let n = on_pool!(store, |p| sqlx::query(sql)
        .bind(id)
        .bind(user_id)
        .bind(now)
        .execute(p)
        .await
        .map(|d| d.rows_affected()))?;
    Ok(n == 1)
}

// ---- Webhooks ----

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookRow {
    pub id: i64,
    pub court_id: i64,
    pub url: String,
    pub topics: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_webhook(
    store: &Store,
    court_id: i64,
    url: &str,
    secret: &str,
    topics: &[String],
    created_by: UserId,
) -> Result<WebhookRow, StoreError> {
    let sql = "INSERT INTO webhooks (court_id, url, secret, topics, active, created_by, created_at) \
               VALUES ($1, $2, $3, $4, TRUE, $5, $6) \
               RETURNING id, court_id, url, topics, active, created_at";
    let topics = serde_json::to_string(topics).unwrap_or_else(|_| "[]".into());
    Ok(on_pool!(store, |p| sqlx::query_as(sql)
        .bind(court_id)
        .bind(url)
        .bind(secret)
        .bind(&topics)
        .bind(created_by)
        .bind(store.now())
        .fetch_one(p)
        .await)?)
}

pub async fn webhooks_of(store: &Store, court_id: i64) -> Result<Vec<WebhookRow>, StoreError> {
    let sql = "SELECT id, court_id, url, topics, active, created_at FROM webhooks \
               WHERE court_id = $1 AND active ORDER BY id";
    Ok(on_pool!(store, |p| sqlx::query_as(sql)
        .bind(court_id)
        .fetch_all(p)
        .await)?)
}

/// Switches a court's webhook off; its pending deliveries fail. False when it is not there.
pub async fn deactivate_webhook(store: &Store, court_id: i64, id: i64) -> Result<bool, StoreError> {
    let done = in_write_tx!(store, |tx| {
        let done = sqlx::query(
            "UPDATE webhooks SET active = FALSE WHERE id = $1 AND court_id = $2 AND active",
        )
        .bind(id)
        .bind(court_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'failed', last_error = 'webhook removed' \
             WHERE webhook_id = $1 AND status = 'pending'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        done.rows_affected() == 1
    });
    Ok(done)
}

/// The delivery rows of a webhook (newest first), for the admin and the tests.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

pub async fn deliveries_of(
    store: &Store,
    court_id: i64,
    webhook_id: i64,
) -> Result<Vec<DeliveryView>, StoreError> {
    let sql = "SELECT d.id, d.event, d.status, d.attempts, d.last_error, d.next_attempt_at, \
               d.delivered_at FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
               WHERE d.webhook_id = $1 AND w.court_id = $2 ORDER BY d.id DESC LIMIT 200";
    Ok(on_pool!(store, |p| sqlx::query_as(sql)
        .bind(webhook_id)
        .bind(court_id)
        .fetch_all(p)
        .await)?)
}

// ---- Calendar feeds and the appointment notice ----

/// One booking as a calendar feed or the notice shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CalendarBooking {
    pub id: BookingId,
    pub status: BookingStatus,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub version: i32,
    pub case_number: String,
    pub host_court_id: i64,
    pub host_court_name: String,
    pub host_room_name: String,
    pub local_court_id: i64,
    pub local_court_name: String,
    pub local_room_name: String,
    pub cancel_reason: Option<String>,
    pub case_id: CaseId,
    pub petitioner_name: String,
}

const CALENDAR_SELECT: &str = "SELECT b.id, b.status, b.starts_at, b.ends_at, b.created_at, \
     b.version, c.case_number, hc.id AS host_court_id, hc.name AS host_court_name, \
     hr.name AS host_room_name, lc.id AS local_court_id, lc.name AS local_court_name, \
     lr.name AS local_room_name, b.cancel_reason, b.case_id, c.petitioner_name \
     FROM bookings b JOIN slots s ON s.id = b.slot_id \
     JOIN host_rooms hr ON hr.id = COALESCE(b.host_room_id, s.host_room_id) \
     JOIN courts hc ON hc.id = hr.court_id \
     JOIN local_rooms lr ON lr.id = b.local_room_id JOIN courts lc ON lc.id = lr.court_id \
     JOIN cases c ON c.id = b.case_id";

/// Whose bookings a feed shows.
#[derive(Debug, Clone, Copy)]
pub enum Feed {
    HostRoom(i64),
    LocalRoom(i64),
    Officer(i64),
}

/// A feed's bookings starting in `[from, to)`, cancelled ones included.
pub async fn calendar(
    store: &Store,
    feed: Feed,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<CalendarBooking>, StoreError> {
    let (filter, id) = match feed {
        Feed::HostRoom(id) => ("COALESCE(b.host_room_id, s.host_room_id) = $1", id),
        Feed::LocalRoom(id) => ("b.local_room_id = $1", id),
        Feed::Officer(id) => ("b.local_officer_id = $1", id),
    };
    let sql = format!(
        "{CALENDAR_SELECT} WHERE {filter} AND b.starts_at >= $2 AND b.starts_at < $3 \
         ORDER BY b.starts_at, b.id LIMIT 2000"
    );
    Ok(on_pool!(store, |p| sqlx::query_as(&sql)
        .bind(id)
        .bind(from)
        .bind(to)
        .fetch_all(p)
        .await)?)
}

pub async fn calendar_booking(store: &Store, id: BookingId) -> Result<CalendarBooking, StoreError> {
    let sql = format!("{CALENDAR_SELECT} WHERE b.id = $1");
    Ok(on_pool!(store, |p| sqlx::query_as(&sql)
        .bind(id)
        .fetch_one(p)
        .await)?)
}

/// The court of a host room, a local room or a user.
pub async fn court_of(store: &Store, feed: Feed) -> Result<Option<i64>, StoreError> {
    let sql = match feed {
        Feed::HostRoom(_) => "SELECT court_id FROM host_rooms WHERE id = $1",
        Feed::LocalRoom(_) => "SELECT court_id FROM local_rooms WHERE id = $1",
        Feed::Officer(_) => "SELECT court_id FROM users WHERE id = $1",
    };
    let id = match feed {
        Feed::HostRoom(id) | Feed::LocalRoom(id) | Feed::Officer(id) => id,
    };
    let row: Option<(i64,)> = on_pool!(store, |p| sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(p)
        .await)?;
    Ok(row.map(|(c,)| c))
}
