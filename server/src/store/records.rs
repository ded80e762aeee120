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

use super::{CourtRow, Store, StoreError};

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
        match court.level.as_str() {
            "supreme" => Under::All,
            "high" => Under::Province(court.id),
            "intermediate" => Under::City(court.id),
            _ => Under::Court(court.id),
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

    /// Bookings in scope hosted by a court strictly below the scope's court.
    fn hosted_below(self, root: &str) -> String {
        match self {
            Under::All => format!("b.host_court_id <> {root}"),
            Under::Province(_) => "b.host_court_id = b.city_court_id".to_owned(),
            // Basic courts host nothing.
            Under::City(_) | Under::Court(_) => "1 = 0".to_owned(),
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
    pub id: i64,
    pub booking_id: i64,
    pub status: String,
    pub booking_status: String,
    pub case_id: i64,
    pub case_number: String,
    pub host_court_id: i64,
    pub host_court_name: String,
    pub host_court_level: String,
    pub host_room_name: String,
    pub local_court_id: i64,
    pub local_court_name: String,
    pub local_court_level: String,
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
}

/// The figures of one court (or one branch of the hierarchy) over a period.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct StatsRow {
    pub court_id: i64,
    pub court_name: String,
    pub court_level: String,
    /// Sessions booked (booking not cancelled) by local courts of the branch.
    pub booked: i64,
    pub cancelled: i64,
    pub held: i64,
    pub no_show: i64,
    pub interrupted: i64,
    /// Held sessions with both a start and an end, and their summed length in seconds.
    pub timed: i64,
    pub duration_seconds: f64,
    pub rated: i64,
    pub satisfied: i64,
    /// Sessions (booking not cancelled) hosted by courts of the branch.
    pub hosted: i64,
    /// Ledger entries (contacts) in the period on cases of the branch, and what they were.
    pub contacts: i64,
    pub cases: i64,
    pub first_visits: i64,
    pub first_visits_resolved: i64,
    pub skip_level: i64,
    pub collective: i64,
    pub video_spc: i64,
    pub video_high: i64,
    pub to_beijing: i64,
    pub to_province: i64,
}

impl StatsRow {
    /// Adds another row's figures to this one (for totals).
    pub fn add(&mut self, o: &StatsRow) {
        self.booked += o.booked;
        self.cancelled += o.cancelled;
        self.held += o.held;
        self.no_show += o.no_show;
        self.interrupted += o.interrupted;
        self.timed += o.timed;
        self.duration_seconds += o.duration_seconds;
        self.rated += o.rated;
        self.satisfied += o.satisfied;
        self.hosted += o.hosted;
        self.contacts += o.contacts;
        self.cases += o.cases;
        self.first_visits += o.first_visits;
        self.first_visits_resolved += o.first_visits_resolved;
        self.skip_level += o.skip_level;
        self.collective += o.collective;
        self.video_spc += o.video_spc;
        self.video_high += o.video_high;
        self.to_beijing += o.to_beijing;
        self.to_province += o.to_province;
    }
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
    se.outcome_note, se.satisfaction, se.interrupted_seconds, se.follow_up_deadline \
    FROM bookings b JOIN sessions se ON se.booking_id = b.id \
    JOIN slots sl ON sl.id = b.slot_id JOIN host_rooms hr ON hr.id = sl.host_room_id \
    JOIN courts hc ON hc.id = hr.court_id JOIN local_rooms lr ON lr.id = b.local_room_id \
    JOIN courts lc ON lc.id = lr.court_id JOIN cases ca ON ca.id = b.case_id";

/// The counted columns of a statistics row and the part of the query that computes each.
const COUNTS: &[(&str, &str)] = &[
    ("s", "booked"),
    ("s", "cancelled"),
    ("s", "held"),
    ("s", "no_show"),
    ("s", "interrupted"),
    ("s", "timed"),
    ("s", "rated"),
    ("s", "satisfied"),
    ("h", "hosted"),
    ("g", "contacts"),
    ("g", "cases"),
    ("g", "first_visits"),
    ("g", "first_visits_resolved"),
    ("g", "skip_level"),
    ("g", "collective"),
    ("g", "video_spc"),
    ("g", "video_high"),
    ("g", "to_beijing"),
    ("g", "to_province"),
];

impl Store {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Store::Sqlite(_) => Dialect::Sqlite,
            Store::Postgres(_) => Dialect::Postgres,
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
        Ok(match self {
            Store::Sqlite(pool) => sql.sqlite().fetch_all(pool).await?,
            Store::Postgres(pool) => {
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
        let sql = "WITH RECURSIVE up(id, depth) AS ( \
                     SELECT parent_id, 1 FROM courts WHERE id = $1 AND parent_id IS NOT NULL \
                     UNION ALL \
                     SELECT c.parent_id, up.depth + 1 FROM courts c JOIN up ON c.id = up.id \
                     WHERE c.parent_id IS NOT NULL AND up.depth < 16) \
                   SELECT COUNT(*) FROM up WHERE id = $2";
        let (n,): (i64,) = on_pool!(self, |p| sqlx::query_as(sql)
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
    pub async fn record(&self, session_id: i64) -> Result<Option<RecordRow>, StoreError> {
        let sql = format!("{RECORD_SELECT} WHERE se.id = $1");
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(session_id)
            .fetch_optional(p)
            .await)?)
    }

    /// The figures of `court` over `[from, to)` for the sessions and contacts `under` it: one
    /// row for the court's own (its own bookings and cases, and what it hosted) and one for each
    /// court directly below it with everything below that one. Rows come in court id order, the
    /// court itself first.
    pub async fn statistics(
        &self,
        court: i64,
        under: Under,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StatsRow>, StoreError> {
        let mut sql = Sql::default();
        let root = sql.arg(Arg::Int(court));
        let from = sql.arg(Arg::Time(from));
        let to = sql.arg(Arg::Time(to));
        let duration = match self.dialect() {
            Dialect::Postgres => {
                "CAST(EXTRACT(EPOCH FROM (se.ended_at - se.started_at)) AS DOUBLE PRECISION)"
            }
            Dialect::Sqlite => "((julianday(se.ended_at) - julianday(se.started_at)) * 86400.0)",
        };
        let b_scope = under
            .condition(&mut sql, "b")
            .map(|c| format!("{c} AND "))
            .unwrap_or_default();
        let l_scope = under
            .condition(&mut sql, "l")
            .map(|c| format!("{c} AND "))
            .unwrap_or_default();
        let b_branch = under.branch("b");
        let l_branch = under.branch("l");
        let hosted_below = under.hosted_below(&root);
        // Counts are cast to BIGINT: PostgreSQL sums integers into NUMERIC.
        let counts = COUNTS
            .iter()
            .map(|(t, c)| format!("CAST(COALESCE({t}.{c}, 0) AS BIGINT) AS {c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let live = "b.status <> 'cancelled'";
        let held = "b.status <> 'cancelled' AND se.status = 'ended'";
        let timed = "se.started_at IS NOT NULL AND se.ended_at IS NOT NULL";
        sql.text = format!(
            "WITH s AS ( \
               SELECT {b_branch} AS branch, \
                 SUM(CASE WHEN {live} THEN 1 ELSE 0 END) AS booked, \
                 SUM(CASE WHEN b.status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled, \
                 SUM(CASE WHEN {held} THEN 1 ELSE 0 END) AS held, \
                 SUM(CASE WHEN {live} AND se.status = 'no_show' THEN 1 ELSE 0 END) AS no_show, \
                 SUM(CASE WHEN {live} AND (se.status = 'interrupted' OR se.interrupted_seconds > 0) \
                     THEN 1 ELSE 0 END) AS interrupted, \
                 SUM(CASE WHEN {held} AND {timed} THEN 1 ELSE 0 END) AS timed, \
                 SUM(CASE WHEN {held} AND {timed} THEN {duration} ELSE 0.0 END) AS duration_seconds, \
                 SUM(CASE WHEN {held} AND se.satisfaction IS NOT NULL THEN 1 ELSE 0 END) AS rated, \
                 SUM(CASE WHEN {held} AND se.satisfaction IN ('satisfied', 'basically_satisfied') \
                     THEN 1 ELSE 0 END) AS satisfied, \
                 SUM(CASE WHEN {live} AND b.host_court_id = {root} THEN 1 ELSE 0 END) AS hosted_own, \
                 SUM(CASE WHEN {live} AND {hosted_below} THEN 1 ELSE 0 END) AS hosted \
               FROM bookings b JOIN sessions se ON se.booking_id = b.id \
               WHERE {b_scope}b.starts_at >= {from} AND b.starts_at < {to} GROUP BY {b_branch}), \
             e AS ( \
               SELECT {l_branch} AS branch, l.case_id AS case_id, COUNT(*) AS n, \
                 SUM(CASE WHEN l.first_contact THEN 1 ELSE 0 END) AS firsts, \
                 MAX(CASE WHEN l.case_id IN (SELECT id FROM cases WHERE collective) THEN 1 ELSE 0 END) \
                   AS collective, \
                 SUM(CASE WHEN l.counted_as <> 'local' THEN 1 ELSE 0 END) AS skip_level, \
                 SUM(CASE WHEN l.channel = 'video_spc' THEN 1 ELSE 0 END) AS video_spc, \
                 SUM(CASE WHEN l.channel = 'video_high' THEN 1 ELSE 0 END) AS video_high, \
                 SUM(CASE WHEN l.channel = 'to_beijing' THEN 1 ELSE 0 END) AS to_beijing, \
                 SUM(CASE WHEN l.channel = 'to_province' THEN 1 ELSE 0 END) AS to_province \
               FROM ledger_entries l \
               WHERE {l_scope}l.at >= {from} AND l.at < {to} GROUP BY {l_branch}, l.case_id), \
             g AS ( \
               SELECT branch, SUM(n) AS contacts, COUNT(*) AS cases, SUM(firsts) AS first_visits, \
                 SUM(CASE WHEN firsts = 1 AND n = 1 THEN 1 ELSE 0 END) AS first_visits_resolved, \
                 SUM(skip_level) AS skip_level, \
                 SUM(CASE WHEN collective = 1 THEN n ELSE 0 END) AS collective, \
                 SUM(video_spc) AS video_spc, SUM(video_high) AS video_high, \
                 SUM(to_beijing) AS to_beijing, SUM(to_province) AS to_province \
               FROM e GROUP BY branch), \
             h AS ( \
               SELECT s.branch AS branch, s.hosted + CASE WHEN s.branch = {root} \
                 THEN (SELECT COALESCE(SUM(hosted_own), 0) FROM s) ELSE 0 END AS hosted FROM s \
               UNION ALL \
               SELECT {root}, (SELECT COALESCE(SUM(hosted_own), 0) FROM s) \
               WHERE NOT EXISTS (SELECT 1 FROM s WHERE branch = {root})) \
             SELECT c.id AS court_id, c.name AS court_name, c.level AS court_level, {counts}, \
               CAST(COALESCE(s.duration_seconds, 0.0) AS DOUBLE PRECISION) AS duration_seconds \
             FROM courts c \
             LEFT JOIN s ON s.branch = c.id LEFT JOIN h ON h.branch = c.id LEFT JOIN g ON g.branch = c.id \
             WHERE c.id = {root} {children} OR c.id IN (SELECT branch FROM s) OR c.id IN (SELECT branch FROM g) \
             ORDER BY CASE WHEN c.id = {root} THEN 0 ELSE 1 END, c.id",
            children = if matches!(under, Under::Court(_)) {
                ""
            } else {
                "OR c.parent_id = $1"
            },
        );
        self.fetch_sql(&sql).await
    }
}
