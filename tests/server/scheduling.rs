//! Scheduling and booking as a host court runs them (issue 4), black-box over HTTP on SQLite and
//! PostgreSQL: weekly templates and their bad input, the working-day calendar with make-up days
//! (调休), date overrides and the bookings they flag, the host court's rules, holds (in-process
//! and in Redis across instances), `Idempotency-Key`, ETags on cancel and reschedule, and
//! applications with their review.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, Utc, Weekday};
use common::{Backend, TestApp, assert_error, with_redis};
use courtlink::domain::IdNumber;
use reqwest::Method;
use serde_json::{Value, json};

// --- plumbing ------------------------------------------------------------------------------------

/// Any request, with optional JSON body and extra headers.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = app.client.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("request sent")
}

/// The answer must have this status; returns its JSON body (Null when empty).
async fn expect(res: reqwest::Response, status: u16, what: &str) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.expect("body");
    assert_eq!(got, status, "{what}: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: JSON body, got {text}"))
    }
}

/// The answer must have this status; returns (ETag, JSON body).
async fn expect_tagged(res: reqwest::Response, status: u16, what: &str) -> (String, Value) {
    let etag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = expect(res, status, what).await;
    (etag.unwrap_or_else(|| panic!("{what}: an ETag")), body)
}

/// An `ineligible` refusal naming `rule`.
async fn assert_ineligible(res: reqwest::Response, rule: &str) {
    let v = assert_error(res, 422, "ineligible").await;
    assert_eq!(v["rule"], rule, "{v}");
}

fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap()
}

fn local_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&shanghai()).date_naive()
}

fn local_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&shanghai()).format("%H:%M").to_string()
}

fn today() -> NaiveDate {
    local_day(Utc::now())
}

/// Midnight at the start of `day`, Asia/Shanghai, as UTC.
fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc() - Duration::hours(8)
}

fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn time_of(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an instant, got {v}"))
}

fn id(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("an id, got {v}"))
}

/// The demo's courts and rooms, by name, as the SPC's administrator sees them.
struct Demo {
    spc: i64,
    high: i64,
    xihu: i64,
    shangcheng: i64,
    /// 第一接谈室: hand-made half-hour slots, no template.
    spc_room1: i64,
    /// 第三接谈室: the demo's weekly template (criminal cases on Tuesdays).
    spc_room3: i64,
    high_room: i64,
    xihu_rooms: Vec<i64>,
    shangcheng_room: i64,
}

async fn demo(app: &TestApp) -> Demo {
    let admin = app.login("admin").await;
    let courts = app.get_ok("/api/v1/admin/courts", &admin).await;
    let court = |name: &str| -> &Value {
        courts
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("court {name}"))
    };
    let room = |c: &Value, kind: &str, name: &str| -> i64 {
        id(&c[kind]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("room {name}"))["id"])
    };
    let spc = court("最高人民法院");
    let high = court("浙江省高级人民法院");
    let xihu = court("杭州市西湖区人民法院");
    let shangcheng = court("杭州市上城区人民法院");
    Demo {
        spc: id(&spc["id"]),
        high: id(&high["id"]),
        xihu: id(&xihu["id"]),
        shangcheng: id(&shangcheng["id"]),
        spc_room1: room(spc, "host_rooms", "第一接谈室"),
        spc_room3: room(spc, "host_rooms", "第三接谈室"),
        high_room: room(high, "host_rooms", "接谈室一"),
        xihu_rooms: xihu["local_rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| id(&r["id"]))
            .collect(),
        shangcheng_room: room(shangcheng, "local_rooms", "视频接访室"),
    }
}

/// A coordinator's case ids, in the order the API lists them.
async fn cases(app: &TestApp, coord: &str) -> Vec<i64> {
    app.get_ok("/api/v1/cases", coord)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|c| id(&c["id"]))
        .collect()
}

/// Open slots a coordinator may book at `court` starting in `[from, to)`.
async fn open_slots(
    app: &TestApp,
    coord: &str,
    court: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Value> {
    app.get_ok(
        &format!(
            "/api/v1/slots?host_court_id={court}&from={}&to={}",
            iso(from),
            iso(to)
        ),
        coord,
    )
    .await
    .as_array()
    .unwrap()
    .iter()
    .filter(|s| time_of(&s["starts_at"]) >= from && time_of(&s["starts_at"]) < to)
    .cloned()
    .collect()
}

/// Open slots of one room on one Asia/Shanghai day, in time order.
async fn room_day_slots(
    app: &TestApp,
    coord: &str,
    court: i64,
    room: i64,
    day: NaiveDate,
) -> Vec<Value> {
    let from = day_start(day).max(Utc::now());
    open_slots(app, coord, court, from, day_start(day) + Duration::days(1))
        .await
        .into_iter()
        .filter(|s| s["host_room"]["id"] == room)
        .collect()
}

/// `n` open hand-made slots of a host court's room, each starting at least `lead` from now.
async fn future_slots(
    app: &TestApp,
    coord: &str,
    court: i64,
    room: i64,
    lead: Duration,
    n: usize,
) -> Vec<Value> {
    let from = Utc::now() + lead;
    let slots: Vec<Value> = open_slots(app, coord, court, from, from + Duration::hours(40))
        .await
        .into_iter()
        .filter(|s| s["host_room"]["id"] == room)
        .take(n)
        .collect();
    assert_eq!(slots.len(), n, "{n} open slots of room {room}");
    slots
}

/// A room's calendar (slots with their bookings) for `[from, to)`.
async fn room_calendar(
    app: &TestApp,
    token: &str,
    room: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Value> {
    app.get_ok(
        &format!(
            "/api/v1/host-rooms/{room}/calendar?from={}&to={}",
            iso(from),
            iso(to)
        ),
        token,
    )
    .await
    .as_array()
    .unwrap()
    .clone()
}

/// The room's calendar of one Asia/Shanghai day.
async fn calendar_of_day(app: &TestApp, token: &str, room: i64, day: NaiveDate) -> Vec<Value> {
    room_calendar(
        app,
        token,
        room,
        day_start(day),
        day_start(day) + Duration::days(1),
    )
    .await
}

fn starts(slots: &[Value], key: &str) -> Vec<String> {
    slots.iter().map(|s| local_time(time_of(&s[key]))).collect()
}

/// The national calendar's entries of the years `from..=to` touch.
async fn national_calendar(
    app: &TestApp,
    token: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> HashMap<NaiveDate, Value> {
    let mut out = HashMap::new();
    for year in from.year()..=to.year() {
        for e in app
            .get_ok(&format!("/api/v1/calendar/{year}"), token)
            .await
            .as_array()
            .unwrap()
        {
            let day = NaiveDate::parse_from_str(e["day"].as_str().unwrap(), "%Y-%m-%d").unwrap();
            out.insert(day, e.clone());
        }
    }
    out
}

/// The weekday whose timetable applies on `day`, or None on a day off.
fn timetable(day: NaiveDate, calendar: &HashMap<NaiveDate, Value>) -> Option<u32> {
    match calendar.get(&day) {
        Some(e) if e["kind"] == "holiday" => None,
        Some(e) => Some(u32::try_from(e["follows_weekday"].as_i64().unwrap()).unwrap()),
        None => match day.weekday() {
            Weekday::Sat | Weekday::Sun => None,
            w => Some(w.number_from_monday()),
        },
    }
}

/// The first day from `today() + offset` whose timetable satisfies `want`.
fn first_day(
    offset: i64,
    calendar: &HashMap<NaiveDate, Value>,
    want: impl Fn(Option<u32>) -> bool,
) -> NaiveDate {
    (offset..offset + 60)
        .map(|d| today() + Duration::days(d))
        .find(|d| want(timetable(*d, calendar)))
        .expect("such a day within two months")
}

/// Replaces a host court's rules with `patch` applied to the current ones.
async fn set_rules(app: &TestApp, officer: &str, court: i64, patch: Value) -> Value {
    let path = format!("/api/v1/host-courts/{court}/settings");
    let (etag, mut current) = expect_tagged(
        send(app, Method::GET, &path, Some(officer), None, &[]).await,
        200,
        "settings",
    )
    .await;
    for (k, v) in patch.as_object().unwrap() {
        current[k] = v.clone();
    }
    expect(
        send(
            app,
            Method::PUT,
            &path,
            Some(officer),
            Some(&current),
            &[("If-Match", &etag)],
        )
        .await,
        200,
        "put settings",
    )
    .await
}

async fn book(app: &TestApp, coord: &str, slot: i64, case: i64, room: i64) -> reqwest::Response {
    app.post(
        "/api/v1/bookings",
        Some(coord),
        &json!({"slot_id": slot, "case_id": case, "local_room_id": room}),
    )
    .await
}

async fn booked(app: &TestApp, coord: &str, slot: i64, case: i64, room: i64) -> Value {
    expect(book(app, coord, slot, case, room).await, 201, "booking").await
}

async fn get_booking(app: &TestApp, token: &str, booking: i64) -> (String, Value) {
    expect_tagged(
        send(
            app,
            Method::GET,
            &format!("/api/v1/bookings/{booking}"),
            Some(token),
            None,
            &[],
        )
        .await,
        200,
        "get booking",
    )
    .await
}

/// A direct connection to the test's own database, for setting up what the API cannot (a slot
/// in the past) and for counting rows.
enum Db {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

async fn db(app: &TestApp) -> Db {
    use secrecy::ExposeSecret;
    use sqlx::Connection;
    let url = app.settings.database.url.expose_secret().to_owned();
    match app.backend {
        Backend::Sqlite => Db::Sqlite(sqlx::SqliteConnection::connect(&url).await.expect("SQLite")),
        Backend::Postgres => {
            Db::Postgres(sqlx::PgConnection::connect(&url).await.expect("PostgreSQL"))
        }
    }
}

impl Db {
    async fn count(&mut self, sql: &str, bind: i64) -> i64 {
        match self {
            Db::Sqlite(c) => {
                sqlx::query_scalar::<_, i64>(sql)
                    .bind(bind)
                    .fetch_one(c)
                    .await
            }
            Db::Postgres(c) => {
                sqlx::query_scalar::<_, i64>(sql)
                    .bind(bind)
                    .fetch_one(c)
                    .await
            }
        }
        .expect("count")
    }

    async fn count_topic(&mut self, topic: &str) -> i64 {
        let sql = "SELECT COUNT(*) FROM outbox WHERE topic = $1";
        match self {
            Db::Sqlite(c) => {
                sqlx::query_scalar::<_, i64>(sql)
                    .bind(topic)
                    .fetch_one(c)
                    .await
            }
            Db::Postgres(c) => {
                sqlx::query_scalar::<_, i64>(sql)
                    .bind(topic)
                    .fetch_one(c)
                    .await
            }
        }
        .expect("count outbox")
    }

    async fn exec(&mut self, sql: &str, bind: i64) {
        match self {
            Db::Sqlite(c) => sqlx::query(sql).bind(bind).execute(c).await.map(|_| ()),
            Db::Postgres(c) => sqlx::query(sql).bind(bind).execute(c).await.map(|_| ()),
        }
        .expect("execute");
    }

    async fn insert_slot(&mut self, room: i64, starts: DateTime<Utc>, ends: DateTime<Utc>) -> i64 {
        let sql =
            "INSERT INTO slots (host_room_id, starts_at, ends_at) VALUES ($1, $2, $3) RETURNING id";
        match self {
            Db::Sqlite(c) => {
                sqlx::query_scalar::<_, i64>(sql)
                    .bind(room)
                    .bind(starts)
                    .bind(ends)
                    .fetch_one(c)
                    .await
            }
            Db::Postgres(c) => {
                sqlx::query_scalar::<_, i64>(sql)
                    .bind(room)
                    .bind(starts)
                    .bind(ends)
                    .fetch_one(c)
                    .await
            }
        }
        .expect("insert a slot")
    }
}

// --- weekly templates ----------------------------------------------------------------------------

async fn a_template_publishes_slots_on_working_days_with_buffers(app: TestApp) {
    let d = demo(&app).await;
    let officer = app.login("spc.officer").await;
    let room = d.spc_room1;
    let path = format!("/api/v1/host-rooms/{room}/template");

    // No template yet: version 0, and the room keeps its hand-made slots.
    let (etag, body) = expect_tagged(
        send(&app, Method::GET, &path, Some(&officer), None, &[]).await,
        200,
        "template",
    )
    .await;
    assert_eq!(etag, "\"v0\"");
    assert_eq!(body["days"], json!([]));

    // Mornings on every weekday: 45-minute slots, 15 minutes apart; Thursday afternoons too.
    let window = |o: &str, c: &str, s: u32, b: u32| json!({"opens": o, "closes": c, "slot_minutes": s, "buffer_minutes": b});
    let days: Vec<Value> = (1..=5)
        .map(|wd| {
            let mut windows = vec![window("09:00", "12:00", 45, 15)];
            if wd == 4 {
                windows.push(window("14:00", "16:00", 50, 10));
            }
            json!({"weekday": wd, "theme": null, "windows": windows})
        })
        .collect();
    let res = send(
        &app,
        Method::PUT,
        &path,
        Some(&officer),
        Some(&json!({"days": days})),
        &[("If-Match", "\"v0\"")],
    )
    .await;
    let (etag, saved) = expect_tagged(res, 200, "put template").await;
    assert_eq!(etag, "\"v1\"");
    assert!(saved["published"]["added"].as_u64().unwrap() > 0, "{saved}");
    assert_eq!(saved["published"]["flagged_bookings"], json!([]));
    assert_eq!(saved["days"], json!(days));
    let (etag, body) = expect_tagged(
        send(&app, Method::GET, &path, Some(&officer), None, &[]).await,
        200,
        "template",
    )
    .await;
    assert_eq!((etag.as_str(), &body["days"]), ("\"v1\"", &json!(days)));

    // From tomorrow, two weeks: exactly the template's slots on working days, none on days off,
    // and none of the hand-made half-hour slots left.
    let first = today() + Duration::days(1);
    let last = first + Duration::days(13);
    let calendar = national_calendar(&app, &officer, first, last).await;
    let slots = room_calendar(
        &app,
        &officer,
        room,
        day_start(first),
        day_start(last + Duration::days(1)),
    )
    .await;
    let mut by_day: BTreeMap<NaiveDate, Vec<Value>> = BTreeMap::new();
    for s in &slots {
        by_day
            .entry(local_day(time_of(&s["starts_at"])))
            .or_default()
            .push(s.clone());
    }
    let mut working = 0;
    let mut day = first;
    while day <= last {
        let got = by_day.remove(&day).unwrap_or_default();
        let (want_starts, want_ends): (Vec<&str>, Vec<&str>) = match timetable(day, &calendar) {
            None => (vec![], vec![]),
            Some(4) => (
                vec!["09:00", "10:00", "11:00", "14:00", "15:00"],
                vec!["09:45", "10:45", "11:45", "14:50", "15:50"],
            ),
            Some(_) => (
                vec!["09:00", "10:00", "11:00"],
                vec!["09:45", "10:45", "11:45"],
            ),
        };
        if !want_starts.is_empty() {
            working += 1;
        }
        assert_eq!(
            starts(&got, "starts_at"),
            want_starts,
            "slots on {day} ({})",
            day.weekday()
        );
        assert_eq!(starts(&got, "ends_at"), want_ends, "slot ends on {day}");
        for s in &got {
            assert_eq!(
                (s["withdrawn"].as_bool(), &s["booking_id"]),
                (Some(false), &Value::Null)
            );
        }
        day += Duration::days(1);
    }
    assert!(working >= 8, "two weeks hold at least eight working days");
    assert!(by_day.is_empty(), "no slot outside the range: {by_day:?}");

    // The coordinator sees them too.
    let coord = app.login("xihu.coord").await;
    let open = room_day_slots(
        &app,
        &coord,
        d.spc,
        room,
        first_day(1, &calendar, |t| t == Some(1)),
    )
    .await;
    assert_eq!(starts(&open, "starts_at"), ["09:00", "10:00", "11:00"]);
}
on_both_backends!(
    template_publishes_slots,
    a_template_publishes_slots_on_working_days_with_buffers
);

async fn a_bad_template_is_refused_with_its_own_code(app: TestApp) {
    let d = demo(&app).await;
    let officer = app.login("spc.officer").await;
    let path = format!("/api/v1/host-rooms/{}/template", d.spc_room1);
    let put = |body: Value, if_match: Option<&'static str>| {
        let (app, officer, path) = (&app, officer.clone(), path.clone());
        async move {
            let headers: Vec<(&str, &str)> =
                if_match.map(|v| ("If-Match", v)).into_iter().collect();
            send(
                app,
                Method::PUT,
                &path,
                Some(&officer),
                Some(&body),
                &headers,
            )
            .await
        }
    };
    let one = |windows: Value| json!({"days": [{"weekday": 1, "windows": windows}]});
    let w = |o: &str, c: &str, s: u32| json!({"opens": o, "closes": c, "slot_minutes": s, "buffer_minutes": 0});

    for (body, code) in [
        (
            one(json!([w("09:00", "11:00", 60), w("10:30", "12:00", 30)])),
            "template_overlap",
        ),
        (
            one(json!([w("14:00", "16:00", 60), w("09:00", "14:30", 60)])),
            "template_overlap",
        ),
        (
            one(json!([w("09:00", "12:00", 20)])),
            "slot_length_out_of_range",
        ),
        (
            one(json!([w("08:00", "12:00", 150)])),
            "slot_length_out_of_range",
        ),
        (one(json!([w("9:00", "12:00", 60)])), "bad_time"),
        (one(json!([w("09:00", "25:00", 60)])), "bad_time"),
        (
            json!({"days": [{"weekday": 6, "windows": [w("09:00", "12:00", 60)]}]}),
            "bad_weekday",
        ),
        (
            json!({"days": [{"weekday": 0, "windows": [w("09:00", "12:00", 60)]}]}),
            "bad_weekday",
        ),
        (
            json!({"days": [{"weekday": 2, "windows": []}, {"weekday": 2, "windows": []}]}),
            "bad_weekday",
        ),
        (one(json!([w("12:00", "09:00", 60)])), "bad_window"),
        (one(json!([w("09:00", "09:40", 60)])), "bad_window"),
        (
            one(
                json!([{"opens": "09:00", "closes": "12:00", "slot_minutes": 60, "buffer_minutes": 121}]),
            ),
            "buffer_out_of_range",
        ),
    ] {
        assert_error(put(body.clone(), Some("\"v0\"")).await, 422, code).await;
    }
    let good = one(json!([w("09:00", "12:00", 60)]));
    // Without If-Match: 428; with one we could not have issued, or a stale one: 412.
    assert_error(put(good.clone(), None).await, 428, "precondition_required").await;
    assert_error(
        put(good.clone(), Some("\"v3\"")).await,
        412,
        "precondition_failed",
    )
    .await;
    assert_error(
        put(good.clone(), Some("whatever")).await,
        412,
        "precondition_failed",
    )
    .await;
    expect(
        put(good.clone(), Some("\"v0\"")).await,
        200,
        "first template",
    )
    .await;
    assert_error(
        put(good.clone(), Some("\"v0\"")).await,
        412,
        "precondition_failed",
    )
    .await;

    // Only the room's own court's officers and admins write it; its supervisor only reads it.
    for (user, status) in [
        ("xihu.coord", 403),
        ("zj.officer", 403),
        ("spc.supervisor", 403),
    ] {
        let token = app.login(user).await;
        let res = send(
            &app,
            Method::PUT,
            &path,
            Some(&token),
            Some(&good),
            &[("If-Match", "\"v1\"")],
        )
        .await;
        assert_error(res, status, "forbidden").await;
    }
    let supervisor = app.login("spc.supervisor").await;
    expect(
        send(&app, Method::GET, &path, Some(&supervisor), None, &[]).await,
        200,
        "supervisor reads",
    )
    .await;
    let zj = app.login("zj.officer").await;
    assert_error(
        send(&app, Method::GET, &path, Some(&zj), None, &[]).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        send(
            &app,
            Method::PUT,
            "/api/v1/host-rooms/999999/template",
            Some(&officer),
            Some(&good),
            &[("If-Match", "\"v0\"")],
        )
        .await,
        404,
        "not_found",
    )
    .await;
    // Nothing of the refused attempts was kept.
    let (etag, body) = expect_tagged(
        send(&app, Method::GET, &path, Some(&officer), None, &[]).await,
        200,
        "template",
    )
    .await;
    assert_eq!(etag, "\"v1\"");
    assert_eq!(
        body["days"],
        json!([{"weekday": 1, "theme": null, "windows": [w("09:00", "12:00", 60)]}])
    );
}
on_both_backends!(
    template_bad_input,
    a_bad_template_is_refused_with_its_own_code
);

// --- the national calendar -----------------------------------------------------------------------

async fn a_make_up_working_day_opens_and_a_holiday_closes(app: TestApp) {
    let d = demo(&app).await;
    let admin = app.login("admin").await;
    let officer = app.login("spc.officer").await;
    let room = d.spc_room3;

    // A Saturday about three weeks ahead (inside the 28-day horizon) worked on Monday's
    // timetable, the Sunday after on Tuesday's (themed), and the Wednesday before as a holiday.
    let saturday = (15..22)
        .map(|o| today() + Duration::days(o))
        .find(|d| d.weekday() == Weekday::Sat)
        .unwrap();
    let sunday = saturday + Duration::days(1);
    let wednesday = saturday - Duration::days(3);
    let before = national_calendar(&app, &admin, wednesday, sunday).await;
    for day in [saturday, sunday, wednesday] {
        assert!(
            !before.contains_key(&day),
            "{day} is an ordinary day in the shipped calendar"
        );
    }
    assert!(
        calendar_of_day(&app, &officer, room, saturday)
            .await
            .is_empty()
    );
    assert!(
        calendar_of_day(&app, &officer, room, sunday)
            .await
            .is_empty()
    );
    assert_eq!(
        starts(
            &calendar_of_day(&app, &officer, room, wednesday).await,
            "starts_at"
        ),
        ["09:00", "10:15", "14:00", "15:15", "16:30"]
    );

    let years: Vec<i32> = (wednesday.year()..=sunday.year()).collect();
    let mut originals = HashMap::new();
    for year in &years {
        originals.insert(
            *year,
            app.get_ok(&format!("/api/v1/calendar/{year}"), &admin)
                .await,
        );
    }
    let extra = [
        json!({"day": saturday.to_string(), "kind": "workday", "name": "测试调休上班", "follows_weekday": 1}),
        json!({"day": sunday.to_string(), "kind": "workday", "name": "测试调休上班", "follows_weekday": 2}),
        json!({"day": wednesday.to_string(), "kind": "holiday", "name": "测试假日"}),
    ];
    let mut added = 0;
    let mut withdrawn = 0;
    for year in &years {
        let mut entries = originals[year].as_array().unwrap().clone();
        entries.extend(
            extra
                .iter()
                .filter(|e| e["day"].as_str().unwrap().starts_with(&year.to_string()))
                .cloned(),
        );
        let report = expect(
            send(
                &app,
                Method::PUT,
                &format!("/api/v1/calendar/{year}"),
                Some(&admin),
                Some(&json!(entries)),
                &[],
            )
            .await,
            200,
            "put calendar",
        )
        .await;
        added += report["added"].as_u64().unwrap();
        withdrawn += report["withdrawn"].as_u64().unwrap();
    }
    assert_eq!(
        (added, withdrawn),
        (10, 5),
        "five slots each on the two make-up days, five withdrawn on the holiday"
    );

    let sat = calendar_of_day(&app, &officer, room, saturday).await;
    assert_eq!(
        starts(&sat, "starts_at"),
        ["09:00", "10:15", "14:00", "15:15", "16:30"]
    );
    assert!(
        sat.iter().all(|s| s["theme"].is_null()),
        "Monday's timetable has no theme: {sat:?}"
    );
    let sun = calendar_of_day(&app, &officer, room, sunday).await;
    assert_eq!(sun.len(), 5);
    assert!(
        sun.iter().all(|s| s["theme"] == "criminal"),
        "Tuesday's theme follows: {sun:?}"
    );
    assert!(
        calendar_of_day(&app, &officer, room, wednesday)
            .await
            .is_empty()
    );
    let coord = app.login("xihu.coord").await;
    assert_eq!(
        room_day_slots(&app, &coord, d.spc, room, saturday)
            .await
            .len(),
        5
    );
    assert!(
        room_day_slots(&app, &coord, d.spc, room, wednesday)
            .await
            .is_empty()
    );
    let now_listed = national_calendar(&app, &admin, wednesday, sunday).await;
    assert_eq!(now_listed[&saturday]["follows_weekday"], 1);
    assert_eq!(now_listed[&wednesday]["kind"], "holiday");

    // Putting the year back restores the ordinary week.
    for year in &years {
        expect(
            send(
                &app,
                Method::PUT,
                &format!("/api/v1/calendar/{year}"),
                Some(&admin),
                Some(&originals[year]),
                &[],
            )
            .await,
            200,
            "restore calendar",
        )
        .await;
    }
    assert!(
        calendar_of_day(&app, &officer, room, saturday)
            .await
            .is_empty()
    );
    assert_eq!(
        calendar_of_day(&app, &officer, room, wednesday).await.len(),
        5
    );
}
on_both_backends!(
    calendar_make_up_days,
    a_make_up_working_day_opens_and_a_holiday_closes
);

async fn a_bad_calendar_is_refused_and_only_the_top_courts_admin_keeps_it(app: TestApp) {
    let d = demo(&app).await;
    let admin = app.login("admin").await;
    let put = |year: i32, body: Value, token: String| {
        let app = &app;
        async move {
            send(
                app,
                Method::PUT,
                &format!("/api/v1/calendar/{year}"),
                Some(&token),
                Some(&body),
                &[],
            )
            .await
        }
    };
    let year = 2031;
    for (body, row, code) in [
        (
            json!([{"day": "2031-05-10", "kind": "workday", "name": "调休"}]),
            1,
            "calendar_bad_follows",
        ),
        (
            json!([{"day": "2031-05-10", "kind": "workday", "name": "调休", "follows_weekday": 6}]),
            1,
            "calendar_bad_follows",
        ),
        (
            json!([{"day": "2031-05-10", "kind": "workday", "name": "调休", "follows_weekday": 0}]),
            1,
            "calendar_bad_follows",
        ),
        (
            json!([{"day": "2031-05-01", "kind": "holiday", "name": "劳动节", "follows_weekday": 1}]),
            1,
            "calendar_bad_follows",
        ),
        (
            json!([{"day": "2031-05-01", "kind": "vacation", "name": "劳动节"}]),
            1,
            "calendar_bad_kind",
        ),
        (
            json!([{"day": "2032-05-01", "kind": "holiday", "name": "劳动节"}]),
            1,
            "calendar_wrong_year",
        ),
        (
            json!([{"day": "2031-13-01", "kind": "holiday", "name": "劳动节"}]),
            1,
            "calendar_bad_day",
        ),
        (
            json!([{"day": "2031-5-1", "kind": "holiday", "name": "劳动节"}]),
            1,
            "calendar_bad_day",
        ),
        (
            json!([{"day": "2031-05-01", "kind": "holiday", "name": " "}]),
            1,
            "calendar_unnamed",
        ),
        (
            json!([{"day": "2031-05-01", "kind": "holiday", "name": "劳动节"}, {"day": "2031-05-01", "kind": "holiday", "name": "劳动节"}]),
            2,
            "calendar_duplicate_day",
        ),
        // A make-up working day is a Saturday or Sunday (7 May 2031 is a Wednesday).
        (
            json!([{"day": "2031-05-01", "kind": "holiday", "name": "劳动节"}, {"day": "2031-05-07", "kind": "workday", "name": "调休", "follows_weekday": 1}]),
            2,
            "calendar_makeup_not_weekend",
        ),
    ] {
        let refused = assert_error(
            put(year, body.clone(), admin.clone()).await,
            422,
            "calendar_invalid",
        )
        .await;
        assert_eq!(
            (&refused["errors"][0]["row"], &refused["errors"][0]["code"]),
            (&json!(row), &json!(code)),
            "{body}: {refused}"
        );
    }
    assert_error(
        put(1999, json!([]), admin.clone()).await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        send(
            &app,
            Method::GET,
            "/api/v1/calendar/2101",
            Some(&admin),
            None,
            &[],
        )
        .await,
        422,
        "invalid_input",
    )
    .await;
    assert_eq!(
        app.get_ok("/api/v1/calendar/2031", &admin).await,
        json!([]),
        "nothing was kept"
    );

    // The calendar is national: an officer may not set it, nor the admin of a court below the top.
    let good = json!([{"day": "2031-05-01", "kind": "holiday", "name": "劳动节"}]);
    let officer = app.login("spc.officer").await;
    assert_error(put(year, good.clone(), officer).await, 403, "forbidden").await;
    expect(
        app.post(
            "/api/v1/admin/users",
            Some(&admin),
            &json!({"court_id": d.high, "username": "zj.admin", "display_name": "浙江高院 管理员",
                    "role": "admin", "password": common::DEMO_PASSWORD}),
        )
        .await,
        201,
        "a high-court admin",
    )
    .await;
    let zj_admin = app.login("zj.admin").await;
    assert_error(
        put(year, good.clone(), zj_admin.clone()).await,
        403,
        "forbidden",
    )
    .await;
    // Everyone signed in may read it.
    assert_eq!(
        app.get_ok("/api/v1/calendar/2031", &zj_admin).await,
        json!([])
    );
    let saved = expect(
        put(year, good.clone(), admin.clone()).await,
        200,
        "top admin",
    )
    .await;
    assert_eq!(saved["flagged_bookings"], json!([]));
    assert_eq!(
        app.get_ok("/api/v1/calendar/2031", &zj_admin).await,
        json!([{"day": "2031-05-01", "kind": "holiday", "name": "劳动节", "follows_weekday": null}])
    );
    // The shipped year is there.
    let shipped = app.get_ok("/api/v1/calendar/2026", &zj_admin).await;
    assert!(
        shipped
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["day"] == "2026-10-01" && e["kind"] == "holiday"),
        "{shipped}"
    );
    assert!(
        shipped
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["day"] == "2026-02-14" && e["follows_weekday"] == 1),
        "{shipped}"
    );
}
on_both_backends!(
    calendar_bad_input,
    a_bad_calendar_is_refused_and_only_the_top_courts_admin_keeps_it
);

// --- date overrides ------------------------------------------------------------------------------

async fn overrides_close_a_day_flagging_its_booking_and_open_a_sunday(app: TestApp) {
    let d = demo(&app).await;
    let officer = app.login("spc.officer").await;
    let coord = app.login("xihu.coord").await;
    let room = d.spc_room3;
    let path = format!("/api/v1/host-rooms/{room}/overrides");
    let calendar = national_calendar(&app, &officer, today(), today() + Duration::days(30)).await;

    // A booking on an ordinary (unthemed) working day, which the court then closes.
    let day = first_day(2, &calendar, |t| matches!(t, Some(1 | 3 | 4 | 5)));
    let slots = room_day_slots(&app, &coord, d.spc, room, day).await;
    assert_eq!(slots.len(), 5, "{day}: {slots:?}");
    let case = cases(&app, &coord).await[0];
    let booking = booked(&app, &coord, id(&slots[1]["id"]), case, d.xihu_rooms[0]).await;
    let booking_id = id(&booking["id"]);
    let mut db = db(&app).await;
    assert_eq!(db.count_topic("booking.needs_move").await, 0);

    let closed = expect(
        app.post(
            &path,
            Some(&officer),
            &json!({"day": day.to_string(), "note": "院务会"}),
        )
        .await,
        201,
        "close a day",
    )
    .await;
    assert_eq!(closed["published"]["withdrawn"], 5);
    assert_eq!(closed["published"]["added"], 0);
    assert_eq!(closed["published"]["flagged_bookings"], json!([booking_id]));
    // Nothing more to book that day; the booked slot stays, withdrawn, its booking flagged, not cancelled.
    assert!(
        room_day_slots(&app, &coord, d.spc, room, day)
            .await
            .is_empty()
    );
    let left = calendar_of_day(&app, &officer, room, day).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        (
            &left[0]["booking_id"],
            &left[0]["withdrawn"],
            &left[0]["needs_move"]
        ),
        (&json!(booking_id), &json!(true), &json!(true))
    );
    let (etag, b) = get_booking(&app, &coord, booking_id).await;
    assert_eq!(
        (b["status"].as_str(), b["needs_move"].as_bool()),
        (Some("booked"), Some(true)),
        "{b}"
    );
    assert_eq!(
        etag, "\"v2\"",
        "flagging is a change the coordinator's ETag sees"
    );
    assert_eq!(
        db.count_topic("booking.needs_move").await,
        1,
        "the coordinator is told through the outbox"
    );
    // Booking the withdrawn slot again is refused.
    let other_case = cases(&app, &coord).await[1];
    let res = book(
        &app,
        &coord,
        id(&slots[1]["id"]),
        other_case,
        d.xihu_rooms[1],
    )
    .await;
    assert_eq!(res.status(), 409);

    // An extra opening on a Sunday: slots appear, the ordinary week is untouched.
    let sunday = (1..8)
        .map(|o| today() + Duration::days(o))
        .find(|d| d.weekday() == Weekday::Sun)
        .unwrap();
    assert!(
        calendar_of_day(&app, &officer, room, sunday)
            .await
            .is_empty()
    );
    let opened = expect(
        app.post(
            &path,
            Some(&officer),
            &json!({"day": sunday.to_string(), "note": "周日加班接访",
                    "window": {"opens": "09:00", "closes": "11:00", "slot_minutes": 30, "buffer_minutes": 0}}),
        )
        .await,
        201,
        "open a Sunday",
    )
    .await;
    assert_eq!(
        (
            &opened["published"]["added"],
            &opened["published"]["withdrawn"]
        ),
        (&json!(4), &json!(0))
    );
    assert_eq!(
        starts(
            &calendar_of_day(&app, &officer, room, sunday).await,
            "starts_at"
        ),
        ["09:00", "09:30", "10:00", "10:30"]
    );
    assert_eq!(
        room_day_slots(&app, &coord, d.spc, room, sunday)
            .await
            .len(),
        4
    );

    let listed = app.get_ok(&path, &officer).await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    let closed_row = listed.iter().find(|o| o["id"] == closed["id"]).unwrap();
    assert_eq!(
        (closed_row["kind"].as_str(), closed_row["day"].as_str()),
        (Some("closed"), Some(day.to_string().as_str()))
    );
    let open_row = listed.iter().find(|o| o["id"] == opened["id"]).unwrap();
    assert_eq!(
        (
            open_row["kind"].as_str(),
            open_row["opens"].as_str(),
            open_row["slot_minutes"].as_i64()
        ),
        (Some("open"), Some("09:00"), Some(30))
    );

    // Removing the opening withdraws its slots again.
    let removed = expect(
        send(
            &app,
            Method::DELETE,
            &format!("{path}/{}", id(&opened["id"])),
            Some(&officer),
            None,
            &[],
        )
        .await,
        200,
        "remove override",
    )
    .await;
    assert_eq!(removed["withdrawn"], 4);
    assert!(
        calendar_of_day(&app, &officer, room, sunday)
            .await
            .is_empty()
    );
    assert_error(
        send(
            &app,
            Method::DELETE,
            &format!("{path}/{}", id(&opened["id"])),
            Some(&officer),
            None,
            &[],
        )
        .await,
        404,
        "not_found",
    )
    .await;
    // Reopening the closed day brings its free slots back; the booking is still live.
    expect(
        send(
            &app,
            Method::DELETE,
            &format!("{path}/{}", id(&closed["id"])),
            Some(&officer),
            None,
            &[],
        )
        .await,
        200,
        "reopen",
    )
    .await;
    assert_eq!(
        room_day_slots(&app, &coord, d.spc, room, day).await.len(),
        4
    );
    assert_eq!(
        get_booking(&app, &coord, booking_id).await.1["status"],
        "booked"
    );
}
on_both_backends!(
    overrides,
    overrides_close_a_day_flagging_its_booking_and_open_a_sunday
);

async fn a_bad_override_is_refused(app: TestApp) {
    let d = demo(&app).await;
    let officer = app.login("spc.officer").await;
    let path = format!("/api/v1/host-rooms/{}/overrides", d.spc_room3);
    let tomorrow = (today() + Duration::days(1)).to_string();
    let window = |o: &str, c: &str, s: u32| json!({"opens": o, "closes": c, "slot_minutes": s, "buffer_minutes": 0});
    for (body, code) in [
        (
            json!({"day": (today() - Duration::days(1)).to_string()}),
            "day_past",
        ),
        (
            json!({"day": tomorrow, "window": window("09:00", "12:00", 20)}),
            "slot_length_out_of_range",
        ),
        (
            json!({"day": tomorrow, "window": window("12:00", "09:00", 30)}),
            "bad_window",
        ),
        (
            json!({"day": tomorrow, "window": window("9:00", "12:00", 30)}),
            "bad_time",
        ),
        (
            json!({"day": tomorrow, "theme": "criminal"}),
            "invalid_input",
        ),
        (json!({"day": "2026/12/01"}), "invalid_input"),
        (
            json!({"day": tomorrow, "note": "长".repeat(501)}),
            "invalid_input",
        ),
    ] {
        assert_error(app.post(&path, Some(&officer), &body).await, 422, code).await;
    }
    let coord = app.login("xihu.coord").await;
    assert_error(
        app.post(&path, Some(&coord), &json!({"day": tomorrow}))
            .await,
        403,
        "forbidden",
    )
    .await;
    let zj = app.login("zj.officer").await;
    assert_error(
        app.post(&path, Some(&zj), &json!({"day": tomorrow})).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(app.get_ok(&path, &officer).await, json!([]));
}
on_both_backends!(override_bad_input, a_bad_override_is_refused);

// --- settings and booking rules ------------------------------------------------------------------

async fn settings_carry_an_etag_and_only_the_host_court_sets_them(app: TestApp) {
    let d = demo(&app).await;
    let officer = app.login("spc.officer").await;
    let path = format!("/api/v1/host-courts/{}/settings", d.spc);
    let (etag, s) = expect_tagged(
        send(&app, Method::GET, &path, Some(&officer), None, &[]).await,
        200,
        "settings",
    )
    .await;
    assert_eq!(etag, "\"v1\"", "the demo set them once");
    assert_eq!(
        (s["auto_approve"].as_bool(), s["min_notice_hours"].as_i64()),
        (Some(true), Some(0))
    );
    // A court below may read them; a court beside may not.
    let coord = app.login("xihu.coord").await;
    expect(
        send(&app, Method::GET, &path, Some(&coord), None, &[]).await,
        200,
        "court below reads",
    )
    .await;
    let zj = app.login("zj.officer").await;
    expect(
        send(&app, Method::GET, &path, Some(&zj), None, &[]).await,
        200,
        "court below reads",
    )
    .await;
    assert_error(
        send(
            &app,
            Method::GET,
            &format!("/api/v1/host-courts/{}/settings", d.shangcheng),
            Some(&coord),
            None,
            &[],
        )
        .await,
        403,
        "forbidden",
    )
    .await;

    let mut body = s.clone();
    body["horizon_days"] = json!(14);
    assert_error(
        send(&app, Method::PUT, &path, Some(&officer), Some(&body), &[]).await,
        428,
        "precondition_required",
    )
    .await;
    assert_error(
        send(
            &app,
            Method::PUT,
            &path,
            Some(&officer),
            Some(&body),
            &[("If-Match", "\"v0\"")],
        )
        .await,
        412,
        "precondition_failed",
    )
    .await;
    assert_error(
        send(
            &app,
            Method::PUT,
            &path,
            Some(&coord),
            Some(&body),
            &[("If-Match", "\"v1\"")],
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        send(
            &app,
            Method::PUT,
            &path,
            Some(&zj),
            Some(&body),
            &[("If-Match", "\"v1\"")],
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    for (field, bad) in [
        ("horizon_days", json!(0)),
        ("horizon_days", json!(181)),
        ("min_notice_hours", json!(721)),
        ("weekly_limit_per_local_court", json!(0)),
        ("active_limit_per_petitioner", json!(0)),
    ] {
        let mut b = s.clone();
        b[field] = bad;
        assert_error(
            send(
                &app,
                Method::PUT,
                &path,
                Some(&officer),
                Some(&b),
                &[("If-Match", "\"v1\"")],
            )
            .await,
            422,
            "invalid_input",
        )
        .await;
    }
    let (etag, saved) = expect_tagged(
        send(
            &app,
            Method::PUT,
            &path,
            Some(&officer),
            Some(&body),
            &[("If-Match", "\"v1\"")],
        )
        .await,
        200,
        "put settings",
    )
    .await;
    assert_eq!(
        (
            etag.as_str(),
            saved["horizon_days"].as_i64(),
            saved["court_id"].as_i64()
        ),
        ("\"v2\"", Some(14), Some(d.spc))
    );
    // A court that never set its rules has the defaults at version 0 ("v0" to set them first).
    let admin = app.login("admin").await;
    let new_court = expect(
        app.post(
            "/api/v1/admin/courts",
            Some(&admin),
            &json!({"name": "测试中级人民法院", "level": "intermediate", "parent_id": d.high}),
        )
        .await,
        201,
        "a new court",
    )
    .await;
    let new_court = id(&new_court["id"]);
    expect(
        app.post(
            "/api/v1/admin/users",
            Some(&admin),
            &json!({"court_id": new_court, "username": "ceshi.officer", "display_name": "测试中院 法官",
                    "role": "officer", "password": common::DEMO_PASSWORD}),
        )
        .await,
        201,
        "its officer",
    )
    .await;
    let own = app.login("ceshi.officer").await;
    let path = format!("/api/v1/host-courts/{new_court}/settings");
    let (etag, s) = expect_tagged(
        send(&app, Method::GET, &path, Some(&own), None, &[]).await,
        200,
        "defaults",
    )
    .await;
    assert_eq!(etag, "\"v0\"");
    assert_eq!(
        (
            s["horizon_days"].as_i64(),
            s["min_notice_hours"].as_i64(),
            s["auto_approve"].as_bool(),
            s["active_limit_per_petitioner"].as_i64()
        ),
        (Some(28), Some(24), Some(false), Some(2))
    );
    assert_eq!(s["weekly_limit_per_local_court"], Value::Null);
    let mut body = s.clone();
    body["auto_approve"] = json!(true);
    assert_error(
        send(
            &app,
            Method::PUT,
            &path,
            Some(&own),
            Some(&body),
            &[("If-Match", "\"v1\"")],
        )
        .await,
        412,
        "precondition_failed",
    )
    .await;
    let (etag, saved) = expect_tagged(
        send(
            &app,
            Method::PUT,
            &path,
            Some(&own),
            Some(&body),
            &[("If-Match", "\"v0\"")],
        )
        .await,
        200,
        "first settings",
    )
    .await;
    assert_eq!(
        (etag.as_str(), saved["auto_approve"].as_bool()),
        ("\"v1\"", Some(true))
    );
}
on_both_backends!(
    settings,
    settings_carry_an_etag_and_only_the_host_court_sets_them
);

async fn a_booking_within_the_minimum_notice_is_too_soon(app: TestApp) {
    let d = demo(&app).await;
    let officer = app.login("spc.officer").await;
    let coord = app.login("xihu.coord").await;
    let slots = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(2), 1).await;
    set_rules(&app, &officer, d.spc, json!({"min_notice_hours": 48})).await;
    let case = cases(&app, &coord).await[0];
    let v = assert_error(
        book(&app, &coord, id(&slots[0]["id"]), case, d.xihu_rooms[0]).await,
        422,
        "too_soon",
    )
    .await;
    assert!(v["message"].as_str().unwrap().contains("48"), "{v}");
    // The slot list no longer offers what could not be booked.
    assert!(
        open_slots(
            &app,
            &coord,
            d.spc,
            Utc::now(),
            Utc::now() + Duration::hours(40)
        )
        .await
        .is_empty()
    );
}
on_both_backends!(
    rule_min_notice,
    a_booking_within_the_minimum_notice_is_too_soon
);

async fn a_booking_beyond_the_horizon_is_refused(app: TestApp) {
    let d = demo(&app).await;
    let officer = app.login("spc.officer").await;
    let coord = app.login("xihu.coord").await;
    // A hand-made slot some 30 hours ahead, then a one-day horizon.
    let slots = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(30), 1).await;
    set_rules(&app, &officer, d.spc, json!({"horizon_days": 1})).await;
    let case = cases(&app, &coord).await[0];
    assert_error(
        book(&app, &coord, id(&slots[0]["id"]), case, d.xihu_rooms[0]).await,
        422,
        "beyond_horizon",
    )
    .await;
    // Within the horizon it books.
    let near = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 1).await;
    booked(&app, &coord, id(&near[0]["id"]), case, d.xihu_rooms[0]).await;
}
on_both_backends!(rule_horizon, a_booking_beyond_the_horizon_is_refused);

async fn shrinking_the_horizon_leaves_later_bookings_alone(app: TestApp) {
    let d = demo(&app).await;
    let officer = app.login("spc.officer").await;
    let coord = app.login("xihu.coord").await;
    let calendar = national_calendar(&app, &officer, today(), today() + Duration::days(30)).await;
    let day = first_day(10, &calendar, |t| matches!(t, Some(1 | 3 | 4 | 5)));
    let slots = room_day_slots(&app, &coord, d.spc, d.spc_room3, day).await;
    let case = cases(&app, &coord).await[0];
    let booking = id(&booked(&app, &coord, id(&slots[0]["id"]), case, d.xihu_rooms[0]).await["id"]);
    let mut db = db(&app).await;
    set_rules(&app, &officer, d.spc, json!({"horizon_days": 3})).await;
    // No new bookings that far ahead…
    assert!(
        room_day_slots(&app, &coord, d.spc, d.spc_room3, day)
            .await
            .is_empty()
    );
    // …but the booking made within the old horizon is as good as before: nothing to move, and
    // nobody told to move it.
    let (etag, b) = get_booking(&app, &coord, booking).await;
    assert_eq!(
        (
            b["status"].as_str(),
            b["needs_move"].as_bool(),
            etag.as_str()
        ),
        (Some("booked"), Some(false), "\"v1\""),
        "a shorter horizon flagged a valid booking: {b}"
    );
    assert_eq!(db.count_topic("booking.needs_move").await, 0);
}
on_both_backends!(
    rule_horizon_shrink,
    shrinking_the_horizon_leaves_later_bookings_alone
);

async fn a_themed_day_takes_only_its_kind_of_case(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let officer = app.login("spc.officer").await;
    let calendar = national_calendar(&app, &officer, today(), today() + Duration::days(30)).await;
    let tuesday = first_day(1, &calendar, |t| t == Some(2));
    let slots = room_day_slots(&app, &coord, d.spc, d.spc_room3, tuesday).await;
    assert_eq!(slots.len(), 5);
    assert!(slots.iter().all(|s| s["theme"] == "criminal"), "{slots:?}");
    let case = cases(&app, &coord).await[0];
    let slot = id(&slots[0]["id"]);
    let v = assert_error(
        book(&app, &coord, slot, case, d.xihu_rooms[0]).await,
        422,
        "theme_mismatch",
    )
    .await;
    assert!(v["message"].as_str().unwrap().contains("criminal"), "{v}");

    // Only the case's own court sets its category, to a known one.
    let path = format!("/api/v1/cases/{case}/category");
    assert_error(
        send(
            &app,
            Method::PUT,
            &path,
            Some(&officer),
            Some(&json!({"category": "criminal"})),
            &[],
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let other = app.login("shangcheng.coord").await;
    assert_error(
        send(
            &app,
            Method::PUT,
            &path,
            Some(&other),
            Some(&json!({"category": "criminal"})),
            &[],
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        send(
            &app,
            Method::PUT,
            &path,
            Some(&coord),
            Some(&json!({"category": "murder"})),
            &[],
        )
        .await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        send(
            &app,
            Method::PUT,
            "/api/v1/cases/999999/category",
            Some(&coord),
            Some(&json!({"category": "civil"})),
            &[],
        )
        .await,
        404,
        "not_found",
    )
    .await;
    expect(
        send(
            &app,
            Method::PUT,
            &path,
            Some(&coord),
            Some(&json!({"category": "criminal"})),
            &[],
        )
        .await,
        204,
        "set category",
    )
    .await;
    // A criminal case also books an unthemed slot. (Before issue 14 this booked a second live
    // SPC session for the same case; one live booking per case and host court now refuses that,
    // so the unthemed slot is tried first, then cancelled.)
    let plain = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 1).await;
    let unthemed = booked(&app, &coord, id(&plain[0]["id"]), case, d.xihu_rooms[1]).await;
    let (etag, _) = get_booking(&app, &coord, id(&unthemed["id"])).await;
    expect(
        send(
            &app,
            Method::POST,
            &format!("/api/v1/bookings/{}/cancel", id(&unthemed["id"])),
            Some(&coord),
            Some(&json!({"reason": "改约主题日"})),
            &[("If-Match", &etag)],
        )
        .await,
        200,
        "cancel the unthemed booking",
    )
    .await;
    booked(&app, &coord, slot, case, d.xihu_rooms[0]).await;
}
on_both_backends!(rule_theme, a_themed_day_takes_only_its_kind_of_case);

async fn a_local_court_gets_its_weekly_share_only(app: TestApp) {
    let d = demo(&app).await;
    let officer = app.login("spc.officer").await;
    let coord = app.login("xihu.coord").await;
    let calendar = national_calendar(&app, &officer, today(), today() + Duration::days(30)).await;
    let day = first_day(1, &calendar, |t| matches!(t, Some(1 | 3 | 4 | 5)));
    let slots = room_day_slots(&app, &coord, d.spc, d.spc_room3, day).await;
    assert!(slots.len() >= 3);
    set_rules(
        &app,
        &officer,
        d.spc,
        json!({"weekly_limit_per_local_court": 1}),
    )
    .await;
    let xihu_cases = cases(&app, &coord).await;
    booked(
        &app,
        &coord,
        id(&slots[0]["id"]),
        xihu_cases[0],
        d.xihu_rooms[0],
    )
    .await;
    let v = assert_error(
        book(
            &app,
            &coord,
            id(&slots[1]["id"]),
            xihu_cases[1],
            d.xihu_rooms[1],
        )
        .await,
        409,
        "weekly_limit_reached",
    )
    .await;
    assert!(v["message"].as_str().unwrap().contains('1'), "{v}");
    // Another local court has a share of its own.
    let other = app.login("shangcheng.coord").await;
    let their_case = cases(&app, &other).await[0];
    booked(
        &app,
        &other,
        id(&slots[1]["id"]),
        their_case,
        d.shangcheng_room,
    )
    .await;
    // The limit is per host court: the high court still takes 西湖's cases.
    let high = future_slots(&app, &coord, d.high, d.high_room, Duration::hours(1), 1).await;
    booked(
        &app,
        &coord,
        id(&high[0]["id"]),
        xihu_cases[1],
        d.xihu_rooms[1],
    )
    .await;
}
on_both_backends!(rule_weekly_limit, a_local_court_gets_its_weekly_share_only);

async fn a_petitioner_holds_only_so_many_bookings(app: TestApp) {
    let d = demo(&app).await;
    let officer = app.login("spc.officer").await;
    let coord = app.login("xihu.coord").await;
    set_rules(
        &app,
        &officer,
        d.spc,
        json!({"active_limit_per_petitioner": 1}),
    )
    .await;
    let slots = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 3).await;
    let xihu_cases = cases(&app, &coord).await;
    booked(
        &app,
        &coord,
        id(&slots[0]["id"]),
        xihu_cases[0],
        d.xihu_rooms[0],
    )
    .await;
    // A second live booking of the same case with the same host court is refused by the
    // one-live-booking-per-case rule before the petitioner's limit is counted (before issue 14 a
    // direct booking skipped that rule and met only `petitioner_limit_reached`).
    assert_ineligible(
        book(
            &app,
            &coord,
            id(&slots[1]["id"]),
            xihu_cases[0],
            d.xihu_rooms[0],
        )
        .await,
        "already_booked",
    )
    .await;
    // Another petitioner books.
    booked(
        &app,
        &coord,
        id(&slots[2]["id"]),
        xihu_cases[1],
        d.xihu_rooms[0],
    )
    .await;
}
on_both_backends!(
    rule_petitioner_limit,
    a_petitioner_holds_only_so_many_bookings
);

async fn a_slot_in_the_past_cannot_be_booked(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let ends = Utc::now() - Duration::hours(3);
    let slot = db(&app)
        .await
        .insert_slot(d.spc_room1, ends - Duration::minutes(30), ends)
        .await;
    let case = cases(&app, &coord).await[0];
    assert_error(
        book(&app, &coord, slot, case, d.xihu_rooms[0]).await,
        409,
        "slot_past",
    )
    .await;
}
on_both_backends!(rule_slot_past, a_slot_in_the_past_cannot_be_booked);

async fn a_court_that_reviews_takes_applications_not_bookings(app: TestApp) {
    let d = demo(&app).await;
    let officer = app.login("spc.officer").await;
    let coord = app.login("xihu.coord").await;
    let slots = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 1).await;
    set_rules(&app, &officer, d.spc, json!({"auto_approve": false})).await;
    let case = cases(&app, &coord).await[0];
    assert_error(
        book(&app, &coord, id(&slots[0]["id"]), case, d.xihu_rooms[0]).await,
        422,
        "application_required",
    )
    .await;
    let mut db = db(&app).await;
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM bookings WHERE slot_id = $1",
            id(&slots[0]["id"])
        )
        .await,
        0
    );
}
on_both_backends!(
    rule_application_required,
    a_court_that_reviews_takes_applications_not_bookings
);

async fn a_booking_takes_the_host_room_the_local_room_and_the_officer_at_once(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let me = app.get_ok("/api/v1/me", &coord).await;
    let officer_id = id(&me["id"]);
    let c = cases(&app, &coord).await;
    let first = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 1).await;
    let at = time_of(&first[0]["starts_at"]);
    let same_time: Vec<Value> = open_slots(&app, &coord, d.spc, at, at + Duration::minutes(1))
        .await
        .into_iter()
        .filter(|s| {
            s["host_room"]["id"] != d.spc_room1
                && time_of(&s["ends_at"]) == time_of(&first[0]["ends_at"])
        })
        .collect();
    assert!(!same_time.is_empty(), "another SPC room has a slot at {at}");
    let post = |slot: &Value, case: i64, room: i64, officer: Option<i64>| {
        let body = json!({"slot_id": slot["id"], "case_id": case, "local_room_id": room, "local_officer_id": officer});
        let (app, coord) = (&app, coord.clone());
        async move { app.post("/api/v1/bookings", Some(&coord), &body).await }
    };
    // The accompanying officer must be an active user of the booking court.
    let other = app.login("shangcheng.coord").await;
    let other_id = id(&app.get_ok("/api/v1/me", &other).await["id"]);
    assert_error(
        post(&first[0], c[0], d.xihu_rooms[0], Some(other_id)).await,
        422,
        "invalid_input",
    )
    .await;
    expect(
        post(&first[0], c[0], d.xihu_rooms[0], Some(officer_id)).await,
        201,
        "first",
    )
    .await;
    // At the same time, in another host room: not from the same local room, nor with the same officer.
    assert_error(
        post(&same_time[0], c[1], d.xihu_rooms[0], None).await,
        409,
        "local_room_busy",
    )
    .await;
    assert_error(
        post(&same_time[0], c[1], d.xihu_rooms[1], Some(officer_id)).await,
        409,
        "local_officer_busy",
    )
    .await;
    expect(
        post(&same_time[0], c[1], d.xihu_rooms[1], None).await,
        201,
        "another room, no officer",
    )
    .await;
    // The database is the last guard for the host room too: a slot that overlaps a booked one
    // (as after a template change) cannot be booked.
    let overlapping = db(&app)
        .await
        .insert_slot(
            d.spc_room1,
            at + Duration::minutes(15),
            at + Duration::minutes(45),
        )
        .await;
    assert_error(
        book(
            &app,
            &other,
            overlapping,
            cases(&app, &other).await[0],
            d.shangcheng_room,
        )
        .await,
        409,
        "host_room_busy",
    )
    .await;
}
on_both_backends!(
    booking_resources,
    a_booking_takes_the_host_room_the_local_room_and_the_officer_at_once
);

// --- holds ---------------------------------------------------------------------------------------

/// Coordinator A holds a slot on `one`; B is refused it on `two`, both the hold and the booking;
/// A books it.
async fn holds_keep_others_off(one: &TestApp, two: &TestApp) {
    let d = demo(one).await;
    let a = one.login("xihu.coord").await;
    let b = two.login("shangcheng.coord").await;
    let slots = future_slots(one, &a, d.spc, d.spc_room1, Duration::hours(1), 2).await;
    let slot = id(&slots[0]["id"]);
    let held = expect(
        one.post("/api/v1/holds", Some(&a), &json!({"slot_id": slot}))
            .await,
        201,
        "hold",
    )
    .await;
    assert_eq!(held["slot_id"], slot);
    let expires = time_of(&held["expires_at"]);
    assert!(
        expires > Utc::now() + Duration::seconds(240)
            && expires < Utc::now() + Duration::seconds(320),
        "five minutes: {held}"
    );
    // Holding again refreshes one's own hold.
    expect(
        one.post("/api/v1/holds", Some(&a), &json!({"slot_id": slot}))
            .await,
        201,
        "hold again",
    )
    .await;

    assert_error(
        two.post("/api/v1/holds", Some(&b), &json!({"slot_id": slot}))
            .await,
        409,
        "slot_held",
    )
    .await;
    let b_case = cases(two, &b).await[0];
    assert_error(
        book(two, &b, slot, b_case, d.shangcheng_room).await,
        409,
        "slot_held",
    )
    .await;
    // The holder books it (on either instance), and then it is taken, not held.
    let a_case = cases(one, &a).await[0];
    booked(two, &a, slot, a_case, d.xihu_rooms[0]).await;
    assert_error(
        two.post("/api/v1/holds", Some(&b), &json!({"slot_id": slot}))
            .await,
        409,
        "slot_taken",
    )
    .await;
    assert_error(
        book(two, &b, slot, b_case, d.shangcheng_room).await,
        409,
        "slot_taken",
    )
    .await;

    // A hold let go frees the slot for others.
    let other = id(&slots[1]["id"]);
    expect(
        one.post("/api/v1/holds", Some(&a), &json!({"slot_id": other}))
            .await,
        201,
        "hold",
    )
    .await;
    assert_error(
        two.post("/api/v1/holds", Some(&b), &json!({"slot_id": other}))
            .await,
        409,
        "slot_held",
    )
    .await;
    // Only the holder's release counts.
    expect(
        send(
            two,
            Method::DELETE,
            &format!("/api/v1/holds/{other}"),
            Some(&b),
            None,
            &[],
        )
        .await,
        204,
        "release by other",
    )
    .await;
    assert_error(
        two.post("/api/v1/holds", Some(&b), &json!({"slot_id": other}))
            .await,
        409,
        "slot_held",
    )
    .await;
    expect(
        send(
            one,
            Method::DELETE,
            &format!("/api/v1/holds/{other}"),
            Some(&a),
            None,
            &[],
        )
        .await,
        204,
        "release",
    )
    .await;
    expect(
        two.post("/api/v1/holds", Some(&b), &json!({"slot_id": other}))
            .await,
        201,
        "hold after release",
    )
    .await;
    booked(one, &b, other, b_case, d.shangcheng_room).await;

    // Only coordinators hold, only slots above their court, only slots that exist.
    let officer = one.login("spc.officer").await;
    assert_error(
        one.post("/api/v1/holds", Some(&officer), &json!({"slot_id": other}))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        one.post("/api/v1/holds", Some(&a), &json!({"slot_id": 99_999_999}))
            .await,
        422,
        "invalid_input",
    )
    .await;
}

async fn holds_in_process(app: TestApp) {
    holds_keep_others_off(&app, &app).await;
}
on_both_backends!(holds_local, holds_in_process);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_in_redis_are_seen_by_every_instance() {
    let Some(redis) = common::shared_redis() else {
        return;
    };
    let Some(one) = TestApp::spawn_with(Backend::Postgres, with_redis(redis)).await else {
        return;
    };
    let two = one.spawn_peer().await;
    holds_keep_others_off(&one, &two).await;
}

// --- Idempotency-Key -----------------------------------------------------------------------------

async fn an_idempotency_key_replays_the_first_answer(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let slots = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 3).await;
    let xihu_cases = cases(&app, &coord).await;
    let body = json!({"slot_id": slots[0]["id"], "case_id": xihu_cases[0], "local_room_id": d.xihu_rooms[0]});
    let post = |body: Value, key: String| {
        let app = &app;
        let coord = coord.clone();
        async move {
            send(
                app,
                Method::POST,
                "/api/v1/bookings",
                Some(&coord),
                Some(&body),
                &[("Idempotency-Key", &key)],
            )
            .await
        }
    };

    let first = post(body.clone(), "key-1".into()).await;
    assert!(first.headers().get("Idempotent-Replayed").is_none());
    let first = expect(first, 201, "first").await;
    let again = post(body.clone(), "key-1".into()).await;
    assert_eq!(
        again
            .headers()
            .get("Idempotent-Replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let again = expect(again, 201, "replay").await;
    assert_eq!(again, first, "the same answer, join code and all");
    let mut db = db(&app).await;
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM bookings WHERE slot_id = $1",
            id(&slots[0]["id"])
        )
        .await,
        1
    );
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM bookings WHERE case_id = $1",
            xihu_cases[0]
        )
        .await,
        1
    );

    // The same key with another body: 422, and nothing booked.
    let other = json!({"slot_id": slots[1]["id"], "case_id": xihu_cases[1], "local_room_id": d.xihu_rooms[1]});
    assert_error(
        post(other.clone(), "key-1".into()).await,
        422,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM bookings WHERE slot_id = $1",
            id(&slots[1]["id"])
        )
        .await,
        0
    );
    // Without a key, every request is a new one.
    let without_key = book(
        &app,
        &coord,
        id(&slots[1]["id"]),
        xihu_cases[1],
        d.xihu_rooms[1],
    )
    .await;
    assert!(without_key.headers().get("Idempotent-Replayed").is_none());
    expect(without_key, 201, "no key").await;

    // A refused request leaves nothing behind: its retry runs again (and is refused again).
    // (西湖's third case has no high court review on record: it comes jointly with the high court.)
    let taken = json!({"slot_id": slots[0]["id"], "case_id": xihu_cases[2], "local_room_id": d.xihu_rooms[1],
                       "joint_court_id": d.high});
    assert_error(post(taken.clone(), "key-2".into()).await, 409, "slot_taken").await;
    let retry = post(taken.clone(), "key-2".into()).await;
    assert!(retry.headers().get("Idempotent-Replayed").is_none());
    assert_error(retry, 409, "slot_taken").await;

    // A bad key: empty, too long, or not visible ASCII.
    for key in [String::new(), "k".repeat(129), "a key".into()] {
        assert_error(post(body.clone(), key).await, 400, "bad_idempotency_key").await;
    }
    expect(
        post(taken.clone(), "k".repeat(128)).await,
        409,
        "128 characters is fine",
    )
    .await;
}
on_both_backends!(idempotency, an_idempotency_key_replays_the_first_answer);

/// An application under a key keeps its answer after the work (`Keeper::Once`), where a booking
/// keeps it in its own transaction: the retry is the first answer replayed, not 409
/// `idempotency_in_flight`, and one application is made.
async fn an_application_under_a_key_replays_its_first_answer(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let case = cases(&app, &coord).await[0];
    let body = json!({"case_id": case, "host_court_id": d.high, "local_room_id": d.xihu_rooms[0],
                      "preferred": preferred(), "reason": "执行款长期未到位，申请视频接访"});
    let post = || {
        send(
            &app,
            Method::POST,
            "/api/v1/applications",
            Some(&coord),
            Some(&body),
            &[("Idempotency-Key", "apply-1")],
        )
    };
    let first = post().await;
    assert!(first.headers().get("Idempotent-Replayed").is_none());
    let first = expect(first, 201, "first").await;
    let again = post().await;
    assert_eq!(
        again
            .headers()
            .get("Idempotent-Replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(expect(again, 201, "replay").await, first);
    let mut db = db(&app).await;
    assert_eq!(
        db.count("SELECT COUNT(*) FROM applications WHERE case_id = $1", case)
            .await,
        1
    );
}
on_both_backends!(
    idempotent_application,
    an_application_under_a_key_replays_its_first_answer
);

async fn concurrent_retries_with_one_key_make_one_booking(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let slots = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 1).await;
    let case = cases(&app, &coord).await[0];
    let body =
        json!({"slot_id": slots[0]["id"], "case_id": case, "local_room_id": d.xihu_rooms[0]});
    let tries = (0..8).map(|_| {
        let (app, coord, body) = (&app, coord.clone(), body.clone());
        async move {
            let res = send(
                app,
                Method::POST,
                "/api/v1/bookings",
                Some(&coord),
                Some(&body),
                &[("Idempotency-Key", "same")],
            )
            .await;
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    });
    let answers = futures_util::future::join_all(tries).await;
    let ids: std::collections::BTreeSet<i64> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| id(&b["id"]))
        .collect();
    assert_eq!(
        ids.len(),
        1,
        "one booking id among the answers: {answers:?}"
    );
    for (status, body) in &answers {
        assert!(
            *status == 201 || (*status == 409 && body["code"] == "idempotency_in_flight"),
            "{status}: {body}"
        );
    }
    assert_eq!(
        db(&app)
            .await
            .count("SELECT COUNT(*) FROM bookings WHERE case_id = $1", case)
            .await,
        1
    );
}
on_both_backends!(
    idempotency_concurrent,
    concurrent_retries_with_one_key_make_one_booking
);

// --- ETags: cancel and reschedule ----------------------------------------------------------------

async fn cancelling_needs_the_current_etag_and_offers_other_slots(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let officer = app.login("spc.officer").await;
    let slots = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 1).await;
    let case = cases(&app, &coord).await[0];
    let b = booked(&app, &coord, id(&slots[0]["id"]), case, d.xihu_rooms[0]).await;
    let booking = id(&b["id"]);
    let (etag, detail) = get_booking(&app, &coord, booking).await;
    assert_eq!(etag, "\"v1\"");
    assert_eq!(
        (
            detail["status"].as_str(),
            detail["version"].as_i64(),
            detail["host_court_id"].as_i64(),
            detail["needs_move"].as_bool()
        ),
        (Some("booked"), Some(1), Some(d.spc), Some(false))
    );
    // The host court sees it; a court beside does not.
    assert_eq!(get_booking(&app, &officer, booking).await.0, "\"v1\"");
    let other = app.login("shangcheng.coord").await;
    assert_error(
        send(
            &app,
            Method::GET,
            &format!("/api/v1/bookings/{booking}"),
            Some(&other),
            None,
            &[],
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        send(
            &app,
            Method::GET,
            "/api/v1/bookings/99999999",
            Some(&coord),
            None,
            &[],
        )
        .await,
        404,
        "not_found",
    )
    .await;

    let path = format!("/api/v1/bookings/{booking}/cancel");
    let reason = json!({"reason": "承办法官临时出差"});
    assert_error(
        send(
            &app,
            Method::POST,
            &path,
            Some(&officer),
            Some(&reason),
            &[],
        )
        .await,
        428,
        "precondition_required",
    )
    .await;
    assert_error(
        send(
            &app,
            Method::POST,
            &path,
            Some(&officer),
            Some(&reason),
            &[("If-Match", "\"v7\"")],
        )
        .await,
        412,
        "precondition_failed",
    )
    .await;
    assert_error(
        send(
            &app,
            Method::POST,
            &path,
            Some(&officer),
            Some(&json!({"reason": " "})),
            &[("If-Match", "\"v1\"")],
        )
        .await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        send(
            &app,
            Method::POST,
            &path,
            Some(&other),
            Some(&reason),
            &[("If-Match", "\"v1\"")],
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let (etag, cancelled) = expect_tagged(
        send(
            &app,
            Method::POST,
            &path,
            Some(&officer),
            Some(&reason),
            &[("If-Match", "\"v1\"")],
        )
        .await,
        200,
        "host cancels",
    )
    .await;
    assert_eq!(etag, "\"v2\"");
    assert_eq!(
        (
            cancelled["booking"]["status"].as_str(),
            cancelled["booking"]["cancel_reason"].as_str()
        ),
        (Some("cancelled"), Some("承办法官临时出差"))
    );
    let alternatives = cancelled["alternatives"].as_array().unwrap();
    assert!(
        !alternatives.is_empty(),
        "the coordinator is offered other slots: {cancelled}"
    );
    for s in alternatives {
        assert_eq!(s["court"]["id"], d.spc, "{s}");
        assert!(time_of(&s["starts_at"]) > Utc::now(), "{s}");
    }
    // Once cancelled, it stays so; a second cancel with the new ETag is not live any more.
    assert_error(
        send(
            &app,
            Method::POST,
            &path,
            Some(&coord),
            Some(&reason),
            &[("If-Match", "\"v2\"")],
        )
        .await,
        409,
        "booking_not_live",
    )
    .await;
    assert_eq!(
        get_booking(&app, &coord, booking).await.1["status"],
        "cancelled"
    );
    // The slot is free again.
    booked(&app, &coord, id(&slots[0]["id"]), case, d.xihu_rooms[0]).await;
}
on_both_backends!(
    etag_cancel,
    cancelling_needs_the_current_etag_and_offers_other_slots
);

async fn rescheduling_keeps_the_history_and_retires_the_old_code(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let slots = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 3).await;
    let case = cases(&app, &coord).await[0];
    let old = booked(&app, &coord, id(&slots[0]["id"]), case, d.xihu_rooms[0]).await;
    let old_id = id(&old["id"]);
    let old_code = old["join_code"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/bookings/{old_id}/reschedule");
    let body = json!({"slot_id": slots[2]["id"], "reason": "信访人申请改期"});
    assert_error(
        send(&app, Method::POST, &path, Some(&coord), Some(&body), &[]).await,
        428,
        "precondition_required",
    )
    .await;
    assert_error(
        send(
            &app,
            Method::POST,
            &path,
            Some(&coord),
            Some(&body),
            &[("If-Match", "\"v2\"")],
        )
        .await,
        412,
        "precondition_failed",
    )
    .await;
    let moved = expect(
        send(
            &app,
            Method::POST,
            &path,
            Some(&coord),
            Some(&body),
            &[("If-Match", "\"v1\"")],
        )
        .await,
        201,
        "reschedule",
    )
    .await;
    let new_id = id(&moved["id"]);
    assert_ne!(new_id, old_id);
    assert_eq!(
        (
            moved["rescheduled_from"].as_i64(),
            moved["slot_id"].as_i64()
        ),
        (Some(old_id), slots[2]["id"].as_i64())
    );
    let new_code = moved["join_code"].as_str().unwrap();
    assert_ne!(new_code, old_code);

    let (etag, was) = get_booking(&app, &coord, old_id).await;
    assert_eq!(etag, "\"v2\"");
    assert_eq!(
        (was["status"].as_str(), was["cancel_reason"].as_str()),
        (Some("cancelled"), Some("信访人申请改期"))
    );
    let (_, now) = get_booking(&app, &coord, new_id).await;
    assert_eq!(
        (
            now["status"].as_str(),
            now["rescheduled_from"].as_i64(),
            now["case_id"].as_i64(),
            now["local_room_id"].as_i64()
        ),
        (
            Some("booked"),
            Some(old_id),
            Some(case),
            Some(d.xihu_rooms[0])
        )
    );
    // The old slot is free again; the old booking cannot move twice.
    assert!(
        open_slots(
            &app,
            &coord,
            d.spc,
            Utc::now(),
            Utc::now() + Duration::days(2)
        )
        .await
        .iter()
        .any(|s| s["id"] == slots[0]["id"]),
        "the old slot is offered again"
    );
    let again = json!({"slot_id": slots[1]["id"], "reason": "再次改期"});
    assert_error(
        send(
            &app,
            Method::POST,
            &path,
            Some(&coord),
            Some(&again),
            &[("If-Match", "\"v2\"")],
        )
        .await,
        409,
        "booking_not_live",
    )
    .await;
    // A move to a taken slot leaves the booking as it was.
    let other = app.login("shangcheng.coord").await;
    let their_case = cases(&app, &other).await[0];
    booked(
        &app,
        &other,
        id(&slots[1]["id"]),
        their_case,
        d.shangcheng_room,
    )
    .await;
    let new_path = format!("/api/v1/bookings/{new_id}/reschedule");
    let res = send(
        &app,
        Method::POST,
        &new_path,
        Some(&coord),
        Some(&again),
        &[("If-Match", "\"v1\"")],
    )
    .await;
    assert_eq!(res.status(), 409, "{}", res.text().await.unwrap());
    assert_eq!(
        get_booking(&app, &coord, new_id).await.1["status"],
        "booked"
    );
    // The old notice's code no longer admits anyone (answered as a wrong code would be:
    // issue 15 item 6).
    assert_error(
        app.post("/api/v1/auth/join", None, &json!({"code": old_code}))
            .await,
        401,
        "bad_join_code",
    )
    .await;
}
on_both_backends!(
    etag_reschedule,
    rescheduling_keeps_the_history_and_retires_the_old_code
);

// --- applications and review ---------------------------------------------------------------------

fn preferred() -> Value {
    json!([{"from": iso(Utc::now() + Duration::minutes(30)), "to": iso(Utc::now() + Duration::days(2))}])
}

async fn apply(app: &TestApp, coord: &str, body: Value) -> reqwest::Response {
    app.post("/api/v1/applications", Some(coord), &body).await
}

async fn get_application(app: &TestApp, token: &str, application: i64) -> (String, Value) {
    expect_tagged(
        send(
            app,
            Method::GET,
            &format!("/api/v1/applications/{application}"),
            Some(token),
            None,
            &[],
        )
        .await,
        200,
        "get application",
    )
    .await
}

async fn review(
    app: &TestApp,
    officer: &str,
    application: i64,
    etag: &str,
    body: Value,
) -> reqwest::Response {
    send(
        app,
        Method::POST,
        &format!("/api/v1/applications/{application}/review"),
        Some(officer),
        Some(&body),
        &[("If-Match", etag)],
    )
    .await
}

async fn answer(
    app: &TestApp,
    coord: &str,
    application: i64,
    etag: &str,
    body: Value,
) -> reqwest::Response {
    send(
        app,
        Method::POST,
        &format!("/api/v1/applications/{application}/answer"),
        Some(coord),
        Some(&body),
        &[("If-Match", etag)],
    )
    .await
}

async fn eligibility_refusals_name_the_rule(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let zj = app.login("zj.officer").await;
    let c = cases(&app, &coord).await;
    let ask = |case: i64, host: i64, extra: Value| {
        let mut body = json!({"case_id": case, "host_court_id": host, "local_room_id": d.xihu_rooms[0],
                              "preferred": preferred(), "reason": "执行款长期未到位，申请视频接访"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    // Only a court above.
    assert_ineligible(
        apply(&app, &coord, ask(c[0], d.shangcheng, json!({}))).await,
        "host_not_above",
    )
    .await;
    assert_ineligible(
        apply(&app, &coord, ask(c[0], d.xihu, json!({}))).await,
        "host_not_above",
    )
    .await;
    // The SPC after the high court's review, or jointly with it: 西湖's third case has no
    // review in its records, and saying so in `facts` does not change that.
    assert_ineligible(
        apply(&app, &coord, ask(c[2], d.spc, json!({}))).await,
        "spc_needs_high_court_review",
    )
    .await;
    assert_ineligible(
        apply(
            &app,
            &coord,
            ask(c[2], d.spc, json!({"facts": {"high_court_reviewed": true}})),
        )
        .await,
        "spc_needs_high_court_review",
    )
    .await;
    assert_ineligible(
        apply(
            &app,
            &coord,
            ask(
                c[2],
                d.spc,
                json!({"facts": {"joint_with_high_court": true}}),
            ),
        )
        .await,
        "spc_needs_high_court_review",
    )
    .await;
    assert_ineligible(
        apply(
            &app,
            &coord,
            ask(
                c[0],
                d.high,
                json!({"facts": {"joint_with_high_court": true}}),
            ),
        )
        .await,
        "joint_court_missing",
    )
    .await;
    // One open application per case.
    set_rules(&app, &zj, d.high, json!({"auto_approve": false})).await;
    let first = expect(
        apply(&app, &coord, ask(c[0], d.high, json!({}))).await,
        201,
        "application",
    )
    .await;
    assert_eq!(
        (first["application"]["status"].as_str(), &first["booking"]),
        (Some("pending"), &Value::Null)
    );
    assert_ineligible(
        apply(&app, &coord, ask(c[0], d.high, json!({}))).await,
        "application_open",
    )
    .await;
    assert_ineligible(
        apply(
            &app,
            &coord,
            ask(c[0], d.spc, json!({"facts": {"high_court_reviewed": true}})),
        )
        .await,
        "application_open",
    )
    .await;
    // A case already booked with the court.
    let slot = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 1).await;
    booked(&app, &coord, id(&slot[0]["id"]), c[1], d.xihu_rooms[1]).await;
    assert_ineligible(
        apply(
            &app,
            &coord,
            ask(c[1], d.spc, json!({"facts": {"high_court_reviewed": true}})),
        )
        .await,
        "already_booked",
    )
    .await;
    // Plain bad input is not an eligibility matter.
    assert_error(
        apply(&app, &coord, ask(c[2], d.high, json!({"preferred": []}))).await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        apply(&app, &coord, ask(c[2], d.high, json!({"reason": " "}))).await,
        422,
        "invalid_input",
    )
    .await;
    let past = json!([{"from": iso(Utc::now() - Duration::days(2)), "to": iso(Utc::now() - Duration::days(1))}]);
    assert_error(
        apply(&app, &coord, ask(c[2], d.high, json!({"preferred": past}))).await,
        422,
        "invalid_input",
    )
    .await;
    // Nothing but the one application was written.
    assert_eq!(
        app.get_ok("/api/v1/applications", &coord)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A joint reception with the high court satisfies the SPC's rule.
    let joint = expect(
        apply(
            &app,
            &coord,
            ask(
                c[2],
                d.spc,
                json!({"joint_court_id": d.high, "facts": {"joint_with_high_court": true}}),
            ),
        )
        .await,
        201,
        "joint application",
    )
    .await;
    assert_eq!(joint["application"]["joint_court_id"], d.high);
}
on_both_backends!(application_eligibility, eligibility_refusals_name_the_rule);

/// The high court reviews every application; 西湖's coordinator applies for its first case.
async fn pending_application(
    app: &TestApp,
    d: &Demo,
    coord: &str,
    zj: &str,
    case_index: usize,
) -> i64 {
    let case = cases(app, coord).await[case_index];
    let created = expect(
        apply(
            app,
            coord,
            json!({"case_id": case, "host_court_id": d.high, "local_room_id": d.xihu_rooms[0],
                   "preferred": preferred(), "reason": "执行款长期未到位，申请视频接访",
                   "facts": {"note": "已多次来信"}}),
        )
        .await,
        201,
        "application",
    )
    .await;
    assert_eq!(created["application"]["status"], "pending");
    assert_eq!(created["booking"], Value::Null);
    let a = id(&created["application"]["id"]);
    let queue = app.get_ok("/api/v1/applications?status=pending", zj).await;
    assert!(
        queue.as_array().unwrap().iter().any(|x| x["id"] == a),
        "in the host court's queue: {queue}"
    );
    a
}

async fn a_proposed_slot_accepted_is_booked(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let zj = app.login("zj.officer").await;
    set_rules(&app, &zj, d.high, json!({"auto_approve": false})).await;
    let a = pending_application(&app, &d, &coord, &zj, 0).await;
    let slot = future_slots(&app, &coord, d.high, d.high_room, Duration::hours(2), 1).await;
    let slot_id = id(&slot[0]["id"]);

    let (etag, _) = get_application(&app, &zj, a).await;
    assert_eq!(etag, "\"v1\"");
    let propose = json!({"action": "propose", "slot_id": slot_id, "note": "建议改在此时段"});
    assert_error(
        send(
            &app,
            Method::POST,
            &format!("/api/v1/applications/{a}/review"),
            Some(&zj),
            Some(&propose),
            &[],
        )
        .await,
        428,
        "precondition_required",
    )
    .await;
    assert_error(
        review(&app, &coord, a, "\"v1\"", propose.clone()).await,
        403,
        "forbidden",
    )
    .await;
    let spc_officer = app.login("spc.officer").await;
    assert_error(
        review(&app, &spc_officer, a, "\"v1\"", propose.clone()).await,
        403,
        "forbidden",
    )
    .await;
    let spc_slot = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 1).await;
    assert_error(
        review(
            &app,
            &zj,
            a,
            "\"v1\"",
            json!({"action": "propose", "slot_id": spc_slot[0]["id"], "note": "x"}),
        )
        .await,
        422,
        "invalid_input",
    )
    .await;
    let (etag, proposed) = expect_tagged(
        review(&app, &zj, a, "\"v1\"", propose.clone()).await,
        200,
        "propose",
    )
    .await;
    assert_eq!(etag, "\"v2\"");
    assert_eq!(
        (
            proposed["status"].as_str(),
            proposed["proposed_slot_id"].as_i64(),
            proposed["decision_note"].as_str()
        ),
        (Some("proposed"), Some(slot_id), Some("建议改在此时段"))
    );
    assert_error(
        review(&app, &zj, a, "\"v1\"", propose.clone()).await,
        412,
        "precondition_failed",
    )
    .await;

    // The coordinator accepts with the current ETag: booked, with the join code in the answer.
    assert_error(
        answer(&app, &coord, a, "\"v1\"", json!({"action": "accept"})).await,
        412,
        "precondition_failed",
    )
    .await;
    assert_error(
        answer(&app, &zj, a, "\"v2\"", json!({"action": "accept"})).await,
        403,
        "forbidden",
    )
    .await;
    let (etag, accepted) = expect_tagged(
        answer(&app, &coord, a, "\"v2\"", json!({"action": "accept"})).await,
        200,
        "accept",
    )
    .await;
    assert_eq!(etag, "\"v3\"");
    let booking = &accepted["booking"];
    assert!(
        booking["join_code"].as_str().is_some_and(|c| c.len() == 14),
        "{accepted}"
    );
    assert_eq!(booking["slot_id"], slot_id);
    assert_eq!(accepted["application"]["status"], "approved");
    assert_eq!(accepted["application"]["booking_id"], booking["id"]);
    let (_, detail) = get_booking(&app, &zj, id(&booking["id"])).await;
    assert_eq!(
        (detail["status"].as_str(), detail["application_id"].as_i64()),
        (Some("booked"), Some(a))
    );
    // Decided: nothing more to review or answer.
    assert_error(
        review(
            &app,
            &zj,
            a,
            "\"v3\"",
            json!({"action": "reject", "reason": "晚了"}),
        )
        .await,
        409,
        "application_not_open",
    )
    .await;
    assert_error(
        answer(&app, &coord, a, "\"v3\"", json!({"action": "withdraw"})).await,
        409,
        "application_not_open",
    )
    .await;
    assert!(
        !open_slots(
            &app,
            &coord,
            d.high,
            Utc::now(),
            Utc::now() + Duration::days(2)
        )
        .await
        .iter()
        .any(|s| s["id"] == slot_id)
    );
}
on_both_backends!(
    application_propose_accept,
    a_proposed_slot_accepted_is_booked
);

async fn more_material_then_approval_into_a_slot(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let zj = app.login("zj.officer").await;
    set_rules(&app, &zj, d.high, json!({"auto_approve": false})).await;
    let a = pending_application(&app, &d, &coord, &zj, 0).await;

    let (etag, asked) = expect_tagged(
        review(
            &app,
            &zj,
            a,
            "\"v1\"",
            json!({"action": "more_info", "note": "请补充执行案件材料"}),
        )
        .await,
        200,
        "more info",
    )
    .await;
    assert_eq!(
        (
            etag.as_str(),
            asked["status"].as_str(),
            asked["decision_note"].as_str()
        ),
        ("\"v2\"", Some("more_info"), Some("请补充执行案件材料"))
    );
    // Nothing was proposed, so nothing to accept.
    assert_error(
        answer(&app, &coord, a, "\"v2\"", json!({"action": "accept"})).await,
        409,
        "nothing_proposed",
    )
    .await;
    let amend = json!({"action": "amend", "reason": "已补充执行材料，申请视频接访",
                       "facts": {"high_court_reviewed": false, "note": "补充了执行裁定书"}, "preferred": preferred()});
    assert_error(
        answer(&app, &coord, a, "\"v1\"", amend.clone()).await,
        412,
        "precondition_failed",
    )
    .await;
    let (etag, amended) = expect_tagged(
        answer(&app, &coord, a, "\"v2\"", amend.clone()).await,
        200,
        "amend",
    )
    .await;
    assert_eq!(etag, "\"v3\"");
    let app_row = &amended["application"];
    assert_eq!(
        (
            app_row["status"].as_str(),
            app_row["reason"].as_str(),
            app_row["facts"]["note"].as_str()
        ),
        (
            Some("pending"),
            Some("已补充执行材料，申请视频接访"),
            Some("补充了执行裁定书")
        )
    );
    // Amending again is not possible: it is pending, not waiting for material.
    assert_error(
        answer(&app, &coord, a, "\"v3\"", amend.clone()).await,
        409,
        "application_not_open",
    )
    .await;

    let slot = future_slots(&app, &coord, d.high, d.high_room, Duration::hours(2), 1).await;
    let slot_id = id(&slot[0]["id"]);
    let (etag, approved) = expect_tagged(
        review(
            &app,
            &zj,
            a,
            "\"v3\"",
            json!({"action": "approve", "slot_id": slot_id}),
        )
        .await,
        200,
        "approve",
    )
    .await;
    assert_eq!(etag, "\"v4\"");
    assert_eq!(approved["status"], "approved");
    let booking = id(&approved["booking_id"]);
    let (_, detail) = get_booking(&app, &coord, booking).await;
    assert_eq!(
        (
            detail["status"].as_str(),
            detail["slot_id"].as_i64(),
            detail["application_id"].as_i64()
        ),
        (Some("booked"), Some(slot_id), Some(a))
    );
    // The coordinator prints the notice with a fresh code.
    let code = expect(
        app.post(
            &format!("/api/v1/bookings/{booking}/join-code"),
            Some(&coord),
            &json!({}),
        )
        .await,
        200,
        "join code",
    )
    .await;
    assert!(code["join_code"].as_str().is_some_and(|c| c.len() == 14));
    assert_error(
        review(
            &app,
            &zj,
            a,
            "\"v4\"",
            json!({"action": "approve", "slot_id": slot_id}),
        )
        .await,
        409,
        "application_not_open",
    )
    .await;
}
on_both_backends!(
    application_more_info_approve,
    more_material_then_approval_into_a_slot
);

async fn a_rejection_carries_its_reason(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let zj = app.login("zj.officer").await;
    set_rules(&app, &zj, d.high, json!({"auto_approve": false})).await;
    let a = pending_application(&app, &d, &coord, &zj, 0).await;
    assert_error(
        review(
            &app,
            &zj,
            a,
            "\"v1\"",
            json!({"action": "reject", "reason": ""}),
        )
        .await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        review(&app, &zj, a, "\"v1\"", json!({"action": "postpone"})).await,
        422,
        "invalid_input",
    )
    .await;
    let (_, rejected) = expect_tagged(
        review(
            &app,
            &zj,
            a,
            "\"v1\"",
            json!({"action": "reject", "reason": "不属于本院管辖，请向中院申请"}),
        )
        .await,
        200,
        "reject",
    )
    .await;
    assert_eq!(
        (
            rejected["status"].as_str(),
            rejected["decision_note"].as_str(),
            &rejected["booking_id"]
        ),
        (
            Some("rejected"),
            Some("不属于本院管辖，请向中院申请"),
            &Value::Null
        )
    );
    let (etag, seen) = get_application(&app, &coord, a).await;
    assert_eq!(
        (etag.as_str(), seen["status"].as_str()),
        ("\"v2\"", Some("rejected"))
    );
    assert_error(
        answer(&app, &coord, a, "\"v2\"", json!({"action": "accept"})).await,
        409,
        "nothing_proposed",
    )
    .await;
    assert_error(
        answer(&app, &coord, a, "\"v2\"", json!({"action": "withdraw"})).await,
        409,
        "application_not_open",
    )
    .await;
    // Another court's coordinator does not see it; the case may apply again.
    let other = app.login("shangcheng.coord").await;
    assert_error(
        send(
            &app,
            Method::GET,
            &format!("/api/v1/applications/{a}"),
            Some(&other),
            None,
            &[],
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert!(
        app.get_ok("/api/v1/applications", &other)
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        app.get_ok("/api/v1/applications?status=rejected", &zj)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_error(
        send(
            &app,
            Method::GET,
            "/api/v1/applications?status=lost",
            Some(&zj),
            None,
            &[],
        )
        .await,
        422,
        "invalid_input",
    )
    .await;
    pending_application(&app, &d, &coord, &zj, 0).await;
}
on_both_backends!(application_reject, a_rejection_carries_its_reason);

async fn auto_approval_books_the_chosen_slot_at_once(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let c = cases(&app, &coord).await;
    let slots = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 2).await;
    let slot_id = id(&slots[1]["id"]);
    let created = expect(
        apply(
            &app,
            &coord,
            json!({"case_id": c[0], "host_court_id": d.spc, "local_room_id": d.xihu_rooms[0],
                   "preferred": preferred(), "reason": "申请视频接访", "slot_id": slot_id,
                   "facts": {"high_court_reviewed": true}}),
        )
        .await,
        201,
        "auto-approved application",
    )
    .await;
    let booking = &created["booking"];
    assert!(
        booking["join_code"].as_str().is_some_and(|c| c.len() == 14),
        "{created}"
    );
    assert_eq!(booking["slot_id"], slot_id);
    assert_eq!(created["application"]["status"], "approved");
    assert_eq!(created["application"]["booking_id"], booking["id"]);
    assert!(created.get("booking_refused").is_none(), "{created}");
    let (_, detail) = get_booking(&app, &coord, id(&booking["id"])).await;
    assert_eq!(
        (detail["application_id"].as_i64(), detail["status"].as_str()),
        (created["application"]["id"].as_i64(), Some("booked"))
    );

    // Without a chosen slot, the first free one in the preferred ranges.
    let window = json!([{"from": slots[0]["starts_at"], "to": slots[0]["ends_at"]}]);
    let created = expect(
        apply(
            &app,
            &coord,
            json!({"case_id": c[1], "host_court_id": d.spc, "local_room_id": d.xihu_rooms[1],
                   "preferred": window, "reason": "申请视频接访", "facts": {"high_court_reviewed": true}}),
        )
        .await,
        201,
        "auto-approved application",
    )
    .await;
    assert_eq!(created["application"]["status"], "approved");
    let booked_slot = created["booking"]["slot_id"].as_i64().unwrap();
    let starts = time_of(&slots[0]["starts_at"]);
    let (_, detail) = get_booking(&app, &coord, id(&created["booking"]["id"])).await;
    assert_eq!(detail["slot_id"], booked_slot);
    assert!(
        time_of(&detail["starts_at"]) >= starts
            && time_of(&detail["ends_at"]) <= time_of(&slots[0]["ends_at"])
    );

    // A chosen slot that is taken: the application stands and waits for review.
    let created = expect(
        apply(
            &app,
            &coord,
            json!({"case_id": c[2], "host_court_id": d.spc, "local_room_id": d.xihu_rooms[0], "joint_court_id": d.high,
                   "preferred": preferred(), "reason": "申请视频接访", "slot_id": slot_id,
                   "facts": {"high_court_reviewed": true}}),
        )
        .await,
        201,
        "application with a taken slot",
    )
    .await;
    assert_eq!(
        (
            created["application"]["status"].as_str(),
            &created["booking"]
        ),
        (Some("pending"), &Value::Null)
    );
    assert!(
        created["booking_refused"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{created}"
    );
}
on_both_backends!(
    application_auto_approve,
    auto_approval_books_the_chosen_slot_at_once
);

async fn a_refused_chosen_slot_leaves_no_application_behind(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let case = cases(&app, &coord).await[0];
    let high_slot = future_slots(&app, &coord, d.high, d.high_room, Duration::hours(1), 1).await;
    let ask = |slot: Value| {
        json!({"case_id": case, "host_court_id": d.spc, "local_room_id": d.xihu_rooms[0],
               "preferred": preferred(), "reason": "申请视频接访", "slot_id": slot,
               "facts": {"high_court_reviewed": true}})
    };
    // A chosen slot of another court, or one that does not exist: refused as bad input, and
    // then nothing may be kept (or else the application stands, pending, and says why).
    for slot in [high_slot[0]["id"].clone(), json!(99_999_999)] {
        let res = apply(&app, &coord, ask(slot.clone())).await;
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        let kept = app.get_ok("/api/v1/applications", &coord).await;
        if status == 422 {
            assert_eq!(body["code"], "invalid_input", "{body}");
            assert_eq!(
                kept,
                json!([]),
                "a refused application must not be written (slot {slot}): {body}"
            );
        } else {
            assert_eq!(status, 201, "{body}");
            assert_eq!(
                (body["application"]["status"].as_str(), &body["booking"]),
                (Some("pending"), &Value::Null)
            );
            assert!(body["booking_refused"].is_string(), "{body}");
            return;
        }
    }
    // Fixed, it goes through.
    let good = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 1).await;
    let created = expect(
        apply(&app, &coord, ask(good[0]["id"].clone())).await,
        201,
        "application",
    )
    .await;
    assert_eq!(created["application"]["status"], "approved", "{created}");
}
on_both_backends!(
    application_bad_chosen_slot,
    a_refused_chosen_slot_leaves_no_application_behind
);

async fn concurrent_applications_for_one_case_leave_one_open(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let zj = app.login("zj.officer").await;
    set_rules(&app, &zj, d.high, json!({"auto_approve": false})).await;
    let case = cases(&app, &coord).await[0];
    let body = json!({"case_id": case, "host_court_id": d.high, "local_room_id": d.xihu_rooms[0],
                      "preferred": preferred(), "reason": "执行款长期未到位，申请视频接访"});
    let tries = (0..8).map(|_| {
        let (app, coord, body) = (&app, coord.clone(), body.clone());
        async move {
            let res = app.post("/api/v1/applications", Some(&coord), &body).await;
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    });
    let answers = futures_util::future::join_all(tries).await;
    for (status, body) in &answers {
        assert!(
            *status == 201 || (*status == 422 && body["rule"] == "application_open"),
            "{status}: {body}"
        );
    }
    let open = app
        .get_ok("/api/v1/applications?status=pending", &coord)
        .await;
    assert_eq!(
        (
            answers.iter().filter(|(s, _)| *s == 201).count(),
            open.as_array().unwrap().len()
        ),
        (1, 1),
        "one open application per case, however many arrive at once; statuses {:?}",
        answers.iter().map(|(s, _)| *s).collect::<Vec<_>>()
    );
}
on_both_backends!(
    application_one_open_per_case,
    concurrent_applications_for_one_case_leave_one_open
);

// --- One set of booking rules on every path (issue 14) and the booking's scope (issue 15) -------

/// A direct booking and an application meet the same eligibility rules, and are refused with the
/// same code: here, a second live booking of one case with one host court, and a closed case.
async fn a_direct_booking_and_an_application_refuse_alike(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let slots = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 3).await;
    let case = cases(&app, &coord).await[0];
    booked(&app, &coord, id(&slots[0]["id"]), case, d.xihu_rooms[0]).await;
    // The case has a live booking with the SPC: a second one is refused by either path.
    assert_ineligible(
        book(&app, &coord, id(&slots[1]["id"]), case, d.xihu_rooms[0]).await,
        "already_booked",
    )
    .await;
    assert_ineligible(
        apply(
            &app,
            &coord,
            json!({"case_id": case, "host_court_id": d.spc, "local_room_id": d.xihu_rooms[0],
                   "preferred": preferred(), "reason": "申请视频接访",
                   "facts": {"high_court_reviewed": true}, "slot_id": slots[2]["id"]}),
        )
        .await,
        "already_booked",
    )
    .await;
}
on_both_backends!(
    rules_one_live_booking_per_case_and_host_on_every_path,
    a_direct_booking_and_an_application_refuse_alike
);

/// Only the booking's host court (or its local court's coordinator) moves a booking: an officer
/// of another court above is refused, and the booking stays where it was.
async fn only_the_host_court_reschedules(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let zj = app.login("zj.officer").await;
    let slots = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 2).await;
    let case = cases(&app, &coord).await[0];
    let b = booked(&app, &coord, id(&slots[0]["id"]), case, d.xihu_rooms[0]).await;
    let (etag, _) = get_booking(&app, &coord, id(&b["id"])).await;
    let path = format!("/api/v1/bookings/{}/reschedule", id(&b["id"]));
    let body = json!({"slot_id": slots[1]["id"], "reason": "改期"});
    assert_error(
        send(
            &app,
            Method::POST,
            &path,
            Some(&zj),
            Some(&body),
            &[("If-Match", &etag)],
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let (_, now) = get_booking(&app, &coord, id(&b["id"])).await;
    assert_eq!(now["status"], "booked", "{now}");
}
on_both_backends!(reschedule_scope, only_the_host_court_reschedules);

/// One coordinator cannot hold a court's whole timetable: past the per-user cap a new hold is
/// refused 409 `hold_cap_reached` naming the cap, and so is one past the per-court cap.
async fn hold_slot(app: &TestApp, token: &str, slot: &Value) -> reqwest::Response {
    app.post(
        "/api/v1/holds",
        Some(token),
        &json!({"slot_id": slot["id"]}),
    )
    .await
}

async fn holds_are_capped(app: TestApp) {
    let d = demo(&app).await;
    let a = app.login("xihu.coord").await;
    let b = app.login("shangcheng.coord").await;
    let slots = future_slots(&app, &a, d.spc, d.spc_room1, Duration::hours(1), 5).await;
    expect(hold_slot(&app, &a, &slots[0]).await, 201, "first hold").await;
    expect(hold_slot(&app, &a, &slots[1]).await, 201, "second hold").await;
    let refused = assert_error(
        hold_slot(&app, &a, &slots[2]).await,
        409,
        "hold_cap_reached",
    )
    .await;
    assert!(
        refused["message"].as_str().unwrap().contains('2'),
        "{refused}"
    );
    // Renewing one's own hold is never refused.
    expect(hold_slot(&app, &a, &slots[1]).await, 201, "renewed").await;
    expect(hold_slot(&app, &b, &slots[2]).await, 201, "another user").await;
    let refused = assert_error(
        hold_slot(&app, &b, &slots[3]).await,
        409,
        "hold_cap_reached",
    )
    .await;
    assert!(
        refused["message"].as_str().unwrap().contains('3'),
        "{refused}"
    );
    // A release frees a place under the cap.
    let released = app
        .client
        .delete(app.url(&format!("/api/v1/holds/{}", slots[0]["id"])))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(released.status().as_u16(), 204);
    expect(hold_slot(&app, &b, &slots[3]).await, 201, "after a release").await;
}

fn small_hold_caps(s: &mut courtlink::config::Settings) {
    s.scheduling.hold_cap_per_user = 2;
    s.scheduling.hold_cap_per_court = 3;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_are_capped_in_process() {
    let app = TestApp::spawn_with(Backend::Sqlite, small_hold_caps)
        .await
        .unwrap();
    holds_are_capped(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_are_capped_in_redis() {
    let Some(redis) = common::shared_redis() else {
        return;
    };
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |s| {
        with_redis(redis)(s);
        small_hold_caps(s);
    })
    .await
    else {
        return;
    };
    holds_are_capped(app).await;
}

// --- The SPC's rule reads the records, on every path (issue 17) --------------------------------

/// Moves booking `b` to `slot`, with the version the coordinator has just read.
async fn reschedule(app: &TestApp, coord: &str, b: &Value, slot: &Value) -> reqwest::Response {
    let (etag, _) = get_booking(app, coord, id(&b["id"])).await;
    send(
        app,
        Method::POST,
        &format!("/api/v1/bookings/{}/reschedule", id(&b["id"])),
        Some(coord),
        Some(&json!({"slot_id": slot["id"], "reason": "改期"})),
        &[("If-Match", &etag)],
    )
    .await
}

/// What a case that a booking was made for under the old checkbox looks like: the high court's
/// review is taken out of its records (the database only; the API never removes a review).
async fn forget_review(app: &TestApp, case: i64) {
    db(app)
        .await
        .exec(
            "UPDATE cases SET review_decided_by_court_id = NULL WHERE id = $1",
            case,
        )
        .await;
}

/// Direct bookings: refused without a high court's review in the records (an intermediate
/// court's review is not one), booked with it or jointly with the high court.
async fn the_spc_rule_holds_for_direct_bookings(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let c = cases(&app, &coord).await;
    let slots = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 3).await;
    assert_ineligible(
        book(&app, &coord, id(&slots[0]["id"]), c[2], d.xihu_rooms[0]).await,
        "spc_needs_high_court_review",
    )
    .await;
    let admin = app.login("admin").await;
    let courts = app.get_ok("/api/v1/admin/courts", &admin).await;
    let mid = id(&courts
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["level"] == "intermediate")
        .unwrap()["id"]);
    let on = today().to_string();
    for (event, by) in [
        ("answered", None),
        ("review_requested", None),
        ("review_decided", Some(mid)),
    ] {
        expect(
            app.post(
                &format!("/api/v1/cases/{}/clock-events", c[2]),
                Some(&coord),
                &json!({"event": event, "on": on, "decided_by_court_id": by}),
            )
            .await,
            200,
            event,
        )
        .await;
    }
    assert_ineligible(
        book(&app, &coord, id(&slots[0]["id"]), c[2], d.xihu_rooms[0]).await,
        "spc_needs_high_court_review",
    )
    .await;
    // Jointly with the high court, the SPC receives it.
    expect(
        app.post(
            "/api/v1/bookings",
            Some(&coord),
            &json!({"slot_id": slots[0]["id"], "case_id": c[2], "local_room_id": d.xihu_rooms[0],
                    "joint_court_id": d.high}),
        )
        .await,
        201,
        "joint booking",
    )
    .await;
    // A case with the high court's review on record is booked as it is.
    booked(&app, &coord, id(&slots[1]["id"]), c[0], d.xihu_rooms[1]).await;
}
on_both_backends!(spc_rule_direct, the_spc_rule_holds_for_direct_bookings);

/// The high court's 立案复查 logged on the case's ledger (the petitioner's matter taken up by
/// the high court) counts as its review: the SPC then receives the case.
async fn the_spc_rule_reads_the_ledger(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let c = cases(&app, &coord).await;
    let slots = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 1).await;
    assert_ineligible(
        book(&app, &coord, id(&slots[0]["id"]), c[2], d.xihu_rooms[0]).await,
        "spc_needs_high_court_review",
    )
    .await;
    expect(
        app.post(
            &format!("/api/v1/cases/{}/class", c[2]),
            Some(&coord),
            &json!({"case_class": "litigation", "reason": "申诉，属涉诉信访"}),
        )
        .await,
        200,
        "class",
    )
    .await;
    // Received by the intermediate court, it is not the high court's review.
    let admin = app.login("admin").await;
    let courts = app.get_ok("/api/v1/admin/courts", &admin).await;
    let mid = id(&courts
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["level"] == "intermediate")
        .unwrap()["id"]);
    for (court, status) in [(mid, "refused"), (d.high, "booked")] {
        expect(
            app.post(
                &format!("/api/v1/cases/{}/contacts", c[2]),
                Some(&coord),
                &json!({"channel": "letter", "receiving_court_id": court,
                        "summary": "上级法院立案复查", "outcome": "review_filed"}),
            )
            .await,
            201,
            "contact",
        )
        .await;
        if status == "refused" {
            assert_ineligible(
                book(&app, &coord, id(&slots[0]["id"]), c[2], d.xihu_rooms[0]).await,
                "spc_needs_high_court_review",
            )
            .await;
        }
    }
    booked(&app, &coord, id(&slots[0]["id"]), c[2], d.xihu_rooms[0]).await;
}
on_both_backends!(spc_rule_ledger, the_spc_rule_reads_the_ledger);

/// A reschedule checks the rule again: a booking whose case has no review on record (made when a
/// checkbox was believed) is not moved, and stays where it was.
async fn the_spc_rule_holds_for_reschedules(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let case = cases(&app, &coord).await[0];
    let slots = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 2).await;
    let b = booked(&app, &coord, id(&slots[0]["id"]), case, d.xihu_rooms[0]).await;
    forget_review(&app, case).await;
    assert_ineligible(
        reschedule(&app, &coord, &b, &slots[1]).await,
        "spc_needs_high_court_review",
    )
    .await;
    let (_, now) = get_booking(&app, &coord, id(&b["id"])).await;
    assert_eq!(
        (&now["status"], &now["slot_id"]),
        (&json!("booked"), &slots[0]["id"]),
        "{now}"
    );
}
on_both_backends!(spc_rule_reschedule, the_spc_rule_holds_for_reschedules);

// --- A concluded case (终结) is received no more, on every path (issue 14) ----------------------

/// A standing contact with the outcome `concluded` (终结) ends the case: it reads `concluded`,
/// and a direct booking, an application and a reschedule are each refused with `case_closed`.
/// A correction that replaces that contact takes the conclusion away. (Before, the rule read a
/// status that nothing ever wrote, and every path booked a concluded case.)
async fn a_concluded_case_is_received_no_more(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let case = cases(&app, &coord).await[0];
    let spc = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(1), 2).await;
    let high = future_slots(&app, &coord, d.high, d.high_room, Duration::hours(2), 1).await;
    let b = booked(&app, &coord, id(&spc[0]["id"]), case, d.xihu_rooms[0]).await;
    let path = format!("/api/v1/cases/{case}");
    assert_eq!(app.get_ok(&path, &coord).await["status"], "accepted");
    expect(
        app.post(
            &format!("/api/v1/cases/{case}/class"),
            Some(&coord),
            &json!({"case_class": "litigation", "reason": "申诉，属涉诉信访"}),
        )
        .await,
        200,
        "class",
    )
    .await;
    let case_now = expect(
        app.post(
            &format!("/api/v1/cases/{case}/contacts"),
            Some(&coord),
            &json!({"channel": "letter", "summary": "依法终结，书面告知", "outcome": "concluded"}),
        )
        .await,
        201,
        "the contact that concludes the case",
    )
    .await;
    assert_eq!(case_now["status"], "concluded");
    let ended = case_now["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["outcome"] == "concluded")
        .expect("the entry that concludes the case")["id"]
        .clone();

    assert_ineligible(
        book(&app, &coord, id(&high[0]["id"]), case, d.xihu_rooms[1]).await,
        "case_closed",
    )
    .await;
    assert_ineligible(
        apply(
            &app,
            &coord,
            json!({"case_id": case, "host_court_id": d.high, "local_room_id": d.xihu_rooms[1],
                   "preferred": preferred(), "reason": "申请视频接访"}),
        )
        .await,
        "case_closed",
    )
    .await;
    assert_ineligible(reschedule(&app, &coord, &b, &spc[1]).await, "case_closed").await;

    // Logged in error: the correction stands in its place, and the case is received again.
    expect(
        app.post(
            &format!("/api/v1/cases/{case}/contacts"),
            Some(&coord),
            &json!({"channel": "letter", "summary": "来信，尚未终结", "outcome": "explained_law",
                    "corrects": ended, "reason": "误录为终结"}),
        )
        .await,
        201,
        "the correction",
    )
    .await;
    assert_eq!(app.get_ok(&path, &coord).await["status"], "accepted");
    booked(&app, &coord, id(&high[0]["id"]), case, d.xihu_rooms[1]).await;
}
on_both_backends!(concluded_case, a_concluded_case_is_received_no_more);

/// An application that was eligible when made is checked again when the SPC approves it into a
/// slot and when the coordinator accepts the SPC's counter-proposal.
async fn the_spc_rule_holds_for_approvals_and_counter_proposals(app: TestApp) {
    let d = demo(&app).await;
    let coord = app.login("xihu.coord").await;
    let spc = app.login("spc.officer").await;
    set_rules(&app, &spc, d.spc, json!({"auto_approve": false})).await;
    let c = cases(&app, &coord).await;
    let mut pending = Vec::new();
    for case in [c[0], c[1]] {
        let created = expect(
            apply(
                &app,
                &coord,
                json!({"case_id": case, "host_court_id": d.spc, "local_room_id": d.xihu_rooms[0],
                       "preferred": preferred(), "reason": "申请视频接访",
                       "facts": {"high_court_reviewed": true}}),
            )
            .await,
            201,
            "application",
        )
        .await;
        assert_eq!(created["application"]["status"], "pending");
        pending.push(id(&created["application"]["id"]));
        forget_review(&app, case).await;
    }
    let slots = future_slots(&app, &coord, d.spc, d.spc_room1, Duration::hours(2), 2).await;
    // The SPC approves the first into a slot: refused, nothing booked.
    let (etag, _) = get_application(&app, &spc, pending[0]).await;
    assert_ineligible(
        review(
            &app,
            &spc,
            pending[0],
            &etag,
            json!({"action": "approve", "slot_id": slots[0]["id"]}),
        )
        .await,
        "spc_needs_high_court_review",
    )
    .await;
    // The SPC proposes a slot for the second; the coordinator's acceptance is refused.
    let (etag, _) = get_application(&app, &spc, pending[1]).await;
    let (etag, _) = expect_tagged(
        review(
            &app,
            &spc,
            pending[1],
            &etag,
            json!({"action": "propose", "slot_id": slots[1]["id"], "note": "建议此时段"}),
        )
        .await,
        200,
        "propose",
    )
    .await;
    assert_ineligible(
        answer(&app, &coord, pending[1], &etag, json!({"action": "accept"})).await,
        "spc_needs_high_court_review",
    )
    .await;
    for a in &pending {
        let (_, now) = get_application(&app, &coord, *a).await;
        assert_eq!(now["booking_id"], Value::Null, "{now}");
    }
}
on_both_backends!(
    spc_rule_approval_and_counter_proposal,
    the_spc_rule_holds_for_approvals_and_counter_proposals
);

/// Books each `(coordinator, slot, case, local room)` at once: each answer's status and code.
async fn book_at_once(app: &TestApp, attempts: &[(&str, i64, i64, i64)]) -> Vec<(u16, String)> {
    futures_util::future::join_all(
        attempts
            .iter()
            .map(|&(coord, slot, case, room)| async move {
                let res = book(app, coord, slot, case, room).await;
                let status = res.status().as_u16();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                (status, body["code"].as_str().unwrap_or("").to_owned())
            }),
    )
    .await
}

/// The counted limits hold when the bookings race (issue 21 item 2: on PostgreSQL they no
/// longer queue behind one lock per host court, but behind one per local court's share and
/// one per petitioner): a local court with a share of one, booking on several slots of the
/// week at once, gets exactly one.
async fn a_weekly_share_holds_when_bookings_race(app: TestApp) {
    let d = demo(&app).await;
    let officer = app.login("spc.officer").await;
    let coord = app.login("xihu.coord").await;
    let calendar = national_calendar(&app, &officer, today(), today() + Duration::days(30)).await;
    let day = first_day(1, &calendar, |t| matches!(t, Some(1 | 3 | 4 | 5)));
    let slots = room_day_slots(&app, &coord, d.spc, d.spc_room3, day).await;
    set_rules(
        &app,
        &officer,
        d.spc,
        json!({"weekly_limit_per_local_court": 1}),
    )
    .await;
    let xihu_cases = cases(&app, &coord).await;
    let n = slots
        .len()
        .min(xihu_cases.len())
        .min(d.xihu_rooms.len() * 2);
    assert!(n >= 2, "{} slots, {} cases", slots.len(), xihu_cases.len());
    let attempts: Vec<(&str, i64, i64, i64)> = (0..n)
        .map(|i| {
            let room = d.xihu_rooms[i % d.xihu_rooms.len()];
            (coord.as_str(), id(&slots[i]["id"]), xihu_cases[i], room)
        })
        .collect();
    let answers = book_at_once(&app, &attempts).await;
    let made = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(made, 1, "{answers:?}");
    // A case the SPC may not receive (its eligibility, checked before any lock) is refused 422.
    assert!(
        answers.iter().all(|(s, c)| *s == 201
            || (*s == 409 && c == "weekly_limit_reached")
            || (*s == 422 && c == "ineligible")),
        "{answers:?}"
    );
    assert!(
        answers.iter().any(|(_, c)| c == "weekly_limit_reached"),
        "{answers:?}"
    );
}
on_both_backends!(
    rule_weekly_limit_race,
    a_weekly_share_holds_when_bookings_race
);

/// Opens a case of the petitioner with identity number `person` at the coordinator's court, as
/// a new case even when the petitioner has cases already (`confirm_new`): its id.
async fn case_of(app: &TestApp, coord: &str, number: &str, person: &str) -> i64 {
    let body = expect(
        app.post(
            "/api/v1/cases",
            Some(coord),
            &json!({"case_number": number, "petitioner_name": "吴九", "petitioner_id_number": person,
                    "matter": "要求执行判决。", "subject": "执行难", "channel": "letter",
                    "case_class": "petition", "confirm_new": true}),
        )
        .await,
        201,
        "case",
    )
    .await;
    id(&body["id"])
}

/// The petitioner's limit holds when bookings race (issue 21): one petitioner's cases at two
/// local courts, booked with the same host court at once on different slots, get exactly as many
/// live bookings as the limit allows. The two courts do not share the local court's lock, so
/// only the petitioner's lock (PostgreSQL; SQLite's one write lock) keeps the count.
async fn a_petitioners_limit_holds_when_bookings_race(app: TestApp) {
    let d = demo(&app).await;
    let officer = app.login("zj.officer").await;
    let xihu = app.login("xihu.coord").await;
    let shangcheng = app.login("shangcheng.coord").await;
    set_rules(
        &app,
        &officer,
        d.high,
        json!({"active_limit_per_petitioner": 1, "weekly_limit_per_local_court": null}),
    )
    .await;
    let body = "33010619660606123";
    let person = format!("{body}{}", IdNumber::check_digit(body).unwrap());
    let slots = future_slots(&app, &xihu, d.high, d.high_room, Duration::hours(1), 4).await;
    let mut attempts = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        let (coord, room, court) = if i % 2 == 0 {
            (&xihu, d.xihu_rooms[0], "0106")
        } else {
            (&shangcheng, d.shangcheng_room, "0102")
        };
        let case = case_of(&app, coord, &format!("（2026）浙{court}信9{i}号"), &person).await;
        attempts.push((coord.as_str(), id(&slot["id"]), case, room));
    }
    let answers = book_at_once(&app, &attempts).await;
    let made = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(made, 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(s, c)| *s == 201 || (*s == 409 && c == "petitioner_limit_reached")),
        "{answers:?}"
    );
}
on_both_backends!(
    rule_petitioner_limit_race,
    a_petitioners_limit_holds_when_bookings_race
);
