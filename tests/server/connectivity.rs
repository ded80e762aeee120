//! Connectivity tests (联通测试) against the server's own WebRTC peer, with a `webrtc`-crate
//! room terminal (tests/connectivity/client.rs): a pass with plausible figures, a data path
//! deliberately blocked, the limit on concurrent tests and the clean-up of an abandoned one,
//! a petitioner's device check, and campaigns — counts that match what was run, contacts,
//! export, overdue rooms, and courts outside the scope — on SQLite and PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

#[path = "connectivity/client.rs"]
pub(crate) mod client;
use crate::common;

use std::time::Duration;

use client::{Plan, run_test};
use common::{TestApp, assert_error};
use courtlink::config::Settings;
use courtlink::domain::Role;
use courtlink::store::{NewUser, Pool, Store};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

/// The server's peer on loopback, where the client peer is, and shorter measuring.
fn on_loopback(measure_seconds: u64) -> impl FnOnce(&mut Settings) {
    move |s| {
        s.connectivity.bind_addresses = vec!["127.0.0.1".into()];
        s.connectivity.measure_seconds = measure_seconds;
    }
}

async fn room_id(app: &TestApp, token: &str, name: &str) -> i64 {
    let rooms = app.get_ok("/api/v1/connectivity/rooms", token).await;
    rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no room {name} in {rooms}"))["id"]
        .as_i64()
        .unwrap()
}

/// The room terminal's full test: 10 s of video and probes, echoed; a pass with figures a
/// loopback line gives, measured by the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_terminal_passes_with_plausible_figures() {
    let app = TestApp::spawn_with(common::Backend::Sqlite, on_loopback(10))
        .await
        .unwrap();
    let token = app.login("xihu.coord").await;
    let room = room_id(&app, &token, "视频接访室一").await;
    let side = run_test(
        &app.client,
        &app.address,
        &token,
        Some(room),
        Plan::default(),
        Duration::from_secs(40),
    )
    .await
    .unwrap();
    let r = &side.result;
    assert_eq!(r["status"], "passed", "{r:#}");
    assert_eq!(r["kind"], "media");
    assert_eq!(r["room_id"], room);
    let f = &r["figures"];
    assert_eq!(f["local_candidate"], "host", "{f}");
    assert!(
        matches!(f["remote_candidate"].as_str(), Some("host" | "prflx")),
        "{f}"
    );
    let connect_ms = f["connect_ms"].as_i64().unwrap();
    assert!((1..10_000).contains(&connect_ms), "connect_ms {connect_ms}");
    let rtt = f["rtt_ms"].as_f64().unwrap();
    assert!((0.0..100.0).contains(&rtt), "rtt {rtt} ms on loopback");
    assert!(f["loss_percent"].as_f64().unwrap() < 1.0, "{f}");
    assert!(f["jitter_ms"].as_f64().unwrap() < 30.0, "{f}");
    // 1212 bytes 50 times a second: about 485 kbit/s sent; the server saw nearly all of it.
    let kbps = f["bitrate_kbps"].as_f64().unwrap();
    assert!((350.0..600.0).contains(&kbps), "bitrate {kbps} kbit/s");
    // The echo worked both ways: our video came back, our probes came back, theirs went back.
    assert!(side.rtp_echoed > 100, "{side:?}");
    assert!(side.probes_echoed > 5, "{side:?}");
    assert!(side.server_probes > 50, "{side:?}");
    assert!(side.connected_after.is_some());
    assert_eq!(
        r["client_report"]["probes_echoed"].as_u64(),
        Some(side.probes_echoed),
        "the client's report is kept"
    );
    assert_eq!(r["thresholds"]["max_rtt_ms"], 300.0);
    // The room terminal sees it in its list.
    let rooms = app.get_ok("/api/v1/connectivity/rooms", &token).await;
    let listed = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == room)
        .unwrap();
    assert_eq!(listed["tests"][0]["id"], side.test_id);
}

/// The server's peer bound where the client cannot reach it (IPv6 loopback only, the client on
/// IPv4 loopback): the test fails with "no route" once the connect timeout is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_data_path_fails_with_the_reason() {
    let app = TestApp::spawn_with(common::Backend::Sqlite, |s| {
        s.connectivity.bind_addresses = vec!["::1".into()];
        s.connectivity.connect_timeout_seconds = 3;
        s.connectivity.measure_seconds = 2;
    })
    .await
    .unwrap();
    let token = app.login("xihu.coord").await;
    let room = room_id(&app, &token, "视频接访室二").await;
    let started = std::time::Instant::now();
    let side = run_test(
        &app.client,
        &app.address,
        &token,
        Some(room),
        Plan::default(),
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    let r = &side.result;
    assert_eq!(r["status"], "failed", "{r:#}");
    assert_eq!(r["reason_code"], "ice_failed");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("no route to the server's peer within 3 s"),
        "{reason}"
    );
    assert!(reason.contains("client offered host"), "{reason}");
    assert!(r["figures"]["rtt_ms"].is_null());
    assert!(side.connected_after.is_none());
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "failed within the connect timeout, not later: {:?}",
        started.elapsed()
    );
}

/// A client that does not echo the server's probes gives no round trip: `no_echo`. (The
/// server's figures do not rest on the client's word.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_client_fails_without_round_trip() {
    let app = TestApp::spawn_with(common::Backend::Sqlite, on_loopback(2))
        .await
        .unwrap();
    let token = app.login("xihu.coord").await;
    let room = room_id(&app, &token, "视频接访室一").await;
    let plan = Plan {
        video: false,
        echo_probes: false,
        apply_answer: true,
        host_room: false,
    };
    let side = run_test(
        &app.client,
        &app.address,
        &token,
        Some(room),
        plan,
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    assert_eq!(side.result["status"], "failed", "{}", side.result);
    assert_eq!(side.result["reason_code"], "no_echo");
    assert_eq!(side.result["kind"], "data");
}

/// At most `max_concurrent` tests at once; a client that goes away after the offer holds its
/// place only until the connect timeout, and its test is recorded as failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_limited_and_abandoned_tests_are_cleaned_up() {
    let app = TestApp::spawn_with(common::Backend::Sqlite, |s| {
        s.connectivity.bind_addresses = vec!["127.0.0.1".into()];
        s.connectivity.max_concurrent = 1;
        s.connectivity.connect_timeout_seconds = 2;
        s.connectivity.measure_seconds = 1;
    })
    .await
    .unwrap();
    let token = app.login("xihu.coord").await;
    let room = room_id(&app, &token, "视频接访室一").await;
    let gone = Plan {
        apply_answer: false,
        ..Plan::default()
    };
    let first = run_test(
        &app.client,
        &app.address,
        &token,
        Some(room),
        gone,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let second = run_test(
        &app.client,
        &app.address,
        &token,
        Some(room),
        gone,
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert!(
        format!("{second:#}").contains("429") && format!("{second:#}").contains("too_many_tests"),
        "{second:#}"
    );
    // The abandoned test is recorded within the connect timeout, and its place is free again.
    let mut view = Value::Null;
    for _ in 0..40 {
        view = app
            .get_ok(
                &format!("/api/v1/connectivity/tests/{}", first.test_id),
                &token,
            )
            .await;
        if view["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(view["status"], "failed", "{view}");
    assert_eq!(view["reason_code"], "ice_failed");
    tokio::time::sleep(Duration::from_millis(500)).await;
    run_test(
        &app.client,
        &app.address,
        &token,
        Some(room),
        gone,
        Duration::from_secs(5),
    )
    .await
    .expect("a place is free again");
}

/// Bad requests: another court's room, no room, a description that is not an offer, an offer
/// without a data channel, without candidates or with a malformed one; someone else's test is not
/// found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused() {
    let app = TestApp::spawn_with(common::Backend::Sqlite, on_loopback(1))
        .await
        .unwrap();
    let xihu = app.login("xihu.coord").await;
    let shangcheng = app.login("shangcheng.coord").await;
    let room = room_id(&app, &xihu, "视频接访室一").await;
    let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
               m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";
    let path = "/api/v1/connectivity/tests";
    let offer = |sdp: &str| json!({"room_id": room, "offer": {"type": "offer", "sdp": sdp}});
    assert_error(
        app.post(path, Some(&shangcheng), &offer(sdp)).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.post(
            path,
            Some(&xihu),
            &json!({"offer": {"type": "offer", "sdp": sdp}}),
        )
        .await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        app.post(
            path,
            Some(&xihu),
            &json!({"room_id": room, "offer": {"type": "answer", "sdp": sdp}}),
        )
        .await,
        422,
        "invalid_input",
    )
    .await;
    let body = assert_error(
        app.post(path, Some(&xihu), &offer(sdp)).await,
        422,
        "invalid_input",
    )
    .await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("no ICE candidates"),
        "{body}"
    );
    // What the `sdp_offer` fuzz target found: a candidate of component 731 (RFC 8445 allows 1
    // to 256), on which the WebRTC stack's priority overflows. Refused before any peer is built.
    let component_731 = format!(
        "{sdp}a=candidate:3 731 udp 0 127.0.0.1 49999 typ host\r\n\
         a=candidate:4 1 udp 2130706431 127.0.0.1 5000 typ host\r\n"
    );
    let no_channel = "v=0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
                      a=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\n";
    for (bad, says) in [
        (no_channel, "data channel"),
        (
            component_731.as_str(),
            "ICE candidate component is not 1 to 256",
        ),
    ] {
        let body = assert_error(
            app.post(path, Some(&xihu), &offer(bad)).await,
            422,
            "invalid_input",
        )
        .await;
        assert!(body["message"].as_str().unwrap().contains(says), "{body}");
    }
    assert_error(
        app.post(path, None, &offer(sdp)).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_error(
        app.get("/api/v1/connectivity/tests/999", Some(&xihu)).await,
        404,
        "not_found",
    )
    .await;

    // A real test of 西湖's room: 杭州中院 above reads it, 上城 beside does not.
    let side = run_test(
        &app.client,
        &app.address,
        &xihu,
        Some(room),
        Plan::default(),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let path = format!("/api/v1/connectivity/tests/{}", side.test_id);
    let hz = app.login("hz.officer").await;
    assert_eq!(app.get_ok(&path, &hz).await["id"], side.test_id);
    assert_error(app.get(&path, Some(&shangcheng)).await, 404, "not_found").await;
    assert_error(
        app.post(&format!("{path}/report"), Some(&hz), &json!({"rtt_ms": 1}))
            .await,
        404,
        "not_found",
    )
    .await;
}

/// A petitioner's device check runs the same echo test, recorded against the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn petitioner_device_check() {
    let app = TestApp::spawn_with(common::Backend::Sqlite, on_loopback(2))
        .await
        .unwrap();
    let demo = app.book_demo_session().await;
    let plan = Plan {
        video: false,
        ..Plan::default()
    };
    let side = run_test(
        &app.client,
        &app.address,
        &demo.petitioner_token,
        None,
        plan,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(side.result["status"], "passed", "{}", side.result);
    assert_eq!(side.result["session_id"], demo.session_id);
    assert!(side.result["room_id"].is_null());
    // Staff of the room's court do not read a petitioner's check through the room API.
    let path = format!("/api/v1/connectivity/tests/{}", side.test_id);
    assert_error(
        app.get(&path, Some(&demo.coordinator_token)).await,
        404,
        "not_found",
    )
    .await;
}

/// The settings name the key that is wrong.
#[test]
fn bad_connectivity_settings_are_named() {
    let base = common::test_settings("sqlite://unused.db".into());
    type Tweak = Box<dyn Fn(&mut Settings)>;
    let cases: Vec<(&str, Tweak)> = vec![
        (
            "connectivity.bind_addresses",
            Box::new(|s| s.connectivity.bind_addresses = vec!["eth0".into()]),
        ),
        (
            "connectivity.bind_addresses",
            Box::new(|s| s.connectivity.bind_addresses.clear()),
        ),
        (
            "connectivity.nat_1to1_ips",
            Box::new(|s| s.connectivity.nat_1to1_ips = vec!["nat".into()]),
        ),
        (
            "connectivity.port_max",
            Box::new(|s| (s.connectivity.port_min, s.connectivity.port_max) = (41000, 40000)),
        ),
        (
            "connectivity.port_max",
            Box::new(|s| (s.connectivity.port_min, s.connectivity.port_max) = (80, 90)),
        ),
        (
            "connectivity.max_concurrent",
            Box::new(|s| s.connectivity.max_concurrent = 0),
        ),
        (
            "connectivity.connect_timeout_seconds",
            Box::new(|s| s.connectivity.connect_timeout_seconds = 0),
        ),
        (
            "connectivity.abandon_seconds",
            Box::new(|s| s.connectivity.abandon_seconds = 15),
        ),
        (
            "connectivity.max_loss_percent",
            Box::new(|s| s.connectivity.max_loss_percent = 120.0),
        ),
        (
            "connectivity.max_rtt_ms",
            Box::new(|s| s.connectivity.max_rtt_ms = -1.0),
        ),
        (
            "connectivity.min_bitrate_kbps",
            Box::new(|s| s.connectivity.min_bitrate_kbps = f64::NAN),
        ),
    ];
    assert!(base.validate().is_ok());
    for (key, tweak) in cases {
        let mut s = base.clone();
        tweak(&mut s);
        let err = s.validate().expect_err(key).to_string();
        assert!(err.contains(key), "{err} should name {key}");
    }
}

// --- campaigns -----------------------------------------------------------------------------------

async fn store_of(app: &TestApp) -> Store {
    Store::connect(app.settings.database.url.expose_secret(), 2)
        .await
        .unwrap()
}

async fn put(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.client
        .put(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn counts(view: &Value) -> (i64, i64, i64, i64, i64) {
    let c = &view["counts"];
    let n = |k: &str| c[k].as_i64().unwrap();
    (
        n("rooms"),
        n("passed"),
        n("failed"),
        n("not_tested"),
        n("overdue"),
    )
}

/// 杭州中院 orders a campaign for the courts below it; 西湖 passes one room and fails the other,
/// 上城 does not test. The view's counts match; each court records its contacts; courts in
/// scope see their own part, the court above sees all, a court outside sees nothing; the export
/// has a line per room; past the deadline the rooms without a pass are overdue.
async fn campaign_view_matches_what_was_run(app: TestApp) {
    let hz = app.login("hz.officer").await;
    let xihu = app.login("xihu.coord").await;
    let shangcheng = app.login("shangcheng.coord").await;
    let zj = app.login("zj.supervisor").await;
    let deadline = chrono::Utc::now() + chrono::Duration::days(7);

    // Who may open one.
    let body = json!({"title": "2026年第四季度联通测试", "deadline": deadline});
    assert_error(
        app.post("/api/v1/connectivity/campaigns", Some(&xihu), &body)
            .await,
        403,
        "forbidden",
    )
    .await;
    let past = json!({"title": "x", "deadline": chrono::Utc::now() - chrono::Duration::days(1)});
    assert_error(
        app.post("/api/v1/connectivity/campaigns", Some(&hz), &past)
            .await,
        422,
        "invalid_input",
    )
    .await;
    let res = app
        .post("/api/v1/connectivity/campaigns", Some(&hz), &body)
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let path = format!("/api/v1/connectivity/campaigns/{id}");

    let view = app.get_ok(&path, &hz).await;
    assert_eq!(counts(&view), (3, 0, 0, 3, 0), "{view:#}");
    assert_eq!(view["court_name"], "杭州市中级人民法院");

    // 西湖: room one passes, room two fails (the terminal does not echo the probes).
    let one = room_id(&app, &xihu, "视频接访室一").await;
    let two = room_id(&app, &xihu, "视频接访室二").await;
    let data = Plan {
        video: false,
        ..Plan::default()
    };
    let pass = run_test(
        &app.client,
        &app.address,
        &xihu,
        Some(one),
        data,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(pass.result["status"], "passed", "{}", pass.result);
    let silent = Plan {
        echo_probes: false,
        ..data
    };
    let fail = run_test(
        &app.client,
        &app.address,
        &xihu,
        Some(two),
        silent,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(fail.result["status"], "failed");

    // Contacts of 西湖.
    let contacts = json!({"contact_name": "陈专干", "contact_phone": "13800001234",
                          "tech_name": "技术科 李工", "tech_phone": "0571-87001234"});
    assert_eq!(
        put(&app, &format!("{path}/contacts"), &xihu, &contacts)
            .await
            .status(),
        204
    );
    // The failed test names the court's technical-support person to call (issue 16: from the
    // court's directory, or, as here, what it recorded for a campaign): whole for 西湖 itself,
    // masked for the court above; a passed test names nobody.
    let failed = format!("/api/v1/connectivity/tests/{}", fail.test_id);
    let own = app.get_ok(&failed, &xihu).await;
    assert_eq!(own["support"]["name"], "技术科 李工", "{own}");
    assert_eq!(own["support"]["phone"], "0571-87001234");
    let seen_above = app.get_ok(&failed, &hz).await;
    assert_eq!(seen_above["support"]["phone"], "057******1234");
    let passed = format!("/api/v1/connectivity/tests/{}", pass.test_id);
    assert!(app.get_ok(&passed, &xihu).await["support"].is_null());
    let bad =
        json!({"contact_name": "", "contact_phone": "x", "tech_name": "a", "tech_phone": "1"});
    assert_error(
        put(&app, &format!("{path}/contacts"), &xihu, &bad).await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        put(&app, &format!("{path}/contacts"), &hz, &contacts).await,
        403,
        "forbidden",
    )
    .await;

    let view = app.get_ok(&path, &hz).await;
    assert_eq!(counts(&view), (3, 1, 1, 1, 0), "{view:#}");
    let courts = view["courts"].as_array().unwrap();
    assert_eq!(courts.len(), 2, "西湖 and 上城");
    let xihu_court = courts
        .iter()
        .find(|c| c["name"] == "杭州市西湖区人民法院")
        .unwrap();
    assert_eq!(xihu_court["contact"]["name"], "陈专干");
    assert_eq!(
        xihu_court["contact"]["phone"], "138****1234",
        "masked for 杭州中院"
    );
    let room_two = xihu_court["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == two)
        .unwrap();
    assert_eq!(room_two["status"], "failed");
    assert_eq!(room_two["reason_code"], "no_echo");
    assert!(room_two["reason"].as_str().unwrap().contains("round trip"));
    let room_one = xihu_court["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == one)
        .unwrap();
    assert_eq!(room_one["status"], "passed");
    assert!(room_one["rtt_ms"].as_f64().is_some());

    // 西湖 sees its own part, its phone unmasked; 上城 its own; 浙江高院 above sees it all.
    let own = app.get_ok(&path, &xihu).await;
    assert_eq!(counts(&own), (2, 1, 1, 0, 0));
    assert_eq!(own["courts"][0]["contact"]["phone"], "13800001234");
    let sc = app.get_ok(&path, &shangcheng).await;
    assert_eq!(counts(&sc), (1, 0, 0, 1, 0));
    assert_eq!(counts(&app.get_ok(&path, &zj).await), (3, 1, 1, 1, 0));
    assert_eq!(
        app.get_ok("/api/v1/connectivity/campaigns", &xihu)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A court outside the scope: 宁波中院, beside 杭州中院 under 浙江高院.
    let store = store_of(&app).await;
    let high = store
        .court_ancestors(store.local_room(one).await.unwrap().court_id)
        .await
        .unwrap()[1]
        .id;
    let ningbo = store
        .insert_court("宁波市中级人民法院", "intermediate", Some(high))
        .await
        .unwrap();
    let hash = courtlink::auth::hash_password(common::DEMO_PASSWORD).unwrap();
    store
        .insert_user(&NewUser {
            court_id: ningbo,
            username: "nb.officer",
            display_name: "宁波中院 法官",
            role: Role::Officer,
            password_hash: &hash,
        })
        .await
        .unwrap();
    let nb = app.login("nb.officer").await;
    assert_error(app.get(&path, Some(&nb)).await, 404, "not_found").await;
    assert_error(
        app.get(&format!("{path}/export.csv"), Some(&nb)).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        put(&app, &format!("{path}/contacts"), &nb, &contacts).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.get_ok("/api/v1/connectivity/campaigns", &nb).await,
        json!([])
    );

    // The export: a line per room, phones masked.
    let res = app.get(&format!("{path}/export.csv"), Some(&hz)).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("\u{feff}法院,视频接访室,状态"),
        "{csv}"
    );
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        csv.contains("杭州市西湖区人民法院,视频接访室一,通过"),
        "{csv}"
    );
    assert!(csv.contains("视频接访室二,未通过"), "{csv}");
    assert!(
        csv.contains("杭州市上城区人民法院,视频接访室,未测试"),
        "{csv}"
    );
    assert!(
        csv.contains("138****1234") && !csv.contains("13800001234"),
        "{csv}"
    );

    // Past the deadline: whatever has not passed is overdue.
    let sql = format!(
        "UPDATE connectivity_campaigns SET deadline = '2020-01-01T00:00:00+00:00' WHERE id = {id}"
    );
    match store.pool() {
        Pool::Sqlite(p) => {
            sqlx::query(&sql).execute(p).await.unwrap();
        }
        Pool::Postgres(p) => {
            sqlx::query(&sql).execute(p).await.unwrap();
        }
    }
    let view = app.get_ok(&path, &hz).await;
    assert_eq!(counts(&view), (3, 1, 0, 0, 2), "{view:#}");
    assert_eq!(view["closed"], true);
}

mod campaign_view {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = TestApp::spawn_with(common::Backend::Sqlite, on_loopback(2))
            .await
            .unwrap();
        campaign_view_matches_what_was_run(app).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = TestApp::spawn_with(common::Backend::Postgres, on_loopback(2)).await {
            campaign_view_matches_what_was_run(app).await;
        }
    }
}

/// The officer's 联通测试 page: the local rooms that will call the host court this week, each
/// with its latest tests and its court's technical-support person (whole: a booking is live);
/// only the host court's officers and supervisors read it, and only for their own court.
async fn officers_see_the_rooms_that_will_call(app: TestApp) {
    let s = app.book_demo_session().await;
    let path = "/api/v1/connectivity/incoming";
    let rooms = app.get_ok(path, &s.officer_token).await;
    let rooms = rooms.as_array().unwrap();
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    assert_eq!(rooms[0]["court_name"], "杭州市西湖区人民法院");
    assert_eq!(rooms[0]["tests"], json!([]), "never tested");
    assert_eq!(
        rooms[0]["tech_support"],
        Value::Null,
        "西湖 keeps no directory yet"
    );

    let xihu = rooms[0]["court_id"].as_i64().unwrap();
    let res = app
        .client
        .put(app.url(&format!("/api/v1/courts/{xihu}/directory")))
        .bearer_auth(&s.coordinator_token)
        .json(&json!({"tech_support": {"name": "技术科 李工", "phone": "0571-8700 1234"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let rooms = app.get_ok(path, &s.officer_token).await;
    assert_eq!(rooms[0]["tech_support"]["phone"], "0571-8700 1234");

    // A session in progress still calls the court (an officer opens the page during it, and the
    // demo's slot open now is one); one that is over no longer does.
    let store = store_of(&app).await;
    let now = chrono::Utc::now();
    let move_booking = |starts: chrono::DateTime<chrono::Utc>,
                        ends: chrono::DateTime<chrono::Utc>| {
        let store = store.clone();
        let id = s.booking_id;
        async move {
            let sql = "UPDATE bookings SET starts_at = $1, ends_at = $2 WHERE id = $3";
            match store.pool() {
                Pool::Sqlite(p) => {
                    sqlx::query(sql)
                        .bind(starts)
                        .bind(ends)
                        .bind(id)
                        .execute(p)
                        .await
                        .unwrap();
                }
                Pool::Postgres(p) => {
                    sqlx::query(sql)
                        .bind(starts)
                        .bind(ends)
                        .bind(id)
                        .execute(p)
                        .await
                        .unwrap();
                }
            }
        }
    };
    move_booking(
        now - chrono::Duration::minutes(20),
        now + chrono::Duration::minutes(40),
    )
    .await;
    let rooms = app.get_ok(path, &s.officer_token).await;
    assert_eq!(
        rooms.as_array().map(Vec::len),
        Some(1),
        "in progress: {rooms}"
    );
    move_booking(
        now - chrono::Duration::minutes(80),
        now - chrono::Duration::minutes(20),
    )
    .await;
    assert_eq!(app.get_ok(path, &s.officer_token).await, json!([]), "over");

    // Another host court has no booking from it; the booking court's coordinator reads nothing.
    let zj = app.login("zj.officer").await;
    assert_eq!(app.get_ok(path, &zj).await, json!([]));
    assert_error(
        app.get(path, Some(&s.coordinator_token)).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(app.get(path, None).await, 401, "unauthenticated").await;
}
on_both_backends!(incoming, officers_see_the_rooms_that_will_call);

/// A host court's officer tests the court's own reception room (issue 18, item 5): the room is
/// in their list (`kind: host`), the same echo test passes from it and is recorded against it,
/// the latest result is listed with the room, and the courts above read it. Another court's
/// officer may not test it, a coordinator of a local court may not either, and a test names one
/// room, not a local and a host room at once.
async fn host_officer_tests_own_room(app: TestApp) {
    let spc = app.login("spc.officer").await;
    let rooms = app.get_ok("/api/v1/connectivity/rooms", &spc).await;
    let host: Vec<&Value> = rooms
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "host")
        .collect();
    assert!(
        !host.is_empty(),
        "the SPC's reception rooms are listed: {rooms}"
    );
    assert!(
        rooms
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["kind"] == "host"),
        "the SPC has no local room: {rooms}"
    );
    let room = host[0]["id"].as_i64().unwrap();
    assert_eq!(host[0]["tests"], json!([]), "never tested");
    let host_plan = Plan {
        video: false,
        host_room: true,
        ..Plan::default()
    };
    let side = run_test(
        &app.client,
        &app.address,
        &spc,
        Some(room),
        host_plan,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let r = &side.result;
    assert_eq!(r["status"], "passed", "{r:#}");
    assert_eq!(r["host_room_id"], room);
    assert!(r["room_id"].is_null());
    // The latest result is listed with the room.
    let rooms = app.get_ok("/api/v1/connectivity/rooms", &spc).await;
    let listed = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == room && x["kind"] == "host")
        .unwrap();
    assert_eq!(listed["tests"][0]["id"], side.test_id);
    assert_eq!(listed["tests"][0]["status"], "passed");
    // The SPC's supervisor reads it; a court below (the high court) does not.
    let path = format!("/api/v1/connectivity/tests/{}", side.test_id);
    let supervisor = app.login("spc.supervisor").await;
    assert_eq!(app.get_ok(&path, &supervisor).await["status"], "passed");
    let zj = app.login("zj.officer").await;
    assert_error(app.get(&path, Some(&zj)).await, 404, "not_found").await;

    // Another court's officer, and a local court's coordinator, may not test the SPC's room.
    for token in [zj.clone(), app.login("xihu.coord").await] {
        let err = run_test(
            &app.client,
            &app.address,
            &token,
            Some(room),
            host_plan,
            Duration::from_secs(30),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("403") && err.contains("forbidden"), "{err}");
    }
    // A room that does not exist; one test, one room.
    let err = run_test(
        &app.client,
        &app.address,
        &spc,
        Some(999_999),
        host_plan,
        Duration::from_secs(30),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("404"), "{err}");
    let res = app
        .post(
            "/api/v1/connectivity/tests",
            Some(&spc),
            &json!({"room_id": 1, "host_room_id": room, "offer": {"type": "offer", "sdp": "v=0"}}),
        )
        .await;
    assert_error(res, 422, "invalid_input").await;
    let res = app
        .post(
            "/api/v1/connectivity/tests",
            Some(&spc),
            &json!({"offer": {"type": "offer", "sdp": "v=0"}}),
        )
        .await;
    assert_error(res, 422, "invalid_input").await;
}

mod host_room {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = TestApp::spawn_with(common::Backend::Sqlite, on_loopback(2))
            .await
            .unwrap();
        host_officer_tests_own_room(app).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = TestApp::spawn_with(common::Backend::Postgres, on_loopback(2)).await {
            host_officer_tests_own_room(app).await;
        }
    }
}
