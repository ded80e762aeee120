//! `courtlink-bench bench province`: a province's day of traffic, compressed into a few minutes,
//! against one `courtlink serve` instance on PostgreSQL and Redis. The figures of the runs are in
//! docs/benchmarks.md ("Province day").
//!
//! The province is what `courtlink-bench generate --courts 113` makes: the SPC, a high court, 13
//! intermediate and 98 basic courts (one province's share of the country's 3,500), with
//! `--history` past sessions for the logs and the statistics. On top of it the harness gives
//! every host court the reception rooms, and every local court the video rooms, that `--sessions`
//! sessions at once need (an officer per reception room, a member of staff per video room, who
//! accompanies the petitioner and is the booking's local officer), a few fresh cases per local
//! court, a one-hour slot starting soon in every reception room used, and two days of hourly
//! slots later in the week. Host courts take bookings at once and at any notice.
//!
//! The day, in `--minutes`:
//! - every local court's coordinator logs in, reads its cases, rooms and the open slots, holds
//!   and books its share of the sessions and one session later in the week, each with an
//!   `Idempotency-Key` (some requests are sent again after their answer, some twice at once);
//! - each session booked is held: the host officer, the local staff and the petitioner (by join
//!   code) open the signalling socket, the host admits the petitioner, everyone offers, answers,
//!   trickles candidates, chats and reports quality at real-time rates (the session's length is
//!   what is compressed) while the officer writes notes and the transcript and reads the
//!   timeline; then the petitioner leaves, the officer ends the session with an outcome, and the
//!   petitioner confirms the transcript and rates the session;
//! - once everything is booked, every coordinator tries what must be refused: a slot its
//!   neighbour booked, a slot while its room is busy, its key again with another body, a slot
//!   someone else holds (409 or 422, never 5xx);
//! - throughout, the higher courts' officers and supervisors read the session log, single
//!   records, statistics and the day's sessions of the courts below them.
//!
//! Every request is timed under its route template. Afterwards the harness checks the database:
//! no slot booked twice, no overlapping live bookings of a reception room, a video room or a
//! local officer, every write answered 2xx there as answered, no booking it was not told of,
//! and every relayed signal delivered. It fails on any failed check or unexpected answer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, DurationRound, SecondsFormat, TimeZone, Utc};
use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::generate::GenerateArgs;
use crate::loadkit::{Server, Ws, connect, courtlink_env};
use courtlink::config::Settings;
use courtlink::domain::Role;
use courtlink::store::schedule::HostSettings;
use courtlink::store::{NewCase, NewUser, Pool, RoomKind, Store};

#[derive(Debug, Clone, clap::Args)]
pub struct ProvinceArgs {
    /// `province`: minutes the day is compressed into (set-up and checks come on top).
    #[arg(long, default_value_t = 4.0)]
    pub minutes: f64,
    /// `province`: sessions held with signalling, all at once in the middle of the day.
    #[arg(long, default_value_t = 200)]
    pub sessions: usize,
    /// `province`: courts to generate (`courtlink-bench generate --courts`); 113 is one province.
    #[arg(long, default_value_t = 113)]
    pub courts: i64,
    /// `province`: past sessions to generate first (a province's year is about 32,000).
    #[arg(long, default_value_t = 32_000)]
    pub history: i64,
    /// `province`: an administrator's connection to the PostgreSQL server.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub pg_url: String,
    /// `province`: the database the run drops, creates and (unless kept or failed) drops again.
    #[arg(long, default_value = "courtlink_load")]
    pub database: String,
    /// `province`: keep the database after a run that passed.
    #[arg(long)]
    pub keep_database: bool,
}

// --- the province ---------------------------------------------------------------------------

#[derive(Clone)]
struct Person {
    id: i64,
    username: String,
    /// The address the person's requests come from (`X-Forwarded-For`): one per person, as
    /// each sits at a machine of their own.
    addr: String,
}

impl Person {
    fn new(id: i64, username: String) -> Person {
        let addr = format!("10.{}.{}.{}", (id >> 16) & 255, (id >> 8) & 255, id & 255);
        Person { id, username, addr }
    }
}

struct LocalRoom {
    id: i64,
    staff: Person,
}

struct Later {
    /// The session later in the week, with the court's parent.
    slot: i64,
    host: i64,
    /// A sibling court's later slot: booking it must be refused (slot taken).
    sibling_slot: Option<i64>,
    /// A free SPC slot at the same hour as `slot`: booking it with the same video room must be
    /// refused (room busy).
    busy_slot: i64,
    /// A free SPC slot this court holds while its neighbour tries to hold it too.
    hold_slot: i64,
}

struct LocalCourt {
    coordinator: Person,
    rooms: Vec<LocalRoom>,
    cases: Vec<courtlink::domain::CaseId>,
    /// Indexes into `World::held`.
    held: Vec<usize>,
    later: Later,
}

struct Held {
    court: usize,
    room: usize,
    host_court: i64,
    slot: i64,
    case: i64,
    officer: Person,
}

struct Reader {
    person: Person,
    /// Its own court and the courts below it.
    scope: Vec<i64>,
}

struct World {
    courts: Vec<LocalCourt>,
    held: Vec<Held>,
    readers: Vec<Reader>,
    password: String,
    /// Start of the sessions' slots (all of them one hour).
    slot_from: DateTime<Utc>,
    /// 09:00 in Beijing, two days on: the later slots.
    later_day: DateTime<Utc>,
    /// What was built, in words.
    shape: String,
    /// The highest booking id before the day: every booking above it was made by the day.
    bookings_before: i64,
}

async fn build_world(
    store: &Store,
    pool: &PgPool,
    args: &ProvinceArgs,
    password: &str,
) -> anyhow::Result<World> {
    let courts: Vec<(i64, String, Option<i64>)> =
        sqlx::query_as("SELECT id, level, parent_id FROM courts ORDER BY id")
            .fetch_all(pool)
            .await?;
    let parent: HashMap<i64, i64> = courts
        .iter()
        .filter_map(|(id, _, p)| p.map(|p| (*id, p)))
        .collect();
    let level: HashMap<i64, &str> = courts.iter().map(|(id, l, _)| (*id, l.as_str())).collect();
    let spc = courts
        .iter()
        .find(|(_, l, p)| l == "supreme" && p.is_none())
        .map(|c| c.0)
        .context("no SPC")?;
    let host_courts: Vec<i64> = courts
        .iter()
        .filter(|(_, l, _)| l != "basic")
        .map(|c| c.0)
        .collect();
    let ancestors = |mut court: i64| {
        let mut up = Vec::new();
        while let Some(p) = parent.get(&court) {
            up.push(*p);
            court = *p;
        }
        up
    };
    let below = |court: i64| -> Vec<i64> {
        courts
            .iter()
            .map(|c| c.0)
            .filter(|c| *c == court || ancestors(*c).contains(&court))
            .collect()
    };

    for &court in &host_courts {
        let current = store.host_settings(court).await?;
        let settings = HostSettings {
            auto_approve: true,
            min_notice_hours: 0,
            ..HostSettings::defaults(court)
        };
        store
            .put_host_settings(&settings, current.version, "loadtest")
            .await?;
    }

    let coordinators: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT court_id, id, username FROM users WHERE role = 'coordinator' ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    let readers: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT court_id, id, username FROM users WHERE role IN ('officer', 'supervisor') ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    let local_ids: Vec<i64> =
        sqlx::query_as::<_, (i64,)>("SELECT DISTINCT court_id FROM local_rooms ORDER BY court_id")
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|(c,)| c)
            .collect();
    if local_ids.is_empty() {
        bail!("the generated province has no local courts");
    }
    let n_local = local_ids.len();

    // Who hosts each session: as the generator spreads them, the court's parent most often,
    // then the high court, then the SPC.
    let mut plan = Vec::new();
    let mut per_host: HashMap<i64, usize> = HashMap::new();
    let mut rooms_needed = vec![1usize; n_local];
    for i in 0..args.sessions {
        let ci = i % n_local;
        let up = ancestors(local_ids[ci]);
        let weights: &[u64] = match up.len() {
            0 => bail!("court {} has no court above it", local_ids[ci]),
            1 => &[100],
            2 => &[70, 30],
            _ => &[50, 35, 15],
        };
        let mut pick = (i as u64).wrapping_mul(2_654_435_761) % 100;
        let mut host = up[0];
        for (w, h) in weights.iter().zip(&up) {
            host = *h;
            if pick < *w {
                break;
            }
            pick -= w;
        }
        let j = per_host.entry(host).or_default();
        plan.push((ci, i / n_local, host, *j));
        *j += 1;
        rooms_needed[ci] = rooms_needed[ci].max(i / n_local + 1);
    }

    // The day's rooms, apart from the generated history's (whose bookings reach a week ahead):
    // in each host court, one per session it hosts at once, enough for its courts' sessions
    // later in the week (eight hours a day), and in the SPC one per eight local courts (the
    // slots they hold); in each local court, one per session it holds at once.
    let parent_of = |ci: usize| ancestors(local_ids[ci]).first().copied();
    let mut host_rooms: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for &court in &host_courts {
        let children = (0..n_local)
            .filter(|&ci| parent_of(ci) == Some(court))
            .count();
        let mut need = per_host
            .get(&court)
            .copied()
            .unwrap_or(0)
            .max(children.div_ceil(8));
        if court == spc {
            need = need.max(n_local.div_ceil(8));
        }
        let mut rooms = Vec::new();
        for k in 1..=need {
            rooms.push(
                store
                    .insert_room(RoomKind::Host, court, &format!("接谈室（负载）{k}"))
                    .await?,
            );
        }
        host_rooms.insert(court, rooms);
    }
    let rooms_of = |court: i64| host_rooms.get(&court).cloned().unwrap_or_default();
    let hash = courtlink::auth::hash_password(password)?;
    let add_user = |court: i64, username: String, role: Role| {
        let hash = hash.clone();
        async move {
            let id = store
                .insert_user(&NewUser {
                    court_id: court,
                    username: &username,
                    display_name: &username,
                    role,
                    password_hash: &hash,
                })
                .await?;
            anyhow::Ok(Person::new(id, username))
        }
    };
    let mut officers: HashMap<i64, Person> = HashMap::new();
    for &(_, _, host, j) in &plan {
        let room = rooms_of(host)[j];
        let officer = add_user(host, format!("load.hr{room}.officer"), Role::Officer).await?;
        officers.insert(room, officer);
    }

    // Slots: one hour starting soon in every reception room used (late enough that every
    // booking is made before it starts, early enough that the join codes work at once), and
    // hourly slots 09:00–17:00 in Beijing two and three days on in every reception room.
    let minutes = i64::try_from(args.minutes.ceil() as u64).unwrap_or(30);
    let slot_from = (Utc::now() + chrono::Duration::minutes(5 + minutes / 2))
        .duration_trunc(chrono::Duration::minutes(1))?;
    let tz = courtlink::app::clock::beijing();
    let day = Utc::now().with_timezone(&tz).date_naive() + chrono::Days::new(2);
    let later_day = tz
        .from_local_datetime(&day.and_hms_opt(9, 0, 0).context("09:00")?)
        .single()
        .context("09:00 in Beijing")?
        .with_timezone(&Utc);
    let all_rooms: Vec<i64> = host_rooms.values().flatten().copied().collect();
    let later: Vec<(i64, i64, DateTime<Utc>)> = sqlx::query_as(
        "INSERT INTO slots (host_room_id, starts_at, ends_at) \
         SELECT hr.id, $1 + d * interval '1 day' + h * interval '1 hour', \
           $1 + d * interval '1 day' + (h + 1) * interval '1 hour' \
         FROM host_rooms hr CROSS JOIN generate_series(0, 1) d CROSS JOIN generate_series(0, 7) h \
         WHERE hr.id = ANY($2) RETURNING id, host_room_id, starts_at",
    )
    .bind(later_day)
    .bind(&all_rooms)
    .fetch_all(pool)
    .await?;
    let later_slot: HashMap<(i64, i64), i64> = later
        .iter()
        .map(|(id, room, at)| ((*room, (*at - later_day).num_hours()), *id))
        .collect();
    let later_at = |room: i64, hour: i64| {
        later_slot
            .get(&(room, hour))
            .copied()
            .with_context(|| format!("no later slot in room {room} at hour {hour}"))
    };

    // Local courts: coordinator, rooms with their staff, cases.
    let mut local = Vec::new();
    let spc_rooms = rooms_of(spc);
    let held_per_court: Vec<usize> = (0..n_local)
        .map(|ci| plan.iter().filter(|p| p.0 == ci).count())
        .collect();
    for (ci, &court) in local_ids.iter().enumerate() {
        let coordinator = coordinators
            .iter()
            .find(|c| c.0 == court)
            .map(|c| Person::new(c.1, c.2.clone()))
            .with_context(|| format!("court {court} has no coordinator"))?;
        let mut rooms = Vec::new();
        for k in 1..=rooms_needed[ci] {
            let id = store
                .insert_room(RoomKind::Local, court, &format!("视频接访室（负载）{k}"))
                .await?;
            let staff = add_user(court, format!("load.lr{id}.staff"), Role::Coordinator).await?;
            rooms.push(LocalRoom { id, staff });
        }
        // The SPC receives a case once its high court has reviewed it, and the rule reads the
        // records: every load case carries the high court's review decision.
        let high = ancestors(court)
            .into_iter()
            .find(|a| courts.iter().any(|(id, l, _)| id == a && l == "high"));
        let mut cases = Vec::new();
        for j in 0..held_per_court[ci] + 2 {
            cases.push(
                store
                    .insert_case(&NewCase {
                        court_id: court,
                        case_number: &format!("(2026)负载{court}-{j}号"),
                        petitioner_name: "负载测试",
                        petitioner_id_number: &format!("LOAD{court:06}{j:04}"),
                        subject: "负载测试",
                        status: courtlink::domain::CaseStatus::Registered,
                        tier: 1,
                        lead: None,
                        deadline: None,
                        escalation_risk: false,
                        petitioner_phone: "",
                        measures: None,
                        goal: None,
                        received_on: None,
                        accepted_on: None,
                    })
                    .await?,
            );
            if let (Some(high), Some(&case)) = (high, cases.last()) {
                store
                    .record_case_event(
                        case,
                        courtlink::store::clocks::CaseEvent::ReviewDecided,
                        "2026-01-05",
                        Some(high),
                        "load",
                    )
                    .await?;
            }
        }
        // Later in the week, with the parent court: the j-th of its children takes its j-th
        // (room, hour), so that no two plans meet.
        let host = *ancestors(court).first().context("a parent")?;
        let siblings: Vec<usize> = (0..n_local)
            .filter(|&k| ancestors(local_ids[k]).first() == Some(&host))
            .collect();
        let rank = |k: usize| siblings.iter().position(|&s| s == k).unwrap_or(0);
        let host_room_ids = rooms_of(host);
        let place = |k: usize| -> anyhow::Result<(i64, i64)> {
            let j = rank(k);
            let hour = (j / host_room_ids.len()) as i64;
            if hour >= 8 {
                bail!("court {host} has too few reception rooms for its courts' later sessions");
            }
            Ok((host_room_ids[j % host_room_ids.len()], hour))
        };
        let (room, hour) = place(ci)?;
        let sibling_slot = match siblings.len() {
            0 | 1 => None,
            n => {
                let (r, h) = place(siblings[(rank(ci) + 1) % n])?;
                Some(later_at(r, h)?)
            }
        };
        let spc_room = spc_rooms[ci % spc_rooms.len()];
        local.push(LocalCourt {
            coordinator,
            rooms,
            cases,
            held: Vec::new(),
            later: Later {
                slot: later_at(room, hour)?,
                host,
                sibling_slot,
                busy_slot: later_at(spc_room, hour)?,
                hold_slot: later_at(spc_room, 24 + ((ci / spc_rooms.len()) % 8) as i64)?,
            },
        });
    }
    if n_local > 8 * spc_rooms.len() {
        bail!("more local courts than the SPC's later slots can give a hold each");
    }

    let mut held = Vec::new();
    for (i, &(ci, room, host, j)) in plan.iter().enumerate() {
        let host_room = rooms_of(host)[j];
        let (slot,): (i64,) = sqlx::query_as(
            "INSERT INTO slots (host_room_id, starts_at, ends_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(host_room)
        .bind(slot_from)
        .bind(slot_from + chrono::Duration::hours(1))
        .fetch_one(pool)
        .await?;
        let case = local[ci].cases[local[ci].held.len()].get();
        local[ci].held.push(i);
        held.push(Held {
            court: ci,
            room,
            host_court: host,
            slot,
            case,
            officer: officers
                .get(&host_room)
                .cloned()
                .context("an officer per room")?,
        });
    }

    let readers = readers
        .into_iter()
        .filter(|(court, _, _)| level.get(court).is_some_and(|l| *l != "basic"))
        .map(|(court, id, username)| Reader {
            person: Person::new(id, username),
            scope: below(court)
                .into_iter()
                .filter(|c| local_ids.contains(c) || *c == court)
                .collect(),
        })
        .collect::<Vec<_>>();
    let count = |l: &str| courts.iter().filter(|c| c.1 == l).count();
    let local_rooms: usize = local.iter().map(|c| c.rooms.len()).sum();
    let shape = format!(
        "{} courts ({} high, {} intermediate, {} basic, the SPC); for the day {} reception rooms \
         with an officer each used by its sessions, {local_rooms} video rooms with their staff; \
         {} officers and supervisors reading",
        courts.len(),
        count("high"),
        count("intermediate"),
        count("basic"),
        all_rooms.len(),
        readers.len()
    );
    let (bookings_before,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM bookings")
        .fetch_one(pool)
        .await?;
    Ok(World {
        courts: local,
        held,
        readers,
        password: password.to_owned(),
        slot_from,
        later_day,
        shape,
        bookings_before,
    })
}

// --- requests and their figures -------------------------------------------------------------

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Default)]
struct RouteStats {
    count: u64,
    unexpected: u64,
    expected: u64,
    micros: Vec<u32>,
}

#[derive(Default)]
struct Stats {
    routes: Mutex<BTreeMap<&'static str, RouteStats>>,
    /// Per minute of the day (since the first answer) and route: the times taken, so that the
    /// morning peak shows rather than being averaged away.
    minutes: Mutex<BTreeMap<(u64, &'static str), Vec<u32>>>,
    first: OnceLock<Instant>,
    /// The first unexpected answers and events, in words.
    problems: Mutex<Vec<String>>,
    problem_count: AtomicU64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Expected,
    Unexpected,
}

impl Stats {
    fn record(&self, route: &'static str, took: Duration, outcome: Outcome) {
        let micros = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        let minute = self.first.get_or_init(Instant::now).elapsed().as_secs() / 60;
        lock(&self.minutes)
            .entry((minute, route))
            .or_default()
            .push(micros);
        let mut routes = lock(&self.routes);
        let r = routes.entry(route).or_default();
        r.count += 1;
        r.micros.push(micros);
        match outcome {
            Outcome::Ok => {}
            Outcome::Expected => r.expected += 1,
            Outcome::Unexpected => r.unexpected += 1,
        }
    }

    fn problem(&self, what: String) {
        self.problem_count.fetch_add(1, Ordering::Relaxed);
        let mut p = lock(&self.problems);
        if p.len() < 40 {
            p.push(what);
        }
    }
}

/// What an answer should be: 2xx; one of the listed refusals (a 2xx is then a failure); or
/// either.
#[derive(Clone, Copy)]
enum Expect {
    Success,
    Refused(&'static [u16]),
    Either(&'static [u16]),
}

struct Answer {
    status: u16,
    body: Value,
    replayed: bool,
    /// `Retry-After`, in seconds.
    retry_after: Option<u64>,
}

impl Answer {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[derive(Clone)]
struct Who {
    token: String,
    addr: String,
}

#[derive(Clone)]
struct Req {
    route: &'static str,
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    token: Option<String>,
    addr: String,
    body: Option<Value>,
    key: Option<String>,
}

impl Req {
    fn new(route: &'static str, method: Method, path: String, who: &Who) -> Req {
        Req {
            route,
            method,
            path,
            query: Vec::new(),
            token: Some(who.token.clone()),
            addr: who.addr.clone(),
            body: None,
            key: None,
        }
    }

    fn body(mut self, body: Value) -> Req {
        self.body = Some(body);
        self
    }

    fn key(mut self, key: &str) -> Req {
        self.key = Some(key.to_owned());
        self
    }

    fn query(mut self, name: &'static str, value: impl ToString) -> Req {
        self.query.push((name, value.to_string()));
        self
    }
}

struct Http {
    client: reqwest::Client,
    base: String,
    stats: Stats,
}

impl Http {
    async fn send(&self, r: Req, expect: Expect) -> Option<Answer> {
        let mut b = self
            .client
            .request(r.method, format!("{}{}", self.base, r.path))
            .header("X-Forwarded-For", &r.addr);
        if !r.query.is_empty() {
            b = b.query(&r.query);
        }
        if let Some(token) = &r.token {
            b = b.bearer_auth(token);
        }
        if let Some(body) = &r.body {
            b = b.json(body);
        }
        if let Some(key) = &r.key {
            b = b.header("Idempotency-Key", key);
        }
        let began = Instant::now();
        let res = match b.send().await {
            Ok(res) => res,
            Err(e) => {
                self.stats
                    .record(r.route, began.elapsed(), Outcome::Unexpected);
                self.stats.problem(format!("{}: {e}", r.route));
                return None;
            }
        };
        let status = res.status().as_u16();
        let replayed = res
            .headers()
            .get("Idempotent-Replayed")
            .is_some_and(|v| v == "true");
        let retry_after = res
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let text = res.text().await.unwrap_or_default();
        let took = began.elapsed();
        let success = (200..300).contains(&status);
        let outcome = match expect {
            Expect::Success if success => Outcome::Ok,
            Expect::Either(_) if success => Outcome::Ok,
            Expect::Refused(codes) | Expect::Either(codes) if codes.contains(&status) => {
                Outcome::Expected
            }
            _ => Outcome::Unexpected,
        };
        self.stats.record(r.route, took, outcome);
        if outcome == Outcome::Unexpected {
            let excerpt: String = text.chars().take(200).collect();
            self.stats
                .problem(format!("{} answered {status}: {excerpt}", r.route));
        }
        Some(Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            replayed,
            retry_after,
        })
    }
}

// --- the day ----------------------------------------------------------------------------------

struct BookingAck {
    id: i64,
    session: i64,
    slot: i64,
    case: i64,
    room: i64,
}

/// Every write that was answered 2xx, to be found in the database afterwards.
#[derive(Default)]
struct Ledger {
    bookings: Vec<BookingAck>,
    notes: Vec<(i64, i64, String)>,
    chats: Vec<(i64, String)>,
    transcripts: Vec<(i64, String)>,
    outcomes: Vec<(i64, String)>,
    decisions: Vec<i64>,
    ratings: Vec<(i64, String)>,
    held: usize,
}

struct Run {
    http: Http,
    ws_base: String,
    world: World,
    /// The day's length.
    day: Duration,
    epoch: Instant,
    ledger: Mutex<Ledger>,
    sessions: Mutex<Vec<JoinHandle<()>>>,
    signals_sent: AtomicU64,
    signals_delivered: AtomicU64,
    quality_sent: AtomicU64,
    sockets: AtomicU64,
    relay_us: Mutex<Vec<u32>>,
    chat_us: Mutex<Vec<u32>>,
    live: AtomicUsize,
    peak_live: AtomicUsize,
    stop: AtomicBool,
    /// Logins answered 503 `busy` (and tried again after `Retry-After`).
    busy_logins: AtomicU64,
}

impl Run {
    fn nanos(&self) -> u128 {
        self.epoch.elapsed().as_nanos()
    }

    async fn login(&self, p: &Person) -> Option<Who> {
        let who = Who {
            token: String::new(),
            addr: p.addr.clone(),
        };
        let mut req = Req::new(
            "POST /api/v1/auth/login",
            Method::POST,
            "/api/v1/auth/login".into(),
            &who,
        )
        .body(json!({"username": p.username, "password": self.world.password}));
        req.token = None;
        // 503 `busy` (the instance's password work is at its bound) is the one documented
        // refusal of a right password: wait as told, as the login page does, and try again.
        let a = loop {
            let a = self.http.send(req.clone(), Expect::Either(&[503])).await?;
            if a.status == 503 && a.body["code"] == "busy" {
                self.busy_logins.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_secs(a.retry_after.unwrap_or(1).max(1))).await;
                continue;
            }
            if !a.ok() {
                self.http
                    .stats
                    .problem(format!("login answered {}: {}", a.status, a.body));
                return None;
            }
            break a;
        };
        Some(Who {
            token: a.body["token"].as_str()?.to_owned(),
            addr: p.addr.clone(),
        })
    }

    async fn get(&self, route: &'static str, path: String, who: &Who) -> Option<Answer> {
        self.http
            .send(Req::new(route, Method::GET, path, who), Expect::Success)
            .await
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What a coordinator leaves for the afternoon's refusals.
struct CourtDone {
    who: Who,
    first_key: Option<(String, Value)>,
}

/// A coordinator's morning: log in, look, hold and book.
async fn court_day(run: Arc<Run>, ci: usize) -> Option<CourtDone> {
    let mut rng = StdRng::seed_from_u64(1000 + ci as u64);
    tokio::time::sleep(run.day.mul_f64(rng.gen_range(0.0..0.12))).await;
    let w = &run.world;
    let court = &w.courts[ci];
    let who = run.login(&court.coordinator).await?;
    run.get("GET /api/v1/me", "/api/v1/me".into(), &who).await;
    run.get("GET /api/v1/cases", "/api/v1/cases".into(), &who)
        .await;
    run.get(
        "GET /api/v1/local-rooms",
        "/api/v1/local-rooms".into(),
        &who,
    )
    .await;

    // The open slots of each court it books with, in the window it books in.
    let mut hosts: Vec<i64> = court.held.iter().map(|&h| w.held[h].host_court).collect();
    hosts.sort_unstable();
    hosts.dedup();
    let mut offered = HashSet::new();
    let windows = hosts
        .iter()
        .map(|h| (*h, w.slot_from, w.slot_from + chrono::Duration::hours(1)))
        .chain(std::iter::once((
            court.later.host,
            w.later_day,
            w.later_day + chrono::Duration::hours(8),
        )));
    for (host, from, to) in windows {
        let req = Req::new(
            "GET /api/v1/slots",
            Method::GET,
            "/api/v1/slots".into(),
            &who,
        )
        .query("host_court_id", host)
        .query("from", rfc3339(from - chrono::Duration::minutes(1)))
        .query("to", rfc3339(to));
        if let Some(a) = run.http.send(req, Expect::Success).await {
            for s in a.body.as_array().into_iter().flatten() {
                offered.insert(s["id"].as_i64().unwrap_or(0));
            }
        }
    }

    let mut first_key = None;
    for &hi in &court.held {
        let plan = &w.held[hi];
        if !offered.contains(&plan.slot) {
            run.http
                .stats
                .problem(format!("slot {} was not offered to its court", plan.slot));
        }
        let room = &court.rooms[plan.room];
        let body = json!({"slot_id": plan.slot, "case_id": plan.case, "local_room_id": room.id,
            "local_officer_id": room.staff.id});
        let key = format!("load-{ci}-{hi}-{}", rng.r#gen::<u32>());
        let Some(booking) = book(&run, &who, plan.slot, &body, &key, rng.gen_range(0..100)).await
        else {
            continue;
        };
        if first_key.is_none() {
            first_key = Some((key, body));
        }
        let session = booking["session_id"].as_i64().unwrap_or(0);
        let code = booking["join_code"].as_str().unwrap_or_default().to_owned();
        let delay = run.day.mul_f64(rng.gen_range(0.0..0.08));
        let handle = tokio::spawn(hold_session(run.clone(), hi, session, code, delay));
        lock(&run.sessions).push(handle);
    }

    // One session later in the week, with the parent court.
    let later = &court.later;
    if !offered.contains(&later.slot) {
        run.http
            .stats
            .problem(format!("later slot {} was not offered", later.slot));
    }
    let room = &court.rooms[0];
    let body = json!({"slot_id": later.slot, "case_id": court.cases[court.held.len()],
        "local_room_id": room.id, "local_officer_id": room.staff.id});
    let key = format!("load-{ci}-later-{}", rng.r#gen::<u32>());
    if let Some(b) = book(&run, &who, later.slot, &body, &key, rng.gen_range(0..100)).await {
        let id = b["id"].as_i64().unwrap_or(0);
        run.get(
            "GET /api/v1/bookings/{id}",
            format!("/api/v1/bookings/{id}"),
            &who,
        )
        .await;
    }
    Some(CourtDone { who, first_key })
}

/// Holds `slot` as a coordinator does. A host court's slots carry at most `hold_cap_per_court`
/// holds at once (issue 15): at the morning's peak a hold can be refused 409
/// `hold_cap_reached`, and the page says to try again in a few minutes. A coordinator does,
/// sooner: 2, 4, 8 and 16 s later. Whether the slot is held.
async fn hold(run: &Run, who: &Who, slot: i64) -> bool {
    for wait in [2, 4, 8, 16, 0] {
        let req = Req::new(
            "POST /api/v1/holds",
            Method::POST,
            "/api/v1/holds".into(),
            who,
        )
        .body(json!({"slot_id": slot}));
        match run.http.send(req, Expect::Either(&[409])).await {
            Some(a) if a.status == 409 && a.body["code"] == "hold_cap_reached" && wait > 0 => {
                tokio::time::sleep(Duration::from_secs(wait)).await;
            }
            Some(a) if a.status == 409 => {
                run.http.stats.problem(format!(
                    "POST /api/v1/holds answered 409 {}",
                    a.body["code"]
                ));
                return false;
            }
            Some(a) => return a.ok(),
            None => return false,
        }
    }
    false
}

/// Holds and books a slot with an `Idempotency-Key`: `dice` < 5 sends the booking twice at once
/// (a double click), < 20 sends it again after its answer (a retry). Returns the booking.
async fn book(
    run: &Run,
    who: &Who,
    slot: i64,
    body: &Value,
    key: &str,
    dice: u32,
) -> Option<Value> {
    hold(run, who, slot).await;
    let booking = || {
        Req::new(
            "POST /api/v1/bookings",
            Method::POST,
            "/api/v1/bookings".into(),
            who,
        )
        .body(body.clone())
        .key(key)
    };
    let created = if dice < 5 {
        // One of the two books; the other replays its answer or is told the first is running.
        let (a, b) = tokio::join!(
            run.http.send(booking(), Expect::Either(&[409])),
            run.http.send(booking(), Expect::Either(&[409]))
        );
        let ok: Vec<Answer> = [a, b].into_iter().flatten().filter(Answer::ok).collect();
        if ok.len() == 2 && ok[0].body["id"] != ok[1].body["id"] {
            run.http
                .stats
                .problem(format!("one key booked twice: {} and {}", ok[0].body, ok[1].body));
        }
        ok.into_iter().next()
    } else {
        let first = run.http.send(booking(), Expect::Success).await;
        if dice < 20 {
            if let Some(first) = first.as_ref().filter(|a| a.ok()) {
                if let Some(again) = run.http.send(booking(), Expect::Success).await {
                    if again.ok() && (!again.replayed || again.body["id"] != first.body["id"]) {
                        run.http.stats.problem(format!(
                            "a retry with the same key was not the first answer replayed: {} then {}",
                            first.body["id"], again.body["id"]
                        ));
                    }
                }
            }
        }
        first
    }
    .filter(Answer::ok)?;
    let b = created.body;
    lock(&run.ledger).bookings.push(BookingAck {
        id: b["id"].as_i64().unwrap_or(0),
        session: b["session_id"].as_i64().unwrap_or(0),
        slot: b["slot_id"].as_i64().unwrap_or(0),
        case: b["case_id"].as_i64().unwrap_or(0),
        room: b["local_room_id"].as_i64().unwrap_or(0),
    });
    Some(b)
}

/// The afternoon: what must be refused, once everything is booked.
async fn court_refusals(run: Arc<Run>, ci: usize, me: CourtDone, rival: Who) {
    let court = &run.world.courts[ci];
    let later = &court.later;
    let spare = court.cases[court.held.len() + 1];
    let room = &court.rooms[0];
    let booking = |slot: i64, key: String| {
        Req::new(
            "POST /api/v1/bookings",
            Method::POST,
            "/api/v1/bookings".into(),
            &me.who,
        )
        .body(
            json!({"slot_id": slot, "case_id": spare, "local_room_id": room.id,
            "local_officer_id": room.staff.id}),
        )
        .key(&key)
    };
    // A slot a neighbour booked: slot_taken.
    if let Some(slot) = later.sibling_slot {
        run.http
            .send(
                booking(slot, format!("load-{ci}-taken")),
                Expect::Refused(&[409]),
            )
            .await;
    }
    // A free slot while the video room (and its officer) is booked at that hour: busy.
    run.http
        .send(
            booking(later.busy_slot, format!("load-{ci}-busy")),
            Expect::Refused(&[409]),
        )
        .await;
    // The first key again with another body: idempotency_key_reused.
    if let Some((key, mut body)) = me.first_key {
        body["case_id"] = json!(spare);
        let req = Req::new(
            "POST /api/v1/bookings",
            Method::POST,
            "/api/v1/bookings".into(),
            &me.who,
        )
        .body(body)
        .key(&key);
        run.http.send(req, Expect::Refused(&[422])).await;
    }
    // A slot someone else holds: slot_held. Then let it go.
    let held_by = |who: &Who| {
        Req::new(
            "POST /api/v1/holds",
            Method::POST,
            "/api/v1/holds".into(),
            who,
        )
        .body(json!({"slot_id": later.hold_slot}))
    };
    if hold(&run, &me.who, later.hold_slot).await {
        run.http
            .send(held_by(&rival), Expect::Refused(&[409]))
            .await;
    }
    run.http
        .send(
            Req::new(
                "DELETE /api/v1/holds/{slot_id}",
                Method::DELETE,
                format!("/api/v1/holds/{}", later.hold_slot),
                &me.who,
            ),
            Expect::Success,
        )
        .await;
}

/// A higher court's officer or supervisor reading the courts below it all day.
async fn reader(run: Arc<Run>, ri: usize) {
    let r = &run.world.readers[ri];
    let mut rng = StdRng::seed_from_u64(5000 + ri as u64);
    tokio::time::sleep(Duration::from_millis(rng.gen_range(0..2000))).await;
    let Some(who) = run.login(&r.person).await else {
        return;
    };
    let mut seen: Vec<i64> = Vec::new();
    while !run.stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(1000..3000))).await;
        let court = r.scope[rng.gen_range(0..r.scope.len())];
        match rng.gen_range(0..10) {
            0..=3 => {
                let page = |cursor: Option<String>| {
                    let mut req = Req::new(
                        "GET /api/v1/records/sessions",
                        Method::GET,
                        "/api/v1/records/sessions".into(),
                        &who,
                    )
                    .query("court", court)
                    .query("status", "ended")
                    .query("limit", 50);
                    if let Some(c) = cursor {
                        req = req.query("cursor", c);
                    }
                    req
                };
                if let Some(a) = run.http.send(page(None), Expect::Success).await {
                    seen = a.body["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|i| i["id"].as_i64())
                        .collect();
                    if let Some(c) = a.body["next_cursor"].as_str() {
                        if rng.gen_bool(0.4) {
                            run.http
                                .send(page(Some(c.to_owned())), Expect::Success)
                                .await;
                        }
                    }
                }
            }
            4..=5 if !seen.is_empty() => {
                let id = seen[rng.gen_range(0..seen.len())];
                run.get(
                    "GET /api/v1/records/sessions/{id}",
                    format!("/api/v1/records/sessions/{id}"),
                    &who,
                )
                .await;
            }
            4..=7 => {
                let req = Req::new(
                    "GET /api/v1/records/statistics",
                    Method::GET,
                    "/api/v1/records/statistics".into(),
                    &who,
                )
                .query("court", court);
                run.http.send(req, Expect::Success).await;
            }
            _ => {
                run.get("GET /api/v1/sessions", "/api/v1/sessions".into(), &who)
                    .await;
            }
        }
    }
}

// --- a session --------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Talk,
    /// No new messages: what is in flight lands.
    Quiet,
    Leave,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Host,
    Staff,
    Petitioner,
}

#[derive(Default)]
struct PeerReport {
    relay_us: Vec<u32>,
    chat_us: Vec<u32>,
    chats: Vec<String>,
    problems: Vec<String>,
}

/// An offer's SDP: about 2.5 KB, as a browser's with audio, video and a data channel.
fn sdp() -> &'static str {
    static SDP: OnceLock<String> = OnceLock::new();
    SDP.get_or_init(|| {
        let mut s = String::from(
            "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n",
        );
        for (mid, media) in [
            (0, "audio 9 UDP/TLS/RTP/SAVPF 111"),
            (1, "video 9 UDP/TLS/RTP/SAVPF 96 97"),
            (2, "application 9 UDP/DTLS/SCTP webrtc-datachannel"),
        ] {
            s.push_str(&format!(
                "m={media}\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdef0123456789\r\n\
                 a=fingerprint:sha-256 {}\r\na=setup:actpass\r\na=mid:{mid}\r\na=sendrecv\r\na=rtcp-mux\r\n",
                ["AB"; 32].join(":")
            ));
            for k in 0..6 {
                s.push_str(&format!("a=rtcp-fb:{} nack pli ccm fir goog-remb transport-cc\r\n", 96 + k));
            }
        }
        s
    })
}

fn candidate(n: u32) -> Value {
    json!({"candidate": format!("candidate:{n} 1 udp 2122260223 10.1.{}.{} {} typ host generation 0 network-id 1", n % 200, n % 250, 50000 + n % 10000),
        "sdpMid": "0", "sdpMLineIndex": 0})
}

/// One participant's socket for the whole session.
async fn peer(
    run: Arc<Run>,
    ws: Ws,
    kind: Kind,
    seed: u64,
    mut ctl: watch::Receiver<Phase>,
    welcomed: oneshot::Sender<()>,
    admitted: oneshot::Sender<()>,
) -> PeerReport {
    let mut report = PeerReport::default();
    let (mut sink, mut stream) = ws.split();
    let (mut welcomed, mut admitted) = (Some(welcomed), Some(admitted));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut me = String::new();
    let mut peers: Vec<String> = Vec::new();
    let mut in_room = false;
    let mut phase = Phase::Talk;
    let mut ctl_open = true;
    let start = tokio::time::Instant::now();
    let mut next_signal = start + Duration::from_millis(rng.gen_range(500..2500));
    // Every 10 s as the web client does, or faster on a compressed day: a session is held (and
    // may end) only with media reports from both sides (docs/lifecycle.md).
    let quality_every = Duration::from_secs(10)
        .min(run.day / 20)
        .max(Duration::from_millis(500));
    let quality_ms = u64::try_from(quality_every.as_millis()).unwrap_or(10_000);
    let mut next_quality = start + Duration::from_millis(rng.gen_range(0..quality_ms));
    let mut next_chat = start + Duration::from_millis(rng.gen_range(3000..20_000));
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let deadline = tokio::time::sleep(run.day + Duration::from_secs(90));
    tokio::pin!(deadline);
    let mut chats = 0u32;
    let mut out: Vec<String> = Vec::new();
    let signal = |out: &mut Vec<String>, to: &str, mut data: Value| {
        data["t"] = json!(run.nanos() as u64);
        run.signals_sent.fetch_add(1, Ordering::Relaxed);
        out.push(json!({"type": "signal", "to": to, "data": data}).to_string());
    };
    let offer = |out: &mut Vec<String>, to: &str| {
        signal(
            out,
            to,
            json!({"description": {"type": "offer", "sdp": sdp()}}),
        );
    };
    'socket: loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
                        report.problems.push(format!("not JSON: {text}"));
                        continue;
                    };
                    let ids = |list: &Value| -> Vec<String> {
                        list.as_array().into_iter().flatten()
                            .filter_map(|p| p["id"].as_str().map(str::to_owned)).collect()
                    };
                    match v["type"].as_str().unwrap_or_default() {
                        "welcome" => {
                            me = v["you"]["id"].as_str().unwrap_or_default().to_owned();
                            if let Some(tx) = welcomed.take() { let _ = tx.send(()); }
                            if v["state"] == "admitted" {
                                in_room = true;
                                peers = ids(&v["participants"]);
                                if let Some(tx) = admitted.take() { let _ = tx.send(()); }
                                for p in peers.clone() { offer(&mut out, &p); }
                            }
                        }
                        "admitted" => {
                            in_room = true;
                            peers = ids(&v["participants"]);
                            if let Some(tx) = admitted.take() { let _ = tx.send(()); }
                            for p in peers.clone() { offer(&mut out, &p); }
                        }
                        "joined" => {
                            if let Some(id) = v["participant"]["id"].as_str() {
                                if !peers.iter().any(|p| p == id) { peers.push(id.to_owned()); }
                            }
                        }
                        "left" => peers.retain(|p| v["participant_id"] != p.as_str()),
                        "waiting" => {
                            if kind == Kind::Host {
                                out.push(json!({"type": "admit", "participant": v["participant"]["id"]}).to_string());
                            }
                        }
                        "signal" => {
                            run.signals_delivered.fetch_add(1, Ordering::Relaxed);
                            if let Some(t) = v["data"]["t"].as_u64() {
                                let us = (run.nanos().saturating_sub(u128::from(t)) / 1000).min(u128::from(u32::MAX));
                                report.relay_us.push(us as u32);
                            }
                            let from = v["from"].as_str().unwrap_or_default().to_owned();
                            if v["data"]["description"]["type"] == "offer" {
                                signal(&mut out, &from, json!({"description": {"type": "answer", "sdp": sdp()}}));
                                for _ in 0..2 {
                                    signal(&mut out, &from, candidate(rng.r#gen()));
                                }
                            }
                        }
                        "chat" => {
                            if v["from"] == me.as_str() {
                                let text = v["text"].as_str().unwrap_or_default().to_owned();
                                if let Some(t) = text.rsplit_once('#').and_then(|(_, t)| t.parse::<u128>().ok()) {
                                    let us = (run.nanos().saturating_sub(t) / 1000).min(u128::from(u32::MAX));
                                    report.chat_us.push(us as u32);
                                }
                                report.chats.push(text);
                            }
                        }
                        // The recorder's state (docs/recording.md): these clients send no media,
                        // so they open no recorder connection and have nothing to do with it.
                        "ended" | "recording" => {}
                        other => report.problems.push(format!("{kind:?} got {other}: {v}")),
                    }
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    if phase != Phase::Leave {
                        report.problems.push(format!("{kind:?} socket: {e}"));
                    }
                    break;
                }
            },
            _ = tick.tick() => {
                if phase == Phase::Talk {
                    let now = tokio::time::Instant::now();
                    if in_room && now >= next_signal && !peers.is_empty() {
                        let to = peers[rng.gen_range(0..peers.len())].clone();
                        signal(&mut out, &to, candidate(rng.r#gen()));
                        next_signal = now + Duration::from_millis(rng.gen_range(1500..2500));
                    }
                    if now >= next_quality {
                        out.push(json!({"type": "quality", "rtt_ms": rng.gen_range(5.0..80.0),
                            "packet_loss": rng.gen_range(0.0..0.02), "bitrate_kbps": rng.gen_range(300.0..1500.0)}).to_string());
                        run.quality_sent.fetch_add(1, Ordering::Relaxed);
                        next_quality = now + quality_every;
                    }
                    if kind != Kind::Staff && now >= next_chat {
                        chats += 1;
                        out.push(json!({"type": "chat", "text": format!("第{chats}句：您好，能听到吗？ #{}", run.nanos())}).to_string());
                        next_chat = now + Duration::from_millis(rng.gen_range(15_000..30_000));
                    }
                }
            }
            changed = ctl.changed(), if ctl_open => {
                if changed.is_err() {
                    ctl_open = false;
                } else {
                    phase = *ctl.borrow();
                    if phase == Phase::Leave {
                        out.push(json!({"type": "leave"}).to_string());
                    }
                }
            }
            _ = &mut deadline => {
                report.problems.push(format!("{kind:?} socket still open at the deadline"));
                break;
            }
        }
        for m in out.drain(..) {
            if let Err(e) = sink.send(Message::text(m)).await {
                if phase != Phase::Leave {
                    report.problems.push(format!("{kind:?} send: {e}"));
                }
                break 'socket;
            }
        }
    }
    let _ = sink.close().await;
    report
}

const SIGNAL_ROUTE: &str = "GET /api/v1/sessions/{id}/signal (upgrade to welcome)";

/// Opens a participant's socket and waits for its `welcome`.
async fn open_peer(
    run: &Arc<Run>,
    session: i64,
    token: &str,
    kind: Kind,
    seed: u64,
) -> Option<(
    JoinHandle<PeerReport>,
    watch::Sender<Phase>,
    oneshot::Receiver<()>,
)> {
    let url = format!("{}/api/v1/sessions/{session}/signal", run.ws_base);
    let began = Instant::now();
    let ws = match connect(&url, Some(&format!("courtlink.v1, auth.{token}"))).await {
        Ok(ws) => ws,
        Err(e) => {
            run.http
                .stats
                .record(SIGNAL_ROUTE, began.elapsed(), Outcome::Unexpected);
            run.http
                .stats
                .problem(format!("session {session}: {kind:?} cannot connect: {e}"));
            return None;
        }
    };
    run.sockets.fetch_add(1, Ordering::Relaxed);
    let (ctl_tx, ctl_rx) = watch::channel(Phase::Talk);
    let (w_tx, w_rx) = oneshot::channel();
    let (a_tx, a_rx) = oneshot::channel();
    let task = tokio::spawn(peer(run.clone(), ws, kind, seed, ctl_rx, w_tx, a_tx));
    let ok = matches!(
        tokio::time::timeout(Duration::from_secs(30), w_rx).await,
        Ok(Ok(()))
    );
    run.http.stats.record(
        SIGNAL_ROUTE,
        began.elapsed(),
        if ok { Outcome::Ok } else { Outcome::Unexpected },
    );
    if !ok {
        run.http
            .stats
            .problem(format!("session {session}: no welcome for {kind:?}"));
        return None;
    }
    Some((task, ctl_tx, a_rx))
}

/// A session from the first join to the petitioner's rating.
async fn hold_session(run: Arc<Run>, hi: usize, session: i64, code: String, delay: Duration) {
    tokio::time::sleep(delay).await;
    if !held(&run, hi, session, code).await {
        run.http
            .stats
            .problem(format!("session {session} was not held to the end"));
    }
}

async fn held(run: &Arc<Run>, hi: usize, session: i64, code: String) -> bool {
    let w = &run.world;
    let plan = &w.held[hi];
    let staff_person = &w.courts[plan.court].rooms[plan.room].staff;
    let (Some(officer), Some(staff)) = (
        run.login(&plan.officer).await,
        run.login(staff_person).await,
    ) else {
        return false;
    };
    let seed = (hi as u64) * 3;
    let Some((host, host_ctl, _)) = open_peer(run, session, &officer.token, Kind::Host, seed).await
    else {
        return false;
    };
    let Some((local, local_ctl, _)) =
        open_peer(run, session, &staff.token, Kind::Staff, seed + 1).await
    else {
        return false;
    };
    let petitioner_addr = format!("172.16.{}.{}", (session >> 8) & 255, session & 255);
    let mut join = Req::new(
        "POST /api/v1/auth/join",
        Method::POST,
        "/api/v1/auth/join".into(),
        &Who {
            token: String::new(),
            addr: petitioner_addr.clone(),
        },
    )
    .body(json!({"code": code}));
    join.token = None;
    let Some(joined) = run
        .http
        .send(join, Expect::Success)
        .await
        .filter(Answer::ok)
    else {
        return false;
    };
    let petitioner_who = Who {
        token: joined.body["token"].as_str().unwrap_or_default().to_owned(),
        addr: petitioner_addr,
    };
    let Some((pet, pet_ctl, pet_admitted)) = open_peer(
        run,
        session,
        &petitioner_who.token,
        Kind::Petitioner,
        seed + 2,
    )
    .await
    else {
        return false;
    };
    if !matches!(
        tokio::time::timeout(Duration::from_secs(30), pet_admitted).await,
        Ok(Ok(()))
    ) {
        run.http.stats.problem(format!(
            "session {session}: the petitioner was not admitted"
        ));
        return false;
    }
    let live = run.live.fetch_add(1, Ordering::Relaxed) + 1;
    run.peak_live.fetch_max(live, Ordering::Relaxed);
    let began = tokio::time::Instant::now();
    let length = run.day.mul_f64(0.45);
    let at = |f: f64| began + length.mul_f64(f);

    // The officer's record of the session, through the API.
    for (i, f) in [0.3, 0.6].into_iter().enumerate() {
        tokio::time::sleep_until(at(f)).await;
        if f > 0.5 {
            run.get(
                "GET /api/v1/sessions/{id}",
                format!("/api/v1/sessions/{session}"),
                &officer,
            )
            .await;
        }
        let text = format!("接谈记录{}：信访人陈述诉求，法官释法明理。", i + 1);
        let req = Req::new(
            "POST /api/v1/sessions/{id}/notes",
            Method::POST,
            format!("/api/v1/sessions/{session}/notes"),
            &officer,
        )
        .body(json!({"text": text}));
        if let Some(a) = run.http.send(req, Expect::Success).await.filter(Answer::ok) {
            let id = a.body["id"].as_i64().unwrap_or(0);
            lock(&run.ledger).notes.push((session, id, text));
        }
    }
    tokio::time::sleep_until(at(0.8)).await;
    let transcript = format!("笔录（会话{session}）：信访人反映执行款未到位，法官答复将督促执行。");
    let req = Req::new(
        "PUT /api/v1/sessions/{id}/transcript",
        Method::PUT,
        format!("/api/v1/sessions/{session}/transcript"),
        &officer,
    )
    .body(json!({"text": transcript}));
    if run
        .http
        .send(req, Expect::Success)
        .await
        .is_some_and(|a| a.ok())
    {
        lock(&run.ledger).transcripts.push((session, transcript));
    }

    // The end: quiet, the petitioner leaves, the officer ends with an outcome.
    let quiet = Duration::from_millis(1500).min(length / 4);
    tokio::time::sleep_until(at(1.0) - quiet).await;
    for ctl in [&host_ctl, &local_ctl, &pet_ctl] {
        let _ = ctl.send(Phase::Quiet);
    }
    tokio::time::sleep_until(at(1.0)).await;
    let _ = pet_ctl.send(Phase::Leave);
    let mut reports = Vec::new();
    match tokio::time::timeout(Duration::from_secs(15), pet).await {
        Ok(Ok(r)) => reports.push(r),
        _ => run.http.stats.problem(format!(
            "session {session}: the petitioner's socket did not close"
        )),
    }
    // The load's cases are petition matters (信访): outcomes that fit that class.
    const OUTCOMES: [&str; 7] = [
        "explained_law",
        "assign",
        "no_longer_accepted",
        "supervise",
        "not_within_scope",
        "withdrawn",
        "reception_stopped",
    ];
    let outcome = OUTCOMES[hi % OUTCOMES.len()];
    let req = Req::new(
        "POST /api/v1/sessions/{id}/end",
        Method::POST,
        format!("/api/v1/sessions/{session}/end"),
        &officer,
    )
    .body(json!({"outcome": outcome, "note": "已答复，督促执行"}));
    let ended = run
        .http
        .send(req, Expect::Success)
        .await
        .is_some_and(|a| a.ok());
    if ended {
        lock(&run.ledger)
            .outcomes
            .push((session, outcome.to_owned()));
    }
    run.live.fetch_sub(1, Ordering::Relaxed);
    for (task, ctl) in [(host, host_ctl), (local, local_ctl)] {
        if !ended {
            let _ = ctl.send(Phase::Leave);
        }
        match tokio::time::timeout(Duration::from_secs(15), task).await {
            Ok(Ok(r)) => reports.push(r),
            _ => run
                .http
                .stats
                .problem(format!("session {session}: a staff socket did not close")),
        }
    }

    // After the end, the petitioner confirms the transcript and rates the session.
    let req = Req::new(
        "POST /api/v1/sessions/{id}/transcript/decision",
        Method::POST,
        format!("/api/v1/sessions/{session}/transcript/decision"),
        &petitioner_who,
    )
    .body(json!({"decision": "confirmed"}));
    if run
        .http
        .send(req, Expect::Success)
        .await
        .is_some_and(|a| a.ok())
    {
        lock(&run.ledger).decisions.push(session);
    }
    let satisfaction = ["satisfied", "basically_satisfied", "dissatisfied"][hi % 3];
    let req = Req::new(
        "POST /api/v1/sessions/{id}/rating",
        Method::POST,
        format!("/api/v1/sessions/{session}/rating"),
        &petitioner_who,
    )
    .body(json!({"satisfaction": satisfaction}));
    if run
        .http
        .send(req, Expect::Success)
        .await
        .is_some_and(|a| a.ok())
    {
        lock(&run.ledger)
            .ratings
            .push((session, satisfaction.to_owned()));
    }

    let mut ok = ended;
    for r in reports {
        lock(&run.relay_us).extend(r.relay_us);
        lock(&run.chat_us).extend(r.chat_us);
        let mut ledger = lock(&run.ledger);
        ledger
            .chats
            .extend(r.chats.into_iter().map(|t| (session, t)));
        drop(ledger);
        for p in r.problems {
            ok = false;
            run.http.stats.problem(format!("session {session}: {p}"));
        }
    }
    if ok {
        lock(&run.ledger).held += 1;
    }
    ok
}

// --- the run ----------------------------------------------------------------------------------

async fn fresh_database(args: &ProvinceArgs) -> anyhow::Result<String> {
    use sqlx::Connection;
    let name = &args.database;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        bail!("--database must be lower-case letters, digits and underscores");
    }
    let mut admin = sqlx::PgConnection::connect(&args.pg_url)
        .await
        .with_context(|| format!("PostgreSQL at {}", args.pg_url))?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    let base = args
        .pg_url
        .rsplit_once('/')
        .map_or(args.pg_url.as_str(), |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

async fn drop_database(args: &ProvinceArgs) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&args.pg_url).await?;
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        args.database
    ))
    .execute(&mut admin)
    .await?;
    admin.close().await?;
    Ok(())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

pub async fn run(settings: &Settings, a: &ProvinceArgs, redis_url: &str) -> anyhow::Result<()> {
    if !(0.1..=30.0).contains(&a.minutes) || a.sessions == 0 || a.history < 1 {
        bail!("need 0.1 ≤ --minutes ≤ 30, --sessions ≥ 1 and --history ≥ 1");
    }
    let started = Instant::now();
    let url = fresh_database(a).await?;
    let store = Store::connect(&url, 4).await?;
    store.migrate().await?;
    println!(
        "province: generating {} courts and {} past sessions in {}",
        a.courts, a.history, a.database
    );
    crate::generate::run(
        &store,
        &GenerateArgs {
            sessions: a.history,
            events: a.history * 10,
            courts: a.courts,
            months: 12,
            seed: 1,
        },
        &settings.demo.password,
    )
    .await?;
    let Pool::Postgres(pool) = store.pool() else {
        bail!("the province load test runs on PostgreSQL");
    };
    let world = build_world(&store, pool, a, &settings.demo.password).await?;
    println!(
        "province: {}; {} sessions in {} local courts; set up in {:.1} s",
        world.shape,
        world.held.len(),
        world.courts.len(),
        started.elapsed().as_secs_f64()
    );

    let mut env = courtlink_env(settings, &url, Some(redis_url));
    // The settings as deployed, not the relay benchmarks' (no rate limit, no waiting room).
    let s = &settings.signalling;
    env.extend([
        // This process stands for the court networks' proxy: it says, in X-Forwarded-For, which
        // person's address each request comes from, and only a trusted proxy is believed.
        (
            "COURTLINK__AUTH__TRUSTED_PROXIES",
            "[\"127.0.0.1\"]".to_owned(),
        ),
        ("COURTLINK__SIGNALLING__WAITING_ROOM", "true".to_owned()),
        // A held reception needs `records.min_reception_seconds` of media both ways; a
        // compressed day's sessions last seconds, so a quarter of one is asked, at most 60 s.
        (
            "COURTLINK__RECORDS__MIN_RECEPTION_SECONDS",
            ((a.minutes * 60.0 * 0.45 / 4.0).min(60.0) as i64).to_string(),
        ),
        (
            "COURTLINK__SIGNALLING__RATE_LIMIT_PER_SECOND",
            s.rate_limit_per_second.to_string(),
        ),
        (
            "COURTLINK__SIGNALLING__RATE_LIMIT_BURST",
            s.rate_limit_burst.to_string(),
        ),
        (
            "COURTLINK__SIGNALLING__OUTBOUND_QUEUE",
            s.outbound_queue.to_string(),
        ),
    ]);
    let server = Arc::new(Server::spawn(
        &["serve"],
        &env,
        "is serving on http://127.0.0.1:",
    )?);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let base = format!("http://127.0.0.1:{}", server.port);
    for _ in 0..100 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_start = server.rss_kib();
    let cpu_start = server.cpu_seconds();

    let day = Duration::from_secs_f64(a.minutes * 60.0);
    let run = Arc::new(Run {
        http: Http {
            client,
            base,
            stats: Stats::default(),
        },
        ws_base: format!("ws://127.0.0.1:{}", server.port),
        world,
        day,
        epoch: Instant::now(),
        ledger: Mutex::new(Ledger::default()),
        sessions: Mutex::new(Vec::new()),
        signals_sent: AtomicU64::new(0),
        signals_delivered: AtomicU64::new(0),
        quality_sent: AtomicU64::new(0),
        sockets: AtomicU64::new(0),
        relay_us: Mutex::new(Vec::new()),
        chat_us: Mutex::new(Vec::new()),
        live: AtomicUsize::new(0),
        peak_live: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        busy_logins: AtomicU64::new(0),
    });
    let day_started = Instant::now();
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (server, sampling) = (server.clone(), sampling.clone());
        tokio::spawn(async move {
            let mut peak = 0;
            while sampling.load(Ordering::Relaxed) {
                peak = peak.max(server.rss_kib());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            peak
        })
    };
    println!(
        "province: the day begins: {:.1} minutes on one instance (PostgreSQL {}, Redis {})",
        a.minutes, a.database, redis_url
    );

    let readers: Vec<_> = (0..run.world.readers.len())
        .map(|ri| tokio::spawn(reader(run.clone(), ri)))
        .collect();
    let courts: Vec<_> = (0..run.world.courts.len())
        .map(|ci| tokio::spawn(court_day(run.clone(), ci)))
        .collect();
    let mut done = Vec::new();
    for c in courts {
        done.push(c.await.ok().flatten());
    }
    println!(
        "province: bookings made at {:.0} s",
        day_started.elapsed().as_secs_f64()
    );
    let rivals: Vec<Option<Who>> = done
        .iter()
        .map(|d| d.as_ref().map(|d| d.who.clone()))
        .collect();
    let mut refusals = Vec::new();
    for (ci, d) in done.into_iter().enumerate() {
        let rival = rivals[(ci + 1) % rivals.len()].clone();
        if let (Some(d), Some(rival)) = (d, rival) {
            refusals.push(tokio::spawn(court_refusals(run.clone(), ci, d, rival)));
        }
    }
    for r in refusals {
        let _ = r.await;
    }
    loop {
        let handles: Vec<_> = lock(&run.sessions).drain(..).collect();
        if handles.is_empty() {
            break;
        }
        for h in handles {
            let _ = h.await;
        }
    }
    println!(
        "province: sessions over at {:.0} s",
        day_started.elapsed().as_secs_f64()
    );
    tokio::time::sleep_until((day_started + day).into()).await;
    run.stop.store(true, Ordering::Relaxed);
    for r in readers {
        let _ = r.await;
    }
    let day_seconds = day_started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu_start;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_end = server.rss_kib();
    sampling.store(false, Ordering::Relaxed);
    let rss_peak = sampler.await.unwrap_or(0).max(rss_end);
    // The checks read the database as the server left it.
    drop(server);

    let total_unexpected = report(&run, a, day_seconds, cpu, (rss_start, rss_peak, rss_end));
    let checks = check(&run, pool).await?;
    store.close().await;
    println!("\nchecks after the run:");
    let mut failed = 0;
    for (name, ok, detail) in &checks {
        println!("- [{}] {name}: {detail}", if *ok { "pass" } else { "FAIL" });
        failed += usize::from(!ok);
    }
    let problems = lock(&run.http.stats.problems).clone();
    if !problems.is_empty() {
        println!(
            "\nunexpected ({} in all; the first {}):",
            run.http.stats.problem_count.load(Ordering::Relaxed),
            problems.len()
        );
        for p in problems {
            println!("- {p}");
        }
    }
    if failed > 0
        || total_unexpected > 0
        || run.http.stats.problem_count.load(Ordering::Relaxed) > 0
    {
        bail!(
            "{failed} checks failed, {total_unexpected} unexpected answers, {} problems; database {} kept",
            run.http.stats.problem_count.load(Ordering::Relaxed),
            a.database
        );
    }
    if !a.keep_database {
        drop_database(a).await?;
    }
    println!("\nprovince: passed");
    Ok(())
}

/// Prints the figures; returns the count of unexpected answers.
fn report(
    run: &Run,
    a: &ProvinceArgs,
    day_seconds: f64,
    cpu: f64,
    (rss_start, rss_peak, rss_end): (u64, u64, u64),
) -> u64 {
    let mut routes = lock(&run.http.stats.routes);
    println!(
        "\nprovince day: {} sessions, {:.1} minutes ({day_seconds:.0} s), {} cores",
        a.sessions,
        a.minutes,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "\n| endpoint | requests | unexpected errors | error rate | expected refusals | p50 ms | p95 ms | p99 ms | max ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let (mut all, mut unexpected, mut expected) = (Vec::new(), 0, 0);
    let mut total = 0;
    for (route, r) in routes.iter_mut() {
        r.micros.sort_unstable();
        all.extend_from_slice(&r.micros);
        total += r.count;
        unexpected += r.unexpected;
        expected += r.expected;
        println!(
            "| `{route}` | {} | {} | {:.2} % | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            r.count,
            r.unexpected,
            100.0 * r.unexpected as f64 / r.count.max(1) as f64,
            r.expected,
            percentile(&r.micros, 0.5),
            percentile(&r.micros, 0.95),
            percentile(&r.micros, 0.99),
            percentile(&r.micros, 1.0)
        );
    }
    all.sort_unstable();
    println!(
        "| all | {total} | {unexpected} | {:.2} % | {expected} | {:.1} | {:.1} | {:.1} | {:.1} |",
        100.0 * unexpected as f64 / total.max(1) as f64,
        percentile(&all, 0.5),
        percentile(&all, 0.95),
        percentile(&all, 0.99),
        percentile(&all, 1.0)
    );
    let mut relay = lock(&run.relay_us).clone();
    relay.sort_unstable();
    let mut chat = lock(&run.chat_us).clone();
    chat.sort_unstable();
    println!(
        "\n| signalling | sockets | peak concurrent sessions | signals sent | signals relayed | relay p50 ms | p95 ms | p99 ms | max ms | chat lines (echo p50 / p99 ms) | quality reports |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| courtlink | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} ({:.2} / {:.2}) | {} |",
        run.sockets.load(Ordering::Relaxed),
        run.peak_live.load(Ordering::Relaxed),
        run.signals_sent.load(Ordering::Relaxed),
        run.signals_delivered.load(Ordering::Relaxed),
        percentile(&relay, 0.5),
        percentile(&relay, 0.95),
        percentile(&relay, 0.99),
        percentile(&relay, 1.0),
        chat.len(),
        percentile(&chat, 0.5),
        percentile(&chat, 0.99),
        run.quality_sent.load(Ordering::Relaxed)
    );
    // Latency per minute of the day, so that the morning peak (the logins) shows.
    const LOGIN: &str = "POST /api/v1/auth/login";
    const BOOK: &str = "POST /api/v1/bookings";
    let minutes = lock(&run.http.stats.minutes);
    let last = minutes.keys().map(|k| k.0).max().unwrap_or(0);
    println!(
        "\nper minute ({} logins answered 503 busy and tried again after Retry-After):",
        run.busy_logins.load(Ordering::Relaxed)
    );
    println!(
        "\n| minute | logins | login p50 / p99 ms | `POST /bookings` | bookings p50 / p95 / p99 ms | all requests | all p95 ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for m in 0..=last {
        let of = |route: &str| {
            let mut v = minutes.get(&(m, route)).cloned().unwrap_or_default();
            v.sort_unstable();
            v
        };
        let (login, book) = (of(LOGIN), of(BOOK));
        let mut all: Vec<u32> = minutes
            .range((m, "")..)
            .take_while(|(k, _)| k.0 == m)
            .flat_map(|(_, v)| v.iter().copied())
            .collect();
        all.sort_unstable();
        println!(
            "| {} | {} | {:.1} / {:.1} | {} | {:.1} / {:.1} / {:.1} | {} | {:.1} |",
            m + 1,
            login.len(),
            percentile(&login, 0.5),
            percentile(&login, 0.99),
            book.len(),
            percentile(&book, 0.5),
            percentile(&book, 0.95),
            percentile(&book, 0.99),
            all.len(),
            percentile(&all, 0.95)
        );
    }
    drop(minutes);
    println!(
        "\n| server RSS at start (MiB) | peak (MiB) | end (MiB) | server CPU (s) | mean cores busy |"
    );
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| {:.1} | {:.1} | {:.1} | {cpu:.1} | {:.2} |",
        rss_start as f64 / 1024.0,
        rss_peak as f64 / 1024.0,
        rss_end as f64 / 1024.0,
        cpu / day_seconds.max(1.0)
    );
    unexpected
}

type Check = (String, bool, String);

async fn count(pool: &PgPool, sql: &str) -> anyhow::Result<i64> {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await?;
    Ok(n)
}

/// The database after the day: nothing booked twice or overlapping, nothing acknowledged lost.
async fn check(run: &Run, pool: &PgPool) -> anyhow::Result<Vec<Check>> {
    // Out of the lock: the checks await the database.
    let ledger = std::mem::take(&mut *lock(&run.ledger));
    let mut checks: Vec<Check> = Vec::new();
    let mut add = |name: &str, ok: bool, detail: String| checks.push((name.to_owned(), ok, detail));

    let twice = count(
        pool,
        "SELECT COUNT(*) FROM (SELECT slot_id FROM bookings WHERE status <> 'cancelled' \
         GROUP BY slot_id HAVING COUNT(*) > 1) x",
    )
    .await?;
    add(
        "no slot booked twice",
        twice == 0,
        format!("{twice} slots with two live bookings"),
    );
    for (column, what) in [
        ("host_room_id", "reception room"),
        ("local_room_id", "video room"),
        ("local_officer_id", "local officer"),
    ] {
        let n = count(
            pool,
            &format!(
                "SELECT COUNT(*) FROM bookings a JOIN bookings b ON a.{column} = b.{column} AND a.id < b.id \
                 WHERE a.status <> 'cancelled' AND b.status <> 'cancelled' \
                 AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
            ),
        )
        .await?;
        add(
            &format!("no overlapping live bookings of a {what}"),
            n == 0,
            format!("{n} overlapping pairs"),
        );
    }

    let ids: Vec<i64> = ledger.bookings.iter().map(|b| b.id).collect();
    let rows: Vec<(i64, i64, i64, i64, i64, String)> = sqlx::query_as(
        "SELECT b.id, s.id, b.slot_id, b.case_id, b.local_room_id, b.status \
         FROM bookings b JOIN sessions s ON s.booking_id = b.id WHERE b.id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let by_id: HashMap<i64, (i64, i64, i64, i64, String)> = rows
        .into_iter()
        .map(|(id, s, slot, case, room, st)| (id, (s, slot, case, room, st)))
        .collect();
    let missing = ledger
        .bookings
        .iter()
        .filter(|b| {
            by_id.get(&b.id).is_none_or(|r| {
                (r.0, r.1, r.2, r.3) != (b.session, b.slot, b.case, b.room) || r.4 == "cancelled"
            })
        })
        .count();
    add(
        "every booking answered 201 is there as answered",
        missing == 0,
        format!("{} answered, {missing} missing or different", ids.len()),
    );
    let unique: HashSet<i64> = ids.iter().copied().collect();
    let made = count(
        pool,
        &format!(
            "SELECT COUNT(*) FROM bookings WHERE id > {}",
            run.world.bookings_before
        ),
    )
    .await?;
    add(
        "no booking that was not answered 201 (no double booking by retries or refusals)",
        made == unique.len() as i64,
        format!("{made} bookings made in the run, {} answered", unique.len()),
    );

    let note_ids: Vec<i64> = ledger.notes.iter().map(|n| n.1).collect();
    let notes: HashMap<i64, (i64, String)> = sqlx::query_as::<_, (i64, i64, String)>(
        "SELECT id, session_id, data FROM session_events WHERE kind = 'note' AND id = ANY($1)",
    )
    .bind(&note_ids)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(id, s, data)| (id, (s, data)))
    .collect();
    let lost = ledger
        .notes
        .iter()
        .filter(|(s, id, text)| {
            notes.get(id).is_none_or(|(session, data)| {
                session != s
                    || serde_json::from_str::<Value>(data)
                        .ok()
                        .is_none_or(|d| d["text"] != text.as_str())
            })
        })
        .count();
    add(
        "every note answered 201 is on its timeline",
        lost == 0,
        format!("{} answered, {lost} missing", note_ids.len()),
    );

    let sessions: Vec<i64> = ledger.bookings.iter().map(|b| b.session).collect();
    let chats: HashSet<(i64, String)> = sqlx::query_as::<_, (i64, String)>(
        "SELECT session_id, data FROM session_events WHERE kind = 'chat' AND session_id = ANY($1)",
    )
    .bind(&sessions)
    .fetch_all(pool)
    .await?
    .into_iter()
    .filter_map(|(s, data)| {
        serde_json::from_str::<Value>(&data)
            .ok()
            .and_then(|d| d["text"].as_str().map(|t| (s, t.to_owned())))
    })
    .collect();
    let lost = ledger.chats.iter().filter(|c| !chats.contains(c)).count();
    add(
        "every chat line echoed to its sender is on its timeline",
        lost == 0,
        format!("{} echoed, {lost} missing", ledger.chats.len()),
    );

    type SessionRow = (
        i64,
        String,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
    );
    let rows: HashMap<i64, SessionRow> = sqlx::query_as::<_, SessionRow>(
        "SELECT id, status, outcome, transcript, transcript_decision, satisfaction FROM sessions WHERE id = ANY($1)",
    )
    .bind(&sessions)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.0, r))
    .collect();
    let lost = ledger
        .outcomes
        .iter()
        .filter(|(s, o)| {
            rows.get(s)
                .is_none_or(|r| r.1 != "ended" || r.2.as_deref() != Some(o.as_str()))
        })
        .count();
    add(
        "every outcome answered 200 is there (session ended)",
        lost == 0,
        format!("{} answered, {lost} missing", ledger.outcomes.len()),
    );
    let ended: Vec<i64> = ledger.outcomes.iter().map(|o| o.0).collect();
    let entries: i64 = sqlx::query_as::<_, (i64,)>(
        "SELECT COUNT(*) FROM ledger_entries WHERE session_id = ANY($1)",
    )
    .bind(&ended)
    .fetch_one(pool)
    .await?
    .0;
    add(
        "every ended session wrote one ledger entry",
        entries == ended.len() as i64,
        format!("{} ended, {entries} entries", ended.len()),
    );
    let lost = ledger
        .transcripts
        .iter()
        .filter(|(s, t)| rows.get(s).is_none_or(|r| &r.3 != t))
        .count()
        + ledger
            .decisions
            .iter()
            .filter(|s| {
                rows.get(s)
                    .is_none_or(|r| r.4.as_deref() != Some("confirmed"))
            })
            .count()
        + ledger
            .ratings
            .iter()
            .filter(|(s, v)| {
                rows.get(s)
                    .is_none_or(|r| r.5.as_deref() != Some(v.as_str()))
            })
            .count();
    add(
        "every transcript, confirmation and rating answered 2xx is there",
        lost == 0,
        format!(
            "{} + {} + {} answered, {lost} missing",
            ledger.transcripts.len(),
            ledger.decisions.len(),
            ledger.ratings.len()
        ),
    );

    let (sent, delivered) = (
        run.signals_sent.load(Ordering::Relaxed),
        run.signals_delivered.load(Ordering::Relaxed),
    );
    add(
        "every signal sent was relayed",
        sent == delivered,
        format!("{sent} sent, {delivered} delivered"),
    );
    add(
        "every session was held to the end",
        ledger.held == run.world.held.len(),
        format!("{} of {}", ledger.held, run.world.held.len()),
    );
    Ok(checks)
}
