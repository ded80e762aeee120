//! Issue 15, "who may be in the room" and "the service under abuse": join tokens die with their
//! code, join codes cannot be guessed at speed, revocation is immediate on every instance,
//! guessing passwords slows the guesser without locking the owner out, the proxy headers are
//! trusted only from the proxy, names are normalized, and slow or host-less requests are refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp, assert_error};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn status(res: reqwest::Response) -> u16 {
    res.status().as_u16()
}

async fn reissue(app: &TestApp, booking_id: i64, coordinator: &str) -> String {
    let res = app
        .post(
            &format!("/api/v1/bookings/{booking_id}/join-code"),
            Some(coordinator),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    v["join_code"].as_str().unwrap().to_owned()
}

async fn join(app: &TestApp, code: &str) -> reqwest::Response {
    app.post("/api/v1/auth/join", None, &json!({ "code": code }))
        .await
}

// --- item 5: a replaced join code revokes the tokens minted from the old one ----------------

async fn a_replaced_code_revokes_its_tokens(app: TestApp) {
    let s = app.book_demo_session().await;
    let transcript = format!("/api/v1/sessions/{}/transcript", s.session_id);
    assert_eq!(
        status(app.get(&transcript, Some(&s.petitioner_token)).await).await,
        200
    );
    let new_code = reissue(&app, s.booking_id, &s.coordinator_token).await;
    // The old token no longer reads, rates or joins the call.
    assert_error(
        app.get(&transcript, Some(&s.petitioner_token)).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_error(
        app.post(
            &format!("/api/v1/sessions/{}/rating", s.session_id),
            Some(&s.petitioner_token),
            &json!({ "satisfaction": "satisfied" }),
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    assert!(
        common::ws_connect(
            &app,
            s.session_id,
            &format!("courtlink.v1, auth.{}", s.petitioner_token)
        )
        .await
        .is_err(),
        "a token of the replaced code opens no signalling socket"
    );
    // Neither does the old code mint a new one; the new code does, and its token works.
    assert_error(join(&app, &s.join_code).await, 401, "bad_join_code").await;
    let res = join(&app, &new_code).await;
    assert_eq!(res.status(), 200);
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(status(app.get(&transcript, Some(&token)).await).await, 200);
    let mut ws = common::ws_join(&app, s.session_id, &token).await;
    assert_eq!(common::next_json(&mut ws).await["type"], "welcome");
}
on_both_backends!(
    a_replaced_join_code_revokes_every_token_of_the_old_one,
    a_replaced_code_revokes_its_tokens
);

// --- item 6: join codes cannot be guessed at speed ---------------------------------------------

/// A booked session whose slot starts hours from now: its code is right but not usable yet.
async fn a_later_booking(app: &TestApp) -> String {
    let coordinator = app.login("xihu.coord").await;
    let case_id = app.get_ok("/api/v1/cases", &coordinator).await[1]["id"]
        .as_i64()
        .unwrap();
    let room_id = app.get_ok("/api/v1/local-rooms", &coordinator).await[0]["id"]
        .as_i64()
        .unwrap();
    let later = chrono::Utc::now() + chrono::Duration::hours(3);
    let slots = app.get_ok("/api/v1/slots", &coordinator).await;
    let slot = slots
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["court"]["level"] == "supreme"
                && s["starts_at"]
                    .as_str()
                    .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
                    > Some(later)
        })
        .cloned()
        .expect("an SPC slot three hours away");
    let res = app
        .post(
            "/api/v1/bookings",
            Some(&coordinator),
            &json!({"slot_id": slot["id"], "case_id": case_id, "local_room_id": room_id}),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["join_code"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_right_code_at_the_wrong_time_gets_the_same_answer_as_a_wrong_code() {
    let app = TestApp::spawn().await;
    let code = a_later_booking(&app).await;
    let early = assert_error(join(&app, &code).await, 401, "bad_join_code").await;
    let wrong = assert_error(join(&app, "1111-2222-3333").await, 401, "bad_join_code").await;
    assert_eq!(early, wrong, "the answers are identical");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_guessing_codes_is_slowed_down_with_retry_after() {
    let app = TestApp::spawn().await;
    let free = app.settings.auth.join_free_failures_per_address;
    for _ in 0..=free {
        assert_error(join(&app, "1111-2222-3333").await, 401, "bad_join_code").await;
    }
    let res = join(&app, "1111-2222-3334").await;
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=2).contains(&retry),
        "the first wait is a second: {retry}"
    );
    assert_error(res, 429, "too_many_join_attempts").await;
    // The waits grow: after the wait, the next wrong guess imposes 2 s.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_error(join(&app, "1111-2222-3335").await, 401, "bad_join_code").await;
    let res = join(&app, "1111-2222-3336").await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 2, "the second wait is longer: {retry}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_from_many_addresses_meet_a_ceiling_per_instance() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.auth.join_failures_per_minute = 3;
        s.auth.join_free_failures_per_address = 100;
    })
    .await
    .unwrap();
    let s = app.book_demo_session().await;
    for _ in 0..3 {
        assert_error(join(&app, "1111-2222-3333").await, 401, "bad_join_code").await;
    }
    // Past the ceiling, even the right code waits: answering it would tell a guesser it is right.
    let res = join(&app, &s.join_code).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, 429, "too_many_join_attempts").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stored_join_code_is_keyed_not_a_plain_sha256() {
    use sha2::Digest;
    use sqlx::Connection;
    let app = TestApp::spawn().await;
    let s = app.book_demo_session().await;
    let url = secrecy::ExposeSecret::expose_secret(&app.settings.database.url).to_owned();
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let (stored,): (String,) = sqlx::query_as("SELECT join_code_hash FROM sessions WHERE id = $1")
        .bind(s.session_id)
        .fetch_one(&mut db)
        .await
        .unwrap();
    let digits: String = s.join_code.chars().filter(char::is_ascii_digit).collect();
    assert_ne!(stored, hex::encode(sha2::Sha256::digest(digits.as_bytes())));
    assert_eq!(stored.len(), 64);
    // A code stored the old way (before migration 0014) still works until it is replaced.
    sqlx::query("UPDATE sessions SET join_code_hash = $2 WHERE id = $1")
        .bind(s.session_id)
        .bind(hex::encode(sha2::Sha256::digest(digits.as_bytes())))
        .execute(&mut db)
        .await
        .unwrap();
    assert_eq!(join(&app, &s.join_code).await.status(), 200);
}

// --- item 8: revocation is immediate on every instance -------------------------------------

async fn revocation_is_immediate_across_instances(app: TestApp) {
    let peer = app.spawn_peer().await;
    let admin = app.login("admin").await;
    let coord = peer.login("xihu.coord").await;
    assert_eq!(
        status(peer.get("/api/v1/me", Some(&coord)).await).await,
        200
    );
    let users = app.get_ok("/api/v1/admin/users", &admin).await;
    let id = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "xihu.coord")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let res = app
        .client
        .patch(app.url(&format!("/api/v1/admin/users/{id}")))
        .bearer_auth(&admin)
        .json(&json!({ "role": "officer" }))
        .send()
        .await
        .unwrap();
    let changed = Instant::now();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    // The very next request, on the other instance, is refused: no grace period at all.
    assert_error(
        peer.get("/api/v1/me", Some(&coord)).await,
        401,
        "unauthenticated",
    )
    .await;
    eprintln!(
        "revocation across two instances ({:?}): refused on the first request, {:?} after the change",
        app.backend,
        changed.elapsed()
    );
    assert_error(
        app.get("/api/v1/me", Some(&coord)).await,
        401,
        "unauthenticated",
    )
    .await;
}
on_both_backends!(
    a_role_change_revokes_at_once_on_another_instance,
    revocation_is_immediate_across_instances
);

// --- items 14, 15, 20: logins ------------------------------------------------------------------

async fn login_from(
    app: &TestApp,
    forwarded_for: Option<&str>,
    user: &str,
    pw: &str,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": user, "password": pw }));
    if let Some(f) = forwarded_for {
        req = req.header("X-Forwarded-For", f);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.auth.login_attempts_per_minute = 3)
        .await
        .unwrap();
    // A client that names a new address in each request is still one address.
    for i in 0..3 {
        let res = login_from(&app, Some(&format!("10.0.0.{i}")), "nobody", "x").await;
        assert_eq!(res.status(), 401);
    }
    let res = login_from(&app, Some("10.0.0.9"), "nobody", "x").await;
    assert_error(res, 429, "too_many_attempts").await;

    // Behind a trusted proxy, the address it adds counts.
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.auth.login_attempts_per_minute = 3;
        s.auth.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await
    .unwrap();
    for i in 0..6 {
        let res = login_from(&app, Some(&format!("spoofed, 10.0.0.{i}")), "nobody", "x").await;
        assert_eq!(res.status(), 401);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_slow_the_guesser_but_never_lock_the_owner_out() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.auth.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await
    .unwrap();
    let owner = Some("10.1.1.1");
    let res = login_from(&app, owner, "spc.officer", common::DEMO_PASSWORD).await;
    assert_eq!(res.status(), 200);
    // Someone else tries the judge's account from elsewhere, more times than are free.
    let max = app.settings.auth.max_failed_logins;
    for i in 0..max {
        let res = login_from(&app, Some(&format!("10.2.0.{i}")), "spc.officer", "guess").await;
        assert_error(res, 401, "bad_credentials").await;
    }
    let res = login_from(&app, Some("10.2.1.1"), "spc.officer", "guess").await;
    assert!(
        res.headers().contains_key("retry-after"),
        "{:?}",
        res.text().await
    );
    assert_error(res, 429, "login_slowed").await;
    // Even the right password waits at an address the account does not know...
    let res = login_from(&app, Some("10.2.1.2"), "spc.officer", common::DEMO_PASSWORD).await;
    assert_error(res, 429, "login_slowed").await;
    // ...but the judge, from an address they have logged in from, gets in at once.
    let res = login_from(&app, owner, "spc.officer", common::DEMO_PASSWORD).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // And that ended the slow-down.
    let res = login_from(&app, Some("10.2.1.3"), "spc.officer", common::DEMO_PASSWORD).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_guessing_passwords_waits_longer_and_longer() {
    let app = TestApp::spawn().await;
    let free = app.settings.auth.login_free_failures_per_address;
    for i in 0..=free {
        // Different accounts: the per-address brake, not the per-account one.
        let res = login_from(&app, None, &format!("nobody{i}"), "x").await;
        assert_error(res, 401, "bad_credentials").await;
    }
    let res = login_from(&app, None, "nobody", "x").await;
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, 429, "login_slowed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usernames_are_case_insensitive_and_hidden_characters_refused() {
    let app = TestApp::spawn().await;
    let res = login_from(&app, None, "XiHu.Coord", common::DEMO_PASSWORD).await;
    assert_eq!(res.status(), 200);
    // Full-width letters are the same name after NFKC.
    let res = login_from(&app, None, "ｘｉｈｕ.coord", common::DEMO_PASSWORD).await;
    assert_eq!(res.status(), 200);
    for hidden in [
        "xihu\u{202E}.coord",
        "xihu\u{200B}.coord",
        "xihu.coord\u{FEFF}",
    ] {
        let res = login_from(&app, None, hidden, common::DEMO_PASSWORD).await;
        assert_error(res, 422, "invalid_input").await;
    }
}

// --- items 16, 18: the request itself ------------------------------------------------------------

async fn raw(app: &TestApp, request: &[u8]) -> String {
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    tcp.write_all(request).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut answer))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_host_is_refused() {
    let app = TestApp::spawn().await;
    let answer = raw(
        &app,
        b"GET /api/v1/slots HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("missing_host"), "{answer}");
    let answer = raw(
        &app,
        b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(!answer.starts_with("HTTP/1.1 400"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_times_out() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.server.body_read_seconds = 2)
        .await
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let (mut read, mut write) = tcp.into_split();
    write
        .write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 200\r\n\r\n{",
        )
        .await
        .unwrap();
    // One byte a second: the whole body would take over three minutes.
    let trickle = tokio::spawn(async move {
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if write.write_all(b" ").await.is_err() {
                break;
            }
        }
    });
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(15), read.read(&mut answer))
        .await
        .expect("the server answers a trickling body instead of waiting for it")
        .unwrap();
    trickle.abort();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("body_too_slow"), "{answer}");
}

/// The body deadline is for request bodies, not for a signalling socket, whose frames arrive for
/// as long as the call lasts (it has its own heartbeat): a socket outlives
/// `server.body_read_seconds` and keeps being served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signalling_socket_outlives_the_body_deadline() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.server.body_read_seconds = 1;
        s.signalling.waiting_room = false;
    })
    .await
    .unwrap();
    let s = app.book_demo_session().await;
    let mut host = common::ws_join(&app, s.session_id, &s.officer_token).await;
    common::next_json(&mut host).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    common::ws_send(&mut host, &json!({"type": "chat", "text": "还在吗？"})).await;
    let echoed = common::next_of(&mut host, "chat").await;
    assert_eq!(echoed["text"], "还在吗？", "{echoed}");
}
