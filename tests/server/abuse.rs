//! The service under abuse (issue 15): a petitioner's token that starts connectivity tests
//! without end (item 7), webhooks aimed at the server's own machine (item 19), and names that
//! hide control, bidirectional-override or zero-width characters (item 20). Each test failed on
//! the code before its fix.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;
use crate::connectivity::client::{Plan, run_test};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Backend, TestApp, assert_error};
use courtlink::config::Settings;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

// --- item 20: names ------------------------------------------------------------------------------

const RTL_OVERRIDE: &str = "\u{202E}";
const ZERO_WIDTH_SPACE: &str = "\u{200B}";

async fn court_id(app: &TestApp, admin: &str, name: &str) -> i64 {
    let courts = app.get_ok("/api/v1/admin/courts", admin).await;
    courts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("court {name} in {courts}"))["id"]
        .as_i64()
        .unwrap()
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: &Value,
) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A display name, a court's or room's name and a campaign contact's name with U+202E (which
/// shows `张三<U+202E>abc` as `张三cba`) or U+200B (which makes two names that look alike) are refused
/// with 422 `invalid_name`, and nothing is stored; a full-width name is stored in NFKC; a
/// username is stored lower-case.
async fn names_refuse_hidden_characters(app: TestApp) {
    let admin = app.login("admin").await;
    let xihu = court_id(&app, &admin, "杭州市西湖区人民法院").await;
    let user = |username: &str, name: String| {
        json!({"court_id": xihu, "username": username, "display_name": name,
               "role": "coordinator", "password": "a-long-enough-password"})
    };
    for (n, hidden) in [
        RTL_OVERRIDE,
        ZERO_WIDTH_SPACE,
        "\u{2066}",
        "\u{FEFF}",
        "\u{7}",
    ]
    .iter()
    .enumerate()
    {
        let res = app
            .post(
                "/api/v1/admin/users",
                Some(&admin),
                &user(&format!("hidden.{n}"), format!("张三{hidden}abc")),
            )
            .await;
        assert_error(res, 422, "invalid_name").await;
    }
    let users = app.get_ok("/api/v1/admin/users", &admin).await;
    assert!(
        !users.to_string().contains("hidden."),
        "no refused user was stored: {users}"
    );

    // NFKC: full-width letters and digits are stored as their plain forms; the username is
    // stored lower-case, so the same name in other case is taken.
    let res = app
        .post(
            "/api/v1/admin/users",
            Some(&admin),
            &user("Xihu.Clerk", "  ＷＡＮＧ　Ｌｉ１ ".into()),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["display_name"], "WANG Li1");
    assert_eq!(created["username"], "xihu.clerk");
    let res = app
        .post(
            "/api/v1/admin/users",
            Some(&admin),
            &user("xihu.clerk", "王立".into()),
        )
        .await;
    assert_error(res, 409, "username_taken").await;

    // Renaming a user.
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/v1/admin/users/{id}");
    for hidden in [RTL_OVERRIDE, ZERO_WIDTH_SPACE] {
        let res = send(
            &app,
            reqwest::Method::PATCH,
            &path,
            &admin,
            &json!({"display_name": format!("王{hidden}立")}),
        )
        .await;
        assert_error(res, 422, "invalid_name").await;
    }
    let users = app.get_ok("/api/v1/admin/users", &admin).await;
    let stored = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id)
        .unwrap();
    assert_eq!(stored["display_name"], "WANG Li1");

    // A court's and a room's name.
    let res = send(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/admin/courts/{xihu}"),
        &admin,
        &json!({"name": format!("杭州市西湖区{RTL_OVERRIDE}人民法院")}),
    )
    .await;
    assert_error(res, 422, "invalid_name").await;
    let res = app
        .post(
            &format!("/api/v1/admin/courts/{xihu}/rooms"),
            Some(&admin),
            &json!({"kind": "local", "name": format!("接访室{ZERO_WIDTH_SPACE}三")}),
        )
        .await;
    assert_error(res, 422, "invalid_name").await;

    // A campaign's contact and technical-support persons.
    let hz = app.login("hz.officer").await;
    let xihu_coord = app.login("xihu.coord").await;
    let deadline = chrono::Utc::now() + chrono::Duration::days(7);
    let res = app
        .post(
            "/api/v1/connectivity/campaigns",
            Some(&hz),
            &json!({"title": "联通测试", "deadline": deadline}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let campaign = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let contacts = format!("/api/v1/connectivity/campaigns/{campaign}/contacts");
    for (contact, tech) in [
        (format!("陈{ZERO_WIDTH_SPACE}专干"), "李工".to_owned()),
        ("陈专干".to_owned(), format!("李{RTL_OVERRIDE}工")),
    ] {
        let res = send(
            &app,
            reqwest::Method::PUT,
            &contacts,
            &xihu_coord,
            &json!({"contact_name": contact, "contact_phone": "13800001234",
                   "tech_name": tech, "tech_phone": "0571-88880000"}),
        )
        .await;
        assert_error(res, 422, "invalid_name").await;
    }
}

on_both_backends!(names, names_refuse_hidden_characters);

// --- item 19: webhooks -------------------------------------------------------------------------

/// A receiver on 127.0.0.1 that counts what reaches it.
async fn start_receiver() -> (Arc<Mutex<usize>>, u16) {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let got = Arc::new(Mutex::new(0_usize));
    let state = got.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().route(
            "/hook",
            web::post().to(move || {
                let state = state.clone();
                async move {
                    *state.lock().unwrap() += 1;
                    HttpResponse::Ok().finish()
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (got, port)
}

fn fast_notifications(allowed: &'static [&'static str]) -> impl FnOnce(&mut Settings) {
    move |s| {
        s.notifications.poll_millis = 100;
        s.notifications.backoff_base_seconds = 1;
        s.notifications.backoff_max_seconds = 1;
        s.notifications.max_attempts = 3;
        s.notifications.request_timeout_seconds = 2;
        s.notifications.webhook_allowed_hosts = allowed.iter().map(|h| (*h).to_owned()).collect();
    }
}

const SECRET: &str = "0123456789abcdef-webhook";

/// Books the first SPC slot that starts in the future for 西湖's first case (a
/// `booking.created` event for the webhooks of the court).
async fn book_one(app: &TestApp) {
    let coordinator = app.login("xihu.coord").await;
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
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

/// With no allowed hosts, a webhook aimed at loopback, link-local or unspecified addresses (or
/// `localhost`) is refused at registration with 422 `webhook_target_refused`; one that got into
/// the table anyway (registered before this rule, or by a name that resolved elsewhere then)
/// is never delivered: a URL naming 127.0.0.1 is refused at each attempt, and `localhost` is
/// refused for the addresses it resolves to at delivery time. The receiver gets nothing.
async fn webhooks_never_reach_loopback(app: TestApp) {
    let (got, port) = start_receiver().await;
    let admin = app.login("admin").await;
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://127.1:{port}/hook"),
        format!("http://[::1]:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        format!("http://0.0.0.0:{port}/hook"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[fe80::1]/hook".to_owned(),
        format!("http://localhost:{port}/hook"),
    ] {
        let res = app
            .post(
                "/api/v1/webhooks",
                Some(&admin),
                &json!({"url": url, "secret": SECRET}),
            )
            .await;
        let err = assert_error(res, 422, "webhook_target_refused").await;
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("webhook_allowed_hosts"),
            "{err}"
        );
    }
    let court = app.get_ok("/api/v1/me", &admin).await["court"]["id"]
        .as_i64()
        .unwrap();
    // Straight into the table, as if registered before the rule.
    let store = courtlink::store::Store::connect(app.settings.database.url.expose_secret(), 2)
        .await
        .unwrap();
    let xihu_court = {
        let coordinator = app.login("xihu.coord").await;
        app.get_ok("/api/v1/me", &coordinator).await["court"]["id"]
            .as_i64()
            .unwrap()
    };
    let mut hooks = vec![];
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://localhost:{port}/hook"),
    ] {
        for c in [court, xihu_court] {
            let row = courtlink::store::notify::insert_webhook(
                &store,
                c,
                &url,
                SECRET,
                &["booking.created".to_owned()],
                courtlink::domain::UserId(1),
            )
            .await
            .unwrap();
            hooks.push((row.id, url.clone()));
        }
    }
    book_one(&app).await;
    // Every attempt (3, a second apart) is made and refused; none reaches the receiver.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        *got.lock().unwrap(),
        0,
        "a webhook reached a loopback receiver"
    );
    let deliveries: Vec<(String, String, Option<String>)> = {
        let sql = "SELECT w.url, d.status, d.last_error FROM webhook_deliveries d \
                   JOIN webhooks w ON w.id = d.webhook_id";
        match store.pool() {
            courtlink::store::Pool::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await,
            courtlink::store::Pool::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await,
        }
        .unwrap()
    };
    assert!(!deliveries.is_empty(), "the booking made deliveries");
    for (url, status, error) in &deliveries {
        assert_ne!(status, "delivered", "{url}");
        let error = error.as_deref().unwrap_or("");
        assert!(error.contains("refused"), "{url}: {status} {error}");
    }
    store.close().await;
}

mod webhook_targets {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        webhooks_never_reach_loopback(
            TestApp::spawn_with(Backend::Sqlite, fast_notifications(&[]))
                .await
                .unwrap(),
        )
        .await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = TestApp::spawn_with(Backend::Postgres, fast_notifications(&[])).await {
            webhooks_never_reach_loopback(app).await;
        }
    }
}

/// Named in `notifications.webhook_allowed_hosts`, the same receivers are registered and reached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_internal_hosts_are_reached() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        fast_notifications(&["127.0.0.1", "localhost"]),
    )
    .await
    .unwrap();
    let (got, port) = start_receiver().await;
    let admin = app.login("admin").await;
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://localhost:{port}/hook"),
    ] {
        let res = app
            .post(
                "/api/v1/webhooks",
                Some(&admin),
                &json!({"url": url, "secret": SECRET, "topics": ["booking.created"]}),
            )
            .await;
        assert_eq!(res.status(), 201, "{url}");
    }
    book_one(&app).await;
    for _ in 0..100 {
        if *got.lock().unwrap() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        *got.lock().unwrap(),
        2,
        "both allowed receivers got the event"
    );
}

/// A bad entry in the allow-list is a configuration error that names the key.
#[test]
fn bad_allowed_host_is_a_config_error() {
    for bad in ["http://hooks.internal/", "hooks.internal:8080", "", "a b"] {
        let mut s = common::test_settings("sqlite://unused.db".into());
        s.notifications.webhook_allowed_hosts = vec![bad.to_owned()];
        let err = s.validate().expect_err(bad).to_string();
        assert!(
            err.contains("notifications.webhook_allowed_hosts"),
            "{bad}: {err}"
        );
    }
    let mut s = common::test_settings("sqlite://unused.db".into());
    s.notifications.webhook_allowed_hosts = vec!["hooks.internal".into(), "10.0.0.5".into()];
    assert!(s.validate().is_ok());
}

// --- item 7: a petitioner's device checks ------------------------------------------------------

fn capped_checks(s: &mut Settings) {
    s.connectivity.bind_addresses = vec!["127.0.0.1".into()];
    s.connectivity.connect_timeout_seconds = 2;
    s.connectivity.measure_seconds = 1;
    s.connectivity.device_checks_per_token = 2;
    s.connectivity.device_checks_per_booking = 3;
    s.connectivity.device_check_window_minutes = 60;
}

/// Starts a device check that goes away after the answer; the status and body of a refusal.
async fn start_check(app: &TestApp, token: &str) -> Result<i64, String> {
    let gone = Plan {
        video: false,
        apply_answer: false,
        ..Plan::default()
    };
    run_test(
        &app.client,
        &app.address,
        token,
        None,
        gone,
        Duration::from_secs(5),
    )
    .await
    .map(|side| side.test_id)
    .map_err(|e| format!("{e:#}"))
}

/// With 2 per token and 3 per booking: a join token starts 2 checks and its 3rd is refused with
/// 429 `too_many_device_checks` and a `Retry-After` within the window; a second token of the
/// same booking (a fresh join, through another instance) starts 1 more and is then refused for
/// the booking; staff testing a room are not counted.
async fn device_checks_are_capped(app: TestApp) {
    let demo = app.book_demo_session().await;
    let peer = app.spawn_peer().await;
    start_check(&app, &demo.petitioner_token).await.unwrap();
    start_check(&peer, &demo.petitioner_token).await.unwrap();
    let refused = start_check(&app, &demo.petitioner_token).await.unwrap_err();
    assert!(
        refused.contains("429") && refused.contains("too_many_device_checks"),
        "{refused}"
    );
    assert!(refused.contains("join token"), "{refused}");

    // The refusal's headers, straight from the API.
    let offer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
                 m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
                 a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n";
    let res = app
        .post(
            "/api/v1/connectivity/tests",
            Some(&demo.petitioner_token),
            &json!({"offer": {"type": "offer", "sdp": offer}}),
        )
        .await;
    let retry_after: u64 = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((3000..=3600).contains(&retry_after), "{retry_after}");
    assert_error(res, 429, "too_many_device_checks").await;

    // Another token of the same booking: one more, then the booking's cap.
    let res = peer
        .post("/api/v1/auth/join", None, &json!({"code": demo.join_code}))
        .await;
    assert_eq!(res.status(), 200);
    let second = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    start_check(&peer, &second).await.unwrap();
    let refused = start_check(&app, &second).await.unwrap_err();
    assert!(
        refused.contains("429")
            && refused.contains("too_many_device_checks")
            && refused.contains("booking"),
        "{refused}"
    );

    // A room terminal's test is not a device check.
    let rooms = app
        .get_ok("/api/v1/connectivity/rooms", &demo.coordinator_token)
        .await;
    let room = rooms[0]["id"].as_i64().unwrap();
    for _ in 0..4 {
        run_test(
            &app.client,
            &app.address,
            &demo.coordinator_token,
            Some(room),
            Plan {
                video: false,
                apply_answer: false,
                ..Plan::default()
            },
            Duration::from_secs(5),
        )
        .await
        .expect("staff tests are not capped");
    }
}

mod device_checks {
    use super::*;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        device_checks_are_capped(
            TestApp::spawn_with(Backend::Sqlite, capped_checks)
                .await
                .unwrap(),
        )
        .await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = TestApp::spawn_with(Backend::Postgres, capped_checks).await {
            device_checks_are_capped(app).await;
        }
    }
}

/// The caps' settings are checked and name their key.
#[test]
fn bad_device_check_settings_are_named() {
    type Tweak = fn(&mut Settings);
    let cases: [(&str, Tweak); 4] = [
        ("connectivity.device_checks_per_token", |s| {
            s.connectivity.device_checks_per_token = 0;
        }),
        ("connectivity.device_checks_per_booking", |s| {
            s.connectivity.device_checks_per_booking = 1;
            s.connectivity.device_checks_per_token = 2;
        }),
        ("connectivity.device_check_window_minutes", |s| {
            s.connectivity.device_check_window_minutes = 0;
        }),
        ("connectivity.device_check_window_minutes", |s| {
            s.connectivity.device_check_window_minutes = 100_000;
        }),
    ];
    for (key, tweak) in cases {
        let mut s = common::test_settings("sqlite://unused.db".into());
        tweak(&mut s);
        let err = s.validate().expect_err(key).to_string();
        assert!(err.contains(key), "{err} should name {key}");
    }
}
