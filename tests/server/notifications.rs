//! Notifications (issue 4): the outbox delivered as in-app notifications and signed webhooks,
//! with retries; reminders and no-show notices; ICS feeds; the appointment notice's data.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{Backend, TestApp, assert_error};
use courtlink::domain::SessionId;
use serde_json::{Value, json};

/// Fast settings: the worker polls every 100 ms, retries after 1 s, 2 s, …
fn fast(s: &mut courtlink::config::Settings) {
    s.notifications.poll_millis = 100;
    s.notifications.backoff_base_seconds = 1;
    s.notifications.backoff_max_seconds = 2;
    s.notifications.max_attempts = 4;
    s.notifications.request_timeout_seconds = 2;
    s.notifications.reminder_minutes = 24 * 60;
    // The receivers here listen on 127.0.0.1, which webhooks may reach only when allowed.
    s.notifications.webhook_allowed_hosts = vec!["127.0.0.1".into()];
}

macro_rules! on_both {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body(
                    TestApp::spawn_with(Backend::Sqlite, fast)
                        .await
                        .expect("sqlite"),
                )
                .await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = TestApp::spawn_with(Backend::Postgres, fast).await {
                    $body(app).await;
                }
            }
        }
    };
}

struct Booked {
    booking_id: i64,
    session_id: i64,
    host_room_id: i64,
    local_room_id: i64,
    starts_at: DateTime<Utc>,
    coordinator: String,
    coordinator_id: i64,
    join_code: String,
}

/// 西湖's coordinator books the first SPC slot that starts in the future, accompanying it.
async fn book_future(app: &TestApp) -> Booked {
    book_future_nth(app, 0).await
}

/// ...or the `n`th of the future SPC slots that follow one another without overlapping (0
/// first), so that bookings with the same local room and officer do not overlap: the SPC's rooms
/// keep different timetables, so the next start time can fall inside the slot before it.
async fn book_future_nth(app: &TestApp, n: usize) -> Booked {
    let coordinator = app.login("xihu.coord").await;
    let me = app.get_ok("/api/v1/me", &coordinator).await;
    // The `n`th case too: one case holds one live booking with one host court (issue 14).
    let case_id = app.get_ok("/api/v1/cases", &coordinator).await[n]["id"]
        .as_i64()
        .unwrap();
    let local_room_id = app.get_ok("/api/v1/local-rooms", &coordinator).await[0]["id"]
        .as_i64()
        .unwrap();
    let soon = Utc::now() + chrono::Duration::minutes(2);
    let slots = app.get_ok("/api/v1/slots", &coordinator).await;
    let time =
        |s: &Value, field: &str| s[field].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    let mut future: Vec<&Value> = slots
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["court"]["level"] == "supreme" && time(s, "starts_at") > soon)
        .collect();
    future.sort_by_key(|s| (time(s, "starts_at"), time(s, "ends_at")));
    let mut apart: Vec<&Value> = Vec::new();
    for s in future {
        if apart
            .last()
            .is_none_or(|last| time(s, "starts_at") >= time(last, "ends_at"))
        {
            apart.push(s);
        }
    }
    let slot = apart.get(n).copied().expect("a future SPC slot").clone();
    let res = app
        .post(
            "/api/v1/bookings",
            Some(&coordinator),
            &json!({"slot_id": slot["id"], "case_id": case_id, "local_room_id": local_room_id,
                    "local_officer_id": me["id"]}),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    Booked {
        booking_id: body["id"].as_i64().unwrap(),
        session_id: body["session_id"].as_i64().unwrap(),
        host_room_id: slot["host_room"]["id"].as_i64().unwrap(),
        local_room_id,
        starts_at: slot["starts_at"].as_str().unwrap().parse().unwrap(),
        coordinator,
        coordinator_id: me["id"].as_i64().unwrap(),
        join_code: body["join_code"].as_str().unwrap().to_owned(),
    }
}

/// Polls `f` until it gives Some, for up to `secs` seconds.
async fn eventually<T, F, Fut>(secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up after {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The caller's notification of `event` about `booking_id`, once it is there.
async fn notification(app: &TestApp, token: &str, event: &str, booking_id: i64) -> Value {
    eventually(15, || async {
        let list = app.get_ok("/api/v1/notifications", token).await;
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["event"] == event && n["data"]["booking_id"] == booking_id)
            .cloned()
    })
    .await
}

async fn booking_notifies_both_sides(app: TestApp) {
    let b = book_future(&app).await;
    let officer = app.login("spc.officer").await;
    let to_coordinator = notification(&app, &b.coordinator, "booking.created", b.booking_id).await;
    let to_officer = notification(&app, &officer, "booking.created", b.booking_id).await;
    assert_eq!(to_coordinator["data"]["session_id"], b.session_id);
    assert_eq!(to_officer["data"]["host_court_name"], "最高人民法院");
    assert_eq!(
        to_officer["data"]["local_court_name"],
        "杭州市西湖区人民法院"
    );
    assert_eq!(to_officer["read"], false);
    // Courts not involved hear nothing.
    let other = app.login("shangcheng.coord").await;
    let list = app.get_ok("/api/v1/notifications", &other).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
    assert_eq!(list["unread"], 0);

    // The reminder (lead time 24 h in these settings) comes once, to both sides.
    notification(&app, &b.coordinator, "booking.reminder", b.booking_id).await;
    notification(&app, &officer, "booking.reminder", b.booking_id).await;

    // Reading is the caller's own business.
    let id = to_officer["id"].as_i64().unwrap();
    let before = app.get_ok("/api/v1/notifications", &officer).await["unread"]
        .as_i64()
        .unwrap();
    let res = app
        .post(
            &format!("/api/v1/notifications/{id}/read"),
            Some(&b.coordinator),
            &json!({}),
        )
        .await;
    assert_error(res, 404, "not_found").await;
    let res = app
        .post(
            &format!("/api/v1/notifications/{id}/read"),
            Some(&officer),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 204);
    let after = app.get_ok("/api/v1/notifications", &officer).await;
    assert_eq!(after["unread"].as_i64().unwrap(), before - 1);
    let listed = after["items"].as_array().unwrap();
    assert!(listed.iter().any(|n| n["id"] == id && n["read"] == true));
    let ids: Vec<i64> = listed.iter().map(|n| n["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let res = app.get("/api/v1/notifications", None).await;
    assert_error(res, 401, "unauthenticated").await;
    let res = app
        .get("/api/v1/notifications?limit=0", Some(&officer))
        .await;
    assert_error(res, 422, "invalid_input").await;

    // A cancellation by the host court is announced too, and shows in the feed as cancelled.
    let res = app
        .get(
            &format!("/api/v1/bookings/{}", b.booking_id),
            Some(&officer),
        )
        .await;
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let res = app
        .client
        .post(app.url(&format!("/api/v1/bookings/{}/cancel", b.booking_id)))
        .bearer_auth(&officer)
        .header("If-Match", etag)
        .json(&json!({"reason": "法官出差，另行安排"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let n = notification(&app, &b.coordinator, "booking.cancelled", b.booking_id).await;
    assert_eq!(n["data"]["by_host"], true);
    let res = app
        .get(
            &format!("/api/v1/ics/host-rooms/{}", b.host_room_id),
            Some(&officer),
        )
        .await;
    let lines = parse_ics(&res.text().await.unwrap());
    let uid = format!("UID:booking-{}@courtlink", b.booking_id);
    let at = lines
        .iter()
        .position(|l| *l == uid)
        .expect("the cancelled booking");
    assert!(
        lines[at..]
            .iter()
            .take_while(|l| *l != "END:VEVENT")
            .any(|l| l == "STATUS:CANCELLED")
    );
}
on_both!(booking_notifies_both_sides_t, booking_notifies_both_sides);

async fn no_show_is_announced_once(app: TestApp) {
    let b = book_future(&app).await;
    let store = courtlink::store::Store::connect(
        secrecy::ExposeSecret::expose_secret(&app.settings.database.url),
        2,
    )
    .await
    .unwrap();
    store
        .add_event(
            SessionId(b.session_id),
            courtlink::domain::EventKind::NoShow,
            "system",
            &json!({}),
            courtlink::app::session::transition,
        )
        .await
        .unwrap();
    let n = notification(&app, &b.coordinator, "booking.no_show", b.booking_id).await;
    assert_eq!(n["data"]["session_id"], b.session_id);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let list = app.get_ok("/api/v1/notifications", &b.coordinator).await;
    let count = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["event"] == "booking.no_show")
        .count();
    assert_eq!(count, 1);
    store.close().await;
}
on_both!(no_show_is_announced_once_t, no_show_is_announced_once);

/// One request a receiver got: its headers, its body, and the status it answered.
type Received = (Vec<(String, String)>, String, u16);

/// A webhook receiver on port 0 that fails the first `fail_first` requests with 500.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    fail_first: usize,
}

async fn start_receiver(fail_first: usize) -> (Receiver, String) {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    let receiver = Receiver {
        got: Default::default(),
        fail_first,
    };
    let state = receiver.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().route(
            "/hook",
            web::post().to(move |req: HttpRequest, body: String| {
                let state = state.clone();
                async move {
                    let headers = req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                        .collect();
                    let mut got = state.got.lock().unwrap();
                    let status = if got.len() < state.fail_first {
                        500
                    } else {
                        200
                    };
                    got.push((headers, body, status));
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                        .finish()
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (receiver, format!("http://127.0.0.1:{port}/hook"))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} header"))
}

async fn signed_webhook_arrives_after_retries(app: TestApp) {
    let (receiver, url) = start_receiver(2).await;
    let secret = "a-court-webhook-secret-0123456789";
    let admin = app.login("admin").await;
    let res = app
        .post(
            "/api/v1/webhooks",
            Some(&admin),
            &json!({"url": url, "secret": secret, "topics": ["booking.created"]}),
        )
        .await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 201, "{text}");
    assert!(!text.contains(secret), "the secret is never echoed: {text}");
    let hook: Value = serde_json::from_str(&text).unwrap();
    let list = app.get_ok("/api/v1/webhooks", &admin).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(secret));
    // A second receiver that always fails must not hold back the first.
    let res = app
        .post(
            "/api/v1/webhooks",
            Some(&admin),
            &json!({"url": "http://127.0.0.1:9/unreachable", "secret": secret}),
        )
        .await;
    assert_eq!(res.status(), 201);

    let b = book_future(&app).await;
    let got = eventually(20, || async {
        let got = receiver.got.lock().unwrap().clone();
        (got.len() >= 3).then_some(got)
    })
    .await;
    assert_eq!(got.iter().map(|g| g.2).collect::<Vec<_>>(), [500, 500, 200]);
    let delivery = header(&got[0].0, "X-CourtLink-Delivery").to_owned();
    for (headers, body, _) in &got {
        assert_eq!(header(headers, "X-CourtLink-Event"), "booking.created");
        assert_eq!(
            header(headers, "X-CourtLink-Delivery"),
            delivery,
            "same id on retries"
        );
        let t = header(headers, "X-CourtLink-Timestamp");
        let sig = header(headers, "X-CourtLink-Signature");
        // Verified by hand, as a receiver would.
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        let expected = format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(sig, expected);
        let now = Utc::now().timestamp();
        assert!((now - t.parse::<i64>().unwrap()).abs() < 60);
        assert!(courtlink::notify::webhook::verify(
            secret, sig, body, now, 300
        ));
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["event"], "booking.created");
        assert_eq!(v["data"]["booking_id"], b.booking_id);
        assert_eq!(v["data"]["host_court_id"], hook["court_id"]);
    }
    // The receiver asked for booking.created only: no reminder reached it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.got.lock().unwrap().len(), 3);
    let deliveries = app
        .get_ok(
            &format!("/api/v1/webhooks/{}/deliveries", hook["id"]),
            &admin,
        )
        .await;
    assert_eq!(deliveries[0]["status"], "delivered", "{deliveries}");
    assert_eq!(deliveries[0]["attempts"], 3);

    // Removing the webhook stops deliveries to it; another court's admin cannot.
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/webhooks/{}", hook["id"])))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.get_ok("/api/v1/webhooks", &admin)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
on_both!(
    signed_webhook_arrives_after_retries_t,
    signed_webhook_arrives_after_retries
);

async fn failing_receiver_is_given_up(app: TestApp) {
    let (receiver, url) = start_receiver(usize::MAX).await;
    let admin = app.login("admin").await;
    let res = app
        .post(
            "/api/v1/webhooks",
            Some(&admin),
            &json!({"url": url, "secret": "0123456789abcdef", "topics": ["booking.created"]}),
        )
        .await;
    let hook: Value = res.json().await.unwrap();
    book_future(&app).await;
    // max_attempts = 4: at 0, +1, +2, +2 seconds, then failed.
    let deliveries = eventually(20, || async {
        let d = app
            .get_ok(
                &format!("/api/v1/webhooks/{}/deliveries", hook["id"]),
                &admin,
            )
            .await;
        (d[0]["status"] == "failed").then_some(d)
    })
    .await;
    assert_eq!(deliveries[0]["attempts"], 4);
    assert_eq!(deliveries[0]["last_error"], "answered 500");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.got.lock().unwrap().len(), 4);
}
on_both!(failing_receiver_is_given_up_t, failing_receiver_is_given_up);

async fn webhook_input_is_checked(app: TestApp) {
    let admin = app.login("admin").await;
    for (body, what) in [
        (
            json!({"url": "ftp://hooks.court.example/x", "secret": "0123456789abcdef"}),
            "url",
        ),
        (
            json!({"url": "not a url", "secret": "0123456789abcdef"}),
            "url",
        ),
        (
            json!({"url": "http://u:p@hooks.court.example/", "secret": "0123456789abcdef"}),
            "url",
        ),
        (
            json!({"url": "http://hooks.court.example/", "secret": "short"}),
            "secret",
        ),
        (
            json!({"url": "http://hooks.court.example/", "secret": "0123456789abcdef",
                   "topics": ["booking.exploded"]}),
            "topics",
        ),
    ] {
        let res = app.post("/api/v1/webhooks", Some(&admin), &body).await;
        let err = assert_error(res, 422, "invalid_input").await;
        assert!(err["message"].as_str().unwrap().starts_with(what), "{err}");
    }
    let coordinator = app.login("xihu.coord").await;
    let res = app
        .post(
            "/api/v1/webhooks",
            Some(&coordinator),
            &json!({"url": "http://hooks.court.example/", "secret": "0123456789abcdef"}),
        )
        .await;
    assert_error(res, 403, "forbidden").await;
    let res = app.get("/api/v1/webhooks", Some(&coordinator)).await;
    assert_error(res, 403, "forbidden").await;
    let res = app
        .client
        .delete(app.url("/api/v1/webhooks/999999"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;
}
on_both!(webhook_input_is_checked_t, webhook_input_is_checked);

/// Unfolded content lines of a feed, after checking CRLF ends and 75-octet lines.
fn parse_ics(text: &str) -> Vec<String> {
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
    assert!(text.ends_with("END:VCALENDAR\r\n"));
    for raw in text.split("\r\n") {
        assert!(raw.len() <= 75, "line longer than 75 octets: {raw}");
        assert!(!raw.contains('\n'));
    }
    text.replace("\r\n ", "")
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn ics_feeds_show_bookings_in_shanghai_time(app: TestApp) {
    let b = book_future(&app).await;
    let officer = app.login("spc.officer").await;
    let uid = format!("UID:booking-{}@courtlink", b.booking_id);
    let start = format!(
        "DTSTART;TZID=Asia/Shanghai:{}",
        (b.starts_at + chrono::Duration::hours(8)).format("%Y%m%dT%H%M%S")
    );
    for (path, token) in [
        (
            format!("/api/v1/ics/host-rooms/{}", b.host_room_id),
            &officer,
        ),
        (
            format!("/api/v1/ics/local-rooms/{}", b.local_room_id),
            &b.coordinator,
        ),
        (
            format!("/api/v1/ics/officers/{}", b.coordinator_id),
            &b.coordinator,
        ),
    ] {
        let res = app.get(&path, Some(token)).await;
        assert_eq!(res.status(), 200, "{path}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/calendar"), "{ct}");
        let lines = parse_ics(&res.text().await.unwrap());
        assert!(lines.contains(&"METHOD:PUBLISH".to_owned()));
        assert!(lines.contains(&"TZID:Asia/Shanghai".to_owned()));
        let at = lines.iter().position(|l| *l == uid).expect("the booking");
        let event: Vec<&String> = lines[at..]
            .iter()
            .take_while(|l| *l != "END:VEVENT")
            .collect();
        assert!(event.iter().any(|l| **l == start), "{event:?}");
        assert!(event.iter().any(|l| *l == "STATUS:CONFIRMED"));
    }
    // The courts above the local court may read its room; the intermediate court's officer
    // is above 西湖.
    let hz = app.login("hz.officer").await;
    let res = app
        .get(
            &format!("/api/v1/ics/local-rooms/{}", b.local_room_id),
            Some(&hz),
        )
        .await;
    assert_eq!(res.status(), 200);
    // Another court: 403. A host room is only its own court's.
    let other = app.login("shangcheng.coord").await;
    for path in [
        format!("/api/v1/ics/host-rooms/{}", b.host_room_id),
        format!("/api/v1/ics/local-rooms/{}", b.local_room_id),
        format!("/api/v1/ics/officers/{}", b.coordinator_id),
    ] {
        let res = app.get(&path, Some(&other)).await;
        assert_error(res, 403, "forbidden").await;
    }
    let res = app
        .get(
            &format!("/api/v1/ics/host-rooms/{}", b.host_room_id),
            Some(&hz),
        )
        .await;
    assert_error(res, 403, "forbidden").await;
    let res = app
        .get("/api/v1/ics/host-rooms/999999", Some(&officer))
        .await;
    assert_error(res, 404, "not_found").await;
    let res = app
        .get(&format!("/api/v1/ics/host-rooms/{}", b.host_room_id), None)
        .await;
    assert_error(res, 401, "unauthenticated").await;
}
on_both!(ics_feeds_t, ics_feeds_show_bookings_in_shanghai_time);

async fn notice_shows_names_and_local_time(app: TestApp) {
    let b = book_future(&app).await;
    let notice = app
        .get_ok(
            &format!("/api/v1/bookings/{}/notice", b.booking_id),
            &b.coordinator,
        )
        .await;
    let local = b.starts_at + chrono::Duration::hours(8);
    assert_eq!(notice["local_date"], local.format("%Y-%m-%d").to_string());
    assert_eq!(notice["local_start"], local.format("%H:%M").to_string());
    assert_eq!(notice["host_court_name"], "最高人民法院");
    assert_eq!(notice["local_court_name"], "杭州市西湖区人民法院");
    assert!(
        notice["case_number"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    let other = app.login("shangcheng.coord").await;
    let res = app
        .get(
            &format!("/api/v1/bookings/{}/notice", b.booking_id),
            Some(&other),
        )
        .await;
    assert_error(res, 403, "forbidden").await;
    let res = app
        .get("/api/v1/bookings/999999/notice", Some(&b.coordinator))
        .await;
    assert_error(res, 404, "not_found").await;
}
on_both!(notice_t, notice_shows_names_and_local_time);

/// Printing the notice again never changes the code the petitioner holds (issue 18 item 1): the
/// booking court's coordinator gets the current code with the notice, opened from its sealed
/// copy, each read audited; nobody else gets it; a new code is a separate step and the notice
/// then carries the new one; a cancelled booking's notice carries none.
async fn notice_carries_the_code_already_given(app: TestApp) {
    let b = book_future(&app).await;
    let path = format!("/api/v1/bookings/{}/notice", b.booking_id);
    let first = app.get_ok(&path, &b.coordinator).await;
    assert_eq!(first["join_code"], b.join_code.as_str(), "{first}");
    assert_eq!(
        first["join_path"],
        format!("/join.html#code={}", b.join_code).as_str()
    );
    let again = app.get_ok(&path, &b.coordinator).await;
    assert_eq!(
        again["join_code"],
        b.join_code.as_str(),
        "printed twice, one code"
    );

    let store = courtlink::store::Store::connect(
        secrecy::ExposeSecret::expose_secret(&app.settings.database.url),
        2,
    )
    .await
    .unwrap();
    let reads = store
        .audit_rows()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.action == "session.join_code_read" && r.subject == format!("session:{}", b.session_id)
        })
        .count();
    assert_eq!(reads, 2, "each read of the code is audited");

    let officer = app.login("spc.officer").await;
    let seen = app.get_ok(&path, &officer).await;
    assert!(
        seen.get("join_code").is_none(),
        "the host court's officer prints no code: {seen}"
    );

    let res = app
        .post(
            &format!("/api/v1/bookings/{}/join-code", b.booking_id),
            Some(&b.coordinator),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let fresh: Value = res.json().await.unwrap();
    assert_ne!(fresh["join_code"], b.join_code.as_str());
    let now = app.get_ok(&path, &b.coordinator).await;
    assert_eq!(
        now["join_code"], fresh["join_code"],
        "the notice carries the new code"
    );
}
on_both!(notice_code_t, notice_carries_the_code_already_given);

#[tokio::test]
async fn every_notification_path_is_documented() {
    let app = TestApp::spawn().await;
    common::assert_documented(
        &app,
        &[
            ("/api/v1/notifications", "get"),
            ("/api/v1/notifications/{id}/read", "post"),
            ("/api/v1/webhooks", "post"),
            ("/api/v1/webhooks", "get"),
            ("/api/v1/webhooks/{id}", "delete"),
            ("/api/v1/webhooks/{id}/deliveries", "get"),
            ("/api/v1/ics/host-rooms/{id}", "get"),
            ("/api/v1/ics/local-rooms/{id}", "get"),
            ("/api/v1/ics/officers/{id}", "get"),
            ("/api/v1/bookings/{id}/notice", "get"),
        ],
    )
    .await;
}

/// Runs `node tests/browser/<script>` (against `app`, if any); skips loudly without node (or,
/// for a browser script, without Chromium and node_modules) unless services are required.
async fn run_node(script: &str, app: Option<&TestApp>, browser: bool) {
    use std::process::{Command, Stdio};
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut missing = vec![];
    if Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        missing.push("node");
    }
    if browser
        && (!std::path::Path::new("/usr/bin/chromium").exists()
            || !repo
                .join("tests/browser/node_modules/playwright-core")
                .exists())
    {
        missing.push("chromium or tests/browser/node_modules");
    }
    if !missing.is_empty() {
        assert!(
            std::env::var(common::REQUIRE_SERVICES).is_err(),
            "{script}: {missing:?} missing"
        );
        eprintln!("\n*** SKIPPED: {script}: {missing:?} missing ***\n");
        return;
    }
    let artifacts = repo
        .join("target/browser-artifacts")
        .join(script.trim_end_matches(".mjs"));
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let log_path = artifacts.join("output.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut command = Command::new("node");
    command
        .arg(repo.join("tests/browser").join(script))
        .current_dir(&repo)
        .env("COURTLINK_DEMO_PASSWORD", common::DEMO_PASSWORD)
        .env("COURTLINK_ARTIFACTS", &artifacts)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    if let Some(app) = app {
        command.env("COURTLINK_BASE_URL", &app.address);
    }
    let mut child = command.spawn().unwrap();
    // Poll rather than block: the server under test runs on this test's runtime.
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        status.is_some_and(|s| s.success()),
        "{script} failed:\n{text}"
    );
    println!("{text}");
}

/// web/js/qr.js: format bits, a decoder checked on an independent encoder's symbols, then
/// round trips of versions 1–10 and every mask.
#[tokio::test]
async fn qr_encoder_reads_back() {
    run_node("qr.test.mjs", None, false).await;
}

/// notice.html in Chromium: facts in Beijing time, a fresh code, its QR code, print layout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notice_page_prints_code_and_qr() {
    let app = TestApp::spawn().await;
    run_node("notice.mjs", Some(&app), true).await;
}

/// Two instances on one database: each event reaches the receiver once (claims are exclusive),
/// and each coordinator gets one notification per event.
async fn two_instances_deliver_each_event_once(app: TestApp) {
    let peer = app.spawn_peer().await;
    let (receiver, url) = start_receiver(0).await;
    let admin = app.login("admin").await;
    let res = app
        .post(
            "/api/v1/webhooks",
            Some(&admin),
            &json!({"url": url, "secret": "0123456789abcdef", "topics": ["booking.created"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let mut ids = vec![];
    // Three bookings, one per 西湖 case (a case holds one live booking with one host court).
    // The SPC receives a case the high court has reviewed: the demo's third case has that on
    // record first (docs/clocks.md).
    let coordinator = app.login("xihu.coord").await;
    let third = app.get_ok("/api/v1/cases", &coordinator).await[2]["id"].clone();
    let high = app
        .get_ok("/api/v1/admin/courts", &admin)
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["level"] == "high")
        .unwrap()["id"]
        .clone();
    let today = (Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m-%d")
        .to_string();
    for (event, by) in [
        ("answered", Value::Null),
        ("review_requested", Value::Null),
        ("review_decided", high),
    ] {
        let res = app
            .post(
                &format!("/api/v1/cases/{third}/clock-events"),
                Some(&coordinator),
                &json!({"event": event, "on": today, "decided_by_court_id": by}),
            )
            .await;
        assert_eq!(res.status(), 200, "{event}");
    }
    for n in 0..3 {
        let via = if n % 2 == 0 { &app } else { &peer };
        ids.push(book_future_nth(via, n).await.booking_id);
    }
    eventually(15, || async {
        (receiver.got.lock().unwrap().len() >= ids.len()).then_some(())
    })
    .await;
    // Time for any duplicate to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut delivered: Vec<i64> = receiver
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body, _)| {
            serde_json::from_str::<Value>(body).unwrap()["data"]["booking_id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    delivered.sort();
    assert_eq!(delivered, ids, "each booking delivered exactly once");
    let coordinator = app.login("xihu.coord").await;
    let list = app
        .get_ok("/api/v1/notifications?limit=200", &coordinator)
        .await;
    let created = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["event"] == "booking.created")
        .count();
    assert_eq!(created, ids.len());
}
on_both!(two_instances_t, two_instances_deliver_each_event_once);

/// An application's review reaches both sides through the outbox (written here through the
/// store's own enqueue, as the review code does in its transaction).
async fn application_events_reach_both_sides(app: TestApp) {
    let coordinator = app.login("xihu.coord").await;
    let officer = app.login("spc.officer").await;
    let local = app.get_ok("/api/v1/me", &coordinator).await["court"]["id"].clone();
    let host = app.get_ok("/api/v1/me", &officer).await["court"]["id"].clone();
    let store = courtlink::store::Store::connect(
        secrecy::ExposeSecret::expose_secret(&app.settings.database.url),
        2,
    )
    .await
    .unwrap();
    courtlink::store::notify::enqueue(
        &store,
        "application.rejected",
        &json!({"application_id": 424242, "host_court_id": host, "local_court_id": local,
                "note": "材料不全", "slot_id": null}),
    )
    .await
    .unwrap();
    for token in [&coordinator, &officer] {
        let n = eventually(15, || async {
            let list = app.get_ok("/api/v1/notifications", token).await;
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["event"] == "application.rejected")
                .cloned()
        })
        .await;
        assert_eq!(n["data"]["note"], "材料不全");
        assert_eq!(n["data"]["application_id"], 424242);
    }
    store.close().await;
}
on_both!(application_events_t, application_events_reach_both_sides);
