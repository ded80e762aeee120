//! What counts as held (issue 15, items 9 and 10), on SQLite and PostgreSQL: a session is a held
//! reception only with the petitioner and the host connected with media for
//! `records.min_reception_seconds` inside its window (`server/src/app/session.rs`,
//! `docs/lifecycle.md`); a petitioner who leaves takes the session off `live`; someone else
//! joining and leaving never makes a session `interrupted`; nobody joins outside the window;
//! and no transcript is written before the petitioner has been let in.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use std::time::Duration;

use common::{Backend, TestApp, assert_error, next_json, next_of, ws_connect, ws_join, ws_send};
use courtlink::store::{Pool, Store};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

/// Five seconds of media on both sides make a reception here (two were less than one report
/// and its polling take on a loaded machine).
const MIN_SECONDS: i64 = 5;

async fn spawn(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |s| {
        s.records.min_reception_seconds = MIN_SECONDS;
        s.records.interrupt_after_seconds = 0;
        s.records.sweep_seconds = 1;
        s.signalling.resume_grace_seconds = 1;
    })
    .await
}

/// Runs a test body on SQLite and on PostgreSQL (skipped loudly when absent, unless required),
/// each with this module's settings.
macro_rules! on_both {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body(spawn(Backend::Sqlite).await.expect("sqlite")).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = spawn(Backend::Postgres).await {
                    $body(app).await;
                }
            }
        }
    };
}

/// `connected_minutes` of the case's ledger entries written by `session`.
async fn ledger_of(app: &TestApp, session: i64) -> Vec<Option<i64>> {
    let store = Store::connect(app.settings.database.url.expose_secret(), 1)
        .await
        .unwrap();
    let rows: Vec<(Option<i64>,)> = match store.pool() {
        Pool::Sqlite(p) => {
            sqlx::query_as("SELECT connected_minutes FROM ledger_entries WHERE session_id = $1")
                .bind(session)
                .fetch_all(p)
                .await
                .unwrap()
        }
        Pool::Postgres(p) => {
            sqlx::query_as("SELECT connected_minutes FROM ledger_entries WHERE session_id = $1")
                .bind(session)
                .fetch_all(p)
                .await
                .unwrap()
        }
    };
    store.close().await;
    rows.into_iter().map(|(m,)| m).collect()
}

async fn status_of(app: &TestApp, session: i64, token: &str) -> Value {
    app.get_ok(&format!("/api/v1/sessions/{session}"), token)
        .await
}

/// Issue 15 item 9, the probe: the host admits the petitioner, who leaves at once with no media;
/// the host leaves and comes back alone. On the old code the session stayed `live` and the end
/// answered 200 `ended`, counted on the case's ledger as a held video reception.
async fn admitted_and_gone_is_not_a_reception(app: TestApp) {
    let s = app.book_demo_session().await;
    let sid = s.session_id;
    let end = || async {
        app.post(
            &format!("/api/v1/sessions/{sid}/end"),
            Some(&s.officer_token),
            &json!({"outcome": "explained_law", "note": "已答复"}),
        )
        .await
    };
    let (mut host, mut petitioner) =
        common::live_call(&app, sid, &s.officer_token, &s.petitioner_token).await;
    assert_eq!(
        status_of(&app, sid, &s.officer_token).await["status"],
        "live"
    );
    ws_send(&mut petitioner, &json!({"type": "leave"})).await;
    assert_eq!(
        next_of(&mut host, "left").await["participant_id"],
        "petitioner"
    );
    // The petitioner has left: the session says so, and is not live.
    let seen = status_of(&app, sid, &s.officer_token).await;
    assert_eq!(
        (seen["status"].as_str(), seen["petitioner_left"].as_bool()),
        (Some("waiting"), Some(true)),
        "{seen}"
    );
    // The host leaves and comes back alone: still not live.
    ws_send(&mut host, &json!({"type": "leave"})).await;
    drop(host);
    let mut host = ws_join(&app, sid, &s.officer_token).await;
    next_of(&mut host, "welcome").await;
    assert_eq!(
        status_of(&app, sid, &s.officer_token).await["status"],
        "waiting"
    );
    let refused = assert_error(end().await, 409, "reception_not_held").await;
    assert!(
        refused["message"].as_str().unwrap().contains("0 s"),
        "{refused}"
    );
    assert!(ledger_of(&app, sid).await.is_empty(), "no ledger entry");

    // The petitioner comes back and is received, with media both ways for a while: now it is
    // held, and the record keeps how long.
    let mut petitioner = ws_join(&app, sid, &s.petitioner_token).await;
    next_json(&mut petitioner).await;
    common::admit_petitioner(&mut host, &mut petitioner).await;
    assert_eq!(
        status_of(&app, sid, &s.officer_token).await["status"],
        "live"
    );
    common::media_flows(&app, sid, &s.officer_token, &mut host, &mut petitioner).await;
    // One report's worth is not yet the minimum (the reports cover only since the admission).
    assert_error(end().await, 409, "reception_not_held").await;
    // A few more seconds of reports make the minimum. On a loaded machine a round can take
    // longer than its sleep (a clean-clone CI run with builds beside the tests needed more than
    // 20 s, 2026-12-06), so report again until the end goes through, within 60 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let res = loop {
        tokio::time::sleep(Duration::from_millis(2200)).await;
        common::media_flows(&app, sid, &s.officer_token, &mut host, &mut petitioner).await;
        let res = end().await;
        if res.status() != 409 || std::time::Instant::now() > deadline {
            break res;
        }
    };
    let status = res.status();
    let ended: Value = res.json().await.unwrap();
    // On a failure, the timeline says why (this failed once in a clean-clone run, 2026-12-06,
    // with 409 after the whole minute of reports, and passed alone and under CPU load).
    if status != 200 {
        let detail = status_of(&app, sid, &s.officer_token).await;
        let events: Vec<String> = detail["events"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| format!("{} {} {} {}", e["at"], e["kind"], e["actor"], e["data"]))
            .collect();
        panic!(
            "the end answered {status} {ended}; the timeline:\n{}",
            events.join("\n")
        );
    }
    let seconds = ended["connected_seconds"].as_i64().unwrap();
    assert!(
        (MIN_SECONDS..30).contains(&seconds),
        "connected {seconds} s: {ended}"
    );
    assert_eq!(ledger_of(&app, sid).await, [Some(seconds / 60)]);
}
on_both!(admitted_and_gone, admitted_and_gone_is_not_a_reception);

/// A host who leaves and comes straight back is in the room, on the record too. The old hub
/// could write the old socket's `left` after it had let the new socket in (seen in a full run:
/// `joined`, then `left`, for the same host in the same second): the timeline then said the host
/// was gone for the rest of the call, and a reception held afterwards could never be ended with
/// its outcome (409 `reception_not_held`). Here the timeline's writes are held up from outside
/// (an open write transaction) while the host leaves and comes back, as a loaded database holds
/// them up, so both writes wait and the order is the hub's to keep.
async fn straight_back_is_in_on_the_record(app: TestApp) {
    use sqlx::Connection;
    let s = app.book_demo_session().await;
    let sid = s.session_id;
    let url = app.settings.database.url.expose_secret().to_owned();
    let mut host = ws_join(&app, sid, &s.officer_token).await;
    let me = next_of(&mut host, "welcome").await["you"]["id"].clone();
    for _ in 0..4 {
        // Holds the timeline's writes until dropped (rolled back).
        let blocker: Box<dyn std::any::Any + Send> = if url.starts_with("sqlite") {
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut c)
                .await
                .unwrap();
            Box::new(c)
        } else {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut c).await.unwrap();
            sqlx::query("LOCK TABLE session_events IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut c)
                .await
                .unwrap();
            Box::new(c)
        };
        ws_send(&mut host, &json!({"type": "leave"})).await;
        // The server has read the leave once it closes the socket (1000 `left`); its `left` on
        // the timeline is still to be written, behind the held writes, when the host comes back.
        // (Not waiting, the new socket could replace the old one before its leave was read, and
        // a replaced socket leaves nothing on the record: a CI run saw `joined` twice.)
        loop {
            use futures_util::StreamExt;
            use tokio_tungstenite::tungstenite::Message;
            match tokio::time::timeout(Duration::from_secs(10), host.next())
                .await
                .expect("the server closes a socket that left within 10 s")
            {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => continue,
            }
        }
        drop(host);
        let back = async {
            let mut ws = ws_join(&app, sid, &s.officer_token).await;
            next_of(&mut ws, "welcome").await;
            ws
        };
        let release = async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            drop(blocker);
        };
        (host, ()) = tokio::join!(back, release);
    }
    // The host's comings and goings alternate, and the last is a coming.
    let detail = status_of(&app, sid, &s.officer_token).await;
    let moves: Vec<String> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == me && (e["kind"] == "joined" || e["kind"] == "left"))
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    let want: Vec<&str> = (0..9)
        .map(|i| if i % 2 == 0 { "joined" } else { "left" })
        .collect();
    assert_eq!(moves, want);
}
on_both!(straight_back, straight_back_is_in_on_the_record);

/// Issue 15 item 9, the other probe: someone other than the petitioner (here the local court's
/// coordinator) joins a session and leaves. On the old code the sweeper then marked the session
/// `interrupted`, which statistics count as an interrupted reception.
async fn someone_else_coming_and_going_interrupts_nothing(app: TestApp) {
    let s = app.book_demo_session().await;
    let sid = s.session_id;
    let mut local = ws_join(&app, sid, &s.coordinator_token).await;
    assert_eq!(next_json(&mut local).await["you"]["role"], "local_staff");
    assert_eq!(
        status_of(&app, sid, &s.coordinator_token).await["status"],
        "waiting"
    );
    ws_send(&mut local, &json!({"type": "leave"})).await;
    drop(local);
    // The sweeper runs every second and acts at once (interrupt_after_seconds = 0).
    let mut seen = Value::Null;
    for _ in 0..40 {
        seen = status_of(&app, sid, &s.coordinator_token).await;
        if seen["status"] != "waiting" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(seen["status"], "scheduled", "{seen}");
    assert_eq!(seen["interrupted_seconds"], 0);
    // Give the sweeper two more rounds: it stays scheduled.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(
        status_of(&app, sid, &s.coordinator_token).await["status"],
        "scheduled"
    );
}
on_both!(
    someone_else,
    someone_else_coming_and_going_interrupts_nothing
);

/// Nobody, staff included, opens a session's signalling socket outside its window. On the old
/// code the officer could open the room of a session booked for days later.
async fn nobody_joins_outside_the_window(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let cases = app.get_ok("/api/v1/cases", &coord).await;
    let rooms = app.get_ok("/api/v1/local-rooms", &coord).await;
    let later = chrono::Utc::now() + chrono::Duration::hours(3);
    let slots = app.get_ok("/api/v1/slots", &coord).await;
    let slot = slots
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["court"]["level"] == "supreme"
                && s["starts_at"]
                    .as_str()
                    .unwrap()
                    .parse::<chrono::DateTime<chrono::Utc>>()
                    .unwrap()
                    > later
        })
        .expect("a later SPC slot")
        .clone();
    let res = app
        .post(
            "/api/v1/bookings",
            Some(&coord),
            &json!({"slot_id": slot["id"], "case_id": cases[0]["id"], "local_room_id": rooms[0]["id"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let sid = res.json::<Value>().await.unwrap()["session_id"]
        .as_i64()
        .unwrap();
    let officer = app.login("spc.officer").await;
    for token in [&officer, &coord] {
        match ws_connect(&app, sid, &format!("courtlink.v1, auth.{token}")).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
                assert_eq!(res.status().as_u16(), 409);
                let body = String::from_utf8(res.body().clone().unwrap_or_default()).unwrap();
                assert!(body.contains("outside_window"), "{body}");
            }
            Err(e) => panic!("expected an HTTP refusal, got {e}"),
            Ok(_) => panic!("the socket opened outside the session's window"),
        }
    }
    assert_eq!(status_of(&app, sid, &officer).await["status"], "scheduled");
}
on_both!(outside_the_window, nobody_joins_outside_the_window);

/// Issue 15 item 10: no transcript of a session that never started. On the old code the host
/// could write one before anyone had joined.
async fn a_transcript_needs_a_started_session(app: TestApp) {
    let s = app.book_demo_session().await;
    let sid = s.session_id;
    let put = || async {
        app.client
            .put(app.url(&format!("/api/v1/sessions/{sid}/transcript")))
            .bearer_auth(&s.officer_token)
            .json(&json!({"text": "信访人陈述：……"}))
            .send()
            .await
            .unwrap()
    };
    assert_error(put().await, 409, "session_not_started").await;
    // The host alone in the room is no reception yet either.
    let mut host = ws_join(&app, sid, &s.officer_token).await;
    next_json(&mut host).await;
    let mut petitioner = ws_join(&app, sid, &s.petitioner_token).await;
    next_json(&mut petitioner).await;
    assert_error(put().await, 409, "session_not_started").await;
    common::admit_petitioner(&mut host, &mut petitioner).await;
    assert_eq!(put().await.status(), 200);
    let transcript = app
        .get_ok(
            &format!("/api/v1/sessions/{sid}/transcript"),
            &s.officer_token,
        )
        .await;
    assert_eq!(transcript["text"], "信访人陈述：……", "{transcript}");
}
on_both!(
    transcript_before_start,
    a_transcript_needs_a_started_session
);
