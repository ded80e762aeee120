//! Crash test: the real `courtlink serve` binary under a load of bookings, session notes,
//! transcripts and outcomes from a few concurrent tasks, SIGKILLed at random moments, 20 times.
//! After every restart, every write that was answered 2xx is there (checked in SQL and through
//! the API), and no two live bookings share a slot, a local room or a host room in overlapping
//! time. On SQLite and on PostgreSQL (`COURTLINK_REQUIRE_SERVICES=1` makes PostgreSQL required).
//!
//! Writes whose answer never came (the server died under them) are "unknown": a booking is
//! retried once with the same `Idempotency-Key` after the restart, and the figures say how those
//! retries ended.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DurationRound, Utc};
use courtlink::domain::{Role, SessionId};
use courtlink::store::{NewCase, NewUser, Pool, RoomKind, Store};
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const KILLS: usize = 20;
/// Concurrent booking tasks, each for a local court of its own.
const BOOKERS: usize = 3;
/// Half-hour slots in each of two host rooms, at the same times: a local room can then be
/// wanted twice for one window, so the local-room guard is exercised as well as the slot's.
const SLOTS_PER_ROOM: i64 = 200;
const CASES_PER_COURT: usize = 20;
/// One-minute slots starting now, for sessions that go live and end with an outcome.
const OUTCOME_SLOTS: i64 = 28;
/// How long the load runs before each kill: a random moment in this range.
const KILL_AFTER_MS: std::ops::Range<u64> = 400..2200;

/// Runs `sql` with `query_as::<_, $t>` on whichever pool the store holds.
macro_rules! fetch {
    ($store:expr, $t:ty, $sql:expr) => {
        match $store.pool() {
            Pool::Sqlite(p) => sqlx::query_as::<_, $t>($sql).fetch_all(p).await,
            Pool::Postgres(p) => sqlx::query_as::<_, $t>($sql).fetch_all(p).await,
        }
        .expect("query")
    };
}

/// A `courtlink serve` child process on a free port (also the recorder's crash test).
pub(crate) struct Server {
    child: std::process::Child,
    pub(crate) port: u16,
}

impl Server {
    fn start(database_url: &str, log: &Path) -> Server {
        Server::start_with(database_url, log, &[])
    }

    /// With more settings in the environment (`COURTLINK__…`).
    pub(crate) fn start_with(database_url: &str, log: &Path, env: &[(&str, String)]) -> Server {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("server log");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_courtlink"))
            .arg("--config-dir")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
            .arg("serve")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("COURTLINK_PROFILE")
            .env("COURTLINK__SERVER__PORT", "0")
            .env("COURTLINK__SERVER__WORKERS", "2")
            .env("COURTLINK__DATABASE__URL", database_url)
            .env("COURTLINK__DATABASE__MAX_CONNECTIONS", "8")
            // The test seeds once itself; the server only serves.
            .env("COURTLINK__DEMO__SEED", "false")
            .env("COURTLINK__LOG__FILTER", "warn")
            // Any time with media on both sides makes a reception held (the sockets below
            // report it); the product's minimum is 60 s.
            .env("COURTLINK__RECORDS__MIN_RECEPTION_SECONDS", "0")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("courtlink starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent {
                    if let Some(rest) = line.strip_prefix("CourtLink is serving on http://") {
                        let port = rest
                            .trim_end_matches('/')
                            .rsplit(':')
                            .next()
                            .and_then(|p| p.parse::<u16>().ok());
                        let _ = tx.send(port);
                        sent = true;
                    }
                }
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(port)) => port,
            other => {
                let _ = child.kill();
                let log = std::fs::read_to_string(log).unwrap_or_default();
                panic!(
                    "courtlink did not start ({other:?}); its log ends:\n{}",
                    tail(&log, 40)
                );
            }
        };
        Server { child, port }
    }

    pub(crate) fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: no drain, no flush, no goodbye.
    pub(crate) fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A local court of the test's: its coordinator, its room and its cases.
#[derive(Clone)]
struct LocalCourt {
    username: String,
    room: i64,
    cases: Vec<courtlink::domain::CaseId>,
}

struct World {
    /// The slots of the two booking rooms, same times in both.
    slots: Vec<i64>,
    bookers: Vec<LocalCourt>,
    outcome_court: LocalCourt,
    /// One-minute slots from now, in order, with their end.
    outcome_slots: Vec<(i64, chrono::DateTime<Utc>)>,
    host_officer: &'static str,
}

/// Whatever process-wide set-up the server does when it starts (such as installing the data key
/// that seals personal data), done in this process too, by building an application once on a
/// throwaway database with the same settings files: the test then writes its own rows straight
/// into the store, as the server would.
async fn server_setup_in_process(dir: &Path) {
    let mut settings = common::test_settings(format!("sqlite://{}/throwaway.db", dir.display()));
    settings.demo.seed = false;
    let app = courtlink::startup::Application::build(settings)
        .await
        .expect("the application builds in the test process");
    drop(app);
}

/// Migrations, the demo data, and the test's own courts, rooms, slots and cases, written
/// straight into the database before the first start.
async fn build_world(store: &Store) -> World {
    store.migrate().await.unwrap();
    courtlink::demo::seed(store, common::DEMO_PASSWORD)
        .await
        .unwrap();
    // 杭州市中级人民法院 hosts; the demo makes it approve at once, at any notice.
    let city = store
        .court_by_name("杭州市中级人民法院")
        .await
        .unwrap()
        .unwrap();
    let room_a = store
        .insert_room(RoomKind::Host, city, "崩溃测试接谈室甲")
        .await
        .unwrap();
    let room_b = store
        .insert_room(RoomKind::Host, city, "崩溃测试接谈室乙")
        .await
        .unwrap();
    let room_o = store
        .insert_room(RoomKind::Host, city, "崩溃测试结案室")
        .await
        .unwrap();
    let first = (Utc::now() + chrono::Duration::hours(2))
        .duration_trunc(chrono::Duration::hours(1))
        .unwrap();
    for i in 0..SLOTS_PER_ROOM {
        let starts = first + chrono::Duration::minutes(30 * i);
        for room in [room_a, room_b] {
            assert!(
                store
                    .ensure_slot(room, starts, starts + chrono::Duration::minutes(30))
                    .await
                    .unwrap()
            );
        }
    }
    let soon = (Utc::now() + chrono::Duration::minutes(1))
        .duration_trunc(chrono::Duration::minutes(1))
        .unwrap();
    for i in 0..OUTCOME_SLOTS {
        let starts = soon + chrono::Duration::minutes(i);
        assert!(
            store
                .ensure_slot(room_o, starts, starts + chrono::Duration::minutes(1))
                .await
                .unwrap()
        );
    }
    let ids =
        |room: i64| format!("SELECT id FROM slots WHERE host_room_id = {room} ORDER BY starts_at");
    let mut slots: Vec<i64> = fetch!(store, (i64,), &ids(room_a))
        .into_iter()
        .map(|(id,)| id)
        .collect();
    slots.extend(
        fetch!(store, (i64,), &ids(room_b))
            .into_iter()
            .map(|(id,)| id),
    );
    assert_eq!(slots.len(), usize::try_from(2 * SLOTS_PER_ROOM).unwrap());
    let outcome_slots = fetch!(store, (i64,), &ids(room_o))
        .into_iter()
        .enumerate()
        .map(|(i, (id,))| {
            let i = i64::try_from(i).unwrap();
            (id, soon + chrono::Duration::minutes(i + 1))
        })
        .collect();

    let hash = courtlink::auth::hash_password(common::DEMO_PASSWORD).unwrap();
    let mut courts = Vec::new();
    for c in 0..=BOOKERS {
        let court = store
            .insert_court(&format!("崩溃测试基层法院{c}"), "basic", Some(city))
            .await
            .unwrap();
        let room = store
            .insert_room(RoomKind::Local, court, "视频接访室")
            .await
            .unwrap();
        let username = format!("crash.coord{c}");
        store
            .insert_user(&NewUser {
                court_id: court,
                username: &username,
                display_name: "崩溃测试专干",
                role: Role::Coordinator,
                password_hash: &hash,
            })
            .await
            .unwrap();
        let mut cases = Vec::new();
        for k in 0..CASES_PER_COURT {
            let number = format!("(2026)崩{c}信访{k}号");
            let id_number = format!("33010{c}1980{k:08}");
            cases.push(
                store
                    .insert_case(&NewCase {
                        court_id: court,
                        case_number: &number,
                        petitioner_name: "测试某",
                        petitioner_id_number: &id_number,
                        subject: "崩溃测试",
                        status: courtlink::domain::CaseStatus::Registered,
                        tier: 3,
                        lead: None,
                        deadline: None,
                        escalation_risk: false,
                        petitioner_phone: "13800000000",
                        measures: None,
                        goal: None,
                        received_on: None,
                        accepted_on: None,
                    })
                    .await
                    .unwrap(),
            );
        }
        courts.push(LocalCourt {
            username,
            room,
            cases,
        });
    }
    let outcome_court = courts.pop().unwrap();
    World {
        slots,
        bookers: courts,
        outcome_court,
        outcome_slots,
        host_officer: "hz.officer",
    }
}

#[derive(Clone, Debug)]
struct Booked {
    id: i64,
    session_id: i64,
    slot_id: i64,
    case_id: i64,
    local_room_id: i64,
    court: usize,
    round: usize,
}

#[derive(Clone, Debug)]
struct Note {
    event_id: i64,
    session_id: i64,
    text: String,
    round: usize,
}

/// A booking request whose answer never came: retried once, with the same key, after the restart.
#[derive(Clone)]
struct Unanswered {
    key: String,
    body: Value,
}

#[derive(Default, Clone)]
struct Ledger {
    bookings: Vec<Booked>,
    notes: Vec<Note>,
    /// Session → (highest transcript number answered 200, highest number sent).
    transcripts: HashMap<i64, (u64, u64)>,
    /// (session, outcome, round).
    outcomes: Vec<(i64, String, usize)>,
    unanswered: Vec<Vec<Unanswered>>,
    /// Bodies of unanswered bookings whose retry got no answer either, or 409 `idempotency_in_flight`.
    unresolved: Vec<Value>,
    /// Per booking task, how its last request ended (`201`, `409 slot_taken`, `no answer`).
    last_booking_answer: Vec<String>,
    /// Answers by kind and status/code, for the figures.
    answers: BTreeMap<String, u64>,
    /// Any 500 (or other unexpected answer) is a failure, kept here with its body.
    bad: Vec<String>,
}

impl Ledger {
    fn count(&mut self, what: &str) {
        *self.answers.entry(what.to_owned()).or_default() += 1;
    }
}

struct Ctx {
    client: reqwest::Client,
    base: String,
    port: u16,
    stop: AtomicBool,
    gone: AtomicBool,
    round: usize,
    world: Arc<World>,
    tokens: HashMap<String, String>,
    ledger: Arc<Mutex<Ledger>>,
    seq: Arc<AtomicU64>,
    /// The test's own connection, to start the sessions whose transcripts it writes.
    store: Store,
}

impl Ctx {
    fn token(&self, user: &str) -> &str {
        &self.tokens[user]
    }

    /// The round is over: the test said so, or a connection was refused (the server is dead).
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.gone.load(Ordering::Relaxed)
    }
}

/// The status, the `code` of an error body, and the body.
async fn answer(res: reqwest::Response) -> (u16, String, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    let code = body["code"].as_str().unwrap_or_default().to_owned();
    (status, code, body)
}

/// A refusal the booking rules may give under contention; anything else that is not 2xx is bad.
fn expected_refusal(status: u16, code: &str) -> bool {
    matches!(
        (status, code),
        (
            409,
            "slot_taken"
                | "local_room_busy"
                | "host_room_busy"
                | "idempotency_in_flight"
                | "slot_past"
                | "session_ended"
                | "session_not_held"
        ) | (503, "store_unavailable")
            // The load picks cases at random: a case that already holds a live booking with the
            // host court is refused by the one-live-booking rule (issue 14), on every path.
            | (422, "ineligible")
    )
}

async fn post_booking(ctx: &Ctx, court: usize, user: &str, u: &Unanswered) -> Option<Booked> {
    let res = ctx
        .client
        .post(format!("{}/api/v1/bookings", ctx.base))
        .bearer_auth(ctx.token(user))
        .header("Idempotency-Key", &u.key)
        .json(&u.body)
        .send()
        .await;
    let res = match res {
        Ok(r) => r,
        // Refused: the server is already dead and the request never reached it.
        Err(e) if e.is_connect() => {
            ctx.gone.store(true, Ordering::Relaxed);
            return None;
        }
        Err(_) => {
            let mut l = ctx.ledger.lock().unwrap();
            l.count("booking: no answer");
            l.last_booking_answer[court] = "no answer".into();
            l.unanswered[court].push(u.clone());
            return None;
        }
    };
    let replayed = res.headers().contains_key("Idempotent-Replayed");
    let (status, code, body) = answer(res).await;
    let mut l = ctx.ledger.lock().unwrap();
    l.last_booking_answer[court] = format!("{status} {code}");
    if status == 201 {
        l.count(if replayed {
            "booking: 201 (replayed)"
        } else {
            "booking: 201"
        });
        let b = Booked {
            id: body["id"].as_i64().unwrap(),
            session_id: body["session_id"].as_i64().unwrap(),
            slot_id: body["slot_id"].as_i64().unwrap(),
            case_id: body["case_id"].as_i64().unwrap(),
            local_room_id: body["local_room_id"].as_i64().unwrap(),
            court,
            round: ctx.round,
        };
        assert_eq!(
            b.slot_id, u.body["slot_id"],
            "the booking is of the slot asked for"
        );
        l.bookings.push(b.clone());
        return Some(b);
    }
    l.count(&format!("booking: {status} {code}"));
    if !expected_refusal(status, &code) {
        l.bad.push(format!("POST /bookings: {status} {body}"));
    }
    None
}

/// Books random slots for local court `court`, as fast as answers come.
async fn booker(ctx: Arc<Ctx>, court: usize) {
    let lc = ctx.world.bookers[court].clone();
    let user = lc.username.clone();
    // First the requests of the last round that got no answer, once each, with the same key.
    let retries = std::mem::take(&mut ctx.ledger.lock().unwrap().unanswered[court]);
    for u in retries {
        if ctx.stopped() {
            // Not sent: keep it for the next round.
            ctx.ledger.lock().unwrap().unanswered[court].push(u);
            continue;
        }
        let before = ctx.ledger.lock().unwrap().bookings.len();
        ctx.ledger.lock().unwrap().last_booking_answer[court] = "refused".into();
        post_booking(&ctx, court, &user, &u).await;
        let mut l = ctx.ledger.lock().unwrap();
        let last = l.last_booking_answer[court].clone();
        if l.bookings.len() > before {
            l.count("unanswered booking retried: now 201");
        } else if last == "refused" {
            // The server was gone before the retry reached it: keep it for the next round.
            l.unanswered[court].push(u);
        } else if last == "409 idempotency_in_flight" || last == "no answer" {
            // Once is enough: a retry without an answer again is let go, and counted.
            l.unanswered[court].retain(|x| x.key != u.key);
            l.unresolved.push(u.body.clone());
        }
    }
    while !ctx.stopped() {
        let n = ctx.seq.fetch_add(1, Ordering::Relaxed);
        let (slot, case) = {
            let mut rng = rand::thread_rng();
            (
                ctx.world.slots[rng.gen_range(0..ctx.world.slots.len())],
                lc.cases[rng.gen_range(0..lc.cases.len())],
            )
        };
        let u = Unanswered {
            key: format!("crash-{court}-{n}"),
            body: json!({"slot_id": slot, "case_id": case, "local_room_id": lc.room}),
        };
        post_booking(&ctx, court, &user, &u).await;
    }
}

/// Writes notes on the sessions of acknowledged bookings.
async fn noter(ctx: Arc<Ctx>) {
    let officer = ctx.world.host_officer;
    while !ctx.stopped() {
        let session = {
            let l = ctx.ledger.lock().unwrap();
            if l.bookings.is_empty() {
                None
            } else {
                let i = rand::thread_rng().gen_range(0..l.bookings.len());
                Some(l.bookings[i].session_id)
            }
        };
        let Some(session) = session else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let n = ctx.seq.fetch_add(1, Ordering::Relaxed);
        let text = format!("崩溃测试备注 {n}");
        let res = ctx
            .client
            .post(format!("{}/api/v1/sessions/{session}/notes", ctx.base))
            .bearer_auth(ctx.token(officer))
            .json(&json!({ "text": text }))
            .send()
            .await;
        let res = match res {
            Ok(res) => res,
            Err(e) if e.is_connect() => return,
            Err(_) => {
                ctx.ledger.lock().unwrap().count("note: no answer");
                continue;
            }
        };
        let (status, code, body) = answer(res).await;
        let mut l = ctx.ledger.lock().unwrap();
        if status == 201 {
            l.count("note: 201");
            assert_eq!(body["data"]["text"], text.as_str());
            l.notes.push(Note {
                event_id: body["id"].as_i64().unwrap(),
                session_id: session,
                text,
                round: ctx.round,
            });
        } else {
            l.count(&format!("note: {status} {code}"));
            if !expected_refusal(status, &code) {
                l.bad.push(format!("POST notes: {status} {body}"));
            }
        }
    }
}

/// Rewrites the transcripts of acknowledged bookings' sessions: `笔录 <n>`, n always growing.
async fn transcriber(ctx: Arc<Ctx>) {
    let officer = ctx.world.host_officer;
    while !ctx.stopped() {
        let session = {
            let l = ctx.ledger.lock().unwrap();
            // A few sessions of the booking rooms (they never end), written over and over.
            let few: Vec<i64> = l
                .bookings
                .iter()
                .filter(|b| b.court < BOOKERS)
                .take(8)
                .map(|b| b.session_id)
                .collect();
            (!few.is_empty()).then(|| few[rand::thread_rng().gen_range(0..few.len())])
        };
        let Some(session) = session else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let n = ctx.seq.fetch_add(1, Ordering::Relaxed);
        ctx.ledger
            .lock()
            .unwrap()
            .transcripts
            .entry(session)
            .or_default()
            .1 = n;
        let res = ctx
            .client
            .put(format!("{}/api/v1/sessions/{session}/transcript", ctx.base))
            .bearer_auth(ctx.token(officer))
            .json(&json!({ "text": format!("笔录 {n}") }))
            .send()
            .await;
        let res = match res {
            Ok(res) => res,
            Err(e) if e.is_connect() => return,
            Err(_) => {
                ctx.ledger.lock().unwrap().count("transcript: no answer");
                continue;
            }
        };
        let (status, code, body) = answer(res).await;
        let not_started = {
            let mut l = ctx.ledger.lock().unwrap();
            if status == 200 {
                l.count("transcript: 200");
            } else {
                l.count(&format!("transcript: {status} {code}"));
            }
            if status == 200 {
                let e = l.transcripts.entry(session).or_default();
                e.0 = e.0.max(n);
            } else if (status, code.as_str()) != (409, "session_not_started")
                && !expected_refusal(status, &code)
            {
                l.bad.push(format!("PUT transcript: {status} {body}"));
            }
            (status, code.as_str()) == (409, "session_not_started")
        };
        if not_started {
            // A transcript is written only once the petitioner has been let in (issue 15 item
            // 10): let the petitioner in on the timeline, as the hub records it, and write again.
            let joined = json!({"role": "petitioner", "name": "信访人", "state": "admitted"});
            let _ = ctx
                .store
                .add_event(
                    SessionId(session),
                    courtlink::domain::EventKind::Joined,
                    "petitioner",
                    &joined,
                    courtlink::app::session::transition,
                )
                .await;
        }
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_open(ctx: &Ctx, session: i64, token: &str) -> Option<Ws> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!(
        "ws://127.0.0.1:{}/api/v1/sessions/{session}/signal",
        ctx.port
    )
    .into_client_request()
    .ok()?;
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        format!("courtlink.v1, auth.{token}").parse().ok()?,
    );
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(3),
        tokio_tungstenite::connect_async(req),
    )
    .await
    .ok()?
    .ok()?;
    Some(ws)
}

/// The next message of type `kind` within `within`, or None (timeout, or the socket went away).
async fn ws_next_of(ws: &mut Ws, kind: &str, within: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .ok()??
            .ok()?;
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str()).ok()?;
            if v["type"] == kind {
                return Some(v);
            }
        }
    }
}

/// Whether the session has ended, as its host officer reads it (false when nobody answers).
async fn ended(ctx: &Ctx, session: i64, officer: &str) -> bool {
    let Ok(res) = ctx
        .client
        .get(format!("{}/api/v1/sessions/{session}", ctx.base))
        .bearer_auth(ctx.token(officer))
        .send()
        .await
    else {
        return false;
    };
    let (status, _, body) = answer(res).await;
    status == 200 && body["status"] == "ended"
}

/// A session of the outcome room, booked and answered 201, not yet ended.
struct Open {
    session: i64,
    join_code: String,
}

/// Books a one-minute slot that starts about now, brings host and petitioner into a live call
/// over the signalling socket, and ends the session with an outcome; over and over.
async fn ender(ctx: Arc<Ctx>, open: Arc<Mutex<Option<Open>>>, next_slot: Arc<AtomicU64>) {
    let lc = ctx.world.outcome_court.clone();
    let officer = ctx.world.host_officer;
    while !ctx.stopped() {
        let current = open
            .lock()
            .unwrap()
            .as_ref()
            .map(|o| (o.session, o.join_code.clone()));
        let Some((session, join_code)) = current else {
            // Book the next slot that is not over yet.
            let k = usize::try_from(next_slot.load(Ordering::Relaxed)).unwrap();
            let Some(&(slot, ends)) = ctx.world.outcome_slots.get(k) else {
                return; // No slot left: enough outcomes for one run.
            };
            if ends < Utc::now() + chrono::Duration::seconds(20) {
                next_slot.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let case = lc.cases[k % lc.cases.len()];
            let res = ctx
                .client
                .post(format!("{}/api/v1/bookings", ctx.base))
                .bearer_auth(ctx.token(&lc.username))
                .header("Idempotency-Key", format!("crash-outcome-{k}"))
                .json(&json!({"slot_id": slot, "case_id": case, "local_room_id": lc.room}))
                .send()
                .await;
            let res = match res {
                Ok(res) => res,
                Err(e) if e.is_connect() => return,
                Err(_) => {
                    // Maybe booked, maybe not: the retry with the same key says which.
                    ctx.ledger
                        .lock()
                        .unwrap()
                        .count("outcome booking: no answer");
                    continue;
                }
            };
            let (status, code, body) = answer(res).await;
            let mut l = ctx.ledger.lock().unwrap();
            if status == 201 {
                l.count("outcome booking: 201");
                let b = Booked {
                    id: body["id"].as_i64().unwrap(),
                    session_id: body["session_id"].as_i64().unwrap(),
                    slot_id: slot,
                    case_id: case.get(),
                    local_room_id: lc.room,
                    court: BOOKERS,
                    round: ctx.round,
                };
                *open.lock().unwrap() = Some(Open {
                    session: b.session_id,
                    join_code: body["join_code"].as_str().unwrap().to_owned(),
                });
                l.bookings.push(b);
            } else {
                l.count(&format!("outcome booking: {status} {code}"));
                if !expected_refusal(status, &code) {
                    l.bad
                        .push(format!("POST /bookings (outcome): {status} {body}"));
                }
                if status == 409 {
                    // Taken by our own unanswered attempt whose key is still in flight: move on.
                    next_slot.fetch_add(1, Ordering::Relaxed);
                }
            }
            continue;
        };
        // The petitioner joins by code, the host admits them, the host ends with an outcome.
        let Ok(res) = ctx
            .client
            .post(format!("{}/api/v1/auth/join", ctx.base))
            .json(&json!({ "code": join_code }))
            .send()
            .await
        else {
            // Dead server or not, the round's stop flag ends this loop; don't spin meanwhile.
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let (status, _, joined) = answer(res).await;
        if status != 200 {
            ctx.ledger
                .lock()
                .unwrap()
                .count(&format!("outcome join: {status}"));
            // An end whose answer a kill took may have ended the session, and then its code
            // admits nobody (401): move on to the next slot, or this loop asks until the run
            // is over (it did, in CI: 120 refused joins, no outcome acknowledged).
            if status == 401 && ended(&ctx, session, officer).await {
                ctx.ledger
                    .lock()
                    .unwrap()
                    .count("outcome: ended by an unanswered end");
                *open.lock().unwrap() = None;
                next_slot.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let petitioner_token = joined["token"].as_str().unwrap_or_default().to_owned();
        let Some(mut host) = ws_open(&ctx, session, ctx.token(officer)).await else {
            continue;
        };
        if ws_next_of(&mut host, "welcome", Duration::from_secs(3))
            .await
            .is_none()
        {
            continue;
        }
        let Some(mut petitioner) = ws_open(&ctx, session, &petitioner_token).await else {
            continue;
        };
        if ws_next_of(&mut host, "waiting", Duration::from_secs(3))
            .await
            .is_some()
        {
            let admit = json!({"type": "admit", "participant": "petitioner"}).to_string();
            if host.send(Message::text(admit)).await.is_err() {
                continue;
            }
            if ws_next_of(&mut petitioner, "admitted", Duration::from_secs(3))
                .await
                .is_none()
            {
                continue;
            }
        }
        // Media flows both ways, as the web client reports it (a session is held only then).
        let report =
            json!({"type": "quality", "rtt_ms": 30.0, "packet_loss": 0.0, "bitrate_kbps": 850.0})
                .to_string();
        if petitioner
            .send(Message::text(report.clone()))
            .await
            .is_err()
            || host.send(Message::text(report)).await.is_err()
        {
            continue;
        }
        let outcome = ["explained_law", "assign", "withdrawn", "supervise"]
            [usize::try_from(session).unwrap() % 4];
        let mut tries = 0;
        loop {
            tries += 1;
            let Ok(res) = ctx
                .client
                .post(format!("{}/api/v1/sessions/{session}/end", ctx.base))
                .bearer_auth(ctx.token(officer))
                .json(&json!({ "outcome": outcome, "note": format!("崩溃测试结案 {session}") }))
                .send()
                .await
            else {
                ctx.ledger.lock().unwrap().count("end: no answer");
                break;
            };
            let (status, code, body) = answer(res).await;
            let again = {
                let mut l = ctx.ledger.lock().unwrap();
                l.count(&format!("end: {status} {code}"));
                match (status, code.as_str()) {
                    (200, _) => {
                        l.outcomes.push((session, outcome.to_owned(), ctx.round));
                        *open.lock().unwrap() = None;
                        next_slot.fetch_add(1, Ordering::Relaxed);
                        false
                    }
                    // Ended by an earlier request whose answer was lost to a kill.
                    (409, "session_ended") => {
                        *open.lock().unwrap() = None;
                        next_slot.fetch_add(1, Ordering::Relaxed);
                        false
                    }
                    // The admission or the media reports may not be recorded yet, or the reports
                    // fell in the admission's own second (the timeline keeps whole seconds) and
                    // vouch for nothing: report again and try again shortly.
                    (409, "session_not_held" | "reception_not_held") => tries < 40,
                    _ if expected_refusal(status, &code) => false,
                    _ => {
                        l.bad.push(format!("POST end: {status} {body}"));
                        false
                    }
                }
            };
            if !again {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let report = json!({"type": "quality", "rtt_ms": 30.0, "packet_loss": 0.0, "bitrate_kbps": 850.0})
                .to_string();
            let _ = petitioner.send(Message::text(report.clone())).await;
            let _ = host.send(Message::text(report)).await;
        }
        let _ = host.close(None).await;
        let _ = petitioner.close(None).await;
    }
}

/// Every acknowledged write is in the database, and no booking overlaps another.
async fn check_in_sql(store: &Store, ledger: &Ledger) -> usize {
    let rows = fetch!(
        store,
        (i64, i64, i64, i64, i64, String),
        "SELECT b.id, s.id, b.slot_id, b.case_id, b.local_room_id, b.status \
         FROM bookings b JOIN sessions s ON s.booking_id = b.id"
    );
    let by_id: HashMap<i64, (i64, i64, i64, i64, String)> = rows
        .into_iter()
        .map(|(id, s, slot, case, room, status)| (id, (s, slot, case, room, status)))
        .collect();
    for b in &ledger.bookings {
        let row = by_id
            .get(&b.id)
            .unwrap_or_else(|| panic!("booking {b:?} was answered 201 and is gone"));
        assert_eq!(
            (row.0, row.1, row.2, row.3),
            (b.session_id, b.slot_id, b.case_id, b.local_room_id),
            "booking {} as answered",
            b.id
        );
        assert_ne!(row.4, "cancelled", "booking {} is live", b.id);
    }
    let per_slot = fetch!(
        store,
        (i64,),
        "SELECT COUNT(*) FROM (SELECT slot_id FROM bookings WHERE status <> 'cancelled' \
         GROUP BY slot_id HAVING COUNT(*) > 1) x"
    );
    assert_eq!(per_slot[0].0, 0, "a slot with two live bookings");
    for column in ["local_room_id", "host_room_id"] {
        let overlaps = fetch!(
            store,
            (i64,),
            &format!(
                "SELECT COUNT(*) FROM bookings a JOIN bookings b ON a.{column} = b.{column} AND a.id < b.id \
                 WHERE a.status <> 'cancelled' AND b.status <> 'cancelled' \
                 AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
            )
        );
        assert_eq!(
            overlaps[0].0, 0,
            "overlapping live bookings of one {column}"
        );
    }

    let notes: HashMap<i64, (i64, String)> = fetch!(
        store,
        (i64, i64, String),
        "SELECT id, session_id, data FROM session_events WHERE kind = 'note'"
    )
    .into_iter()
    .map(|(id, s, data)| (id, (s, data)))
    .collect();
    for n in &ledger.notes {
        let (session, data) = notes
            .get(&n.event_id)
            .unwrap_or_else(|| panic!("note {n:?} was answered 201 and is gone"));
        let data: Value = serde_json::from_str(data).unwrap();
        assert_eq!(
            (*session, data["text"].as_str()),
            (n.session_id, Some(n.text.as_str())),
            "note {} as answered",
            n.event_id
        );
    }

    let sessions: HashMap<i64, (String, String, Option<String>)> = fetch!(
        store,
        (i64, String, String, Option<String>),
        "SELECT id, transcript, status, outcome FROM sessions"
    )
    .into_iter()
    .map(|(id, t, status, outcome)| (id, (t, status, outcome)))
    .collect();
    for (session, (acked, sent)) in &ledger.transcripts {
        if *acked == 0 {
            continue;
        }
        let text = &sessions[session].0;
        let n: u64 = text
            .strip_prefix("笔录 ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("session {session}: transcript {text:?} is not ours"));
        assert!(
            n >= *acked && n <= *sent,
            "session {session}: the transcript is 笔录 {n}, but 笔录 {acked} was answered 200 (and nothing after {sent} was sent)"
        );
    }
    for (session, outcome, _) in &ledger.outcomes {
        let (_, status, stored) = &sessions[session];
        assert_eq!(
            (status.as_str(), stored.as_deref()),
            ("ended", Some(outcome.as_str())),
            "session {session} ended with an outcome answered 200"
        );
    }
    ledger.bookings.len() + ledger.notes.len() + ledger.outcomes.len()
}

/// The writes of the round before the kill, read back through the restarted server's API.
async fn check_through_api(
    client: &reqwest::Client,
    base: &str,
    tokens: &HashMap<String, String>,
    world: &World,
    ledger: &Ledger,
    round: usize,
) -> usize {
    let mut checked = 0;
    for b in ledger.bookings.iter().filter(|b| b.round == round) {
        let user = if b.court == BOOKERS {
            &world.outcome_court.username
        } else {
            &world.bookers[b.court].username
        };
        let res = client
            .get(format!("{base}/api/v1/bookings/{}", b.id))
            .bearer_auth(&tokens[user])
            .send()
            .await
            .unwrap();
        let (status, _, body) = answer(res).await;
        assert_eq!(status, 200, "GET booking {}: {body}", b.id);
        assert_eq!(
            (&body["session_id"], &body["slot_id"]),
            (&json!(b.session_id), &json!(b.slot_id))
        );
        checked += 1;
    }
    let mut sessions: Vec<i64> = ledger
        .notes
        .iter()
        .filter(|n| n.round == round)
        .map(|n| n.session_id)
        .chain(ledger.outcomes.iter().filter(|o| o.2 == round).map(|o| o.0))
        .collect();
    sessions.sort_unstable();
    sessions.dedup();
    for session in sessions {
        let res = client
            .get(format!("{base}/api/v1/sessions/{session}"))
            .bearer_auth(&tokens[world.host_officer])
            .send()
            .await
            .unwrap();
        let (status, _, body) = answer(res).await;
        assert_eq!(status, 200, "GET session {session}: {body}");
        let events = body["events"].as_array().unwrap();
        for n in ledger
            .notes
            .iter()
            .filter(|n| n.round == round && n.session_id == session)
        {
            assert!(
                events
                    .iter()
                    .any(|e| e["id"] == n.event_id && e["data"]["text"] == n.text.as_str()),
                "note {} on session {session} through the API",
                n.event_id
            );
            checked += 1;
        }
        if let Some((_, outcome, _)) = ledger.outcomes.iter().find(|o| o.0 == session) {
            assert_eq!(
                (&body["status"], &body["outcome"]),
                (&json!("ended"), &json!(outcome))
            );
            checked += 1;
        }
    }
    checked
}

async fn login(client: &reqwest::Client, base: &str, user: &str) -> String {
    let res = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": user, "password": common::DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    let (status, _, body) = answer(res).await;
    assert_eq!(status, 200, "login {user}: {body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn crash_run(database_url: &str, label: &str) {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    server_setup_in_process(dir.path()).await;
    let store = Store::connect(database_url, 2).await.unwrap();
    let world = Arc::new(build_world(&store).await);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let mut server = Server::start(database_url, &log);
    let mut tokens = HashMap::new();
    for user in world.bookers.iter().map(|c| c.username.clone()).chain([
        world.outcome_court.username.clone(),
        world.host_officer.to_owned(),
    ]) {
        let token = login(&client, &server.base(), &user).await;
        tokens.insert(user, token);
    }
    let ledger = Arc::new(Mutex::new(Ledger {
        unanswered: vec![Vec::new(); BOOKERS],
        last_booking_answer: vec![String::new(); BOOKERS],
        ..Ledger::default()
    }));
    let seq = Arc::new(AtomicU64::new(1));
    let open = Arc::new(Mutex::new(None));
    let next_slot = Arc::new(AtomicU64::new(0));
    let (mut restarts, mut api_checked, mut load_time) = (0, 0, Duration::ZERO);

    for round in 0..KILLS {
        let ctx = Arc::new(Ctx {
            client: client.clone(),
            base: server.base(),
            port: server.port,
            stop: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            round,
            world: world.clone(),
            tokens: tokens.clone(),
            ledger: ledger.clone(),
            seq: seq.clone(),
            store: store.clone(),
        });
        let mut tasks = Vec::new();
        for court in 0..BOOKERS {
            tasks.push(tokio::spawn(booker(ctx.clone(), court)));
        }
        tasks.push(tokio::spawn(noter(ctx.clone())));
        tasks.push(tokio::spawn(transcriber(ctx.clone())));
        tasks.push(tokio::spawn(ender(
            ctx.clone(),
            open.clone(),
            next_slot.clone(),
        )));

        // Kill at a random moment, with requests in flight.
        let after = Duration::from_millis(rand::thread_rng().gen_range(KILL_AFTER_MS));
        tokio::time::sleep(after).await;
        load_time += after;
        server.kill();
        ctx.stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.expect("a load task panicked");
        }

        server = Server::start(database_url, &log);
        restarts += 1;
        let l = ledger.lock().unwrap().clone();
        assert!(
            l.bad.is_empty(),
            "unexpected answers (round {round}): {:#?}\nserver log:\n{}",
            l.bad,
            tail(&std::fs::read_to_string(&log).unwrap_or_default(), 40)
        );
        check_in_sql(&store, &l).await;
        api_checked += check_through_api(&client, &server.base(), &tokens, &world, &l, round).await;
    }
    drop(server);

    let l = ledger.lock().unwrap().clone();
    let acknowledged = check_in_sql(&store, &l).await;
    let transcripts: u64 = l
        .answers
        .get("transcript: 200")
        .copied()
        .unwrap_or_default();
    eprintln!(
        "\ncrash test ({label}): {KILLS} SIGKILLs, {restarts} restarts, {:.1} s of load, {:.1} s in all",
        load_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    eprintln!(
        "  writes acknowledged: {} bookings, {} notes, {transcripts} transcript writes ({} sessions), {} outcomes — all {} found after every restart ({api_checked} re-read through the API)",
        l.bookings.len(),
        l.notes.len(),
        l.transcripts.values().filter(|t| t.0 > 0).count(),
        l.outcomes.len(),
        acknowledged + usize::try_from(transcripts).unwrap()
    );
    // What became of the bookings that never got an answer, even on a retry with the same key:
    // committed (the key was left in flight: its retries answer 409 for a while) or not.
    let live: std::collections::HashSet<(i64, i64)> = fetch!(
        &store,
        (i64, i64),
        "SELECT slot_id, case_id FROM bookings WHERE status <> 'cancelled'"
    )
    .into_iter()
    .collect();
    let committed = l
        .unresolved
        .iter()
        .filter(|b| {
            live.contains(&(
                b["slot_id"].as_i64().unwrap(),
                b["case_id"].as_i64().unwrap(),
            ))
        })
        .count();
    eprintln!(
        "  unanswered bookings still unanswered after a retry with their key: {} ({committed} of them committed)",
        l.unresolved.len()
    );
    eprintln!("  answers:");
    for (what, n) in &l.answers {
        eprintln!("    {what:<45} {n}");
    }
    let booked = l.bookings.len();
    assert!(
        booked >= KILLS,
        "the load books something ({booked} bookings acknowledged)"
    );
    assert!(!l.notes.is_empty(), "notes were acknowledged");
    assert!(transcripts > 0, "transcript writes were acknowledged");
    assert!(
        !l.outcomes.is_empty(),
        "sessions went live and ended with an outcome"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/courtlink.db", dir.path().display());
    crash_run(&url, "SQLite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_postgres() {
    let Some(db) = common::ScratchPg::create().await else {
        return;
    };
    crash_run(&db.url, "PostgreSQL").await;
}
