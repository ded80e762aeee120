//! A case's clocks on the national calendar (docs/clocks.md), black-box over HTTP on SQLite and
//! PostgreSQL, each on a fixed clock: the holiday rule, clocks that stop at their event, the
//! overdue list, extensions approved by a person in charge, and the calendar's years (warnings,
//! no slots on an unloaded year, uploads with row-numbered codes).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use chrono::{DateTime, Utc};
use common::{Backend, TestApp, assert_error};
use courtlink::domain::IdNumber;
use serde_json::{Value, json};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Runs `$body(app)` on SQLite and PostgreSQL, each application on a clock starting at `$at`.
macro_rules! on_both_backends_at {
    ($name:ident, $body:path, $at:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body(
                    TestApp::spawn_on_date(Backend::Sqlite, at($at))
                        .await
                        .expect("sqlite"),
                )
                .await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = TestApp::spawn_on_date(Backend::Postgres, at($at)).await {
                    $body(app).await;
                }
            }
        }
    };
}

async fn cases(app: &TestApp, coord: &str) -> Vec<Value> {
    app.get_ok("/api/v1/cases", coord)
        .await
        .as_array()
        .unwrap()
        .clone()
}

async fn case(app: &TestApp, coord: &str, id: i64) -> Value {
    app.get_ok(&format!("/api/v1/cases/{id}"), coord).await
}

async fn event(app: &TestApp, coord: &str, case: i64, body: Value) -> reqwest::Response {
    app.post(
        &format!("/api/v1/cases/{case}/clock-events"),
        Some(coord),
        &body,
    )
    .await
}

async fn recorded(app: &TestApp, coord: &str, case: i64, name: &str, on: &str) -> Value {
    let res = event(app, coord, case, json!({"event": name, "on": on})).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{name} on {on}: {body}");
    body
}

async fn court_id(app: &TestApp, name: &str) -> i64 {
    let admin = app.login("admin").await;
    app.get_ok("/api/v1/admin/courts", &admin)
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

// --- the holiday rule ----------------------------------------------------------------------------

/// docs/clocks.md's worked example: an answer recorded on 1 September 2026 gives the petitioner
/// until 1 October to ask for a review; that is National Day, and the holiday runs to 7 October,
/// so the window ends on Thursday 8 October.
async fn the_holiday_rule_moves_a_deadline_past_national_day(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let c = cases(&app, &coord).await;
    let id = c[2]["id"].as_i64().unwrap();
    // Accepted 33 days before the clock's today (2 September): 31 July, due 60 days later on
    // Tuesday 29 September, a working day.
    assert_eq!(c[2]["accepted_on"], "2026-07-31");
    assert_eq!(c[2]["clocks"]["handling_due"], "2026-09-29");
    let answered = recorded(&app, &coord, id, "answered", "2026-09-01").await;
    let clocks = &answered["clocks"];
    assert_eq!(clocks["review_request_until"], "2026-10-08", "{clocks}");
    // The answer stopped the handling clock: nothing is due from the court.
    assert_eq!(clocks["next_due"], Value::Null, "{clocks}");
    let handling = clocks["all"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "handling")
        .unwrap();
    assert_eq!(
        (&handling["stopped"], &handling["overdue"]),
        (&json!(true), &json!(false))
    );
}
on_both_backends_at!(
    holiday_rule,
    the_holiday_rule_moves_a_deadline_past_national_day,
    "2026-09-02T02:00:00Z"
);

// --- clocks stop at their event ------------------------------------------------------------------

/// A re-review asked for on 20 October is due on 19 November; on the 20th it is overdue and on
/// the overdue list. Once decided it is neither, although its day has passed.
async fn a_decided_rereview_is_no_longer_overdue(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let c = cases(&app, &coord).await;
    let id = c[2]["id"].as_i64().unwrap();
    assert_eq!(c[2]["accepted_on"], "2026-10-18");
    assert_eq!(
        app.get_ok("/api/v1/clocks/overdue", &coord).await,
        json!([]),
        "nothing is overdue in the demo"
    );
    for (name, on) in [
        ("answered", "2026-10-18"),
        ("review_requested", "2026-10-19"),
        ("review_decided", "2026-10-19"),
        ("rereview_requested", "2026-10-20"),
    ] {
        recorded(&app, &coord, id, name, on).await;
    }
    let open = case(&app, &coord, id).await;
    assert_eq!(open["clocks"]["next_due"], "2026-11-19");
    assert_eq!(open["clocks"]["overdue"], true);
    let overdue = app.get_ok("/api/v1/clocks/overdue", &coord).await;
    let xihu = court_id(&app, "杭州市西湖区人民法院").await;
    assert_eq!(
        overdue,
        json!([{"case_id": id, "case_number": c[2]["case_number"], "court_id": xihu,
                "court_name": "杭州市西湖区人民法院", "clock": "rereview",
                "due": "2026-11-19", "days_overdue": 1, "provisional": false}])
    );

    recorded(&app, &coord, id, "rereview_decided", "2026-11-19").await;
    let closed = case(&app, &coord, id).await;
    let clocks = &closed["clocks"];
    assert_eq!(
        (&clocks["next_due"], &clocks["overdue"]),
        (&Value::Null, &json!(false)),
        "{clocks}"
    );
    assert_eq!(clocks["rereview_due"], "2026-11-19");
    assert!(
        clocks["all"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["overdue"] == false),
        "{clocks}"
    );
    assert_eq!(
        app.get_ok("/api/v1/clocks/overdue", &coord).await,
        json!([])
    );
}
on_both_backends_at!(
    rereview_closes,
    a_decided_rereview_is_no_longer_overdue,
    "2026-11-20T02:00:00Z"
);

/// Every bad clock event is refused with its code, and none changes the case.
async fn bad_clock_events_are_refused(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let c = cases(&app, &coord).await;
    let id = c[2]["id"].as_i64().unwrap();
    let shangcheng = court_id(&app, "杭州市上城区人民法院").await;
    let high = court_id(&app, "浙江省高级人民法院").await;
    for (body, status, code) in [
        (
            json!({"event": "closed", "on": "2026-11-01"}),
            422,
            "invalid_input",
        ),
        (
            json!({"event": "answered", "on": "2026-11-31"}),
            422,
            "invalid_input",
        ),
        (
            json!({"event": "answered", "on": "2026-11-1"}),
            422,
            "invalid_input",
        ),
        (
            json!({"event": "answered", "on": "2026-11-21"}),
            422,
            "clock_event_in_future",
        ),
        (
            json!({"event": "answered", "on": "2026-10-17"}),
            422,
            "clock_event_out_of_order",
        ),
        (
            json!({"event": "review_decided", "on": "2026-11-01"}),
            422,
            "clock_event_out_of_order",
        ),
        (
            json!({"event": "answered", "on": "2026-11-01", "decided_by_court_id": high}),
            422,
            "invalid_input",
        ),
    ] {
        assert_error(event(&app, &coord, id, body.clone()).await, status, code).await;
    }
    recorded(&app, &coord, id, "answered", "2026-11-01").await;
    recorded(&app, &coord, id, "review_requested", "2026-11-02").await;
    for (body, status, code) in [
        (
            json!({"event": "answered", "on": "2026-11-03"}),
            409,
            "already_done",
        ),
        (
            json!({"event": "review_decided", "on": "2026-11-01"}),
            422,
            "clock_event_out_of_order",
        ),
        (
            json!({"event": "review_decided", "on": "2026-11-05", "decided_by_court_id": shangcheng}),
            422,
            "invalid_input",
        ),
    ] {
        assert_error(event(&app, &coord, id, body.clone()).await, status, code).await;
    }
    let other = app.login("shangcheng.coord").await;
    assert_error(
        event(
            &app,
            &other,
            id,
            json!({"event": "review_decided", "on": "2026-11-05"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let now = case(&app, &coord, id).await;
    assert_eq!(now["clocks"]["review_due"], "2026-12-02");
    assert_eq!(now["clocks"]["next_due"], "2026-12-02");
}
on_both_backends_at!(
    clock_event_bad_input,
    bad_clock_events_are_refused,
    "2026-11-20T02:00:00Z"
);

// --- extensions ----------------------------------------------------------------------------------

/// A coordinator's request moves nothing; a supervisor above approves with a note, and only
/// then the handling clock moves. Everyone else is refused, each with a code.
async fn an_extension_applies_only_once_approved(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let c = cases(&app, &coord).await;
    let id = c[2]["id"].as_i64().unwrap();
    assert_eq!(c[2]["clocks"]["handling_due"], "2026-09-29");
    let path = format!("/api/v1/cases/{id}/extension");
    for body in [
        json!({"days": 31, "reason": "复杂"}),
        json!({"days": 0, "reason": "复杂"}),
        json!({"days": 10, "reason": " "}),
    ] {
        assert_error(
            app.post(&path, Some(&coord), &body).await,
            422,
            "invalid_input",
        )
        .await;
    }
    let other = app.login("shangcheng.coord").await;
    assert_error(
        app.post(&path, Some(&other), &json!({"days": 5, "reason": "x"}))
            .await,
        403,
        "forbidden",
    )
    .await;
    let res = app
        .post(
            &path,
            Some(&coord),
            &json!({"days": 30, "reason": "涉及多方，需协调"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let asked: Value = res.json().await.unwrap();
    assert_eq!(
        (&asked["status"], &asked["days"], &asked["reason"]),
        (&json!("pending"), &json!(30), &json!("涉及多方，需协调"))
    );
    let ext = asked["id"].as_i64().unwrap();
    // Asked for, not approved: the clock has not moved.
    assert_eq!(
        case(&app, &coord, id).await["clocks"]["handling_due"],
        "2026-09-29"
    );
    assert_error(
        app.post(&path, Some(&coord), &json!({"days": 5, "reason": "再延"}))
            .await,
        409,
        "already_done",
    )
    .await;

    let decision = format!("/api/v1/extensions/{ext}/decision");
    let approve = json!({"approve": true, "note": "同意延期30日"});
    // Not a person in charge: the coordinator, an officer, a supervisor of an unrelated court.
    assert_error(
        app.post(&decision, Some(&coord), &approve).await,
        403,
        "forbidden",
    )
    .await;
    let officer = app.login("zj.officer").await;
    assert_error(
        app.post(&decision, Some(&officer), &approve).await,
        403,
        "forbidden",
    )
    .await;
    let admin = app.login("admin").await;
    let shangcheng = court_id(&app, "杭州市上城区人民法院").await;
    let res = app
        .post(
            "/api/v1/admin/users",
            Some(&admin),
            &json!({"court_id": shangcheng, "username": "shangcheng.head", "display_name": "上城法院 院长",
                    "role": "supervisor", "password": "a-long-password-1"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let unrelated = app.login_with("shangcheng.head", "a-long-password-1").await;
    assert_error(
        app.post(&decision, Some(&unrelated), &approve).await,
        403,
        "not_in_charge",
    )
    .await;

    let head = app.login("zj.supervisor").await;
    // What the person in charge decides on: the case, its court, who asked, and where the
    // handling clock stands now and would stand approved.
    let pending = app.get_ok("/api/v1/extensions", &head).await;
    assert_eq!(
        pending,
        json!([{"id": ext, "case_id": id, "case_number": c[2]["case_number"],
                "court_id": court_id(&app, "杭州市西湖区人民法院").await,
                "court_name": "杭州市西湖区人民法院", "days": 30, "reason": "涉及多方，需协调",
                "requested_by": asked["requested_by"], "requested_by_name": "西湖法院 陈专干",
                "requested_at": pending[0]["requested_at"], "handling_due": "2026-09-29",
                "due_if_approved": "2026-10-29", "provisional": false}])
    );
    assert_error(
        app.post(
            &decision,
            Some(&head),
            &json!({"approve": true, "note": " "}),
        )
        .await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        app.post("/api/v1/extensions/999999/decision", Some(&head), &approve)
            .await,
        404,
        "not_found",
    )
    .await;
    let res = app.post(&decision, Some(&head), &approve).await;
    assert_eq!(res.status(), 200);
    let decided: Value = res.json().await.unwrap();
    assert_eq!(
        (&decided["status"], &decided["decision_note"]),
        (&json!("approved"), &json!("同意延期30日"))
    );
    assert!(decided["decided_by"].is_i64() && decided["decided_at"].is_string());
    // 31 July + 90 days = 29 October, a Thursday.
    let now = case(&app, &coord, id).await;
    assert_eq!(now["clocks"]["handling_due"], "2026-10-29");
    assert_eq!(now["extension_days"], 30);
    // The case keeps the request and its decision: who asked, who approved, when and why.
    let history = app
        .get_ok(&format!("/api/v1/cases/{id}/extensions"), &coord)
        .await;
    assert_eq!(
        history,
        json!([{"id": ext, "case_id": id, "days": 30, "reason": "涉及多方，需协调",
                "requested_by": asked["requested_by"], "requested_by_name": "西湖法院 陈专干",
                "requested_at": asked["requested_at"], "status": "approved",
                "decided_by": decided["decided_by"], "decided_by_name": "浙江高院 王院长",
                "decided_at": decided["decided_at"], "decision_note": "同意延期30日"}])
    );
    assert_eq!(
        app.get_ok(&format!("/api/v1/cases/{id}/extensions"), &head)
            .await,
        history,
        "the courts above read it too"
    );
    assert_error(
        app.get(&format!("/api/v1/cases/{id}/extensions"), Some(&other))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.post(&decision, Some(&head), &approve).await,
        409,
        "extension_decided",
    )
    .await;
    assert_eq!(app.get_ok("/api/v1/extensions", &head).await, json!([]));
}
on_both_backends_at!(
    extension_approval,
    an_extension_applies_only_once_approved,
    "2026-09-02T02:00:00Z"
);

/// A refused extension leaves the clock where it was, and the case may ask again.
async fn a_refused_extension_moves_nothing(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let id = cases(&app, &coord).await[2]["id"].as_i64().unwrap();
    let path = format!("/api/v1/cases/{id}/extension");
    let asked: Value = app
        .post(
            &path,
            Some(&coord),
            &json!({"days": 10, "reason": "需要补充调查"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let head = app.login("spc.supervisor").await;
    let res = app
        .post(
            &format!("/api/v1/extensions/{}/decision", asked["id"]),
            Some(&head),
            &json!({"approve": false, "note": "理由不足"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let now = case(&app, &coord, id).await;
    assert_eq!(now["clocks"]["handling_due"], "2026-09-29");
    assert_eq!(now["extension_days"], 0);
    let again = app
        .post(
            &path,
            Some(&coord),
            &json!({"days": 10, "reason": "补充了材料"}),
        )
        .await;
    assert_eq!(again.status(), 202);
}
on_both_backends_at!(
    extension_refusal,
    a_refused_extension_moves_nothing,
    "2026-09-02T02:00:00Z"
);

// --- acceptance, and the overdue list of a court and its branch ---------------------------------

/// A valid identity number (GB 11643 check digit) for a made-up person `n`.
fn id_number(n: u32) -> String {
    let body = format!("33010619790707{:03}", n % 1000);
    format!("{body}{}", IdNumber::check_digit(&body).unwrap())
}

/// Opens case number `n` at the coordinator's court, received on `received` (an instant): its id.
async fn opened(app: &TestApp, coord: &str, n: u32, received: &str) -> i64 {
    let number = format!("（2026）浙0106信{n}号");
    let res = app
        .post(
            "/api/v1/cases",
            Some(coord),
            &json!({"case_number": number, "petitioner_name": "周七", "petitioner_id_number": id_number(n),
                    "matter": "要求支付拖欠的工程款。", "subject": "工程款执行", "channel": "letter",
                    "case_class": "petition", "received_at": received}),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

/// A case opened through the API has no acceptance until one is recorded: `accepted` is a
/// clock event like the others. It stops the acceptance clock (which leaves the overdue list)
/// and starts the handling clock, which is what an extension extends.
async fn acceptance_is_recorded_on_the_case(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    // Received on 12 September 2026: acceptance due 15 days later, 27 September (中秋节, a
    // holiday, so the 28th), long past on 1 December.
    let id = opened(&app, &coord, 301, "2026-09-12T02:00:00Z").await;
    let overdue = app.get_ok("/api/v1/clocks/overdue", &coord).await;
    assert_eq!(
        overdue
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["case_id"] == id)
            .map(|o| o["clock"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["acceptance"],
        "{overdue}"
    );
    for (body, status, code) in [
        (
            json!({"event": "accepted", "on": "2026-09-11"}),
            422,
            "clock_event_out_of_order",
        ),
        (
            json!({"event": "accepted", "on": "2026-12-02"}),
            422,
            "clock_event_in_future",
        ),
    ] {
        assert_error(event(&app, &coord, id, body).await, status, code).await;
    }
    let accepted = recorded(&app, &coord, id, "accepted", "2026-09-20").await;
    assert_eq!(
        (&accepted["accepted_on"], &accepted["status"]),
        (&json!("2026-09-20"), &json!("accepted"))
    );
    // 20 September + 60 days = Thursday 19 November: overdue by 12 days.
    assert_eq!(accepted["clocks"]["handling_due"], "2026-11-19");
    assert_eq!(accepted["clocks"]["overdue"], true);
    let overdue = app.get_ok("/api/v1/clocks/overdue", &coord).await;
    let mine: Vec<&Value> = overdue
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["case_id"] == id)
        .collect();
    assert_eq!(mine.len(), 1, "{overdue}");
    assert_eq!(
        (&mine[0]["clock"], &mine[0]["days_overdue"]),
        (&json!("handling"), &json!(12))
    );
    assert_error(
        event(
            &app,
            &coord,
            id,
            json!({"event": "accepted", "on": "2026-09-21"}),
        )
        .await,
        409,
        "already_done",
    )
    .await;
    // Now the handling period can be extended: the request is accepted for approval.
    let res = app
        .post(
            &format!("/api/v1/cases/{id}/extension"),
            Some(&coord),
            &json!({"days": 30, "reason": "需协调"}),
        )
        .await;
    assert_eq!(res.status(), 202);

    // An answered case is past acceptance: recording it then is out of order.
    let other = opened(&app, &coord, 302, "2026-11-02T02:00:00Z").await;
    recorded(&app, &coord, other, "answered", "2026-11-10").await;
    assert_error(
        event(
            &app,
            &coord,
            other,
            json!({"event": "accepted", "on": "2026-11-05"}),
        )
        .await,
        422,
        "clock_event_out_of_order",
    )
    .await;
}
on_both_backends_at!(
    acceptance_event,
    acceptance_is_recorded_on_the_case,
    "2026-12-01T02:00:00Z"
);

/// A supervisor reads the overdue clocks of its court and its branch (each row naming its
/// court), or of one court below with that court's branch; a coordinator only its own court's;
/// nobody a court outside their reach.
async fn a_supervisor_reads_the_overdue_clocks_of_its_branch(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let id = opened(&app, &coord, 303, "2026-09-12T02:00:00Z").await;
    let xihu = court_id(&app, "杭州市西湖区人民法院").await;
    let shangcheng = court_id(&app, "杭州市上城区人民法院").await;
    let mid = court_id(&app, "杭州市中级人民法院").await;
    let spc = court_id(&app, "最高人民法院").await;
    let head = app.login("zj.supervisor").await;
    let of = |token: &str, q: &str| {
        let (app, token) = (&app, token.to_owned());
        let path = format!("/api/v1/clocks/overdue{q}");
        async move { app.get(&path, Some(&token)).await }
    };
    let ids = |v: &Value| -> Vec<(i64, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["case_id"].as_i64().unwrap(),
                    o["court_name"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let expected = vec![(id, "杭州市西湖区人民法院".to_owned())];
    for q in [
        String::new(),
        format!("?court_id={mid}"),
        format!("?court_id={xihu}"),
    ] {
        let res = of(&head, &q).await;
        assert_eq!(res.status(), 200, "{q}");
        assert_eq!(ids(&res.json().await.unwrap()), expected, "{q}");
    }
    let res = of(&head, &format!("?court_id={shangcheng}")).await;
    assert_eq!(ids(&res.json().await.unwrap()), vec![]);
    assert_error(
        of(&head, &format!("?court_id={spc}")).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(of(&head, "?court_id=999999").await, 422, "invalid_input").await;
    assert_error(
        of(&coord, &format!("?court_id={shangcheng}")).await,
        403,
        "forbidden",
    )
    .await;
    let res = of(&coord, &format!("?court_id={xihu}")).await;
    assert_eq!(ids(&res.json().await.unwrap()), expected);
    let officer = app.login("zj.officer").await;
    assert_error(of(&officer, "").await, 403, "forbidden").await;
}
on_both_backends_at!(
    overdue_branch,
    a_supervisor_reads_the_overdue_clocks_of_its_branch,
    "2026-12-01T02:00:00Z"
);

// --- the calendar's years ------------------------------------------------------------------------

/// On 5 December 2026, 2027 starts in 27 days and is not loaded: the admin is warned, the demo's
/// templated room offers nothing on 2027's days, and a clock ending in 2027 is provisional.
/// Loading the year from the CSV file clears all three.
async fn an_unloaded_year_is_warned_about_and_takes_no_slots(app: TestApp) {
    let admin = app.login("admin").await;
    let status = app.get_ok("/api/v1/calendar", &admin).await;
    assert_eq!(
        status["warnings"],
        json!([{"code": "calendar_year_missing", "year": 2027, "starts_in_days": 27,
                "allow_unloaded": false, "message": status["warnings"][0]["message"]}]),
        "{status}"
    );
    let officer = app.login("spc.officer").await;
    let rooms = app.get_ok("/api/v1/host-rooms", &officer).await;
    let room = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "第三接谈室")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let days_of = |slots: &Value| -> Vec<String> {
        slots
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["starts_at"].as_str().unwrap()[..10].to_owned())
            .collect()
    };
    let calendar = |from: &str, to: &str| {
        let (app, officer) = (&app, &officer);
        let path = format!("/api/v1/host-rooms/{room}/calendar?from={from}&to={to}");
        async move { app.get_ok(&path, officer).await }
    };
    // Friday 1 January 2027, inside the 28-day horizon, would be a plain Friday: nothing is
    // offered on it. Thursday 31 December 2026 is known and offered.
    assert_eq!(
        days_of(&calendar("2026-12-31T16:00:00Z", "2027-01-01T16:00:00Z").await),
        Vec::<String>::new()
    );
    assert!(!days_of(&calendar("2026-12-30T16:00:00Z", "2026-12-31T16:00:00Z").await).is_empty());
    // 西湖's third case was accepted 33 days ago, on 2 November: 60 days end on Friday
    // 1 January 2027, a working day as far as anyone knows, so provisional.
    let coord = app.login("xihu.coord").await;
    let c = cases(&app, &coord).await;
    assert_eq!(
        c[2]["clocks"]["handling_due"], "2027-01-01",
        "{}",
        c[2]["clocks"]
    );
    assert_eq!(c[2]["clocks"]["provisional"], true);

    // A bad file changes nothing and names its rows.
    let put_file = |year: i32, text: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            app.client
                .put(app.url(&format!("/api/v1/calendar/{year}/file")))
                .bearer_auth(admin)
                .header("Content-Type", "text/csv")
                .body(text)
                .send()
                .await
                .unwrap()
        }
    };
    let res = put_file(
        2027,
        "day,kind,name,follows_weekday\n2027-01-01,holiday,元旦,\n2027-01-01,holiday,元旦,\n2027-01-06,workday,调休,3\n",
    )
    .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "calendar_invalid");
    assert_eq!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (
                e["row"].as_u64().unwrap(),
                e["code"].as_str().unwrap().to_owned()
            ))
            .collect::<Vec<_>>(),
        [
            (3, "calendar_duplicate_day".to_owned()),
            (4, "calendar_makeup_not_weekend".to_owned())
        ]
    );
    assert_eq!(app.get_ok("/api/v1/calendar/2027", &admin).await, json!([]));
    assert_eq!(
        app.get_ok("/api/v1/calendar", &admin).await["warnings"][0]["year"],
        2027
    );
    // Not the top court's admin, and not as CSV.
    let res = app
        .client
        .put(app.url("/api/v1/calendar/2027/file"))
        .bearer_auth(&admin)
        .header("Content-Type", "application/json")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "invalid_input").await;

    // The example file, as the admin page downloads it: the shipped file, as CSV; not for a
    // coordinator (nothing of the calendar is theirs to load).
    let res = app
        .get("/api/v1/calendar/files/example", Some(&admin))
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let example = res.text().await.unwrap();
    assert_eq!(
        example,
        include_str!("../../config/calendar/2027.example.csv")
    );
    assert_error(
        app.get("/api/v1/calendar/files/example", Some(&coord))
            .await,
        403,
        "forbidden",
    )
    .await;

    // The example file loads (a test of the format; it is not 2027's real schedule), sent as a
    // browser sends a file it does not type (the admin page's upload).
    let res = app
        .client
        .put(app.url("/api/v1/calendar/2027/file"))
        .bearer_auth(&admin)
        .header("Content-Type", "application/octet-stream")
        .body(include_str!("../../config/calendar/2027.example.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(
        app.get_ok("/api/v1/calendar", &admin).await["warnings"],
        json!([])
    );
    // The example makes 1–3 January holidays: the due day moves to Monday 4 January, now known.
    let c = cases(&app, &coord).await;
    assert_eq!(c[2]["clocks"]["handling_due"], "2027-01-04");
    assert_eq!(c[2]["clocks"]["provisional"], false);
}
on_both_backends_at!(
    unloaded_year,
    an_unloaded_year_is_warned_about_and_takes_no_slots,
    "2026-12-05T02:00:00Z"
);

/// An admin may allow slots on an unloaded year, explicitly; the warning stays.
async fn an_admin_may_allow_an_unloaded_year(app: TestApp) {
    let admin = app.login("admin").await;
    let path = "/api/v1/calendar/2027/allow-unloaded";
    let officer = app.login("spc.officer").await;
    assert_error(
        app.client
            .put(app.url(path))
            .bearer_auth(&officer)
            .json(&json!({"allow": true}))
            .send()
            .await
            .unwrap(),
        403,
        "forbidden",
    )
    .await;
    let res = app
        .client
        .put(app.url(path))
        .bearer_auth(&admin)
        .json(&json!({"allow": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let report: Value = res.json().await.unwrap();
    assert!(report["added"].as_u64().unwrap() > 0, "{report}");
    // Friday 1 January 2027 now takes slots on the Monday–Friday pattern.
    let rooms = app.get_ok("/api/v1/host-rooms", &officer).await;
    let room = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "第三接谈室")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let day = app
        .get_ok(
            &format!("/api/v1/host-rooms/{room}/calendar?from=2026-12-31T16:00:00Z&to=2027-01-01T16:00:00Z"),
            &officer,
        )
        .await;
    assert!(!day.as_array().unwrap().is_empty(), "{day}");
    let status = app.get_ok("/api/v1/calendar", &admin).await;
    assert_eq!(status["warnings"][0]["allow_unloaded"], true, "{status}");
    assert_error(
        app.client
            .put(app.url("/api/v1/calendar/2026/allow-unloaded"))
            .bearer_auth(&admin)
            .json(&json!({"allow": true}))
            .send()
            .await
            .unwrap(),
        409,
        "calendar_loaded",
    )
    .await;
}
on_both_backends_at!(
    allow_unloaded_year,
    an_admin_may_allow_an_unloaded_year,
    "2026-12-05T02:00:00Z"
);

/// The fixed clock is for tests: the served binary builds on the system clock, and no setting
/// names it.
#[test]
fn only_tests_start_the_application_on_a_fixed_clock() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let main = std::fs::read_to_string(root.join("server/src/main.rs")).unwrap();
    for name in ["starting_at", "build_with_clock"] {
        assert!(!main.contains(name), "server/src/main.rs uses {name}");
    }
    let config = std::fs::read_to_string(root.join("server/src/config.rs")).unwrap();
    assert!(!config.contains("app::clock"), "no setting builds a clock");
}

/// What the store writes of its own accord is stamped on the application's clock, not the
/// machine's: a case opened on 15 March 2027 says it was opened, and its intake contact
/// recorded, on that day, and so does the audit entry of the opening. (Before, the store read
/// the system clock itself: these said the day the test ran.)
async fn the_store_stamps_on_the_applications_clock(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let id = opened(&app, &coord, 302, "2027-03-14T02:00:00Z").await;
    let file = case(&app, &coord, id).await;
    let day = |v: &Value| v.as_str().unwrap_or_default()[..10].to_owned();
    assert_eq!(day(&file["opened_at"]), "2027-03-15", "{file}");
    let ledger = file["ledger"].as_array().unwrap();
    assert!(!ledger.is_empty(), "{file}");
    for entry in ledger {
        assert_eq!(day(&entry["recorded_at"]), "2027-03-15", "{entry}");
    }
    use secrecy::ExposeSecret;
    let store = courtlink::store::Store::connect(app.settings.database.url.expose_secret(), 1)
        .await
        .unwrap();
    let audit = store.audit_rows().await.unwrap();
    let opening = audit
        .iter()
        .find(|e| e.action == "case.opened" && e.subject == format!("case:{id}"))
        .expect("the opening is audited");
    assert_eq!(opening.at.date_naive().to_string(), "2027-03-15");
}
on_both_backends_at!(
    store_stamps,
    the_store_stamps_on_the_applications_clock,
    "2027-03-15T02:00:00Z"
);
