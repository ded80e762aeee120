//! Who is in the room, when two come in at once, and who may take the petitioner's place
//! (issue 15 items 1, 2 and 5).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp, Ws, next_json, next_of, with_redis, ws_join, ws_send};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Pairs per run: the issue asks for 2,000; `JOIN_PAIRS` sets another number.
fn pairs() -> usize {
    std::env::var("JOIN_PAIRS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000)
}

/// The next text message within `wait`, or None.
async fn next_within(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(t.as_str()).ok(),
            Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) | Err(_) => {
                return None;
            }
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// What went wrong with one pair, if anything.
#[derive(Debug, Default)]
struct PairResult {
    /// The host never learnt that the petitioner was waiting (the petitioner would wait forever).
    stranded: bool,
    /// A socket's first message was not its welcome.
    welcome_not_first: bool,
}

/// The host and the petitioner open their sockets at the same moment (the host on `host_app`,
/// the petitioner on `petitioner_app`). The host's view follows the web app (`call.js`): a
/// welcome starts afresh, then `waiting`, `joined` and `left` change it. The pair is fine when,
/// within two seconds, that view has the petitioner waiting and each socket's first message
/// was its welcome.
async fn one_pair(
    host_app: &TestApp,
    petitioner_app: &TestApp,
    session_id: i64,
    officer: &str,
    petitioner: &str,
) -> PairResult {
    let (mut host, mut pet) = tokio::join!(
        ws_join(host_app, session_id, officer),
        ws_join(petitioner_app, session_id, petitioner)
    );
    let mut result = PairResult::default();
    let first = next_json(&mut pet).await;
    result.welcome_not_first |= first["type"] != "welcome";
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut welcomed = false;
    let mut sees_petitioner = false;
    while !(welcomed && sees_petitioner) && Instant::now() < deadline {
        let Some(m) = next_within(&mut host, deadline - Instant::now()).await else {
            break;
        };
        match m["type"].as_str() {
            Some("welcome") => {
                result.welcome_not_first |= welcomed;
                welcomed = true;
                sees_petitioner = m["participants"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["id"] == "petitioner"));
            }
            _ if !welcomed => result.welcome_not_first = true,
            Some("waiting" | "joined") if m["participant"]["id"] == "petitioner" => {
                sees_petitioner = true
            }
            Some("left") if m["participant_id"] == "petitioner" => sees_petitioner = false,
            _ => {}
        }
    }
    result.stranded = !(welcomed && sees_petitioner);
    for ws in [&mut host, &mut pet] {
        ws_send(ws, &json!({"type": "leave"})).await;
    }
    // Wait for both closes, so that the next pair finds an empty room (mostly: a leave is
    // recorded after the close, and a pair that still finds the last one's places is a
    // replacement, which must not strand anyone either).
    for ws in [&mut host, &mut pet] {
        while next_within(ws, Duration::from_secs(2)).await.is_some() {}
    }
    result
}

async fn run_pairs(host_app: &TestApp, petitioner_app: &TestApp, what: &str) {
    let s = host_app.book_demo_session().await;
    let n = pairs();
    let started = Instant::now();
    let (mut stranded, mut late_welcome) = (0, 0);
    for _ in 0..n {
        let r = one_pair(
            host_app,
            petitioner_app,
            s.session_id,
            &s.officer_token,
            &s.petitioner_token,
        )
        .await;
        stranded += usize::from(r.stranded);
        late_welcome += usize::from(r.welcome_not_first);
    }
    println!(
        "join race ({what}): {n} near-simultaneous host/petitioner pairs in {:.1} s: \
         {stranded} stranded, {late_welcome} with a message before the welcome",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        stranded, 0,
        "{what}: pairs where the host never saw the petitioner"
    );
    assert_eq!(
        late_welcome, 0,
        "{what}: sockets whose first message was not the welcome"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_simultaneous_joins_strand_nobody_on_one_instance() {
    let app = TestApp::spawn().await;
    run_pairs(&app, &app, "one instance, SQLite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_simultaneous_joins_strand_nobody_across_two_instances() {
    let Some(redis) = common::shared_redis() else {
        return;
    };
    let Some(a) = TestApp::spawn_with(Backend::Postgres, with_redis(redis)).await else {
        return;
    };
    let b = a.spawn_peer().await;
    run_pairs(&a, &b, "two instances over Redis, PostgreSQL").await;
}

/// The session's timeline, as the host court reads it.
async fn timeline(app: &TestApp, session_id: i64, token: &str) -> Vec<Value> {
    let v = app
        .get_ok(&format!("/api/v1/sessions/{session_id}"), token)
        .await;
    v["events"].as_array().cloned().unwrap_or_default()
}

/// Item 5: a second socket for the petitioner's place, with the same token or another one
/// minted from the same code, goes to the waiting room again; the admitted one is closed, the
/// host told, and the timeline shows the replacement. The same seat resuming keeps its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_petitioner_socket_waits_to_be_admitted_again() {
    let app = TestApp::spawn().await;
    let s = app.book_demo_session().await;
    let mut host = ws_join(&app, s.session_id, &s.officer_token).await;
    next_of(&mut host, "welcome").await;
    let mut first = ws_join(&app, s.session_id, &s.petitioner_token).await;
    assert_eq!(next_of(&mut first, "welcome").await["state"], "waiting");
    common::admit_petitioner(&mut host, &mut first).await;

    // Another device joins with the same code: a new token, a new seat.
    let res = app
        .post("/api/v1/auth/join", None, &json!({"code": s.join_code}))
        .await;
    assert_eq!(res.status(), 200);
    let other_token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for token in [other_token.as_str(), s.petitioner_token.as_str()] {
        let mut second = ws_join(&app, s.session_id, token).await;
        let welcome = next_of(&mut second, "welcome").await;
        assert_eq!(
            welcome["state"], "waiting",
            "a second socket is not let in unseen"
        );
        assert_eq!(
            next_of(&mut host, "left").await["participant_id"],
            "petitioner"
        );
        assert_eq!(
            next_of(&mut host, "waiting").await["participant"]["id"],
            "petitioner"
        );
        // The signal it may not send yet.
        ws_send(
            &mut second,
            &json!({"type": "signal", "to": "user-2", "data": {"candidate": null}}),
        )
        .await;
        assert_eq!(next_of(&mut second, "error").await["code"], "not_admitted");
        common::let_in(&mut host, &mut second).await;
        first = second;
    }
    let events = timeline(&app, s.session_id, &s.officer_token).await;
    let replaced = events.iter().filter(|e| e["kind"] == "replaced").count();
    assert_eq!(
        replaced, 2,
        "the timeline shows both replacements: {events:?}"
    );
    drop(first);
}

/// Item 5: replacing the join code closes the sockets of tokens minted from the old one, within
/// a heartbeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_join_code_closes_the_old_petitioner_socket() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.signalling.heartbeat_seconds = 1)
        .await
        .unwrap();
    let s = app.book_demo_session().await;
    let mut host = ws_join(&app, s.session_id, &s.officer_token).await;
    next_of(&mut host, "welcome").await;
    let mut pet = ws_join(&app, s.session_id, &s.petitioner_token).await;
    next_of(&mut pet, "welcome").await;
    common::admit_petitioner(&mut host, &mut pet).await;
    let res = app
        .post(
            &format!("/api/v1/bookings/{}/join-code", s.booking_id),
            Some(&s.coordinator_token),
            &json!({}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let replaced_at = Instant::now();
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(5), pet.next())
            .await
            .expect("closed within 5 s")
        {
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => break None,
        }
    };
    assert_eq!(code, Some(4003), "closed as revoked");
    println!(
        "old-code petitioner socket closed {} ms after the code was replaced (heartbeat 1 s)",
        replaced_at.elapsed().as_millis()
    );
    assert_eq!(
        next_of(&mut host, "left").await["participant_id"],
        "petitioner"
    );
}
