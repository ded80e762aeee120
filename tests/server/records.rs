//! What higher courts see: session logs and statistics over the court hierarchy, for every role,
//! on SQLite and PostgreSQL, with bad input at every door.
//!
//! The fixture books three sessions through the API with the demo courts — A: 西湖 with the SPC,
//! held and rated satisfied; B: 上城 with 浙江高院, interrupted, resumed, held and rated
//! dissatisfied; C: 西湖 with 杭州中院, a no-show — and moves them through the store's own
//! lifecycle calls, ending held sessions with the store's own `end_session` (which writes the
//! ledger). The slots are in the future, so the officer's `end` request would refuse them (no
//! reception can be held outside a session's window): the rule for ending is tested in
//! `lifecycle.rs`, and these tests count what ended sessions leave. Tests that need another
//! province, or many sessions, add generated data.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, Utc};
use common::{TestApp, assert_error};
use courtlink::app::session::transition;
use courtlink::domain::{Channel, CourtLevel, Outcome, Satisfaction, SessionId};
use courtlink::store::recording::{ClosedPart, NewPart};
use courtlink::store::records::{Counts, StatsRow, Under};
use courtlink::store::{EndSession, NewCase, Pool, Store};
use courtlink_tools::generate::{GenerateArgs, Summary};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

// --- helpers -------------------------------------------------------------------------------------

async fn store_of(app: &TestApp) -> Store {
    Store::connect(app.settings.database.url.expose_secret(), 2)
        .await
        .unwrap()
}

async fn exec(store: &Store, sql: &str) {
    match store.pool() {
        Pool::Sqlite(p) => {
            sqlx::query(sql).execute(p).await.unwrap();
        }
        Pool::Postgres(p) => {
            sqlx::query(sql).execute(p).await.unwrap();
        }
    }
}

async fn int(store: &Store, sql: &str) -> i64 {
    let (n,): (i64,) = match store.pool() {
        Pool::Sqlite(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
        Pool::Postgres(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
    };
    n
}

async fn court_id(store: &Store, name: &str) -> i64 {
    int(
        store,
        &format!("SELECT id FROM courts WHERE name = '{name}'"),
    )
    .await
}

fn today() -> chrono::NaiveDate {
    Utc::now()
        .with_timezone(&courtlink::app::clock::beijing())
        .date_naive()
}

/// The demo courts by role in the hierarchy.
struct Courts {
    spc: i64,
    zj: i64,
    hz: i64,
    xihu: i64,
    shangcheng: i64,
}

struct Fixture {
    courts: Courts,
    /// 西湖 with the SPC: held, satisfied.
    a: i64,
    /// 上城 with 浙江高院: interrupted, resumed, held, dissatisfied.
    b: i64,
    /// 西湖 with 杭州中院: no-show.
    c: i64,
}

/// A coordinator books the first future slot of a court of `level` for one of its cases.
async fn book(app: &TestApp, coordinator: &str, level: &str, case: usize, room: usize) -> i64 {
    let token = app.login(coordinator).await;
    let cases = app.get_ok("/api/v1/cases", &token).await;
    let rooms = app.get_ok("/api/v1/local-rooms", &token).await;
    let soon = Utc::now() + Duration::minutes(2);
    let slots = app.get_ok("/api/v1/slots", &token).await;
    let slot = slots
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["court"]["level"] == level
                && s["starts_at"]
                    .as_str()
                    .unwrap()
                    .parse::<DateTime<Utc>>()
                    .unwrap()
                    > soon
        })
        .expect("a future slot")
        .clone();
    let res = app
        .post(
            "/api/v1/bookings",
            Some(&token),
            &json!({"slot_id": slot["id"], "case_id": cases[case]["id"], "local_room_id": rooms[room]["id"]}),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["session_id"].as_i64().unwrap()
}

/// The officer is in and has admitted the petitioner: the session is live.
async fn go_live(store: &Store, session: i64) {
    store
        .add_event(
            SessionId(session),
            courtlink::domain::EventKind::Joined,
            "user-1",
            &json!({"role": "host", "name": "officer", "state": "admitted"}),
            transition,
        )
        .await
        .unwrap();
    store
        .add_event(
            SessionId(session),
            courtlink::domain::EventKind::Joined,
            "petitioner",
            &json!({"role": "petitioner", "name": "信访人", "state": "waiting"}),
            transition,
        )
        .await
        .unwrap();
    store
        .add_event(
            SessionId(session),
            courtlink::domain::EventKind::Admitted,
            "user-1",
            &json!({"participant": "petitioner"}),
            transition,
        )
        .await
        .unwrap();
}

/// Ends a session as the officer's `end` does once a reception was held (10 minutes of it).
async fn end(store: &Store, officer: &str, session: i64, outcome: &str) {
    let s = store.session(SessionId(session)).await.unwrap();
    let outcome: Outcome = outcome.parse().unwrap();
    let level: CourtLevel = s.host_court_level;
    store
        .end_session(&EndSession {
            session_id: s.id,
            booking_id: s.booking_id,
            case_id: s.case_id,
            outcome,
            note: "记录在案",
            channel: Channel::video_with(level).unwrap(),
            ledger_note: &format!("{} {} — {outcome}", s.host_court_name, s.host_room_name),
            actor: officer,
            actor_name: officer,
            follow_up_deadline: None,
            follow_up_person: None,
            connected_seconds: 600,
        })
        .await
        .unwrap();
}

async fn fixture(app: &TestApp) -> Fixture {
    let store = store_of(app).await;
    let courts = Courts {
        spc: court_id(&store, "最高人民法院").await,
        zj: court_id(&store, "浙江省高级人民法院").await,
        hz: court_id(&store, "杭州市中级人民法院").await,
        xihu: court_id(&store, "杭州市西湖区人民法院").await,
        shangcheng: court_id(&store, "杭州市上城区人民法院").await,
    };
    let a = book(app, "xihu.coord", "supreme", 0, 0).await;
    let b = book(app, "shangcheng.coord", "high", 0, 0).await;
    let c = book(app, "xihu.coord", "intermediate", 1, 1).await;

    go_live(&store, a).await;
    // The SPC's officer saw A's petitioner's identity card on camera; nobody confirmed B's.
    let spc_officer = app.login("spc.officer").await;
    let res = app
        .post(
            &format!("/api/v1/sessions/{a}/identity"),
            Some(&spc_officer),
            &json!({"how": "on_camera"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    end(&store, "spc.officer", a, "explained_law").await;
    store
        .rate(SessionId(a), Satisfaction::Satisfied)
        .await
        .unwrap();

    go_live(&store, b).await;
    store
        .add_event(
            SessionId(b),
            courtlink::domain::EventKind::Interrupted,
            "system",
            &json!({}),
            transition,
        )
        .await
        .unwrap();
    // Whole seconds are stored: let one pass so the gap is on the record.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    store
        .add_event(
            SessionId(b),
            courtlink::domain::EventKind::Resumed,
            "petitioner",
            &json!({}),
            transition,
        )
        .await
        .unwrap();
    end(&store, "zj.officer", b, "withdrawn").await;
    store
        .rate(SessionId(b), Satisfaction::Dissatisfied)
        .await
        .unwrap();

    store
        .add_event(
            SessionId(c),
            courtlink::domain::EventKind::NoShow,
            "system",
            &json!({}),
            transition,
        )
        .await
        .unwrap();
    store.close().await;
    Fixture { courts, a, b, c }
}

async fn generate(app: &TestApp, sessions: i64, courts: i64) -> Summary {
    let store = store_of(app).await;
    let summary = courtlink_tools::generate::run(
        &store,
        &GenerateArgs {
            sessions,
            events: sessions * 4,
            courts,
            months: 2,
            seed: 5,
        },
        common::DEMO_PASSWORD,
    )
    .await
    .unwrap();
    store.close().await;
    summary
}

/// Every session id of a log, walking the pages.
async fn walk(app: &TestApp, token: &str, query: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let mut path = format!("/api/v1/records/sessions?limit={limit}");
        if !query.is_empty() {
            path.push('&');
            path.push_str(query);
        }
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get_ok(&path, token).await;
        let got = page["items"].as_array().unwrap();
        assert!(got.len() <= limit);
        items.extend(got.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(got.len(), limit, "a page before the last one is full");
                cursor = Some(c.to_owned());
            }
            None => return items,
        }
    }
    panic!("the log never ended");
}

fn ids(items: &[Value]) -> BTreeSet<i64> {
    items.iter().map(|i| i["id"].as_i64().unwrap()).collect()
}

async fn ids_seen_by(app: &TestApp, username: &str, query: &str) -> BTreeSet<i64> {
    let token = app.login(username).await;
    ids(&walk(app, &token, query, 200).await)
}

// --- scope ---------------------------------------------------------------------------------------

async fn scope_by_role(app: TestApp) {
    let f = fixture(&app).await;
    let all: BTreeSet<i64> = [f.a, f.b, f.c].into_iter().collect();
    for user in [
        "spc.supervisor",
        "spc.officer",
        "zj.supervisor",
        "zj.officer",
        "hz.officer",
    ] {
        assert_eq!(ids_seen_by(&app, user, "").await, all, "{user}");
    }
    assert_eq!(
        ids_seen_by(&app, "xihu.coord", "").await,
        [f.a, f.c].into_iter().collect(),
        "a coordinator reads its own court's sessions"
    );
    assert_eq!(
        ids_seen_by(&app, "shangcheng.coord", "").await,
        [f.b].into_iter().collect()
    );
    let admin = app.login("admin").await;
    assert_error(
        app.get("/api/v1/records/sessions", Some(&admin)).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.get("/api/v1/records/sessions", None).await,
        401,
        "unauthenticated",
    )
    .await;

    // One session with its timeline: every reader whose scope covers it, and nobody else.
    for (user, session, allowed) in [
        ("spc.supervisor", f.b, true),
        ("zj.supervisor", f.a, true),
        ("hz.officer", f.a, true),
        ("xihu.coord", f.c, true),
        ("xihu.coord", f.b, false),
        ("shangcheng.coord", f.a, false),
        ("admin", f.a, false),
    ] {
        let token = app.login(user).await;
        let res = app
            .get(&format!("/api/v1/records/sessions/{session}"), Some(&token))
            .await;
        if allowed {
            assert_eq!(res.status(), 200, "{user} reads {session}");
        } else {
            assert_error(res, 403, "forbidden").await;
        }
    }
    let spc = app.login("spc.supervisor").await;
    assert_error(
        app.get("/api/v1/records/sessions/999999", Some(&spc)).await,
        404,
        "not_found",
    )
    .await;

    // Another province: its supervisor sees its own sessions and none of 浙江's, and 浙江's
    // supervisor none of its; the SPC sees both.
    let g = generate(&app, 300, 30).await;
    let other = ids_seen_by(&app, &g.high_supervisor(1), "").await;
    assert!(!other.is_empty());
    assert!(other.is_disjoint(&all));
    let store = store_of(&app).await;
    let in_province = int(
        &store,
        &format!(
            "SELECT COUNT(*) FROM bookings b JOIN local_rooms lr ON lr.id = b.local_room_id \
             JOIN courts c ON c.id = lr.court_id LEFT JOIN courts p ON p.id = c.parent_id \
             WHERE c.parent_id = {h} OR p.parent_id = {h} OR c.id = {h}",
            h = g.high_court_ids[0]
        ),
    )
    .await;
    assert_eq!(other.len() as i64, in_province);
    assert_eq!(ids_seen_by(&app, "zj.supervisor", "").await, all);
    let everything = ids_seen_by(&app, "spc.supervisor", "").await;
    assert_eq!(
        everything.len() as i64,
        int(&store, "SELECT COUNT(*) FROM sessions").await
    );
    assert!(everything.is_superset(&other) && everything.is_superset(&all));

    let outsider = app.login(&g.high_supervisor(1)).await;
    for path in [
        format!("/api/v1/records/sessions/{}", f.a),
        format!("/api/v1/records/sessions?court={}", f.courts.xihu),
        format!("/api/v1/records/statistics?court={}", f.courts.zj),
    ] {
        assert_error(app.get(&path, Some(&outsider)).await, 403, "forbidden").await;
    }
    let zj = app.login("zj.supervisor").await;
    assert_error(
        app.get(
            &format!("/api/v1/records/sessions?court={}", g.high_court_ids[0]),
            Some(&zj),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    store.close().await;
}
on_both_backends!(scope, scope_by_role);

// --- filters and bad input -------------------------------------------------------------------

async fn log_filters(app: TestApp) {
    let f = fixture(&app).await;
    let zj = app.login("zj.supervisor").await;
    let seen = |q: String| {
        let app = &app;
        let zj = zj.clone();
        async move { ids(&walk(app, &zj, &q, 50).await) }
    };
    let set = |v: &[i64]| v.iter().copied().collect::<BTreeSet<i64>>();
    assert_eq!(seen("status=ended".into()).await, set(&[f.a, f.b]));
    assert_eq!(
        seen("status=no_show,ended".into()).await,
        set(&[f.a, f.b, f.c])
    );
    assert_eq!(seen("status=cancelled".into()).await, set(&[]));
    assert_eq!(seen("outcome=explained_law".into()).await, set(&[f.a]));
    assert_eq!(seen("outcome=withdrawn,assign".into()).await, set(&[f.b]));
    assert_eq!(
        seen(format!("host_court={}", f.courts.spc)).await,
        set(&[f.a])
    );
    assert_eq!(
        seen(format!("host_court={}", f.courts.hz)).await,
        set(&[f.c])
    );
    assert_eq!(
        seen(format!("court={}", f.courts.shangcheng)).await,
        set(&[f.b])
    );
    assert_eq!(
        seen(format!("court={}", f.courts.hz)).await,
        set(&[f.a, f.b, f.c])
    );
    let t = today();
    let from = t.format("%Y-%m-%d");
    let to = (t + Duration::days(2)).format("%Y-%m-%d");
    assert_eq!(
        seen(format!("from={from}&to={to}")).await,
        set(&[f.a, f.b, f.c])
    );
    let later = (t + Duration::days(3)).format("%Y-%m-%d");
    assert_eq!(seen(format!("from={later}")).await, set(&[]));
    let before = (t - Duration::days(1)).format("%Y-%m-%d");
    assert_eq!(seen(format!("to={before}")).await, set(&[]));

    // The case number of A, as the log shows it, finds A alone; in combination with a status.
    let detail = app
        .get_ok(&format!("/api/v1/records/sessions/{}", f.a), &zj)
        .await;
    let number = detail["case_number"].as_str().unwrap().to_owned();
    let encoded: String = number.bytes().map(|b| format!("%{b:02X}")).collect();
    assert_eq!(seen(format!("case_number={encoded}")).await, set(&[f.a]));
    assert_eq!(
        seen(format!("case_number={encoded}&status=no_show")).await,
        set(&[])
    );

    // What a log row says.
    let page = app
        .get_ok("/api/v1/records/sessions?status=ended", &zj)
        .await;
    let b = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == f.b)
        .unwrap();
    assert_eq!(b["host_court"]["id"], f.courts.zj);
    assert_eq!(b["host_court"]["level"], "high");
    assert_eq!(b["local_court"]["id"], f.courts.shangcheng);
    assert_eq!(b["outcome"], "withdrawn");
    assert_eq!(b["satisfaction"], "dissatisfied");
    assert!(b["interrupted_seconds"].as_i64().unwrap() >= 1);
    assert!(b["duration_seconds"].as_i64().unwrap() >= 1);

    // Bad input: each names its field, with 422.
    for query in [
        "limit=0",
        "limit=201",
        "limit=abc",
        "limit=",
        "court=abc",
        "court=999999",
        "host_court=999999",
        "host_court=1.5",
        "from=2026-13-01",
        "from=2026/01/01",
        "to=yesterday",
        "from=2026-05-02&to=2026-05-01",
        "status=bogus",
        "status=ended,",
        "outcome=bribe",
        "case_number=%20",
        "unknown=1",
        "cursor=garbage",
    ] {
        let res = app
            .get(&format!("/api/v1/records/sessions?{query}"), Some(&zj))
            .await;
        assert_error(res, 422, "invalid_input").await;
    }
    let shangcheng = app.login("shangcheng.coord").await;
    assert_error(
        app.get(
            &format!("/api/v1/records/sessions?court={}", f.courts.xihu),
            Some(&shangcheng),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let res = app
        .get("/api/v1/records/sessions/not-a-number", Some(&zj))
        .await;
    assert_eq!(res.status(), 404);
}
on_both_backends!(filters, log_filters);

// --- pages ---------------------------------------------------------------------------------------

async fn pages_walk_everything_once(app: TestApp) {
    let _f = fixture(&app).await;
    generate(&app, 400, 30).await;
    let spc = app.login("spc.supervisor").await;
    let store = store_of(&app).await;
    let total = int(&store, "SELECT COUNT(*) FROM sessions").await;
    for limit in [7, 50, 200] {
        let items = walk(&app, &spc, "", limit).await;
        assert_eq!(items.len() as i64, total, "limit {limit}");
        assert_eq!(ids(&items).len(), items.len(), "no session twice");
        let starts: Vec<DateTime<Utc>> = items
            .iter()
            .map(|i| i["starts_at"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(starts.windows(2).all(|w| w[0] >= w[1]), "newest first");
    }
    // Filtered walks agree with the unfiltered one.
    let ended = walk(&app, &spc, "status=ended", 13).await;
    assert_eq!(
        ended.len() as i64,
        int(
            &store,
            "SELECT COUNT(*) FROM sessions s JOIN bookings b ON b.id = s.booking_id \
             WHERE s.status = 'ended' AND b.status <> 'cancelled'"
        )
        .await
    );
    assert!(ended.iter().all(|i| i["status"] == "ended"));
    let default = app.get_ok("/api/v1/records/sessions", &spc).await;
    assert_eq!(default["items"].as_array().unwrap().len(), 50);

    // A cursor is the server's: edited, cut, or used with other filters, it is refused.
    let page = app
        .get_ok("/api/v1/records/sessions?limit=5&status=ended", &spc)
        .await;
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let ok = app
        .get(
            &format!("/api/v1/records/sessions?limit=5&status=ended&cursor={cursor}"),
            Some(&spc),
        )
        .await;
    assert_eq!(ok.status(), 200);
    let (payload, tag) = cursor.split_once('.').unwrap();
    let mut bytes = payload.as_bytes().to_vec();
    bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
    let edited = format!("{}.{tag}", String::from_utf8(bytes).unwrap());
    let forged = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let text = String::from_utf8(b64.decode(payload).unwrap()).unwrap();
        let mut parts: Vec<&str> = text.split('.').collect();
        parts[2] = "1";
        format!("{}.{tag}", b64.encode(parts.join(".")))
    };
    for bad in [
        edited,
        forged,
        payload.to_owned(),
        format!("{payload}."),
        format!("{payload}.{}", &tag[..tag.len() - 2]),
    ] {
        let res = app
            .get(
                &format!("/api/v1/records/sessions?limit=5&status=ended&cursor={bad}"),
                Some(&spc),
            )
            .await;
        assert_error(res, 422, "invalid_input").await;
    }
    let res = app
        .get(
            &format!("/api/v1/records/sessions?limit=5&status=no_show&cursor={cursor}"),
            Some(&spc),
        )
        .await;
    let body = assert_error(res, 422, "invalid_input").await;
    assert!(body["message"].as_str().unwrap().contains("other filters"));
    // Another reader cannot reuse it either (the reader is part of the query).
    let zj = app.login("zj.supervisor").await;
    let res = app
        .get(
            &format!("/api/v1/records/sessions?limit=5&status=ended&cursor={cursor}"),
            Some(&zj),
        )
        .await;
    assert_error(res, 422, "invalid_input").await;
    store.close().await;
}
on_both_backends!(pages, pages_walk_everything_once);

// --- one session ---------------------------------------------------------------------------------

async fn timeline_without_identities(app: TestApp) {
    let f = fixture(&app).await;
    let hz = app.login("hz.officer").await;
    let res = app
        .get(&format!("/api/v1/records/sessions/{}", f.b), Some(&hz))
        .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let detail: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(detail["id"], f.b);
    assert_eq!(detail["status"], "ended");
    let kinds: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in ["joined", "admitted", "interrupted", "resumed", "ended"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    // No identity number or phone number leaves, not even masked: the log names the case.
    let store = store_of(&app).await;
    let case = store
        .case(courtlink::domain::CaseId(
            detail["case_id"].as_i64().unwrap(),
        ))
        .await
        .unwrap();
    assert!(!text.contains(&case.petitioner_id_number));
    assert!(!text.contains("petitioner_id"));
    assert!(!text.contains("phone"));
    let page = app.get("/api/v1/records/sessions", Some(&hz)).await;
    let text = page.text().await.unwrap();
    for c in store.cases_of_court(f.courts.xihu).await.unwrap() {
        assert!(!text.contains(&c.petitioner_id_number));
    }
    store.close().await;
}
on_both_backends!(timeline, timeline_without_identities);

// --- statistics ----------------------------------------------------------------------------------

fn period() -> String {
    let t = today();
    format!(
        "from={}&to={}",
        t.format("%Y-%m-%d"),
        (t + Duration::days(2)).format("%Y-%m-%d")
    )
}

/// A case of `court` for the worked example, of `class`, with `petitioners`.
async fn example_case(
    store: &Store,
    court: i64,
    number: &str,
    class: &str,
    petitioners: i64,
) -> courtlink::domain::CaseId {
    let id = store
        .insert_case(&NewCase {
            court_id: court,
            case_number: number,
            petitioner_name: "测试",
            petitioner_id_number: "330102199001011234",
            subject: "测试",
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
        .unwrap();
    exec(
        store,
        &format!(
            "UPDATE cases SET case_class = '{class}', petitioner_count = {petitioners}, \
             collective = {} WHERE id = {id}",
            if petitioners >= 5 { "TRUE" } else { "FALSE" }
        ),
    )
    .await;
    id
}

/// One contact of the worked example, as `docs/statistics.md` lists it.
struct Contact<'a> {
    case: courtlink::domain::CaseId,
    at: &'a str,
    channel: Channel,
    /// The receiving court, or None with an organ.
    court: Option<i64>,
    organ: &'a str,
    by_court: bool,
    outcome: Option<&'a str>,
    corrects: Option<i64>,
}

async fn contact(store: &Store, c: Contact<'_>) -> i64 {
    let at: DateTime<Utc> = c.at.parse().unwrap();
    let sql = "INSERT INTO ledger_entries (case_id, at, channel, counted_as, note, receiving_court_id, \
               receiving_organ, court_initiated, outcome, corrects_id, correction_reason, recorded_at) \
               VALUES ($1, $2, $3, $4, '例', $5, $6, $7, $8, $9, $10, $2) RETURNING id";
    let reason = c.corrects.map(|_| "接待机关登记有误");
    let (id,): (i64,) = match store.pool() {
        Pool::Sqlite(p) => sqlx::query_as(sql)
            .bind(c.case)
            .bind(at)
            .bind(c.channel.as_str())
            .bind(c.channel.counted_as().as_str())
            .bind(c.court)
            .bind(c.organ)
            .bind(c.by_court)
            .bind(c.outcome)
            .bind(c.corrects)
            .bind(reason)
            .fetch_one(p)
            .await
            .unwrap(),
        Pool::Postgres(p) => sqlx::query_as(sql)
            .bind(c.case)
            .bind(at)
            .bind(c.channel.as_str())
            .bind(c.channel.counted_as().as_str())
            .bind(c.court)
            .bind(c.organ)
            .bind(c.by_court)
            .bind(c.outcome)
            .bind(c.corrects)
            .bind(reason)
            .fetch_one(p)
            .await
            .unwrap(),
    };
    id
}

/// The hand-worked ledger of `docs/statistics.md` (## A hand-worked example), in 2026-03-02 ..
/// 2026-03-06 (e6 in January).
async fn worked_example(app: &TestApp, f: &Fixture) {
    let store = store_of(app).await;
    let (sc, hz, zj) = (f.courts.shangcheng, f.courts.hz, f.courts.zj);
    let p1 = example_case(&store, sc, "(2026)浙0102信访201号", "petition", 1).await;
    let p2 = example_case(&store, sc, "(2026)浙0102信访202号", "petition", 6).await;
    let l1 = example_case(&store, sc, "(2026)浙0102信访203号", "litigation", 1).await;
    let l2 = example_case(&store, sc, "(2026)浙0102信访204号", "litigation", 1).await;
    let p3 = example_case(&store, sc, "(2026)浙0102信访205号", "petition", 1).await;
    let m1 = example_case(&store, hz, "(2026)浙01信访206号", "petition", 1).await;
    let c = |case, at, channel, court, by_court, outcome| Contact {
        case,
        at,
        channel,
        court,
        organ: "court",
        by_court,
        outcome,
        corrects: None,
    };
    for e in [
        c(
            p1,
            "2026-03-02T02:00:00Z",
            Channel::Letter,
            Some(sc),
            false,
            None,
        ), // e1
        c(
            p1,
            "2026-03-03T02:00:00Z",
            Channel::LocalVisit,
            Some(sc),
            false,
            Some("explained_law"),
        ), // e2
        c(
            p1,
            "2026-03-04T02:00:00Z",
            Channel::Phone,
            Some(sc),
            false,
            None,
        ), // e3
        c(
            p2,
            "2026-03-02T03:00:00Z",
            Channel::LocalVisit,
            Some(sc),
            false,
            Some("explained_law"),
        ), // e4
        c(
            p2,
            "2026-03-05T03:00:00Z",
            Channel::Phone,
            Some(sc),
            true,
            None,
        ), // e5
        c(
            l1,
            "2026-01-15T03:00:00Z",
            Channel::Letter,
            Some(sc),
            false,
            Some("into_procedure"),
        ), // e6
        c(
            l1,
            "2026-03-03T04:00:00Z",
            Channel::ToProvince,
            Some(zj),
            false,
            None,
        ), // e7
        c(
            l2,
            "2026-03-04T05:00:00Z",
            Channel::Online,
            Some(sc),
            false,
            Some("concluded"),
        ), // e9
        c(
            m1,
            "2026-03-05T06:00:00Z",
            Channel::ToProvince,
            Some(zj),
            false,
            None,
        ), // e11
    ] {
        contact(&store, e).await;
    }
    // e8, received (so the entry says) by 浙江高院, and e8′ correcting it: it was 杭州中院.
    let e8 = contact(
        &store,
        c(
            l1,
            "2026-03-04T04:00:00Z",
            Channel::LocalVisit,
            Some(zj),
            false,
            None,
        ),
    )
    .await;
    contact(
        &store,
        Contact {
            corrects: Some(e8),
            ..c(
                l1,
                "2026-03-04T04:00:00Z",
                Channel::LocalVisit,
                Some(hz),
                false,
                None,
            )
        },
    )
    .await;
    // e10, in Beijing at the central petition organ.
    contact(
        &store,
        Contact {
            organ: "central_organ",
            ..c(
                p3,
                "2026-03-05T02:00:00Z",
                Channel::ToBeijing,
                None,
                false,
                None,
            )
        },
    )
    .await;
    store.close().await;
}

fn figures(v: &Value) -> BTreeMap<String, Value> {
    v.as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !["court", "part"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

async fn statistics_by_definition(app: TestApp) {
    let f = fixture(&app).await;
    worked_example(&app, &f).await;

    // The ledger, worked through by hand in docs/statistics.md, as 杭州中院 reads it.
    let hz = app.login("hz.officer").await;
    let stats = app
        .get_ok(
            "/api/v1/records/statistics?from=2026-03-02&to=2026-03-06",
            &hz,
        )
        .await;
    assert_eq!(stats["court"]["id"], f.courts.hz);
    assert!(
        stats["computed_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .is_ok()
    );
    let t = &stats["totals"];
    let expect = [
        ("contacts", 10),
        ("petitions", 9),
        ("cases", 6),
        ("first_visits", 5),
        ("first_visits_closed", 2),
        ("repeat_petitions", 3),
        ("skip_level_petitions", 2),
        ("collective_petitions", 1),
        ("to_province", 2),
        ("to_beijing", 1),
        ("video_spc", 0),
        ("booked", 0),
    ];
    for (k, v) in expect {
        assert_eq!(t[k], v, "{k} in {t}");
    }
    let rates = &t["rates"];
    assert_eq!(rates["first_visit_closure"], 0.4);
    assert_eq!(rates["repeat"], 0.3333);
    assert_eq!(rates["skip_level"], 0.2222);
    assert_eq!(rates["collective"], 0.1111);
    assert_eq!(rates["reception_quality"], Value::Null);
    let class = |c: &str, k: &str| t["by_class"][c][k].as_i64().unwrap();
    for (k, litigation, petition) in [
        ("contacts", 3, 7),
        ("petitions", 3, 6),
        ("repeat_petitions", 2, 1),
        ("skip_level_petitions", 1, 1),
        ("collective_petitions", 0, 1),
        ("first_visits", 1, 4),
        ("first_visits_closed", 1, 1),
    ] {
        assert_eq!(class("litigation", k), litigation, "涉诉 {k}");
        assert_eq!(class("petition", k), petition, "信访 {k}");
    }
    // Rows: 杭州中院's own (M1), then 西湖 (nothing) and 上城 (the rest).
    let rows = stats["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0]["part"], "own");
    assert_eq!(rows[0]["contacts"], 1);
    assert_eq!(rows[0]["skip_level_petitions"], 0);
    assert_eq!(rows[0]["to_province"], 1);
    let sc = rows
        .iter()
        .find(|r| r["court"]["id"] == f.courts.shangcheng)
        .unwrap();
    assert_eq!(sc["part"], "below");
    assert_eq!(sc["contacts"], 9);
    assert_eq!(sc["skip_level_petitions"], 2);

    // Sessions today (the fixture), with satisfaction counted for the court that received.
    // A lasted 10 minutes and B 25, on the record: 17.5 on average.
    let store = store_of(&app).await;
    for (session, minutes) in [(f.a, 10), (f.b, 25)] {
        let start = Utc::now() - Duration::hours(1);
        let end = start + Duration::minutes(minutes);
        let sql = "UPDATE sessions SET started_at = $2, ended_at = $3 WHERE id = $1";
        match store.pool() {
            Pool::Sqlite(p) => sqlx::query(sql)
                .bind(session)
                .bind(start)
                .bind(end)
                .execute(p)
                .await
                .map(|_| ()),
            Pool::Postgres(p) => sqlx::query(sql)
                .bind(session)
                .bind(start)
                .bind(end)
                .execute(p)
                .await
                .map(|_| ()),
        }
        .unwrap();
    }
    // Their recordings (docs/recording.md): A's only part kept nothing (failed), so A has no
    // recording; B's part closed with a gap in it; C, a no-show, had a part and a gap too, and
    // counts in neither (it was not held).
    let part = |session| NewPart {
        session_id: SessionId(session),
        participant_id: "petitioner",
        role: "petitioner",
        name: "信访人",
        at: Utc::now(),
    };
    let a_part = store.start_part(&part(f.a)).await.unwrap();
    store.fail_part(a_part.id, Utc::now()).await.unwrap();
    for session in [f.b, f.c] {
        let p = store.start_part(&part(session)).await.unwrap();
        let gap_at = Utc::now() - Duration::seconds(30);
        assert!(
            store
                .open_gap(SessionId(session), p.id, "petitioner", gap_at, "no_media")
                .await
                .unwrap()
        );
        store
            .close_gaps(SessionId(session), None, gap_at + Duration::seconds(5))
            .await
            .unwrap();
        store
            .close_part(&ClosedPart {
                id: p.id,
                at: Utc::now(),
                media_type: "video/webm",
                duration_ms: 60_000,
                bytes: 1_000,
                sha256: "00",
                salvaged: false,
            })
            .await
            .unwrap();
    }
    store.close().await;
    let period = period();
    let zj = app.login("zj.supervisor").await;
    let stats = app
        .get_ok(&format!("/api/v1/records/statistics?{period}"), &zj)
        .await;
    assert_eq!(stats["from"], today().format("%Y-%m-%d").to_string());
    let t = &stats["totals"];
    let expect = [
        ("booked", 3),
        ("cancelled", 0),
        ("held", 2),
        ("held_unconfirmed", 1),
        ("held_recording_gap", 1),
        ("held_unrecorded", 1),
        ("no_show", 1),
        ("interrupted", 1),
        ("hosted", 2),
        ("video_spc", 1),
        ("video_high", 1),
        // The two held sessions wrote one contact each: the court's own, never petitions.
        ("contacts", 2),
        ("petitions", 0),
        ("repeat_petitions", 0),
        ("rated", 1),
        ("satisfied", 0),
    ];
    for (k, v) in expect {
        assert_eq!(t[k], v, "{k} in {t}");
    }
    assert_eq!(t["rates"]["satisfaction"], 0.0);
    assert_eq!(t["rates"]["repeat"], Value::Null);
    assert_eq!(t["average_duration_minutes"], 17.5);

    // Rows: 浙江高院's own (it hosted B), then 杭州中院 with everything below it.
    let rows = stats["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["court"]["id"], f.courts.zj);
    assert_eq!(rows[0]["part"], "own");
    assert_eq!(rows[0]["hosted"], 1);
    assert_eq!(rows[0]["rated"], 1);
    assert_eq!(rows[0]["booked"], 0);
    assert_eq!(rows[1]["court"]["id"], f.courts.hz);
    assert_eq!(rows[1]["part"], "below");
    assert_eq!(rows[1]["booked"], 3);
    assert_eq!(rows[1]["hosted"], 1);
    assert_eq!(rows[1]["rated"], 0);
    // The recording figures go with the court that booked, like `held`.
    assert_eq!(rows[0]["held_recording_gap"], 0);
    assert_eq!(rows[1]["held_recording_gap"], 1);
    assert_eq!(rows[1]["held_unrecorded"], 1);
    // And with the class of each session's case: B's gap, A's missing recording.
    let store = store_of(&app).await;
    let mut classes = Vec::new();
    for session in [f.a, f.b] {
        let case = store.session(SessionId(session)).await.unwrap().case_id;
        classes.push(store.case(case).await.unwrap().case_class);
    }
    let (class_a, class_b) = (classes[0].as_str(), classes[1].as_str());
    store.close().await;
    for class in ["litigation", "petition"] {
        let c = &t["by_class"][class];
        assert_eq!(
            c["held_recording_gap"],
            i64::from(class == class_b),
            "{class}: {c}"
        );
        assert_eq!(
            c["held_unrecorded"],
            i64::from(class == class_a),
            "{class}: {c}"
        );
    }

    // The SPC: its own row hosted A and has A's rating; 浙江's row, B's.
    let spc = app.login("spc.supervisor").await;
    let country = app
        .get_ok(&format!("/api/v1/records/statistics?{period}"), &spc)
        .await;
    let rows = country["rows"].as_array().unwrap();
    assert_eq!(rows[0]["court"]["id"], f.courts.spc);
    assert_eq!(rows[0]["hosted"], 1);
    assert_eq!(rows[0]["rates"]["satisfaction"], 1.0);
    let zj_row = rows
        .iter()
        .find(|r| r["court"]["id"] == f.courts.zj)
        .unwrap();
    assert_eq!(zj_row["rates"]["satisfaction"], 0.0);
    // 浙江's branch in the country's view: everything 浙江's own report has but what the SPC
    // hosted for 浙江's courts (A), which the SPC's own row counts.
    assert_eq!(zj_row["booked"], t["booked"]);
    assert_eq!(zj_row["contacts"], t["contacts"]);
    assert_eq!(country["totals"]["hosted"], 3);
    assert_eq!(country["totals"]["booked"], 3);
    assert_eq!(country["totals"]["rated"], 2);

    // The same for 浙江 asked by the SPC with `court`.
    let same = app
        .get_ok(
            &format!("/api/v1/records/statistics?court={}&{period}", f.courts.zj),
            &spc,
        )
        .await;
    assert_eq!(same["totals"], stats["totals"]);

    // A coordinator reads its own court's figures only; it received nobody, so no satisfaction.
    let xihu = app.login("xihu.coord").await;
    let own = app
        .get_ok(&format!("/api/v1/records/statistics?{period}"), &xihu)
        .await;
    assert_eq!(own["rows"].as_array().unwrap().len(), 1);
    assert_eq!(own["totals"]["booked"], 2);
    assert_eq!(own["totals"]["held"], 1);
    assert_eq!(own["totals"]["held_unconfirmed"], 0);
    assert_eq!(own["totals"]["held_recording_gap"], 0);
    assert_eq!(own["totals"]["held_unrecorded"], 1);
    assert_eq!(own["totals"]["no_show"], 1);
    assert_eq!(own["totals"]["hosted"], 0);
    assert_eq!(own["totals"]["contacts"], 1);
    assert_eq!(own["totals"]["rated"], 0);
    assert_eq!(own["totals"]["rates"]["satisfaction"], Value::Null);

    // A period with nothing in it: zeros and no rates.
    let empty = app
        .get_ok(
            "/api/v1/records/statistics?from=2001-01-01&to=2001-01-31",
            &zj,
        )
        .await;
    assert_eq!(empty["totals"]["booked"], 0);
    assert_eq!(empty["totals"]["rates"]["satisfaction"], Value::Null);
    assert_eq!(empty["totals"]["average_duration_minutes"], Value::Null);
    // By default: this month.
    let month = app.get_ok("/api/v1/records/statistics", &zj).await;
    assert_eq!(
        month["from"],
        today().format("%Y-%m-01").to_string(),
        "{month}"
    );
}
on_both_backends!(statistics, statistics_by_definition);

/// The class of a case is kept on its bookings and ledger entries (migration 0021): a class
/// change must move the case's sessions and contacts to the other class in the report, at once,
/// and changing it back must give the first report again.
async fn class_change_moves_the_figures(app: TestApp) {
    let f = fixture(&app).await;
    let store = store_of(&app).await;
    // B: 上城's case, held with 浙江高院 (its end wrote the court's own contact), rated; and a
    // letter from the petitioner today.
    let case = store.session(SessionId(f.b)).await.unwrap().case_id;
    let at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    contact(
        &store,
        Contact {
            case,
            at: &at,
            channel: Channel::Letter,
            court: Some(f.courts.shangcheng),
            organ: "court",
            by_court: false,
            outcome: None,
            corrects: None,
        },
    )
    .await;
    let from = store.case(case).await.unwrap().case_class.as_str();
    store.close().await;
    let to = if from == "petition" {
        "litigation"
    } else {
        "petition"
    };
    let zj = app.login("zj.supervisor").await;
    let path = format!("/api/v1/records/statistics?{}", period());
    let before = app.get_ok(&path, &zj).await;

    let coord = app.login("shangcheng.coord").await;
    let change = |class: &'static str| {
        let app = &app;
        let coord = &coord;
        async move {
            let res = app
                .post(
                    &format!("/api/v1/cases/{case}/class"),
                    Some(coord),
                    &json!({"case_class": class, "reason": "核对诉访类别"}),
                )
                .await;
            assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        }
    };
    change(to).await;
    let after = app.get_ok(&path, &zj).await;

    // What the case had, as the first report counts it: one session booked and held (hosted
    // and rated by 浙江高院), its own contact and the letter, one of them a petition.
    let moved = [
        ("booked", 1),
        ("held", 1),
        ("hosted", 1),
        ("rated", 1),
        ("video_high", 1),
        ("contacts", 2),
        ("petitions", 1),
    ];
    let class = |v: &Value, c: &str, k: &str| v["totals"]["by_class"][c][k].as_i64().unwrap();
    for (k, n) in moved {
        assert_eq!(
            class(&after, to, k),
            class(&before, to, k) + n,
            "{k} of the {to} class after the change"
        );
        assert_eq!(
            class(&after, from, k),
            class(&before, from, k) - n,
            "{k} of the {from} class after the change"
        );
        assert_eq!(after["totals"][k], before["totals"][k], "{k} of all cases");
    }
    // Every other figure of either class moves by as much as the other gains.
    for (k, v) in after["totals"]["by_class"][to].as_object().unwrap() {
        let Some(n) = v.as_i64() else { continue };
        assert_eq!(
            n - class(&before, to, k),
            class(&before, from, k) - class(&after, from, k),
            "{k}"
        );
    }

    // And back: the first report again, figure for figure.
    change(if to == "petition" {
        "litigation"
    } else {
        "petition"
    })
    .await;
    let again = app.get_ok(&path, &zj).await;
    assert_eq!(again["totals"], before["totals"]);
    assert_eq!(again["rows"], before["rows"]);
}
on_both_backends!(statistics_class_change, class_change_moves_the_figures);

async fn statistics_exports_and_bad_input(app: TestApp) {
    let f = fixture(&app).await;
    let zj = app.login("zj.supervisor").await;
    let json_stats = app
        .get_ok(&format!("/api/v1/records/statistics?{}", period()), &zj)
        .await;

    let res = app
        .get(
            &format!("/api/v1/records/statistics?format=csv&{}", period()),
            Some(&zj),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    let t = today();
    assert_eq!(
        disposition,
        format!(
            "attachment; filename=\"courtlink-statistics-{}-{}-{}.csv\"",
            f.courts.zj,
            t.format("%Y-%m-%d"),
            (t + Duration::days(2)).format("%Y-%m-%d")
        )
    );
    let csv = res.text().await.unwrap();
    let csv = csv.strip_prefix('\u{feff}').expect("a byte-order mark");
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    // zh-CN by default: each court (浙江高院's own, 杭州中院) and the total on three lines:
    // all cases, 涉诉, 信访.
    assert_eq!(
        lines.len(),
        1 + 3 * 3,
        "header, two rows and the total, by class: {csv}"
    );
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(header[0], "法院编号");
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let total: Vec<&str> = lines[7].split(',').collect();
    assert_eq!(total[col("范围")], "合计");
    assert_eq!(total[col("案件类别")], "全部");
    assert_eq!(total[col("法院")], "浙江省高级人民法院");
    assert_eq!(total[col("级别")], "高级人民法院");
    assert_eq!(total[col("预约场次")], "3");
    assert_eq!(
        total[col("已接谈")],
        json_stats["totals"]["held"].to_string()
    );
    assert_eq!(total[col("满意率")], "0.0000");
    let own: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(own[col("范围")], "本院");
    let below: Vec<&str> = lines[4].split(',').collect();
    assert_eq!(below[col("法院")], "杭州市中级人民法院");
    assert_eq!(below[col("范围")], "下辖各院");
    assert_eq!(lines[5].split(',').nth(col("案件类别")), Some("涉诉"));
    assert_eq!(lines[6].split(',').nth(col("案件类别")), Some("信访"));
    // The demo's cases are 信访 cases: the 涉诉 line of the total is all zeros.
    let litigation: Vec<&str> = lines[8].split(',').collect();
    assert_eq!(litigation[col("预约场次")], "0");
    let petition: Vec<&str> = lines[9].split(',').collect();
    assert_eq!(petition[col("预约场次")], "3");

    // English on request.
    let res = app
        .get(
            &format!("/api/v1/records/statistics?format=csv&lang=en&{}", period()),
            Some(&zj),
        )
        .await;
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv
        .trim_start_matches('\u{feff}')
        .trim_end()
        .split("\r\n")
        .collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(header[0], "court_id");
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let total: Vec<&str> = lines[7].split(',').collect();
    assert_eq!(total[col("part")], "total");
    assert_eq!(total[col("class")], "all");
    assert_eq!(total[col("court_level")], "high");
    assert_eq!(total[col("satisfaction_rate")], "0.0000");

    let res = app
        .get(
            &format!("/api/v1/records/statistics?format=xlsx&{}", period()),
            Some(&zj),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .ends_with(".xlsx\"")
    );
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"PK\x03\x04"), "a ZIP container");
    assert!(bytes.len() > 2000);

    // The monthly report: the figures, and the overdue clocks on a second sheet.
    let month = today().format("%Y-%m").to_string();
    let first = today().with_day(1).unwrap();
    let last = (first + Duration::days(32))
        .with_day(1)
        .unwrap()
        .pred_opt()
        .unwrap();
    let res = app
        .get(
            &format!(
                "/api/v1/records/statistics?format=xlsx&report=monthly&from={first}&to={last}"
            ),
            Some(&zj),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-disposition"].to_str().unwrap(),
        format!(
            "attachment; filename=\"courtlink-monthly-{}-{month}.xlsx\"",
            f.courts.zj
        )
    );
    let monthly = res.bytes().await.unwrap();
    let has = |bytes: &[u8], name: &[u8]| bytes.windows(name.len()).any(|w| w == name);
    assert!(has(&monthly, b"xl/worksheets/sheet2.xml"), "a second sheet");
    assert!(
        !has(&bytes, b"xl/worksheets/sheet2.xml"),
        "the plain export has one"
    );

    for query in [
        "format=pdf",
        "format=",
        "from=2026-02-30",
        "from=20260201",
        "to=2026-01",
        "from=2026-03-02&to=2026-03-01",
        "from=2024-01-01&to=2025-12-31",
        "court=abc",
        "court=999999",
        "court=",
        "month=2026-01",
        "lang=fr",
        "report=weekly",
        "report=monthly",
        "report=monthly&format=csv",
        "report=monthly&format=xlsx&from=2026-03-02&to=2026-03-31",
        "report=monthly&format=xlsx&from=2026-03-01&to=2026-04-30",
        "lang=",
        "format=csv&lang=EN",
    ] {
        let res = app
            .get(&format!("/api/v1/records/statistics?{query}"), Some(&zj))
            .await;
        assert_error(res, 422, "invalid_input").await;
    }
    let xihu = app.login("xihu.coord").await;
    for court in [f.courts.shangcheng, f.courts.hz] {
        assert_error(
            app.get(
                &format!("/api/v1/records/statistics?court={court}"),
                Some(&xihu),
            )
            .await,
            403,
            "forbidden",
        )
        .await;
    }
    let hz = app.login("hz.officer").await;
    assert_error(
        app.get(
            &format!("/api/v1/records/statistics?court={}", f.courts.zj),
            Some(&hz),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let admin = app.login("admin").await;
    assert_error(
        app.get("/api/v1/records/statistics", Some(&admin)).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.get("/api/v1/records/statistics", None).await,
        401,
        "unauthenticated",
    )
    .await;
}
on_both_backends!(exports, statistics_exports_and_bad_input);

// --- who was really there -----------------------------------------------------------------------

/// The petitioner's identity is confirmed once, by the local court's staff in the room or the
/// host officer on camera, and by nobody else; bad input and the wrong moment are refused.
async fn identity_confirmed_once_by_who_was_there(app: TestApp) {
    let store = store_of(&app).await;
    let s = book(&app, "xihu.coord", "intermediate", 0, 0).await;
    let coord = app.login("xihu.coord").await;
    let hz = app.login("hz.officer").await;
    let zj = app.login("zj.officer").await;
    let path = format!("/api/v1/sessions/{s}/identity");
    let confirm = |how: &str| json!({ "how": how });

    assert_error(
        app.post(&path, Some(&coord), &confirm("in_room")).await,
        409,
        "session_not_started",
    )
    .await;
    for body in [
        json!({"how": "by_phone"}),
        json!({}),
        json!({"how": 1}),
        json!({"how": "in_room", "by": "someone"}),
    ] {
        assert_error(
            app.post(&path, Some(&coord), &body).await,
            422,
            "invalid_input",
        )
        .await;
    }
    go_live(&store, s).await;
    assert_error(
        app.post(&path, None, &confirm("on_camera")).await,
        401,
        "unauthenticated",
    )
    .await;
    // A coordinator is not the host; the host is not in the room; 浙江高院 hosts nothing here.
    for (token, how) in [(&coord, "on_camera"), (&hz, "in_room"), (&zj, "on_camera")] {
        assert_error(
            app.post(&path, Some(token), &confirm(how)).await,
            403,
            "forbidden",
        )
        .await;
    }
    let res = app.post(&path, Some(&coord), &confirm("in_room")).await;
    assert_eq!(res.status(), 201);
    let event: Value = res.json().await.unwrap();
    assert_eq!(event["kind"], "identity_confirmed");
    assert_eq!(event["data"]["how"], "in_room");
    // The first confirmation stands.
    assert_error(
        app.post(&path, Some(&hz), &confirm("on_camera")).await,
        409,
        "identity_already_confirmed",
    )
    .await;
    let confirmed = int(
        &store,
        &format!(
            "SELECT COUNT(*) FROM session_events WHERE session_id = {s} AND kind = 'identity_confirmed'"
        ),
    )
    .await;
    assert_eq!(confirmed, 1);
    let how = int(
        &store,
        &format!(
            "SELECT COUNT(*) FROM sessions WHERE id = {s} AND identity_confirmed_how = 'in_room'"
        ),
    )
    .await;
    assert_eq!(how, 1);
    end(&store, "hz.officer", s, "explained_law").await;
    assert_error(
        app.post(&path, Some(&coord), &confirm("in_room")).await,
        409,
        "session_ended",
    )
    .await;
    store.close().await;
}
on_both_backends!(identity, identity_confirmed_once_by_who_was_there);

// --- closed sets --------------------------------------------------------------------------------

/// Reads `$text` back from the database as a `$ty` (the column's type, as a row reads it).
macro_rules! read_as {
    ($store:expr, $ty:ty, $text:expr) => {{
        let sql = "SELECT CAST($1 AS TEXT)";
        match $store.pool() {
            Pool::Sqlite(p) => {
                sqlx::query_scalar::<_, $ty>(sql)
                    .bind($text)
                    .fetch_one(p)
                    .await
            }
            Pool::Postgres(p) => {
                sqlx::query_scalar::<_, $ty>(sql)
                    .bind($text)
                    .fetch_one(p)
                    .await
            }
        }
    }};
}

/// The strings the schema's CHECK constraint allows in `table.column`, as the database holds it
/// after every migration.
async fn allowed(store: &Store, table: &str, column: &str) -> BTreeSet<String> {
    let quoted = |text: &str| -> BTreeSet<String> {
        text.split('\'')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    match store.pool() {
        Pool::Sqlite(p) => {
            let (sql,): (String,) =
                sqlx::query_as("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = $1")
                    .bind(table)
                    .fetch_one(p)
                    .await
                    .unwrap();
            let start = format!("CHECK ({column} IN (");
            if let Some(from) = sql.find(&start) {
                let list = &sql[from + start.len()..];
                return quoted(&list[..list.find(')').unwrap()]);
            }
            // A CHECK added later is a trigger's (SQLite cannot add one to a table): the insert's
            // and the update's say the same.
            let triggers: Vec<(String,)> = sqlx::query_as(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = $1 \
                 AND name IN ($2, $3)",
            )
            .bind(table)
            .bind(format!("{table}_{column}_check_insert"))
            .bind(format!("{table}_{column}_check_update"))
            .fetch_all(p)
            .await
            .unwrap();
            assert_eq!(triggers.len(), 2, "{table}.{column}: {sql}");
            let sets: Vec<BTreeSet<String>> = triggers
                .iter()
                .map(|(sql,)| {
                    let start = format!("NEW.{column} NOT IN (");
                    let from = sql.find(&start).unwrap_or_else(|| panic!("{sql}")) + start.len();
                    let list = &sql[from..];
                    quoted(&list[..list.find(')').unwrap()])
                })
                .collect();
            assert_eq!(sets[0], sets[1], "{table}.{column}");
            sets[0].clone()
        }
        Pool::Postgres(p) => {
            let defs: Vec<(String,)> = sqlx::query_as(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint \
                 WHERE conrelid = $1::regclass AND contype = 'c'",
            )
            .bind(table)
            .fetch_all(p)
            .await
            .unwrap();
            let def = defs
                .iter()
                .map(|(d,)| d)
                .find(|d| d.contains(&format!("({column} = ANY")))
                .unwrap_or_else(|| panic!("{table}.{column}: {defs:?}"));
            quoted(def)
        }
    }
}

/// A column with a closed set of values reads as its type (store/rows.rs): every value the
/// schema's CHECK allows reads as the variant of the same name and nothing else does, a string
/// outside the set is an error of the store instead of a value that a reader compares by hand,
/// and a value binds as its string.
async fn closed_sets_read_as_types(app: TestApp) {
    use courtlink::domain::{BookingStatus, CaseStatus, Role, SessionStatus};
    let store = store_of(&app).await;

    fn names<T: std::fmt::Display>(all: &[T]) -> BTreeSet<String> {
        all.iter().map(T::to_string).collect()
    }
    assert_eq!(
        allowed(&store, "courts", "level").await,
        names(CourtLevel::ALL)
    );
    assert_eq!(allowed(&store, "users", "role").await, names(Role::ALL));
    assert_eq!(
        allowed(&store, "bookings", "status").await,
        names(BookingStatus::ALL)
    );
    assert_eq!(
        allowed(&store, "sessions", "status").await,
        names(SessionStatus::ALL)
    );
    // A case's status as read has one value more than the stored one: `concluded` is the
    // ledger's (store::rows::CASE_STATUS), and a stored one is refused.
    let stored: Vec<CaseStatus> = CaseStatus::ALL
        .iter()
        .copied()
        .filter(|&s| s != CaseStatus::Concluded)
        .collect();
    assert_eq!(allowed(&store, "cases", "status").await, names(&stored));
    for text in ["concluded", "handling", "closed"] {
        let refused = match store.pool() {
            Pool::Sqlite(p) => sqlx::query("UPDATE cases SET status = $1")
                .bind(text)
                .execute(p)
                .await
                .map(|_| ()),
            Pool::Postgres(p) => sqlx::query("UPDATE cases SET status = $1")
                .bind(text)
                .execute(p)
                .await
                .map(|_| ()),
        };
        let err = refused.expect_err(text).to_string();
        assert!(err.contains("cases_status_check"), "{text}: {err}");
    }

    for &v in CourtLevel::ALL {
        assert_eq!(read_as!(store, CourtLevel, v.as_str()).unwrap(), v);
    }
    for &v in Role::ALL {
        assert_eq!(read_as!(store, Role, v.as_str()).unwrap(), v);
    }
    for &v in BookingStatus::ALL {
        assert_eq!(read_as!(store, BookingStatus, v.as_str()).unwrap(), v);
    }
    for &v in SessionStatus::ALL {
        assert_eq!(read_as!(store, SessionStatus, v.as_str()).unwrap(), v);
    }
    for text in ["", "Ended", "ended ", "cancelled"] {
        let err = read_as!(store, SessionStatus, text).unwrap_err();
        assert!(
            matches!(err, sqlx::Error::ColumnDecode { .. }),
            "{text:?}: {err}"
        );
    }
    assert!(read_as!(store, Role, "root").is_err());
    assert!(read_as!(store, CourtLevel, "county").is_err());

    // A value binds as its string.
    let text = read_as!(store, String, SessionStatus::NoShow).unwrap();
    assert_eq!(text, "no_show");
    let text = read_as!(store, String, BookingStatus::Cancelled).unwrap();
    assert_eq!(text, "cancelled");
    store.close().await;
}
on_both_backends!(closed_sets, closed_sets_read_as_types);

// --- generated data -----------------------------------------------------------------------------

/// On generated data, the log and the statistics agree with each other and with plain counts.
async fn generated_data_adds_up(app: TestApp) {
    let g = generate(&app, 1500, 60).await;
    let store = store_of(&app).await;
    let spc = app.login("spc.supervisor").await;
    // The last whole month in Beijing time.
    let t = today();
    let first = chrono::NaiveDate::from_ymd_opt(
        if t.month0() == 0 {
            t.year() - 1
        } else {
            t.year()
        },
        if t.month0() == 0 { 12 } else { t.month() - 1 },
        1,
    )
    .unwrap();
    let last = t.with_day(1).unwrap().pred_opt().unwrap();
    let q = format!(
        "from={}&to={}",
        first.format("%Y-%m-%d"),
        last.format("%Y-%m-%d")
    );
    let country = app
        .get_ok(&format!("/api/v1/records/statistics?{q}"), &spc)
        .await;
    let start = first.and_hms_opt(0, 0, 0).unwrap().and_utc() - Duration::hours(8);
    let end = last.and_hms_opt(0, 0, 0).unwrap().and_utc() + Duration::hours(16);
    let bind = |t: DateTime<Utc>| match store.pool() {
        Pool::Sqlite(_) => format!(
            "'{}'",
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
        ),
        Pool::Postgres(_) => format!("'{}'::timestamptz", t.to_rfc3339()),
    };
    let in_period = format!(
        "b.starts_at >= {} AND b.starts_at < {}",
        bind(start),
        bind(end)
    );
    let booked = int(
        &store,
        &format!("SELECT COUNT(*) FROM bookings b WHERE b.status <> 'cancelled' AND {in_period}"),
    )
    .await;
    assert!(booked > 50, "the month has sessions");
    assert_eq!(country["totals"]["booked"], booked);
    assert_eq!(country["totals"]["hosted"], booked);
    let held = int(
        &store,
        &format!(
            "SELECT COUNT(*) FROM bookings b JOIN sessions s ON s.booking_id = b.id \
             WHERE b.status <> 'cancelled' AND s.status = 'ended' AND {in_period}"
        ),
    )
    .await;
    assert_eq!(country["totals"]["held"], held);
    let contacts = int(
        &store,
        &format!(
            "SELECT COUNT(*) FROM ledger_entries b WHERE {}",
            in_period.replace("starts_at", "at")
        ),
    )
    .await;
    assert_eq!(country["totals"]["contacts"], contacts);

    // A province: its own statistics equal its row in the country's, and its log, walked with
    // the same period, has every session it booked or had cancelled.
    let province = g.high_court_ids[0];
    let row = country["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["court"]["id"] == province)
        .unwrap()
        .clone();
    let supervisor = app.login(&g.high_supervisor(1)).await;
    let own = app
        .get_ok(&format!("/api/v1/records/statistics?{q}"), &supervisor)
        .await;
    assert_eq!(figures(&row), figures(&own["totals"]));
    let log = walk(&app, &supervisor, &q, 200).await;
    assert_eq!(
        log.len() as i64,
        row["booked"].as_i64().unwrap() + row["cancelled"].as_i64().unwrap()
    );
    let held_in_log = log.iter().filter(|i| i["status"] == "ended").count() as i64;
    assert_eq!(held_in_log, row["held"].as_i64().unwrap());
    // The sum of the rows is the total.
    let rows = country["rows"].as_array().unwrap();
    for k in [
        "booked",
        "held",
        "no_show",
        "contacts",
        "first_visits",
        "rated",
    ] {
        let sum: i64 = rows.iter().map(|r| r[k].as_i64().unwrap()).sum();
        assert_eq!(country["totals"][k], sum, "{k}");
    }
    store.close().await;
}
on_both_backends!(generated, generated_data_adds_up);

/// The monthly tallies (migration 0033) equal a full recount of the month's rows. On generated
/// data, and after what moves figures later — class and collective changes, cancellations,
/// ratings, identity checks, recordings, interruptions, late contacts dated in earlier months,
/// answers that close a case, corrections that take a first contact or an answer away — every
/// report the tallies serve (the country, each province, cities, single courts; every month with
/// data) is the one counted from the rows (`docs/statistics.md`, "How the figures are kept fast").
async fn tallies_equal_a_recount(app: TestApp) {
    let g = generate(&app, 1200, 40).await;
    let store = store_of(&app).await;
    for sql in [
        "UPDATE cases SET case_class = 'litigation' WHERE id % 5 = 0",
        "UPDATE cases SET collective = TRUE, petitioner_count = 6 WHERE id % 7 = 0",
        "UPDATE bookings SET status = 'cancelled' WHERE id % 11 = 0",
        "UPDATE sessions SET satisfaction = 'dissatisfied' WHERE id % 13 = 0 AND status = 'ended'",
        "UPDATE sessions SET identity_confirmed_how = 'in_room' WHERE id % 3 = 0",
        "UPDATE sessions SET recorded = TRUE WHERE id % 2 = 0",
        "UPDATE sessions SET recording_gap = TRUE WHERE id % 9 = 0",
        "UPDATE sessions SET status = 'interrupted' WHERE id % 17 = 0 AND status = 'scheduled'",
        "UPDATE sessions SET interrupted_seconds = 40 WHERE id % 19 = 0 AND status = 'ended'",
    ] {
        exec(&store, sql).await;
    }
    // Late contacts on 40 cases: a petition 50 days back (often the case's new first visit, in
    // an earlier month), an answer 20 days back, and a correction of the case's first entry,
    // received by a petition organ.
    let sql =
        "SELECT case_id, MIN(id) FROM ledger_entries GROUP BY case_id ORDER BY case_id LIMIT 40";
    let firsts: Vec<(courtlink::domain::CaseId, i64)> = match store.pool() {
        Pool::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        Pool::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
    };
    assert_eq!(firsts.len(), 40);
    let ago = |days: i64| {
        (Utc::now() - Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    for (k, (case, first)) in firsts.into_iter().enumerate() {
        let (early, late) = (ago(50), ago(20));
        if k % 2 == 0 {
            contact(
                &store,
                Contact {
                    case,
                    at: &early,
                    channel: Channel::ToProvince,
                    court: None,
                    organ: "provincial_organ",
                    by_court: false,
                    outcome: None,
                    corrects: None,
                },
            )
            .await;
        }
        if k % 3 == 0 {
            contact(
                &store,
                Contact {
                    case,
                    at: &late,
                    channel: Channel::Letter,
                    court: None,
                    organ: "court",
                    by_court: false,
                    outcome: Some("explained_law"),
                    corrects: None,
                },
            )
            .await;
        }
        if k % 4 == 1 {
            let sql = "SELECT at FROM ledger_entries WHERE id = $1";
            let (at,): (DateTime<Utc>,) = match store.pool() {
                Pool::Sqlite(p) => sqlx::query_as(sql).bind(first).fetch_one(p).await.unwrap(),
                Pool::Postgres(p) => sqlx::query_as(sql).bind(first).fetch_one(p).await.unwrap(),
            };
            let at = at.to_rfc3339();
            contact(
                &store,
                Contact {
                    case,
                    at: &at,
                    channel: Channel::ToBeijing,
                    court: None,
                    organ: "central_organ",
                    by_court: false,
                    outcome: None,
                    corrects: Some(first),
                },
            )
            .await;
        }
    }

    let round = |rows: Vec<StatsRow>| {
        rows.into_iter()
            .map(|mut r| {
                for c in [&mut r.litigation, &mut r.petition] {
                    c.duration_seconds = (c.duration_seconds * 1000.0).round() / 1000.0;
                }
                r
            })
            .collect::<Vec<_>>()
    };
    let ids = |sql: &'static str| {
        let store = store.clone();
        async move {
            let rows: Vec<(i64,)> = match store.pool() {
                Pool::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
                Pool::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
            };
            rows.into_iter().map(|(id,)| id).collect::<Vec<i64>>()
        }
    };
    let mut scopes = vec![(g.spc_id, Under::All)];
    scopes.extend(g.high_court_ids.iter().map(|&id| (id, Under::Province(id))));
    for id in ids("SELECT id FROM courts WHERE level = 'intermediate' ORDER BY id LIMIT 3").await {
        scopes.push((id, Under::City(id)));
    }
    for id in ids("SELECT id FROM courts WHERE level = 'basic' ORDER BY id LIMIT 3").await {
        scopes.push((id, Under::Court(id)));
    }
    let mut seen = Counts::default();
    let t = today();
    let this_month = t.with_day(1).unwrap();
    // Next month (the generated week ahead may reach into it) and the four before it.
    for back in -1i32..=3 {
        let first = if back < 0 {
            this_month + chrono::Months::new(1)
        } else {
            this_month - chrono::Months::new(back as u32)
        };
        let next = first.checked_add_months(chrono::Months::new(1)).unwrap();
        let month = first.format("%Y-%m").to_string();
        let (from, to) = (
            courtlink::app::clock::day_start(first),
            courtlink::app::clock::day_start(next),
        );
        for &(court, under) in &scopes {
            let tallied = store
                .statistics(court, under, from, to, Some(&month))
                .await
                .unwrap();
            let counted = store
                .statistics(court, under, from, to, None)
                .await
                .unwrap();
            if under == Under::All {
                for r in &counted {
                    seen.add(&r.litigation);
                    seen.add(&r.petition);
                }
            }
            assert_eq!(round(tallied), round(counted), "{month}, {under:?}");
        }
    }
    // The data moved every kind of figure, so the comparison compared something.
    for (what, n) in [
        ("booked", seen.booked),
        ("cancelled", seen.cancelled),
        ("held", seen.held),
        ("held_recording_gap", seen.held_recording_gap),
        ("no_show", seen.no_show),
        ("interrupted", seen.interrupted),
        ("satisfied", seen.satisfied),
        ("contacts", seen.contacts),
        ("cases", seen.cases),
        ("repeat", seen.repeat),
        ("skip_level", seen.skip_level),
        ("collective", seen.collective),
        ("to_beijing", seen.to_beijing),
        ("first_visits_closed", seen.first_visits_closed),
    ] {
        assert!(n > 0, "{what}: nothing counted");
    }
    store.close().await;
}
on_both_backends!(tallies, tallies_equal_a_recount);
