//! Correcting a session's outcome (issue 18, item 3), on SQLite and PostgreSQL: the history is
//! kept (the ledger shows the original and the correction, the timeline both outcomes, the
//! audit chain who), the session and the records carry the corrected outcome, and bad input —
//! no reason, the wrong role, another court, the same outcome, 交办, before the end — is refused
//! with a stable code that the zh-CN catalogue words, and changes nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use common::{TestApp, assert_error};
use courtlink::store::{Pool, Store};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

/// The entries of the case's ledger that belong to the session: the one it wrote, and the
/// corrections of it, in order.
async fn session_entries(app: &TestApp, token: &str, case_id: i64, session_id: i64) -> Vec<Value> {
    let case = app.get_ok(&format!("/api/v1/cases/{case_id}"), token).await;
    let ledger = case["ledger"].as_array().unwrap().clone();
    let mut chain = vec![
        ledger
            .iter()
            .find(|e| e["session_id"] == session_id)
            .expect("the session's entry")
            .clone(),
    ];
    while let Some(next) = ledger
        .iter()
        .find(|e| e["corrects"] == chain.last().unwrap()["id"])
    {
        chain.push(next.clone());
    }
    chain
}

/// The audit entries of `action` on `subject`, their details.
async fn audit_details(app: &TestApp, action: &str, subject: &str) -> Vec<String> {
    let store = Store::connect(app.settings.database.url.expose_secret(), 1)
        .await
        .unwrap();
    let sql = "SELECT detail FROM audit_entries WHERE action = $1 AND subject = $2 ORDER BY id";
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
    rows.into_iter().map(|(d,)| d).collect()
}

/// The ids of the ledger entries that a correction replaced (the statistics skip them).
async fn replaced_entries(app: &TestApp, case_id: i64) -> Vec<i64> {
    let store = Store::connect(app.settings.database.url.expose_secret(), 1)
        .await
        .unwrap();
    let sql = "SELECT id FROM ledger_entries WHERE case_id = $1 AND replaced ORDER BY id";
    let rows: Vec<(i64,)> = match store.pool() {
        Pool::Sqlite(p) => sqlx::query_as(sql)
            .bind(case_id)
            .fetch_all(p)
            .await
            .unwrap(),
        Pool::Postgres(p) => sqlx::query_as(sql)
            .bind(case_id)
            .fetch_all(p)
            .await
            .unwrap(),
    };
    store.close().await;
    rows.into_iter().map(|(id,)| id).collect()
}

/// The zh-CN catalogue words `error.<code>`: what the officer reads for a refusal.
fn zh_cn_words(code: &str) {
    let catalogue = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/i18n/zh-CN.js"),
    )
    .unwrap();
    let key = format!("'error.{code}': '");
    let line = catalogue
        .lines()
        .find(|l| l.trim_start().starts_with(&key))
        .unwrap_or_else(|| panic!("zh-CN has no words for {code}"));
    assert!(
        line.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "{line}"
    );
}

async fn correcting_a_sessions_outcome(app: TestApp) {
    let s = app.book_demo_session().await;
    let officer = s.officer_token.clone();
    let url = format!("/api/v1/sessions/{}/outcome-corrections", s.session_id);
    let correct = |token: String, body: Value| {
        let app = &app;
        let url = url.clone();
        async move { app.post(&url, Some(&token), &body).await }
    };
    let refused = |res, status, code: &'static str| async move {
        assert_error(res, status, code).await;
        zh_cn_words(code);
    };

    // Before the end there is nothing to correct.
    refused(
        correct(
            officer.clone(),
            json!({"outcome": "withdrawn", "reason": "写错了"}),
        )
        .await,
        409,
        "session_not_ended",
    )
    .await;

    let (mut host, mut petitioner) =
        common::live_call(&app, s.session_id, &officer, &s.petitioner_token).await;
    common::media_flows(&app, s.session_id, &officer, &mut host, &mut petitioner).await;
    let res = app
        .post(
            &format!("/api/v1/sessions/{}/end", s.session_id),
            Some(&officer),
            &json!({"outcome": "explained_law", "note": "当面释法"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let original = session_entries(&app, &s.coordinator_token, s.case_id, s.session_id).await;
    assert_eq!(original.len(), 1);
    let original = original[0].clone();

    // Bad input: each refused with its code, and nothing written.
    let good_reason = "接谈中信访人已表示息诉罢访，登记时误选";
    for reason in [json!(""), json!("   \n ")] {
        refused(
            correct(
                officer.clone(),
                json!({"outcome": "withdrawn", "reason": reason}),
            )
            .await,
            422,
            "correction_reason_required",
        )
        .await;
    }
    refused(
        correct(officer.clone(), json!({"outcome": "withdrawn"})).await,
        422,
        "correction_reason_required",
    )
    .await;
    refused(
        correct(
            officer.clone(),
            json!({"outcome": "withdrawn", "reason": "长".repeat(501)}),
        )
        .await,
        422,
        "invalid_input",
    )
    .await;
    refused(
        correct(
            officer.clone(),
            json!({"outcome": "explained_law", "reason": good_reason}),
        )
        .await,
        422,
        "outcome_unchanged",
    )
    .await;
    // The demo case is a petition matter: 立案复查 does not fit it.
    refused(
        correct(
            officer.clone(),
            json!({"outcome": "review_filed", "reason": good_reason}),
        )
        .await,
        422,
        "outcome_not_for_class",
    )
    .await;
    refused(
        correct(
            officer.clone(),
            json!({"outcome": "assign", "reason": good_reason}),
        )
        .await,
        422,
        "outcome_correction_assign",
    )
    .await;
    // The wrong role, and other courts: the local court's coordinator, the high court's officer
    // and supervisor (courts below the host court), none may.
    for who in ["xihu.coord", "zj.officer", "zj.supervisor"] {
        let token = app.login(who).await;
        refused(
            correct(
                token,
                json!({"outcome": "withdrawn", "reason": good_reason}),
            )
            .await,
            403,
            "forbidden",
        )
        .await;
    }
    assert_eq!(
        session_entries(&app, &s.coordinator_token, s.case_id, s.session_id)
            .await
            .len(),
        1,
        "no refusal wrote an entry"
    );
    let detail = app
        .get_ok(&format!("/api/v1/sessions/{}", s.session_id), &officer)
        .await;
    assert_eq!(detail["outcome"], "explained_law");

    // The officer who recorded it corrects it.
    let res = correct(
        officer.clone(),
        json!({"outcome": "withdrawn", "reason": good_reason}),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["outcome"], "withdrawn");

    // The ledger keeps both: the original, marked corrected, and the correction beside it, at
    // the reception's time and channel.
    let chain = session_entries(&app, &s.coordinator_token, s.case_id, s.session_id).await;
    assert_eq!(chain.len(), 2, "{chain:?}");
    assert_eq!(chain[0]["outcome"], "explained_law");
    assert_eq!(chain[0]["corrected_by"], chain[1]["id"]);
    assert_eq!(chain[1]["outcome"], "withdrawn");
    assert_eq!(chain[1]["correction_reason"], good_reason);
    assert_eq!(chain[1]["channel"], original["channel"]);
    assert_eq!(chain[1]["at"], original["at"]);
    assert_eq!(chain[1]["court_initiated"], true);
    assert_eq!(chain[1]["receiving_court"], original["receiving_court"]);
    assert_eq!(
        replaced_entries(&app, s.case_id).await,
        vec![original["id"].as_i64().unwrap()],
        "the statistics count the correction, not the original"
    );

    // The session record shows both outcomes: the end as it was written, then the correction.
    let detail = app
        .get_ok(&format!("/api/v1/sessions/{}", s.session_id), &officer)
        .await;
    assert_eq!(detail["outcome"], "withdrawn");
    let events = detail["events"].as_array().unwrap();
    let ended = events.iter().find(|e| e["kind"] == "ended").unwrap();
    assert_eq!(ended["data"]["outcome"], "explained_law");
    let fixes: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "outcome_corrected")
        .collect();
    assert_eq!(fixes.len(), 1);
    assert_eq!(fixes[0]["data"]["from"], "explained_law");
    assert_eq!(fixes[0]["data"]["to"], "withdrawn");
    assert_eq!(fixes[0]["data"]["reason"], good_reason);

    // The records (and their filters) read the corrected outcome.
    let spc_supervisor = app.login("spc.supervisor").await;
    let records = |outcome: &'static str| {
        let app = &app;
        let token = spc_supervisor.clone();
        async move {
            app.get_ok(
                &format!("/api/v1/records/sessions?outcome={outcome}&limit=200"),
                &token,
            )
            .await["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert!(records("withdrawn").await.contains(&s.session_id));
    assert!(!records("explained_law").await.contains(&s.session_id));

    // The host court's supervisor corrects the correction; the chain grows, the last stands.
    let res = correct(
        spc_supervisor.clone(),
        json!({"outcome": "not_within_scope", "reason": "复核后认定不属于法院受理范围"}),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let chain = session_entries(&app, &s.coordinator_token, s.case_id, s.session_id).await;
    assert_eq!(chain.len(), 3);
    assert_eq!(chain[2]["corrects"], chain[1]["id"]);
    assert_eq!(chain[2]["outcome"], "not_within_scope");
    assert_eq!(replaced_entries(&app, s.case_id).await.len(), 2);

    // Two lines on the audit chain, each saying who, from what to what and why.
    let audit = audit_details(
        &app,
        "session.outcome_corrected",
        &format!("session:{}", s.session_id),
    )
    .await;
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert!(audit[0].contains("explained_law") && audit[0].contains(good_reason));
    assert!(audit[1].contains("not_within_scope"));
}
on_both_backends!(correction, correcting_a_sessions_outcome);
