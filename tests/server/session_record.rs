//! The session record beyond the call: lifecycle, transcript (笔录) and its confirmation,
//! rating, notes, corrections and the append-only timeline, follow-up and case clocks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use std::time::Duration;

use common::{TestApp, assert_error, next_json, next_of, ws_join, ws_send};
use courtlink::domain::SessionId;
use courtlink::store::{Pool, Store};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::Digest;

async fn store_of(app: &TestApp) -> Store {
    Store::connect(app.settings.database.url.expose_secret(), 2)
        .await
        .unwrap()
}

async fn transcript_rating_and_corrections(app: TestApp) {
    let s = app.book_demo_session().await;
    let sid = s.session_id;
    let path = |p: &str| format!("/api/v1/sessions/{sid}{p}");
    let (mut host, mut petitioner) =
        common::live_call(&app, sid, &s.officer_token, &s.petitioner_token).await;

    // The host writes the transcript during the session; others may not.
    let text = "信访人陈述：执行款未到位。法官答复：已督促执行法院限期办理。";
    let res = app
        .client
        .put(app.url(&path("/transcript")))
        .bearer_auth(&s.officer_token)
        .json(&json!({"text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let other_officer = app.login("zj.officer").await;
    let res = app
        .client
        .put(app.url(&path("/transcript")))
        .bearer_auth(&other_officer)
        .json(&json!({"text": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden").await;
    let res = app
        .client
        .put(app.url(&path("/transcript")))
        .bearer_auth(&s.officer_token)
        .json(&json!({"text": "  "}))
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "invalid_input").await;
    // Notes go on the timeline while the session is on; corrections only after.
    let res = app
        .post(
            &path("/notes"),
            Some(&s.officer_token),
            &json!({"text": "信访人情绪平稳"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let note: Value = res.json().await.unwrap();
    let res = app
        .post(
            &path("/corrections"),
            Some(&s.officer_token),
            &json!({"corrects": note["id"], "text": "x"}),
        )
        .await;
    assert_error(res, 409, "session_not_ended").await;
    // Nothing to confirm or rate before the end.
    let res = app
        .post(
            &path("/transcript/decision"),
            Some(&s.petitioner_token),
            &json!({"decision": "confirmed"}),
        )
        .await;
    assert_error(res, 409, "session_not_ended").await;
    let res = app
        .post(
            &path("/rating"),
            Some(&s.petitioner_token),
            &json!({"satisfaction": "satisfied"}),
        )
        .await;
    assert_error(res, 409, "session_not_ended").await;
    ws_send(
        &mut petitioner,
        &json!({"type": "quality", "rtt_ms": 38.0, "packet_loss": 0.002, "bitrate_kbps": 920.0}),
    )
    .await;
    common::media_flows(&app, sid, &s.officer_token, &mut host, &mut petitioner).await;

    // The person to follow up is a name like any other: a direction override or a zero-width
    // character in it is refused, and nothing is written (issue 15 item 20).
    for hidden in ["执行局 李\u{202E}法官", "执行局 李\u{200B}法官"] {
        let res = app
            .post(&path("/end"), Some(&s.officer_token), &json!({"outcome": "assign", "follow_up_deadline": "2099-01-31", "follow_up_person": hidden}))
            .await;
        assert_error(res, 422, "invalid_name").await;
    }
    let res = app
        .post(&path("/end"), Some(&s.officer_token), &json!({"outcome": "assign", "note": "交办执行局", "follow_up_deadline": "2099-01-31", "follow_up_person": "执行局 李法官"}))
        .await;
    assert_eq!(res.status(), 200);
    let ended: Value = res.json().await.unwrap();
    assert_eq!(
        (
            ended["follow_up_deadline"].as_str(),
            ended["follow_up_person"].as_str()
        ),
        (Some("2099-01-31"), Some("执行局 李法官"))
    );
    next_of(&mut petitioner, "ended").await;

    // After the end the text is frozen; the petitioner reads it and confirms, once.
    let res = app
        .client
        .put(app.url(&path("/transcript")))
        .bearer_auth(&s.officer_token)
        .json(&json!({"text": "改写"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 409, "session_ended").await;
    let read = app.get_ok(&path("/transcript"), &s.petitioner_token).await;
    assert_eq!(
        (read["text"].as_str(), read["decision"].as_str()),
        (Some(text), None)
    );
    let res = app
        .post(
            &path("/transcript/decision"),
            Some(&s.petitioner_token),
            &json!({"decision": "confirmed"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let decided: Value = res.json().await.unwrap();
    assert_eq!(decided["decision"], "confirmed");
    assert_eq!(
        decided["sha256"],
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    );
    assert!(decided["decided_at"].is_string());
    let res = app
        .post(
            &path("/transcript/decision"),
            Some(&s.petitioner_token),
            &json!({"decision": "refused"}),
        )
        .await;
    assert_error(res, 409, "already_done").await;
    // Staff cannot decide for the petitioner.
    let res = app
        .post(
            &path("/transcript/decision"),
            Some(&s.officer_token),
            &json!({"decision": "confirmed"}),
        )
        .await;
    assert_error(res, 401, "unauthenticated").await;

    // The rating, once; bad values are refused.
    let res = app
        .post(
            &path("/rating"),
            Some(&s.petitioner_token),
            &json!({"satisfaction": "ecstatic"}),
        )
        .await;
    assert_error(res, 422, "invalid_input").await;
    assert_eq!(
        app.post(
            &path("/rating"),
            Some(&s.petitioner_token),
            &json!({"satisfaction": "basically_satisfied"})
        )
        .await
        .status(),
        204
    );
    let res = app
        .post(
            &path("/rating"),
            Some(&s.petitioner_token),
            &json!({"satisfaction": "satisfied"}),
        )
        .await;
    assert_error(res, 409, "already_done").await;

    // Corrections point at what they correct; notes are closed.
    let res = app
        .post(
            &path("/notes"),
            Some(&s.officer_token),
            &json!({"text": "late"}),
        )
        .await;
    assert_error(res, 409, "session_ended").await;
    let res = app
        .post(
            &path("/corrections"),
            Some(&s.officer_token),
            &json!({"corrects": 999999, "text": "x"}),
        )
        .await;
    assert_error(res, 422, "invalid_input").await;
    let res = app
        .post(
            &path("/corrections"),
            Some(&s.officer_token),
            &json!({"corrects": note["id"], "text": "信访人情绪较激动，后平稳"}),
        )
        .await;
    assert_eq!(res.status(), 201);

    let detail = app.get_ok(&path(""), &s.officer_token).await;
    assert_eq!(
        (
            detail["satisfaction"].as_str(),
            detail["transcript"]["decision"].as_str()
        ),
        (Some("basically_satisfied"), Some("confirmed"))
    );
    let events = detail["events"].as_array().unwrap();
    let correction = events.iter().find(|e| e["kind"] == "correction").unwrap();
    assert_eq!(correction["data"]["corrects"], note["id"]);
    let quality = events.iter().find(|e| e["kind"] == "quality").unwrap();
    assert_eq!(
        (
            quality["actor"].as_str(),
            quality["data"]["rtt_ms"].as_f64()
        ),
        (Some("petitioner"), Some(38.0))
    );
    for kind in ["note", "transcript_decided", "rated"] {
        assert!(events.iter().any(|e| e["kind"] == kind), "{kind}");
    }

    // The database itself keeps the timeline append-only.
    let store = store_of(&app).await;
    let refused = match store.pool() {
        Pool::Sqlite(p) => sqlx::query("UPDATE session_events SET data = '{}'")
            .execute(p)
            .await
            .is_err(),
        Pool::Postgres(p) => sqlx::query("UPDATE session_events SET data = '{}'")
            .execute(p)
            .await
            .is_err(),
    };
    assert!(refused, "an update of the timeline is refused");
    let refused = match store.pool() {
        Pool::Sqlite(p) => sqlx::query("DELETE FROM session_events")
            .execute(p)
            .await
            .is_err(),
        Pool::Postgres(p) => sqlx::query("DELETE FROM session_events")
            .execute(p)
            .await
            .is_err(),
    };
    assert!(refused, "a delete from the timeline is refused");
}
on_both_backends!(the_record_after_the_call, transcript_rating_and_corrections);

#[tokio::test]
async fn an_outcome_needs_a_session_that_happened_and_a_sane_follow_up() {
    let app = TestApp::spawn().await;
    let s = app.book_demo_session().await;
    let end = |body: Value| {
        let app = &app;
        let token = s.officer_token.clone();
        async move {
            app.post(
                &format!("/api/v1/sessions/{}/end", s.session_id),
                Some(&token),
                &body,
            )
            .await
        }
    };
    assert_error(
        end(json!({"outcome": "explained_law"})).await,
        409,
        "session_not_held",
    )
    .await;
    let mut host = ws_join(&app, s.session_id, &s.officer_token).await;
    next_json(&mut host).await;
    // Staff waiting alone is no reception either: the petitioner must have been let in.
    assert_error(
        end(json!({"outcome": "explained_law"})).await,
        409,
        "session_not_held",
    )
    .await;
    let mut petitioner = ws_join(&app, s.session_id, &s.petitioner_token).await;
    next_json(&mut petitioner).await;
    common::admit_petitioner(&mut host, &mut petitioner).await;
    // Let in, but nobody has been seen or heard yet: no reception to record.
    assert_error(
        end(json!({"outcome": "explained_law"})).await,
        409,
        "reception_not_held",
    )
    .await;
    common::media_flows(
        &app,
        s.session_id,
        &s.officer_token,
        &mut host,
        &mut petitioner,
    )
    .await;
    assert_error(
        end(json!({"outcome": "explained_law", "follow_up_deadline": "2001-01-01"})).await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        end(json!({"outcome": "explained_law", "follow_up_deadline": "next week"})).await,
        422,
        "invalid_input",
    )
    .await;
    // A day in another form than its own: kept as given, it would sort apart from 2099-01-05
    // (every day a request gives is read by `fields::parse_day`).
    assert_error(
        end(json!({"outcome": "explained_law", "follow_up_deadline": "2099-1-5"})).await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        end(json!({"outcome": "explained_law", "follow_up_person": "长".repeat(65)})).await,
        422,
        "invalid_input",
    )
    .await;
    assert_eq!(end(json!({"outcome": "explained_law"})).await.status(), 200);
}

#[tokio::test]
async fn everyone_lost_interrupts_and_a_rejoin_records_the_gap() {
    let app = TestApp::spawn_with(common::Backend::Sqlite, |s| {
        s.signalling.resume_grace_seconds = 1;
        s.records.interrupt_after_seconds = 0;
        s.records.sweep_seconds = 1;
    })
    .await
    .unwrap();
    let s = app.book_demo_session().await;
    let (host, petitioner) =
        common::live_call(&app, s.session_id, &s.officer_token, &s.petitioner_token).await;
    drop(host);
    drop(petitioner);
    let path = format!("/api/v1/sessions/{}", s.session_id);
    let mut seen = Value::Null;
    for _ in 0..50 {
        seen = app.get_ok(&path, &s.officer_token).await;
        if seen["status"] == "interrupted" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(seen["status"], "interrupted", "{seen}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut back = ws_join(&app, s.session_id, &s.officer_token).await;
    next_json(&mut back).await;
    // The host back alone is not a reception: the session waits for the petitioner.
    let after = app.get_ok(&path, &s.officer_token).await;
    assert_eq!(after["status"], "waiting");
    assert_eq!(after["petitioner_left"], true, "{after}");
    assert!(
        after["interrupted_seconds"].as_i64().unwrap() >= 1,
        "{after}"
    );
    let change = after["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["kind"] == "status_changed")
        .unwrap()
        .clone();
    assert_eq!(
        (
            change["data"]["from"].as_str(),
            change["data"]["to"].as_str()
        ),
        (Some("interrupted"), Some("waiting"))
    );
}

#[tokio::test]
async fn a_petitioner_who_never_came_is_a_no_show() {
    let app = TestApp::spawn().await;
    let s = app.book_demo_session().await;
    let store = store_of(&app).await;
    // As the sweeper does once the slot is over: ask with a cutoff past the slot's end.
    let later = chrono::Utc::now() + chrono::Duration::hours(3);
    let due = store.sessions_without_petitioner(later).await.unwrap();
    assert_eq!(due, [SessionId(s.session_id)]);
    store
        .add_event(
            SessionId(s.session_id),
            courtlink::domain::EventKind::NoShow,
            "system",
            &json!({}),
            courtlink::app::session::transition,
        )
        .await
        .unwrap();
    let detail = app
        .get_ok(
            &format!("/api/v1/sessions/{}", s.session_id),
            &s.officer_token,
        )
        .await;
    assert_eq!(detail["status"], "no_show");
    assert!(
        store
            .sessions_without_petitioner(later)
            .await
            .unwrap()
            .is_empty()
    );
    let res = app
        .post(
            &format!("/api/v1/sessions/{}/end", s.session_id),
            Some(&s.officer_token),
            &json!({"outcome": "explained_law"}),
        )
        .await;
    assert_error(res, 409, "session_not_held").await;
    // A petitioner who comes late after all is still received, and the session can be recorded.
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
    let detail = app
        .get_ok(
            &format!("/api/v1/sessions/{}", s.session_id),
            &s.officer_token,
        )
        .await;
    assert_eq!(detail["status"], "live");
    let res = app
        .post(
            &format!("/api/v1/sessions/{}/end", s.session_id),
            Some(&s.officer_token),
            &json!({"outcome": "explained_law"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // With no transcript written there is nothing to sign.
    let res = app
        .post(
            &format!("/api/v1/sessions/{}/transcript/decision", s.session_id),
            Some(&s.petitioner_token),
            &json!({"decision": "confirmed"}),
        )
        .await;
    assert_error(res, 409, "transcript_empty").await;
}

#[tokio::test]
async fn cases_carry_masked_contacts_clocks_and_one_extension() {
    let app = TestApp::spawn().await;
    let coord = app.login("xihu.coord").await;
    let cases = app.get_ok("/api/v1/cases", &coord).await;
    // 西湖's third case is still in handling (the first two are answered and reviewed).
    let case = &cases[2];
    let phone = case["petitioner_phone_masked"].as_str().unwrap();
    assert!(phone.contains("****") && phone.len() == 11, "{phone}");
    assert!(case["measures"].is_string() && case["goal"].is_string());
    let clocks = &case["clocks"];
    assert!(
        clocks["handling_due"].is_string() && clocks["next_due"] == clocks["handling_due"],
        "{clocks}"
    );
    let path = format!("/api/v1/cases/{}/extension", case["id"]);
    assert_error(
        app.post(&path, Some(&coord), &json!({"days": 31, "reason": "复杂"}))
            .await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        app.post(&path, Some(&coord), &json!({"days": 10, "reason": " "}))
            .await,
        422,
        "invalid_input",
    )
    .await;
    // An answered case has no handling period left to extend.
    assert_error(
        app.post(
            &format!("/api/v1/cases/{}/extension", cases[0]["id"]),
            Some(&coord),
            &json!({"days": 10, "reason": "复杂"}),
        )
        .await,
        409,
        "extension_not_applicable",
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
    let due =
        |v: &Value| chrono::NaiveDate::parse_from_str(v.as_str().unwrap(), "%Y-%m-%d").unwrap();
    let case_path = format!("/api/v1/cases/{}", case["id"]);
    let case_now = || {
        let (app, coord, path) = (&app, &coord, &case_path);
        async move { app.get_ok(path, coord).await }
    };
    assert_eq!(
        case_now().await["clocks"]["handling_due"],
        clocks["handling_due"],
        "a request alone extends nothing"
    );
    let head = app.login("zj.supervisor").await;
    let res = app
        .post(
            &format!("/api/v1/extensions/{}/decision", asked["id"]),
            Some(&head),
            &json!({"approve": true, "note": "同意"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let extended = case_now().await;
    // 30 more days; the holiday rule may move the new last day on by a day or two.
    let moved =
        (due(&extended["clocks"]["handling_due"]) - due(&clocks["handling_due"])).num_days();
    assert!((28..=34).contains(&moved), "{moved}");
    assert_eq!(extended["extension_days"], 30);
    assert_error(
        app.post(&path, Some(&coord), &json!({"days": 5, "reason": "再延"}))
            .await,
        409,
        "already_done",
    )
    .await;
    let other = app.login("shangcheng.coord").await;
    assert_error(
        app.post(&path, Some(&other), &json!({"days": 5, "reason": "x"}))
            .await,
        403,
        "forbidden",
    )
    .await;
    // No response carries a phone number or identity number in full.
    let body = app
        .get(&format!("/api/v1/cases/{}", case["id"]), Some(&coord))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !body.contains("13700007777") && !body.contains("330106198811207654"),
        "{body}"
    );
}
