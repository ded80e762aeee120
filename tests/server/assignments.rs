//! Follow-ups (交办 → 办结报告, 督办; docs/follow-ups.md), black-box over HTTP on SQLite and
//! PostgreSQL, on a fixed clock: a 交办 creates a task due in working days over National Day,
//! the court it went to closes it with its report (once), the courts above list what is overdue
//! and press the court below (a supervise contact on the ledger), reminders are queued once,
//! every step is on the case's timeline, and scope and bad input are refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use courtlink::app::clock::Clock;
use courtlink::startup::Application;
use serde_json::{Value, json};

use crate::common;
use common::{Backend, DEMO_PASSWORD, TestApp, assert_error};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// Monday 28 September 2026, 10:00 in Beijing: National Day (1–7 October) is two working days
/// away, and Saturday 10 October is worked (调休).
const MONDAY: &str = "2026-09-28T02:00:00Z";

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

/// Another instance on the same database whose clock starts at `when`, sweeping for
/// reminders every second: days pass for the reminders without waiting for them.
struct Later {
    address: String,
    client: reqwest::Client,
    shutdown: courtlink::startup::Shutdown,
}

impl Later {
    async fn start(app: &TestApp, when: &str) -> Later {
        let mut settings = app.settings.clone();
        settings.follow_ups.sweep_seconds = 1;
        let built = Application::build_with_clock(settings, Clock::starting_at(at(when)))
            .await
            .expect("a later instance builds");
        let port = built.port();
        let shutdown = built.shutdown();
        tokio::spawn(built.run_until_stopped());
        Later {
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            shutdown,
        }
    }

    async fn login(&self, username: &str) -> String {
        let res = self
            .client
            .post(format!("{}/api/v1/auth/login", self.address))
            .json(&json!({"username": username, "password": DEMO_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn get_ok(&self, path: &str, token: &str) -> Value {
        let res = self
            .client
            .get(format!("{}{path}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn stop(self) {
        self.shutdown.drain().await;
    }
}

async fn court_id(app: &TestApp, name: &str) -> i64 {
    let admin = app.login("admin").await;
    app.get_ok("/api/v1/admin/courts", &admin)
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("court {name}"))["id"]
        .as_i64()
        .unwrap()
}

struct Courts {
    spc: i64,
    high: i64,
    xihu: i64,
}

async fn courts(app: &TestApp) -> Courts {
    Courts {
        spc: court_id(app, "最高人民法院").await,
        high: court_id(app, "浙江省高级人民法院").await,
        xihu: court_id(app, "杭州市西湖区人民法院").await,
    }
}

/// The first demo case of 西湖法院.
async fn xihu_case(app: &TestApp, coord: &str) -> i64 {
    app.get_ok("/api/v1/cases", coord).await[0]["id"]
        .as_i64()
        .unwrap()
}

async fn contact(app: &TestApp, token: &str, case: i64, body: &Value) -> reqwest::Response {
    app.post(&format!("/api/v1/cases/{case}/contacts"), Some(token), body)
        .await
}

/// The coordinator records the 交办 that the high court handed down on the case; returns the
/// case file.
async fn handed_down(app: &TestApp, coord: &str, case: i64, high: i64, terms: Value) -> Value {
    let res = contact(
        app,
        coord,
        case,
        &json!({
            "channel": "letter", "receiving_court_id": high, "outcome": "assign",
            "summary": "浙江高院来函交办：请查明执行进展并书面答复信访人。",
            "assignment": terms,
        }),
    )
    .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

fn kinds(task: &Value) -> Vec<String> {
    task["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap().to_owned())
        .collect()
}

// --- handing down ---------------------------------------------------------------------------------

/// docs/follow-ups.md's worked example: 15 working days from Monday 28 September 2026 skip
/// National Day and count the worked Saturday 10 October: due Friday 23 October. Five working
/// days end on that Saturday itself.
async fn assign_creates_the_task_due_in_working_days(app: TestApp) {
    let c = courts(&app).await;
    let coord = app.login("xihu.coord").await;
    let case = xihu_case(&app, &coord).await;
    let file = handed_down(&app, &coord, case, c.high, json!(null)).await;
    let tasks = file["follow_ups"].as_array().unwrap();
    assert_eq!(tasks.len(), 1, "{file}");
    let t = &tasks[0];
    assert_eq!(
        (&t["assigned_on"], &t["due_on"], &t["working_days"]),
        (&json!("2026-09-28"), &json!("2026-10-23"), &json!(15)),
        "{t}"
    );
    assert_eq!(t["assigning_court"]["id"], c.high);
    assert_eq!(t["court"]["id"], c.xihu);
    assert_eq!(t["state"], "open");
    assert_eq!(
        t["instruction"],
        "浙江高院来函交办：请查明执行进展并书面答复信访人。"
    );
    // The task points at the contact that handed it down, and the contact is on the ledger.
    let entry = t["ledger_entry_id"].as_i64().unwrap();
    let on_ledger = file["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == entry)
        .unwrap();
    assert_eq!(on_ledger["outcome"], "assign");
    assert_eq!(kinds(t), ["assigned"]);

    let file = handed_down(
        &app,
        &coord,
        case,
        c.high,
        json!({"working_days": 5, "instruction": "五个工作日内报告"}),
    )
    .await;
    let t = &file["follow_ups"][1];
    assert_eq!(t["due_on"], "2026-10-10", "{t}");
    assert_eq!(t["instruction"], "五个工作日内报告");
    // Due soon only from three working days before: 8 October is the third from today.
    assert_eq!(t["state"], "open");
}
on_both_backends_at!(
    handing_down,
    assign_creates_the_task_due_in_working_days,
    MONDAY
);

/// Bad terms are refused with 422 and write nothing: not the contact, not a task.
async fn bad_terms_are_refused(app: TestApp) {
    let c = courts(&app).await;
    let coord = app.login("xihu.coord").await;
    let case = xihu_case(&app, &coord).await;
    let before = app.get_ok(&format!("/api/v1/cases/{case}"), &coord).await["ledger"]
        .as_array()
        .unwrap()
        .len();
    let base = json!({
        "channel": "letter", "receiving_court_id": c.high, "outcome": "assign",
        "summary": "交办",
    });
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (body, code) in [
        (
            with(json!({"assignment": {"working_days": 0}})),
            "deadline_out_of_bounds",
        ),
        (
            with(json!({"assignment": {"working_days": 61}})),
            "deadline_out_of_bounds",
        ),
        (
            with(json!({"assignment": {"court_id": c.spc}})),
            "assignment_court_invalid",
        ),
        (
            with(json!({"assignment": {"court_id": 999_999}})),
            "assignment_court_invalid",
        ),
        (
            with(json!({"assignment": {"instruction": "   "}})),
            "invalid_input",
        ),
        // 交办 comes from a court above the case's court.
        (
            with(json!({"receiving_court_id": c.xihu})),
            "assign_needs_higher_court",
        ),
        // Terms belong to 交办 only.
        (
            with(json!({"outcome": "explained_law", "assignment": {"working_days": 5}})),
            "invalid_input",
        ),
    ] {
        let res = contact(&app, &coord, case, &body).await;
        assert_error(res, 422, code).await;
    }
    let file = app.get_ok(&format!("/api/v1/cases/{case}"), &coord).await;
    assert_eq!(file["ledger"].as_array().unwrap().len(), before);
    assert_eq!(file["follow_ups"], json!([]));
}
on_both_backends_at!(bad_terms, bad_terms_are_refused, MONDAY);

// --- reporting ------------------------------------------------------------------------------------

/// The court the task went to closes it with its report, once; nobody else can.
async fn the_assigned_court_reports_and_closes(app: TestApp) {
    let c = courts(&app).await;
    let coord = app.login("xihu.coord").await;
    let case = xihu_case(&app, &coord).await;
    let file = handed_down(&app, &coord, case, c.high, json!(null)).await;
    let id = file["follow_ups"][0]["id"].as_i64().unwrap();
    let report = format!("/api/v1/assignments/{id}/report");
    let body = json!({"report": "已查明执行进展，九月二十八日书面答复信访人。"});

    // A sibling court neither reads nor reports; the high court reads but does not report.
    let sibling = app.login("shangcheng.coord").await;
    assert_error(
        app.post(&report, Some(&sibling), &body).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.get(&format!("/api/v1/assignments/{id}"), Some(&sibling))
            .await,
        403,
        "forbidden",
    )
    .await;
    let high_officer = app.login("zj.officer").await;
    assert_error(
        app.post(&report, Some(&high_officer), &body).await,
        403,
        "assignment_other_court",
    )
    .await;
    let supervisor = app.login("zj.supervisor").await;
    assert_error(
        app.post(&report, Some(&supervisor), &body).await,
        403,
        "forbidden",
    )
    .await;
    // Bad input.
    for bad in [
        json!({"report": "  "}),
        json!({"report": "ok", "reported_on": "2026-09-29"}),
        json!({"report": "ok", "reported_on": "2026-09-27"}),
        json!({"report": "ok", "reported_on": "28/09/2026"}),
    ] {
        assert_error(
            app.post(&report, Some(&coord), &bad).await,
            422,
            "invalid_input",
        )
        .await;
    }

    let res = app.post(&report, Some(&coord), &body).await;
    let status = res.status();
    let closed: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["closed_late"], false);
    assert_eq!(closed["reported_on"], "2026-09-28");
    assert_eq!(kinds(&closed), ["assigned", "reported"]);
    assert_error(
        app.post(&report, Some(&coord), &body).await,
        409,
        "assignment_closed",
    )
    .await;
    // A closed task is not pressed either.
    assert_error(
        app.post(
            &format!("/api/v1/assignments/{id}/supervise"),
            Some(&supervisor),
            &json!({"note": "请尽快办理"}),
        )
        .await,
        409,
        "assignment_closed",
    )
    .await;
    let closed_list = app
        .get_ok("/api/v1/assignments?status=closed", &supervisor)
        .await;
    assert_eq!(closed_list["total"], 1);
    assert_eq!(closed_list["items"][0]["id"], id);
}
on_both_backends_at!(reporting, the_assigned_court_reports_and_closes, MONDAY);

/// A completion report names its papers: attachments already in the case's file (uploaded there,
/// checked by content), each once, at most 20; an attachment of another case is refused with
/// `attachment_not_on_case` and nothing is reported. The task's detail and the case's file list
/// them.
async fn a_report_names_its_papers(app: TestApp) {
    let c = courts(&app).await;
    let coord = app.login("xihu.coord").await;
    let case = xihu_case(&app, &coord).await;
    let cases = app.get_ok("/api/v1/cases", &coord).await;
    let other_case = cases
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .find(|&id| id != case)
        .expect("the demo court has a second case");
    let file = handed_down(&app, &coord, case, c.high, json!(null)).await;
    let id = file["follow_ups"][0]["id"].as_i64().unwrap();
    let report = format!("/api/v1/assignments/{id}/report");
    let upload = |case: i64, text: &'static str| {
        let app = &app;
        let coord = coord.clone();
        async move {
            let res = app
                .client
                .post(app.url(&format!("/api/v1/cases/{case}/attachments")))
                .bearer_auth(&coord)
                .header("content-type", "application/octet-stream")
                .body(format!("%PDF-1.4\n% {text}\n%%EOF\n").into_bytes())
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
            res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
        }
    };
    let answer = upload(case, "答复意见书").await;
    let record = upload(case, "谈话笔录").await;
    let elsewhere = upload(other_case, "另案材料").await;

    for (bad, code) in [
        (
            json!({"report": "ok", "attachments": [elsewhere]}),
            "attachment_not_on_case",
        ),
        (
            json!({"report": "ok", "attachments": [999_999]}),
            "attachment_not_on_case",
        ),
        (
            json!({"report": "ok", "attachments": [answer, answer]}),
            "invalid_input",
        ),
        (
            json!({"report": "ok", "attachments": (0..21).collect::<Vec<i64>>()}),
            "invalid_input",
        ),
        (
            json!({"report": "ok", "attachments": "all"}),
            "invalid_input",
        ),
    ] {
        assert_error(app.post(&report, Some(&coord), &bad).await, 422, code).await;
    }
    let open = app
        .get_ok(&format!("/api/v1/assignments/{id}"), &coord)
        .await;
    assert_eq!(open["state"], "open", "a refused report closes nothing");
    assert_eq!(open["report_attachments"], json!([]));

    let body = json!({"report": "已书面答复信访人，附答复意见书和谈话笔录。", "attachments": [record, answer]});
    let res = app.post(&report, Some(&coord), &body).await;
    let status = res.status();
    let closed: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{closed}");
    let named: Vec<i64> = closed["report_attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(named, [answer, record]);
    assert_eq!(
        closed["report_attachments"][0]["media_type"],
        "application/pdf"
    );
    assert_eq!(
        closed["report_attachments"][0]["sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    // The higher court reads the same papers on the case's file.
    let high = app.login("zj.supervisor").await;
    let file = app.get_ok(&format!("/api/v1/cases/{case}"), &high).await;
    assert_eq!(
        file["follow_ups"][0]["report_attachments"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
on_both_backends_at!(report_papers, a_report_names_its_papers, MONDAY);

// --- overdue, 督办, reminders, the timeline -----------------------------------------------------------

/// A task due on Thursday 8 October: due soon on the holiday of 6 October (one reminder),
/// overdue on Monday 12 October (one more), listed as overdue for the courts above, pressed by
/// the high court (a supervise contact on the ledger), reported late; every step on the case's
/// timeline.
async fn overdue_tasks_are_reminded_listed_and_supervised(app: TestApp) {
    let c = courts(&app).await;
    let coord = app.login("xihu.coord").await;
    let case = xihu_case(&app, &coord).await;
    let file = handed_down(&app, &coord, case, c.high, json!({"working_days": 3})).await;
    let task = &file["follow_ups"][0];
    let id = task["id"].as_i64().unwrap();
    assert_eq!(task["due_on"], "2026-10-08");

    // Paging and filters, on the day it was handed down: due soon, not overdue.
    let supervisor = app.login("zj.supervisor").await;
    let due = app
        .get_ok("/api/v1/assignments?status=due&per_page=1", &supervisor)
        .await;
    assert_eq!((&due["total"], &due["per_page"]), (&json!(1), &json!(1)));
    let overdue = app
        .get_ok("/api/v1/assignments?status=overdue", &supervisor)
        .await;
    assert_eq!(overdue["total"], 0);
    assert_error(
        app.get("/api/v1/assignments?per_page=101", Some(&supervisor))
            .await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        app.get("/api/v1/assignments?status=late", Some(&supervisor))
            .await,
        422,
        "invalid_input",
    )
    .await;

    // 6 October: the due day is within three working days. The reminder goes out once.
    let holiday = Later::start(&app, "2026-10-06T02:00:00Z").await;
    let reminded = wait_for_events(&holiday, "xihu.coord", "assignment.due_soon", 1).await;
    assert_eq!(reminded[0]["data"]["assignment_id"], id);
    holiday.stop().await;

    // 12 October: overdue. Two instances sweep, each every second: one notice all the same.
    let monday = Later::start(&app, "2026-10-12T02:00:00Z").await;
    let again = Later::start(&app, "2026-10-12T02:00:00Z").await;
    wait_for_events(&monday, "xihu.coord", "assignment.overdue", 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let coord_later = monday.login("xihu.coord").await;
    let events = notifications(&monday, &coord_later).await;
    let count = |e: &str| events.iter().filter(|n| n["event"] == e).count();
    assert_eq!(
        (
            count("assignment.created"),
            count("assignment.due_soon"),
            count("assignment.overdue")
        ),
        (1, 1, 1),
        "{events:?}"
    );
    // The high court's officers are told as well.
    let officer = monday.login("zj.officer").await;
    assert!(
        notifications(&monday, &officer)
            .await
            .iter()
            .any(|n| n["event"] == "assignment.overdue")
    );
    again.stop().await;

    // The courts above list it as overdue; a sibling court does not see it.
    let supervisor = monday.login("zj.supervisor").await;
    let overdue = monday
        .get_ok("/api/v1/assignments?status=overdue", &supervisor)
        .await;
    assert_eq!(overdue["total"], 1, "{overdue}");
    assert_eq!(overdue["items"][0]["state"], "overdue");
    let spc = monday.login("spc.supervisor").await;
    let by_court = monday
        .get_ok(
            &format!("/api/v1/assignments?status=overdue&court_id={}", c.xihu),
            &spc,
        )
        .await;
    assert_eq!(by_court["total"], 1);
    let sibling = monday.login("shangcheng.coord").await;
    assert_eq!(
        monday.get_ok("/api/v1/assignments", &sibling).await["total"],
        0
    );
    assert_error(
        monday
            .post(
                &format!("/api/v1/assignments/{id}/supervise"),
                &sibling,
                &json!({"note": "x"}),
            )
            .await,
        403,
        "forbidden",
    )
    .await;
    let res = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/assignments?court_id={}",
            monday.address, c.xihu
        ))
        .bearer_auth(&sibling)
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden").await;

    // 督办: the court below does not press itself; the high court does, with a note.
    let supervise = format!("/api/v1/assignments/{id}/supervise");
    assert_error(
        monday
            .post(&supervise, &coord_later, &json!({"note": "x"}))
            .await,
        403,
        "not_supervising_court",
    )
    .await;
    assert_error(
        monday
            .post(&supervise, &supervisor, &json!({"note": " "}))
            .await,
        422,
        "invalid_input",
    )
    .await;
    let res = monday
        .post(
            &supervise,
            &supervisor,
            &json!({"note": "已超期，请于三日内报送办结报告。"}),
        )
        .await;
    let status = res.status();
    let pressed: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{pressed}");
    let step = pressed["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "supervised")
        .unwrap()
        .clone();
    let entry = step["ledger_entry_id"].as_i64().unwrap();

    // Reported late.
    let res = monday
        .post(
            &format!("/api/v1/assignments/{id}/report"),
            &coord_later,
            &json!({"report": "已办结，逾期原因为执行标的查询延误。"}),
        )
        .await;
    let closed: Value = res.json().await.unwrap();
    assert_eq!(closed["closed_late"], true, "{closed}");

    // The case's timeline: the supervise contact on the ledger, and every step of the task.
    let file = monday
        .get_ok(&format!("/api/v1/cases/{case}"), &coord_later)
        .await;
    let contact = file["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == entry)
        .unwrap_or_else(|| panic!("the supervise contact is on the ledger: {file}"));
    assert_eq!(contact["outcome"], "supervise");
    assert_eq!(contact["receiving_court"]["id"], c.high);
    assert_eq!(contact["court_initiated"], true);
    assert_eq!(
        kinds(&file["follow_ups"][0]),
        ["assigned", "reminded", "overdue", "supervised", "reported"]
    );
    monday.stop().await;
}
on_both_backends_at!(
    overdue_and_supervised,
    overdue_tasks_are_reminded_listed_and_supervised,
    MONDAY
);

async fn notifications(later: &Later, token: &str) -> Vec<Value> {
    later.get_ok("/api/v1/notifications?limit=200", token).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits (up to 15 s) until `user` has `n` notifications of `event`; returns them.
async fn wait_for_events(later: &Later, user: &str, event: &str, n: usize) -> Vec<Value> {
    let token = later.login(user).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let found: Vec<Value> = notifications(later, &token)
            .await
            .into_iter()
            .filter(|x| x["event"] == event)
            .collect();
        if found.len() >= n {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{user} gets {n} × {event} within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// --- the monthly report ---------------------------------------------------------------------------

/// The monthly report carries a third sheet: the period's follow-up tasks.
async fn the_monthly_report_lists_the_tasks(app: TestApp) {
    let c = courts(&app).await;
    let coord = app.login("xihu.coord").await;
    let case = xihu_case(&app, &coord).await;
    handed_down(&app, &coord, case, c.high, json!(null)).await;
    let supervisor = app.login("zj.supervisor").await;
    let res = app
        .get(
            "/api/v1/records/statistics?format=xlsx&report=monthly&from=2026-09-01&to=2026-09-30",
            Some(&supervisor),
        )
        .await;
    assert_eq!(res.status(), 200);
    let book = res.bytes().await.unwrap();
    let has = |needle: &[u8]| book.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"xl/worksheets/sheet3.xml"), "a third sheet");
}
on_both_backends_at!(monthly, the_monthly_report_lists_the_tasks, MONDAY);

// --- a session's end ------------------------------------------------------------------------------

/// A session ended with 交办 hands the case down from the host court (the SPC) to the case's
/// court, with the default deadline and the officer's note as the instruction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_with_assign_hands_the_case_down() {
    let app = TestApp::spawn().await;
    let s = app.book_demo_session().await;
    let (mut host, mut petitioner) =
        common::live_call(&app, s.session_id, &s.officer_token, &s.petitioner_token).await;
    common::media_flows(
        &app,
        s.session_id,
        &s.officer_token,
        &mut host,
        &mut petitioner,
    )
    .await;
    let res = app
        .post(
            &format!("/api/v1/sessions/{}/end", s.session_id),
            Some(&s.officer_token),
            &json!({"outcome": "assign", "note": "交由西湖法院核查执行情况"}),
        )
        .await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    let file = app
        .get_ok(
            &format!("/api/v1/cases/{}", s.case_id),
            &s.coordinator_token,
        )
        .await;
    let t = &file["follow_ups"][0];
    assert_eq!(t["session_id"], s.session_id, "{file}");
    assert_eq!(t["working_days"], 15);
    assert_eq!(t["instruction"], "交由西湖法院核查执行情况");
    assert_eq!(t["assigning_court"]["name"], "最高人民法院");
    assert_eq!(kinds(t), ["assigned"]);
    // The coordinator sees it in the court's list.
    let list = app
        .get_ok("/api/v1/assignments?status=open", &s.coordinator_token)
        .await;
    assert_eq!(list["items"][0]["id"], t["id"]);
    common::assert_documented(
        &app,
        &[
            ("/api/v1/assignments", "get"),
            ("/api/v1/assignments/{id}", "get"),
            ("/api/v1/assignments/{id}/report", "post"),
            ("/api/v1/assignments/{id}/supervise", "post"),
        ],
    )
    .await;
}
