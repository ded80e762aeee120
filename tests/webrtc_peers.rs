//! Real WebRTC peers (the `webrtc` crate) negotiating through CourtLink's signalling relay:
//! descriptions and trickled candidates go only through the server's WebSocket, and bytes
//! really cross a WebRTC data channel on loopback.

mod common;

use std::time::Duration;

use anyhow::Context as _;
use common::TestApp;
use common::peer::{
    Exchange, SignalPeer, abbreviate, admit_from_waiting_room, negotiate_and_echo,
    negotiate_and_exchange,
};
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
    let url = app.ws_url(&format!("/api/v1/sessions/{session_id}/signal"));
    let mut officer = SignalPeer::connect(&url, officer_token)
        .await
        .context("officer connects")?;
    let mut petitioner = SignalPeer::connect(&url, petitioner_token)
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
