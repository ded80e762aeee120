//! Availability in the store: host-court settings, weekly templates, date overrides, the
//! working-day calendar, and publishing the slots they yield (see `crate::schedule`).

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Store, StoreError, audit};
use crate::domain::{SlotId, UserId};
use crate::schedule::{
    self, Calendar, CalendarDay, Category, Override, Template, TemplateDay, Window,
};
pub use courtlink_parsers::schedule::{CalendarEntry, HostSettings};

/// A date override as stored and shown.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct OverrideRow {
    pub id: i64,
    pub host_room_id: i64,
    /// `YYYY-MM-DD`, Asia/Shanghai.
    pub day: String,
    /// `closed` or `open`.
    pub kind: String,
    pub opens: Option<String>,
    pub closes: Option<String>,
    pub slot_minutes: Option<i32>,
    pub buffer_minutes: Option<i32>,
    pub theme: Option<String>,
    pub note: String,
}

/// A year of the national calendar: loaded (its holidays are known), or allowed by an admin to
/// take slots on the Monday–Friday pattern while not loaded.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct CalendarYear {
    pub year: i32,
    pub loaded: bool,
    pub loaded_by: Option<String>,
    pub allow_unloaded: bool,
    pub allowed_by: Option<String>,
}

/// What publishing a room's availability changed.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct PublishReport {
    pub added: usize,
    pub withdrawn: usize,
    /// Live bookings whose slot the change removed: flagged for the officer to move, and the
    /// coordinator notified. Nothing is cancelled by a template change.
    pub flagged_bookings: Vec<i64>,
}

/// A slot of a room's calendar, with its live booking if any.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct RoomSlot {
    #[schema(value_type = i64)]
    pub slot_id: SlotId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub theme: Option<String>,
    /// No longer offered by the template (kept because a booking points at it).
    pub withdrawn: bool,
    pub booking_id: Option<i64>,
    pub case_number: Option<String>,
    pub local_court_name: Option<String>,
    pub needs_move: Option<bool>,
}

#[derive(sqlx::FromRow)]
struct WindowRow {
    weekday: i32,
    opens: String,
    closes: String,
    slot_minutes: i32,
    buffer_minutes: i32,
}

#[derive(sqlx::FromRow)]
struct ExistingSlot {
    id: i64,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    theme: Option<String>,
    withdrawn: bool,
    live_booking: Option<i64>,
    any_booking: bool,
}

fn window_of(opens: String, closes: String, slot: i32, buffer: i32) -> Window {
    Window {
        opens,
        closes,
        slot_minutes: u32::try_from(slot).unwrap_or(0),
        buffer_minutes: u32::try_from(buffer).unwrap_or(0),
    }
}

pub fn calendar_from(entries: &[CalendarEntry]) -> Calendar {
    let mut calendar = Calendar::default();
    for e in entries {
        let Ok(day) = NaiveDate::parse_from_str(&e.day, "%Y-%m-%d") else {
            continue;
        };
        let kind = match (e.kind.as_str(), e.follows_weekday) {
            ("workday", Some(follows)) => CalendarDay::Workday {
                follows: u32::try_from(follows).unwrap_or(1),
            },
            _ => CalendarDay::Holiday,
        };
        calendar.days.insert(day, kind);
    }
    calendar
}

impl Store {
    /// Courts that have reception rooms.
    pub async fn host_court_ids(&self) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT DISTINCT court_id FROM host_rooms ORDER BY court_id"
        )
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    pub async fn court_by_name(&self, name: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT id FROM courts WHERE name = $1"
        )
        .bind(name)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(id,)| id))
    }

    pub async fn host_room_by_name(
        &self,
        court_id: i64,
        name: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT id FROM host_rooms WHERE court_id = $1 AND name = $2"
        )
        .bind(court_id)
        .bind(name)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(id,)| id))
    }

    /// A court's own reception rooms (接谈室), in its order.
    pub async fn host_rooms_of(&self, court_id: i64) -> Result<Vec<super::RoomRow>, StoreError> {
        let sql = "SELECT id, court_id, name FROM host_rooms WHERE court_id = $1 ORDER BY id";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(court_id)
            .fetch_all(p)
            .await)?)
    }

    pub async fn host_room_court(&self, host_room_id: i64) -> Result<i64, StoreError> {
        let (court,): (i64,) = on_pool!(self, |p| sqlx::query_as(
            "SELECT court_id FROM host_rooms WHERE id = $1"
        )
        .bind(host_room_id)
        .fetch_one(p)
        .await)?;
        Ok(court)
    }

    /// A room's slots in `[from, to)` with their live bookings, in time order.
    pub async fn room_slots(
        &self,
        host_room_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<RoomSlot>, StoreError> {
        let sql = "SELECT s.id AS slot_id, s.starts_at, s.ends_at, s.theme, s.withdrawn, \
                   b.id AS booking_id, c.case_number, lc.name AS local_court_name, b.needs_move \
                   FROM slots s \
                   LEFT JOIN bookings b ON b.slot_id = s.id AND b.status <> 'cancelled' \
                   LEFT JOIN cases c ON c.id = b.case_id LEFT JOIN courts lc ON lc.id = c.court_id \
                   WHERE s.host_room_id = $1 AND s.starts_at >= $2 AND s.starts_at < $3 \
                   AND (NOT s.withdrawn OR b.id IS NOT NULL) ORDER BY s.starts_at";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(host_room_id)
            .bind(from)
            .bind(to)
            .fetch_all(p)
            .await)?)
    }

    pub async fn host_settings(&self, court_id: i64) -> Result<HostSettings, StoreError> {
        let sql = "SELECT court_id, horizon_days, min_notice_hours, auto_approve, \
                   weekly_limit_per_local_court, active_limit_per_petitioner, version \
                   FROM host_court_settings WHERE court_id = $1";
        let row: Option<HostSettings> = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(court_id)
            .fetch_optional(p)
            .await)?;
        Ok(row.unwrap_or_else(|| HostSettings::defaults(court_id)))
    }

    /// Replaces a court's settings if `expected_version` is still current (0: never set).
    pub async fn put_host_settings(
        &self,
        s: &HostSettings,
        expected_version: i32,
        actor: &str,
    ) -> Result<HostSettings, StoreError> {
        let current = self.host_settings(s.court_id).await?;
        if current.version != expected_version {
            return Err(StoreError::Stale);
        }
        let sql = "INSERT INTO host_court_settings (court_id, horizon_days, min_notice_hours, auto_approve, \
                   weekly_limit_per_local_court, active_limit_per_petitioner, version) \
                   VALUES ($1, $2, $3, $4, $5, $6, 1) \
                   ON CONFLICT (court_id) DO UPDATE SET horizon_days = $2, min_notice_hours = $3, \
                   auto_approve = $4, weekly_limit_per_local_court = $5, active_limit_per_petitioner = $6, \
                   version = host_court_settings.version + 1 \
                   WHERE host_court_settings.version = $7";
        in_write_tx!(self, |tx, chain| {
            let done = sqlx::query(sql)
                .bind(s.court_id)
                .bind(s.horizon_days)
                .bind(s.min_notice_hours)
                .bind(s.auto_approve)
                .bind(s.weekly_limit_per_local_court)
                .bind(s.active_limit_per_petitioner)
                .bind(expected_version)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Stale);
            }
            let entry = audit::AuditEntry::new(
                actor,
                "schedule.settings",
                format!("court:{}", s.court_id),
                serde_json::to_value(s).unwrap_or_default(),
            );
            chain.push(self.now(), &entry);
        });
        self.host_settings(s.court_id).await
    }

    /// A room's weekly template and its version (0: the room has none and keeps hand-made slots).
    pub async fn template(&self, host_room_id: i64) -> Result<(Vec<TemplateDay>, i32), StoreError> {
        let (version,): (i32,) = on_pool!(self, |p| sqlx::query_as(
            "SELECT template_version FROM host_rooms WHERE id = $1"
        )
        .bind(host_room_id)
        .fetch_one(p)
        .await)?;
        let windows: Vec<WindowRow> = on_pool!(self, |p| sqlx::query_as(
            "SELECT weekday, opens, closes, slot_minutes, buffer_minutes FROM template_windows \
             WHERE host_room_id = $1 ORDER BY weekday, opens"
        )
        .bind(host_room_id)
        .fetch_all(p)
        .await)?;
        let themes: Vec<(i32, String)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT weekday, theme FROM template_themes WHERE host_room_id = $1"
        )
        .bind(host_room_id)
        .fetch_all(p)
        .await)?;
        let mut days: Vec<TemplateDay> = Vec::new();
        for w in windows {
            let weekday = u32::try_from(w.weekday).unwrap_or(0);
            let window = window_of(w.opens, w.closes, w.slot_minutes, w.buffer_minutes);
            match days.iter_mut().find(|d| d.weekday == weekday) {
                Some(day) => day.windows.push(window),
                None => days.push(TemplateDay {
                    weekday,
                    theme: None,
                    windows: vec![window],
                }),
            }
        }
        for (weekday, theme) in themes {
            let weekday = u32::try_from(weekday).unwrap_or(0);
            let theme = Category::parse(&theme);
            match days.iter_mut().find(|d| d.weekday == weekday) {
                Some(day) => day.theme = theme,
                None => days.push(TemplateDay {
                    weekday,
                    theme,
                    windows: vec![],
                }),
            }
        }
        days.sort_by_key(|d| d.weekday);
        Ok((days, version))
    }

    /// Replaces a room's template (already checked by `Template::parse`) if `expected_version`
    /// is current, then publishes the room's slots.
    pub async fn put_template(
        &self,
        host_room_id: i64,
        days: &[TemplateDay],
        expected_version: i32,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<PublishReport, StoreError> {
        in_write_tx!(self, |tx, chain| {
            let done = sqlx::query(
                "UPDATE host_rooms SET template_version = template_version + 1 \
                 WHERE id = $1 AND template_version = $2",
            )
            .bind(host_room_id)
            .bind(expected_version)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Stale);
            }
            sqlx::query("DELETE FROM template_windows WHERE host_room_id = $1")
                .bind(host_room_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM template_themes WHERE host_room_id = $1")
                .bind(host_room_id)
                .execute(&mut *tx)
                .await?;
            for day in days {
                let weekday = i32::try_from(day.weekday).unwrap_or(0);
                for w in &day.windows {
                    sqlx::query(
                        "INSERT INTO template_windows (host_room_id, weekday, opens, closes, slot_minutes, buffer_minutes) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(host_room_id)
                    .bind(weekday)
                    .bind(&w.opens)
                    .bind(&w.closes)
                    .bind(i32::try_from(w.slot_minutes).unwrap_or(0))
                    .bind(i32::try_from(w.buffer_minutes).unwrap_or(0))
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some(theme) = day.theme {
                    sqlx::query(
                        "INSERT INTO template_themes (host_room_id, weekday, theme) VALUES ($1, $2, $3)",
                    )
                    .bind(host_room_id)
                    .bind(weekday)
                    .bind(theme.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
            }
            let entry = audit::AuditEntry::new(
                actor,
                "schedule.template",
                format!("host_room:{host_room_id}"),
                serde_json::to_value(days).unwrap_or_default(),
            );
            chain.push(self.now(), &entry);
        });
        self.publish_room(host_room_id, at).await
    }

    pub async fn overrides(&self, host_room_id: i64) -> Result<Vec<OverrideRow>, StoreError> {
        let sql = "SELECT id, host_room_id, day, kind, opens, closes, slot_minutes, buffer_minutes, theme, note \
                   FROM room_overrides WHERE host_room_id = $1 ORDER BY day, id";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(host_room_id)
            .fetch_all(p)
            .await)?)
    }

    /// Adds a date override (checked by the caller) and publishes the room's slots.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_override(
        &self,
        host_room_id: i64,
        day: NaiveDate,
        window: Option<&Window>,
        theme: Option<Category>,
        note: &str,
        user_id: UserId,
        at: DateTime<Utc>,
    ) -> Result<(i64, PublishReport), StoreError> {
        let sql = "INSERT INTO room_overrides (host_room_id, day, kind, opens, closes, slot_minutes, \
                   buffer_minutes, theme, note, created_by) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id";
        let id = in_write_tx!(self, |tx, chain| {
            let (id,): (i64,) = sqlx::query_as(sql)
                .bind(host_room_id)
                .bind(day.format("%Y-%m-%d").to_string())
                .bind(if window.is_some() { "open" } else { "closed" })
                .bind(window.map(|w| w.opens.clone()))
                .bind(window.map(|w| w.closes.clone()))
                .bind(window.map(|w| i32::try_from(w.slot_minutes).unwrap_or(0)))
                .bind(window.map(|w| i32::try_from(w.buffer_minutes).unwrap_or(0)))
                .bind(theme.map(Category::as_str))
                .bind(note)
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
            let entry = audit::AuditEntry::new(
                format!("user-{user_id}"),
                "schedule.override",
                format!("host_room:{host_room_id}"),
                serde_json::json!({ "override": id, "day": day, "open": window, "note": note }),
            );
            chain.push(self.now(), &entry);
            id
        });
        Ok((id, self.publish_room(host_room_id, at).await?))
    }

    pub async fn delete_override(
        &self,
        host_room_id: i64,
        id: i64,
        user_id: UserId,
        at: DateTime<Utc>,
    ) -> Result<PublishReport, StoreError> {
        in_write_tx!(self, |tx, chain| {
            let done =
                sqlx::query("DELETE FROM room_overrides WHERE id = $1 AND host_room_id = $2")
                    .bind(id)
                    .bind(host_room_id)
                    .execute(&mut *tx)
                    .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let entry = audit::AuditEntry::new(
                format!("user-{user_id}"),
                "schedule.override_removed",
                format!("host_room:{host_room_id}"),
                serde_json::json!({ "override": id }),
            );
            chain.push(self.now(), &entry);
        });
        self.publish_room(host_room_id, at).await
    }

    pub async fn calendar_year(&self, year: i32) -> Result<Vec<CalendarEntry>, StoreError> {
        let sql = "SELECT day, kind, name, follows_weekday FROM calendar_days \
                   WHERE day >= $1 AND day <= $2 ORDER BY day";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(format!("{year:04}-01-01"))
            .bind(format!("{year:04}-12-31"))
            .fetch_all(p)
            .await)?)
    }

    /// Replaces one year's calendar (entries already checked to lie in that year), then
    /// republishes every templated room.
    pub async fn put_calendar_year(
        &self,
        year: i32,
        entries: &[CalendarEntry],
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<PublishReport, StoreError> {
        in_write_tx!(self, |tx, chain| {
            sqlx::query("DELETE FROM calendar_days WHERE day >= $1 AND day <= $2")
                .bind(format!("{year:04}-01-01"))
                .bind(format!("{year:04}-12-31"))
                .execute(&mut *tx)
                .await?;
            for e in entries {
                sqlx::query(
                    "INSERT INTO calendar_days (day, kind, name, follows_weekday) VALUES ($1, $2, $3, $4)",
                )
                .bind(&e.day)
                .bind(&e.kind)
                .bind(&e.name)
                .bind(e.follows_weekday)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "INSERT INTO calendar_years (year, loaded, loaded_by, loaded_at) VALUES ($1, TRUE, $2, $3) \
                 ON CONFLICT (year) DO UPDATE SET loaded = TRUE, loaded_by = $2, loaded_at = $3",
            )
            .bind(year)
            .bind(actor)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let entry = audit::AuditEntry::new(
                actor,
                "schedule.calendar",
                format!("calendar:{year}"),
                serde_json::json!({ "days": entries.len() }),
            );
            chain.push(self.now(), &entry);
        });
        self.publish_all(at).await
    }

    async fn calendar_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Calendar, StoreError> {
        let rows: Vec<CalendarEntry> = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT day, kind, name, follows_weekday FROM calendar_days WHERE day >= $1 AND day <= $2"
        )
        .bind(from.format("%Y-%m-%d").to_string())
        .bind(to.format("%Y-%m-%d").to_string())
        .fetch_all(p)
        .await
        })?;
        let mut calendar = calendar_from(&rows);
        self.add_years(&mut calendar).await?;
        Ok(calendar)
    }

    /// The whole national calendar (a few dozen days a year), with the years it knows.
    pub async fn calendar(&self) -> Result<Calendar, StoreError> {
        let rows: Vec<CalendarEntry> = on_pool!(self, |p| sqlx::query_as(
            "SELECT day, kind, name, follows_weekday FROM calendar_days"
        )
        .fetch_all(p)
        .await)?;
        let mut calendar = calendar_from(&rows);
        self.add_years(&mut calendar).await?;
        Ok(calendar)
    }

    async fn add_years(&self, calendar: &mut Calendar) -> Result<(), StoreError> {
        for y in self.calendar_years().await? {
            if y.loaded {
                calendar.loaded_years.insert(y.year);
            } else if y.allow_unloaded {
                calendar.allowed_years.insert(y.year);
            }
        }
        Ok(())
    }

    /// The years the calendar has a row for: loaded, or allowed while not loaded.
    pub async fn calendar_years(&self) -> Result<Vec<CalendarYear>, StoreError> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT year, loaded, loaded_by, allow_unloaded, allowed_by FROM calendar_years ORDER BY year"
        )
        .fetch_all(p)
        .await
        })?)
    }

    /// An admin allows (or stops allowing) slots on a year whose calendar is not loaded;
    /// audited, then every templated room is republished.
    pub async fn allow_unloaded_year(
        &self,
        year: i32,
        allow: bool,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<PublishReport, StoreError> {
        in_write_tx!(self, |tx, chain| {
            sqlx::query(
                "INSERT INTO calendar_years (year, loaded, allow_unloaded, allowed_by, allowed_at) \
                 VALUES ($1, FALSE, $2, $3, $4) ON CONFLICT (year) DO UPDATE SET \
                 allow_unloaded = $2, allowed_by = $3, allowed_at = $4",
            )
            .bind(year)
            .bind(allow)
            .bind(actor)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let entry = audit::AuditEntry::new(
                actor,
                "schedule.calendar_allow_unloaded",
                format!("calendar:{year}"),
                serde_json::json!({ "allow": allow }),
            );
            chain.push(self.now(), &entry);
        });
        self.publish_all(at).await
    }

    /// Republishes every room that has a template (at start-up and daily, so that the horizon
    /// moves forward, and after a calendar change).
    pub async fn publish_all(&self, at: DateTime<Utc>) -> Result<PublishReport, StoreError> {
        self.publish_rooms(None, at).await
    }

    /// Republishes the templated rooms of one court (after its settings changed), or of every
    /// court.
    pub async fn publish_rooms(
        &self,
        court_id: Option<i64>,
        at: DateTime<Utc>,
    ) -> Result<PublishReport, StoreError> {
        let rooms: Vec<(i64,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT id FROM host_rooms WHERE template_version > 0 \
             AND ($1 IS NULL OR court_id = $1) ORDER BY id"
        )
        .bind(court_id)
        .fetch_all(p)
        .await)?;
        let mut total = PublishReport::default();
        for (room,) in rooms {
            let r = self.publish_room(room, at).await?;
            total.added += r.added;
            total.withdrawn += r.withdrawn;
            total.flagged_bookings.extend(r.flagged_bookings);
        }
        Ok(total)
    }

    /// Brings a templated room's future slots in line with its template, overrides and the
    /// calendar, up to its court's horizon: new slots are added, slots no longer offered are
    /// withdrawn (deleted if nothing ever pointed at them), and a live booking whose slot went
    /// away is flagged for the officer to move, with the coordinator told through the outbox.
    pub async fn publish_room(
        &self,
        host_room_id: i64,
        at: DateTime<Utc>,
    ) -> Result<PublishReport, StoreError> {
        let (court_id, version): (i64, i32) = on_pool!(self, |p| sqlx::query_as(
            "SELECT court_id, template_version FROM host_rooms WHERE id = $1"
        )
        .bind(host_room_id)
        .fetch_one(p)
        .await)?;
        if version == 0 {
            return Ok(PublishReport::default());
        }
        let settings = self.host_settings(court_id).await?;
        let (days, _) = self.template(host_room_id).await?;
        // The stored template passed `Template::parse` when it was written.
        let template = Template::parse(&days).map_err(|e| {
            StoreError::Corrupt(format!("room {host_room_id}'s stored template: {e}"))
        })?;
        let from = schedule::local_day(at);
        let to = from + Duration::days(i64::from(settings.horizon_days));
        let calendar = self.calendar_between(from, to).await?;
        let mut overrides: HashMap<NaiveDate, Vec<Override>> = HashMap::new();
        for o in self.overrides(host_room_id).await? {
            let Ok(day) = NaiveDate::parse_from_str(&o.day, "%Y-%m-%d") else {
                continue;
            };
            let entry = match (o.opens, o.closes, o.slot_minutes, o.buffer_minutes) {
                (Some(opens), Some(closes), Some(slot), Some(buffer)) => {
                    match window_of(opens, closes, slot, buffer).parse() {
                        Ok(w) => Override::Open(w, o.theme.as_deref().and_then(Category::parse)),
                        Err(_) => continue,
                    }
                }
                _ => Override::Closed,
            };
            overrides.entry(day).or_default().push(entry);
        }
        // Slots beyond the horizon are left alone: a shorter horizon stops offering new days,
        // it does not take back what was published (or booked) before.
        let computed_until = crate::app::clock::day_start(to + Duration::days(1));
        let wanted: Vec<schedule::Computed> =
            schedule::compute(&template, &overrides, &calendar, from, to)
                .into_iter()
                .filter(|s| s.starts_at > at)
                // A day of a year whose calendar is not loaded might be a holiday: nothing is
                // offered on it unless an admin allowed that year (docs/clocks.md).
                .filter(|s| calendar.publishable(schedule::local_day(s.starts_at)))
                .collect();

        let mut report = PublishReport::default();
        in_write_tx!(self, |tx| {
            if self.on_postgres() {
                // The host court's booking lock (see `Store::book`), taken alone here and shared
                // by bookings: a publish and a booking of the same court never interleave, so a
                // publish never deletes a slot that a booking has just taken.
                sqlx::query("SELECT pg_advisory_xact_lock(7227012, $1::int)")
                    .bind(i32::try_from(court_id).unwrap_or(i32::MAX))
                    .execute(&mut *tx)
                    .await?;
            }
            let existing: Vec<ExistingSlot> = sqlx::query_as(
                "SELECT s.id, s.starts_at, s.ends_at, s.theme, s.withdrawn, \
                 (SELECT b.id FROM bookings b WHERE b.slot_id = s.id AND b.status <> 'cancelled') AS live_booking, \
                 EXISTS (SELECT 1 FROM bookings b WHERE b.slot_id = s.id) AS any_booking \
                 FROM slots s WHERE s.host_room_id = $1 AND s.starts_at > $2 AND s.starts_at < $3",
            )
            .bind(host_room_id)
            .bind(at)
            .bind(computed_until)
            .fetch_all(&mut *tx)
            .await?;
            let live: Vec<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
                "SELECT starts_at, ends_at FROM bookings WHERE host_room_id = $1 \
                 AND status <> 'cancelled' AND ends_at > $2",
            )
            .bind(host_room_id)
            .bind(at)
            .fetch_all(&mut *tx)
            .await?;
            let mut taken_starts: HashMap<DateTime<Utc>, usize> = HashMap::new();
            for (i, e) in existing.iter().enumerate() {
                taken_starts.insert(e.starts_at, i);
                let wanted_here = wanted
                    .iter()
                    .find(|w| w.starts_at == e.starts_at && w.ends_at == e.ends_at);
                match wanted_here {
                    Some(w) => {
                        let theme = w.theme.map(Category::as_str);
                        if e.withdrawn || e.theme.as_deref() != theme {
                            sqlx::query(
                                "UPDATE slots SET withdrawn = FALSE, theme = $2 WHERE id = $1",
                            )
                            .bind(e.id)
                            .bind(theme)
                            .execute(&mut *tx)
                            .await?;
                        }
                        if e.withdrawn && e.live_booking.is_some() {
                            // Offered again: the booking no longer needs moving.
                            sqlx::query(
                                "UPDATE bookings SET needs_move = FALSE, version = version + 1 \
                                 WHERE slot_id = $1 AND status <> 'cancelled' AND needs_move",
                            )
                            .bind(e.id)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                    None if e.withdrawn => {}
                    None => {
                        if let Some(booking) = e.live_booking {
                            sqlx::query("UPDATE slots SET withdrawn = TRUE WHERE id = $1")
                                .bind(e.id)
                                .execute(&mut *tx)
                                .await?;
                            sqlx::query(
                                "UPDATE bookings SET needs_move = TRUE, version = version + 1 WHERE id = $1",
                            )
                            .bind(booking)
                            .execute(&mut *tx)
                            .await?;
                            enqueue!(
                                self,
                                tx,
                                "booking.needs_move",
                                serde_json::json!({
                                    "booking_id": booking, "host_room_id": host_room_id,
                                    "starts_at": e.starts_at,
                                })
                            );
                            report.flagged_bookings.push(booking);
                        } else if e.any_booking {
                            sqlx::query("UPDATE slots SET withdrawn = TRUE WHERE id = $1")
                                .bind(e.id)
                                .execute(&mut *tx)
                                .await?;
                        } else {
                            sqlx::query("DELETE FROM slots WHERE id = $1")
                                .bind(e.id)
                                .execute(&mut *tx)
                                .await?;
                            taken_starts.remove(&e.starts_at);
                        }
                        report.withdrawn += 1;
                    }
                }
            }
            for w in &wanted {
                if taken_starts.contains_key(&w.starts_at) {
                    continue;
                }
                if live.iter().any(|(s, e)| *s < w.ends_at && w.starts_at < *e) {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO slots (host_room_id, starts_at, ends_at, theme) VALUES ($1, $2, $3, $4)",
                )
                .bind(host_room_id)
                .bind(w.starts_at)
                .bind(w.ends_at)
                .bind(w.theme.map(Category::as_str))
                .execute(&mut *tx)
                .await?;
                report.added += 1;
            }
        });
        if report.added + report.withdrawn > 0 {
            tracing::info!(
                host_room = host_room_id,
                added = report.added,
                withdrawn = report.withdrawn,
                flagged = report.flagged_bookings.len(),
                "slots published"
            );
        }
        Ok(report)
    }
}
