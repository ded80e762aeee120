//! Durability when the services CourtLink depends on go away and come back:
//!
//! - PostgreSQL (a private cluster of the test's own, never the machine's shared one) stopped with
//!   `pg_ctl stop -m immediate` under a load of reads and writes: requests fail fast with 503 and
//!   the code `store_unavailable` (never 500, never a hang), and succeed again once PostgreSQL is
//!   back, without restarting CourtLink; nothing answered 2xx is lost.
//! - Redis (a private server) stopped and started under live sessions on two instances: the record
//!   paths (transcript, notes, timeline, chat events, end) never answer 500 and lose nothing, and
//!   cross-instance signalling recovers by itself.
//!
//! `COURTLINK_REQUIRE_SERVICES=1` makes the private PostgreSQL cluster and redis-server required.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Backend, TestApp, next_json, next_of, ws_join, ws_send};
use serde_json::{Value, json};

/// One request of the load: when it was sent (from the start), how long it took, what came back.
#[derive(Clone, Debug)]
struct Sample {
    sent: Duration,
    took: Duration,
    what: &'static str,
    status: u16,
    code: String,
    /// For a note answered 201: its event id.
    note: Option<i64>,
}

/// Longest a request may take while PostgreSQL is away: the pool's acquire timeout (5 s) and a
/// little more. Anything longer is a hang.
const MAX_FAIL_SECS: f64 = 7.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load() {
    let Some(pg) = common::PrivatePostgres::start() else {
        return;
    };
    let pg = Arc::new(pg);
    let app = TestApp::spawn_at(Backend::Postgres, pg.url(), |_| {}).await;
    let s = app.book_demo_session().await;
    // The petitioner is let in: a transcript is written only of a session that has started.
    let (_host, _petitioner) =
        common::live_call(&app, s.session_id, &s.officer_token, &s.petitioner_token).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();

    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let mut tasks = Vec::new();
    for worker in 0..4usize {
        let (client, stop, samples) = (client.clone(), stop.clone(), samples.clone());
        let base = app.address.clone();
        let (officer, coordinator, session) = (
            s.officer_token.clone(),
            s.coordinator_token.clone(),
            s.session_id,
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let what = ["session", "cases", "note", "transcript"][worker];
                let req = match what {
                    "session" => client
                        .get(format!("{base}/api/v1/sessions/{session}"))
                        .bearer_auth(&officer),
                    "cases" => client
                        .get(format!("{base}/api/v1/cases"))
                        .bearer_auth(&coordinator),
                    "note" => client
                        .post(format!("{base}/api/v1/sessions/{session}/notes"))
                        .bearer_auth(&officer)
                        .json(&json!({ "text": format!("断库测试 {n}") })),
                    _ => client
                        .put(format!("{base}/api/v1/sessions/{session}/transcript"))
                        .bearer_auth(&officer)
                        .json(&json!({ "text": format!("断库笔录 {n}") })),
                };
                let sent = t0.elapsed();
                let res = req.send().await;
                let took = t0.elapsed() - sent;
                let (status, code, note) = match res {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        let body: Value = res.json().await.unwrap_or(Value::Null);
                        let code = body["code"].as_str().unwrap_or_default().to_owned();
                        let note = (status == 201).then(|| body["id"].as_i64()).flatten();
                        (status, code, note)
                    }
                    Err(e) => (0, format!("no answer: {e}"), None),
                };
                samples.lock().unwrap().push(Sample {
                    sent,
                    took,
                    what,
                    status,
                    code,
                    note,
                });
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stopping = t0.elapsed();
    let p = pg.clone();
    tokio::task::spawn_blocking(move || p.stop()).await.unwrap();
    let stopped = t0.elapsed();
    // While it is away, the health check says so too.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let health = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 503, "/healthz while PostgreSQL is away");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let restarting = t0.elapsed();
    let p = pg.clone();
    tokio::task::spawn_blocking(move || p.restart())
        .await
        .unwrap();
    let restarted = t0.elapsed();
    // Load until every kind of request has succeeded again, and a while after that.
    let recovered = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let all_back = {
            let samples = samples.lock().unwrap();
            ["session", "cases", "note", "transcript"].iter().all(|w| {
                samples
                    .iter()
                    .any(|x| x.what == *w && x.sent >= restarted && (200..300).contains(&x.status))
            })
        };
        if all_back {
            break t0.elapsed();
        }
        assert!(
            t0.elapsed() - restarted < Duration::from_secs(15),
            "requests succeed again within 15 s of PostgreSQL's return: {:#?}",
            samples
                .lock()
                .unwrap()
                .iter()
                .filter(|x| x.sent >= restarted)
                .collect::<Vec<_>>()
        );
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let samples = samples.lock().unwrap().clone();

    let ok = |x: &Sample| (200..300).contains(&x.status);
    let during = |x: &&Sample| x.sent >= stopped && x.sent + x.took <= restarting;
    let mut failures = 0;
    let mut slowest = Duration::ZERO;
    let mut fastest = Duration::MAX;
    for x in samples.iter().filter(during) {
        // Before PostgreSQL went, only 2xx; while it is away, only 503 store_unavailable.
        assert!(
            x.status == 503 && x.code == "store_unavailable",
            "while PostgreSQL is away: {x:?}"
        );
        failures += 1;
        slowest = slowest.max(x.took);
        fastest = fastest.min(x.took);
    }
    for x in &samples {
        if x.sent + x.took < stopping {
            assert!(ok(x), "before PostgreSQL went away: {x:?}");
        }
        // Whatever the phase, never a 500 and never a hang.
        assert!(
            x.status == 503 || ok(x),
            "only 2xx or 503 around the outage: {x:?}"
        );
        if x.status == 503 {
            assert_eq!(x.code, "store_unavailable", "{x:?}");
        }
        assert!(
            x.took.as_secs_f64() < MAX_FAIL_SECS,
            "no request hangs: {x:?}"
        );
    }
    assert!(failures >= 4, "the load ran while PostgreSQL was away");
    let after: Vec<&Sample> = samples
        .iter()
        .filter(|x| x.sent >= recovered + Duration::from_millis(500))
        .collect();
    assert!(
        !after.is_empty() && after.iter().all(|x| ok(x)),
        "steady again: {after:#?}"
    );

    // Nothing answered 2xx is lost: every note acknowledged is on the timeline.
    let timeline = app
        .get_ok(
            &format!("/api/v1/sessions/{}", s.session_id),
            &s.officer_token,
        )
        .await;
    let events = timeline["events"].as_array().unwrap();
    let acked: Vec<i64> = samples.iter().filter_map(|x| x.note).collect();
    for id in &acked {
        assert!(events.iter().any(|e| e["id"] == *id), "note {id} kept");
    }
    let last_transcript = samples.iter().rfind(|x| x.what == "transcript").unwrap();
    assert!(ok(last_transcript));

    let count = |f: &dyn Fn(&Sample) -> bool| samples.iter().filter(|x| f(x)).count();
    eprintln!(
        "\nPostgreSQL restarted under load: {} requests; {} answered 2xx, {} answered 503 store_unavailable, \
         {} other; PostgreSQL away {:.1} s (pg_ctl stop took {:.2} s, start {:.2} s); \
         failures answered in {:.2}–{:.2} s; all kinds of request succeeding again {:.2} s after PostgreSQL accepted connections; \
         {} notes acknowledged, all kept",
        samples.len(),
        count(&|x| ok(x)),
        count(&|x| x.status == 503),
        count(&|x| x.status != 503 && !ok(x)),
        (restarted - stopping).as_secs_f64(),
        (stopped - stopping).as_secs_f64(),
        (restarted - restarting).as_secs_f64(),
        fastest.as_secs_f64(),
        slowest.as_secs_f64(),
        (recovered - restarted).as_secs_f64(),
        acked.len()
    );
}

/// A second booked session, for 上城's coordinator, with its petitioner's token.
async fn second_session(app: &TestApp) -> (i64, String) {
    let coordinator = app.login("shangcheng.coord").await;
    let case_id = app.get_ok("/api/v1/cases", &coordinator).await[0]["id"]
        .as_i64()
        .unwrap();
    let room_id = app.get_ok("/api/v1/local-rooms", &coordinator).await[0]["id"]
        .as_i64()
        .unwrap();
    let slot = app.joinable_spc_slot(&coordinator).await;
    let res = app
        .post(
            "/api/v1/bookings",
            Some(&coordinator),
            &json!({"slot_id": slot["id"], "case_id": case_id, "local_room_id": room_id}),
        )
        .await;
    let status = res.status();
    let booking: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{booking}");
    let res = app
        .post(
            "/api/v1/auth/join",
            None,
            &json!({"code": booking["join_code"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let joined: Value = res.json().await.unwrap();
    (
        booking["session_id"].as_i64().unwrap(),
        joined["token"].as_str().unwrap().to_owned(),
    )
}

/// Records written while Redis is away, and what came back, to be found again afterwards.
#[derive(Default)]
struct Written {
    answers: std::collections::BTreeMap<String, usize>,
    bad: Vec<String>,
    notes: Vec<(i64, i64)>,
    transcripts: std::collections::HashMap<i64, String>,
    chats: Vec<(i64, String)>,
}

impl Written {
    async fn check(&mut self, what: &str, res: reqwest::Response, want: u16) -> Value {
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        *self.answers.entry(format!("{what}: {status}")).or_default() += 1;
        if status != want {
            self.bad.push(format!("{what}: {status} {body}"));
        }
        body
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_and_started_under_live_sessions() {
    let Some(mut redis) = common::PrivateRedis::start() else {
        return;
    };
    let Some(a) = TestApp::spawn_with(Backend::Postgres, common::with_redis(redis.url())).await
    else {
        return;
    };
    let b = a.spawn_peer().await;
    // Session 1: host on A, petitioner on B. Session 2: host on B, petitioner on A.
    let s1 = a.book_demo_session().await;
    let (s2, s2_petitioner) = second_session(&a).await;
    let officer = s1.officer_token.clone();
    let mut host1 = ws_join(&a, s1.session_id, &officer).await;
    next_json(&mut host1).await;
    let mut pet1 = ws_join(&b, s1.session_id, &s1.petitioner_token).await;
    next_json(&mut pet1).await;
    common::admit_petitioner(&mut host1, &mut pet1).await;
    let mut host2 = ws_join(&b, s2, &officer).await;
    next_json(&mut host2).await;
    let mut pet2 = ws_join(&a, s2, &s2_petitioner).await;
    next_json(&mut pet2).await;
    common::admit_petitioner(&mut host2, &mut pet2).await;
    // Media flows in both calls (a session is held, and may end, only then).
    common::media_flows(&a, s1.session_id, &officer, &mut host1, &mut pet1).await;
    common::media_flows(&b, s2, &officer, &mut host2, &mut pet2).await;

    redis.stop();
    let down = Instant::now();
    // Long enough for the Redis clients on both instances to notice, and to retry in vain.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut w = Written::default();
    for round in 0..6 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        for (session, app, host) in [(s1.session_id, &a, &mut host1), (s2, &b, &mut host2)] {
            // Alternate instances: each one's record paths work without Redis.
            let app = if round % 2 == 0 {
                app
            } else if std::ptr::eq(app, &a) {
                &b
            } else {
                &a
            };
            let text = format!("Redis 不在 {session}-{round}");
            let res = app
                .post(
                    &format!("/api/v1/sessions/{session}/notes"),
                    Some(&officer),
                    &json!({ "text": text }),
                )
                .await;
            let note = w.check("note", res, 201).await;
            if let Some(id) = note["id"].as_i64() {
                w.notes.push((session, id));
            }
            let transcript = format!("Redis 不在时的笔录 {session}-{round}");
            let res = app
                .client
                .put(app.url(&format!("/api/v1/sessions/{session}/transcript")))
                .bearer_auth(&officer)
                .json(&json!({ "text": transcript }))
                .send()
                .await
                .unwrap();
            if res.status() == 200 {
                w.transcripts.insert(session, transcript);
            }
            w.check("transcript", res, 200).await;
            let res = app
                .get(&format!("/api/v1/sessions/{session}"), Some(&officer))
                .await;
            let timeline = w.check("timeline", res, 200).await;
            if let Some(events) = timeline["events"].as_array() {
                assert!(
                    events.iter().any(|e| e["data"]["text"] == text.as_str()),
                    "the note just written is on the timeline"
                );
            }
            let chat = format!("聊天 {session}-{round}");
            ws_send(host, &json!({"type": "chat", "text": chat})).await;
            // The host's own instance echoes it back: it went through the recorder.
            assert_eq!(next_of(host, "chat").await["text"], chat.as_str());
            w.chats.push((session, chat));
        }
    }
    // Session 2 ends while Redis is away.
    let res = b
        .post(
            &format!("/api/v1/sessions/{s2}/end"),
            Some(&officer),
            &json!({"outcome": "explained_law", "note": "Redis 不在时结案"}),
        )
        .await;
    w.check("end", res, 200).await;
    assert_eq!(
        next_of(&mut host2, "ended").await["outcome"],
        "explained_law"
    );
    let away = down.elapsed();

    redis.restart();
    let back = Instant::now();
    // Cross-instance delivery resumes by itself, with no restart of CourtLink.
    let mut delivered = false;
    while back.elapsed() < Duration::from_secs(10) && !delivered {
        ws_send(&mut host1, &json!({"type": "chat", "text": "又回来了"})).await;
        if let Ok(v) =
            tokio::time::timeout(Duration::from_millis(400), next_of(&mut pet1, "chat")).await
        {
            delivered = v["text"] == "又回来了";
        }
    }
    let recovery = back.elapsed();
    assert!(
        delivered,
        "cross-instance delivery within 10 s of Redis coming back"
    );
    // And the end of session 1 on A reaches its petitioner on B.
    let res = a
        .post(
            &format!("/api/v1/sessions/{}/end", s1.session_id),
            Some(&officer),
            &json!({"outcome": "assign", "note": "Redis 回来后结案"}),
        )
        .await;
    w.check("end", res, 200).await;
    assert_eq!(next_of(&mut pet1, "ended").await["outcome"], "assign");

    assert!(
        w.bad.is_empty(),
        "record paths while Redis was away: {:#?}",
        w.bad
    );
    // No record lost: every note, transcript, chat and outcome, read back from both instances.
    for app in [&a, &b] {
        for (session, outcome) in [(s1.session_id, "assign"), (s2, "explained_law")] {
            let t = app
                .get_ok(&format!("/api/v1/sessions/{session}"), &officer)
                .await;
            assert_eq!(
                (t["status"].as_str(), t["outcome"].as_str()),
                (Some("ended"), Some(outcome))
            );
            assert_eq!(
                t["transcript"]["text"],
                w.transcripts[&session].as_str(),
                "{t}"
            );
            let events = t["events"].as_array().unwrap();
            for (_, id) in w.notes.iter().filter(|n| n.0 == session) {
                assert!(events.iter().any(|e| e["id"] == *id), "note {id} kept");
            }
            for (_, chat) in w.chats.iter().filter(|c| c.0 == session) {
                assert!(
                    events
                        .iter()
                        .any(|e| e["kind"] == "chat" && e["data"]["text"] == chat.as_str()),
                    "chat {chat} recorded"
                );
            }
        }
    }
    eprintln!(
        "\nRedis stopped under 2 live sessions on 2 instances for {:.1} s: {:?}; \
         {} notes, {} chats, 2 transcripts and 1 outcome written while it was away, all kept; \
         cross-instance delivery back {:.2} s after Redis returned",
        away.as_secs_f64(),
        w.answers,
        w.notes.len(),
        w.chats.len(),
        recovery.as_secs_f64()
    );
}
