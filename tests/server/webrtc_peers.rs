//! Real WebRTC peers (the `webrtc` crate) negotiating through CourtLink's signalling relay:
//! descriptions and trickled candidates go only through the server's WebSocket, and bytes
//! really cross a WebRTC data channel on loopback. The last tests put the two peers on two
//! instances sharing PostgreSQL and Redis, and move one of them from one instance to the other
//! with a resume while the call goes on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use std::time::Duration;

use anyhow::Context as _;
use common::peer::{
    Exchange, SignalPeer, abbreviate, admit_from_waiting_room, exchange_over_channel,
    negotiate_and_echo, negotiate_and_exchange, restart_ice_through_relay,
};
use common::{Backend, TestApp, with_redis};
use serde_json::Value;

/// Generous on a loaded 2-core machine; a healthy run opens the channel in well under 2 s.
const NEGOTIATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes that are not UTF-8 and not all alike, so a text round trip or a truncation shows.
fn payload() -> Vec<u8> {
    let mut p: Vec<u8> = (0..=255u8).rev().collect();
    p.extend_from_slice("您好，能听到吗？".as_bytes());
    p.extend((0..2048u32).map(|i| (i.wrapping_mul(31) % 251) as u8));
    p
}

/// The officer joins first, then the petitioner, whom the officer admits from the waiting
/// room (if there is one); checks what the server told each of them.
async fn officer_then_petitioner(
    app: &TestApp,
    session_id: i64,
    officer_token: &str,
    petitioner_token: &str,
) -> anyhow::Result<(SignalPeer, SignalPeer)> {
    officer_then_petitioner_on(app, app, session_id, officer_token, petitioner_token).await
}

/// [`officer_then_petitioner`] with the officer on instance `a` and the petitioner on `b`.
async fn officer_then_petitioner_on(
    a: &TestApp,
    b: &TestApp,
    session_id: i64,
    officer_token: &str,
    petitioner_token: &str,
) -> anyhow::Result<(SignalPeer, SignalPeer)> {
    let mut officer = SignalPeer::connect(&signal_url(a, session_id), officer_token)
        .await
        .context("officer connects")?;
    let mut petitioner = SignalPeer::connect(&signal_url(b, session_id), petitioner_token)
        .await
        .context("petitioner connects")?;

    for peer in [&officer, &petitioner] {
        assert_eq!(
            peer.subprotocol(),
            Some("courtlink.v1"),
            "the server must answer with the single subprotocol courtlink.v1 (and never echo \
             the token back)"
        );
        assert_eq!(
            peer.welcome()["session_id"],
            session_id,
            "{}",
            peer.welcome()
        );
    }
    assert!(
        officer.id().starts_with("user-"),
        "officer id {:?} (welcome {})",
        officer.id(),
        officer.welcome()
    );
    assert_eq!(
        officer.welcome()["you"]["role"],
        "host",
        "{}",
        officer.welcome()
    );
    assert_eq!(petitioner.id(), "petitioner", "{}", petitioner.welcome());
    assert_eq!(petitioner.welcome()["you"]["role"], "petitioner");
    admit_from_waiting_room(&mut officer, &mut petitioner, Duration::from_secs(10))
        .await
        .context("the officer admits the petitioner")?;
    // The newcomer is impolite towards who was there first.
    assert_eq!(
        petitioner.polite_towards(officer.id()),
        Some(false),
        "petitioner's welcome/admitted must list the officer with polite:false: {:?}",
        petitioner.log()
    );
    Ok((officer, petitioner))
}

fn signal_url(app: &TestApp, session_id: i64) -> String {
    app.ws_url(&format!("/api/v1/sessions/{session_id}/signal"))
}

fn report(label: &str, x: &Exchange) {
    println!(
        "{label}: connected {:.0?}, data channel open on both sides {:.0?} after negotiation \
         start ({:.0?} after the petitioner's WebSocket upgrade), echo back {:.0?}; candidates \
         relayed (officer, petitioner) {:?}; signal messages relayed (to officer, to \
         petitioner) {:?}",
        x.connected, x.open, x.join_to_open, x.echoed, x.candidates_received, x.signals
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officer_and_petitioner_exchange_bytes_over_a_data_channel() {
    let app = TestApp::spawn().await;
    let s = app.book_demo_session().await;
    let (mut officer, mut petitioner) =
        officer_then_petitioner(&app, s.session_id, &s.officer_token, &s.petitioner_token)
            .await
            .expect("officer and petitioner join");

    let sent = payload();
    let x = negotiate_and_exchange(&mut officer, &mut petitioner, &sent, NEGOTIATION_TIMEOUT)
        .await
        .expect("negotiation through the relay");
    report("officer <- petitioner", &x);

    assert_eq!(
        x.first_received, sent,
        "officer received other bytes than the petitioner sent"
    );
    assert_eq!(
        x.second_received, sent,
        "the echo back to the petitioner differs"
    );
    // Trickle ICE really went through the relay, both ways.
    assert!(
        x.candidates_received.0 > 0,
        "no candidate reached the officer via the relay"
    );
    assert!(
        x.candidates_received.1 > 0,
        "no candidate reached the petitioner via the relay"
    );
    assert!(x.open <= x.echoed && x.connected <= x.open);
    // Each participant's `seq` rises by exactly one per message it is sent.
    for peer in [&officer, &petitioner] {
        let seqs: Vec<i64> = peer
            .log()
            .iter()
            .map(|m| m["seq"].as_i64().unwrap_or(-1))
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1) && seqs.first() > Some(&0),
            "{}'s seq numbers are not consecutive: {seqs:?}",
            peer.id()
        );
    }

    for peer in [&officer, &petitioner] {
        println!("{} received:", peer.id());
        for m in peer.log() {
            println!("  {}", abbreviate(m));
        }
    }

    officer.close().await;
    petitioner.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_shows_both_joins_after_a_call() {
    let app = TestApp::spawn().await;
    let s = app.book_demo_session().await;
    let (mut officer, mut petitioner) =
        officer_then_petitioner(&app, s.session_id, &s.officer_token, &s.petitioner_token)
            .await
            .expect("officer and petitioner join");

    let open = negotiate_and_echo(&mut officer, &mut petitioner, b"ping", NEGOTIATION_TIMEOUT)
        .await
        .expect("negotiation through the relay");
    println!("data channel open after {open:.0?}");

    let response = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/sessions/{}", s.session_id)))
        .bearer_auth(&s.officer_token)
        .send()
        .await
        .expect("GET session");
    let status = response.status();
    let body: Value = response.json().await.expect("session JSON");
    assert_eq!(status, 200, "{body}");
    let events = body["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events array in {body}"));
    let joined: Vec<&Value> = events.iter().filter(|e| e["kind"] == "joined").collect();
    for id in [officer.id(), petitioner.id()] {
        assert!(
            joined.iter().any(|e| mentions(e, id)),
            "no `joined` event for {id} in the timeline: {}",
            Value::Array(events.clone())
        );
    }

    officer.close().await;
    petitioner.close().await;
}

/// Whether `id` appears as a string anywhere in `v` (the event's actor, or inside its data).
fn mentions(v: &Value, id: &str) -> bool {
    match v {
        Value::String(s) => s == id || s.contains(&format!("\"{id}\"")),
        Value::Array(a) => a.iter().any(|x| mentions(x, id)),
        Value::Object(o) => o.values().any(|x| mentions(x, id)),
        _ => false,
    }
}

/// Two instances on one fresh PostgreSQL database and the machine's Redis (with a key prefix of
/// their own); None, after saying so loudly, when either service is absent and
/// `COURTLINK_REQUIRE_SERVICES` is not set (with it set, the harness panics instead).
async fn two_instances() -> Option<(TestApp, TestApp)> {
    let redis = common::shared_redis()?;
    let a = TestApp::spawn_with(Backend::Postgres, with_redis(redis)).await?;
    let b = a.spawn_peer().await;
    assert_ne!(a.port, b.port, "two instances, two ports");
    Some((a, b))
}

fn seq(m: &Value) -> u64 {
    m["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("a server message without a numeric seq: {m}"))
}

/// Each participant's `seq` rises by exactly one per message it is sent, across sockets.
fn assert_consecutive_seqs(peer: &SignalPeer) {
    let seqs: Vec<u64> = peer.log().iter().map(seq).collect();
    assert!(
        seqs.first() == Some(&1) && seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "{}'s seq numbers are not 1, 2, 3, ...: {seqs:?}",
        peer.id()
    );
}

/// The participant `id` in a `participants` list, with its `polite` flag.
fn listed<'a>(participants: &'a Value, id: &str) -> Option<&'a Value> {
    participants.as_array()?.iter().find(|p| p["id"] == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officer_on_one_instance_and_petitioner_on_another_talk_through_redis() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let s = a.book_demo_session().await;
    let (mut officer, mut petitioner) =
        officer_then_petitioner_on(&a, &b, s.session_id, &s.officer_token, &s.petitioner_token)
            .await
            .expect("officer joins A, petitioner joins B and is admitted");
    // Instance B learnt that the officer is on A only through Redis.
    assert_eq!(
        listed(&petitioner.welcome()["participants"], officer.id()).map(|p| &p["polite"]),
        Some(&Value::Bool(false)),
        "the petitioner's welcome from B must list the officer held by A: {}",
        petitioner.welcome()
    );

    let sent = payload();
    let x = negotiate_and_exchange(&mut officer, &mut petitioner, &sent, NEGOTIATION_TIMEOUT)
        .await
        .expect("negotiation through the relay, across instances");
    report("officer on A <- petitioner on B", &x);
    assert_eq!(
        x.first_received, sent,
        "the officer received other bytes than the petitioner sent"
    );
    assert_eq!(
        x.second_received, sent,
        "the echo back to the petitioner differs"
    );
    // Every description and candidate crossed from one instance to the other, i.e. over Redis.
    assert!(
        x.candidates_received.0 > 0 && x.candidates_received.1 > 0,
        "candidates must cross Redis both ways: {:?}",
        x.candidates_received
    );
    assert!(
        x.signals.0 >= 2 && x.signals.1 >= 2,
        "an offer and candidates one way, an answer and candidates the other: {:?}",
        x.signals
    );

    // And distinct bytes both ways at once over the same channel.
    let (at_officer, at_petitioner) = exchange_over_channel(
        &mut officer,
        &mut petitioner,
        "法官：请讲".as_bytes(),
        "信访人：您好".as_bytes(),
        NEGOTIATION_TIMEOUT,
    )
    .await
    .expect("bytes both ways");
    assert_eq!(at_officer, "信访人：您好".as_bytes());
    assert_eq!(at_petitioner, "法官：请讲".as_bytes());

    assert_consecutive_seqs(&officer);
    assert_consecutive_seqs(&petitioner);
    officer.close().await;
    petitioner.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_petitioner_resuming_on_the_other_instance_keeps_its_call() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let s = a.book_demo_session().await;
    let (mut officer, mut petitioner) =
        officer_then_petitioner_on(&a, &b, s.session_id, &s.officer_token, &s.petitioner_token)
            .await
            .expect("officer joins A, petitioner joins B and is admitted");
    let sent = payload();
    let x = negotiate_and_exchange(&mut officer, &mut petitioner, &sent, NEGOTIATION_TIMEOUT)
        .await
        .expect("negotiation through the relay, across instances");
    report("officer on A <- petitioner on B", &x);
    assert_eq!(x.first_received, sent);
    assert_eq!(x.second_received, sent);
    let officer_mark = officer.log().len();

    // The petitioner's line to B drops: no close frame, so B keeps its place for a resume.
    petitioner.drop_socket().await;
    let last = petitioner
        .last_seq()
        .expect("the petitioner has seen numbered messages");

    // Media (here: the data channel) does not go through the server, so it does not care.
    let (at_officer, at_petitioner) = exchange_over_channel(
        &mut officer,
        &mut petitioner,
        b"officer, while the petitioner's socket is down",
        b"petitioner, while its socket is down",
        NEGOTIATION_TIMEOUT,
    )
    .await
    .expect("the data channel works without the signalling socket");
    assert_eq!(at_officer, b"petitioner, while its socket is down");
    assert_eq!(
        at_petitioner,
        b"officer, while the petitioner's socket is down"
    );

    // Something for the petitioner while it is away (B has noticed the drop by now).
    tokio::time::sleep(Duration::from_millis(500)).await;
    officer.chat("您还在吗？").expect("chat");
    officer
        .wait_for("chat", Duration::from_secs(10), |m| {
            m["text"] == "您还在吗？"
        })
        .await
        .expect("the officer's chat echo");

    // Back, on the officer's instance A, with the last seq seen on B.
    let r = petitioner
        .resume_on(&signal_url(&a, s.session_id), Duration::from_secs(10))
        .await
        .expect("the petitioner resumes on A");
    println!(
        "resumed after seq {}: replayed {:?}, then {}",
        r.after,
        r.replayed.iter().map(abbreviate).collect::<Vec<_>>(),
        r.resumed
    );
    assert_eq!(r.subprotocol.as_deref(), Some("courtlink.v1"));
    assert_eq!(r.after, last);
    let replayed: Vec<u64> = r.replayed.iter().map(seq).collect();
    let expected: Vec<u64> = (last + 1..=last + r.replayed.len() as u64).collect();
    assert_eq!(
        replayed, expected,
        "the replay runs on from resume.{last} without a gap"
    );
    assert!(
        r.replayed
            .iter()
            .any(|m| m["type"] == "chat" && m["text"] == "您还在吗？"),
        "the chat sent while the petitioner was away is replayed: {:?}",
        r.replayed
    );
    assert_eq!(
        seq(&r.resumed),
        last + r.replayed.len() as u64 + 1,
        "`resumed` closes the replay: {}",
        r.resumed
    );
    assert_eq!(
        listed(&r.resumed["participants"], officer.id()).map(|p| &p["polite"]),
        Some(&Value::Bool(false)),
        "`resumed` lists the officer, towards whom the petitioner stays impolite: {}",
        r.resumed
    );

    // The same peer connection and data channel keep carrying bytes both ways.
    let (at_officer, at_petitioner) = exchange_over_channel(
        &mut officer,
        &mut petitioner,
        "恢复后：法官".as_bytes(),
        "恢复后：信访人".as_bytes(),
        NEGOTIATION_TIMEOUT,
    )
    .await
    .expect("bytes both ways after the resume");
    assert_eq!(at_officer, "恢复后：信访人".as_bytes());
    assert_eq!(at_petitioner, "恢复后：法官".as_bytes());

    // New signalling crosses after the resume: an ICE restart offered by the petitioner, the
    // officer's answer and both sides' new candidates.
    let restart = restart_ice_through_relay(&mut petitioner, &mut officer, NEGOTIATION_TIMEOUT)
        .await
        .expect("an ICE restart through the relay after the resume");
    println!("ICE restart after the resume: {restart:?}");
    assert_ne!(
        restart.offerer_ufrag.0, restart.offerer_ufrag.1,
        "the restart offer carries new ICE credentials"
    );
    assert!(
        restart.offer_seen.is_some(),
        "the officer received the restart offer: {restart:?}"
    );
    assert!(
        restart.candidates_received.1 + restart.sdp_candidates.0 > 0
            && restart.candidates_received.0 + restart.sdp_candidates.1 > 0,
        "each side's candidates for the new ICE generation reached the other, trickled or \
         inside the description: {restart:?}"
    );
    assert!(
        restart
            .ice_states
            .0
            .last()
            .is_some_and(|s| s == "Connected")
            && restart
                .ice_states
                .1
                .last()
                .is_some_and(|s| s == "Connected"),
        "ICE is connected again on both sides: {restart:?}"
    );
    let (at_officer, at_petitioner) = exchange_over_channel(
        &mut officer,
        &mut petitioner,
        &sent,
        b"after the ICE restart",
        NEGOTIATION_TIMEOUT,
    )
    .await
    .expect("bytes both ways after the ICE restart");
    assert_eq!(at_officer, b"after the ICE restart");
    assert_eq!(at_petitioner, sent);

    petitioner.chat("听得到").expect("chat");
    officer
        .wait_for("chat", Duration::from_secs(10), |m| {
            m["text"] == "听得到" && m["from"] == "petitioner"
        })
        .await
        .expect("the petitioner's chat after the resume reaches the officer");

    // Nobody saw the petitioner leave and come back.
    let churn: Vec<String> = officer.log()[officer_mark..]
        .iter()
        .filter(|m| {
            matches!(
                m["type"].as_str(),
                Some("left" | "joined" | "waiting" | "welcome" | "error")
            )
        })
        .map(abbreviate)
        .collect();
    assert!(
        churn.is_empty(),
        "the officer must not see the petitioner leave or rejoin: {churn:?}"
    );
    assert_eq!(petitioner.sockets(), 2);
    assert_consecutive_seqs(&officer);
    assert_consecutive_seqs(&petitioner);
    for peer in [&officer, &petitioner] {
        println!("{} received:", peer.id());
        for m in peer.log() {
            println!("  {}", abbreviate(m));
        }
    }
    officer.close().await;
    petitioner.close().await;
}

/// Officer and petitioner on `a`/`b`, then the coordinator (local staff) joins on `c`: the
/// petitioner, there first, is polite towards it.
async fn three_participants(
    a: &TestApp,
    b: &TestApp,
    c: &TestApp,
    s: &common::DemoSession,
) -> (SignalPeer, SignalPeer, SignalPeer) {
    let (officer, mut petitioner) =
        officer_then_petitioner_on(a, b, s.session_id, &s.officer_token, &s.petitioner_token)
            .await
            .expect("officer and petitioner join");
    let coordinator = SignalPeer::connect(&signal_url(c, s.session_id), &s.coordinator_token)
        .await
        .expect("the coordinator joins");
    let joined = petitioner
        .wait_for("joined", Duration::from_secs(10), |m| {
            m["participant"]["id"] == coordinator.id()
        })
        .await
        .expect("the petitioner is told the coordinator joined");
    assert_eq!(joined["polite"], true, "{joined}");
    (officer, petitioner, coordinator)
}

/// docs/signalling.md: `resumed` lists the participants "each with `polite`", and politeness
/// is fixed per pair (whoever was there first is polite). The server lists everyone with
/// `polite: false` in `resumed`, so after a resume the petitioner is told to be impolite
/// towards a participant that joined after it, which was told (`joined`) to be impolite too:
/// nobody yields on glare.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn resumed_keeps_the_politeness_of_joined() {
    let app = TestApp::spawn().await;
    let s = app.book_demo_session().await;
    let (_officer, mut petitioner, coordinator) = three_participants(&app, &app, &app, &s).await;
    petitioner.drop_socket().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = petitioner
        .resume_on(&signal_url(&app, s.session_id), Duration::from_secs(10))
        .await
        .expect("the petitioner resumes");
    assert_eq!(
        listed(&r.resumed["participants"], coordinator.id()).map(|p| &p["polite"]),
        Some(&Value::Bool(true)),
        "the petitioner was told `joined` with polite:true about {}, then {}",
        coordinator.id(),
        r.resumed
    );
}

/// A participant held by instance B must still reach the petitioner after the petitioner's
/// socket dropped on B and it resumed on A. The server loses those messages: B noticed the
/// drop (so A publishes no `replaced` close for it) and keeps the petitioner in its grace
/// period; B's `send` delivers "locally" into that dead entry instead of over Redis to A.
/// Chat is used here; `signal` (offers, candidates) takes the same path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_participant_on_the_old_instance_reaches_the_resumed_petitioner() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let s = a.book_demo_session().await;
    let (officer, mut petitioner, mut coordinator) = three_participants(&a, &b, &b, &s).await;
    petitioner.drop_socket().await;
    // B notices the drop before the petitioner comes back (the usual case).
    tokio::time::sleep(Duration::from_millis(500)).await;
    petitioner
        .resume_on(&signal_url(&a, s.session_id), Duration::from_secs(10))
        .await
        .expect("the petitioner resumes on A");
    officer.chat("来自 A").expect("chat");
    petitioner
        .wait_for("chat", Duration::from_secs(5), |m| m["text"] == "来自 A")
        .await
        .expect("a chat from A reaches the petitioner on A");
    coordinator.chat("来自 B").expect("chat");
    coordinator
        .wait_for("chat", Duration::from_secs(5), |m| m["text"] == "来自 B")
        .await
        .expect("the coordinator's own echo");
    petitioner
        .wait_for("chat", Duration::from_secs(5), |m| m["text"] == "来自 B")
        .await
        .expect("a chat from the coordinator on B reaches the petitioner resumed on A");
}
