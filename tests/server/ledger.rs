//! The petition ledger (issue 16), on SQLite and PostgreSQL: opening a case (every field checked,
//! the same matter offered before a new case is opened), logging contacts and corrections (the
//! original stays, both shown), the class of a case (诉访分离) and the outcomes that fit it,
//! append-only entries enforced by the database itself, and scope (the case's court and the
//! courts above read; a sibling court does not; only the case's own court writes).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use common::{TestApp, assert_error};
use courtlink::domain::IdNumber;
use courtlink::store::{Pool, Store};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

/// A valid identity number (GB 11643 check digit) for a made-up person `n`.
fn id_number(n: u32) -> String {
    let body = format!("33010619900101{:03}", n % 1000);
    format!("{body}{}", IdNumber::check_digit(&body).unwrap())
}

fn new_case(number: &str, id: &str) -> Value {
    json!({
        "case_number": number,
        "petitioner_name": "张三",
        "petitioner_id_number": id,
        "matter": "我的工资被拖欠两年，判决后一直没有执行。",
        "subject": "拖欠工资执行难",
        "channel": "letter",
        "case_class": "petition",
    })
}

async fn cases_count(app: &TestApp, token: &str) -> usize {
    app.get_ok("/api/v1/cases", token)
        .await
        .as_array()
        .unwrap()
        .len()
}

async fn open(app: &TestApp, token: &str, body: &Value) -> Value {
    let res = app.post("/api/v1/cases", Some(token), body).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 201, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn contact(app: &TestApp, token: &str, case: i64, body: &Value) -> reqwest::Response {
    app.post(&format!("/api/v1/cases/{case}/contacts"), Some(token), body)
        .await
}

/// Runs raw SQL on the test's database; the error text if the database refused it.
async fn raw(app: &TestApp, sql: &str) -> Result<(), String> {
    let store = Store::connect(app.settings.database.url.expose_secret(), 1)
        .await
        .unwrap();
    let out = match store.pool() {
        Pool::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        Pool::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
    };
    store.close().await;
    out.map_err(|e| e.to_string())
}

/// The detail of the one audit entry of `action` on `subject`.
async fn audit_detail(app: &TestApp, action: &str, subject: &str) -> String {
    let store = Store::connect(app.settings.database.url.expose_secret(), 1)
        .await
        .unwrap();
    let sql = "SELECT detail FROM audit_entries WHERE action = $1 AND subject = $2";
    let rows: Vec<(String,)> = match store.pool() {
        Pool::Sqlite(p) => sqlx::query_as(sql)
            .bind(action)
            .bind(subject)
            .fetch_all(p)
            .await
            .unwrap(),
        Pool::Postgres(p) => sqlx::query_as(sql)
            .bind(action)
            .bind(subject)
            .fetch_all(p)
            .await
            .unwrap(),
    };
    store.close().await;
    assert_eq!(rows.len(), 1, "{action} on {subject}");
    rows.into_iter().next().unwrap().0
}

async fn opening_offers_the_same_matter(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let other = app.login("shangcheng.coord").await;
    let id = id_number(1);
    let before = cases_count(&app, &coord).await;
    let first = open(&app, &coord, &new_case("（2026）浙0106信1号", &id)).await;
    assert_eq!(first["case_class"], "petition");
    assert_eq!(first["petitioner_count"], 1);
    assert_eq!(first["collective"], false);
    assert_eq!(first["intake_channel"], "letter");
    assert!(first["opened_by"].as_str().unwrap().starts_with("user-"));
    // The contact that brought it in is on the ledger (有访必录).
    let ledger = first["ledger"].as_array().unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0]["channel"], "letter");
    assert_eq!(ledger[0]["court_initiated"], false);
    assert_eq!(ledger[0]["receiving_organ"], "court");
    assert_eq!(cases_count(&app, &coord).await, before + 1);
    let opened = audit_detail(&app, "case.opened", &format!("case:{}", first["id"])).await;
    assert!(
        opened.contains("（2026）浙0106信1号") && !opened.contains(&id[6..]),
        "{opened}"
    );

    // The same petitioner again, at a sibling court: offered, nothing written, no number shown.
    let res = app
        .post(
            "/api/v1/cases",
            Some(&other),
            &new_case("（2026）浙0102信7号", &id.to_lowercase()),
        )
        .await;
    let body = assert_error(res, 409, "possible_duplicate").await;
    let matches = body["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{body}");
    assert_eq!(matches[0]["id"], first["id"]);
    assert_eq!(matches[0]["matched_on"], "petitioner");
    assert_eq!(matches[0]["case_number"], "（2026）浙0106信1号");
    assert!(!body.to_string().contains(&id), "{body}");
    assert!(!body.to_string().contains(&id[10..]), "{body}");
    // Named, but its file stays closed to the other court (docs/ledger.md, "A match at another
    // court"): no petitioner's name or summary in the offer, 403 on the case.
    assert!(!body.to_string().contains("张三"), "{body}");
    assert_error(
        app.get(&format!("/api/v1/cases/{}", first["id"]), Some(&other))
            .await,
        403,
        "forbidden",
    )
    .await;
    let sibling_before = cases_count(&app, &other).await;
    // Confirmed as new: opened.
    let mut again = new_case("（2026）浙0102信7号", &id);
    again["confirm_new"] = json!(true);
    open(&app, &other, &again).await;
    assert_eq!(cases_count(&app, &other).await, sibling_before + 1);

    // The same original case number, another petitioner: offered too.
    let mut lit = new_case("（2026）浙0106信2号", &id_number(2));
    lit["case_class"] = json!("litigation");
    lit["original_case_number"] = json!("（2024）浙0106民初123号");
    lit["original_court"] = json!("杭州市西湖区人民法院");
    lit["original_case_kind"] = json!("民事");
    let created = open(&app, &coord, &lit).await;
    assert_eq!(created["original_case_number"], "（2024）浙0106民初123号");
    let mut same_original = new_case("（2026）浙0106信3号", &id_number(3));
    same_original["original_case_number"] = json!("（2024）浙0106民初123号");
    let body = assert_error(
        app.post("/api/v1/cases", Some(&coord), &same_original)
            .await,
        409,
        "possible_duplicate",
    )
    .await;
    assert_eq!(body["matches"][0]["matched_on"], "original_case");
    assert_eq!(body["matches"][0]["id"], created["id"]);

    // A taken case number.
    let mut taken = new_case("（2026）浙0106信1号", &id_number(4));
    taken["confirm_new"] = json!(true);
    assert_error(
        app.post("/api/v1/cases", Some(&coord), &taken).await,
        409,
        "case_number_taken",
    )
    .await;
}
on_both_backends!(opening, opening_offers_the_same_matter);

async fn bad_input_changes_nothing(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let before = cases_count(&app, &coord).await;
    let good = new_case("（2026）浙0106信9号", &id_number(9));
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let bad_check = {
        let mut n = id_number(9);
        let last = if n.ends_with('1') { "2" } else { "1" };
        n.replace_range(17.., last);
        n
    };
    for (body, status, code) in [
        (
            with("petitioner_id_number", json!(bad_check)),
            422,
            "invalid_id_number",
        ),
        (
            with("petitioner_id_number", json!("3301061990")),
            422,
            "invalid_id_number",
        ),
        (
            with("petitioner_name", json!("张\u{200B}三")),
            422,
            "invalid_name",
        ),
        (with("petitioner_name", json!("  ")), 422, "invalid_input"),
        (with("matter", json!("")), 422, "invalid_input"),
        (
            with("subject", json!("长".repeat(201))),
            422,
            "invalid_input",
        ),
        (with("case_number", json!("")), 422, "invalid_input"),
        (with("petitioner_count", json!(0)), 422, "invalid_input"),
        // Five or more petitioners need a representative.
        (with("petitioner_count", json!(6)), 422, "invalid_input"),
        // A litigation matter needs its original case.
        (
            with("case_class", json!("litigation")),
            422,
            "invalid_input",
        ),
        (with("case_class", json!("lawsuit")), 422, "invalid_input"),
        // A case comes in at the local court; video receptions are written by sessions.
        (with("channel", json!("video_spc")), 422, "invalid_input"),
        (with("channel", json!("to_beijing")), 422, "invalid_input"),
        (
            with("received_at", json!("2999-01-01T00:00:00Z")),
            422,
            "invalid_input",
        ),
    ] {
        let res = app.post("/api/v1/cases", Some(&coord), &body).await;
        let text = assert_error(res, status, code).await.to_string();
        assert!(!text.contains(&id_number(9)[6..]), "{text}");
    }
    // The collective flag is derived, never set by the client.
    let res = app
        .post(
            "/api/v1/cases",
            Some(&coord),
            &with("collective", json!(true)),
        )
        .await;
    assert!(res.status() == 400 || res.status() == 422, "{res:?}");
    assert_eq!(cases_count(&app, &coord).await, before);

    // Six petitioners with a representative: collective, derived.
    let mut group = with("petitioner_count", json!(6));
    group["representative"] = json!("李四");
    let created = open(&app, &coord, &group).await;
    assert_eq!(created["collective"], true);
    assert_eq!(created["representative"], "李四");

    // Only coordinators open cases.
    let officer = app.login("hz.officer").await;
    assert_error(
        app.post(
            "/api/v1/cases",
            Some(&officer),
            &with("case_number", json!("X")),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
}
on_both_backends!(bad_input, bad_input_changes_nothing);

async fn contacts_and_corrections(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let case = open(
        &app,
        &coord,
        &new_case("（2026）浙0106信20号", &id_number(20)),
    )
    .await;
    let case_id = case["id"].as_i64().unwrap();
    let ledger_len = |v: &Value| v["ledger"].as_array().unwrap().len();

    // A visit, then a phone call the court made itself.
    let res = contact(
        &app,
        &coord,
        case_id,
        &json!({"channel": "local_visit", "summary": "来访，询问执行进度", "received_by": "王法官",
                "outcome": "explained_law"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let after: Value = res.json().await.unwrap();
    assert_eq!(ledger_len(&after), 2);
    let visit = &after["ledger"][1];
    assert_eq!(visit["received_by"], "王法官");
    assert_eq!(visit["outcome"], "explained_law");
    assert!(visit["receiving_court"]["id"].as_i64().is_some());
    let visit_id = visit["id"].as_i64().unwrap();
    let res = contact(
        &app,
        &coord,
        case_id,
        &json!({"channel": "phone", "summary": "回访", "court_initiated": true}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let after: Value = res.json().await.unwrap();
    assert_eq!(after["ledger"][2]["court_initiated"], true);
    assert_eq!(after["ledger"][2]["channel"], "phone");

    // Reported from above: 进京访 received by the central petition organ.
    let res = contact(
        &app,
        &coord,
        case_id,
        &json!({"channel": "to_beijing", "summary": "国家信访局通报", "receiving_organ": "central_organ"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let after: Value = res.json().await.unwrap();
    let beijing = &after["ledger"][3];
    assert_eq!(beijing["counted_as"], "beijing");
    assert_eq!(beijing["receiving_organ"], "central_organ");
    assert!(beijing["receiving_court"].is_null());

    // A correction: the original stays, both are shown, the original is marked.
    let res = contact(
        &app,
        &coord,
        case_id,
        &json!({"channel": "local_visit", "summary": "来访，询问执行进度并要求面见院长",
                "corrects": visit_id, "reason": "漏记了诉求"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let after: Value = res.json().await.unwrap();
    assert_eq!(ledger_len(&after), 5);
    let entries = after["ledger"].as_array().unwrap();
    let original = entries.iter().find(|e| e["id"] == visit_id).unwrap();
    let correction = entries.iter().find(|e| e["corrects"] == visit_id).unwrap();
    assert_eq!(original["note"], "来访，询问执行进度");
    assert_eq!(original["corrected_by"], correction["id"]);
    assert_eq!(correction["correction_reason"], "漏记了诉求");
    assert!(
        correction["recorded_by"]
            .as_str()
            .unwrap()
            .starts_with("user-")
    );

    let audited = audit_detail(&app, "case.contact_corrected", &format!("case:{case_id}")).await;
    assert!(audited.contains("漏记了诉求"), "{audited}");

    // Refusals, each with its code, and nothing written.
    let other = open(
        &app,
        &coord,
        &new_case("（2026）浙0106信21号", &id_number(21)),
    )
    .await;
    let foreign_entry = other["ledger"][0]["id"].as_i64().unwrap();
    for (body, status, code) in [
        (
            json!({"channel": "video_spc", "summary": "视频"}),
            422,
            "video_by_session_only",
        ),
        (
            json!({"channel": "letter", "summary": "x", "corrects": visit_id}),
            422,
            "invalid_input",
        ),
        (
            json!({"channel": "letter", "summary": "x", "reason": "无"}),
            422,
            "invalid_input",
        ),
        (
            json!({"channel": "letter", "summary": "x", "corrects": foreign_entry, "reason": "错"}),
            422,
            "correction_target_invalid",
        ),
        (
            json!({"channel": "letter", "summary": "x", "outcome": "into_procedure"}),
            422,
            "outcome_not_for_class",
        ),
        (
            json!({"channel": "letter", "summary": "x", "outcome": "stop_notice"}),
            422,
            "invalid_input",
        ),
        (
            json!({"channel": "to_province", "summary": "x"}),
            422,
            "invalid_input",
        ),
        (
            json!({"channel": "letter", "summary": "x", "receiving_organ": "provincial_organ"}),
            422,
            "receiving_court_invalid",
        ),
        (
            json!({"channel": "letter", "summary": "x", "receiving_court_id": 999_999}),
            422,
            "receiving_court_invalid",
        ),
        (
            json!({"channel": "letter", "summary": ""}),
            422,
            "invalid_input",
        ),
        (
            json!({"channel": "letter", "summary": "x", "received_by": "\u{202E}x"}),
            422,
            "invalid_name",
        ),
    ] {
        assert_error(contact(&app, &coord, case_id, &body).await, status, code).await;
    }
    let now = app
        .get_ok(&format!("/api/v1/cases/{case_id}"), &coord)
        .await;
    assert_eq!(ledger_len(&now), 5);
}
on_both_backends!(contacts, contacts_and_corrections);

async fn class_and_outcomes(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let case = open(
        &app,
        &coord,
        &new_case("（2026）浙0106信30号", &id_number(30)),
    )
    .await;
    let id = case["id"].as_i64().unwrap();
    let offered = app
        .get_ok(&format!("/api/v1/cases/{id}/outcomes"), &coord)
        .await;
    let offered: Vec<&str> = offered
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert!(offered.contains(&"not_within_scope"));
    assert!(offered.contains(&"withdrawn"));
    assert!(!offered.contains(&"into_procedure"));
    assert!(!offered.contains(&"review_filed"));

    let path = format!("/api/v1/cases/{id}/class");
    assert_error(
        app.post(
            &path,
            Some(&coord),
            &json!({"case_class": "litigation", "reason": " "}),
        )
        .await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        app.post(
            &path,
            Some(&coord),
            &json!({"case_class": "petition", "reason": "核对"}),
        )
        .await,
        409,
        "class_unchanged",
    )
    .await;
    let res = app
        .post(
            &path,
            Some(&coord),
            &json!({"case_class": "litigation", "reason": "诉求是对生效判决不服，应导入再审程序"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let changed: Value = res.json().await.unwrap();
    assert_eq!(changed["case_class"], "litigation");
    let changes = changed["class_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["from"], "petition");
    assert_eq!(changes[0]["to"], "litigation");
    assert_eq!(changes[0]["reason"], "诉求是对生效判决不服，应导入再审程序");

    let offered = app
        .get_ok(&format!("/api/v1/cases/{id}/outcomes"), &coord)
        .await;
    assert!(
        offered
            .as_array()
            .unwrap()
            .contains(&json!("into_procedure"))
    );
    assert!(
        !offered
            .as_array()
            .unwrap()
            .contains(&json!("not_within_scope"))
    );
    let res = contact(
        &app,
        &coord,
        id,
        &json!({"channel": "local_visit", "summary": "告知申请再审", "outcome": "into_procedure"}),
    )
    .await;
    assert_eq!(res.status(), 201);

    // The change is in the audit chain, with its reason.
    let detail = audit_detail(&app, "case.class_changed", &format!("case:{id}")).await;
    assert!(detail.contains("诉求是对生效判决不服"), "{detail}");
}
on_both_backends!(class, class_and_outcomes);

async fn scope_of_a_case(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let case = open(
        &app,
        &coord,
        &new_case("（2026）浙0106信40号", &id_number(40)),
    )
    .await;
    let id = case["id"].as_i64().unwrap();
    let path = format!("/api/v1/cases/{id}");
    // The courts above read it.
    for user in ["hz.officer", "zj.supervisor", "spc.supervisor"] {
        let token = app.login(user).await;
        let read = app.get_ok(&path, &token).await;
        assert_eq!(read["id"], id, "{user}");
        assert_eq!(read["ledger"].as_array().unwrap().len(), 1, "{user}");
        app.get_ok(&format!("{path}/outcomes"), &token).await;
    }
    // A sibling court does not.
    let sibling = app.login("shangcheng.coord").await;
    assert_error(app.get(&path, Some(&sibling)).await, 403, "forbidden").await;
    assert_error(
        contact(
            &app,
            &sibling,
            id,
            &json!({"channel": "letter", "summary": "x"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    // A court above reads but does not write.
    for user in ["hz.officer", "zj.supervisor"] {
        let token = app.login(user).await;
        assert_error(
            contact(
                &app,
                &token,
                id,
                &json!({"channel": "letter", "summary": "x"}),
            )
            .await,
            403,
            "forbidden",
        )
        .await;
        assert_error(
            app.post(
                &format!("{path}/class"),
                Some(&token),
                &json!({"case_class": "litigation", "reason": "r"}),
            )
            .await,
            403,
            "forbidden",
        )
        .await;
    }
    assert_error(
        app.get("/api/v1/cases/999999", Some(&coord)).await,
        404,
        "not_found",
    )
    .await;
    let read = app.get_ok(&path, &coord).await;
    assert_eq!(read["ledger"].as_array().unwrap().len(), 1);
    // One 409 schema for both conflicts of POST /cases: the matches come only with one of them.
    let doc: Value = app
        .get("/api/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    let required = &doc["components"]["schemas"]["PossibleDuplicate"]["required"];
    assert!(
        required.as_array().unwrap().iter().all(|r| r != "matches"),
        "{required}"
    );
    common::assert_documented(
        &app,
        &[
            ("/api/v1/cases", "post"),
            ("/api/v1/cases/{id}/contacts", "post"),
            ("/api/v1/cases/{id}/class", "post"),
            ("/api/v1/cases/{id}/outcomes", "get"),
        ],
    )
    .await;
}
on_both_backends!(scope, scope_of_a_case);

async fn entries_are_append_only_in_the_database(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let case = open(
        &app,
        &coord,
        &new_case("（2026）浙0106信50号", &id_number(50)),
    )
    .await;
    let entry = case["ledger"][0]["id"].as_i64().unwrap();
    for sql in [
        format!("UPDATE ledger_entries SET note = '改过' WHERE id = {entry}"),
        format!("UPDATE ledger_entries SET outcome = 'withdrawn' WHERE id = {entry}"),
        format!("UPDATE ledger_entries SET court_initiated = TRUE WHERE id = {entry}"),
        format!("DELETE FROM ledger_entries WHERE id = {entry}"),
    ] {
        let err = raw(&app, &sql).await.expect_err(&sql);
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    // The derived placement may still be written (the triggers that fill it do so).
    raw(
        &app,
        &format!("UPDATE ledger_entries SET first_contact = first_contact WHERE id = {entry}"),
    )
    .await
    .unwrap();
    // A correction must carry its reason; a session's entry is the court's own.
    let err = raw(
        &app,
        &format!(
            "INSERT INTO ledger_entries (case_id, at, channel, counted_as, note, corrects_id) \
             SELECT case_id, at, channel, counted_as, 'x', id FROM ledger_entries WHERE id = {entry}"
        ),
    )
    .await
    .expect_err("a correction without a reason");
    assert!(err.to_lowercase().contains("check"), "{err}");
    let read = app
        .get_ok(&format!("/api/v1/cases/{}", case["id"]), &coord)
        .await;
    assert_eq!(read["ledger"][0]["note"], case["ledger"][0]["note"]);
}
on_both_backends!(append_only, entries_are_append_only_in_the_database);

/// A session's end takes the new outcomes, refuses one that does not fit the case's class, and
/// its ledger entry carries the outcome, the host court and the court-initiated flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_writes_its_outcome_on_the_ledger() {
    let app = TestApp::spawn().await;
    let s = app.book_demo_session().await;
    let officer = s.officer_token.clone();
    let end = |outcome: &'static str| {
        let app = &app;
        let officer = officer.clone();
        async move {
            app.post(
                &format!("/api/v1/sessions/{}/end", s.session_id),
                Some(&officer),
                &json!({"outcome": outcome}),
            )
            .await
        }
    };
    // The demo cases are petition matters: 立案复查 does not fit.
    assert_error(end("review_filed").await, 422, "outcome_not_for_class").await;
    assert_error(end("stop_notice").await, 422, "invalid_input").await;
    // 接访中止 needs its reason.
    assert_error(end("reception_stopped").await, 422, "invalid_input").await;
    let (mut host, mut petitioner) =
        common::live_call(&app, s.session_id, &officer, &s.petitioner_token).await;
    common::media_flows(&app, s.session_id, &officer, &mut host, &mut petitioner).await;
    let res = end("withdrawn").await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let detail = app
        .get_ok(
            &format!("/api/v1/cases/{}", s.case_id),
            &s.coordinator_token,
        )
        .await;
    let entry = detail["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["session_id"] == s.session_id)
        .unwrap()
        .clone();
    assert_eq!(entry["outcome"], "withdrawn");
    assert_eq!(entry["court_initiated"], true);
    assert_eq!(entry["receiving_organ"], "court");
    assert_eq!(entry["receiving_court"]["name"], "最高人民法院");
    assert!(entry["recorded_at"].is_string());
}

/// Rows written before migration 0016: a collective case, a letter, a video reception ended with
/// the old `reply`, another with `stop_notice`, and a 到省访.
const BEFORE_0016: &str = "\
INSERT INTO courts (id, name, level, parent_id) VALUES (1, 'S', 'supreme', NULL), (2, 'H', 'high', 1), \
    (3, 'M', 'intermediate', 2), (4, 'B', 'basic', 3);
INSERT INTO users (id, court_id, username, display_name, role, password_hash) VALUES (1, 4, 'c', 'c', 'coordinator', 'x');
INSERT INTO host_rooms (id, court_id, name) VALUES (1, 1, 'R');
INSERT INTO local_rooms (id, court_id, name) VALUES (1, 4, 'L');
INSERT INTO cases (id, court_id, case_number, petitioner_name, petitioner_id_number, subject, status, tier, \
    created_at, collective) VALUES (1, 4, 'N1', 'p', 'i', '拖欠工资', 'handling', 1, '2026-01-01T00:00:00Z', TRUE);
INSERT INTO slots (id, host_room_id, starts_at, ends_at) VALUES \
    (1, 1, '2026-01-02T01:00:00Z', '2026-01-02T01:30:00Z'), (2, 1, '2026-01-03T01:00:00Z', '2026-01-03T01:30:00Z');
INSERT INTO bookings (id, slot_id, case_id, local_room_id, starts_at, ends_at, status, created_by, created_at) VALUES \
    (1, 1, 1, 1, '2026-01-02T01:00:00Z', '2026-01-02T01:30:00Z', 'completed', 1, '2026-01-01T00:00:00Z'), \
    (2, 2, 1, 1, '2026-01-03T01:00:00Z', '2026-01-03T01:30:00Z', 'completed', 1, '2026-01-01T00:00:00Z');
INSERT INTO sessions (id, booking_id, status, join_code_hash, outcome) VALUES \
    (1, 1, 'ended', 'h1', 'reply'), (2, 2, 'ended', 'h2', 'stop_notice');
INSERT INTO ledger_entries (id, case_id, at, channel, counted_as, session_id, note) VALUES \
    (1, 1, '2026-01-01T00:00:00Z', 'letter', 'local', NULL, 'l'), \
    (2, 1, '2026-01-02T01:30:00Z', 'video_spc', 'local', 1, 'v'), \
    (3, 1, '2026-01-03T01:30:00Z', 'video_spc', 'local', 2, 'v'), \
    (4, 1, '2026-01-04T00:00:00Z', 'to_province', 'province', NULL, 'p');";

type EntryFacts = (i64, bool, Option<i64>, Option<String>);

/// Migrates a database to 0015, writes the rows above, then runs 0016: the old outcome values are
/// mapped, existing entries get their receiving court and court-initiated flag, the collective
/// case its petitioner count, and the entries are append-only from then on.
async fn migrating_existing_rows(sqlite: bool) {
    let pg = if sqlite {
        None
    } else {
        match common::ScratchPg::create().await {
            Some(pg) => Some(pg),
            None => return,
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let backend = if sqlite { "sqlite" } else { "postgres" };
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let dir_path = dir.path().join("migrations");
    std::fs::create_dir(&dir_path).unwrap();
    // The migrations up to `upto` (by file name), as a directory of their own.
    let copy_to = |upto: &str| {
        for f in std::fs::read_dir(&source).unwrap() {
            let f = f.unwrap();
            let name = f.file_name().into_string().unwrap();
            if name.as_str() <= upto {
                std::fs::copy(f.path(), dir_path.join(&name)).unwrap();
            }
        }
    };
    let url = match &pg {
        Some(pg) => pg.url.clone(),
        None => format!("sqlite://{}/m.db?mode=rwc", dir.path().display()),
    };
    macro_rules! check {
        ($pool:expr) => {{
            let pool = $pool;
            copy_to("0015_zzz");
            sqlx::migrate::Migrator::new(dir_path.clone())
                .await
                .unwrap()
                .run(&pool)
                .await
                .unwrap();
            sqlx::raw_sql(BEFORE_0016).execute(&pool).await.unwrap();
            copy_to("0016_zzz");
            sqlx::migrate::Migrator::new(dir_path.clone())
                .await
                .unwrap()
                .run(&pool)
                .await
                .unwrap();
            let outcomes: Vec<(i64, String)> =
                sqlx::query_as("SELECT id, outcome FROM sessions ORDER BY id")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            assert_eq!(
                outcomes,
                vec![(1, "explained_law".into()), (2, "withdrawn".into())]
            );
            let entries: Vec<EntryFacts> = sqlx::query_as(
                "SELECT id, court_initiated, receiving_court_id, outcome FROM ledger_entries ORDER BY id",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            assert_eq!(
                entries,
                vec![
                    (1, false, Some(4), None),
                    (2, true, Some(1), Some("explained_law".into())),
                    (3, true, Some(1), Some("withdrawn".into())),
                    (4, false, Some(2), None),
                ]
            );
            let case: (i32, bool, String, Option<String>, String) = sqlx::query_as(
                "SELECT petitioner_count, collective, matter, intake_channel, case_class FROM cases WHERE id = 1",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            assert_eq!(
                case,
                (5, true, "拖欠工资".into(), Some("letter".into()), "petition".into())
            );
            let err = sqlx::query("UPDATE ledger_entries SET note = 'x' WHERE id = 1")
                .execute(&pool)
                .await
                .expect_err("append-only after the migration");
            assert!(err.to_string().contains("append-only"), "{err}");
            // The placement trigger still fills a new entry's courts.
            sqlx::query(
                "INSERT INTO ledger_entries (id, case_id, at, channel, counted_as, note) \
                 VALUES (5, 1, '2026-01-05T00:00:00Z', 'phone', 'local', 'n')",
            )
            .execute(&pool)
            .await
            .unwrap();
            let (court, province): (Option<i64>, Option<i64>) = sqlx::query_as(
                "SELECT court_id, province_court_id FROM ledger_entries WHERE id = 5",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            assert_eq!((court, province), (Some(4), Some(2)));
            pool.close().await;
        }};
    }
    if sqlite {
        check!(sqlx::SqlitePool::connect(&url).await.unwrap());
    } else {
        check!(sqlx::PgPool::connect(&url).await.unwrap());
    }
    drop(pg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_0016_on_sqlite() {
    migrating_existing_rows(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_0016_on_postgres() {
    migrating_existing_rows(false).await;
}

/// "Not in the future" is the application's clock's (`app::clock`), not the machine's: on a clock
/// set to 10 March 2026, a case received on 1 June 2026 and a contact of that day are refused,
/// and a case or contact given no time takes the clock's. On the old code both read the
/// machine's clock (December 2026 when this was written) and took June.
#[tokio::test]
async fn the_future_is_the_application_clocks() {
    let Some(app) = TestApp::spawn_on_date(
        common::Backend::Sqlite,
        "2026-03-10T02:00:00Z".parse().unwrap(),
    )
    .await
    else {
        return;
    };
    let coord = app.login("xihu.coord").await;
    let mut june = new_case("（2026）浙0106信访901号", &id_number(901));
    june["received_at"] = json!("2026-06-01T02:00:00Z");
    let refused = assert_error(
        app.post("/api/v1/cases", Some(&coord), &june).await,
        422,
        "invalid_input",
    )
    .await;
    assert!(refused.to_string().contains("received_at"), "{refused}");

    let today = new_case("（2026）浙0106信访902号", &id_number(902));
    let case = open(&app, &coord, &today).await;
    let id = case["id"].as_i64().unwrap();
    let detail = app.get_ok(&format!("/api/v1/cases/{id}"), &coord).await;
    assert!(
        detail.to_string().contains("2026-03-10"),
        "received on the clock's day: {detail}"
    );
    let later = contact(
        &app,
        &coord,
        id,
        &json!({"channel": "visit", "at": "2026-06-01T02:00:00Z", "summary": "来访"}),
    )
    .await;
    assert_eq!(later.status(), 422, "{}", later.text().await.unwrap());
}
