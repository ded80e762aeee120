//! Nothing is ever double-booked: 1,000 concurrent booking attempts over 100 slots, from twenty
//! local courts, give exactly 100 bookings; every other answer is a 409 or a 422 (never a 5xx);
//! and a query over the tables finds no overlap. On SQLite and on PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use std::collections::BTreeMap;

use chrono::{Duration, DurationRound, Utc};
use common::TestApp;
use courtlink::domain::Role;
use courtlink::store::{NewCase, NewUser, Pool, RoomKind, Store};
use secrecy::ExposeSecret;
use serde_json::json;

const COURTS: usize = 20;
const SLOTS: usize = 100;
const ATTEMPTS: usize = 1000;

async fn count(store: &Store, sql: &str) -> i64 {
    match store.pool() {
        Pool::Sqlite(p) => {
            sqlx::query_as::<_, (i64,)>(sql)
                .fetch_one(p)
                .await
                .unwrap()
                .0
        }
        Pool::Postgres(p) => {
            sqlx::query_as::<_, (i64,)>(sql)
                .fetch_one(p)
                .await
                .unwrap()
                .0
        }
    }
}

async fn thousand_attempts_over_a_hundred_slots(app: TestApp) {
    let store = Store::connect(app.settings.database.url.expose_secret(), 4)
        .await
        .unwrap();
    let city = store
        .court_by_name("杭州市中级人民法院")
        .await
        .unwrap()
        .unwrap();
    let room = store
        .insert_room(RoomKind::Host, city, "压力测试接谈室")
        .await
        .unwrap();
    // 100 half-hour slots an hour apart, from the next whole hour: none overlaps another, so
    // every slot can be won, and a local room never holds two overlapping bookings.
    let first = (Utc::now() + Duration::hours(1))
        .duration_trunc(Duration::hours(1))
        .unwrap();
    let mut slots = Vec::new();
    for i in 0..SLOTS {
        let starts = first + Duration::hours(i64::try_from(i).unwrap());
        assert!(
            store
                .ensure_slot(room, starts, starts + Duration::minutes(30))
                .await
                .unwrap()
        );
        slots.push(starts);
    }
    let slot_ids: Vec<i64> = {
        let sql = format!("SELECT id FROM slots WHERE host_room_id = {room} ORDER BY starts_at");
        match store.pool() {
            Pool::Sqlite(p) => sqlx::query_as::<_, (i64,)>(&sql)
                .fetch_all(p)
                .await
                .unwrap(),
            Pool::Postgres(p) => sqlx::query_as::<_, (i64,)>(&sql)
                .fetch_all(p)
                .await
                .unwrap(),
        }
        .into_iter()
        .map(|(id,)| id)
        .collect()
    };
    assert_eq!(slot_ids.len(), SLOTS);

    // Twenty local courts, each with a room, a coordinator and fifty cases of its own.
    let hash = courtlink::auth::hash_password(common::DEMO_PASSWORD).unwrap();
    let mut courts = Vec::new();
    for c in 0..COURTS {
        let court = store
            .insert_court(&format!("压力测试基层法院{c:02}"), "basic", Some(city))
            .await
            .unwrap();
        let local_room = store
            .insert_room(RoomKind::Local, court, "视频接访室")
            .await
            .unwrap();
        let username = format!("load.coord{c:02}");
        store
            .insert_user(&NewUser {
                court_id: court,
                username: &username,
                display_name: "压力测试专干",
                role: Role::Coordinator,
                password_hash: &hash,
            })
            .await
            .unwrap();
        let mut cases = Vec::new();
        for k in 0..(ATTEMPTS / COURTS) {
            let number = format!("(2026)压{c:02}信访{k}号");
            let id_number = format!("3301{c:02}1970{k:08}");
            cases.push(
                store
                    .insert_case(&NewCase {
                        court_id: court,
                        case_number: &number,
                        petitioner_name: "测试某",
                        petitioner_id_number: &id_number,
                        subject: "压力测试",
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
        let token = app.login(&username).await;
        courts.push((token, local_room, cases));
    }

    // Attempt k goes for slot k % 100 from court (k % 100 + k / 100) % 20: each slot is wanted
    // by ten different courts, each attempt with a case of its own.
    let mut used = [0usize; COURTS];
    let mut requests = Vec::new();
    for k in 0..ATTEMPTS {
        let slot = slot_ids[k % SLOTS];
        let c = (k % SLOTS + k / SLOTS) % COURTS;
        let (token, local_room, cases) = &courts[c];
        let case = cases[used[c]];
        used[c] += 1;
        let body = json!({ "slot_id": slot, "case_id": case, "local_room_id": local_room });
        let (client, url, token) = (
            app.client.clone(),
            app.url("/api/v1/bookings"),
            token.clone(),
        );
        requests.push(async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap();
            (status, text)
        });
    }
    let answers = futures_util::future::join_all(requests).await;

    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for (status, text) in &answers {
        *by_status.entry(*status).or_default() += 1;
        assert!(
            matches!(status, 201 | 409 | 422),
            "every answer is 201, 409 or 422; got {status}: {text}"
        );
    }
    eprintln!("{:?}: {by_status:?}", app.backend);
    assert_eq!(
        by_status.get(&201),
        Some(&SLOTS),
        "exactly one booking per slot"
    );

    let live = count(
        &store,
        &format!(
            "SELECT COUNT(*) FROM bookings WHERE host_room_id = {room} AND status <> 'cancelled'"
        ),
    )
    .await;
    assert_eq!(live, i64::try_from(SLOTS).unwrap());
    let per_slot = count(
        &store,
        "SELECT COUNT(*) FROM (SELECT slot_id FROM bookings WHERE status <> 'cancelled' \
         GROUP BY slot_id HAVING COUNT(*) > 1) x",
    )
    .await;
    assert_eq!(per_slot, 0, "a slot booked twice");
    for column in ["local_room_id", "host_room_id"] {
        let overlaps = count(
            &store,
            &format!(
                "SELECT COUNT(*) FROM bookings a JOIN bookings b ON a.{column} = b.{column} AND a.id < b.id \
                 WHERE a.status <> 'cancelled' AND b.status <> 'cancelled' \
                 AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
            ),
        )
        .await;
        assert_eq!(overlaps, 0, "overlapping live bookings of one {column}");
    }
    let sessions = count(
        &store,
        &format!(
            "SELECT COUNT(*) FROM sessions s JOIN bookings b ON b.id = s.booking_id WHERE b.host_room_id = {room}"
        ),
    )
    .await;
    assert_eq!(
        sessions,
        i64::try_from(SLOTS).unwrap(),
        "one session per booking"
    );
    store.close().await;
}

on_both_backends!(
    contention_books_each_slot_once,
    thousand_attempts_over_a_hundred_slots
);

/// Bookings racing template changes (issue 15, item 12): while the host room's weekly template
/// flips between 30- and 40-minute slots (each change withdrawing or deleting the slots it no
/// longer offers), 200 booking attempts over its first slots each answer 201, 409 or 422, never
/// a 5xx; the template changes all succeed; and no slot, room or booking overlaps.
async fn bookings_racing_template_changes(app: TestApp) {
    const RACE_COURTS: usize = 10;
    const RACE_CASES: usize = 20;
    const RACE_SLOTS: usize = 40;
    const FLIPS: i32 = 20;
    let store = Store::connect(app.settings.database.url.expose_secret(), 4)
        .await
        .unwrap();
    let city = store
        .court_by_name("杭州市中级人民法院")
        .await
        .unwrap()
        .unwrap();
    let room = store
        .insert_room(RoomKind::Host, city, "模板竞争接谈室")
        .await
        .unwrap();
    let template = |minutes: u32| -> Vec<courtlink::schedule::TemplateDay> {
        serde_json::from_value(json!((1..=5).map(|wd| json!({"weekday": wd, "windows": [
            {"opens": "09:00", "closes": "17:00", "slot_minutes": minutes, "buffer_minutes": 0}
        ]})).collect::<Vec<_>>()))
        .unwrap()
    };
    let (thirty, forty) = (template(30), template(40));
    store
        .put_template(room, &thirty, 0, "test", Utc::now())
        .await
        .unwrap();
    let slot_ids: Vec<i64> = {
        let sql = format!(
            "SELECT id FROM slots WHERE host_room_id = {room} AND NOT withdrawn ORDER BY starts_at LIMIT {RACE_SLOTS}"
        );
        match store.pool() {
            Pool::Sqlite(p) => sqlx::query_as::<_, (i64,)>(&sql)
                .fetch_all(p)
                .await
                .unwrap(),
            Pool::Postgres(p) => sqlx::query_as::<_, (i64,)>(&sql)
                .fetch_all(p)
                .await
                .unwrap(),
        }
        .into_iter()
        .map(|(id,)| id)
        .collect()
    };
    assert_eq!(
        slot_ids.len(),
        RACE_SLOTS,
        "the template published its slots"
    );

    let hash = courtlink::auth::hash_password(common::DEMO_PASSWORD).unwrap();
    let mut requests = Vec::new();
    for c in 0..RACE_COURTS {
        let court = store
            .insert_court(&format!("模板竞争基层法院{c:02}"), "basic", Some(city))
            .await
            .unwrap();
        let local_room = store
            .insert_room(RoomKind::Local, court, "视频接访室")
            .await
            .unwrap();
        let username = format!("race.coord{c:02}");
        store
            .insert_user(&NewUser {
                court_id: court,
                username: &username,
                display_name: "模板竞争专干",
                role: Role::Coordinator,
                password_hash: &hash,
            })
            .await
            .unwrap();
        let token = app.login(&username).await;
        for k in 0..RACE_CASES {
            let case = store
                .insert_case(&NewCase {
                    court_id: court,
                    case_number: &format!("(2026)竞{c:02}信访{k}号"),
                    petitioner_name: "测试某",
                    petitioner_id_number: &format!("3302{c:02}1970{k:08}"),
                    subject: "模板竞争",
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
            let slot = slot_ids[(c * RACE_CASES + k) % RACE_SLOTS];
            let body = json!({ "slot_id": slot, "case_id": case, "local_room_id": local_room });
            let (client, url, token) = (
                app.client.clone(),
                app.url("/api/v1/bookings"),
                token.clone(),
            );
            requests.push(async move {
                let res = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                (status, res.text().await.unwrap())
            });
        }
    }
    let flips = {
        let store = store.clone();
        async move {
            let mut failures = Vec::new();
            for version in 1..=FLIPS {
                let days = if version % 2 == 1 { &forty } else { &thirty };
                if let Err(e) = store
                    .put_template(room, days, version, "test", Utc::now())
                    .await
                {
                    failures.push(format!("{e:?}"));
                    break;
                }
            }
            failures
        }
    };
    let (answers, flip_failures) =
        futures_util::future::join(futures_util::future::join_all(requests), flips).await;
    assert_eq!(
        flip_failures,
        Vec::<String>::new(),
        "every template change succeeds"
    );

    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for (status, text) in &answers {
        *by_status.entry(*status).or_default() += 1;
        assert!(
            matches!(status, 201 | 409 | 422),
            "every answer is 201, 409 or 422; got {status}: {text}"
        );
    }
    eprintln!("{:?} template race: {by_status:?}", app.backend);
    let per_slot = count(
        &store,
        "SELECT COUNT(*) FROM (SELECT slot_id FROM bookings WHERE status <> 'cancelled' \
         GROUP BY slot_id HAVING COUNT(*) > 1) x",
    )
    .await;
    assert_eq!(per_slot, 0, "a slot booked twice");
    for column in ["local_room_id", "host_room_id"] {
        let overlaps = count(
            &store,
            &format!(
                "SELECT COUNT(*) FROM bookings a JOIN bookings b ON a.{column} = b.{column} AND a.id < b.id \
                 WHERE a.status <> 'cancelled' AND b.status <> 'cancelled' \
                 AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
            ),
        )
        .await;
        assert_eq!(overlaps, 0, "overlapping live bookings of one {column}");
    }
    store.close().await;
}

on_both_backends!(
    template_race_answers_no_5xx,
    bookings_racing_template_changes
);
