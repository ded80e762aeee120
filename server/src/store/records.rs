//! Queries for what higher courts see: session logs and statistics over the court hierarchy.
//!
//! Scope rests on one invariant of bookings: a local court books only the courts above it, so a
//! session's host court (and joint court) is an ancestor of its local court. The sessions a
//! court hosts are therefore among those booked inside its subtree, and "sessions booked by a
//! court or any court below it" is the whole of what that court may read.
//!
//! Each booking and ledger entry carries its local court and the city (intermediate) and
//! province (high) court above it (migration 0005 fills them by trigger), so a scope is one
//! column compared with one id — [`Under`] — and a log page is one index range read backwards.
//!
//! The log and the statistics are built at run time (their filters vary), so they cannot go
//! through `on_pool!` with one fixed text: [`Sql`] numbers the parameters as it goes, and
//! [`Store::fetch_sql`] binds them on either backend.

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Postgres, Sqlite};

use super::{CourtRow, Pool, Store, StoreError};
use crate::domain::{BookingId, BookingStatus, CaseId, CourtLevel, SessionId, SessionStatus};

/// Whose sessions a reader sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Everything (the SPC).
    All,
    /// Sessions booked by one court, or by it and every court below it.
    Court { court_id: i64, subtree: bool },
}

/// The sessions (and ledger entries) of a court and every court below it, as one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Under {
    /// Every court (the SPC's reach).
    #[default]
    All,
    /// A high court's province.
    Province(i64),
    /// An intermediate court's city.
    City(i64),
    /// One court alone.
    Court(i64),
}

impl Under {
    /// A court's subtree, from its level (`supreme`, `high`, `intermediate`, `basic`); or the
    /// court alone.
    pub fn of(court: &CourtRow, subtree: bool) -> Under {
        if !subtree {
            return Under::Court(court.id);
        }
        match court.level {
            CourtLevel::Supreme => Under::All,
            CourtLevel::High => Under::Province(court.id),
            CourtLevel::Intermediate => Under::City(court.id),
            CourtLevel::Basic => Under::Court(court.id),
        }
    }

    /// The condition on a booking (`b`) or a ledger entry (`l`, whose court is `court_id`).
    fn condition(self, sql: &mut Sql, table: &str) -> Option<String> {
        let local = if table == "l" {
            "court_id"
        } else {
            "local_court_id"
        };
        let (column, id) = match self {
            Under::All => return None,
            Under::Province(id) => ("province_court_id", id),
            Under::City(id) => ("city_court_id", id),
            Under::Court(id) => (local, id),
        };
        Some(format!("{table}.{column} = {}", sql.arg(Arg::Int(id))))
    }

    /// The child of the scope's court that a row falls under (the court itself for its own).
    fn branch(self, table: &str) -> String {
        let local = if table == "l" {
            "court_id"
        } else {
            "local_court_id"
        };
        match self {
            Under::All => format!("COALESCE({table}.province_court_id, {table}.{local})"),
            Under::Province(_) => format!("COALESCE({table}.city_court_id, {table}.{local})"),
            Under::City(_) | Under::Court(_) => format!("{table}.{local}"),
        }
    }
}

/// The filters of a session log page, parsed and checked by the caller.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Booked by a court of this scope (the reader's reach, narrowed by the `court` filter).
    pub under: Under,
    pub host_court: Option<i64>,
    /// Scheduled start in `[from, to)`.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub outcomes: Vec<String>,
    /// Session statuses; `cancelled` means the booking was cancelled.
    pub statuses: Vec<String>,
    pub case_number: Option<String>,
    /// Strictly before this (starts_at, booking id), newest first.
    pub before: Option<(DateTime<Utc>, i64)>,
    pub limit: i64,
}

/// One session as a log shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordRow {
    pub id: SessionId,
    pub booking_id: BookingId,
    pub status: SessionStatus,
    pub booking_status: BookingStatus,
    pub case_id: CaseId,
    pub case_number: String,
    pub host_court_id: i64,
    pub host_court_name: String,
    pub host_court_level: CourtLevel,
    pub host_room_name: String,
    pub local_court_id: i64,
    pub local_court_name: String,
    pub local_court_level: CourtLevel,
    pub local_room_name: String,
    pub joint_court_id: Option<i64>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub outcome_note: Option<String>,
    pub satisfaction: Option<String>,
    pub interrupted_seconds: i32,
    pub follow_up_deadline: Option<String>,
    /// The recorder lost someone's stream at some time (docs/recording.md).
    pub recording_gap: bool,
}

/// The counted facts of one court (or one branch of the hierarchy) over a period, for the cases
/// of one class. What each counts is defined in `docs/statistics.md`; the rates are made from
/// them in `app::statistics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// Sessions booked (booking not cancelled) by local courts of the branch.
    pub booked: i64,
    pub cancelled: i64,
    pub held: i64,
    /// Held sessions in which nobody confirmed the petitioner's identity.
    pub held_unconfirmed: i64,
    /// Held sessions whose recording has a gap, and held sessions of which no recording was
    /// kept at all (docs/recording.md).
    pub held_recording_gap: i64,
    pub held_unrecorded: i64,
    pub no_show: i64,
    pub interrupted: i64,
    /// Held sessions with both a start and an end, and their summed length in seconds.
    pub timed: i64,
    pub duration_seconds: f64,
    /// Sessions (booking not cancelled) hosted by courts of the branch, and the ratings of the
    /// held ones among them: satisfaction is the receiving (host) court's.
    pub hosted: i64,
    pub rated: i64,
    pub satisfied: i64,
    /// Ledger entries (contacts) in the period on cases of the branch, and what they were.
    pub contacts: i64,
    /// Contacts the petitioner made (not arranged or made by the court).
    pub petitions: i64,
    pub cases: i64,
    pub first_visits: i64,
    pub first_visits_closed: i64,
    pub repeat: i64,
    pub skip_level: i64,
    pub collective: i64,
    pub video_spc: i64,
    pub video_high: i64,
    pub to_beijing: i64,
    pub to_province: i64,
}

impl Counts {
    /// Adds another's figures to these (for totals and for both classes together).
    pub fn add(&mut self, o: &Counts) {
        self.booked += o.booked;
        self.cancelled += o.cancelled;
        self.held += o.held;
        self.held_unconfirmed += o.held_unconfirmed;
        self.held_recording_gap += o.held_recording_gap;
        self.held_unrecorded += o.held_unrecorded;
        self.no_show += o.no_show;
        self.interrupted += o.interrupted;
        self.timed += o.timed;
        self.duration_seconds += o.duration_seconds;
        self.hosted += o.hosted;
        self.rated += o.rated;
        self.satisfied += o.satisfied;
        self.contacts += o.contacts;
        self.petitions += o.petitions;
        self.cases += o.cases;
        self.first_visits += o.first_visits;
        self.first_visits_closed += o.first_visits_closed;
        self.repeat += o.repeat;
        self.skip_level += o.skip_level;
        self.collective += o.collective;
        self.video_spc += o.video_spc;
        self.video_high += o.video_high;
        self.to_beijing += o.to_beijing;
        self.to_province += o.to_province;
    }
}

/// The figures of one court of a report (the court itself, or one court directly below it with
/// everything below that one), by the class of the cases (涉诉 `litigation`, 信访 `petition`).
#[derive(Debug, Clone, PartialEq)]
pub struct StatsRow {
    pub court_id: i64,
    pub court_name: String,
    pub court_level: CourtLevel,
    pub litigation: Counts,
    pub petition: Counts,
}

impl StatsRow {
    /// Both classes together.
    pub fn all(&self) -> Counts {
        let mut c = self.litigation.clone();
        c.add(&self.petition);
        c
    }

    fn class_mut(&mut self, class: &str) -> &mut Counts {
        if class == "litigation" {
            &mut self.litigation
        } else {
            &mut self.petition
        }
    }
}

/// Sessions by the branch of the court that booked them and the branch of the court that
/// hosted them (None when the host is outside the scope): one scan serves both.
#[derive(sqlx::FromRow)]
struct SessionTally {
    branch: i64,
    host_branch: Option<i64>,
    class: String,
    booked: i64,
    cancelled: i64,
    held: i64,
    held_unconfirmed: i64,
    held_recording_gap: i64,
    held_unrecorded: i64,
    no_show: i64,
    interrupted: i64,
    timed: i64,
    duration_seconds: f64,
    hosted: i64,
    rated: i64,
    satisfied: i64,
}

/// Contacts by the branch of the court that keeps the case, and the cases first received among
/// them.
#[derive(sqlx::FromRow)]
struct ContactTally {
    branch: i64,
    class: String,
    contacts: i64,
    petitions: i64,
    cases: i64,
    repeat: i64,
    skip_level: i64,
    collective: i64,
    video_spc: i64,
    video_high: i64,
    to_beijing: i64,
    to_province: i64,
    first_visits: i64,
    first_visits_closed: i64,
}

/// The outcomes that answer a matter (`docs/statistics.md`): after one of them, the petitioner
/// coming again is a repeat petition, and a first visit with one (and no repeat since) is closed.
/// The triggers of migrations 0021 and 0033 apply it (as each entry's `repeat_petition` and
/// `case_closed`); a test below checks that their copies of the list are this one.
pub const ANSWERS: &[&str] = &[
    "explained_law",
    "into_procedure",
    "review_filed",
    "not_within_scope",
    "no_longer_accepted",
    "concluded",
    "withdrawn",
];

/// A court's level as a number: 越级 is two or more steps up.
const LEVEL: &str = "CASE {c}.level WHEN 'basic' THEN 0 WHEN 'intermediate' THEN 1 \
                     WHEN 'high' THEN 2 WHEN 'supreme' THEN 3 END";

fn level_of(court: &str) -> String {
    LEVEL.replace("{c}", court)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound value of a query built at run time.
pub(crate) enum Arg {
    Int(i64),
    Text(String),
    Time(DateTime<Utc>),
}

/// SQL text with numbered parameters (`$1`, `$2`, …), built piece by piece; both backends
/// read `$n` the same way.
#[derive(Default)]
pub(crate) struct Sql {
    pub text: String,
    args: Vec<Arg>,
}

impl Sql {
    /// Adds a parameter and returns its placeholder.
    pub fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    fn sqlite<O>(&self) -> QueryAs<'_, Sqlite, O, SqliteArguments<'_>>
    where
        O: for<'r> sqlx::FromRow<'r, SqliteRow>,
    {
        let mut q = sqlx::query_as::<_, O>(&self.text);
        for a in &self.args {
            q = match a {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.as_str()),
                Arg::Time(v) => q.bind(*v),
            };
        }
        q
    }

    fn postgres<O>(&self) -> QueryAs<'_, Postgres, O, PgArguments>
    where
        O: for<'r> sqlx::FromRow<'r, PgRow>,
    {
        let mut q = sqlx::query_as::<_, O>(&self.text);
        for a in &self.args {
            q = match a {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.as_str()),
                Arg::Time(v) => q.bind(*v),
            };
        }
        q
    }

    /// `column` is one of `values` (short lists of known words).
    pub fn in_texts(&mut self, column: &str, values: &[String]) -> String {
        let ps: Vec<String> = values
            .iter()
            .map(|v| self.arg(Arg::Text(v.clone())))
            .collect();
        format!("{column} IN ({})", ps.join(", "))
    }
}

const RECORD_SELECT: &str = "SELECT se.id, b.id AS booking_id, se.status, b.status AS booking_status, \
    b.case_id, ca.case_number, hc.id AS host_court_id, hc.name AS host_court_name, \
    hc.level AS host_court_level, hr.name AS host_room_name, lc.id AS local_court_id, \
    lc.name AS local_court_name, lc.level AS local_court_level, lr.name AS local_room_name, \
    b.joint_court_id, b.starts_at, b.ends_at, se.started_at, se.ended_at, se.outcome, \
    se.outcome_note, se.satisfaction, se.interrupted_seconds, se.follow_up_deadline, se.recording_gap \
    FROM bookings b JOIN sessions se ON se.booking_id = b.id \
    JOIN slots sl ON sl.id = b.slot_id JOIN host_rooms hr ON hr.id = sl.host_room_id \
    JOIN courts hc ON hc.id = hr.court_id JOIN local_rooms lr ON lr.id = b.local_room_id \
    JOIN courts lc ON lc.id = lr.court_id JOIN cases ca ON ca.id = b.case_id";

impl Store {
    pub(crate) fn dialect(&self) -> Dialect {
        match &self.pool {
            Pool::Sqlite(_) => Dialect::Sqlite,
            Pool::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs a query built with [`Sql`] and returns its rows.
    ///
    /// In PostgreSQL, inside a transaction that (1) plans each query text once per connection:
    /// planning these eight-table joins costs several times what running them does, and the
    /// generic plan of each shape is the good one (its scope column's index, read backwards);
    /// and (2) never compiles it (JIT), which costs more than running it.
    pub(crate) async fn fetch_sql<O>(&self, sql: &Sql) -> Result<Vec<O>, StoreError>
    where
        O: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        Ok(match &self.pool {
            Pool::Sqlite(pool) => sql.sqlite().fetch_all(pool).await?,
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "SELECT set_config('plan_cache_mode', 'force_generic_plan', true), \
                     set_config('jit', 'off', true)",
                )
                .execute(&mut *tx)
                .await?;
                let rows = sql.postgres().fetch_all(&mut *tx).await?;
                tx.commit().await?;
                rows
            }
        })
    }

    /// A court, or None when there is no such court.
    pub async fn find_court(&self, id: i64) -> Result<Option<CourtRow>, StoreError> {
        let sql = "SELECT id, name, level, parent_id FROM courts WHERE id = $1";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// Whether `court_id` is `ancestor` or lies below it.
    pub async fn court_within(&self, court_id: i64, ancestor: i64) -> Result<bool, StoreError> {
        if court_id == ancestor {
            return Ok(true);
        }
        let sql = format!("{}SELECT COUNT(*) FROM up WHERE id = $2", super::tree::LINE);
        let (n,): (i64,) = on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(court_id)
            .bind(ancestor)
            .fetch_one(p)
            .await)?;
        Ok(n > 0)
    }

    /// One page of a session log, newest first.
    pub async fn record_page(&self, f: &LogFilter) -> Result<Vec<RecordRow>, StoreError> {
        let mut sql = Sql::default();
        let mut conds: Vec<String> = Vec::new();
        if let Some(c) = f.under.condition(&mut sql, "b") {
            conds.push(c);
        }
        if let Some(h) = f.host_court {
            conds.push(format!("b.host_court_id = {}", sql.arg(Arg::Int(h))));
        }
        if let Some(from) = f.from {
            conds.push(format!("b.starts_at >= {}", sql.arg(Arg::Time(from))));
        }
        if let Some(to) = f.to {
            conds.push(format!("b.starts_at < {}", sql.arg(Arg::Time(to))));
        }
        if !f.outcomes.is_empty() {
            conds.push(sql.in_texts("se.outcome", &f.outcomes));
        }
        if !f.statuses.is_empty() {
            let cancelled = f.statuses.iter().any(|s| s == "cancelled");
            let live: Vec<String> = f
                .statuses
                .iter()
                .filter(|s| *s != "cancelled")
                .cloned()
                .collect();
            let mut alts = Vec::new();
            if !live.is_empty() {
                alts.push(format!(
                    "(b.status <> 'cancelled' AND {})",
                    sql.in_texts("se.status", &live)
                ));
            }
            if cancelled {
                alts.push("b.status = 'cancelled'".to_owned());
            }
            conds.push(format!("({})", alts.join(" OR ")));
        }
        if let Some(number) = &f.case_number {
            conds.push(format!(
                "ca.case_number = {}",
                sql.arg(Arg::Text(number.clone()))
            ));
        }
        if let Some((t, id)) = f.before {
            let t = sql.arg(Arg::Time(t));
            let id = sql.arg(Arg::Int(id));
            // The first term bounds the index range; the row comparison breaks ties.
            conds.push(format!(
                "b.starts_at <= {t} AND (b.starts_at, b.id) < ({t}, {id})"
            ));
        }
        let limit = sql.arg(Arg::Int(f.limit));
        let wh = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        sql.text =
            format!("{RECORD_SELECT}{wh} ORDER BY b.starts_at DESC, b.id DESC LIMIT {limit}");
        self.fetch_sql(&sql).await
    }

    /// One session as the log shows it.
    pub async fn record(&self, session_id: SessionId) -> Result<Option<RecordRow>, StoreError> {
        let sql = format!("{RECORD_SELECT} WHERE se.id = $1");
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(session_id)
            .fetch_optional(p)
            .await)?)
    }

    /// The figures of `court` over `[from, to)` for the sessions and contacts `under` it: one
    /// row for the court's own (its own bookings and cases, and what it hosted) and one for each
    /// court directly below it with everything below that one, each split by the class of the
    /// cases. Rows come in court id order, the court itself first. Definitions:
    /// `docs/statistics.md`.
    ///
    /// `month` says that `[from, to)` is that calendar month in Beijing time (`YYYY-MM`): the
    /// figures are then read from the month's tallies (migration 0033), which hold the same
    /// counts; without it they are counted from the bookings and ledger entries of the period.
    pub async fn statistics(
        &self,
        court: i64,
        under: Under,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        month: Option<&str>,
    ) -> Result<Vec<StatsRow>, StoreError> {
        let courts_sql = if matches!(under, Under::Court(_)) {
            "SELECT id, name, level, parent_id FROM courts WHERE id = $1 ORDER BY id"
        } else {
            "SELECT id, name, level, parent_id FROM courts WHERE id = $1 OR parent_id = $1 ORDER BY id"
        };
        let courts: Vec<CourtRow> = on_pool!(self, |p| sqlx::query_as(courts_sql)
            .bind(court)
            .fetch_all(p)
            .await)?;
        let mut rows: Vec<StatsRow> = Vec::with_capacity(courts.len());
        // The court itself first, then the courts below it in id order.
        for c in courts
            .iter()
            .filter(|c| c.id == court)
            .chain(courts.iter().filter(|c| c.id != court))
        {
            rows.push(StatsRow {
                court_id: c.id,
                court_name: c.name.clone(),
                court_level: c.level,
                litigation: Counts::default(),
                petition: Counts::default(),
            });
        }
        let mut tallies: Vec<(i64, String, Counts)> = Vec::new();
        let (sessions, contacts) = match month {
            Some(month) => (
                sessions_tally_sql(court, under, month),
                contacts_tally_sql(under, month),
            ),
            None => (
                self.sessions_sql(court, under, from, to),
                contacts_sql(under, from, to),
            ),
        };
        for t in self.fetch_sql::<SessionTally>(&sessions).await? {
            tallies.push((
                t.branch,
                t.class.clone(),
                Counts {
                    booked: t.booked,
                    cancelled: t.cancelled,
                    held: t.held,
                    held_unconfirmed: t.held_unconfirmed,
                    held_recording_gap: t.held_recording_gap,
                    held_unrecorded: t.held_unrecorded,
                    no_show: t.no_show,
                    interrupted: t.interrupted,
                    timed: t.timed,
                    duration_seconds: t.duration_seconds,
                    ..Counts::default()
                },
            ));
            if let Some(host_branch) = t.host_branch {
                tallies.push((
                    host_branch,
                    t.class,
                    Counts {
                        hosted: t.hosted,
                        rated: t.rated,
                        satisfied: t.satisfied,
                        ..Counts::default()
                    },
                ));
            }
        }
        for t in self.fetch_sql::<ContactTally>(&contacts).await? {
            tallies.push((
                t.branch,
                t.class,
                Counts {
                    contacts: t.contacts,
                    petitions: t.petitions,
                    cases: t.cases,
                    repeat: t.repeat,
                    skip_level: t.skip_level,
                    collective: t.collective,
                    video_spc: t.video_spc,
                    video_high: t.video_high,
                    to_beijing: t.to_beijing,
                    to_province: t.to_province,
                    first_visits: t.first_visits,
                    first_visits_closed: t.first_visits_closed,
                    ..Counts::default()
                },
            ));
        }
        for (branch, class, counts) in tallies {
            let i = match rows.iter().position(|r| r.court_id == branch) {
                Some(i) => i,
                None => {
                    // A branch that is not a child of the court (a court whose places on past
                    // rows were not refilled after a move): shown on a row of its own.
                    let Some(c) = self.find_court(branch).await? else {
                        continue;
                    };
                    rows.push(StatsRow {
                        court_id: c.id,
                        court_name: c.name,
                        court_level: c.level,
                        litigation: Counts::default(),
                        petition: Counts::default(),
                    });
                    rows.len() - 1
                }
            };
            rows[i].class_mut(&class).add(&counts);
        }
        Ok(rows)
    }

    /// Sessions in the period, grouped by the branch that booked them, the branch that hosted
    /// them and the class of their case. The host is above the court that booked, so every
    /// session hosted inside the scope was booked inside it: the host's branch is the court's own
    /// when it hosted, else the court directly below it that did or lies above the one that did.
    fn sessions_sql(
        &self,
        court: i64,
        under: Under,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Sql {
        let mut sql = Sql::default();
        let scope = scope_of(&mut sql, under, "b");
        let root = sql.arg(Arg::Int(court));
        let (from, to) = (sql.arg(Arg::Time(from)), sql.arg(Arg::Time(to)));
        let duration = match self.dialect() {
            Dialect::Postgres => {
                "CAST(EXTRACT(EPOCH FROM (se.ended_at - se.started_at)) AS DOUBLE PRECISION)"
            }
            Dialect::Sqlite => "((julianday(se.ended_at) - julianday(se.started_at)) * 86400.0)",
        };
        let branch = under.branch("b");
        let host_branch = host_branch(under, &root);
        let live = "b.status <> 'cancelled'";
        let held = "b.status <> 'cancelled' AND se.status = 'ended'";
        let timed = "se.started_at IS NOT NULL AND se.ended_at IS NOT NULL";
        // Counts are cast to BIGINT: PostgreSQL sums integers into NUMERIC.
        sql.text = format!(
            "SELECT {branch} AS branch, {host_branch} AS host_branch, b.case_class AS class, \
               CAST(SUM(CASE WHEN {live} THEN 1 ELSE 0 END) AS BIGINT) AS booked, \
               CAST(SUM(CASE WHEN b.status = 'cancelled' THEN 1 ELSE 0 END) AS BIGINT) AS cancelled, \
               CAST(SUM(CASE WHEN {held} THEN 1 ELSE 0 END) AS BIGINT) AS held, \
               CAST(SUM(CASE WHEN {held} AND se.identity_confirmed_how IS NULL THEN 1 ELSE 0 END) \
                 AS BIGINT) AS held_unconfirmed, \
               CAST(SUM(CASE WHEN {held} AND se.recording_gap THEN 1 ELSE 0 END) AS BIGINT) \
                 AS held_recording_gap, \
               CAST(SUM(CASE WHEN {held} AND NOT se.recorded THEN 1 ELSE 0 END) AS BIGINT) \
                 AS held_unrecorded, \
               CAST(SUM(CASE WHEN {live} AND se.status = 'no_show' THEN 1 ELSE 0 END) AS BIGINT) AS no_show, \
               CAST(SUM(CASE WHEN {live} AND (se.status = 'interrupted' OR se.interrupted_seconds > 0) \
                 THEN 1 ELSE 0 END) AS BIGINT) AS interrupted, \
               CAST(SUM(CASE WHEN {held} AND {timed} THEN 1 ELSE 0 END) AS BIGINT) AS timed, \
               CAST(COALESCE(SUM(CASE WHEN {held} AND {timed} THEN {duration} ELSE 0.0 END), 0.0) \
                 AS DOUBLE PRECISION) AS duration_seconds, \
               CAST(SUM(CASE WHEN {live} THEN 1 ELSE 0 END) AS BIGINT) AS hosted, \
               CAST(SUM(CASE WHEN {held} AND se.satisfaction IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS rated, \
               CAST(SUM(CASE WHEN {held} AND se.satisfaction IN ('satisfied', 'basically_satisfied') \
                 THEN 1 ELSE 0 END) AS BIGINT) AS satisfied \
             FROM bookings b JOIN sessions se ON se.booking_id = b.id \
             WHERE {scope}b.starts_at >= {from} AND b.starts_at < {to} GROUP BY 1, 2, 3"
        );
        sql
    }
}

/// The branch of the court that hosted a session (`b`), when it is inside the scope: the court's
/// own (`root`) when it hosted, else the court directly below it that did or lies above the one
/// that did (the host is above the court that booked).
fn host_branch(under: Under, root: &str) -> String {
    match under {
        // Every court hosts inside the country; one below the SPC is in some province.
        Under::All => {
            format!("CASE WHEN b.host_court_id = {root} THEN {root} ELSE b.province_court_id END")
        }
        // Inside a province only the high court and the intermediate courts host.
        Under::Province(_) => format!(
            "CASE WHEN b.host_court_id = {root} THEN {root} \
             WHEN b.host_court_id = b.city_court_id THEN b.city_court_id END"
        ),
        // Basic courts host nothing.
        Under::City(_) | Under::Court(_) => {
            format!("CASE WHEN b.host_court_id = {root} THEN {root} END")
        }
    }
}

/// The scope's condition on `table` followed by `AND`, or nothing for the whole country.
fn scope_of(sql: &mut Sql, under: Under, table: &str) -> String {
    under
        .condition(sql, table)
        .map(|c| format!("{c} AND "))
        .unwrap_or_default()
}

/// Contacts in the period, by the branch of the court that keeps the case, with the cases first
/// received in the period (their first standing contact is in it) and which of them are closed
/// now. What depends on the rest of a case's ledger (standing, repeat, first visit, closed) and
/// the case's class are kept on each entry by the triggers of migration 0021, so this reads the
/// scope's index range and nothing else (two small joins to `courts` for the levels). The case's
/// court always exists: its join is LEFT only so that SQLite reads the entries first, from the
/// covering index of the scope, instead of probing each court's range (0.4 s against 0.25 s for
/// the country's month).
fn contacts_sql(under: Under, from: DateTime<Utc>, to: DateTime<Utc>) -> Sql {
    let mut sql = Sql::default();
    let scope = scope_of(&mut sql, under, "l");
    let (from, to) = (sql.arg(Arg::Time(from)), sql.arg(Arg::Time(to)));
    let branch = under.branch("l");
    let petition = "NOT l.court_initiated";
    let received = format!(
        "CASE WHEN l.receiving_organ = 'central_organ' THEN 3 \
              WHEN l.receiving_organ = 'provincial_organ' THEN 2 \
              WHEN rc.id IS NOT NULL THEN {} ELSE {} END",
        level_of("rc"),
        level_of("cc")
    );
    let count = |cond: &str| format!("CAST(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END) AS BIGINT)");
    sql.text = format!(
        "SELECT {branch} AS branch, l.case_class AS class, \
           CAST(COUNT(*) AS BIGINT) AS contacts, \
           {petitions} AS petitions, \
           CAST(COUNT(DISTINCT l.case_id) AS BIGINT) AS cases, \
           {repeat} AS repeat, \
           {skip} AS skip_level, \
           {collective} AS collective, \
           {video_spc} AS video_spc, {video_high} AS video_high, \
           {to_beijing} AS to_beijing, {to_province} AS to_province, \
           {first_visits} AS first_visits, {first_visits_closed} AS first_visits_closed \
         FROM ledger_entries l LEFT JOIN courts cc ON cc.id = l.court_id \
           LEFT JOIN courts rc ON rc.id = l.receiving_court_id \
         WHERE {scope}l.at >= {from} AND l.at < {to} AND NOT l.replaced GROUP BY 1, 2",
        petitions = count(petition),
        // A petition after the case's first standing answer (the flag is false on the court's own).
        repeat = count("l.repeat_petition"),
        skip = count(&format!(
            "{petition} AND ({received}) - ({}) >= 2",
            level_of("cc")
        )),
        collective = count(&format!("{petition} AND l.case_collective")),
        video_spc = count("l.channel = 'video_spc'"),
        video_high = count("l.channel = 'video_high'"),
        to_beijing = count("l.channel = 'to_beijing'"),
        to_province = count("l.channel = 'to_province'"),
        first_visits = count("l.first_visit"),
        first_visits_closed = count("l.first_visit AND l.case_closed"),
    );
    sql
}

/// The sessions of one calendar month from its tallies (migration 0033): the same rows as
/// [`Store::sessions_sql`] gives for that month. A tally row whose sessions all moved away is
/// left at zero, and left out here, as the scan would have no row for it.
fn sessions_tally_sql(court: i64, under: Under, month: &str) -> Sql {
    let mut sql = Sql::default();
    let scope = scope_of(&mut sql, under, "b");
    let root = sql.arg(Arg::Int(court));
    let month = sql.arg(Arg::Text(month.to_owned()));
    let branch = under.branch("b");
    let host_branch = host_branch(under, &root);
    let sum = |column: &str| format!("CAST(SUM(b.{column}) AS BIGINT) AS {column}");
    let counts = [
        "booked",
        "cancelled",
        "held",
        "held_unconfirmed",
        "held_recording_gap",
        "held_unrecorded",
        "no_show",
        "interrupted",
        "timed",
        "rated",
        "satisfied",
    ]
    .map(sum)
    .join(", ");
    sql.text = format!(
        "SELECT {branch} AS branch, {host_branch} AS host_branch, b.case_class AS class, {counts}, \
           CAST(SUM(b.duration_seconds) AS DOUBLE PRECISION) AS duration_seconds, \
           CAST(SUM(b.booked) AS BIGINT) AS hosted \
         FROM session_tallies b WHERE {scope}b.month = {month} GROUP BY 1, 2, 3 \
         HAVING SUM(b.booked) + SUM(b.cancelled) > 0"
    );
    sql
}

/// The contacts of one calendar month from its tallies (migration 0033): the same rows as
/// [`contacts_sql`] gives for that month (`cases` from each case's first entry of the month).
fn contacts_tally_sql(under: Under, month: &str) -> Sql {
    let mut sql = Sql::default();
    let scope = scope_of(&mut sql, under, "l");
    let month = sql.arg(Arg::Text(month.to_owned()));
    let branch = under.branch("l");
    let counts = [
        "contacts",
        "petitions",
        "cases",
        "repeat",
        "skip_level",
        "collective",
        "video_spc",
        "video_high",
        "to_beijing",
        "to_province",
        "first_visits",
        "first_visits_closed",
    ]
    .map(|column| format!("CAST(SUM(l.{column}) AS BIGINT) AS {column}"))
    .join(", ");
    sql.text = format!(
        "SELECT {branch} AS branch, l.case_class AS class, {counts} \
         FROM contact_tallies l WHERE {scope}l.month = {month} GROUP BY 1, 2 \
         HAVING SUM(l.contacts) > 0"
    );
    sql
}

#[cfg(test)]
mod tests {
    use super::ANSWERS;

    /// The triggers of migrations 0021 and 0033 keep each ledger entry's repeat and closure facts
    /// with their own copy of the answering outcomes: every copy must be [`ANSWERS`].
    #[test]
    fn migrations_answer_with_the_same_outcomes() {
        let list = ANSWERS
            .iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(", ");
        for (backend, text, copies) in [
            (
                "sqlite",
                include_str!("../../../migrations/sqlite/0021_statistics_facts.sql"),
                2,
            ),
            (
                "postgres",
                include_str!("../../../migrations/postgres/0021_statistics_facts.sql"),
                1,
            ),
            (
                "sqlite 0033",
                include_str!("../../../migrations/sqlite/0033_month_tallies.sql"),
                1,
            ),
            (
                "postgres 0033",
                include_str!("../../../migrations/postgres/0033_month_tallies.sql"),
                1,
            ),
        ] {
            // The lists, with the SQL's line breaks and indentation taken out.
            let found: Vec<String> = text
                .split("e.outcome IN (")
                .skip(1)
                .map(|rest| {
                    let inner = rest.split(')').next().unwrap_or_default();
                    inner.split_whitespace().collect::<Vec<_>>().join(" ")
                })
                .collect();
            assert_eq!(found.len(), copies, "{backend}: lists of answers");
            for f in found {
                assert_eq!(f, list, "{backend}");
            }
        }
    }
}
