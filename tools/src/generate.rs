//! `courtlink-bench generate`: fills the configured database with a synthetic court hierarchy, cases,
//! sessions, their timelines and ledger entries, for benchmarks and tests.
//!
//! Everything is generated inside the database, by `INSERT … SELECT` over a number series
//! (`generate_series` in PostgreSQL, a recursive CTE in SQLite), in a few large statements: no row
//! travels over the connection. Ids are assigned explicitly after the highest id already in each
//! table, so the generator adds to what is there (the demo courts, say) rather than replacing it,
//! and PostgreSQL's identity sequences are moved past them at the end.
//!
//! The data keeps the database's own rules: every booking has a slot of its own, and no local
//! room is in two overlapping bookings. (Host rooms are overbooked: slots of one room that fall on
//! the same minute are told apart by seconds. Nothing reads host-room occupancy from the past.)
//! Pseudo-random choices are multiplicative hashes of the row number and `--seed`, so a run is
//! reproducible.
//!
//! Shape, for `--courts 3500`: one SPC (the existing one if there is one), 31 high courts, 400
//! intermediate and 3068 basic courts, like the country's. Sessions go to local courts (the
//! intermediate and basic ones) evenly, on working days' hours (08:30–17:30 Beijing time) over
//! the last `--months` months and the next week; each is hosted by the SPC, the province's high
//! court or the city's intermediate court.

use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{Duration, NaiveTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{Postgres, Sqlite};

use courtlink::store::{Pool, Store};

#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    /// Sessions (each with its booking and slot; ended ones with a ledger entry).
    #[arg(long, default_value_t = 10_000)]
    pub sessions: i64,
    /// Timeline events, spread over the sessions that took place.
    #[arg(long, default_value_t = 100_000)]
    pub events: i64,
    /// Courts to add below the SPC (high, intermediate and basic, in the country's proportions).
    #[arg(long, default_value_t = 350)]
    pub courts: i64,
    /// Months of history before today (plus one week ahead).
    #[arg(long, default_value_t = 12)]
    pub months: i64,
    /// Seed of the pseudo-random choices.
    #[arg(long, default_value_t = 1)]
    pub seed: i64,
}

/// What a run added.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Prefix of every generated name and username, e.g. `g6`.
    pub tag: String,
    pub spc_id: i64,
    pub high_court_ids: Vec<i64>,
    pub courts: i64,
    pub local_rooms: i64,
    pub cases: i64,
    pub sessions: i64,
    pub events: i64,
    pub ledger_entries: i64,
    pub seconds: f64,
}

impl Summary {
    /// Username of the supervisor of the `k`-th generated high court (from 1).
    pub fn high_supervisor(&self, k: i64) -> String {
        format!("{}.h{k}.supervisor", self.tag)
    }

    pub fn high_officer(&self, k: i64) -> String {
        format!("{}.h{k}.officer", self.tag)
    }

    /// Username of the coordinator of the `k`-th generated local court (from 1).
    pub fn local_coordinator(&self, k: i64) -> String {
        format!("{}.l{k}.coord", self.tag)
    }
}

/// Odd multipliers for the row hashes (Knuth's and friends), one per independent choice.
const MULTIPLIERS: [i64; 16] = [
    2654435761, 2246822519, 3266489917, 668265263, 374761393, 2869860233, 1103515245, 3432918353,
    461845907, 2654435769, 1597334677, 3812015801, 2891336453, 1181783497, 2097192037, 3735928559,
];

/// Working minutes a day: 08:30 to 17:30 Beijing time (00:30 to 09:30 UTC).
const DAY_MINUTES: i64 = 540;
const DAY_START_UTC_SECONDS: i64 = 1800;
/// Host rooms per court: the SPC has 16 (as the real one does).
const SPC_ROOMS: i64 = 16;
const HIGH_ROOMS: i64 = 4;
const MID_ROOMS: i64 = 2;
/// Rows per statement for the large tables.
const CHUNK: i64 = 250_000;

enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl Conn {
    async fn exec(&mut self, sql: &str) -> anyhow::Result<u64> {
        let done = match self {
            Conn::Sqlite(c) => sqlx::query(sql).execute(&mut **c).await?.rows_affected(),
            Conn::Postgres(c) => sqlx::query(sql).execute(&mut **c).await?.rows_affected(),
        };
        Ok(done)
    }

    async fn exec_with(&mut self, sql: &str, text: &str) -> anyhow::Result<u64> {
        let done = match self {
            Conn::Sqlite(c) => sqlx::query(sql)
                .bind(text)
                .execute(&mut **c)
                .await?
                .rows_affected(),
            Conn::Postgres(c) => sqlx::query(sql)
                .bind(text)
                .execute(&mut **c)
                .await?
                .rows_affected(),
        };
        Ok(done)
    }

    async fn int(&mut self, sql: &str) -> anyhow::Result<i64> {
        let (n,): (i64,) = match self {
            Conn::Sqlite(c) => sqlx::query_as(sql).fetch_one(&mut **c).await?,
            Conn::Postgres(c) => sqlx::query_as(sql).fetch_one(&mut **c).await?,
        };
        Ok(n)
    }

    fn postgres(&self) -> bool {
        matches!(self, Conn::Postgres(_))
    }

    /// `FROM`-able numbers 1..=n as column `col` of `alias`.
    fn series(&self, n: i64, alias: &str, col: &str) -> String {
        if self.postgres() {
            format!("generate_series(CAST(1 AS BIGINT), CAST({n} AS BIGINT)) AS {alias}({col})")
        } else {
            format!(
                "(WITH RECURSIVE s_(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s_ WHERE v < {n}) \
                 SELECT v AS {col} FROM s_) AS {alias}"
            )
        }
    }

    /// A timestamp from epoch seconds, as each backend stores it.
    fn ts(&self, epoch: &str) -> String {
        if self.postgres() {
            format!("to_timestamp({epoch})")
        } else {
            // sqlx writes `2026-11-28T02:00:00+00:00`; text comparison must agree with it.
            format!("strftime('%Y-%m-%dT%H:%M:%S+00:00', {epoch}, 'unixepoch')")
        }
    }
}

/// A pseudo-random number in [0, 2^24) from a row number and a choice (`salt`).
fn hash(expr: &str, salt: usize, seed: i64) -> String {
    let m = MULTIPLIERS[salt % MULTIPLIERS.len()];
    format!("(((({expr}) + {}) * {m}) % 4294967296) / 256", seed * 7919)
}

/// The highest id in `table`, or 0.
async fn max_id(conn: &mut Conn, table: &str) -> anyhow::Result<i64> {
    conn.int(&format!(
        "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM {table}"
    ))
    .await
}

/// Fills the store. `password` becomes every generated user's password.
pub async fn run(store: &Store, args: &GenerateArgs, password: &str) -> anyhow::Result<Summary> {
    if args.sessions < 1 || args.courts < 3 || args.months < 1 || args.events < 0 {
        bail!("need --sessions ≥ 1, --courts ≥ 3, --months ≥ 1 and --events ≥ 0");
    }
    if args.sessions > 50_000_000 || args.events > 500_000_000 || args.courts > 100_000 {
        bail!("that is more than the generator is meant for");
    }
    let started = Instant::now();
    let mut conn = match store.pool() {
        Pool::Sqlite(p) => Conn::Sqlite(p.acquire().await?),
        Pool::Postgres(p) => Conn::Postgres(p.acquire().await?),
    };
    if conn.postgres() {
        conn.exec("SET synchronous_commit = off").await?;
        conn.exec("SET work_mem = '256MB'").await?;
    } else {
        conn.exec("PRAGMA temp_store = MEMORY").await?;
        conn.exec("PRAGMA cache_size = -1000000").await?;
    }
    let hash_pw = courtlink::auth::hash_password(password)?;
    let result = fill(&mut conn, args, &hash_pw, started).await;
    // Temporary tables die with the connection; drop them so a pooled connection is clean.
    for t in ["gen_plan", "gen_sched", "gen_final"] {
        let _ = conn.exec(&format!("DROP TABLE IF EXISTS {t}")).await;
    }
    result
}

async fn fill(
    conn: &mut Conn,
    args: &GenerateArgs,
    password_hash: &str,
    started: Instant,
) -> anyhow::Result<Summary> {
    let seed = args.seed;
    let h = |expr: &str, salt: usize| hash(expr, salt, seed);
    let step = |what: &str| {
        println!("  {:>7.1} s  {what}", started.elapsed().as_secs_f64());
    };

    // --- the shape ------------------------------------------------------------------------------
    let existing_spc = conn
        .int(
            "SELECT CAST(COALESCE(MIN(id), 0) AS BIGINT) FROM courts \
             WHERE level = 'supreme' AND parent_id IS NULL",
        )
        .await?;
    let court_base = max_id(conn, "courts").await?;
    let tag = format!("g{}", court_base + 1);
    let new_spc = existing_spc == 0;
    let spc = if new_spc {
        court_base + 1
    } else {
        existing_spc
    };
    let n_high = ((args.courts * 31 + 1750) / 3500).clamp(1, 64);
    let n_mid = ((args.courts * 400 + 1750) / 3500).max(n_high);
    let n_basic = args.courts - n_high - n_mid - i64::from(new_spc);
    if n_basic < 1 {
        bail!("--courts {} is too few for a hierarchy", args.courts);
    }
    let high_base = court_base + 1 + i64::from(new_spc);
    let mid_base = high_base + n_high;
    let n_local = n_mid + n_basic;
    let courts = n_high + n_mid + n_basic + i64::from(new_spc);

    let today = Utc::now().date_naive();
    let first_day = today - Duration::days(args.months * 30);
    let days = (today - first_day).num_days() + 7;
    let t0 = first_day.and_time(NaiveTime::MIN).and_utc().timestamp();
    let now = Utc::now().timestamp();
    let work = days * DAY_MINUTES;
    // Local rooms per court: enough that a room's sessions sit hours apart.
    let per_room = (work / 400).max(1);
    let rpc = ((args.sessions + n_local * per_room - 1) / (n_local * per_room)).max(1);
    let cpc = ((args.sessions + 3 * n_local - 1) / (3 * n_local)).max(2);
    let n_cases = n_local * cpc;

    let hr_base = max_id(conn, "host_rooms").await?;
    let lr_base = max_id(conn, "local_rooms").await?;
    let u_base = max_id(conn, "users").await?;
    let case_base = max_id(conn, "cases").await?;
    let slot_base = max_id(conn, "slots").await?;
    let bk_base = max_id(conn, "bookings").await?;
    let se_base = max_id(conn, "sessions").await?;
    let le_base = max_id(conn, "ledger_entries").await?;
    let ev_base = max_id(conn, "session_events").await?;
    println!(
        "generating {tag}: {courts} courts ({n_high} high, {n_mid} intermediate, {n_basic} basic), \
         {} sessions, ~{} events, {days} days",
        args.sessions, args.events
    );

    // --- courts, rooms, users, cases --------------------------------------------------------------
    if new_spc {
        conn.exec(&format!(
            "INSERT INTO courts (id, name, level, parent_id) VALUES ({spc}, '最高人民法院', 'supreme', NULL)"
        ))
        .await?;
    }
    let s = conn.series(n_high, "g", "i");
    conn.exec(&format!(
        "INSERT INTO courts (id, name, level, parent_id) \
         SELECT {high_base} + i - 1, '{tag}·第' || i || '高级人民法院', 'high', {spc} FROM {s}"
    ))
    .await?;
    let s = conn.series(n_mid, "g", "i");
    conn.exec(&format!(
        "INSERT INTO courts (id, name, level, parent_id) \
         SELECT {mid_base} + i - 1, '{tag}·第' || i || '中级人民法院', 'intermediate', \
         {high_base} + (i - 1) % {n_high} FROM {s}"
    ))
    .await?;
    let s = conn.series(n_basic, "g", "i");
    conn.exec(&format!(
        "INSERT INTO courts (id, name, level, parent_id) \
         SELECT {mid_base} + {n_mid} + i - 1, '{tag}·第' || i || '基层人民法院', 'basic', \
         {mid_base} + (i - 1) % {n_mid} FROM {s}"
    ))
    .await?;
    let spc_rooms = hr_base;
    let high_rooms = hr_base + SPC_ROOMS;
    let mid_rooms = high_rooms + HIGH_ROOMS * n_high;
    for (n, first, court, per) in [
        (SPC_ROOMS, spc_rooms, format!("{spc}"), SPC_ROOMS),
        (
            HIGH_ROOMS * n_high,
            high_rooms,
            format!("{high_base} + (i - 1) / {HIGH_ROOMS}"),
            HIGH_ROOMS,
        ),
        (
            MID_ROOMS * n_mid,
            mid_rooms,
            format!("{mid_base} + (i - 1) / {MID_ROOMS}"),
            MID_ROOMS,
        ),
    ] {
        let s = conn.series(n, "g", "i");
        conn.exec(&format!(
            "INSERT INTO host_rooms (id, court_id, name) \
             SELECT {first} + i, {court}, '{tag}·接谈室' || ((i - 1) % {per} + 1) FROM {s}"
        ))
        .await?;
    }
    let s = conn.series(n_local * rpc, "g", "i");
    conn.exec(&format!(
        "INSERT INTO local_rooms (id, court_id, name) \
         SELECT {lr_base} + i, {mid_base} + (i - 1) / {rpc}, '{tag}·视频接访室' || ((i - 1) % {rpc} + 1) FROM {s}"
    ))
    .await?;
    // Users: a coordinator per local court, a supervisor and an officer per high court, an
    // officer per intermediate court (and the SPC's two when the SPC is new).
    let s = conn.series(n_local, "g", "i");
    conn.exec_with(
        &format!(
            "INSERT INTO users (id, court_id, username, display_name, role, password_hash) \
             SELECT {u_base} + i, {mid_base} + i - 1, '{tag}.l' || i || '.coord', '生成专干' || i, \
             'coordinator', $1 FROM {s}"
        ),
        password_hash,
    )
    .await?;
    let s = conn.series(2 * n_high, "g", "i");
    conn.exec_with(
        &format!(
            "INSERT INTO users (id, court_id, username, display_name, role, password_hash) \
             SELECT {u_base} + {n_local} + i, {high_base} + (i - 1) / 2, \
             '{tag}.h' || ((i - 1) / 2 + 1) || CASE WHEN i % 2 = 1 THEN '.supervisor' ELSE '.officer' END, \
             '生成高院' || i, CASE WHEN i % 2 = 1 THEN 'supervisor' ELSE 'officer' END, $1 FROM {s}"
        ),
        password_hash,
    )
    .await?;
    let s = conn.series(n_mid, "g", "i");
    conn.exec_with(
        &format!(
            "INSERT INTO users (id, court_id, username, display_name, role, password_hash) \
             SELECT {u_base} + {n_local} + {} + i, {mid_base} + i - 1, '{tag}.m' || i || '.officer', \
             '生成中院' || i, 'officer', $1 FROM {s}",
            2 * n_high
        ),
        password_hash,
    )
    .await?;
    if new_spc {
        let first = u_base + n_local + 2 * n_high + n_mid;
        conn.exec_with(
            &format!(
                "INSERT INTO users (id, court_id, username, display_name, role, password_hash) VALUES \
                 ({}, {spc}, '{tag}.spc.supervisor', '生成最高法领导', 'supervisor', $1), \
                 ({}, {spc}, '{tag}.spc.officer', '生成最高法法官', 'officer', $1)",
                first + 1,
                first + 2
            ),
            password_hash,
        )
        .await?;
    }
    let year = today.format("%Y");
    let s = conn.series(n_cases, "g", "i");
    conn.exec(&format!(
        "INSERT INTO cases (id, court_id, case_number, petitioner_name, petitioner_id_number, subject, \
         status, tier, escalation_risk, collective, created_at) \
         SELECT {case_base} + i, {mid_base} + (i - 1) / {cpc}, \
         '({year}){tag}-' || ((i - 1) / {cpc} + 1) || '信访' || ((i - 1) % {cpc} + 1) || '号', \
         '生成' || i, '99' || (1000000000000000 + i), '生成案件', 'registered', 1 + i % 3, \
         ({} % 10 = 0), ({} % 100 < 4), {} FROM {s}",
        h("i", 9),
        h("i", 10),
        conn.ts(&t0.to_string())
    ))
    .await?;
    step("courts, rooms, users and cases");

    // --- the plan: who books whom, when ------------------------------------------------------------
    let s = conn.series(args.sessions, "g", "i");
    conn.exec(&format!(
        "CREATE TEMP TABLE gen_plan AS \
         SELECT i, lroom, case_id, host_level, \
           CASE host_level WHEN 0 THEN {spc_rooms} + 1 + hr % {SPC_ROOMS} \
             WHEN 1 THEN {high_rooms} + hi * {HIGH_ROOMS} + hr % {HIGH_ROOMS} + 1 \
             ELSE {mid_rooms} + mi * {MID_ROOMS} + hr % {MID_ROOMS} + 1 END AS hroom, \
           dur, roll, h7, h8, h9, coord, {u_base} + {n_local} + 2 * hi + 2 AS officer \
         FROM (SELECT b.*, \
             CASE WHEN li < {n_mid} THEN (CASE WHEN pick < 30 THEN 0 ELSE 1 END) \
               ELSE (CASE WHEN pick < 15 THEN 0 WHEN pick < 50 THEN 1 ELSE 2 END) END AS host_level, \
             mi % {n_high} AS hi \
           FROM (SELECT a.*, {lr_base} + li * {rpc} + ri + 1 AS lroom, \
               {case_base} + li * {cpc} + ci + 1 AS case_id, {u_base} + li + 1 AS coord, \
               CASE WHEN li < {n_mid} THEN li ELSE (li - {n_mid}) % {n_mid} END AS mi \
             FROM (SELECT i, {} % {n_local} AS li, {} % {rpc} AS ri, {} % 100 AS pick, \
                 {} % {cpc} AS ci, CASE WHEN {} % 5 = 0 THEN 60 ELSE 30 END AS dur, \
                 {} % 1000 AS roll, {} AS h7, {} AS h8, {} AS h9, {} AS hr FROM {s}) a) b) c",
        h("i", 1),
        h("i", 2),
        h("i", 3),
        h("i", 4),
        h("i", 5),
        h("i", 6),
        h("i", 7),
        h("i", 8),
        h("i", 11),
        h("i", 12),
    ))
    .await?;
    // Each local room's sessions spread over the working minutes, hours apart, on 5-minute marks.
    conn.exec(&format!(
        "CREATE TEMP TABLE gen_sched AS \
         SELECT x.*, {t0} + (pos / {DAY_MINUTES}) * 86400 + {DAY_START_UTC_SECONDS} \
           + (pos % {DAY_MINUTES}) * 60 AS st0 \
         FROM (SELECT w.*, raw - raw % 5 AS pos \
           FROM (SELECT v.*, ((j - 1) * {work}) / n \
               + h8 % (CASE WHEN {work} / n > 96 THEN {work} / n - 96 ELSE 1 END) AS raw \
             FROM (SELECT p.*, ROW_NUMBER() OVER (PARTITION BY lroom ORDER BY i) AS j, \
                 COUNT(*) OVER (PARTITION BY lroom) AS n FROM gen_plan p) v) w) x"
    ))
    .await?;
    // Slots of one host room on the same minute differ by seconds; the newest first for inserts
    // (SQLite's overlap trigger then looks at no older booking of the room).
    conn.exec(&format!(
        "CREATE TEMP TABLE gen_final AS \
         SELECT y.*, \
           CASE WHEN st + dur * 60 > {now} THEN 0 WHEN roll < 40 THEN 1 WHEN roll < 120 THEN 2 ELSE 3 END AS kind, \
           st + (h7 % 5) * 60 AS started, st + (h7 % 5) * 60 + (15 + h9 % (dur - 20)) * 60 AS ended, \
           ROW_NUMBER() OVER (ORDER BY st DESC, i) AS rk \
         FROM (SELECT s.*, st0 + ROW_NUMBER() OVER (PARTITION BY hroom, st0 ORDER BY i) - 1 AS st \
           FROM gen_sched s) y"
    ))
    .await?;
    conn.exec("CREATE INDEX gen_final_rk ON gen_final (rk)")
        .await?;
    let n_ended = conn
        .int("SELECT CAST(COUNT(*) AS BIGINT) FROM gen_final WHERE kind = 3")
        .await?;
    step("schedule planned");

    // --- slots, bookings, sessions, ledger, events ---------------------------------------------------
    let per_session = if n_ended > 0 && args.events > 0 {
        ((args.events + n_ended / 2) / n_ended).max(3)
    } else {
        0
    };
    // Generated cases are petition matters (信访): only outcomes that fit that class.
    let outcome = "CASE h7 % 7 WHEN 0 THEN 'explained_law' WHEN 1 THEN 'assign' WHEN 2 THEN 'no_longer_accepted' \
        WHEN 3 THEN 'supervise' WHEN 4 THEN 'not_within_scope' WHEN 5 THEN 'withdrawn' ELSE 'reception_stopped' END";
    let satisfaction = "CASE WHEN (h9 / 7) % 10 < 3 THEN NULL WHEN (h8 / 3) % 20 < 12 THEN 'satisfied' \
        WHEN (h8 / 3) % 20 < 17 THEN 'basically_satisfied' ELSE 'dissatisfied' END";
    let mut first = 1;
    while first <= args.sessions {
        let last = first + CHUNK - 1;
        let range = format!("rk BETWEEN {first} AND {last}");
        conn.exec(&format!(
            "INSERT INTO slots (id, host_room_id, starts_at, ends_at) \
             SELECT {slot_base} + i, hroom, {}, {} FROM gen_final WHERE {range} ORDER BY rk",
            conn.ts("st"),
            conn.ts("st + dur * 60")
        ))
        .await?;
        conn.exec(&format!(
            "INSERT INTO bookings (id, slot_id, case_id, local_room_id, starts_at, ends_at, status, \
             created_by, created_at) \
             SELECT {bk_base} + i, {slot_base} + i, case_id, lroom, {}, {}, \
             CASE kind WHEN 0 THEN 'booked' WHEN 1 THEN 'cancelled' ELSE 'completed' END, coord, {} \
             FROM gen_final WHERE {range} ORDER BY rk",
            conn.ts("st"),
            conn.ts("st + dur * 60"),
            conn.ts("st - 86400 * (3 + h9 % 10)")
        ))
        .await?;
        conn.exec(&format!(
            "INSERT INTO sessions (id, booking_id, status, join_code_hash, started_at, ended_at, \
             outcome, outcome_note, satisfaction, rated_at, interrupted_seconds) \
             SELECT {se_base} + i, {bk_base} + i, \
             CASE kind WHEN 2 THEN 'no_show' WHEN 3 THEN 'ended' ELSE 'scheduled' END, '{tag}-' || i, \
             CASE WHEN kind = 3 THEN {} END, CASE WHEN kind = 3 THEN {} END, \
             CASE WHEN kind = 3 THEN {outcome} END, CASE WHEN kind = 3 THEN '生成' END, \
             CASE WHEN kind = 3 THEN {satisfaction} END, \
             CASE WHEN kind = 3 AND (h9 / 7) % 10 >= 3 THEN {} END, \
             CASE WHEN kind = 3 AND h8 % 100 < 7 THEN 30 + h9 % 570 ELSE 0 END \
             FROM gen_final WHERE {range} ORDER BY rk",
            conn.ts("started"),
            conn.ts("ended"),
            conn.ts("ended")
        ))
        .await?;
        // On PostgreSQL the ledger's insert trigger looks for the case's earlier entries. Its plan
        // is cached per connection: made while the table is empty (and analysed so by migration
        // 0021), it reads the whole table, and one statement of 200 000 entries takes quadratic
        // time. So the first chunk writes a thousand entries, has them analysed, then the rest.
        // (Ranks run from the latest session back: the first held one is well after rank 1.)
        let split = "(SELECT MIN(rk) + 1000 FROM gen_final WHERE kind = 3)";
        let ranges = if first == 1 && conn.postgres() {
            vec![
                format!("{range} AND rk <= {split}"),
                format!("{range} AND rk > {split}"),
            ]
        } else {
            vec![range.clone()]
        };
        for (k, rows) in ranges.iter().enumerate() {
            if k == 1 {
                conn.exec("ANALYZE ledger_entries").await?;
            }
            conn.exec(&format!(
                "INSERT INTO ledger_entries (id, case_id, at, channel, counted_as, session_id, note, \
                 court_initiated, receiving_court_id, outcome, recorded_at) \
                 SELECT {le_base} + i, case_id, {}, \
                 CASE host_level WHEN 0 THEN 'video_spc' WHEN 1 THEN 'video_high' ELSE 'video_intermediate' END, \
                 'local', {se_base} + i, '生成', TRUE, \
                 (SELECT host_court_id FROM bookings WHERE id = {bk_base} + i), {outcome}, {} \
                 FROM gen_final WHERE kind = 3 AND {rows}",
                conn.ts("ended"),
                conn.ts("ended")
            ))
            .await?;
        }
        if per_session > 0 {
            let q = conn.series(per_session, "q", "seq");
            let k = per_session;
            conn.exec(&format!(
                "INSERT INTO session_events (id, session_id, at, kind, actor, data) \
                 SELECT {ev_base} + (f.i - 1) * {k} + q.seq, {se_base} + f.i, \
                 {}, \
                 CASE WHEN q.seq <= 2 THEN 'joined' WHEN q.seq = 3 THEN 'admitted' \
                   WHEN q.seq = {k} THEN 'ended' WHEN q.seq = {k} - 1 THEN 'left' ELSE 'chat' END, \
                 CASE WHEN q.seq = 2 OR q.seq = {k} - 1 OR (q.seq > 3 AND q.seq % 2 = 1) THEN 'petitioner' \
                   ELSE 'user-' || f.officer END, \
                 CASE WHEN q.seq = 1 THEN '{{\"role\":\"officer\",\"name\":\"生成法官\",\"state\":\"joined\"}}' \
                   WHEN q.seq = 2 THEN '{{\"role\":\"petitioner\",\"name\":\"信访人\",\"state\":\"waiting\"}}' \
                   WHEN q.seq = 3 THEN '{{\"by\":\"user-' || f.officer || '\"}}' \
                   WHEN q.seq = {k} THEN '{{\"outcome\":\"' || {outcome_f} || '\",\"note\":\"生成\",\"name\":\"生成法官\"}}' \
                   WHEN q.seq = {k} - 1 THEN '{{}}' \
                   ELSE '{{\"text\":\"第' || q.seq || '条消息\",\"name\":\"生成\"}}' END \
                 FROM gen_final f CROSS JOIN {q} WHERE f.kind = 3 AND f.{range}",
                conn.ts(&format!(
                    "f.started + q.seq * (f.ended - f.started) / {}",
                    k + 1
                )),
                outcome_f = outcome.replace("h7", "f.h7"),
            ))
            .await?;
        }
        step(&format!("sessions {first}–{}", last.min(args.sessions)));
        first = last + 1;
    }

    // Contacts other than video receptions: letters, visits, online, and petitions in person at
    // the province or in Beijing (half as many as sessions).
    let extra = args.sessions / 2;
    let span = (now - t0).max(1);
    let mut first = 1;
    while first <= extra {
        let n = CHUNK.min(extra - first + 1);
        let s = conn.series(n, "g", "v");
        let i = format!("(v + {})", first - 1);
        conn.exec(&format!(
            "INSERT INTO ledger_entries (id, case_id, at, channel, counted_as, note) \
             SELECT {le_base} + {} + i, {case_base} + 1 + c % {n_cases}, {}, \
             CASE WHEN ch < 30 THEN 'letter' WHEN ch < 60 THEN 'local_visit' WHEN ch < 80 THEN 'online' \
               WHEN ch < 93 THEN 'to_province' ELSE 'to_beijing' END, \
             CASE WHEN ch < 80 THEN 'local' WHEN ch < 93 THEN 'province' ELSE 'beijing' END, '生成' \
             FROM (SELECT {i} AS i, {} AS c, {} AS t, {} % 100 AS ch FROM {s}) x",
            args.sessions,
            conn.ts(&format!("{t0} + (t * 4096 + c % 4096) % {span}")),
            h(&i, 13),
            h(&i, 14),
            h(&i, 15),
        ))
        .await?;
        first += n;
    }
    step("other contacts");

    if conn.postgres() {
        for t in [
            "courts",
            "host_rooms",
            "local_rooms",
            "users",
            "cases",
            "slots",
            "bookings",
            "sessions",
            "ledger_entries",
            "session_events",
        ] {
            conn.exec(&format!(
                "SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT MAX(id) FROM {t}))"
            ))
            .await
            .with_context(|| format!("moving the id sequence of {t}"))?;
        }
        // VACUUM as well: it marks the new pages all-visible, which lets the statistics read
        // their covering indexes without visiting the tables.
        conn.exec("VACUUM (ANALYZE)").await?;
    } else {
        conn.exec("PRAGMA analysis_limit = 1000").await?;
        conn.exec("ANALYZE").await?;
    }
    step("vacuumed and analysed");

    let high_court_ids = (0..n_high).map(|k| high_base + k).collect();
    Ok(Summary {
        tag,
        spc_id: spc,
        high_court_ids,
        courts,
        local_rooms: n_local * rpc,
        cases: n_cases,
        sessions: args.sessions,
        events: per_session * n_ended,
        ledger_entries: n_ended + extra,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_stay_within_64_bits() {
        // The largest row number times the largest multiplier, before the modulo.
        let worst = (500_000_000i64 + 7919 * 1000).checked_mul(3812015801);
        assert!(worst.is_some());
        assert!(hash("i", 3, 1).contains("% 4294967296"));
    }
}
