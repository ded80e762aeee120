//! Logging out, disabling an account and a new password revoke a user's tokens, on every
//! instance, within `auth.revocation_seconds`; open signalling sockets close too.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use std::time::Duration;

use common::{Backend, TestApp, assert_error};
use serde_json::json;

async fn me(app: &TestApp, token: &str) -> u16 {
    app.get("/api/v1/me", Some(token)).await.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_revokes_every_token_of_the_user() {
    let app = TestApp::spawn().await;
    let first = app.login("zj.officer").await;
    let second = app.login("zj.officer").await;
    let other = app.login("spc.officer").await;
    assert_eq!(me(&app, &first).await, 200);
    let res = app
        .post("/api/v1/auth/logout", Some(&first), &json!({}))
        .await;
    assert_eq!(res.status().as_u16(), 204);
    // This instance knows at once; both of the user's tokens are dead, others' are not.
    assert_error(
        app.get("/api/v1/me", Some(&first)).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_eq!(me(&app, &second).await, 401);
    assert_eq!(me(&app, &other).await, 200);
    let res = app
        .post("/api/v1/auth/refresh", Some(&second), &json!({}))
        .await;
    assert_eq!(res.status().as_u16(), 401);
    // Logging in again works.
    let again = app.login("zj.officer").await;
    assert_eq!(me(&app, &again).await, 200);
    // Logging out without a token is refused, not an error.
    assert_error(
        app.post("/api/v1/auth/logout", None, &json!({})).await,
        401,
        "unauthenticated",
    )
    .await;
}

async fn wait_until_refused(app: &TestApp, token: &str) -> Duration {
    let start = std::time::Instant::now();
    while me(app, token).await == 200 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "token still accepted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_user_and_a_new_password_revoke_tokens_on_another_instance() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |_| {}).await else {
        return;
    };
    let peer = app.spawn_peer().await;
    let admin = app.login("admin").await;
    let coord = peer.login("xihu.coord").await;
    assert_eq!(me(&peer, &coord).await, 200);
    let users = app.get_ok("/api/v1/admin/users", &admin).await;
    let id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "xihu.coord")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    // Disabled on one instance: the other refuses the token within revocation_seconds.
    let res = app
        .client
        .patch(app.url(&format!("/api/v1/admin/users/{id}")))
        .bearer_auth(&admin)
        .json(&json!({ "disabled": true }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let took = wait_until_refused(&peer, &coord).await;
    eprintln!("disabled user's token refused after {took:?}");
    // Enabled again, a new login works; a password reset then revokes that token too.
    let res = app
        .client
        .patch(app.url(&format!("/api/v1/admin/users/{id}")))
        .bearer_auth(&admin)
        .json(&json!({ "disabled": false }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let coord = peer.login("xihu.coord").await;
    assert_eq!(me(&peer, &coord).await, 200);
    let res = app
        .post(
            &format!("/api/v1/admin/users/{id}/password"),
            Some(&admin),
            &json!({ "password": "a-new-password-2026" }),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    wait_until_refused(&peer, &coord).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_out_officers_open_socket_is_closed() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.signalling.heartbeat_seconds = 1;
    })
    .await
    else {
        return;
    };
    let s = app.book_demo_session().await;
    let mut officer = common::ws_join(&app, s.session_id, &s.officer_token).await;
    let mut petitioner = common::ws_join(&app, s.session_id, &s.petitioner_token).await;
    let res = app
        .post("/api/v1/auth/logout", Some(&s.officer_token), &json!({}))
        .await;
    assert_eq!(res.status().as_u16(), 204);
    let start = std::time::Instant::now();
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(10), officer.next())
            .await
            .expect("closed within 10 s")
        {
            Some(Ok(Message::Close(frame))) => break frame.map(|f| f.code),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => break None,
        }
    };
    assert_eq!(code, Some(CloseCode::Library(4003)));
    eprintln!("revoked socket closed after {:?}", start.elapsed());
    // The petitioner's socket stays: its join token is not the officer's.
    common::ws_send(&mut petitioner, &json!({"type": "quality", "rtt_ms": 20})).await;
    let res = app.get("/healthz", None).await;
    assert_eq!(res.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_token_works_on_an_instance_that_has_never_seen_its_user() {
    // Routes open to staff and petitioners alike await the staff check (a store read on a cold
    // instance); polling it once would refuse a good token.
    let app = TestApp::spawn().await;
    let s = app.book_demo_session().await;
    let cold = app.spawn_peer().await;
    let res = cold
        .get(
            &format!("/api/v1/sessions/{}/transcript", s.session_id),
            Some(&s.officer_token),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200, "{}", res.text().await.unwrap());
}
