//! The signalling socket's doors and bad input: who may open it, and what a bad message gets.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

mod common;

use std::time::Duration;

use common::{TestApp, next_json, next_of, ws_connect, ws_join, ws_send};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::{self, Message, protocol::frame::coding::CloseCode};

/// The HTTP status of a refused upgrade.
async fn refused(app: &TestApp, session_id: i64, protocols: &str) -> u16 {
    match ws_connect(app, session_id, protocols).await {
        Err(tungstenite::Error::Http(res)) => res.status().as_u16(),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("expected a refusal, the socket opened"),
    }
}

/// Waits for the server to close the socket and returns the close code.
async fn close_code(ws: &mut common::Ws) -> Option<CloseCode> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("closed within 10 s")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

#[tokio::test]
async fn only_the_sessions_participants_get_in() {
    let app = TestApp::spawn().await;
    let s = app.book_demo_session().await;
    let sid = s.session_id;
    let auth = |t: &str| format!("courtlink.v1, auth.{t}");

    assert_eq!(refused(&app, sid, "auth.x").await, 400, "no courtlink.v1");
    assert_eq!(refused(&app, sid, "courtlink.v1").await, 401, "no token");
    assert_eq!(
        refused(&app, sid, "courtlink.v1, auth.garbage").await,
        401,
        "bad token"
    );
    assert_eq!(refused(&app, 999_999, &auth(&s.officer_token)).await, 404);
    // Officers of other courts, coordinators of other courts, a supervisor below the host court and admins stay out.
    for user in [
        "zj.officer",
        "hz.officer",
        "shangcheng.coord",
        "zj.supervisor",
        "admin",
    ] {
        let token = app.login(user).await;
        assert_eq!(refused(&app, sid, &auth(&token)).await, 403, "{user}");
    }
    // A petitioner's token for session X does not open session Y.
    let coord = &s.coordinator_token;
    let rooms = app.get_ok("/api/v1/local-rooms", coord).await;
    let cases = app.get_ok("/api/v1/cases", coord).await;
    let slot = app.joinable_spc_slot(coord).await;
    let res = app
        .post("/api/v1/bookings", Some(coord), &json!({"slot_id": slot["id"], "case_id": cases[1]["id"], "local_room_id": rooms[1]["id"]}))
        .await;
    assert_eq!(res.status(), 201);
    let other: serde_json::Value = res.json().await.unwrap();
    let other_sid = other["session_id"].as_i64().unwrap();
    assert_eq!(
        refused(&app, other_sid, &auth(&s.petitioner_token)).await,
        403
    );

    // The booking court's coordinator joins as local staff; the host's officer as host.
    let mut local = ws_join(&app, sid, coord).await;
    assert_eq!(next_json(&mut local).await["you"]["role"], "local_staff");
    let mut host = ws_join(&app, sid, &s.officer_token).await;
    assert_eq!(next_json(&mut host).await["you"]["role"], "host");
    assert_eq!(
        next_of(&mut local, "joined").await["participant"]["role"],
        "host"
    );

    // A supervisor of the host court observes.
    let supervisor = app.login("spc.supervisor").await;
    let mut observer = ws_join(&app, sid, &supervisor).await;
    assert_eq!(next_json(&mut observer).await["you"]["role"], "observer");

    // Once ended, nobody gets in.
    let res = app
        .post(
            &format!("/api/v1/sessions/{sid}/end"),
            Some(&s.officer_token),
            &json!({"outcome": "reschedule"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(close_code(&mut local).await, Some(CloseCode::Normal));
    assert_eq!(refused(&app, sid, &auth(&s.petitioner_token)).await, 409);
}

#[tokio::test]
async fn bad_messages_get_errors_and_the_socket_keeps_serving() {
    let app = TestApp::spawn().await;
    let s = app.book_demo_session().await;
    let mut host = ws_join(&app, s.session_id, &s.officer_token).await;
    next_json(&mut host).await;
    let mut petitioner = ws_join(&app, s.session_id, &s.petitioner_token).await;
    next_json(&mut petitioner).await;
    next_of(&mut host, "waiting").await;

    for (bad, code) in [
        (r#"{"type":"signal","to":"petitioner","data":{}}"#, "not_admitted"),
        (r#"{"type":"admit","participant":"user-99"}"#, "unknown_participant"),
        ("{not json", "malformed_message"),
        (r#"{"type":"dance"}"#, "malformed_message"),
        (
            r#"{"type":"chat","text":"hi","to":"x"}"#,
            "malformed_message",
        ),
        (
            r#"{"type":"signal","to":"petitioner","data":"offer"}"#,
            "malformed_message",
        ),
        (
            r#"{"type":"signal","to":"user-99","data":{}}"#,
            "unknown_participant",
        ),
        (r#"{"type":"chat","text":"   "}"#, "chat_too_long"),
    ] {
        host.send(Message::text(bad)).await.unwrap();
        let err = next_json(&mut host).await;
        assert_eq!(
            (err["type"].as_str(), err["code"].as_str()),
            (Some("error"), Some(code)),
            "{bad}"
        );
        assert!(err["seq"].as_u64().is_some());
    }
    let long = "长".repeat(2001);
    ws_send(&mut host, &json!({"type": "chat", "text": long})).await;
    assert_eq!(next_json(&mut host).await["code"], "chat_too_long");
    host.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(next_json(&mut host).await["code"], "binary_not_supported");

    // Still serving: once admitted, a signal gets through unchanged, and the petitioner saw
    // none of the errors.
    ws_send(&mut host, &json!({"type": "admit", "participant": "petitioner"})).await;
    assert_eq!(next_json(&mut petitioner).await["type"], "admitted");
    assert_eq!(next_json(&mut host).await["type"], "joined");
    let data = json!({"candidate": {"candidate": "candidate:1 1 UDP 2122252543 127.0.0.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}});
    ws_send(
        &mut host,
        &json!({"type": "signal", "to": "petitioner", "data": data}),
    )
    .await;
    let got = next_json(&mut petitioner).await;
    assert_eq!(
        (got["type"].as_str(), &got["data"]),
        (Some("signal"), &data)
    );

    // A frame over 64 KiB closes that socket with 1009; the other participant is told it left.
    host.send(Message::text("x".repeat(70 * 1024)))
        .await
        .unwrap();
    assert_eq!(close_code(&mut host).await, Some(CloseCode::Size));
    let left = next_of(&mut petitioner, "left").await;
    assert_eq!(
        left["participant_id"].as_str().unwrap(),
        format!("user-{}", 2)
    );
    // The server keeps serving everyone else: the host comes back.
    let mut again = ws_join(&app, s.session_id, &s.officer_token).await;
    assert_eq!(
        next_json(&mut again).await["participants"][0]["id"],
        "petitioner"
    );
}

#[tokio::test]
async fn a_second_connection_of_the_same_identity_replaces_the_first() {
    let app = TestApp::spawn().await;
    let s = app.book_demo_session().await;
    let mut host = ws_join(&app, s.session_id, &s.officer_token).await;
    next_json(&mut host).await;
    let mut first = ws_join(&app, s.session_id, &s.petitioner_token).await;
    next_json(&mut first).await;
    common::admit_petitioner(&mut host, &mut first).await;

    // A fresh connection (no resume) replaces the first; the host drops its old peer
    // connection (`left`) and meets the new one, which keeps its admission.
    let mut second = ws_join(&app, s.session_id, &s.petitioner_token).await;
    let welcome = next_json(&mut second).await;
    assert_eq!((welcome["state"].as_str(), welcome["participants"][0]["role"].as_str()), (Some("admitted"), Some("host")));
    assert_eq!(close_code(&mut first).await, Some(CloseCode::Library(4000)));
    assert_eq!(next_json(&mut host).await["type"], "left");
    let joined = next_json(&mut host).await;
    assert_eq!((joined["type"].as_str(), joined["participant"]["id"].as_str()), (Some("joined"), Some("petitioner")));
    ws_send(&mut host, &json!({"type": "chat", "text": "还在吗？"})).await;
    assert_eq!(next_of(&mut second, "chat").await["text"], "还在吗？");
    // Leaving on purpose is announced at once and recorded.
    second.close(None).await.unwrap();
    assert_eq!(next_of(&mut host, "left").await["participant_id"], "petitioner");
    let timeline = app.get_ok(&format!("/api/v1/sessions/{}", s.session_id), &s.officer_token).await;
    let kinds: Vec<&str> = timeline["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["joined", "joined", "admitted", "joined", "chat", "left"], "{kinds:?}");
    assert_eq!(timeline["status"], "live");
}
